"""Run the whole study: every experiment notebook through papermill.

    python -m studylib.study --profile quick            # what `make study` runs
    python -m studylib.study --extras                   # ... and the experiments beyond the papers
    python -m studylib.study --profile full --only freezing_phases
    python -m studylib.study --resume                   # finish only the runs without a record
    STUDYLIB_DATA=/data python -m studylib.study --real # the ablations on LSP and 300-W

Each notebook runs from ``notebooks/`` with ``profile`` (and ``force``) injected; its executed copy
is moved to ``results/executed/<profile>/<name>.ipynb`` once it has finished (a failed
notebook's partial copy stays in ``_build/running/``, so a committed copy is never replaced by a
half-run one). By default every run is trained again (``force=True``): the study command
re-runs the study. ``--resume`` keeps runs whose record already holds the same config, for
finishing a sweep that died half-way.

``--real`` runs the three ablations on real data instead (:data:`REAL`: the freezing phases on
LSP/LSPET, both face ablations on 300-W), found through ``STUDYLIB_DATA``, and first writes the
MPII evaluation check (``results/mpii_check/valid_gt.json``) when the MPII ground truth is there,
and last the occlusion test on real faces (:func:`run_occlusion_test`).
Their executed copies are ``results/executed/<profile>/<name>-<dataset>.ipynb``.

The study first trains every notebook's runs in a pool of ``--lanes`` processes, the costliest
first (:mod:`studylib.plan`), then executes the notebooks side by side in as many kernels; they
find their runs' records and read them (default: two lanes on a CPU; one per GPU, each seeing
only its own). On a CPU each lane then uses one thread: the study's models are small, and two
one-thread processes keep both cores busy where one two-thread process loses much of its time
to synchronising its threads (and far more when anything else runs).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from studylib import plan
from studylib.config import PROFILES
from studylib.experiments import EXPERIMENTS
from studylib.face import REAL_300W_RUNS
from studylib.publish import DATASET_TITLES, NO_DATA_IMAGES_ENV
from studylib.results import project_root, results_root

#: The experiment notebooks, in the order they run (:data:`studylib.experiments.EXPERIMENTS`).
NOTEBOOKS = tuple(EXPERIMENTS)
#: The experiments beyond the papers' claims, run only with ``--extras`` (or ``--only``).
EXTRAS = tuple(name for name, experiment in EXPERIMENTS.items() if experiment.extra)
#: The real-data runs: notebook -> (dataset, parameters beyond the profile's). Every run trains
#: on the whole training split (LSPET + LSP 1-1000: 11,000 images; AFW + HELEN train: 2,337
#: faces) and is scored on the whole test split (LSP 1001-2000; the 330 HELEN test faces). The
#: budgets come from trials on a validation split carved from the training split
#: (``results/tuning/300w/``, ``results/tuning/lsp/``) and from what a 2-core CPU affords in
#: under an hour: LSP poses need far more steps than the synthetic ones (a 2-epoch trial was
#: still far below the learning gate), so they get 5 epochs (an LSP epoch takes about 107 s
#: here; ACNN A-B-C, seed 0, validation PCK@0.2 32.3 at 4 epochs, 37.1 at 5, 39.8 at 5 with the
#: quick profile's single rate drop at 90%); 300-W faces at 64 px kept improving up to the 45
#: epochs tried (validation NME 7.43% at 12 epochs, 6.60% at 30, 6.09% at 45; at 128 px 6.06%
#: at 24 epochs, in nearly twice the time), and get 45 (about 115 s a run). Two seeds each:
#: the intervals over seeds are then wide, which the ledger's power column shows.
REAL_SEEDS = [0, 1]
REAL: dict[str, tuple[str, dict]] = {
    "freezing_phases": (
        "lsp",
        {"num_test": 1000, "num_train": 11000, "epochs": 5, "seeds": REAL_SEEDS},
    ),
    "reduction_ratio": ("300w", {**REAL_300W_RUNS, "seeds": REAL_SEEDS}),
    "attention_order": ("300w", {**REAL_300W_RUNS, "seeds": REAL_SEEDS}),
}


def run_notebook(
    name: str, profile: str, force: bool, root: Path, extra: dict | None = None
) -> Path:
    """Execute one notebook; its executed copy replaces the committed one only if it finished.
    A ``dataset`` other than the synthetic one is added to the copy's name."""
    import papermill

    source = root / "notebooks" / f"{name}.ipynb"
    if not source.is_file():
        raise FileNotFoundError(f"{source}: no such notebook; known: {', '.join(NOTEBOOKS)}")
    dataset = (extra or {}).get("dataset", "synthetic")
    label = name if dataset == "synthetic" else f"{name}-{dataset}"
    target = root / "results" / "executed" / profile / f"{label}.ipynb"
    running = root / "_build" / "running" / f"{profile}-{label}.ipynb"
    for folder in (target.parent, running.parent):
        folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(f"[study] {label} (profile {profile}) started", flush=True)
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
        print(f"[study] {label} failed; its partly executed copy is {running}", file=sys.stderr)
        raise
    if dataset != "synthetic":
        name_dataset(running, dataset)
    os.replace(running, target)
    print(
        f"[study] {label} done in {time.perf_counter() - started:.0f} s -> "
        f"{target.relative_to(root)}",
        flush=True,
    )
    return target


