"""Paired comparisons of settings scored on the same test samples, for both tracks.

A setting is compared with a reference on per-sample scores (PCKh shares from
:func:`studylib.pose.per_sample_pckh`, NMEs from a face run's ``per_sample.csv``), with two 95%
intervals, because two questions are asked of a difference:

- ``low``/``high``: a paired bootstrap over test samples of the seed-averaged per-sample scores
  (:func:`studylib.stats.paired_bootstrap`): how sure the difference is on this test set for
  these trained models;
- ``seed_low``/``seed_high``: a Student-t interval of the per-seed differences of the mean scores
  (seed k against seed k): how much the difference varies between training runs. With one seed
  it does not exist (NaN).

:func:`describe` words a difference by where its intervals lie and :func:`verdict` turns it into
the claims ledger's three words. Nothing here knows which track a score comes from.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from studylib import stats

#: The ledger's verdicts (see :func:`verdict`).
VERDICTS = ("replicated", "contradicted", "inconclusive")


def paired_differences(
    scores: pd.DataFrame,
    against: str,
    columns: Sequence[str],
    order: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Differences (setting - ``against``) of the mean of each score column, with both intervals.

    ``scores`` has one row per setting, seed and test sample (columns ``setting``, ``seed``,
    ``sample`` and the score columns). Only the seeds both settings ran are used. One row per
    setting and column: setting, against, column, difference, low, high, seed_low, seed_high,
    samples, seeds.
    """
    present = list(dict.fromkeys(scores["setting"]))
    if against not in present:
        raise ValueError(f"no runs of {against!r} among {present}")
    settings = [s for s in (order or present) if s in present and s != against]
    seeds_of = {name: set(scores.loc[scores["setting"] == name, "seed"]) for name in present}

    def matrix(setting: str, column: str, seeds: list) -> np.ndarray:
        rows = scores[scores["setting"] == setting]
        return rows.pivot(index="seed", columns="sample", values=column).loc[seeds].to_numpy(float)

    out = []
    for setting in settings:
        seeds = sorted(seeds_of[setting] & seeds_of[against])
        if not seeds:
            raise ValueError(f"{setting!r} and {against!r} share no seed")
        for column in columns:
            a, b = matrix(setting, column, seeds), matrix(against, column, seeds)
            samples = stats.paired_bootstrap(a, b, confidence)
            with warnings.catch_warnings():  # an all-NaN column: its differences are NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                per_seed = np.nanmean(a, axis=1) - np.nanmean(b, axis=1)
            seed_interval = stats.mean_ci(per_seed, confidence)
            out.append(
                {
                    "setting": setting,
                    "against": against,
                    "column": column,
                    "difference": samples.estimate,
                    "low": samples.low,
                    "high": samples.high,
                    "seed_low": seed_interval.low,
                    "seed_high": seed_interval.high,
                    "samples": samples.n,
                    "seeds": len(seeds),
                }
            )
    return pd.DataFrame(out)


def difference_table(differences: pd.DataFrame, digits: int = 1, unit: str = "") -> pd.DataFrame:
    """:func:`paired_differences` as "+d [low, high] (seeds [low, high])", one row per setting
    and one column per score column; the seed interval is left out where there is none."""

    def cell(row) -> str:
        text = f"{row.difference:+.{digits}f} [{row.low:+.{digits}f}, {row.high:+.{digits}f}]"
        if np.isfinite(row.seed_low):
            text += f" (seeds [{row.seed_low:+.{digits}f}, {row.seed_high:+.{digits}f}])"
        return text

    cells = differences.assign(cell=[cell(row) for row in differences.itertuples()])
    table = cells.pivot(index="setting", columns="column", values="cell")
    table = table.reindex(
        index=list(dict.fromkeys(differences["setting"])),
        columns=list(dict.fromkeys(differences["column"])),
    )
    against = differences["against"].iloc[0] if len(differences) else ""
    table.index.name = f"setting - {against}" + (f" ({unit})" if unit else "")
    table.columns.name = None
    return table


def side(low: float, high: float) -> int:
    """+1 if the interval lies above 0, -1 if below, 0 if it holds 0 or does not exist."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return 0
    return 1 if low > 0 else -1 if high < 0 else 0


def describe(
    row: pd.Series | dict, better: str = "higher", unit: str = "points", digits: int = 1
) -> str:
    """One sentence on a row of :func:`paired_differences`, worded by where its intervals lie.

    ``better`` says which direction is an improvement ("higher" for PCKh, "lower" for NME). A
    difference is called resolved when the test-sample interval excludes 0; the sentence then
    says whether the interval over seeds excludes 0 too.
    """
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', got {better!r}")
    d, lo, hi = row["difference"], row["low"], row["high"]
    what = f"{row['setting']} vs {row['against']} ({row['column']})"
    span = f"{d:+.{digits}f} {unit}, 95% interval {lo:+.{digits}f} to {hi:+.{digits}f}"
    direction = side(lo, hi)
    if direction == 0:
        return f"{what}: no difference resolved ({span}, which includes 0)."
    word = "higher" if direction > 0 else "lower"
    word += " (better)" if word == better else " (worse)"
    seed_low, seed_high = row.get("seed_low", np.nan), row.get("seed_high", np.nan)
    seeds_span = f"{seed_low:+.{digits}f} to {seed_high:+.{digits}f}"
    if not (np.isfinite(seed_low) and np.isfinite(seed_high)):
        seeds = "one seed, so no interval over training runs"
    elif side(seed_low, seed_high) == direction:
        seeds = f"the interval over the {row['seeds']} seeds, {seeds_span}, excludes 0 too"
    else:
        seeds = (
            f"over the {row['seeds']} seeds the interval, {seeds_span}, includes 0, so it may "
            "be a seed effect"
        )
    return f"{what}: {word}, {span}; {seeds}."


def sentences(
    differences: pd.DataFrame | None,
    settings: Iterable[str],
    columns: Sequence[str],
    **wording,
) -> list[str]:
    """Markdown bullets (:func:`describe`) for those ``settings`` x ``columns`` that
    ``differences`` holds with a number; none if it is missing or empty (the settings were not
    run). A column the data cannot score (all NaN, e.g. occluded landmarks without occlusion
    labels) is left out."""
    if differences is None or differences.empty:
        return []
    indexed = differences.set_index(["setting", "column"], drop=False)
    return [
        f"- {describe(indexed.loc[(setting, column)], **wording)}"
        for setting in settings
        for column in columns
        if (setting, column) in indexed.index
        and np.isfinite(indexed.loc[(setting, column), "difference"])
    ]


def verdict(row: pd.Series | dict, expected: int) -> str:
    """The ledger's word for a difference the paper says has sign ``expected`` (+1 or -1).

    "replicated": both intervals (test samples and seeds) lie on the paper's side of 0;
    "contradicted": both lie on the other side; "inconclusive": anything else, one seed included.
    """
    if expected not in (1, -1):
        raise ValueError(f"expected must be +1 or -1, got {expected!r}")
    sides = {
        side(row["low"], row["high"]),
        side(row.get("seed_low", np.nan), row.get("seed_high", np.nan)),
    }
    if sides == {expected}:
        return "replicated"
    if sides == {-expected}:
        return "contradicted"
    return "inconclusive"
