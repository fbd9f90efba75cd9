"""Reproducibility: a re-run check of records (the CPU kernels every run uses are pinned by
:mod:`studylib.cpu_kernels`).

    python -m studylib.reproduce                      # what `make reproduce` runs
    python -m studylib.reproduce --per-ablation 2     # two records of each ablation and dataset
    python -m studylib.reproduce --records results/reduction_ratio/synthetic/adm-r16/seed0
    python -m studylib.reproduce --dry-run            # list what would be re-run

**Re-run check.** :func:`main` re-runs a stratified sample of committed run records (one per
ablation and dataset by default), each from its own ``config.json``, on this machine into a
temporary results root (never into ``results/``), prints each record's headline metrics
(:data:`HEADLINE`) beside the committed ones with their difference, and writes the check to
``results/reproduce/last_check.json`` for the reproducibility page. A run is re-run with its
record's device type and CPU thread count. Records whose config names a parameter the code no
longer has cannot be rebuilt and are reported as such; parameters the record lacks take the
code's defaults, and the check lists them. The exit status is 1 when a re-run differs from its
record by more than ``--tolerance`` or fails, else 0.
"""

from __future__ import annotations

import sys

from studylib.cpu_kernels import kernel_provenance

#: The metrics compared per record, by kind of run.
HEADLINE: dict[str, tuple[str, ...]] = {"pose": ("pckh", "pckh_auc"), "face": ("nme",)}
#: How each metric is printed: NME in points (percent of the inter-ocular distance), as the book
#: shows it; PCKh and its AUC as stored. last_check.json holds the stored values.
PRINT_SCALE: dict[str, float] = {"nme": 100.0}
#: Real-data records need their source under STUDYLIB_DATA.
REAL_SOURCES: dict[str, tuple[str, ...]] = {"lsp": ("lsp", "lspet"), "300w": ("300w",)}


def record_kind(config: dict) -> str | None:
    """The kind of run, "pose" or "face", from its config; None for other records (e.g. a
    robustness sweep, which scores another run's model)."""
    if "num_stacks" in config:
        return "pose"
    if "variant" in config:
        return "face"
    return None


def config_class(kind: str) -> type:
    from studylib.config import FaceConfig, PoseConfig

    return {"pose": PoseConfig, "face": FaceConfig}[kind]


def rebuild_config(kind: str, stored: dict) -> tuple[object, list[str]]:
    """The run's config from its stored dict, and the parameters the record lacks (they take
    the code's defaults). A parameter the code no longer has is a ValueError naming it."""
    import dataclasses

    cls = config_class(kind)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(stored) - names)
    if unknown:
        raise ValueError(
            f"its config has parameter(s) {unknown} that {cls.__name__} no longer has (the record "
            "comes from older code); re-run it with that code, or run the study again"
        )
    # Execution flags (how fast, not what a run computes) are left out of records at their
    # defaults, so their absence is no missing parameter.
    from studylib import config as config_module

    execution = set(getattr(config_module, "EXECUTION_FLAGS", {}))
    missing = sorted(names - set(stored) - execution)
    return cls(**stored), missing


def find_records(root) -> list:
    """Every finished training-run record below ``root`` (folders with ``metrics.json`` and a
    pose or face ``config.json`` at ``<ablation>/<dataset>/<setting>/seed<k>``), sorted."""
    from pathlib import Path

    from studylib.io import read_json

    found = []
    for metrics in sorted(Path(root).glob("*/*/*/seed*/metrics.json")):
        folder = metrics.parent
        if not (folder / "config.json").is_file():
            continue
        try:
            config = read_json(folder / "config.json")
        except ValueError:
            continue
        if isinstance(config, dict) and record_kind(config) is not None:
            found.append(folder)
    return found


