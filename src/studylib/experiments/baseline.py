"""The pose baseline: the stacked hourglass without attention on the synthetic figures.

It trains nothing of its own: its runs are the freezing ablation's ``no-attention`` setting
(:mod:`studylib.experiments.freezing`), which its notebook links under ``results/baseline/``.
"""

from __future__ import annotations

from studylib.experiments.base import Experiment

ABLATION = "baseline"

EXPERIMENT = Experiment("pose_baseline", ABLATION, "pose")
