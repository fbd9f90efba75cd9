"""Run the whole study: every experiment notebook through papermill, in order.

    python -m studylib.study --profile quick            # what `make study` runs
    python -m studylib.study --profile full --only freezing_phases
    python -m studylib.study --resume                   # finish only the runs without a record

Each notebook runs from ``notebooks/`` with ``profile`` (and ``force``) injected; its executed copy
is moved to ``results/executed/<profile>/<name>.ipynb`` once it has finished (a failed
notebook's partial copy stays in ``_build/running/``, so a committed copy is never replaced by a
half-run one). By default every run is trained again (``force=True``): the study command
re-runs the study. ``--resume`` keeps runs whose record already holds the same config, for
finishing a sweep that died half-way.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from studylib.config import PROFILES
from studylib.results import project_root

#: The experiment notebooks, in the order the study runs them.
NOTEBOOKS = ("pose_baseline", "freezing_phases")


def run_notebook(
    name: str, profile: str, force: bool, root: Path, extra: dict | None = None
) -> Path:
    """Execute one notebook; its executed copy replaces the committed one only if it finished."""
    import papermill

    source = root / "notebooks" / f"{name}.ipynb"
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such notebook; known: {', '.join(NOTEBOOKS)}")
    target = root / "results" / "executed" / profile / f"{name}.ipynb"
    running = root / "_build" / "running" / f"{profile}-{name}.ipynb"
    for folder in (target.parent, running.parent):
        folder.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            str(source),
            str(running),
            parameters={"profile": profile, "force": force, **(extra or {})},
            cwd=str(source.parent),
            kernel_name="python3",
            progress_bar=False,
        )
    except BaseException:
        print(f"[study] {name} failed; its partly executed copy is {running}", file=sys.stderr)
        raise
    os.replace(running, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="quick", choices=PROFILES)
    parser.add_argument("--only", nargs="+", choices=NOTEBOOKS, help="run only these notebooks")
    parser.add_argument(
        "--resume", action="store_true", help="keep finished runs with the same config"
    )
    args = parser.parse_args(argv)
    root = project_root()
    total = time.perf_counter()
    for name in args.only or NOTEBOOKS:
        started = time.perf_counter()
        print(f"[study] {name} (profile {args.profile}) ...", flush=True)
        target = run_notebook(name, args.profile, force=not args.resume, root=root)
        print(
            f"[study] {name} done in {time.perf_counter() - started:.0f} s -> "
            f"{target.relative_to(root)}",
            flush=True,
        )
    print(f"[study] all notebooks done in {(time.perf_counter() - total) / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