def sample_records(folders, per_stratum: int = 1, seed: int = 0) -> list:
    """A stratified sample: ``per_stratum`` records of each (ablation, dataset), drawn with
    ``seed``; records with the same config as one already drawn (one run linked into two
    ablations) are not drawn twice."""
    import random

    from studylib.io import read_json
    from studylib.results import run_keys

    strata: dict[tuple[str, str], list] = {}
    for folder in folders:
        keys = run_keys(folder)
        strata.setdefault((keys["ablation"], keys["dataset"]), []).append(folder)
    rng = random.Random(seed)
    seen: set[str] = set()
    chosen = []
    for stratum in sorted(strata):
        candidates = list(strata[stratum])
        rng.shuffle(candidates)
        taken = 0
        for folder in candidates:
            if taken == per_stratum:
                break
            key = str(sorted(read_json(folder / "config.json").items()))
            if key in seen:
                continue
            seen.add(key)
            chosen.append(folder)
            taken += 1
    return chosen


def _missing_data(dataset: str) -> str | None:
    sources = REAL_SOURCES.get(dataset)
    if not sources:
        return None
    from studylib.data.real.root import available

    absent = [s for s in sources if not available(s)]
    return f"needs {', '.join(absent)} under STUDYLIB_DATA" if absent else None


def plan(folder) -> dict:
    """What re-running ``folder`` involves: its keys, kind, the committed headline metrics, the
    device and threads it is re-run with, and why it cannot be re-run (``skip``) if so."""
    from pathlib import Path

    from studylib.io import read_json
    from studylib.results import run_keys

    folder = Path(folder)
    stored = read_json(folder / "config.json")
    metrics = read_json(folder / "metrics.json")
    prov = read_json(folder / "provenance.json") if (folder / "provenance.json").is_file() else {}
    kind = record_kind(stored)
    entry: dict = {
        "record": str(folder),
        **run_keys(folder),
        "kind": kind,
        "committed": {m: metrics.get(m) for m in HEADLINE.get(kind, ())},
        "record_commit": prov.get("git_commit"),
        "record_device_name": prov.get("device_name"),
        "record_cpu_kernels": prov.get("cpu_kernels"),
        "device": str(prov.get("device", "cpu")).split(":")[0],
        "threads": prov.get("cpu_threads"),
        "missing_parameters": [],
        "skip": None,
    }
    if kind is None:
        entry["skip"] = "not a training run's record"
        return entry
    try:
        _, entry["missing_parameters"] = rebuild_config(kind, stored)
    except (TypeError, ValueError) as error:
        entry["skip"] = f"cannot rebuild the config: {error}"
        return entry
    entry["skip"] = _missing_data(stored.get("dataset", "synthetic"))
    if entry["device"] == "cuda" and not entry["skip"]:
        import torch

        if not torch.cuda.is_available():
            entry["skip"] = "made on a CUDA device; this machine has none"
    return entry


def rerun(entry: dict, root) -> dict:
    """Re-run one planned record into ``root``; the entry with the re-run's headline metrics,
    their differences from the committed ones and the seconds it took."""
    import time
    from pathlib import Path

    import torch

    from studylib.face import run_face
    from studylib.io import read_json
    from studylib.pose import run_pose

    stored = read_json(Path(entry["record"]) / "config.json")
    config, _ = rebuild_config(entry["kind"], stored)
    device = entry["device"] if entry["device"] in ("cpu", "cuda") else "auto"
    config = config.replace(device=device)
    threads = torch.get_num_threads()
    if entry["threads"] and device == "cpu":
        torch.set_num_threads(int(entry["threads"]))
    started = time.perf_counter()
    try:
        run = run_pose if entry["kind"] == "pose" else run_face
        folder = run(config, root, entry["ablation"], entry["setting"], force=True, progress=False)
    finally:
        torch.set_num_threads(threads)
    metrics = read_json(Path(folder) / "metrics.json")
    reproduced = {m: metrics.get(m) for m in HEADLINE[entry["kind"]]}
    return {
        **entry,
        "reproduced": reproduced,
        "difference": {
            m: (None if entry["committed"][m] is None or v is None else v - entry["committed"][m])
            for m, v in reproduced.items()
        },
        "seconds": round(time.perf_counter() - started, 1),
    }


def largest_difference(entry: dict) -> float | None:
    values = [abs(d) for d in (entry.get("difference") or {}).values() if d is not None]
    return max(values) if values else None