def name_dataset(path: Path, dataset: str) -> None:
    """Add the dataset to the notebook's title (its first heading), so that the executed copies
    of one notebook on several datasets are told apart in the book."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    suffix = f" ({DATASET_TITLES.get(dataset, dataset)})"
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            title, _, rest = cell.source.partition("\n")
            if not title.endswith(suffix):
                cell.source = title + suffix + ("\n" + rest if rest else "")
            break
    nbformat.write(notebook, path)


def write_mpii_check(root: Path) -> Path | None:
    """The MPII evaluation check (:func:`studylib.data.real.evaluation_check`) as
    ``results/mpii_check/valid_gt.json``, with provenance; None when MPII is not there."""
    from studylib.data.real import available, evaluation_check
    from studylib.data.real.root import source_path
    from studylib.io import write_json
    from studylib.results import git_commit, git_dirty

    if not available("mpii"):
        print("[study] no MPII ground truth under STUDYLIB_DATA: the MPII check is skipped")
        return None
    check = evaluation_check(source_path("mpii") / "valid_gt.mat")
    check["provenance"] = {"git_commit": git_commit(), "git_dirty": git_dirty()}
    path = root / "results" / "mpii_check" / "valid_gt.json"
    write_json(path, check)
    print(f"[study] MPII evaluation check -> {path.relative_to(root)}", flush=True)
    return path


def run_occlusion_test(root: Path, profile: str, force: bool) -> list[Path]:
    """The occlusion test on real faces: the 300-W reduction-ratio runs of ODN and the ADM
    scored with occluders pasted over a growing share of each test face
    (:data:`studylib.experiments.robustness.TRACKS` ``"face-occluders"``), every seed those runs
    were trained with (:data:`REAL_SEEDS`)."""
    from studylib.experiments import robustness

    started = time.perf_counter()
    track = "face-occluders"
    folders = [
        robustness.sweep(track, config.replace(seed=seed), root / "results", setting, force=force)
        for setting, config in robustness.source_configs(track, profile).items()
        for seed in REAL_SEEDS
    ]
    print(
        f"[study] occlusion test on 300-W: {len(folders)} sweeps in "
        f"{time.perf_counter() - started:.0f} s -> results/robustness/300w/",
        flush=True,
    )
    return folders


def chosen_notebooks(
    names: Sequence[str], only: Sequence[str] | None = None, extras: bool = False
) -> tuple[list[str], list[str]]:
    """The notebooks a study call trains, and those it executes. It trains ``only`` those when
    given, else every one of ``names`` but the extras
    (:attr:`studylib.experiments.base.Experiment.extra`) unless ``extras``. It executes those,
    and (unless ``only``) the extras it does not train, reading the records they have: a run
    they share with a setting just trained (sigma 1 is the no-attention hourglass) is linked to
    its new record, so the book never shows two versions of one run."""
    if only:
        trained = [name for name in names if name in only]
        return trained, trained
    trained = [name for name in names if extras or not EXPERIMENTS[name].extra]
    return trained, trained + [name for name in names if name not in trained]


def stale_extra_runs(
    executed: Sequence[str], chosen: Sequence[str], profile: str, extra: dict[str, dict]
) -> list[plan.PlannedRun]:
    """The runs of the notebooks executed but not trained (the extras) whose records do not hold
    their current configs, e.g. after a profile changed. Left to the notebook, they would train
    one after the other in its kernel; the study trains them in its pool instead."""
    root = results_root(profile)
    return [
        run
        for name in executed
        if name not in chosen
        for run in EXPERIMENTS[name].runs(profile, **extra.get(name, {}))
        if not run.is_finished(root)
    ]


def default_lanes() -> int:
    """One lane per GPU (each run has a device to itself), else two on a CPU (see above)."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.device_count()
    return max(1, min(2, os.cpu_count() or 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m studylib.study",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--profile", default="quick", choices=PROFILES, help="default: quick")
    parser.add_argument("--only", nargs="+", choices=NOTEBOOKS, help="run only these notebooks")
    parser.add_argument(
        "--extras",
        action="store_true",
        help=f"also the experiments beyond the papers' claims ({', '.join(EXTRAS)})",
    )
    parser.add_argument(
        "--resume", action="store_true", help="keep finished runs with the same config"
    )
    parser.add_argument(
        "--lanes",
        type=int,
        default=None,
        help="runs (then notebooks) side by side (default: one per GPU, else two)",
    )
    parser.add_argument(
        "--real", action="store_true", help="the ablations on LSP and 300-W (STUDYLIB_DATA)"
    )
    parser.add_argument(
        "--allow-cpu",
        action="store_true",
        help="run the gpu or full profile without a GPU (days on a CPU)",
    )
    args = parser.parse_args(argv)
    if args.profile in ("gpu", "full") and not args.allow_cpu:
        import torch

        if not torch.cuda.is_available():
            parser.error(
                f"--profile {args.profile} is sized for a GPU and torch sees none; use "
                "--profile quick on a CPU, or --allow-cpu to run it anyway"
            )
    lanes = default_lanes() if args.lanes is None else args.lanes
    if lanes < 1:
        parser.error(f"--lanes must be >= 1, got {lanes}")
    if lanes > 1:
        os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by the kernels
    root = project_root()
    total = time.perf_counter()
    names, extra = NOTEBOOKS, {name: {} for name in NOTEBOOKS}
    if args.real:
        from studylib.data.real import data_root

        data_root()  # a clear error now when STUDYLIB_DATA is not set
        write_mpii_check(root)
        names = tuple(REAL)
        extra = {name: {"dataset": dataset, **more} for name, (dataset, more) in REAL.items()}
        # The executed copies are kept in the repository, so they draw none of the datasets'
        # images (publish.data_figure; the kernels inherit the setting).
        os.environ[NO_DATA_IMAGES_ENV] = "1"

    chosen, executed = chosen_notebooks(names, args.only, args.extras)
    # Every notebook's training runs first, in one pool of lanes (the costliest first); the
    # notebooks then find their records and only read them, side by side in the lanes.
    runs = [run for name in chosen for run in EXPERIMENTS[name].runs(args.profile, **extra[name])]
    stale = stale_extra_runs(executed, chosen, args.profile, extra)
    if stale:
        print(
            f"[study] {len(stale)} runs of the extras have no record of their current config "
            "(missing, or made before the profile changed): trained in the pool too",
            flush=True,
        )
    plan.train_all(runs + stale, results_root(args.profile), lanes=lanes, force=not args.resume)

    def run_one(name: str) -> None:
        # Only the notebooks that make records from the trained models (the robustness sweeps)
        # are forced: the others' runs were just trained (or kept, with --resume) by the pool.
        force = not args.resume and EXPERIMENTS[name].evaluates and name in chosen
        run_notebook(name, args.profile, force, root, extra[name])

    with ThreadPoolExecutor(max_workers=lanes) as pool:
        futures = [pool.submit(run_one, name) for name in executed]
        failures = [f.exception() for f in futures if f.exception() is not None]
    if failures:
        raise failures[0]
    if args.real and (not args.only or "reduction_ratio" in args.only):
        run_occlusion_test(root, args.profile, force=not args.resume)
    if not args.real and (not args.only or "freezing_phases" in args.only):
        from studylib.experiments import freezing

        path = freezing.write_gradient_at_initialisation(root / "results")
        print(f"[study] claim 3 at initialisation -> {path.relative_to(root)}", flush=True)
    print(f"[study] all notebooks done in {(time.perf_counter() - total) / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
