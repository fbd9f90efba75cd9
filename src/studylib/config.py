"""Run configurations: one frozen dataclass per run, built from a profile plus overrides.

A profile (``smoke``, ``quick``, ``full``) sets the scale of a run: input size, model width,
data size, epochs and seeds. A notebook builds its config with ``PoseConfig.from_profile(profile,
**overrides)``; overrides given as ``None`` (an unset papermill parameter) keep the profile's value.
Every field is checked when the config is made, so a bad parameter fails before any training,
with a message that names it.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any

PROFILES = ("smoke", "quick", "full")
DATASETS = ("synthetic", "lsp", "mpii", "300w")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Phase:
    """One training phase: which parameters train, whether masks are active, and its schedule.

    ``lr_drops`` are epochs counted from the phase's start at which the learning rate is
    divided by 10. ``train`` is "all", "heatmap" (ACNN task A) or "mask" (task B).
    """

    name: str
    epochs: int
    lr: float
    lr_drops: tuple[int, ...] = ()
    train: str = "all"
    masks: bool = True

    def lr_at(self, epoch_in_phase: int) -> float:
        return self.lr * 0.1 ** sum(epoch_in_phase >= drop for drop in self.lr_drops)


#: ACNN's phases (Sec. 3.3): epochs and learning-rate drops as fractions of the paper's 500
#: epochs (200 A, 200 B, 100 C), and each phase's rate relative to phase A's 5e-4.
ACNN_PHASES = {
    "A": dict(share=200, lr_factor=1.0, drops=(120 / 200, 170 / 200), train="heatmap", masks=False),
    "B": dict(share=200, lr_factor=0.5, drops=(120 / 200, 170 / 200), train="mask", masks=True),
    "C": dict(share=100, lr_factor=0.5, drops=(50 / 100, 70 / 100), train="all", masks=True),
}

#: Training schedules compared by the freezing-phases ablation. "joint" trains everything from
#: the start (with masks when the model has them) with phase A's rate and drops.
SCHEDULES = ("joint", "A-B-C", "A-B", "A-C")


def schedule_phases(schedule: str, epochs: int, lr: float) -> tuple[Phase, ...]:
    """Split ``epochs`` over a schedule's phases in the paper's proportions (each gets >= 1)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if schedule == "joint":
        drops = tuple(sorted({round(f * epochs) for f in ACNN_PHASES["A"]["drops"]}))
        return (Phase("joint", epochs, lr, drops, "all", True),)
    names = schedule.split("-")
    if epochs < len(names):
        raise ValueError(f"epochs must be >= {len(names)} for schedule {schedule!r}, got {epochs}")
    shares = [ACNN_PHASES[n]["share"] for n in names]
    counts = [max(1, round(epochs * s / sum(shares))) for s in shares]
    counts[0] += epochs - sum(counts)
    phases = []
    for name, count in zip(names, counts):
        spec = ACNN_PHASES[name]
        drops = tuple(sorted({round(f * count) for f in spec["drops"]} - {0}))
        phases.append(
            Phase(name, count, lr * spec["lr_factor"], drops, spec["train"], spec["masks"])
        )
    return tuple(phases)


#: Pose profiles. ``quick`` must fit the whole study (about 60 runs) in 30 minutes on a 2-core
#: CPU, so its runs are short: ~5,000 training images each, where the paper's schedule sees
#: 14 million. With so few steps the paper's RMSProp rate (5e-4) barely moves the network, so
#: quick runs at 2e-3 (measured: PCKh 12.6 vs 3.7 after 6 epochs); ``full`` uses the paper's rate.
POSE_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(
        image_size=64,
        num_stacks=2,
        features=16,
        num_train=32,
        num_test=16,
        epochs=2,
        batch_size=16,
        lr=2e-3,
    ),
    "quick": dict(
        image_size=64,
        num_stacks=2,
        features=32,
        num_train=800,
        num_test=300,
        epochs=6,
        batch_size=16,
        lr=2e-3,
    ),
    "full": dict(
        image_size=256,
        num_stacks=4,
        features=256,
        num_train=20000,
        num_test=2000,
        epochs=100,
        batch_size=16,
        lr=5e-4,
    ),
}

