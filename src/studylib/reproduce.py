"""Reproducibility: a re-run check of committed records, judged as what a re-run is.

    python -m studylib.reproduce                      # what `make reproduce` runs
    python -m studylib.reproduce --per-ablation 2     # two records of each ablation and dataset
    python -m studylib.reproduce --records results/reduction_ratio/synthetic/adm-r16/seed0
    python -m studylib.reproduce --dry-run            # list what would be re-run

On one machine a run is deterministic (two processes write the same record bit for bit,
tests/test_determinism.py). On another processor the kernels round differently
(:mod:`studylib.cpu_kernels`) and a training run turns that into a different model: the re-run is a
new draw from its setting's distribution, not a copy. So :func:`main` re-runs a stratified sample
of committed run records (one per ablation and dataset by default; validation records under
``tuning/`` only when named), each from its own ``config.json``, on this machine into a
temporary results root (never into ``results/``), in two lanes of one thread, and judges each
re-run twice:

1. **Within its seeds' spread.** The re-run's primary score (:data:`PRIMARY`) must fall inside
   the 95% prediction interval for one new seed of its setting (:func:`prediction_interval`):
   the setting's committed mean +/- t * s * sqrt(1 + 1/K), with s the seed SD pooled over the
   settings of its ablation and dataset (they share model, data and budget) and t on the pooled
   degrees of freedom.
2. **No verdict changes.** The claims ledger (:func:`studylib.ledger.ledger`) is computed again
   on a copy of the records with every re-run in place of its record; every claim must keep its
   verdict.

The check passes (exit status 0) when both hold for every re-run and none failed; it names both
processors and reports bit-identity where it holds, and goes to
``results/reproduce/last_check.json`` for the reproducibility page. A run is re-run with its
record's device type and CPU thread count. Records whose config names a parameter the code no
longer has cannot be rebuilt and are reported as such; parameters the record lacks take the
code's defaults, and the check lists them.
"""

from __future__ import annotations

import sys

from studylib.cpu_kernels import kernel_provenance

#: The metrics compared per record, by kind of run.
HEADLINE: dict[str, tuple[str, ...]] = {"pose": ("pckh", "pckh_auc"), "face": ("nme",)}
#: The score a re-run is judged on: the ledger's primary score of each track.
PRIMARY: dict[str, str] = {"pose": "pckh", "face": "nme"}
#: Coverage of the prediction interval a re-run must fall in.
LEVEL = 0.95
#: Ablations left out of the default sample: validation records (the ledger reads none of them).
NOT_SAMPLED = ("tuning",)
#: The datasets each ledger reads (pose, face): the synthetic one, and the real one.
LEDGERS: dict[str, tuple[str, str]] = {
    "synthetic": ("synthetic", "synthetic"),
    "lsp": ("lsp", "300w"),
    "300w": ("lsp", "300w"),
}
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
    """A stratified sample: ``per_stratum`` records of each (ablation, dataset) except
    :data:`NOT_SAMPLED`, drawn with ``seed``; records with the same config as one already drawn
    (one run linked into two ablations) are not drawn twice."""
    import random

    from studylib.io import read_json
    from studylib.results import run_keys

    strata: dict[tuple[str, str], list] = {}
    for folder in folders:
        keys = run_keys(folder)
        if keys["ablation"] in NOT_SAMPLED:
            continue
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
    """Re-run one planned record into ``root``; the entry with the re-run's folder, headline
    metrics, their differences from the committed ones and the seconds it took; a failure is
    the entry with its ``error`` (one failing record must not hide the others)."""
    try:
        return _rerun(entry, root)
    except Exception as error:
        return {**entry, "error": f"{type(error).__name__}: {error}"}


def _rerun(entry: dict, root) -> dict:
    """What :func:`rerun` does, errors raised."""
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
        "rerun_folder": str(folder),
        "reproduced": reproduced,
        "difference": {
            m: (None if entry["committed"][m] is None or v is None else v - entry["committed"][m])
            for m, v in reproduced.items()
        },
        "seconds": round(time.perf_counter() - started, 1),
    }


def record_processors(entries: list[dict]) -> list[str]:
    """The processors that made the records, named as "model name (vendor family F model M)":
    a virtual machine's model name alone ("AMD EPYC") does not tell processor generations apart,
    which differ in their kernels."""
    names = set()
    for entry in entries:
        model = (entry.get("record_cpu_kernels") or {}).get("cpu_model")
        name = str(entry.get("record_device_name"))
        names.add(f"{name} ({model})" if model else name)
    return sorted(names)


