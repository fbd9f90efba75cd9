"""The claims ledger: each claim of the two papers with a verdict computed from the run records.

A verdict is one of :data:`VERDICTS`. For a difference between two settings scored on the same
test samples it is :func:`studylib.compare.verdict`: "replicated" when the paired bootstrap
interval over test samples *and* the interval over training seeds lie on the paper's side of 0,
"not replicated" when both lie on the other side, "inconclusive" otherwise (one seed included).
Claims that are not a difference state their own rule in their evidence. A claim whose records
are missing is "not run". Every entry names the records it read (ablation, dataset, profile,
seeds), so a verdict is always scoped: at the quick profile on synthetic data it says what the
mechanism does at that scale, not what the paper measured on MPII or 300-W.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from studylib import compare, face, freezing, pose, results, stats

VERDICTS = ("replicated", "not replicated", "inconclusive", "not run")

#: The claims (STUDY.md's starting list): number -> (paper, statement).
CLAIMS: dict[int, tuple[str, str]] = {
    1: (
        "ACNN",
        "Attention masks improve PCKh over the same hourglass without them, most on the hard "
        "joints.",
    ),
    2: ("ACNN", "The masks of early stages discard the background and redundant body parts."),
    3: (
        "ACNN",
        "Mask gradients are much larger than heatmap gradients (the mask is replicated over the "
        "channels).",
    ),
    4: (
        "ACNN",
        "Phased training (A, then B, then both) beats training both tasks together from the start.",
    ),
    5: ("ACNN", "The masks are binary."),
    6: (
        "Attention-adaptive ODN",
        "The attentioned distillation module lowers NME over ODN, on all and on occluded faces.",
    ),
    7: ("Attention-adaptive ODN", "r = 8 is the best reduction ratio of {8, 16, 32, 64}."),
    8: ("Attention-adaptive ODN", "Channel then spatial attention is the best order."),
    9: (
        "Attention-adaptive ODN",
        "Adding max-pooling to average-pooling in the channel attention helps.",
    ),
    10: (
        "Attention-adaptive ODN",
        "The attentioned module reduces the number of parameters compared with ODN.",
    ),
}
#: Claim 5's rule: a mask is called binary when at least this share of its values (%) lies
#: within 0.1 of 0 or 1 (the lower end of the seed interval) and it discards something.
BINARY_SHARE_PCT = 90.0
_SIDE_VERDICT = {1: "replicated", -1: "not replicated", 0: "inconclusive"}
NOT_RUN = "The settings this claim compares were not run."


@dataclass
class Entry:
    """One row of the ledger."""

    claim: int
    paper: str
    statement: str
    verdict: str
    evidence: str
    records: str


def entry(claim: int, verdict: str, evidence: str, records: str) -> Entry:
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
    paper, statement = CLAIMS[claim]
    return Entry(claim, paper, statement, verdict, evidence, records)


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


def from_differences(
    differences: pd.DataFrame | None,
    rows: Sequence[tuple[str, str]],
    expected: int,
    wording: dict,
) -> tuple[str, str]:
    """Verdict and evidence over (setting, column) differences that the claim says all have sign
    ``expected``: replicated if every one is, not replicated if any is resolved the other way on
    both intervals, else inconclusive; "not run" if none of them was run."""
    if differences is None or differences.empty:
        return "not run", NOT_RUN
    indexed = differences.set_index(["setting", "column"], drop=False)
    # A column the data cannot score (no occlusion labels on 300-W) is left out.
    present = [
        key for key in rows if key in indexed.index and np.isfinite(indexed.loc[key, "difference"])
    ]
    if not present:
        return "not run", NOT_RUN
    verdicts = [compare.verdict(indexed.loc[key], expected) for key in present]
    if all(v == "replicated" for v in verdicts):
        verdict = "replicated"
    elif "contradicted" in verdicts:
        verdict = "not replicated"
    else:
        verdict = "inconclusive"
    return verdict, " ".join(compare.describe(indexed.loc[key], **wording) for key in present)


def _upper(interval: stats.Interval) -> float:
    return interval.high if np.isfinite(interval.high) else interval.estimate


# ----------------------------------------------------------------------------------------- pose


def pose_claims(root: str | Path, dataset: str = "synthetic") -> list[Entry]:
    """ACNN's claims 1-5 from the freezing-phases ablation's records."""
    runs = freezing.find_runs(root, dataset)
    records = scope(runs, freezing.ABLATION, dataset)
    if not runs:
        return [entry(n, "not run", NOT_RUN, records) for n in range(1, 6)]
    folders = [f for fs in runs.values() for f in fs]

    def versus(against: str) -> pd.DataFrame | None:
        return pose.paired_pckh(folders, against) if against in runs and len(runs) > 1 else None

    vs_baseline, vs_reference = versus("no-attention"), versus("acnn-A-B-C")
    masks = freezing.mask_statistics_frame(folders)
    soft = masks[(masks["setting"] == "acnn-A-B-C") & (masks["mask"] == "M1")]

    verdict, evidence = from_differences(
        vs_baseline, [("acnn-A-B-C", "Total")], +1, pose.PCKH_WORDING
    )
    if verdict != "not run":
        ankle = vs_baseline.set_index(["setting", "column"]).loc[("acnn-A-B-C", "Ank.")]
        reported = freezing.paper_table1().iloc[-1]  # ACNN - hourglass, as the paper reports
        evidence += (
            f" On the ankles: {ankle['difference']:+.1f} points, 95% interval "
            f"{ankle['low']:+.1f} to {ankle['high']:+.1f} (reported on MPII: "
            f"{reported['Total']:+.1f} Total, {reported['Ank.']:+.1f} ankles)."
        )
    entries = [entry(1, verdict, evidence, records)]
    entries.append(entry(2, *_claim2(soft), records))
    entries.append(entry(3, *_claim3(freezing.gradient_summary(folders)), records))
    verdict, evidence = from_differences(
        vs_reference, [("acnn-joint", "Total")], -1, pose.PCKH_WORDING
    )
    entries.append(entry(4, verdict, evidence, records))
    entries.append(entry(5, *_claim5(soft), records))
    return entries


def _claim2(soft: pd.DataFrame) -> tuple[str, str]:
    contrast = freezing.person_contrast(soft)
    if not contrast.n:
        return "not run", "No record of acnn-A-B-C holds its mask on and off the person."
    verdict = _SIDE_VERDICT[compare.side(contrast.low, contrast.high)]
    return verdict, (
        "The first mask's mean value on the person (near the skeleton, at a joint-scaled "
        f"distance) minus off it, over {contrast.n} seeds: {contrast.estimate:+.3f}, 95% "
        f"interval {contrast.low:+.3f} to {contrast.high:+.3f}. Replicated when the interval "
        "lies above 0. With two stacks there is one mask, so 'early stages first' is not tested."
    )


def _claim3(gradients: pd.DataFrame) -> tuple[str, str]:
    joint = gradients[
        (gradients["setting"] == "acnn-joint") & (gradients["quantity"] == "grad_ratio_rms")
    ]
    if joint.empty:
        return "not run", "No record of acnn-joint holds gradient norms."
    row = joint.iloc[0]
    resolved = np.isfinite(row["high"] - row["low"])
    verdict = _SIDE_VERDICT[
        compare.side(np.log(row["low"]), np.log(row["high"])) if resolved else 0
    ]
    return verdict, (
        "In joint training (both parts learn from the same loss), the mask heads' gradient RMS "
        f"per parameter over the heatmap network's: geometric mean {row['mean']:.3g}, 95% "
        f"interval {row['low']:.3g} to {row['high']:.3g} over {row['n']} seeds. Replicated when "
        "the interval lies above 1, not replicated when it lies below."
    )


def _claim5(soft: pd.DataFrame) -> tuple[str, str]:
    if soft.empty:
        return "not run", "No record of acnn-A-B-C holds mask statistics."
    near = stats.mean_ci(soft["near_binary_pct"])
    discarded = stats.mean_ci(soft["discarded_pct"])
    low = near.low if np.isfinite(near.low) else near.estimate
    discards = _upper(discarded) >= 1
    if near.n > 1 and low >= BINARY_SHARE_PCT and discards:
        verdict = "replicated"
    elif _upper(near) < BINARY_SHARE_PCT or not discards:
        verdict = "not replicated"
    else:
        verdict = "inconclusive"
    return verdict, (
        f"The paper's sigmoid (soft) mask M1 after A-B-C training: {near.format(1)}% of its "
        f"values within 0.1 of 0 or 1 and {discarded.format(1)}% below 0.5 (mean ± 95% interval "
        f"over {near.n} seeds). Called binary when at least {BINARY_SHARE_PCT:.0f}% of the values "
        "are near 0 or 1 and the mask discards something (at least 1% below 0.5)."
    )


# ----------------------------------------------------------------------------------------- face


def face_claims(root: str | Path, dataset: str = "synthetic") -> list[Entry]:
    """The face paper's claims 6-10 from the reduction-ratio and attention-order records."""
    rr = results.runs_by_setting(root, "reduction_ratio", dataset, face.reduction_ratio_settings())
    ao = results.runs_by_setting(root, "attention_order", dataset, face.attention_order_settings())
    rr_records = scope(rr, "reduction_ratio", dataset)
    ao_records = scope(ao, "attention_order", dataset)

    def versus(runs: dict[str, list[Path]], against: str) -> pd.DataFrame | None:
        if against not in runs or len(runs) < 2:
            return None
        return face.paired_nme([f for fs in runs.values() for f in fs], against)

    vs_odn, vs_r8, vs_order = versus(rr, "odn"), versus(rr, "adm-r8"), versus(ao, "channel-spatial")
    ratios = [s for s in rr if s.startswith("adm-r") and s != "adm-r8" and not s.endswith("-avg")]
    pooled = [s for s in rr if s.endswith("-avg")]
    wording = face.NME_WORDING
    occluded = [("adm-r8", "nme"), ("adm-r8", "nme_occluded")]
    return [
        entry(6, *from_differences(vs_odn, occluded, -1, wording), rr_records),
        entry(7, *from_differences(vs_r8, [(s, "nme") for s in ratios], +1, wording), rr_records),
        entry(
            8,
            *from_differences(
                vs_order, [(s, "nme") for s in ao if s != "channel-spatial"], +1, wording
            ),
            ao_records,
        ),
        entry(9, *from_differences(vs_r8, [(s, "nme") for s in pooled], +1, wording), rr_records),
        entry(10, *_claim10(), "computed from the models (studylib.face.parameter_table)"),
    ]


