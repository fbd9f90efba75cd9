"""Run records: one folder per run, written atomically, read back for the book.

Layout: ``<root>/<ablation>/<dataset>/<setting>/seed<k>/`` holding

- ``config.json``      every parameter of the run (profile, dataset, seed, model, schedule, ...)
- ``history.csv``      one row per epoch: losses, test metrics, learning rate, gradient norms
- ``per_sample.csv``   per-sample errors on the test set (for intervals, paired tests, CED curves)
- ``provenance.json``  git commit, device, torch version, wall time, throughput
- ``metrics.json``     final metrics; written last, so its presence marks a finished run

Each file is replaced atomically (:mod:`studylib.io`). A run whose ``metrics.json`` exists and
whose ``config.json`` equals the config asked for is finished and is not trained again unless
forced.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from studylib.io import atomic_path, read_json, write_json, write_text

RECORD_FILES = ("config.json", "history.csv", "per_sample.csv", "provenance.json", "metrics.json")
RESULTS_ENV = "STUDYLIB_RESULTS"


def project_root(start: str | Path | None = None) -> Path:
    """The folder holding the project's ``_toc.yml`` above ``start`` (default: the working dir)."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file() and (folder / "pyproject.toml").is_file():
            return folder
    return here


def results_root(profile: str, results_dir: str | Path | None = None) -> Path:
    """Where a notebook writes its records.

    ``results_dir`` (a notebook parameter) wins; then the ``STUDYLIB_RESULTS`` environment
    variable; then ``<project>/results`` for the quick and full profiles and
    ``<project>/_build/smoke-results`` for smoke runs, which are checks, not results.
    """
    if results_dir is not None:
        return Path(results_dir)
    if os.environ.get(RESULTS_ENV):
        return Path(os.environ[RESULTS_ENV])
    root = project_root()
    return root / "_build" / "smoke-results" if profile == "smoke" else root / "results"


def shown_path(path: str | Path) -> Path:
    """``path`` as a notebook prints it: relative to the project when inside it, so that an
    executed copy does not carry the folder of the machine that ran it."""
    path = Path(path)
    try:
        return path.resolve().relative_to(project_root().resolve())
    except ValueError:
        return path


def run_dir(root: str | Path, ablation: str, dataset: str, setting: str, seed: int) -> Path:
    for name, value in (("ablation", ablation), ("dataset", dataset), ("setting", setting)):
        if not value or "/" in value or value.startswith("."):
            raise ValueError(f"{name} must be a plain folder name, got {value!r}")
    return Path(root) / ablation / dataset / setting / f"seed{seed}"


def is_complete(folder: str | Path, config: dict[str, Any]) -> bool:
    """True when the run in ``folder`` finished with exactly ``config``."""
    folder = Path(folder)
    if not (folder / "metrics.json").is_file() or not (folder / "config.json").is_file():
        return False
    return read_json(folder / "config.json") == _plain(config)


def write_record(
    folder: str | Path,
    config: dict[str, Any],
    metrics: dict[str, Any],
    history: pd.DataFrame,
    per_sample: pd.DataFrame,
    provenance: dict[str, Any],
) -> Path:
    """Write a complete run record; ``metrics.json`` goes last (the completion marker)."""
    folder = Path(folder)
    (folder / "metrics.json").unlink(missing_ok=True)
    write_json(folder / "config.json", config)
    write_text(folder / "history.csv", history.to_csv(index=False, float_format="%.6g"))
    write_text(folder / "per_sample.csv", per_sample.to_csv(index=False, float_format="%.5g"))
    write_json(folder / "provenance.json", provenance)
    write_json(folder / "metrics.json", metrics)
    return folder


#: The files of a run record (``metrics.json`` last: it marks the record complete).
RECORD_FILES = ("config.json", "history.csv", "per_sample.csv", "provenance.json", "metrics.json")


def link_record(source: str | Path, folder: str | Path) -> Path:
    """Make ``folder`` hold the record (and checkpoint, when there is one) of the finished run in
    ``source``, as hard links where the file system allows and copies elsewhere: one run that two
    ablations share (e.g. the baseline hourglass is the freezing ablation's ``no-attention``) is
    trained once and found under both. ``metrics.json`` goes last, as in :func:`write_record`."""
    import shutil

    source, folder = Path(source), Path(folder)
    if not (source / "metrics.json").is_file():
        raise FileNotFoundError(f"{source}: no finished run record to link")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").unlink(missing_ok=True)
    for name in ("checkpoint.pt", *RECORD_FILES):
        if not (source / name).is_file():
            continue
        with atomic_path(folder / name) as tmp:
            tmp.unlink()  # os.link makes the file
            try:
                os.link(source / name, tmp)
            except OSError:
                shutil.copyfile(source / name, tmp)
    return folder


