"""Run configurations: one frozen dataclass per run, built from a profile plus overrides.

A profile (``smoke``, ``quick``, ``gpu``, ``full``) sets the scale of a run: input size, model
width, data size, epochs and seeds. ``channels_last`` (default: on CUDA only) and ``compile``
(``torch.compile`` the training steps) change how fast a run trains and how it rounds, not the
model, the data or the schedule (the layout a run used is in its provenance).
A notebook builds its config with ``PoseConfig.from_profile(profile, **overrides)``; overrides
given as ``None`` (an unset papermill parameter) keep the profile's value. Every field is
checked when the config is made, so a bad parameter fails before any training, with a message
that names it.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROFILES = ("smoke", "quick", "gpu", "full")
#: Datasets a pose run trains and tests on: the built-in synthetic figures and LSP (+ LSPET).
#: MPII has no training labels here (only its validation ground truth): it is an evaluation check.
POSE_DATASETS = ("synthetic", "lsp")
DEVICES = ("auto", "cpu", "cuda")
#: "rmsprop" is the ACNN paper's; "adam" is offered because short CPU budgets may favour it.
OPTIMIZERS = ("rmsprop", "adam")


#: Where a phase divides its rate by 10, as shares of its steps (unless a config says otherwise).
LR_DROPS = (0.6, 0.85)


def check_lr_drops(lr_drops: tuple[float, ...]) -> None:
    if not all(0 < d < 1 for d in lr_drops) or list(lr_drops) != sorted(set(lr_drops)):
        raise ValueError(
            f"lr_drops must be increasing shares of a phase's steps, each in (0, 1), "
            f"got {lr_drops!r}"
        )


@dataclass(frozen=True)
class Phase:
    """One training phase: which parameters train, whether masks are active, and its schedule.

    The rate warms up linearly over the first ``warmup`` share of the phase's steps (from a tenth
    of ``lr``) and is divided by 10 at each of ``lr_drops``, shares of the phase's steps: every
    phase anneals before it ends, whatever its length, and a phase's fresh optimizer (its
    parameters differ from the last phase's) does not start with a full-size step, which RMSProp's
    empty square average would otherwise make about ten times the nominal rate.
    ``train`` is "all", "heatmap" (ACNN task A) or "mask" (task B).
    """

    name: str
    epochs: int
    lr: float
    lr_drops: tuple[float, ...] = LR_DROPS
    train: str = "all"
    masks: bool = True
    warmup: float = 0.05

    def lr_at(self, progress: float) -> float:
        """The rate at ``progress`` in [0, 1), the share of the phase's steps already taken."""
        scale = 0.1 ** sum(progress >= drop for drop in self.lr_drops)
        if self.warmup > 0 and progress < self.warmup:
            scale *= 0.1 + 0.9 * progress / self.warmup
        return self.lr * scale


#: ACNN's phases (Sec. 3.3): A trains the heatmap network with the masks held at ones, B the
#: mask heads with the heatmap network frozen, C both; each phase's rate relative to A's. The
#: paper's epochs (200 A, 200 B, 100 C) are not kept as shares of one budget: that would give a
#: phased schedule fewer heatmap updates than joint training and confound the schedule with the
#: budget. Instead every schedule gives the heatmap network the same ``epochs`` (A and C share
#: them 2:1, as the paper's 200:100) and phase B adds ``mask_epochs`` on top.
ACNN_PHASES = {
    "A": dict(lr_factor=1.0, train="heatmap", masks=False),
    "B": dict(lr_factor=0.5, train="mask", masks=True),
    "C": dict(lr_factor=0.5, train="all", masks=True),
}
#: The share of the heatmap network's epochs that phase C takes when A and C both run.
C_SHARE = 100 / 300

#: Training schedules compared by the freezing-phases ablation. "joint" trains everything from
#: the start (with masks when the model has them) at phase A's rate.
SCHEDULES = ("joint", "A-B-C", "A-B", "A-C")


