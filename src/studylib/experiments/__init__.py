"""The study's experiments: one module each, registered in :data:`EXPERIMENTS`, the registry that
the study command, its run pool, the chapters, the ledger and the tests read.

An experiment is a notebook (``notebooks/<name>.ipynb``), the folder its records go to
(``results/<ablation>/``), its track and, when it trains, its settings: a function from the
profile and the notebook's parameters to one config per setting
(:class:`~studylib.experiments.base.Experiment`). Each module holds what differs for its
experiment (its settings, the analyses of its records and its reading) and defines its
``EXPERIMENT``; ``defaults`` are the notebook's own default parameters
(``tests/test_experiments.py`` checks them against the notebook), so that the study plans exactly
the runs the notebook would train. Adding an ablation is a module here, its notebook, and a line
in :data:`EXPERIMENTS`; :mod:`studylib.experiments.heatmap_sigma` is one.
"""

from __future__ import annotations

from studylib.experiments import (
    attention_order,
    baseline,
    freezing,
    heatmap_sigma,
    reduction_ratio,
    robustness,
)
from studylib.experiments.base import Experiment

__all__ = ["EXPERIMENTS", "Experiment", "by_ablation"]

#: Every experiment by name, in the order the study runs their notebooks.
EXPERIMENTS: dict[str, Experiment] = {
    module.EXPERIMENT.name: module.EXPERIMENT
    for module in (
        freezing,
        reduction_ratio,
        attention_order,
        heatmap_sigma,
        baseline,
        robustness,
    )
}


def by_ablation(ablation: str) -> Experiment:
    """The experiment whose records are under ``results/<ablation>/``."""
    for experiment in EXPERIMENTS.values():
        if experiment.ablation == ablation:
            return experiment
    known = [e.ablation for e in EXPERIMENTS.values()]
    raise ValueError(f"no experiment records under {ablation!r}; known: {known}")
