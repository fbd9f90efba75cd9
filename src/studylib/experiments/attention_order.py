"""The attention-order ablation of the face paper (its Sec. 4.4, claim 8).

The attentioned distillation module at one reduction ratio with each order of CBAM's two gates
(:data:`studylib.config.ATTENTION_ORDERS`): channel then spatial (the paper's, and the
reduction-ratio ablation's ``adm-r8``, trained there once), spatial then channel, both in
parallel, one gate alone, and none. This module holds the settings and reads the records against
the paper's claim that channel then spatial is best.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from studylib import face
from studylib.config import ATTENTION_ORDERS, FaceConfig
from studylib.experiments.base import Experiment
from studylib.experiments.reduction_ratio import sentences
from studylib.papers import ADM_SETTING

ABLATION = "attention_order"


def settings(
    orders: Sequence[str] = ATTENTION_ORDERS, reduction_ratio: int = 8
) -> dict[str, dict[str, Any]]:
    """Setting name (the order) -> :class:`FaceConfig` overrides. ``orders`` may be the list or
    its string form (papermill's ``-p orders '["channel-spatial", "none"]'``)."""
    from studylib.params import names

    orders = names("orders", orders, ATTENTION_ORDERS)
    return {
        order: dict(variant="adm", attention_order=order, reduction_ratio=reduction_ratio)
        for order in orders
    }


def configs(
    profile: str, *, orders=ATTENTION_ORDERS, reduction_ratio: int = 8, **parameters: Any
) -> dict[str, FaceConfig]:
    """Each setting's config at ``profile`` with the notebook's other parameters on top."""
    base = FaceConfig.from_profile(profile, **parameters)
    return face.configs(base, settings(orders, reduction_ratio))


def reading(runs: dict[str, list[Path]], comparisons: dict[str, pd.DataFrame]) -> str:
    """The evidence of these records on claim 8, as Markdown sentences computed from the
    comparisons against ``channel-spatial`` (:func:`studylib.face.paired_nme`)."""
    orders = [n for n in runs if n in ATTENTION_ORDERS and n != "channel-spatial"]
    lines = sentences(comparisons, "channel-spatial", orders)
    if not lines:
        return ""
    return "**Claim 8, channel then spatial is the best order.**\n\n" + "\n".join(lines)


EXPERIMENT = Experiment(
    "attention_order",
    ABLATION,
    "face",
    {"orders": list(ATTENTION_ORDERS), "reduction_ratio": 8},
    settings=configs,
    order=lambda: list(ATTENTION_ORDERS),
    # The paper's order at r = 8 is the reduction-ratio ablation's ADM at r = 8.
    shared={"channel-spatial": ("reduction_ratio", ADM_SETTING)},
    references=("channel-spatial",),  # the paper's order
)