def schedule_phases(
    schedule: str,
    epochs: int,
    lr: float,
    mask_epochs: int | None = None,
    lr_drops: tuple[float, ...] = LR_DROPS,
) -> tuple[Phase, ...]:
    """The phases of a schedule: the heatmap network trains for ``epochs`` in every schedule
    (split 2:1 between A and C when both run), phase B adds ``mask_epochs`` (default: a quarter
    of ``epochs``, at least one); each phase divides its rate by 10 at ``lr_drops``."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    check_lr_drops(lr_drops)
    if schedule == "joint":
        return (Phase("joint", epochs, lr, lr_drops, train="all", masks=True),)
    names = schedule.split("-")
    with_c = "C" in names
    if with_c and epochs < 2:
        raise ValueError(f"epochs must be >= 2 for schedule {schedule!r} (A and C), got {epochs}")
    c_epochs = max(1, round(epochs * C_SHARE)) if with_c else 0
    counts = {
        "A": epochs - c_epochs,
        "B": max(1, round(epochs / 4)) if mask_epochs is None else mask_epochs,
        "C": c_epochs,
    }
    if counts["B"] < 1:
        raise ValueError(f"mask_epochs must be >= 1, got {mask_epochs}")
    phases = []
    for name in names:
        spec = ACNN_PHASES[name]
        phases.append(
            Phase(
                name,
                counts[name],
                lr * spec["lr_factor"],
                lr_drops,
                train=spec["train"],
                masks=spec["masks"],
            )
        )
    return tuple(phases)


#: Pose profiles. ``quick`` is what a 2-core CPU affords for the freezing ablation's claims. Its
#: inputs are 128 px so that the 32 x 32 heatmaps give PCKh@0.5 a tolerance of about a heatmap
#: pixel (at 64 px one cell off already fails every joint). Its optimizer, rate, width, batch and
#: heatmap sigma were chosen on a validation split of the training images (``results/tuning/``),
#: never on the test set: RMSProp at 2e-3 (the paper's rate barely moves a network in so few
#: steps; Adam at 1e-3 hardly moved it), 32 features (16 learnt far slower), and batches of 8,
#: which at equal images seen (equal compute on a CPU) learnt faster than batches of 16, more than
#: a wider Gaussian did. Its budget is what the study's time allows, not what learning would want:
#: the validation curves were still rising, so each phase keeps its full rate for 90% of its steps
#: and drops it once (``lr_drops``): validation PCKh@0.5 of seeds 0 / 1, 42.8 / 41.2 with drops
#: at 60% and 85%, 49.1 / 47.5 with one at 80%, 50.6 / 49.6 with one at 90%
#: (``results/tuning/synthetic/drops-*``). ``full`` uses the paper's network, inputs and rate.
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
        image_size=128,
        num_stacks=2,
        features=32,
        num_train=2400,
        num_test=300,
        epochs=10,
        batch_size=8,
        lr=2e-3,
        lr_drops=(0.9,),
    ),
    # The whole study (both tracks, synthetic and real data) in one call of a few minutes on one
    # H100/H200: inputs and schedule as quick's, a network twice as wide, larger batches. Sized
    # from an estimate (FLOPs, kernel launches per step, the CPU's data generation), not yet from
    # a GPU run: ``make gpu-check`` measures it.
    "gpu": dict(
        image_size=128,
        num_stacks=2,
        features=64,
        num_train=2400,
        num_test=300,
        epochs=10,
        batch_size=32,
        lr=2e-3,
        lr_drops=(0.9,),
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
PROFILE_SEEDS: dict[str, tuple[int, ...]] = {
    "smoke": (0,),
    "quick": (0, 1, 2),
    "gpu": (0, 1, 2),
    "full": (0, 1, 2),
}


def seeds_for(profile: str, seeds=None) -> tuple[int, ...]:
    """The seeds to run: ``seeds`` if given (a notebook parameter), else the profile's.

    ``seeds`` may be the list or its string form (papermill's ``-p seeds "[0, 1, 2]"``).
    """
    from studylib.params import is_int, literal

    _check_choice("profile", profile, PROFILES)
    if seeds is None:
        return tuple(PROFILE_SEEDS[profile])
    chosen = literal(
        "seeds",
        seeds,
        "a non-empty list of integers >= 0",
        kinds=(list, tuple, range),
        valid=lambda values: bool(values) and all(is_int(s) and s >= 0 for s in values),
    )
    return tuple(chosen)


@dataclass(frozen=True)
class RunConfig:
    """What every run has, whatever its track: the profile, the data, the budget, the optimizer
    and how it executes. :class:`PoseConfig` and :class:`FaceConfig` add their model's knobs
    (and their own defaults); a record's ``config.json`` is one of them, read back with
    :meth:`from_record`.

    ``validation=True`` holds the last ``num_test`` images of the training split out and scores
    on them instead of the test split: settings (rate, optimizer, budget) are chosen so, never on
    the test set. ``synth`` holds the synthetic generator's knobs and ``augment``
    :class:`~studylib.data.augment.AugmentConfig` ranges; both are checked here.
    """

    #: The datasets the track trains on, and its profiles (set by each track).
    DATASETS: typing.ClassVar[tuple[str, ...]] = ()
    PROFILE_TABLE: typing.ClassVar[dict[str, dict[str, Any]]] = {}

    profile: str = "quick"
    dataset: str = "synthetic"
    seed: int = 0
    data_seed: int = 0
    image_size: int = 64
    num_train: int = 1000
    num_test: int = 300
    synth: dict = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 16
    optimizer: str = "rmsprop"
    lr: float = 1e-3
    validation: bool = False
    augment: dict = field(default_factory=dict)
    device: str = "auto"
    amp: bool = True
    channels_last: bool | None = None
    compile: bool = False

    def __post_init__(self) -> None:
        check_types(self)
        _check_choice("profile", self.profile, PROFILES)
        _check_choice("dataset", self.dataset, self.DATASETS)
        _check_choice("device", self.device, DEVICES)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        for name in ("image_size", "num_train", "num_test", "epochs", "batch_size"):
            _check_positive(name, getattr(self, name))
        _check_positive("lr", self.lr)
        if self.seed < 0 or self.data_seed < 0:
            raise ValueError(f"seed and data_seed must be >= 0, got {self.seed}, {self.data_seed}")
        _check_knobs(self, self.synth_knobs())

    @staticmethod
    def synth_knobs() -> type:
        """The dataclass of the track's synthetic-data knobs (what ``synth`` may hold)."""
        raise NotImplementedError

    @classmethod
    def from_profile(cls, profile: str, **overrides: Any) -> typing.Self:
        """The profile's settings with ``overrides`` on top (``None`` keeps the profile's value)."""
        _check_choice("profile", profile, PROFILES)
        return _build(cls, {**cls.PROFILE_TABLE[profile], "profile": profile}, overrides)

    @classmethod
    def from_record(cls, folder: str | Path) -> typing.Self:
        """The config of the run recorded in ``folder`` (its ``config.json``)."""
        from studylib.io import read_json

        path = Path(folder) / "config.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no run record here (expected a config.json)")
        return cls(**read_json(path))

    def replace(self, **changes: Any) -> typing.Self:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)


