"""Run the whole study: every experiment notebook through papermill.

    python -m studylib.study --profile quick            # what `make study` runs
    python -m studylib.study --profile full --only freezing_phases
    python -m studylib.study --resume                   # finish only the runs without a record

Each notebook runs from ``notebooks/`` with ``profile`` (and ``force``) injected; its executed copy
is moved to ``results/executed/<profile>/<name>.ipynb`` once it has finished (a failed
notebook's partial copy stays in ``_build/running/``, so a committed copy is never replaced by a
half-run one). By default every run is trained again (``force=True``): the study command
re-runs the study. ``--resume`` keeps runs whose record already holds the same config, for
finishing a sweep that died half-way.

Notebooks of one stage are independent and run side by side in ``--lanes`` kernels (default:
two on a CPU, one on a GPU). On a CPU each kernel then uses one thread: the study's models are
small, and two one-thread kernels keep both cores busy where one two-thread kernel loses much
of its time to synchronising its threads (and far more when anything else runs).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from studylib.config import PROFILES
from studylib.results import project_root

#: The experiment notebooks in stages: a stage starts when the previous one has finished, and
#: its notebooks (longest first) share the lanes.
STAGES: tuple[tuple[str, ...], ...] = (
    ("freezing_phases", "reduction_ratio", "attention_order", "pose_baseline"),
)
NOTEBOOKS = tuple(name for stage in STAGES for name in stage)


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
    started = time.perf_counter()
    print(f"[study] {name} (profile {profile}) started", flush=True)
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
    print(
        f"[study] {name} done in {time.perf_counter() - started:.0f} s -> "
        f"{target.relative_to(root)}",
        flush=True,
    )
    return target


def default_lanes() -> int:
    import torch

    return 1 if torch.cuda.is_available() else max(1, min(2, os.cpu_count() or 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="quick", choices=PROFILES)
    parser.add_argument("--only", nargs="+", choices=NOTEBOOKS, help="run only these notebooks")
    parser.add_argument(
        "--resume", action="store_true", help="keep finished runs with the same config"
    )
    parser.add_argument("--lanes", type=int, default=None, help="notebooks run side by side")
    args = parser.parse_args(argv)
    lanes = args.lanes or default_lanes()
    if lanes < 1:
        parser.error(f"--lanes must be >= 1, got {lanes}")
    if lanes > 1:
        os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by the kernels
    root = project_root()
    total = time.perf_counter()
    for stage in STAGES:
        names = [n for n in stage if not args.only or n in args.only]
        with ThreadPoolExecutor(max_workers=lanes) as pool:
            futures = [
                pool.submit(run_notebook, name, args.profile, not args.resume, root)
                for name in names
            ]
            failures = [f.exception() for f in futures if f.exception() is not None]
        if failures:
            raise failures[0]
    print(f"[study] all notebooks done in {(time.perf_counter() - total) / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