def _line(entry: dict) -> str:
    name = f"{entry['ablation']}/{entry['dataset']}/{entry['setting']}/seed{entry['seed']}"
    if entry.get("skip"):
        return f"{name:<52} skipped: {entry['skip']}"
    if entry.get("error"):
        return f"{name:<52} failed: {entry['error']}"
    if "reproduced" not in entry:
        extra = f" (defaults for {', '.join(entry['missing_parameters'])})" * bool(
            entry["missing_parameters"]
        )
        return f"{name:<52} {entry['kind']} on {entry['device']}{extra}"
    parts = []
    for metric, new in entry["reproduced"].items():
        old, scale = entry["committed"][metric], PRINT_SCALE.get(metric, 1.0)
        if old is None or new is None:
            parts.append(f"{metric} {_fmt(old, scale)} -> {_fmt(new, scale)}")
        else:
            parts.append(
                f"{metric} {old * scale:.4f} -> {new * scale:.4f} ({(new - old) * scale:+.4f})"
            )
    return f"{name:<52} " + "; ".join(parts)


def _fmt(value, scale: float) -> str:
    return "n/a" if value is None else f"{value * scale:.4f}"


def machine() -> dict:
    """This machine, for the check's header: processor, platform, software and kernel settings."""
    import platform

    import torch

    from studylib.results import _cpu_name

    return {
        "cpu_name": _cpu_name(),
        "platform": platform.platform(),
        "python_version": platform.python_version(),
        "torch_version": torch.__version__,
        "cpu_kernels": kernel_provenance(),
    }


def describe_last_check(path) -> str:
    """One paragraph on the last re-run check in ``path`` (a ``last_check.json``): when, where,
    at which commit, and how many re-runs matched their records."""
    from pathlib import Path

    from studylib.io import read_json

    path = Path(path)
    if not path.is_file():
        return "No re-run check has been made yet: `make reproduce` makes one."
    check = read_json(path)
    summary, host = check["summary"], check.get("machine", {})
    kernels = host.get("cpu_kernels") or {}
    largest = summary.get("largest_difference")
    dirty = " (uncommitted changes)" if check.get("git_dirty") else ""
    text = (
        f"Checked {check.get('time')} on {host.get('cpu_name')} "
        f"({kernels.get('cpu_model') or 'processor model unknown'}) at commit "
        f"{str(check.get('git_commit'))[:10]}{dirty}"
        f": {summary['identical']} of {summary['re_run']} re-run records identical to the "
        f"committed ones, {summary['beyond_tolerance']} beyond the tolerance of "
        f"{check.get('tolerance')}"
    )
    if largest is not None:
        text += f" (largest difference {largest:.4g} in stored units)"
    text += f"; {summary['skipped']} skipped, {summary['failed']} failed."
    if summary.get("from_other_commits"):
        text += (
            f" {summary['from_other_commits']} record(s) were made by another commit, so a "
            "difference there may come from the code rather than the machine."
        )
    return text


