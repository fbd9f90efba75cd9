"""The reduction-ratio ablation of the face paper (its Sec. 4.4, claims 6, 7, 9 and 10).

ResNet-18 with a pooled linear head (``resnet``), ODN's plain distillation (``odn``), and the
attentioned distillation module (ADM) in the paper's channel-then-spatial order at each reduction
ratio r of the channel gate (``adm-r<r>``); ``adm-r<r>-avg`` is the first ratio's ADM with ODN's
average-pooled channel gate only. The paper reports r = 8 as best and the ADM as better and
smaller than ODN; this module holds the settings and reads the records against those claims.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from studylib import compare, face
from studylib.config import FaceConfig
from studylib.experiments.base import Experiment
from studylib.papers import ADM_SETTING

ABLATION = "reduction_ratio"
#: The notebook's default ratios.
RATIOS = (8, 16, 32, 64)


def settings(
    ratios: Sequence[int] = RATIOS, pooling_ablation: bool = False
) -> dict[str, dict[str, Any]]:
    """Setting name -> :class:`FaceConfig` overrides, in table order. ``pooling_ablation`` adds
    ``adm-r<r>-avg``, the first ratio's ADM with an average-pooled channel gate only: ODN's
    pooling, which the paper says adding max-pooling improves (claim 9). ``ratios`` may be the
    list or its string form (papermill's ``-p reduction_ratios "[8, 16]"``).
    """
    from studylib.params import is_int, literal

    ratios = literal(
        "reduction_ratios",
        ratios,
        "a non-empty list of integers > 0",
        valid=lambda values: bool(values) and all(is_int(r) and r > 0 for r in values),
    )
    table: dict[str, dict[str, Any]] = {
        "resnet": dict(variant="resnet"),
        "odn": dict(variant="odn"),
    }
    for r in ratios:
        table[f"adm-r{r}"] = dict(
            variant="adm", attention_order="channel-spatial", reduction_ratio=r
        )
    if pooling_ablation:
        table[f"adm-r{ratios[0]}-avg"] = dict(
            variant="adm",
            attention_order="channel-spatial",
            reduction_ratio=ratios[0],
            channel_pooling=("avg",),
        )
    return table


def configs(
    profile: str, *, reduction_ratios=RATIOS, pooling_ablation: bool = True, **parameters: Any
) -> dict[str, FaceConfig]:
    """Each setting's config at ``profile`` with the notebook's other parameters on top."""
    base = FaceConfig.from_profile(profile, **parameters)
    return face.configs(base, settings(reduction_ratios, pooling_ablation))


def sentences(
    comparisons: dict[str, pd.DataFrame], against: str, names: Iterable[str], columns=("nme",)
) -> list[str]:
    """:func:`studylib.compare.sentences` on NME differences against ``against``."""
    return compare.sentences(comparisons.get(against), names, columns, **face.NME_WORDING)


def reading(
    runs: dict[str, list[Path]],
    comparisons: dict[str, pd.DataFrame],
    parameters: pd.DataFrame | None = None,
) -> str:
    """The evidence of these records on claims 6, 7, 9 and 10, as Markdown sentences computed
    from the comparisons (:func:`studylib.face.paired_nme`, keyed by the setting compared
    against) and a :func:`studylib.face.parameter_table`; a comparison whose settings were not
    run is left out."""
    names = list(runs)
    ratios = [n for n in names if n.startswith("adm-r") and not n.endswith("-avg")]
    pooled = [n for n in names if n.endswith("-avg")]
    parts = {
        "Claim 6, the attentioned distillation module lowers NME over ODN (all landmarks, "
        "then occluded ones)": sentences(
            comparisons, "odn", [n for n in ratios if n == ADM_SETTING], ("nme", "nme_occluded")
        ),
        "Claim 7, r = 8 is the best of {8, 16, 32, 64}": sentences(
            comparisons, ADM_SETTING, [n for n in ratios if n != ADM_SETTING]
        ),
        "Claim 9, adding max-pooling to average-pooling in the channel gate helps (the "
        "average-pooled gate against the paper's)": sentences(comparisons, ADM_SETTING, pooled),
    }
    if parameters is not None and {"odn"} <= set(parameters.index):
        parts[
            "Claim 10, the change reduces the number of parameters against ODN (exact counts; "
            "our ODN pathway is a reconstruction)"
        ] = parameter_sentences(parameters, [*ratios, "channel-spatial"])
    return "\n\n".join(
        f"**{title}.**\n\n" + "\n".join(lines) for title, lines in parts.items() if lines
    )


def parameter_sentences(parameters: pd.DataFrame, names: Iterable[str]) -> list[str]:
    """Each named ADM's distillation-module and total parameters against ODN's (claim 10)."""
    odn = parameters.loc["odn"]
    return [
        f"- {name}: {row['distillation']:,} distillation-module parameters against ODN's "
        f"{odn['distillation']:,} ({_relative(row['distillation'], odn['distillation'])}); "
        f"{row['total']:,} in total against {odn['total']:,} "
        f"({_relative(row['total'], odn['total'])})."
        for name, row in parameters.iterrows()
        if name in set(names)
    ]


def _relative(value: int, reference: int) -> str:
    change = 100 * (value - reference) / reference
    return f"{abs(change):.1f}% {'fewer' if change < 0 else 'more'}"


EXPERIMENT = Experiment(
    "reduction_ratio",
    ABLATION,
    "face",
    {"reduction_ratios": list(RATIOS), "pooling_ablation": True},
    settings=configs,
    order=lambda: list(settings(pooling_ablation=True)),
    # The paper's module at its ratio, and the ODN it extends.
    references=(ADM_SETTING, "odn"),
)