@dataclass(frozen=True)
class PoseConfig(RunConfig):
    """Everything that defines one pose run (the record's ``config.json``): the shared fields of
    :class:`RunConfig` and the hourglass's. ``epochs`` are the heatmap network's epochs in every
    schedule; ``mask_epochs`` is phase B's length where a schedule has it
    (:func:`schedule_phases`).
    """

    DATASETS: typing.ClassVar[tuple[str, ...]] = POSE_DATASETS
    PROFILE_TABLE: typing.ClassVar[dict[str, dict[str, Any]]] = POSE_PROFILES

    num_train: int = 1200
    lr: float = 5e-4
    num_stacks: int = 2
    features: int = 64
    attention: str | None = None
    mask: str = "soft"
    schedule: str = "joint"
    mask_epochs: int | None = None
    sigma: float = 1.0
    flip_test: bool = True
    lr_drops: tuple[float, ...] = LR_DROPS

    def __post_init__(self) -> None:
        if isinstance(self.lr_drops, list):  # from config.json or a papermill parameter
            object.__setattr__(self, "lr_drops", tuple(self.lr_drops))
        super().__post_init__()
        _check_choice("attention", self.attention, (None, "acnn"))
        _check_choice("mask", self.mask, ("soft", "hard"))
        for name in ("num_stacks", "features"):
            _check_positive(name, getattr(self, name))
        _check_positive("sigma", self.sigma)
        if self.image_size % 64:
            raise ValueError(
                f"image_size must be a multiple of 64 (stem stride 4 x four hourglass poolings), "
                f"got {self.image_size}"
            )
        if self.attention is None and self.schedule not in ("joint",):
            raise ValueError(
                f"schedule {self.schedule!r} trains attention masks; a model without attention "
                "only has the 'joint' schedule"
            )
        self.phases()

    @staticmethod
    def synth_knobs() -> type:
        from studylib.data.synthetic_pose import PoseSynthConfig

        return PoseSynthConfig

    def phases(self) -> tuple[Phase, ...]:
        return schedule_phases(self.schedule, self.epochs, self.lr, self.mask_epochs, self.lr_drops)