def largest_difference(entry: dict) -> float | None:
    values = [abs(d) for d in (entry.get("difference") or {}).values() if d is not None]
    return max(values) if values else None


def setting_scores(folder, metric: str) -> dict[str, list[float]]:
    """The committed ``metric`` of every seed of every setting in ``folder``'s ablation and
    dataset (``folder`` is one record), by setting."""
    from pathlib import Path

    from studylib.io import read_json

    scores: dict[str, list[float]] = {}
    for metrics in sorted(Path(folder).parent.parent.glob("*/seed*/metrics.json")):
        value = read_json(metrics).get(metric)
        if isinstance(value, (int, float)):
            scores.setdefault(metrics.parent.parent.name, []).append(float(value))
    return scores


def prediction_interval(
    values: list[float], pooled: list[list[float]] | None = None, level: float = LEVEL
) -> dict | None:
    """Where one new seed of a setting falls with probability ``level``, if runs are normal:
    mean(values) +/- t * s * sqrt(1 + 1/K), K = len(values). s is the seed SD pooled over the
    groups of ``pooled`` (default: ``values`` alone), t Student's on its degrees of freedom.
    None when there is no spread to judge by (no group with two seeds)."""
    import math

    from scipy import stats as scipy_stats

    groups = [g for g in (pooled if pooled is not None else [values]) if len(g) >= 2]
    df = sum(len(g) - 1 for g in groups)
    if not values or df < 1:
        return None
    squares = sum(sum((x - sum(g) / len(g)) ** 2 for x in g) for g in groups)
    sd = math.sqrt(squares / df)
    mean = sum(values) / len(values)
    half = float(scipy_stats.t.ppf((1 + level) / 2, df)) * sd * math.sqrt(1 + 1 / len(values))
    return {
        "low": mean - half,
        "high": mean + half,
        "mean": mean,
        "seed_sd": sd,
        "df": df,
        "seeds": len(values),
        "level": level,
    }


def judge(entry: dict) -> dict:
    """The entry with its primary score's prediction interval and whether the re-run is inside
    it (``within``: None when there is no interval)."""
    metric = PRIMARY[entry["kind"]]
    scores = setting_scores(entry["record"], metric)
    interval = prediction_interval(scores.get(entry["setting"], []), list(scores.values()))
    value = (entry.get("reproduced") or {}).get(metric)
    within = None
    if interval is not None and value is not None:
        within = interval["low"] <= value <= interval["high"]
    return {
        **entry,
        "primary": metric,
        "interval": interval,
        "within": within,
        "identical": largest_difference(entry) == 0.0,
    }


def verdict_changes(reruns: list[dict], scratch) -> list[dict]:
    """The claims whose verdict changes when the re-runs replace their records: for each results
    root and ledger (:data:`LEDGERS`) a re-run belongs to, the ledger computed on the root and on
    a copy of it (under ``scratch``) with the re-runs' records in place. One dict per ledger:
    its root and datasets, the records replaced, the verdicts before and after, and the claims
    that changed."""
    import shutil
    from pathlib import Path

    from studylib import ledger

    groups: dict[tuple[Path, tuple[str, str]], list[dict]] = {}
    for e in reruns:
        if e["dataset"] in LEDGERS:
            root = Path(e["record"]).resolve().parents[3]
            groups.setdefault((root, LEDGERS[e["dataset"]]), []).append(e)
    checked = []
    for number, ((root, datasets), mine) in enumerate(sorted(groups.items())):
        overlay = Path(scratch) / f"overlay-{number}"
        shutil.copytree(root, overlay, ignore=shutil.ignore_patterns("executed", "*.ipynb"))
        for e in mine:
            target = overlay / e["ablation"] / e["dataset"] / e["setting"] / f"seed{e['seed']}"
            shutil.rmtree(target)
            shutil.copytree(e["rerun_folder"], target)
        before = ledger.ledger(root, *datasets)["verdict"].to_dict()
        after = ledger.ledger(overlay, *datasets)["verdict"].to_dict()
        checked.append(
            {
                "root": str(root),
                "datasets": list(datasets),
                "replaced": [e["record"] for e in mine],
                "before": {str(k): v for k, v in before.items()},
                "after": {str(k): v for k, v in after.items()},
                "changed": sorted(str(k) for k in before if before[k] != after.get(k)),
            }
        )
    return checked


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
    interval = entry.get("interval")
    if interval is not None:
        scale = PRINT_SCALE.get(entry["primary"], 1.0)
        inside = "inside" if entry["within"] else "OUTSIDE"
        parts.append(f"{inside} [{interval['low'] * scale:.2f}, {interval['high'] * scale:.2f}]")
    elif "interval" in entry:
        parts.append("no seed spread to judge by")
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


