"""Paired comparisons of settings scored on the same test samples, for both tracks.

A setting is compared with a reference on per-sample scores (PCKh shares from
:func:`studylib.pose.per_sample_pckh`, NMEs from a face run's ``per_sample.csv``), with three 95%
intervals, because three questions are asked of a difference:

- ``hier_low``/``hier_high``: the **deciding** interval, a bootstrap over training seeds and
  test samples together (:func:`studylib.stats.hierarchical_bootstrap`): would the difference
  hold for new training runs and new test samples? With it come ``p_value`` (for a difference
  of 0) and ``mde``, the minimum detectable effect at 80% power and alpha 0.05;
- ``low``/``high``: a paired bootstrap over test samples of the seed-averaged per-sample scores
  (:func:`studylib.stats.paired_bootstrap`): how sure the difference is on this test set for
  these trained models;
- ``seed_low``/``seed_high``: a Student-t interval of the per-seed differences of the mean scores
  (seed k against seed k): how much the difference varies between training runs. With one seed
  it does not exist (NaN), nor does the deciding interval.

:func:`describe` words a difference by where its intervals lie. :func:`decide` gives the claims
ledger's verdict (:data:`DECISIONS`) from the deciding interval, the MDE and the paper's effect:
the one rule that decides a claim, in the ledger and wherever a chapter names a verdict. Nothing
here knows which track a score comes from.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from studylib import floors, stats

REPLICATED = "replicated"
NOT_REPLICATED = "not replicated"
EQUIVALENT = "no effect within ±MDE"
UNDERPOWERED = "underpowered"
NO_EVIDENCE = floors.NO_EVIDENCE
INCONCLUSIVE = "inconclusive"
#: :func:`decide`'s verdicts, in the order its rules are tried.
DECISIONS = (NO_EVIDENCE, REPLICATED, EQUIVALENT, NOT_REPLICATED, UNDERPOWERED, INCONCLUSIVE)


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
    samples, seeds, and the deciding interval's hier_low, hier_high, p_value, mde, with hier_se,
    hier_df, seed_sd and sample_se (:class:`studylib.stats.Hierarchical`; they plan seeds with
    :func:`studylib.stats.seeds_needed`).
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
            deciding = stats.hierarchical_bootstrap(a, b, confidence)
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
                    "hier_low": deciding.low,
                    "hier_high": deciding.high,
                    "p_value": deciding.p_value,
                    "mde": deciding.mde,
                    "hier_se": deciding.se,
                    "hier_df": deciding.df,
                    "seed_sd": deciding.seed_sd,
                    "sample_se": deciding.sample_se,
                }
            )
    return pd.DataFrame(out)


def difference_table(
    differences: pd.DataFrame, digits: int = 1, unit: str = "", deciding: bool = False
) -> pd.DataFrame:
    """:func:`paired_differences` as "+d [low, high] (seeds [low, high])", one row per setting
    and one column per score column; the seed interval is left out where there is none.

    With ``deciding``, the first interval is the deciding one (over seeds and test samples) and
    the two others stand beside it: "+d [low, high] (samples [low, high]; seeds [low, high])".
    """

    def span(low: float, high: float) -> str:
        return f"[{low:+.{digits}f}, {high:+.{digits}f}]"

    def cell(row) -> str:
        if deciding:
            first = span(row.hier_low, row.hier_high) if np.isfinite(row.hier_low) else "[-]"
            text = f"{row.difference:+.{digits}f} {first} (samples {span(row.low, row.high)}"
            if np.isfinite(row.seed_low):
                text += f"; seeds {span(row.seed_low, row.seed_high)}"
            return text + ")"
        text = f"{row.difference:+.{digits}f} {span(row.low, row.high)}"
        if np.isfinite(row.seed_low):
            text += f" (seeds {span(row.seed_low, row.seed_high)})"
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
    deciding = _deciding_clause(row, digits)
    direction = side(lo, hi)
    if direction == 0:
        return f"{what}: no difference resolved ({span}, which includes 0){deciding}."
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
    return f"{what}: {word}, {span}; {seeds}{deciding}."


def _deciding_clause(row: pd.Series | dict, digits: int) -> str:
    """ "; over seeds and test samples together ..." for a row with the deciding interval."""
    low, high = row.get("hier_low", np.nan), row.get("hier_high", np.nan)
    if not (np.isfinite(low) and np.isfinite(high)):
        return ""
    where = "excludes 0" if side(low, high) else "includes 0"
    mde = row.get("mde", np.nan)
    detect = (
        f", smallest difference detectable with 80% power {mde:.{digits}f}"
        if np.isfinite(mde)
        else ""
    )
    return (
        f"; over seeds and test samples together (the interval that decides) "
        f"{low:+.{digits}f} to {high:+.{digits}f}, which {where}{detect}"
    )


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


def decide(
    low: float,
    high: float,
    expected: int,
    mde: float,
    *,
    effect: float | None = None,
    p_adjusted: float | None = None,
    cleared: bool = True,
    alpha: float = stats.ALPHA,
) -> str:
    """The claims ledger's verdict (:data:`DECISIONS`) on a difference the paper says has sign
    ``expected`` (+1 or -1), from the deciding interval ``low``-``high`` (over seeds and test
    samples), its minimum detectable effect ``mde`` and the paper's reported ``effect`` (signed,
    in the same units; None where the paper gives no number).

    The rules, tried in this order (the first that holds is the verdict):

    1. **no evidence** (``floors.NO_EVIDENCE``): a run in the comparison did not clear its
       floor (``cleared`` False). Models at floor learnt nothing the comparison could be about,
       so no other verdict is given whatever the numbers say.
    2. **replicated**: the interval lies on the paper's side of 0, and, where the comparison is
       one of a family, its Holm-adjusted p-value ``p_adjusted`` is below ``alpha``. A replicated
       sign says nothing of size: an effect found at low power tends to be overestimated.
    3. **no effect within ±MDE** (equivalence): the interval lies inside (-margin, +margin),
       where the margin is the paper's effect (its size) or, where the paper reports none, the
       MDE: the data rule out an effect as large as the paper's (as large as this design could
       detect). Tried before rule 4, since such an interval also excludes the paper's effect and
       this is the stronger statement. Using the 95% interval makes it a TOST at 2.5% per side.
    4. **not replicated**: the interval lies wholly on the far side of the paper's effect (of 0
       where the paper gives no number): an effect as large as the paper's, in its direction, is
       excluded, and the interval reaches effects of the other sign beyond the margin.
    5. **underpowered**: none of the above, and the MDE exceeds the paper's effect (or is not
       finite, e.g. one seed): the design could not have been expected to see the paper's effect.
    6. **inconclusive**: none of the above: the design had the power, the interval holds both 0
       and the paper's effect (a 1-in-5 outcome at 80% power), or there is no paper effect to
       judge the power against.

    A "not replicated" or equivalence verdict is not corrected for multiplicity: Holm guards the
    claim that the papers are right, the error the ledger most needs to avoid.
    """
    if expected not in (1, -1):
        raise ValueError(f"expected must be +1 or -1, got {expected!r}")
    if not cleared:
        return NO_EVIDENCE
    size = abs(effect) if effect is not None and np.isfinite(effect) else None
    finite = np.isfinite(low) and np.isfinite(high)
    significant = p_adjusted is None or not np.isfinite(p_adjusted) or p_adjusted < alpha
    if finite and side(low, high) == expected and significant:
        return REPLICATED
    margin = size if size is not None else mde
    if finite and np.isfinite(margin) and margin > 0 and -margin < low and high < margin:
        return EQUIVALENT
    if finite and expected * (high if expected > 0 else low) < (size or 0.0):
        return NOT_REPLICATED
    if size is not None and not (np.isfinite(mde) and mde <= size):
        return UNDERPOWERED
    return INCONCLUSIVE
