"""Tables for notebooks and the book, built from run records only.

Every function here reads ``results/`` (through :mod:`studylib.results`) and returns a pandas
DataFrame; nothing is typed in. Seeds are aggregated as mean ± Student-t 95% interval
(:func:`studylib.stats.mean_ci`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from studylib import floors, results
from studylib.io import read_json
from studylib.stats import mean_ci

TABLE1_COLUMNS = ("Head", "Sho.", "Elb.", "Wri.", "Hip", "Kne.", "Ank.", "Total")


def seed_summary(
    frame: pd.DataFrame,
    columns: Sequence[str],
    by: str = "setting",
    digits: int = 1,
    order: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per ``by`` value: "mean ± half-width" of each column over seeds, and n seeds."""
    rows = {}
    for key, group in frame.groupby(by, sort=False):
        row = {col: mean_ci(group[col]).format(digits) for col in columns}
        row["seeds"] = int(group["seed"].nunique()) if "seed" in group else len(group)
        rows[key] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = by
    if order is not None:
        table = table.reindex([o for o in order if o in table.index])
    return table


def seed_intervals(frame: pd.DataFrame, column: str, by: str = "setting") -> pd.DataFrame:
    """Numeric mean, low, high and n of ``column`` per ``by`` value (for plots and the ledger)."""
    rows = []
    for key, group in frame.groupby(by, sort=False):
        interval = mean_ci(group[column])
        rows.append(
            {
                by: key,
                "mean": interval.estimate,
                "low": interval.low,
                "high": interval.high,
                "n": interval.n,
            }
        )
    return pd.DataFrame(rows)


def pckh_table(runs: Iterable[str | Path], order: Sequence[str] | None = None) -> pd.DataFrame:
    """PCKh@0.5 in the ACNN paper's Table 1 layout, mean ± 95% CI over seeds, per setting; then
    the continuous scores (PCKh AUC over 0-0.5 head sizes, mean error in head sizes) and the
    floor beside them (:func:`floor_columns`)."""
    runs = list(runs)
    table = results.load_table(runs, "pckh_table")
    if table.empty:
        raise FileNotFoundError(f"none of the {len(runs)} runs given has a PCKh table")
    out = seed_summary(table, TABLE1_COLUMNS, order=order)
    metrics = results.load_metrics(runs)
    continuous = {"pckh_auc": ("AUC", 1), "mean_error": ("mean error", 3)}
    for key, (label, digits) in continuous.items():
        if key in metrics:
            out[label] = seed_summary(metrics, [key], digits=digits)[key]
    # The seed count is in "seeds cleared" ("2/3": two of three seeds cleared the gate).
    return out.drop(columns="seeds").join(floor_columns(runs))


def floor_columns(runs: Iterable[str | Path]) -> pd.DataFrame:
    """Per setting: the trivial predictor's score on the same test set (the constant pose's
    PCKh@0.5 Total, or the mean shape's NME in %) and how many seeds cleared the learning gate
    (:mod:`studylib.floors`) of how many seeds, e.g. "2/3"; "no floor" for records written before
    floors."""
    rows = {}
    for folder in map(Path, runs):
        metrics = read_json(folder / "metrics.json")
        setting = results.run_keys(folder)["setting"]
        clear = floors.clearance(metrics)
        row = rows.setdefault(
            setting, {"floors": [], "cleared": 0, "n": 0, "pose": "pckh" in metrics}
        )
        row["floors"].append(clear.floor)
        row["cleared"] += clear.cleared
        row["n"] += 1
    table = {}
    for setting, row in rows.items():
        floor = float(pd.Series(row["floors"]).mean())
        label = "floor (constant pose)" if row["pose"] else "floor (mean shape, %)"
        value = floor if row["pose"] else 100 * floor
        table[setting] = {
            label: "no floor"
            if pd.isna(value)
            else f"{value:.1f}"
            if row["pose"]
            else f"{value:.2f}",
            "seeds cleared": f"{row['cleared']}/{row['n']}",
        }
    return pd.DataFrame.from_dict(table, orient="index")


def provenance_table(runs: Iterable[str | Path]) -> pd.DataFrame:
    """Which profile, device and commit made each setting's numbers."""
    metrics = results.load_metrics(runs)
    keys = ["ablation", "dataset", "setting", "profile", "device_name", "git_commit"]
    grouped = metrics.groupby(keys[:3], sort=False)
    table = grouped[keys[3:]].agg(lambda s: ", ".join(sorted({str(v)[:10] for v in s})))
    table["seeds"] = grouped["seed"].nunique()
    return table.reset_index()


def record_provenance(runs: Iterable[str | Path]) -> pd.DataFrame:
    """Per ablation, dataset and setting: the profile(s), machine(s), commit(s) (``+dirty`` where
    the code had uncommitted changes), torch version(s), seeds and total wall time in minutes."""
    runs = [Path(folder) for folder in runs]
    if not runs:
        return pd.DataFrame()
    rows = []
    for folder in runs:
        prov = read_json(folder / "provenance.json")
        commit = str(prov.get("git_commit") or "?")[:10] + (
            "+dirty" if prov.get("git_dirty") else ""
        )
        rows.append(
            {
                **results.run_keys(folder),
                "device": prov.get("device_name"),
                "commit": commit,
                "torch": prov.get("torch_version"),
                "wall_time_s": prov.get("wall_time_s") or 0.0,
            }
        )
    frame = pd.DataFrame(rows)
    frame["profile"] = results.load_metrics(runs)["profile"]  # a sweep's is its source run's

    def joined(values: pd.Series) -> str:
        return ", ".join(sorted(set(map(str, values))))

    return frame.groupby(["ablation", "dataset", "setting"], sort=False).agg(
        profile=("profile", joined),
        device=("device", joined),
        commit=("commit", joined),
        torch=("torch", joined),
        seeds=("seed", "nunique"),
        minutes=("wall_time_s", lambda s: round(s.sum() / 60, 1)),
    )