def check_files(folder) -> list:
    """The re-run checks kept in ``folder`` (``results/reproduce``): ``last_check.json`` first,
    then the others (``check-*.json``, kept from earlier machines) newest first."""
    from pathlib import Path

    folder = Path(folder)
    last = [folder / "last_check.json"] if (folder / "last_check.json").is_file() else []
    return last + sorted(folder.glob("check-*.json"), reverse=True)


def describe_last_check(path) -> str:
    """One paragraph on the last re-run check in ``path`` (a ``last_check.json``): when, where,
    at which commit, on which processors the records were made, how many re-runs fell inside
    their seeds' prediction interval (and how many were bit-identical), whether a verdict
    changed, and whether the check passed."""
    from pathlib import Path

    from studylib.io import read_json

    path = Path(path)
    if not path.is_file():
        return "No re-run check has been made yet: `make reproduce` makes one."
    check = read_json(path)
    if "passed" not in check:
        return (
            f"The last re-run check ({check.get('time')}) predates the statistical check "
            "(it compared against zero difference): `make reproduce` makes a current one."
        )
    summary, host = check["summary"], check.get("machine", {})
    kernels = host.get("cpu_kernels") or {}
    dirty = " (uncommitted changes)" if check.get("git_dirty") else ""
    done = [e for e in check.get("records", []) if "reproduced" in e]
    made_on = ", ".join(record_processors(done) or summary.get("record_processors") or [])
    made_on = made_on or "unknown processors"
    text = (
        f"Checked {check.get('time')} at commit {str(check.get('git_commit'))[:10]}{dirty}: "
        f"records made on {made_on}, re-run on {host.get('cpu_name')} "
        f"({kernels.get('cpu_model') or 'processor model unknown'}, kernels "
        f"{kernels.get('choice', 'avx2 pin')}). {summary['within_interval']} of "
        f"{summary['re_run']} re-runs fell inside their setting's {check['level']:.0%} "
        f"prediction interval for a new seed ({summary['identical']} bit-identical to their "
        f"records); {summary['verdicts_changed']} ledger verdict(s) changed with the re-runs in "
        f"place of their records; {summary['skipped']} skipped, {summary['failed']} failed. "
        f"The check {'passed' if check['passed'] else 'FAILED'}."
    )
    if summary.get("from_other_commits"):
        text += (
            f" {summary['from_other_commits']} record(s) were made by another commit, so a "
            "difference there may also come from the code, not only the machine."
        )
    return text


