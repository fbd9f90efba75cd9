"""The two papers' facts and the claims the ledger tests, each with its one primary comparison.

Every claim of the study's starting list (STUDY.md) is a :class:`Claim`. A claim that one
setting beats another has a :class:`Comparison`: the settings, the per-sample score column, the
sign the paper claims for (setting - reference) and the paper's reported effect in the same
units where the paper gives one. That comparison alone decides the claim's verdict; the others
listed in ``exploratory`` are shown beside it, labelled exploratory, and never decide.

Claims 2, 3, 5 and 10 are not differences between settings. Each keeps its own rule (its
``rule`` sentence; :mod:`studylib.ledger` applies it) and speaks the same verdicts.

What the papers report, read from their text (``papers/`` in the shared folder):

- ACNN, Table 1 (MPII, PCKh@0.5): Newell et al.'s 8-stack hourglass and ACNN's 4-stack network
  (:data:`ACNN_TABLE1`). ACNN - hourglass is +1.1 points on Total and +2.3 on the ankles
  ("our method improves the results on ankle by 2.3%", section 4). These are different networks
  (8 against 4 stacks), the only number the paper gives for what the masks add, so it serves as
  the effect to detect. The paper gives no number for phased against joint training (section
  3.3 argues it from the gradients), for the masks' selectivity or binarity, or for the
  gradient ratio.
- Attention-adaptive ODN: the text keeps no number of the ablations. The reduction ratio and
  the attention order are reported in words only (section IV.B: "We found that r = 8 is best",
  "better performance in sequence as channel attention and spatial attention"); the contents of
  Tables 1 and 2 (NRMSE x 1e-2 on 300-W common, full and challenging) did not survive in the text,
  whose only number is the method's 6.65 on the challenging subset (Table 2, section IV.B.2),
  with no ODN row beside it; the parameter counts are bar charts (Figures 13, 14). So claims 6-9
  carry no reported effect: their equivalence margin is the minimum detectable effect and
  "underpowered" cannot be judged for them (:func:`studylib.compare.decide`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from studylib.report import TABLE1_COLUMNS

ACNN = "ACNN"
FACE = "Attention-adaptive ODN"

#: ACNN's Table 1 (MPII test, PCKh@0.5), the two rows the paper compares; columns as
#: :data:`studylib.report.TABLE1_COLUMNS`.
ACNN_TABLE1 = {
    "Newell et al. (hourglass)": (98.2, 96.3, 91.2, 87.1, 90.1, 87.4, 83.6, 90.9),
    "Sun et al. (ACNN)": (98.5, 96.4, 92.5, 88.5, 91.6, 88.9, 85.9, 92.0),
}
#: The face paper's only reported number: its NRMSE (x 1e-2) on the 300-W challenging subset
#: (Table 2). No ODN value is printed beside it in the text.
FACE_CHALLENGING_NRMSE = 6.65


def acnn_effect(column: str) -> float:
    """ACNN - hourglass in Table 1, PCKh points, for one column (e.g. "Total": +1.1)."""
    index = TABLE1_COLUMNS.index(column)
    hourglass, acnn = ACNN_TABLE1.values()
    return round(acnn[index] - hourglass[index], 1)


@dataclass(frozen=True)
class Comparison:
    """One paired comparison: ``setting`` - ``reference`` on a per-sample score ``column``.

    ``columns`` lists the score columns in order of preference: the first one the records hold
    is used (a continuous metric added to newer records, with the older one as fallback); the
    ledger says which. ``expected`` is the sign of the difference the paper claims (NME: lower
    is better, so -1 for "lowers NME"). ``effect`` is the paper's reported difference in the
    same units and direction (None: not reported), ``source`` where it is printed.
    """

    ablation: str
    setting: str
    reference: str
    columns: tuple[str, ...]
    expected: int
    unit: str
    effect: float | None = None
    source: str = ""

    @property
    def column(self) -> str:
        return self.columns[0]

    def describe(self, column: str | None = None) -> str:
        return f"{self.setting} - {self.reference}, {column or self.column} ({self.unit})"


@dataclass(frozen=True)
class Claim:
    number: int
    paper: str
    statement: str
    track: str  # "pose" or "face"
    primary: Comparison | None = None
    exploratory: tuple[Comparison, ...] = field(default_factory=tuple)
    rule: str = ""  # for a claim that is not a difference: how its verdict is reached


PCKH = "points of PCKh@0.5"
AUC = "points of PCKh AUC"
MNE = "mean head-normalised error"
NME = "points of NME"


def _pose(setting, reference, columns, expected, **rest) -> Comparison:
    unit = {"Total": PCKH, "Ank.": PCKH, "AUC": AUC, "MNE": MNE}[columns[0]]
    return Comparison("freezing", setting, reference, tuple(columns), expected, unit, **rest)


def _face(ablation, setting, reference, column="nme", expected=-1) -> Comparison:
    return Comparison(ablation, setting, reference, (column,), expected, NME)


_TABLE1 = "ACNN Table 1 (MPII): ACNN - Newell et al.'s hourglass"

CLAIMS: dict[int, Claim] = {
    1: Claim(
        1,
        ACNN,
        "Attention masks improve PCKh over the same hourglass without them, most on the hard "
        "joints.",
        "pose",
        # PCKh@0.5 Total, because the paper's effect is in it (a margin and a power target).
        _pose(
            "acnn-A-B-C",
            "no-attention",
            ["Total"],
            +1,
            effect=acnn_effect("Total"),
            source=_TABLE1 + ", Total",
        ),
        (
            _pose(
                "acnn-A-B-C",
                "no-attention",
                ["Ank."],
                +1,
                effect=acnn_effect("Ank."),
                source=_TABLE1 + ", ankles",
            ),
            _pose("acnn-A-B-C", "no-attention", ["AUC"], +1),
            _pose("acnn-A-B-C", "no-attention", ["MNE"], -1),
        ),
    ),
    2: Claim(
        2,
        ACNN,
        "The masks of early stages discard the background and redundant body parts.",
        "pose",
        rule="The first mask's mean value on the person (near the skeleton) minus off it, per "
        "seed of acnn-A-B-C, with a Student-t interval over seeds: replicated when it lies above "
        "0 (Holm-adjusted), no effect within ±MDE when it lies inside ±MDE, not replicated when "
        "it lies below 0. With two stacks there is one mask, so 'early stages first' is not "
        "tested.",
    ),
    3: Claim(
        3,
        ACNN,
        "Mask gradients are much larger than heatmap gradients (the mask is replicated over the "
        "channels).",
        "pose",
        rule="In joint training (acnn-joint), the gradient at the mask tensors over that at the "
        "heatmap tensors, per element (grad_ratio_elem; older records: the RMS of the heads' "
        "parameter gradients, grad_ratio_rms), geometric mean over seeds with a Student-t "
        "interval on the log scale: replicated when it lies above 1 (Holm-adjusted), no effect "
        "within ±MDE when the log ratio lies inside ±MDE, not replicated when it lies below 1. "
        "The paper gives no size for 'much larger'.",
    ),
    4: Claim(
        4,
        ACNN,
        "Phased training (A, then B, then both) beats training both tasks together from the start.",
        "pose",
        # No reported effect: the continuous AUC is the more sensitive score (issue 11); records
        # that predate it fall back to PCKh@0.5.
        _pose("acnn-A-B-C", "acnn-joint", ["AUC", "Total"], +1),
        (_pose("acnn-A-B-C", "acnn-joint", ["Total"], +1),),
    ),
    5: Claim(
        5,
        ACNN,
        "The masks are binary.",
        "pose",
        rule="The paper's sigmoid (soft) mask M1 after A-B-C training, per seed. A mask that "
        "discards (< 0.5) under 1% or over 99% of the positions did not learn a selection "
        "(never moved from its start): its values say nothing about binarity, and such seeds are "
        "left out. Over the seeds whose mask moved (two at least): replicated when the lower "
        "95% bound of the share of values within 0.1 of 0 or 1 is at least 90%, not replicated "
        "when the upper bound is below 90%, else inconclusive; inconclusive too when fewer than "
        "two seeds' masks moved.",
    ),
    6: Claim(
        6,
        FACE,
        "The attentioned distillation module lowers NME over ODN, on all and on occluded faces.",
        "face",
        _face("reduction_ratio", "adm-r8", "odn"),
        (_face("reduction_ratio", "adm-r8", "odn", "nme_occluded"),),
    ),
    7: Claim(
        7,
        FACE,
        "r = 8 is the best reduction ratio of {8, 16, 32, 64}.",
        "face",
        # Against r = 16, CBAM's default and the nearest ratio: the choice the paper departs from.
        _face("reduction_ratio", "adm-r8", "adm-r16"),
        (
            _face("reduction_ratio", "adm-r8", "adm-r32"),
            _face("reduction_ratio", "adm-r8", "adm-r64"),
        ),
    ),
    8: Claim(
        8,
        FACE,
        "Channel then spatial attention is the best order.",
        "face",
        # Against the reversed order, the alternative the paper names.
        _face("attention_order", "channel-spatial", "spatial-channel"),
        tuple(
            _face("attention_order", "channel-spatial", other)
            for other in ("parallel", "channel", "spatial", "none")
        ),
    ),
    9: Claim(
        9,
        FACE,
        "Adding max-pooling to average-pooling in the channel attention helps.",
        "face",
        _face("reduction_ratio", "adm-r8", "adm-r8-avg"),
    ),
    10: Claim(
        10,
        FACE,
        "The attentioned module reduces the number of parameters compared with ODN.",
        "face",
        rule="Exact parameter counts of the two networks at the paper's size (no training, so "
        "no floor and no interval). Our ODN feature pathway is a reconstruction, so the counts "
        "cannot confirm the paper's bar charts: inconclusive whatever they say.",
    ),
}

#: The setting that stands for "the ADM" where a claim needs one (claim 6; chapters use it too).
ADM_SETTING = CLAIMS[6].primary.setting
