"""The study's experiments: one entry each in :data:`EXPERIMENTS`, the registry that the study
command, its run pool and the tests read.

An experiment is a notebook (``notebooks/<name>.ipynb``), the folder its records go to
(``results/<ablation>/``), its track and, when it trains, its settings: a function from the
profile and the notebook's parameters to one config per setting. ``defaults`` are the notebook's
own default parameters (``tests/test_experiments.py`` checks them against the notebook), so that
the study plans exactly the runs the notebook would train (:meth:`Experiment.runs`). ``shared``
names settings that are another experiment's runs under the same config (trained there, linked
here). Adding an ablation is a module here with its settings and reading, its notebook, and a line
in :data:`EXPERIMENTS`; :mod:`studylib.experiments.heatmap_sigma` is one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studylib.config import FaceConfig, RunConfig, seeds_for
from studylib.plan import PlannedRun


@dataclass(frozen=True)
class Experiment:
    """One experiment of the study (see the module's docstring)."""

    name: str
    ablation: str
    track: str
    #: The notebook's default parameters that shape its settings (beyond the profile's config).
    defaults: dict[str, Any] = field(default_factory=dict)
    #: (profile, **parameters) -> {setting: config}; None for an experiment that trains nothing.
    settings: Callable[..., dict[str, RunConfig]] | None = None
    #: setting -> (ablation, setting) of the experiment that trains the same config.
    shared: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: Whether its notebook writes records of its own from trained models (robustness sweeps),
    #: which the study then forces to be made again.
    evaluates: bool = False
    #: Every setting's name in the order tables list them (a profile may run only some).
    order: Callable[[], list[str]] | None = None
    #: The settings the others are compared against, each in a table of paired differences.
    references: tuple[str, ...] = ()

    def configs(self, profile: str, **parameters: Any) -> dict[str, RunConfig]:
        """Each setting's config at ``profile`` with the notebook's parameters ``parameters``."""
        if self.settings is None:
            return {}
        return self.settings(profile, **{**self.defaults, **parameters})

    def runs(self, profile: str, seeds=None, **parameters: Any) -> list[PlannedRun]:
        """The runs the notebook trains itself: every setting it does not share, every seed."""
        configs = self.configs(profile, **parameters)
        return [
            PlannedRun(self.track, config.replace(seed=seed), self.ablation, setting)
            for setting, config in configs.items()
            if setting not in self.shared
            for seed in seeds_for(profile, seeds)
        ]

    def folder(self, root: str | Path, dataset: str = "synthetic") -> Path:
        return Path(root) / self.ablation / dataset

    def find_runs(self, root: str | Path, dataset: str = "synthetic") -> dict[str, list[Path]]:
        """The experiment's finished runs under ``root`` (a results folder) by setting, in
        :attr:`order` (settings it does not know after them, by name)."""
        from studylib import results

        order = self.order() if self.order else []
        return results.runs_by_setting(root, self.ablation, dataset, order)


def by_ablation(ablation: str) -> Experiment:
    """The experiment whose records are under ``results/<ablation>/``."""
    for experiment in EXPERIMENTS.values():
        if experiment.ablation == ablation:
            return experiment
    known = [e.ablation for e in EXPERIMENTS.values()]
    raise ValueError(f"no experiment records under {ablation!r}; known: {known}")


def _freezing_order() -> list[str]:
    from studylib import freezing

    return list(freezing.setting_overrides())


def _reduction_ratio_order() -> list[str]:
    from studylib import face

    return list(face.reduction_ratio_settings(pooling_ablation=True))


def _attention_order_order() -> list[str]:
    from studylib.config import ATTENTION_ORDERS

    return list(ATTENTION_ORDERS)


def _sigma_order() -> list[str]:
    from studylib.experiments import heatmap_sigma

    return [heatmap_sigma.setting_name(s) for s in heatmap_sigma.SIGMAS]


def _freezing(profile: str, *, settings=None, **parameters: Any) -> dict[str, RunConfig]:
    from studylib import freezing

    return freezing.configs(freezing.base_config(profile, **parameters), settings)


def _reduction_ratio(
    profile: str, *, reduction_ratios, pooling_ablation, **parameters: Any
) -> dict[str, RunConfig]:
    from studylib import face

    base = FaceConfig.from_profile(profile, **parameters)
    return face.configs(base, face.reduction_ratio_settings(reduction_ratios, pooling_ablation))


def _attention_order(
    profile: str, *, orders, reduction_ratio, **parameters: Any
) -> dict[str, RunConfig]:
    from studylib import face

    base = FaceConfig.from_profile(profile, **parameters)
    return face.configs(base, face.attention_order_settings(orders, reduction_ratio))


def _heatmap_sigma(profile: str, *, sigmas, **parameters: Any) -> dict[str, RunConfig]:
    from studylib.experiments import heatmap_sigma

    return heatmap_sigma.configs(profile, sigmas, **parameters)


EXPERIMENTS: dict[str, Experiment] = {
    experiment.name: experiment
    for experiment in (
        Experiment(
            "freezing_phases",
            "freezing",
            "pose",
            {"settings": None},
            settings=_freezing,
            order=_freezing_order,
            # ACNN's full schedule against the rest, and everything against no attention.
            references=("acnn-A-B-C", "no-attention"),
        ),
        Experiment(
            "reduction_ratio",
            "reduction_ratio",
            "face",
            {"reduction_ratios": [8, 16, 32, 64], "pooling_ablation": True},
            settings=_reduction_ratio,
            order=_reduction_ratio_order,
            # The paper's module at its ratio, and the ODN it extends.
            references=("adm-r8", "odn"),
        ),
        Experiment(
            "attention_order",
            "attention_order",
            "face",
            {
                "orders": [
                    "channel-spatial",
                    "spatial-channel",
                    "parallel",
                    "channel",
                    "spatial",
                    "none",
                ],
                "reduction_ratio": 8,
            },
            settings=_attention_order,
            order=_attention_order_order,
            references=("channel-spatial",),  # the paper's order
            # The paper's order at r = 8 is the reduction-ratio ablation's ADM at r = 8.
            shared={"channel-spatial": ("reduction_ratio", "adm-r8")},
        ),
        Experiment(
            "heatmap_sigma",
            "heatmap_sigma",
            "pose",
            {"sigmas": [1.0, 1.5, 2.0, 3.0]},
            settings=_heatmap_sigma,
            order=_sigma_order,
            references=("sigma-1",),  # the study's choice
            # sigma 1 is the hourglass of the freezing ablation's no-attention setting.
            shared={"sigma-1": ("freezing", "no-attention")},
        ),
        # These two train nothing of their own: the baseline is the freezing ablation's
        # no-attention hourglass, and the robustness sweeps score the ablations' trained models.
        Experiment("pose_baseline", "baseline", "pose"),
        Experiment("robustness", "robustness", "", evaluates=True),
    )
}