def last_check_table(path):
    """The last check's records, one row each: the record, its kind, status (inside or outside
    its interval, identical, skipped or failed, with the reason), the primary score committed,
    re-run and their difference (NME in points), the interval, and the record's processor and
    commit; an empty frame when there is no check."""
    from pathlib import Path

    import pandas as pd

    from studylib.io import read_json

    path = Path(path)
    if not path.is_file():
        return pd.DataFrame()
    rows = []
    for entry in read_json(path)["records"]:
        kind = entry.get("kind")
        metric = PRIMARY.get(kind, "")
        scale = PRINT_SCALE.get(metric, 1.0)
        row = {
            "record": f"{entry['ablation']}/{entry['dataset']}/{entry['setting']}/"
            f"seed{entry['seed']}",
            "score": metric + " (points)" * (metric in PRINT_SCALE),
        }
        if entry.get("skip"):
            row["status"] = f"skipped: {entry['skip']}"
        elif entry.get("error"):
            row["status"] = f"failed: {entry['error']}"
        elif entry.get("within") is None:
            row["status"] = "no seed spread to judge by"
        else:
            row["status"] = "inside" if entry["within"] else "OUTSIDE"
            if entry.get("identical"):
                row["status"] += ", identical"
        for column, values in (
            ("committed", entry.get("committed")),
            ("re-run", entry.get("reproduced")),
            ("difference", entry.get("difference")),
        ):
            value = (values or {}).get(metric)
            row[column] = None if value is None else value * scale
        interval = entry.get("interval")
        row["interval"] = (
            f"[{interval['low'] * scale:.2f}, {interval['high'] * scale:.2f}]" if interval else None
        )
        row["record made on"] = record_processors([entry])[0]
        row["record commit"] = str(entry.get("record_commit") or "?")[:10]
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import datetime
    import tempfile
    from pathlib import Path

    from studylib.io import write_json
    from studylib.results import git_commit, git_dirty, project_root, shown_path

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
        "--lanes", type=int, default=2, help="re-runs at a time, one thread each (default 2)"
    )
    parser.add_argument(
        "--output",
        default=None,
        help="where the check goes (default results/reproduce/last_check.json)",
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would be re-run")
    args = parser.parse_args(argv)
    for name, value in (("--per-ablation", args.per_ablation), ("--lanes", args.lanes)):
        if value < 1:
            parser.error(f"{name} must be >= 1, got {value}")

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

    with tempfile.TemporaryDirectory(prefix="studylib-reproduce-") as scratch:
        checked = run_all(entries, scratch, args.lanes)
        ledgers = verdict_changes([e for e in checked if "reproduced" in e], scratch)
    for entry in checked:
        entry.pop("rerun_folder", None)
        # As the notebooks print it: relative to the project, not this machine's folder.
        entry["record"] = str(shown_path(entry["record"]))
    rerun_done = [e for e in checked if "reproduced" in e]
    failed = [e for e in checked if e.get("error")]
    outside = [e for e in rerun_done if e["within"] is not True]
    changed = [c for ledger_check in ledgers for c in ledger_check["changed"]]
    stale = [e for e in rerun_done if e["record_commit"] and e["record_commit"] != head]
    worst = [d for d in map(largest_difference, rerun_done) if d is not None]
    passed = not failed and not outside and not changed
    check = {
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": head,
        "git_dirty": git_dirty(),
        "machine": machine(),
        "level": LEVEL,
        "passed": passed,
        "summary": {
            "records": len(checked),
            "re_run": len(rerun_done),
            "within_interval": sum(e["within"] is True for e in rerun_done),
            "outside_interval": sum(e["within"] is False for e in rerun_done),
            "no_interval": sum(e["within"] is None for e in rerun_done),
            "identical": sum(e["identical"] for e in rerun_done),
            "verdicts_changed": len(changed),
            "skipped": sum(bool(e["skip"]) for e in checked),
            "failed": len(failed),
            "largest_difference": max(worst) if worst else None,
            "from_other_commits": len(stale),
            "record_processors": record_processors(rerun_done),
        },
        "ledgers": ledgers,
        "records": checked,
    }
    output = Path(args.output) if args.output else results_dir / "reproduce" / "last_check.json"
    write_json(output, check)
    summary = check["summary"]
    print(
        f"[reproduce] {summary['within_interval']} of {summary['re_run']} re-runs inside their "
        f"{LEVEL:.0%} prediction interval ({summary['identical']} identical to their records), "
        f"{summary['verdicts_changed']} ledger verdict(s) changed, {summary['skipped']} "
        f"skipped, {summary['failed']} failed: {'PASSED' if passed else 'FAILED'} -> {output}"
    )
    print(
        f"[reproduce] records made on {', '.join(summary['record_processors']) or '-'}; "
        f"re-run on {check['machine']['cpu_name']} "
        f"({check['machine']['cpu_kernels'].get('cpu_model')})"
    )
    for ledger_check in ledgers:
        for claim in ledger_check["changed"]:
            print(
                f"[reproduce] claim {claim} ({'/'.join(ledger_check['datasets'])}): "
                f"{ledger_check['before'][claim]} -> {ledger_check['after'][claim]}"
            )
    if stale:
        print(
            f"[reproduce] {len(stale)} record(s) were made by another commit than {head}: "
            "a difference there may also come from the code, not only the machine"
        )
    return 0 if passed else 1


def run_all(entries: list[dict], scratch, lanes: int) -> list[dict]:
    """Re-run the entries that can be (:func:`rerun`) into ``scratch``, ``lanes`` at a time in
    fresh processes (each sets the CPU kernels before it computes), and :func:`judge` each;
    in order, printing each as it is known."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    todo = [e for e in entries if not e["skip"]]
    done: dict[int, dict] = {}
    if todo:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(lanes, len(todo)), mp_context=context) as pool:
            futures = {id(e): pool.submit(rerun, e, scratch) for e in todo}
            for e in entries:
                if e["skip"]:
                    print("[reproduce] " + _line(e), flush=True)
            for e in todo:
                result = futures[id(e)].result()
                done[id(e)] = judge(result) if "reproduced" in result else result
                print("[reproduce] " + _line(done[id(e)]), flush=True)
    else:
        for e in entries:
            print("[reproduce] " + _line(e), flush=True)
    return [done.get(id(e), e) for e in entries]


if __name__ == "__main__":
    sys.exit(main())