#: Datasets a face run trains and tests on: the built-in synthetic faces and 300-W.
FACE_DATASETS = ("synthetic", "300w")
#: LandmarkNet variants and CBAM orders (mirrors of ``studylib.models.landmark.VARIANTS`` and
#: ``CBAM.ORDERS``, kept here so that a config is checked without importing torch).
FACE_VARIANTS = ("resnet", "odn", "adm")
ATTENTION_ORDERS = ("channel-spatial", "spatial-channel", "parallel", "channel", "spatial", "none")
CHANNEL_POOLINGS = ("avg", "max")
#: How the flattened X enters the low-rank module (see :func:`studylib.face.build_model`).
LOW_RANK_INPUTS = ("mean", "sum")

#: Face profiles. ``full`` is the paper's scale: 224 px inputs, a width-64 ResNet-18 (7 x 7 last
#: feature map), trained from scratch unless ``pretrained`` names a local torchvision file; its
#: data size, epochs and rate are not yet checked on a GPU (the paper gives none of them).
#: ``quick`` is sized for both face ablations on a 2-core CPU: 64 px inputs and a width-16 trunk
#: whose last stage keeps stride 1, so the attention modules still see a 4 x 4 map (stride 2
#: would leave 2 x 2, too coarse for a spatial gate to choose anything); its data size and epochs
#: were chosen on a validation split of the training faces (``results/tuning/``): the NME kept
#: falling up to the 12 epochs tried, and 10 is what the study's 40 minutes allow on this 2-core
#: machine (8 on the slower processor of earlier sessions, where every ResNet-18 run but the
#: attention-free one cleared 0.4 x the mean-shape NME). ``smoke`` only checks that it all runs.
FACE_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": dict(
        image_size=64,
        width=8,
        layer4_stride=1,
        rank=32,
        num_train=64,
        num_test=32,
        epochs=2,
        batch_size=16,
        lr=1e-3,
    ),
    "quick": dict(
        image_size=64,
        width=16,
        layer4_stride=1,
        rank=128,
        num_train=2000,
        num_test=300,
        epochs=10,
        batch_size=32,
        lr=1e-3,
    ),
    # As the pose track's gpu profile: twice quick's input side and width; layer 4 keeps its
    # stride 2, which leaves the attention modules quick's 4 x 4 map.
    "gpu": dict(
        image_size=128,
        width=32,
        layer4_stride=2,
        rank=128,
        num_train=2000,
        num_test=300,
        epochs=10,
        batch_size=64,
        lr=1e-3,
    ),
    "full": dict(
        image_size=224,
        width=64,
        layer4_stride=2,
        rank=128,
        num_train=20000,
        num_test=1000,
        epochs=60,
        batch_size=32,
        lr=1e-3,
    ),
}