def provenance(
    device: Any, wall_time_s: float, train_images: int | None = None, **extra: Any
) -> dict[str, Any]:
    """Where and how a number was made: code version, machine, software, time, throughput, and
    the CPU kernels' settings (:func:`studylib.cpu_kernels.kernel_provenance`), which decide
    whether another processor reproduces the run bit for bit."""
    import torch

    from studylib.cpu_kernels import kernel_provenance

    device = torch.device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    return {
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "device": str(device),
        "device_name": name,
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "cpu_threads": torch.get_num_threads(),
        "cpu_kernels": kernel_provenance(),
        "wall_time_s": round(wall_time_s, 3),
        "train_images_per_s": (
            round(train_images / wall_time_s, 2) if train_images and wall_time_s > 0 else None
        ),
        **extra,
    }


def git_commit() -> str | None:
    return _git("rev-parse", "HEAD")


def git_dirty(cwd: str | Path | None = None) -> bool | None:
    """True when tracked files other than the records under ``results/`` differ from the commit
    (a study that rewrites committed records does not make its own code "dirty")."""
    status = _git(
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        ":/",
        ":(exclude,top)results",
        cwd=cwd,
    )
    return None if status is None else bool(status)


def _git(*args: str, cwd: str | Path | None = None) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            check=True,
            cwd=cwd or Path(__file__).parent,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def _plain(obj: Any) -> Any:
    """The JSON form of a config (tuples become lists), for comparisons with a stored one."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


# ----------------------------------------------------------------------------- reading records


def find_runs(
    root: str | Path, ablation: str | None = None, dataset: str | None = None
) -> list[Path]:
    """Every finished run folder below ``root``, optionally of one ablation and dataset, sorted."""
    base = Path(root)
    if ablation:
        base = base / ablation
        if dataset:
            base = base / dataset
    runs = sorted(p.parent for p in base.glob("**/metrics.json"))
    if dataset and not ablation:
        runs = [r for r in runs if run_keys(r)["dataset"] == dataset]
    return runs


def runs_by_setting(
    root: str | Path, ablation: str, dataset: str = "synthetic", order: Iterable[str] = ()
) -> dict[str, list[Path]]:
    """An ablation's finished runs under ``root`` by setting: the settings named in ``order``
    first, in its order (those without a record are left out), then any others by name."""
    by_setting: dict[str, list[Path]] = {}
    for folder in find_runs(root, ablation, dataset):
        by_setting.setdefault(run_keys(folder)["setting"], []).append(folder)
    known = [name for name in order if name in by_setting]
    return {name: by_setting[name] for name in known + sorted(set(by_setting) - set(known))}


def run_keys(folder: str | Path) -> dict[str, Any]:
    """ablation, dataset, setting and seed of a run, from its folder's path."""
    ablation, dataset, setting, seed = Path(folder).parts[-4:]
    return {"ablation": ablation, "dataset": dataset, "setting": setting, "seed": int(seed[4:])}


def load_metrics(runs: Iterable[str | Path]) -> pd.DataFrame:
    """One row per run: its keys, its scalar metrics, profile, device and commit."""
    rows = []
    for folder in map(Path, runs):
        metrics = read_json(folder / "metrics.json")
        config = read_json(folder / "config.json")
        prov = read_json(folder / "provenance.json")
        row = run_keys(folder)
        row.update({k: v for k, v in metrics.items() if isinstance(v, (int, float, str))})
        row.update(
            # a robustness sweep's profile is its source run's
            profile=config.get("profile") or config.get("source_config", {}).get("profile"),
            device_name=prov.get("device_name"),
            git_commit=prov.get("git_commit"),
            path=str(folder),
        )
        rows.append(row)
    return pd.DataFrame(rows)


def load_table(runs: Iterable[str | Path], table: str) -> pd.DataFrame:
    """A named table from each run's ``metrics.json`` (e.g. "pckh_table"), one row per run."""
    rows = []
    for folder in map(Path, runs):
        metrics = read_json(folder / "metrics.json")
        if table in metrics:
            rows.append({**run_keys(folder), **metrics[table]})
    return pd.DataFrame(rows)


def load_csvs(runs: Iterable[str | Path], name: str) -> pd.DataFrame:
    """``history.csv`` or ``per_sample.csv`` of each run, concatenated with the run's keys."""
    frames = []
    for folder in map(Path, runs):
        frame = pd.read_csv(folder / name)
        for key, value in reversed(run_keys(folder).items()):
            frame.insert(0, key, value)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load_configs(folders: Iterable[Path]) -> list[dict[str, Any]]:
    return [read_json(Path(f) / "config.json") for f in folders]
