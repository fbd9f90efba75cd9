"""The claims ledger: each claim of the two papers with a verdict computed from the run records.

Each claim has one primary comparison (:data:`studylib.papers.CLAIMS`) and one verdict from
:func:`studylib.compare.decide`, read in this order:

- **no evidence**: a run in the comparison did not clear its trivial floor
  (:func:`studylib.floors.gate`; records written before floors existed do not clear). Models
  at floor learnt nothing that the comparison could be about, so they get no other verdict;
- **replicated**: the deciding interval, a bootstrap over training seeds and test samples
  (:func:`studylib.stats.hierarchical_bootstrap`), lies on the paper's side of 0 and the
  comparison's Holm-adjusted p-value (:func:`studylib.stats.holm`, across the ledger's primary
  comparisons) is below 0.05;
- **no effect within ±MDE**: the interval lies inside ± the paper's effect (± the minimum
  detectable effect where the paper reports none);
- **not replicated**: the interval excludes the paper's effect, lying on the other side of it
  (of 0 where the paper reports none);
- **underpowered**: the minimum detectable effect (80% power, alpha 0.05) exceeds the paper's
  effect;
- **inconclusive**: none of these.

A claim whose records are missing is "not run". Claims 2, 3, 5 and 10 are not differences
between settings: each keeps its own rule (``papers.CLAIMS[n].rule``), worded with the same
verdicts; 2 and 3 are tests over seeds and join the Holm family. Comparisons other than the
primary ones are exploratory (:func:`exploratory`): shown, never deciding, not corrected.

Every entry names the records it read (ablation, dataset, profile, seeds), so a verdict is
always scoped: at the quick profile on synthetic data it says what the mechanism does at that
scale, not what the paper measured on MPII or 300-W.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from studylib import compare, face, floors, papers, pose, results, stats
from studylib.experiments import EXPERIMENTS, freezing, reduction_ratio
from studylib.io import read_json

NOT_RUN = "not run"
#: Every verdict the ledger gives, in the order the summary lists them.
VERDICTS = (
    compare.REPLICATED,
    compare.NOT_REPLICATED,
    compare.EQUIVALENT,
    compare.UNDERPOWERED,
    compare.INCONCLUSIVE,
    compare.NO_EVIDENCE,
    NOT_RUN,
)
#: Claim 5's rule: a mask is called binary when at least this share of its values (%) lies
#: within 0.1 of 0 or 1 (the lower end of the seed interval) ...
BINARY_SHARE_PCT = 90.0
#: ... and it moved: it discards (< 0.5) more than this share of the positions (%) and less than
#: 100 minus it. A mask that stayed all ones (or all zeros) selected nothing.
MOVED_PCT = 1.0
NOT_RUN_TEXT = "The settings this claim compares were not run."
NO_GATE = "n/a (no trained model)"
#: Family-wise level of the ledger.
ALPHA = stats.ALPHA

_WORDING = {"pose": pose.PCKH_WORDING, "face": face.NME_WORDING}


@dataclass
class Entry:
    """One row of the ledger. Numbers are in ``unit`` (claim 3: a ratio, its interval and MDE as
    factors); NaN where they do not apply."""

    claim: int
    paper: str
    statement: str
    primary: str
    difference: float
    low: float
    high: float
    mde: float
    paper_effect: float
    unit: str
    p_value: float
    p_holm: float
    seeds_needed: float
    verdict: str
    gate: str
    evidence: str
    records: str
    # how the numbers are shown: a format spec, and whether they are ratios (claim 3)
    number_format: str = "+.1f"
    expected: int = 1
    cleared: bool = True
    seeds: float = np.nan


def _entry(claim: int, records: str, **fields) -> Entry:
    spec = papers.CLAIMS[claim]
    defaults = dict(
        primary="",
        difference=np.nan,
        low=np.nan,
        high=np.nan,
        mde=np.nan,
        paper_effect=np.nan,
        unit="",
        p_value=np.nan,
        p_holm=np.nan,
        seeds_needed=np.nan,
        verdict=NOT_RUN,
        gate="",
        evidence=NOT_RUN_TEXT,
    )
    defaults.update(fields)
    if defaults["verdict"] not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {defaults['verdict']!r}")
    return Entry(claim, spec.paper, spec.statement, records=records, **defaults)


def entry(claim: int, verdict: str, evidence: str, records: str) -> Entry:
    """A ledger row with only a verdict and its evidence (no comparison's numbers)."""
    return _entry(claim, records, verdict=verdict, evidence=evidence)


def scope(runs: dict[str, list[Path]], ablation: str, dataset: str) -> str:
    """Which records an entry read: folder, profile(s), settings and seeds per setting."""
    where = f"results/{ablation}/{dataset}/"
    folders = [f for fs in runs.values() for f in fs]
    if not folders:
        return f"{where} (no records)"
    frame = results.load_metrics(folders)
    profiles = ", ".join(sorted(frame["profile"].dropna().astype(str).unique())) or "?"
    seeds = frame.groupby("setting")["seed"].nunique()
    counts = f"{seeds.min()}" if seeds.min() == seeds.max() else f"{seeds.min()}-{seeds.max()}"
    return f"{where}: profile {profiles}, {len(runs)} settings, {counts} seeds"


# ------------------------------------------------------------------------------ gate and scores


def gate(folders: Sequence[Path]) -> tuple[bool, str]:
    """:func:`studylib.floors.gate` on the runs' ``metrics.json``, as "cleared: ..." or
    "models at floor: ..."."""
    records = [
        {**read_json(Path(f) / "metrics.json"), **results.run_keys(f)} for f in map(Path, folders)
    ]
    cleared, why = floors.gate(records)
    return cleared, ("cleared: " if cleared else "models at floor: ") + why


def _scores(runs: dict[str, list[Path]], track: str) -> pd.DataFrame:
    """Per-sample scores of every run: pose PCKh shares (and the continuous columns where the
    records have them), face NMEs in % of the inter-ocular distance."""
    folders = [f for fs in runs.values() for f in fs]
    if not folders:
        return pd.DataFrame()
    if track == "pose":
        return pose.per_sample_pckh(folders)
    frame = results.load_csvs(folders, "per_sample.csv")
    columns = [c for c in frame.columns if c.startswith("nme")]
    return frame.assign(**{c: 100 * frame[c] for c in columns})


@dataclass
class _Paired:
    """A comparison's row of :func:`studylib.compare.paired_differences`, with its gate."""

    comparison: papers.Comparison
    column: str
    row: pd.Series
    cleared: bool
    gate: str


def _paired(
    comparison: papers.Comparison, runs: dict[str, list[Path]], scores: pd.DataFrame
) -> _Paired | None:
    """The comparison on the scores, or None if either setting or every column is missing."""
    if comparison.setting not in runs or comparison.reference not in runs or scores.empty:
        return None
    rows = scores[scores["setting"].isin([comparison.setting, comparison.reference])]
    usable = [c for c in comparison.columns if c in rows.columns and np.isfinite(rows[c]).any()]
    if not usable:
        return None
    column = usable[0]
    differences = compare.paired_differences(
        rows, comparison.reference, [column], order=[comparison.setting]
    )
    if differences.empty or not np.isfinite(differences.iloc[0]["difference"]):
        return None
    cleared, why = gate(runs[comparison.setting] + runs[comparison.reference])
    return _Paired(comparison, column, differences.iloc[0], cleared, why)


def _seeds_needed(row: pd.Series, effect: float | None) -> float:
    if effect is None:
        return np.nan
    n = stats.seeds_needed(effect, row["seed_sd"], row["sample_se"], int(row["samples"]))
    return float(n) if n is not None else np.inf


def _power_words(row: pd.Series, effect: float | None, digits: int, unit: str) -> str:
    mde = row["mde"]
    text = f"With {int(row['seeds'])} seeds the smallest difference detectable with 80% power "
    text += f"is {mde:.{digits}f} {unit}" if np.isfinite(mde) else "does not exist (one seed)"
    if effect is None:
        return text + "; the paper reports no size for this difference."
    text += f"; the paper reports {effect:+.{digits}f}"
    needed = _seeds_needed(row, effect)
    if np.isfinite(needed):
        return text + f", which about {int(needed)} seeds would detect."
    if needed == np.inf:
        return text + (
            ", which no number of seeds would detect on this test set (it needs more test samples)."
        )
    return text + "."


def _difference_entry(claim: int, paired: _Paired | None, records: str) -> Entry:
    """A difference claim's row, its verdict pending Holm (:func:`_decide`)."""
    if paired is None:
        return _entry(claim, records)
    spec = papers.CLAIMS[claim]
    track = spec.track
    wording = _WORDING[track]
    digits = wording["digits"]
    comparison, row = paired.comparison, paired.row
    effect = comparison.effect
    column_note = (
        ""
        if paired.column == comparison.columns[0]
        else f" (the records have no {comparison.columns[0]}, so {paired.column} is used)"
    )
    evidence = (
        f"Primary comparison: {comparison.describe(paired.column)}{column_note}. "
        + compare.describe(row, **{**wording, "digits": digits, "unit": comparison.unit})
        + " "
        + _power_words(row, effect, digits, comparison.unit)
    )
    if comparison.source:
        evidence += f" (Reported: {comparison.source}.)"
    return _entry(
        claim,
        records,
        primary=comparison.describe(paired.column),
        difference=float(row["difference"]),
        low=float(row["hier_low"]),
        high=float(row["hier_high"]),
        mde=float(row["mde"]),
        paper_effect=np.nan if effect is None else float(effect),
        unit=comparison.unit,
        p_value=float(row["p_value"]),
        seeds_needed=_seeds_needed(row, effect),
        seeds=float(row["seeds"]),
        verdict=compare.INCONCLUSIVE,  # decided once the family's p-values are adjusted
        gate=paired.gate,
        evidence=evidence,
        number_format=f"+.{digits}f",
        expected=comparison.expected,
        cleared=paired.cleared,
    )


# ----------------------------------------------------------------------------------------- pose


def pose_claims(root: str | Path, dataset: str = "synthetic") -> list[Entry]:
    """ACNN's claims 1-5 from the freezing-phases ablation's records (verdicts before Holm:
    :func:`ledger` adjusts them across the whole ledger)."""
    runs = _pose_runs(root, dataset)
    records = scope(runs, freezing.ABLATION, dataset)
    if not runs:
        return [_entry(n, records) for n in range(1, 6)]
    folders = [f for fs in runs.values() for f in fs]
    scores = _scores(runs, "pose")
    masks = freezing.mask_statistics_frame(folders)
    soft = masks[(masks["setting"] == "acnn-A-B-C") & (masks["mask"] == "M1")]
    entries = [
        _difference_entry(1, _paired(papers.CLAIMS[1].primary, runs, scores), records),
        _claim2(soft, runs.get("acnn-A-B-C", []), records),
        _claim3(folders, runs.get("acnn-joint", []), records),
        _difference_entry(4, _paired(papers.CLAIMS[4].primary, runs, scores), records),
        _claim5(soft, runs.get("acnn-A-B-C", []), records),
    ]
    return entries


def _gate_or_none(folders: Sequence[Path]) -> tuple[bool, str]:
    return gate(folders) if folders else (False, "no runs")


def _seed_test_entry(
    claim: int,
    values: np.ndarray,
    folders: Sequence[Path],
    records: str,
    primary: str,
    unit: str,
    evidence: str,
    log: bool = False,
    number_format: str = "+.3f",
) -> Entry:
    """A claim tested over seeds (one value per seed, expected above 0): Student-t interval,
    p-value and MDE; ``log`` values are shown back-transformed as ratios."""
    interval, p_value = stats.t_test(values)
    mde = stats.seed_mde(values)
    cleared, why = _gate_or_none(folders)
    shown = np.exp if log else (lambda x: x)
    return _entry(
        claim,
        records,
        primary=primary,
        difference=float(shown(interval.estimate)),
        low=float(shown(interval.low)),
        high=float(shown(interval.high)),
        mde=float(shown(mde)),
        unit=unit,
        p_value=p_value,
        verdict=compare.INCONCLUSIVE,
        gate=why,
        evidence=evidence,
        number_format=number_format,
        expected=1,
        cleared=cleared,
        seeds=float(interval.n),
    )


def _claim2(soft: pd.DataFrame, folders: Sequence[Path], records: str) -> Entry:
    contrast = soft.get("mean_on_person", pd.Series(dtype=float)) - soft.get(
        "mean_off_person", pd.Series(dtype=float)
    )
    contrast = contrast.dropna().to_numpy(float)
    if not contrast.size:
        return entry(
            2, NOT_RUN, "No record of acnn-A-B-C holds its mask on and off the person.", records
        )
    interval = stats.mean_ci(contrast)
    return _seed_test_entry(
        2,
        contrast,
        folders,
        records,
        "acnn-A-B-C: mask M1 on the person - off it",
        "mask value",
        "The first mask's mean value on the person (near the skeleton, at a joint-scaled "
        f"distance) minus off it, over {interval.n} seeds: {interval.estimate:+.3f}, 95% "
        f"interval {interval.low:+.3f} to {interval.high:+.3f}. Rule: " + papers.CLAIMS[2].rule,
    )


def _claim3(folders: Sequence[Path], joint: Sequence[Path], records: str) -> Entry:
    if not joint:
        return entry(3, NOT_RUN, "No record of acnn-joint holds gradient norms.", records)
    history = freezing.gradient_history(joint)
    quantity = next(
        (
            q
            for q in ("grad_ratio_elem", "grad_ratio_rms")
            if q in history and np.isfinite(history[q]).any()
        ),
        None,
    )
    if quantity is None:
        return entry(3, NOT_RUN, "No record of acnn-joint holds gradient norms.", records)
    # Per seed: the geometric mean of the ratio over the epochs where both parts train.
    per_seed = (
        history.assign(log_ratio=np.log(history[quantity]))
        .groupby("seed")["log_ratio"]
        .mean()
        .to_numpy(float)
    )
    what = (
        "per element at the mask and heatmap tensors (grad_ratio_elem)"
        if quantity == "grad_ratio_elem"
        else "RMS of the mask heads' and heatmap network's parameter gradients (grad_ratio_rms; "
        "these records predate the per-element ratio, which the paper's mechanism is about)"
    )
    interval = stats.mean_ci(per_seed)
    low, high = np.exp([interval.low, interval.high])
    return _seed_test_entry(
        3,
        per_seed,
        joint,
        records,
        f"acnn-joint: mask / heatmap gradient, {quantity}",
        "ratio (x), log scale",
        f"In joint training, the gradient mask / heatmap, {what}: geometric mean "
        f"{np.exp(interval.estimate):.3g}, 95% interval {low:.3g} to {high:.3g} over "
        f"{interval.n} seeds. Rule: " + papers.CLAIMS[3].rule,
        log=True,
        number_format=".3g",
    )


def _claim5(soft: pd.DataFrame, folders: Sequence[Path], records: str) -> Entry:
    if soft.empty:
        return entry(5, NOT_RUN, "No record of acnn-A-B-C holds mask statistics.", records)
    cleared, why = _gate_or_none(folders)
    moved = soft[soft["discarded_pct"].between(MOVED_PCT, 100 - MOVED_PCT)]
    near = stats.mean_ci(moved["near_binary_pct"])
    stuck = len(soft) - len(moved)
    text = (
        f"The soft mask M1 after A-B-C training: in {len(moved)} of {len(soft)} seeds it moved "
        f"(discards between {MOVED_PCT:g}% and {100 - MOVED_PCT:g}% of the positions; per seed "
        f"{', '.join(f'{v:.1f}%' for v in soft['discarded_pct'])})"
    )
    if len(moved):
        text += (
            f"; where it moved, {near.format(1)}% of its values lie within 0.1 of 0 or 1 (mean "
            "± 95% interval over those seeds)"
        )
    text += ". "
    if stuck:
        text += (
            f"A mask that did not move is near-binary only because it stayed at its start, so "
            f"those {stuck} seeds say nothing about binarity. "
        )
    if not cleared:
        verdict = compare.NO_EVIDENCE
        text = "No evidence: models at floor. " + text
    elif near.n >= 2 and near.low >= BINARY_SHARE_PCT:
        verdict = compare.REPLICATED
    elif near.n >= 2 and near.high < BINARY_SHARE_PCT:
        verdict = compare.NOT_REPLICATED
    else:
        verdict = compare.INCONCLUSIVE
    return _entry(
        5,
        records,
        primary="acnn-A-B-C: share of M1 within 0.1 of 0 or 1, seeds whose mask moved",
        difference=near.estimate,
        low=near.low,
        high=near.high,
        unit="% of positions",
        verdict=verdict,
        gate=why,
        evidence=text + "Rule: " + papers.CLAIMS[5].rule,
        number_format=".1f",
        cleared=cleared,
    )


# ----------------------------------------------------------------------------------------- face


def _pose_runs(root: str | Path, dataset: str) -> dict[str, list[Path]]:
    return EXPERIMENTS["freezing_phases"].find_runs(root, dataset)


def _face_runs(root: str | Path, dataset: str) -> dict[str, dict[str, list[Path]]]:
    return {
        name: EXPERIMENTS[name].find_runs(root, dataset)
        for name in ("reduction_ratio", "attention_order")
    }


def face_claims(root: str | Path, dataset: str = "synthetic") -> list[Entry]:
    """The face paper's claims 6-10 from the reduction-ratio and attention-order records
    (verdicts before Holm: :func:`ledger` adjusts them across the whole ledger)."""
    by_ablation = _face_runs(root, dataset)
    scores = {name: _scores(runs, "face") for name, runs in by_ablation.items()}
    entries = []
    for n in (6, 7, 8, 9):
        primary = papers.CLAIMS[n].primary
        runs = by_ablation[primary.ablation]
        records = scope(runs, primary.ablation, dataset)
        entries.append(
            _difference_entry(n, _paired(primary, runs, scores[primary.ablation]), records)
        )
    entries.append(
        entry(
            10,
            compare.INCONCLUSIVE,
            _claim10(),
            "computed from the models (studylib.face.parameter_table)",
        )
    )
    entries[-1].gate = NO_GATE
    return entries


@functools.lru_cache(maxsize=1)
def _claim10() -> str:
    """Claim 10's evidence; cached, since it builds the networks at the paper's size (seconds)
    and depends on the code only."""
    counts = face.parameter_table(
        face.configs(face.FaceConfig(), reduction_ratio.settings()), **face.PAPER_SCALE
    )
    adm, odn = counts.loc[papers.ADM_SETTING], counts.loc["odn"]
    return (
        f"Exact counts at the paper's size: the ADM's distillation module (r = 8) has "
        f"{adm['distillation']:,} parameters against {odn['distillation']:,} in our ODN module, "
        f"{adm['total']:,} against {odn['total']:,} in the whole network. Fewer, but our ODN "
        "feature pathway is a reconstruction (the paper does not give its layers), so the counts "
        "cannot confirm the paper's comparison."
    )


# ---------------------------------------------------------------------------------- the verdicts


def _decide(entries: list[Entry]) -> None:
    """Holm across the entries' p-values (the tested primary comparisons: run, past the gate),
    then each entry's verdict (:func:`studylib.compare.decide`)."""
    tested = [e for e in entries if e.verdict != NOT_RUN and e.cleared and np.isfinite(e.p_value)]
    for e, adjusted in zip(tested, stats.holm([e.p_value for e in tested])):
        e.p_holm = float(adjusted)
    for e in entries:
        if e.verdict == NOT_RUN or e.claim in (5, 10):  # own rules, already applied
            continue
        if not e.cleared:
            e.verdict = compare.NO_EVIDENCE
            e.evidence = "No evidence: models at floor. " + e.evidence
            continue
        log = e.claim == 3  # a ratio, tested on the log scale
        low, high, mde = np.log([e.low, e.high, e.mde]) if log else (e.low, e.high, e.mde)
        effect = None if not np.isfinite(e.paper_effect) else e.paper_effect
        e.verdict = compare.decide(
            low, high, e.expected, mde, effect=effect, p_adjusted=e.p_holm, alpha=ALPHA
        )
        if np.isfinite(e.p_holm):
            e.evidence += (
                f" p = {e.p_value:.2g}, Holm-adjusted over the ledger's {len(tested)} tested "
                f"primary comparisons: {e.p_holm:.2g}."
            )


def ledger(
    root: str | Path, pose_dataset: str = "synthetic", face_dataset: str | None = None
) -> pd.DataFrame:
    """Every claim, one row each (indexed by claim): paper, statement, the primary comparison
    with its difference, deciding interval (low, high), MDE, the paper's effect, p-value and
    Holm-adjusted p (p_holm), seeds needed to detect the paper's effect, verdict, gate,
    evidence, records. The pose claims come from ``pose_dataset``'s records, the face claims
    from ``face_dataset``'s (default: the same as the pose track's, for the synthetic data)."""
    face_dataset = face_dataset or pose_dataset
    entries = pose_claims(root, pose_dataset) + face_claims(root, face_dataset)
    _decide(entries)
    return pd.DataFrame([asdict(e) for e in entries]).set_index("claim")


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """How many claims got each verdict, per paper."""
    counts = pd.crosstab(table["paper"], table["verdict"])
    return counts.reindex(columns=[v for v in VERDICTS if v in counts.columns])


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The ledger's numbers as text, one row per claim: primary comparison, difference,
    deciding interval, MDE, the paper's effect, p (Holm), verdict, gate."""

    def number(value: float, spec: str) -> str:
        return format(value, spec) if np.isfinite(value) else "-"

    rows = {}
    for claim, row in table.iterrows():
        spec = row["number_format"]
        interval = (
            f"[{number(row['low'], spec)}, {number(row['high'], spec)}]"
            if np.isfinite(row["low"])
            else "-"
        )
        rows[claim] = {
            "primary comparison": row["primary"] or "-",
            "difference": number(row["difference"], spec),
            "deciding interval": interval,
            "MDE": number(row["mde"], spec.lstrip("+")),
            "paper's effect": number(row["paper_effect"], spec),
            "p (Holm)": number(row["p_holm"], ".2g"),
            "verdict": row["verdict"],
            "gate": row["gate"].split(":", 1)[0] if row["gate"] else "-",
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "claim"
    return out


def detectable(table: pd.DataFrame) -> str:
    """What the records' design can and cannot detect, as Markdown bullets: per claim with a
    minimum detectable effect, the MDE at the records' seeds, set beside the paper's effect and
    the seeds that would detect it; a claim whose models are at floor is flagged, since its MDE
    measures the scatter of models that learnt nothing."""
    lines = []
    for claim, row in table.iterrows():
        if not np.isfinite(row["mde"]) or not row["primary"]:
            continue
        spec = row["number_format"].lstrip("+")
        if claim == 3:
            size = f"a factor of {row['mde']:{spec}} either way"
        else:
            size = f"{row['mde']:{spec}} {row['unit']}"
        text = (
            f"**Claim {claim}** ({row['primary']}): with {row['seeds']:.0f} seeds the smallest "
            f"difference detectable with 80% power is {size}"
        )
        if np.isfinite(row["paper_effect"]):
            effect = f"{row['paper_effect']:{row['number_format']}}"
            if row["mde"] <= abs(row["paper_effect"]):
                text += f", below the paper's {effect}: the design can detect it"
            else:
                needed = row["seeds_needed"]
                more = (
                    f"about {needed:.0f} seeds would"
                    if np.isfinite(needed)
                    else "no number of seeds would on this test set (more test samples would)"
                )
                text += f", above the paper's {effect}: {more} detect it"
        else:
            text += "; the paper reports no size to set it beside"
        if not row["cleared"]:
            text += (
                ". Its models are at floor, so this is the scatter of models that learnt "
                "nothing, not the power of a profile that learns"
            )
        lines.append(f"- {text}.")
    return "\n".join(lines) if lines else "No comparison with a minimum detectable effect was run."


def exploratory(
    root: str | Path, pose_dataset: str = "synthetic", face_dataset: str | None = None
) -> pd.DataFrame:
    """The claims' other comparisons (per joint, per subset, other settings), labelled
    exploratory: the same numbers as the primary ones, uncorrected p-values, no verdict. One row
    per comparison: claim, comparison, difference, low, high (deciding interval), mde,
    paper_effect, p_value, gate."""
    face_dataset = face_dataset or pose_dataset
    pose_runs = _pose_runs(root, pose_dataset)
    sources = {"freezing": (pose_runs, _scores(pose_runs, "pose"))}
    for name, runs in _face_runs(root, face_dataset).items():
        sources[name] = (runs, _scores(runs, "face"))
    rows = []
    for number, claim in papers.CLAIMS.items():
        for comparison in claim.exploratory:
            runs, scores = sources[comparison.ablation]
            paired = _paired(comparison, runs, scores)
            if paired is None:
                continue
            row = paired.row
            rows.append(
                {
                    "claim": number,
                    "comparison": comparison.describe(paired.column) + " (exploratory)",
                    "difference": row["difference"],
                    "low": row["hier_low"],
                    "high": row["hier_high"],
                    "mde": row["mde"],
                    "paper_effect": np.nan if comparison.effect is None else comparison.effect,
                    "seeds_needed": _seeds_needed(row, comparison.effect),
                    "p_value": row["p_value"],
                    "gate": paired.gate.split(":", 1)[0],
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "claim",
            "comparison",
            "difference",
            "low",
            "high",
            "mde",
            "paper_effect",
            "seeds_needed",
            "p_value",
            "gate",
        ],
    )