def _claim10() -> tuple[str, str]:
    counts = face.parameter_table(
        face.configs(face.FaceConfig(), face.reduction_ratio_settings()), **face.PAPER_SCALE
    )
    adm, odn = counts.loc["adm-r8"], counts.loc["odn"]
    return "inconclusive", (
        f"Exact counts at the paper's size: the ADM's distillation module (r = 8) has "
        f"{adm['distillation']:,} parameters against {odn['distillation']:,} in our ODN module, "
        f"{adm['total']:,} against {odn['total']:,} in the whole network. Fewer, but our ODN "
        "feature pathway is a reconstruction (the paper does not give its layers), so the counts "
        "cannot confirm the paper's comparison."
    )


# ---------------------------------------------------------------------------------------- table


def ledger(
    root: str | Path, pose_dataset: str = "synthetic", face_dataset: str | None = None
) -> pd.DataFrame:
    """Every claim, one row each (indexed by claim): paper, statement, verdict, evidence,
    records; the pose claims from ``pose_dataset``'s records, the face claims from
    ``face_dataset``'s (default: the same as the pose track's, for the synthetic data)."""
    face_dataset = face_dataset or pose_dataset
    entries = pose_claims(root, pose_dataset) + face_claims(root, face_dataset)
    return pd.DataFrame([asdict(e) for e in entries]).set_index("claim")


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """How many claims got each verdict, per paper."""
    counts = pd.crosstab(table["paper"], table["verdict"])
    return counts.reindex(columns=[v for v in VERDICTS if v in counts.columns])