@dataclass(frozen=True)
class FaceConfig(RunConfig):
    """Everything that defines one face-landmark run (the record's ``config.json``): the shared
    fields of :class:`RunConfig` and LandmarkNet's.

    ``variant``, ``attention_order``, ``reduction_ratio`` and ``channel_pooling`` are the knobs of
    the face ablations (see :class:`studylib.models.LandmarkNet`); ``pretrained`` is a local
    torchvision ResNet-18 state dict for the trunk (width 64 only; ``None`` trains from scratch).
    ``low_rank_input`` and ``mean_shape_init`` are optimisation choices the paper leaves open
    (:func:`studylib.face.build_model` and :func:`studylib.face.init_mean_shape` say why).
    """

    DATASETS: typing.ClassVar[tuple[str, ...]] = FACE_DATASETS
    PROFILE_TABLE: typing.ClassVar[dict[str, dict[str, Any]]] = FACE_PROFILES

    epochs: int = 8
    batch_size: int = 32
    # The paper augments with scale, rotation, flips and translation; milder ranges than the pose
    # defaults, since the faces are already posed and placed (synthetic) or cropped (300-W).
    augment: dict = field(
        default_factory=lambda: dict(scale=0.1, rotation=15.0, rotation_prob=0.5, color=0.2)
    )
    variant: str = "adm"
    attention_order: str = "channel-spatial"
    reduction_ratio: int = 8
    channel_pooling: tuple[str, ...] = CHANNEL_POOLINGS
    width: int = 16
    layer4_stride: int = 1
    rank: int = 128
    alpha: float = 1e-4
    low_rank_input: str = "mean"
    mean_shape_init: bool = True
    pretrained: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.channel_pooling, list):  # a papermill parameter arrives as a list
            object.__setattr__(self, "channel_pooling", tuple(self.channel_pooling))
        super().__post_init__()
        _check_choice("variant", self.variant, FACE_VARIANTS)
        _check_choice("attention_order", self.attention_order, ATTENTION_ORDERS)
        _check_choice("layer4_stride", self.layer4_stride, (1, 2))
        _check_choice("low_rank_input", self.low_rank_input, LOW_RANK_INPUTS)
        for name in ("width", "rank", "reduction_ratio"):
            _check_positive(name, getattr(self, name))
        if self.alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha!r}")
        channels = 8 * self.width
        if channels % self.reduction_ratio:
            raise ValueError(
                f"reduction_ratio={self.reduction_ratio} does not divide the {channels} channels "
                f"of the last feature map (8 x width={self.width})"
            )
        stride = 16 * self.layer4_stride
        if self.image_size % stride:
            raise ValueError(
                f"image_size must be a multiple of the trunk's total stride {stride} "
                f"(layer4_stride={self.layer4_stride}), got {self.image_size}"
            )
        pooling = self.channel_pooling
        if (
            not pooling
            or len(set(pooling)) != len(pooling)
            or not set(pooling) <= set(CHANNEL_POOLINGS)
        ):
            raise ValueError(
                f"channel_pooling must be a non-empty subset of {CHANNEL_POOLINGS} without "
                f"repeats, got {pooling!r}"
            )
        if self.pretrained is not None and self.width != 64:
            raise ValueError(
                f"pretrained weights are torchvision's ResNet-18 (width 64), got width={self.width}"
            )

    @staticmethod
    def synth_knobs() -> type:
        from studylib.data.synthetic_face import FaceSynthConfig

        return FaceSynthConfig

    def phases(self) -> tuple[Phase, ...]:
        """One joint phase: RMSProp at ``lr``, divided by 10 at 60% and 85% of the epochs (the face
        budgets were chosen on validation with this schedule)."""
        return schedule_phases("joint", self.epochs, self.lr)


#: Fields that change how fast a run trains, not what it computes: a record holds them only when
#: they differ from their defaults, so records written before they existed still match.
EXECUTION_FLAGS = {"channels_last": None, "compile": False}


def _to_dict(config: RunConfig) -> dict[str, Any]:
    values = dataclasses.asdict(config)
    for name, default in EXECUTION_FLAGS.items():
        if values.get(name, default) == default and type(values.get(name)) is type(default):
            values.pop(name, None)
    return values


def _check_knobs(config: RunConfig, synth_knobs: type) -> None:
    """Check a config's ``synth`` and ``augment`` dicts against the dataclasses that take them
    (a misspelt knob or a range out of bounds is named here, before any data is built)."""
    from studylib.data.augment import AugmentConfig

    for name, knobs in (("synth", synth_knobs), ("augment", AugmentConfig)):
        try:
            knobs(**getattr(config, name))
        except TypeError as error:
            raise ValueError(f"{name}: {error}") from error


def _build(cls, base: dict[str, Any], overrides: dict[str, Any]):
    """``cls`` from ``base`` with ``overrides`` on top (``None`` keeps the base's value).

    A dict or tuple field (``synth``, ``augment``, ``channel_pooling``) also takes its string
    form, as papermill's ``-p`` and a shell's ``--set`` pass it; other strings stay as given, so
    that ``epochs="10"`` is still named by the type check.
    """
    from studylib.params import SEQUENCE, literal

    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} parameter(s) {unknown}; valid: {sorted(names)}")
    hints = typing.get_type_hints(cls)
    containers = {dict: (dict, "a dict"), tuple: (SEQUENCE, "a list"), list: (SEQUENCE, "a list")}
    values = dict(base)
    for name, value in overrides.items():
        if value is None:
            continue
        kind = typing.get_origin(hints[name]) or hints[name]
        if isinstance(value, str) and kind in containers:
            kinds, what = containers[kind]
            value = literal(
                f"{cls.__name__}.{name}", value, f"{what} or its string form", kinds=kinds
            )
        values[name] = value
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
