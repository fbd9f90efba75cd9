"""What every experiment is (:class:`Experiment`); each module of :mod:`studylib.experiments`
defines one as ``EXPERIMENT``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studylib.config import RunConfig, seeds_for
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
    #: Beyond what the papers' claims and the ledger need: the study command runs it only when
    #: asked (``--extras``, ``make study EXTRAS=1``) or named (``--only``).
    extra: bool = False

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
