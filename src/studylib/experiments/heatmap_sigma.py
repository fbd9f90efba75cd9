"""The heatmap sigma ablation (pose): how wide the Gaussian targets should be.

Not a claim of either paper, but a choice every heatmap regressor makes and both papers leave at
their references' value: Newell et al. (and ACNN after them) render each joint as a Gaussian of
sigma 1 heatmap pixel on 64 x 64 heatmaps. A wider target gives every prediction near the joint a
gradient (faster learning, a smoother loss) but a flatter peak whose argmax can drift; a narrow one
is precise but sparse. Each setting is the freezing ablation's hourglass without attention, with
one sigma; sigma 1 is that very run (trained once, linked here). The floor changes with sigma only
in its constant-heatmap loss; PCKh's floor is the constant pose's, the same for every setting.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from studylib import compare, floors, pose, results
from studylib.config import PoseConfig
from studylib.experiments.base import Experiment
from studylib.io import read_json
from studylib.params import literal

ABLATION = "heatmap_sigma"
#: The sigmas of the notebook's default (heatmap pixels); the first is the reference.
SIGMAS = (1.0, 1.5, 2.0, 3.0)


def setting_name(sigma: float) -> str:
    return f"sigma-{sigma:g}"


def configs(
    profile: str, sigmas: Sequence[float] = SIGMAS, **overrides: Any
) -> dict[str, PoseConfig]:
    """``sigma-<s>``: the freezing ablation's no-attention config at ``profile`` (with
    ``overrides``) and heatmap sigma ``s``. ``sigmas`` may be the list or its string form
    (papermill's ``-p sigmas "[1, 2]"``)."""
    from studylib.experiments import freezing

    sigmas = literal(
        "sigmas",
        sigmas,
        "a non-empty list of numbers > 0",
        valid=lambda values: (
            bool(values)
            and all(
                isinstance(s, (int, float)) and not isinstance(s, bool) and s > 0 for s in values
            )
        ),
    )
    base = freezing.configs(freezing.base_config(profile, **overrides), ["no-attention"])
    hourglass = base["no-attention"]
    return {setting_name(float(s)): hourglass.replace(sigma=float(s)) for s in sigmas}


def setting_table(configs: dict[str, PoseConfig]) -> pd.DataFrame:
    """One row per setting: its sigma and what every setting shares (heatmap side, network,
    epochs, batch)."""
    rows = {
        name: {
            "sigma (heatmap px)": c.sigma,
            "heatmap side (px)": c.image_size // 4,
            "stacks x features": f"{c.num_stacks} x {c.features}",
            "epochs": c.epochs,
            "batch": c.batch_size,
        }
        for name, c in configs.items()
    }
    return pd.DataFrame(rows).T


def reading(runs: dict[str, list[Path]], differences: pd.DataFrame, reference: str) -> str:
    """A sentence per sigma on its PCKh Total against ``reference`` (:func:`paired_pckh`'s
    rows), or "no evidence" where a run of the pair did not clear the learning gate."""
    lines = []
    for setting in runs:
        if setting == reference:
            continue
        records = [
            {**read_json(folder / "metrics.json"), **results.run_keys(folder)}
            for pair in (setting, reference)
            for folder in runs.get(pair, [])
        ]
        passed, why = floors.gate(records)
        if not passed:
            lines.append(f"- {setting} vs {reference}: {floors.NO_EVIDENCE} ({why}).")
            continue
        row = differences[(differences["setting"] == setting) & (differences["column"] == "Total")]
        if row.empty:
            continue
        lines.append(f"- {compare.describe(row.iloc[0], **pose.PCKH_WORDING)}")
    return "\n".join(lines) if lines else "No sigma besides the reference was run."


EXPERIMENT = Experiment(
    "heatmap_sigma",
    ABLATION,
    "pose",
    {"sigmas": list(SIGMAS)},
    settings=configs,
    order=lambda: [setting_name(s) for s in SIGMAS],
    # sigma 1 is the hourglass of the freezing ablation's no-attention setting.
    shared={"sigma-1": ("freezing", "no-attention")},
    references=("sigma-1",),  # the study's choice
    # Not one of the papers' claims: its 9 pose runs would double the study's time on a CPU.
    extra=True,
)