#: Training seeds each setting is run with, per profile (the data seed stays fixed, so every
#: seed of every setting is scored on the same test images and comparisons can be paired).
PROFILE_SEEDS: dict[str, tuple[int, ...]] = {"smoke": (0,), "quick": (0, 1, 2), "full": (0, 1, 2)}


def seeds_for(profile: str, seeds=None) -> tuple[int, ...]:
    """The seeds to run: ``seeds`` if given (a notebook parameter), else the profile's."""
    _check_choice("profile", profile, PROFILES)
    chosen = tuple(PROFILE_SEEDS[profile] if seeds is None else seeds)
    if not chosen or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in chosen
    ):
        raise ValueError(f"seeds must be a non-empty list of integers >= 0, got {seeds!r}")
    return chosen


@dataclass(frozen=True)
class PoseConfig:
    """Everything that defines one pose run (the record's ``config.json``)."""

    profile: str = "quick"
    dataset: str = "synthetic"
    seed: int = 0
    data_seed: int = 0
    image_size: int = 64
    num_train: int = 1200
    num_test: int = 300
    synth: dict = field(default_factory=dict)
    num_stacks: int = 2
    features: int = 64
    attention: str | None = None
    mask: str = "soft"
    schedule: str = "joint"
    epochs: int = 10
    batch_size: int = 16
    lr: float = 5e-4
    sigma: float = 1.0
    augment: dict = field(default_factory=dict)
    flip_test: bool = True
    device: str = "auto"
    amp: bool = True

    def __post_init__(self) -> None:
        check_types(self)
        _check_choice("profile", self.profile, PROFILES)
        _check_choice("dataset", self.dataset, DATASETS)
        _check_choice("device", self.device, DEVICES)
        _check_choice("attention", self.attention, (None, "acnn"))
        _check_choice("mask", self.mask, ("soft", "hard"))
        for name in (
            "image_size",
            "num_train",
            "num_test",
            "num_stacks",
            "features",
            "epochs",
            "batch_size",
        ):
            _check_positive(name, getattr(self, name))
        _check_positive("lr", self.lr)
        _check_positive("sigma", self.sigma)
        if self.image_size % 64:
            raise ValueError(
                f"image_size must be a multiple of 64 (stem stride 4 x four hourglass poolings), "
                f"got {self.image_size}"
            )
        if self.seed < 0 or self.data_seed < 0:
            raise ValueError(f"seed and data_seed must be >= 0, got {self.seed}, {self.data_seed}")
        if self.attention is None and self.schedule not in ("joint",):
            raise ValueError(
                f"schedule {self.schedule!r} trains attention masks; a model without attention "
                "only has the 'joint' schedule"
            )
        self.phases()

    @classmethod
    def from_profile(cls, profile: str, **overrides: Any) -> PoseConfig:
        """The profile's settings with ``overrides`` on top (``None`` keeps the profile's value)."""
        _check_choice("profile", profile, PROFILES)
        return _build(cls, {**POSE_PROFILES[profile], "profile": profile}, overrides)

    def phases(self) -> tuple[Phase, ...]:
        return schedule_phases(self.schedule, self.epochs, self.lr)

    def replace(self, **changes: Any) -> PoseConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _build(cls, base: dict[str, Any], overrides: dict[str, Any]):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} parameter(s) {unknown}; valid: {sorted(names)}")
    values = {**base, **{k: v for k, v in overrides.items() if v is not None}}
    return cls(**values)


def _check_choice(name: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def _check_positive(name: str, value: float) -> None:
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


def check_types(config: Any) -> None:
    """Raise TypeError naming any field whose value does not match its annotation.

    Catches a notebook parameter of the wrong type (e.g. ``epochs="10"``) before it fails deep
    inside training. ints are accepted where floats are expected; bools are not ints here.
    """
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if not _matches(value, hints[f.name]):
            raise TypeError(
                f"{type(config).__name__}.{f.name} must be {_describe(hints[f.name])}, "
                f"got {value!r} ({type(value).__name__})"
            )


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return isinstance(value, tuple) and all(_matches(v, item) for v in value)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin or hint)


def _describe(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