def last_check_table(path):
    """The last check's records, one row each: the record, its kind, status (identical, differs,
    skipped or failed, with the reason), and per headline metric the committed value, the re-run's
    and their difference (NME in points); an empty frame when there is no check."""
    from pathlib import Path

    import pandas as pd

    from studylib.io import read_json

    path = Path(path)
    if not path.is_file():
        return pd.DataFrame()
    rows = []
    for entry in read_json(path)["records"]:
        row = {
            "record": f"{entry['ablation']}/{entry['dataset']}/{entry['setting']}/"
            f"seed{entry['seed']}",
            "kind": entry.get("kind"),
        }
        if entry.get("skip"):
            row["status"] = f"skipped: {entry['skip']}"
        elif entry.get("error"):
            row["status"] = f"failed: {entry['error']}"
        else:
            row["status"] = "identical" if largest_difference(entry) == 0.0 else "differs"
        for metric in HEADLINE.get(entry.get("kind"), ()):
            scale = PRINT_SCALE.get(metric, 1.0)
            for column, values in (
                ("committed", entry.get("committed")),
                ("re-run", entry.get("reproduced")),
                ("difference", entry.get("difference")),
            ):
                value = (values or {}).get(metric)
                row[f"{metric} {column}{' (points)' * (metric in PRINT_SCALE)}"] = (
                    None if value is None else value * scale
                )
        row["record commit"] = str(entry.get("record_commit") or "?")[:10]
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import datetime
    import tempfile
    from pathlib import Path

    from studylib.io import write_json
    from studylib.results import git_commit, git_dirty, project_root

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", default=None, help="records to sample (default: results/)")
    parser.add_argument(
        "--records",
        nargs="+",
        default=None,
        metavar="PATH",
        help="re-run these record folders instead of a sample",
    )
    parser.add_argument(
        "--per-ablation",
        type=int,
        default=1,
        metavar="N",
        help="records per ablation and dataset (default 1)",
    )
    parser.add_argument("--sample-seed", type=int, default=0, help="seed of the sample")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=0.0,
        help="largest |difference| accepted, in stored units (default 0: exact)",
    )
    parser.add_argument(
        "--output",
        default=None,
        help="where the check goes (default results/reproduce/last_check.json)",
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would be re-run")
    args = parser.parse_args(argv)
    if args.per_ablation < 1:
        parser.error(f"--per-ablation must be >= 1, got {args.per_ablation}")

    results_dir = Path(args.results) if args.results else project_root() / "results"
    if args.records:
        folders = [Path(p) for p in args.records]
        for folder in folders:
            if not (folder / "metrics.json").is_file() or not (folder / "config.json").is_file():
                parser.error(f"{folder}: not a finished run record (no metrics.json/config.json)")
    else:
        folders = sample_records(find_records(results_dir), args.per_ablation, args.sample_seed)
        if not folders:
            parser.error(f"no training-run records under {results_dir}")
    entries = [plan(f) for f in folders]
    head = git_commit()
    if args.dry_run:
        print(
            f"[reproduce] would re-run {sum(not e['skip'] for e in entries)} of "
            f"{len(entries)} records:"
        )
        for entry in entries:
            print("  " + _line(entry))
        return 0

    checked = []
    with tempfile.TemporaryDirectory(prefix="studylib-reproduce-") as scratch:
        for entry in entries:
            if not entry["skip"]:
                try:
                    entry = rerun(entry, scratch)
                except Exception as error:  # one failing record must not hide the others
                    entry = {**entry, "error": f"{type(error).__name__}: {error}"}
            checked.append(entry)
            print("[reproduce] " + _line(entry), flush=True)
    compared = [e for e in checked if "reproduced" in e]
    worst = [d for d in map(largest_difference, compared) if d is not None]
    failed = [e for e in checked if e.get("error")]
    beyond = [e for e in compared if (largest_difference(e) or 0.0) > args.tolerance]
    stale = [e for e in compared if e["record_commit"] and e["record_commit"] != head]
    check = {
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": head,
        "git_dirty": git_dirty(),
        "machine": machine(),
        "tolerance": args.tolerance,
        "summary": {
            "records": len(checked),
            "re_run": len(compared),
            "identical": sum(largest_difference(e) == 0.0 for e in compared),
            "beyond_tolerance": len(beyond),
            "skipped": sum(bool(e["skip"]) for e in checked),
            "failed": len(failed),
            "largest_difference": max(worst) if worst else None,
            "from_other_commits": len(stale),
        },
        "records": checked,
    }
    output = Path(args.output) if args.output else results_dir / "reproduce" / "last_check.json"
    write_json(output, check)
    summary = check["summary"]
    print(
        f"[reproduce] {summary['identical']} of {summary['re_run']} re-runs identical to their "
        f"records, {summary['beyond_tolerance']} beyond tolerance {args.tolerance}, "
        f"{summary['skipped']} skipped, {summary['failed']} failed -> {output}"
    )
    if stale:
        print(
            f"[reproduce] {len(stale)} record(s) were made by another commit than {head}: "
            "a difference there may come from the code, not the machine"
        )
    return 1 if beyond or failed else 0


if __name__ == "__main__":
    sys.exit(main())
