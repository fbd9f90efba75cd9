"""Synthetic human-pose images with the 16 MPII joints (data tier 1, pose track).

:func:`generate_pose` renders people on cluttered backgrounds from a seed, so the pose track needs
no download. Image ``i`` is drawn from its own generator, seeded by ``SeedSequence([seed, i])``:
the same arguments give bit-identical arrays and image ``i`` does not depend on ``num_images``.

Generative model
----------------
*Skeleton.* A figure is the MPII kinematic tree (:data:`~studylib.data.keypoints.MPII_PARENTS`,
pelvis at the root) with segment lengths given as fractions of standing height
(:data:`SEGMENT_LENGTHS`, anthropometric tables), each scaled per figure by an independent
factor in ``[1 - LENGTH_VARIATION, 1 + LENGTH_VARIATION]`` (the same for left and right), and a
build factor for widths and limb thickness.

*Pose.* Joint angles are anatomical and limited (:data:`JOINT_LIMITS`, degrees): the torso bends
forward or back, leans sideways and twists over the hips; the head tilts a little; a shoulder or
hip points its limb by an elevation (0 = hanging down) and an azimuth (0 = forward, 90 = sideways,
180 = backward; the reachable elevation shrinks towards the back), plus a twist about the limb
that turns the plane in which the elbow or knee bends; elbows bend only forward (0-150) and knees
only backward (0-150). Angles come from a mixture of activities (standing, walking, running,
gesturing, sitting or squatting, bending over, and unconstrained "sport" poses);
``pose_range`` shrinks every angle towards the neutral standing pose.

*View.* The 3-D figure is turned by a body yaw (0 = facing the camera, 180 = seen from the back;
shoulders and hips narrow as ``|cos yaw|``), projected orthographically, and rotated in the image
plane by a global lean. Limbs pointing out of the image plane look shorter (foreshortening;
``foreshortening = 0`` keeps every limb at its full length, for tests and ablations). Because a
projection can exaggerate a bend, the image-plane angle at an elbow or knee is also held to the
joint's limit.

*Rendering* (numpy and PIL, on the shared core :mod:`studylib.data.render`: its canvas, textures,
palettes and cylinder shading). Limbs are tapered capsules, the torso a tapered polygon, the neck a
capsule and the head an ellipse with hair and a face (eyes, nose and mouth placed by the head's
yaw, so front and back views, and so left and right, can be told apart). Clothes use a small bank
of procedural textures (solid, stripes, checks, smooth noise) and every part is shaded across its
width like a cylinder under one light per image. Parts are painted far to near (painter's
algorithm on their depth), and far parts are slightly darker.

*Scene.* The main person is centred at the image centre (with ``centre_jitter``) at a standing
height of ``scale_range`` times the image size, as an MPII crop around the annotated centre and
scale. Around it: a background (a plain gradient at ``clutter = 0``; textures, random shapes and
limb-like capsules in skin and cloth colours, the hard negatives, as ``clutter`` grows), distractor
people at a similar scale offset from the centre (``distractors``; 80 % behind the main person),
partial bodies entering from the image edges (``partial_bodies``), and occluders placed over the
main person's joints (``occlusion``, ``occluder_size``): rectangles, ellipses, bars and textured
patches. Finally a light gain, pixel noise (``noise``) and blur (``blur``).

Annotations
-----------
``joints`` are the main person's 16 joints in pixels (pixel-centre convention). ``valid`` marks the
joints inside the image with a half-pixel margin (:func:`~studylib.data.render.inside_image`): x
and y in ``[0, size - 1]``, on or between the outermost pixel centres. ``occluded`` marks valid
joints whose pixel is covered by something painted over the main person (an occluder, a distractor
or a partial body in front); self-occlusion is not flagged. Occluded joints keep their true
coordinates (as in MPII).
``norms["head"]`` is the MPII head size, ``MPII_HEAD_FACTOR`` (0.6) times the diagonal of the
axis-aligned box of the drawn head ellipse; ``norms["torso"]`` is the distance from the right
shoulder to the left hip (the LSP PCK convention).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# ``studylib.metrics`` imports ``studylib.data``; importing the module (not a name from it) and
# reading the constant at call time keeps this import safe if ``studylib.data`` imports this file.
from studylib import metrics
from studylib.data.dataset import KeypointSet
from studylib.data.keypoints import MPII
from studylib.data.render import (
    Canvas,
    Texture,
    check_config,
    check_generator_args,
    check_interval,
    check_knobs,
    covered,
    ellipse_alpha,
    hsv_colour,
    inside_image,
    local_frame,
    pick,
    quantize,
)

__all__ = [
    "JOINT_LIMITS",
    "LENGTH_VARIATION",
    "NEUTRAL_POSE",
    "SEGMENT_LENGTHS",
    "PoseSynthConfig",
    "generate_pose",
]

#: Segment lengths as fractions of standing height (after Drillis and Contini, in Winter,
#: *Biomechanics and Motor Control of Human Movement*): pelvis (mid-hip) to thorax, thorax to upper
#: neck, upper neck to head top, and the limbs.
SEGMENT_LENGTHS: dict[str, float] = {
    "torso": 0.29,
    "neck": 0.06,
    "head": 0.13,
    "upper_arm": 0.186,
    "forearm": 0.146,
    "thigh": 0.245,
    "shin": 0.246,
}

#: Each figure scales each segment length by an independent factor in [1 - v, 1 + v].
LENGTH_VARIATION = 0.08

#: Anatomical joint-angle limits in degrees (see the module docstring for the conventions).
JOINT_LIMITS: dict[str, tuple[float, float]] = {
    "bend": (-20.0, 90.0),
    "side_lean": (-25.0, 25.0),
    "twist": (-40.0, 40.0),
    "neck_flex": (-25.0, 30.0),
    "neck_side": (-20.0, 20.0),
    "head_turn": (-60.0, 60.0),
    "arm_elevation": (0.0, 180.0),
    "arm_azimuth": (-45.0, 180.0),
    "arm_twist": (-70.0, 90.0),
    "elbow": (0.0, 150.0),
    "leg_elevation": (0.0, 125.0),
    "leg_azimuth": (-30.0, 180.0),
    "leg_twist": (-45.0, 45.0),
    "knee": (0.0, 150.0),
}

#: The neutral standing pose that ``pose_range`` shrinks towards (degrees; unlisted angles are 0).
NEUTRAL_POSE: dict[str, float] = {
    "arm_elevation": 8.0,
    "arm_azimuth": 90.0,
    "elbow": 8.0,
    "leg_elevation": 3.0,
    "leg_azimuth": 90.0,
    "knee": 2.0,
}

#: Highest reachable limb elevation by azimuth, (azimuth, elevation) knots in degrees: a limb
#: can be raised far forward or sideways but only a little backward.
_ELEVATION_CAPS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "arm": ((-45.0, 100.0, 180.0), (130.0, 180.0, 60.0)),
    "leg": ((-30.0, 0.0, 90.0, 180.0), (90.0, 125.0, 70.0, 35.0)),
}

#: Widths, depths, limb radii and extremity lengths as fractions of standing height.
_BODY_SIZES: dict[str, float] = {
    "shoulder_width": 0.21,
    "hip_width": 0.12,
    "chest_depth": 0.13,
    "hip_depth": 0.12,
    "head_width": 0.10,
    "shoulder_drop": 0.01,
    "hand_length": 0.075,
    "foot_length": 0.12,
    "heel_length": 0.03,
}
_RADII: dict[str, float] = {
    "upper_arm": 0.031,
    "forearm": 0.025,
    "hand": 0.021,
    "thigh": 0.052,
    "shin": 0.036,
    "foot": 0.02,
    "neck": 0.032,
}

_ACTIVITIES: tuple[str, ...] = ("stand", "walk", "run", "gesture", "sit", "bend", "sport")
_ACTIVITY_WEIGHTS: tuple[float, ...] = (0.2, 0.2, 0.1, 0.17, 0.1, 0.07, 0.16)

_SKIN_TONES = np.array(
    [
        (0.98, 0.85, 0.74),
        (0.94, 0.77, 0.63),
        (0.86, 0.65, 0.50),
        (0.74, 0.53, 0.39),
        (0.56, 0.39, 0.27),
        (0.40, 0.27, 0.19),
    ],
    dtype=np.float32,
)
_HAIR_COLOURS = np.array(
    [
        (0.07, 0.05, 0.04),
        (0.22, 0.14, 0.08),
        (0.42, 0.28, 0.15),
        (0.78, 0.65, 0.40),
        (0.62, 0.60, 0.58),
    ],
    dtype=np.float32,
)

# MPII joint indices (right side first in each pair, as in the MPII order).
_J = {name: index for index, name in enumerate(MPII.names)}
_PELVIS, _THORAX, _NECK, _HEAD_TOP = _J["pelvis"], _J["thorax"], _J["upper_neck"], _J["head_top"]
_HIPS = (_J["r_hip"], _J["l_hip"])
_KNEES = (_J["r_knee"], _J["l_knee"])
_ANKLES = (_J["r_ankle"], _J["l_ankle"])
_SHOULDERS = (_J["r_shoulder"], _J["l_shoulder"])
_ELBOWS = (_J["r_elbow"], _J["l_elbow"])
_WRISTS = (_J["r_wrist"], _J["l_wrist"])
#: Sign of each side along the person's lateral axis (+x = the person's left): right, left.
_SIDE_SIGNS = (-1.0, 1.0)

_DOWN = np.array([0.0, 1.0, 0.0])
_UP = -_DOWN

#: A joint is ``valid`` when it lies at least this far in from the image's edges (see
#: :func:`~studylib.data.render.inside_image`), i.e. on or between the outermost pixel centres.
#: The study's pose data was labelled with this margin; without it, joints in the half-pixel
#: band along the edges would become valid and the data would change.
_VALID_MARGIN = 0.5


@dataclass(frozen=True)
class PoseSynthConfig:
    """The difficulty knobs of :func:`generate_pose`.

    Attributes:
        clutter: amount of background clutter in [0, 1]: 0 is a plain gradient; higher values add
            textures, random shapes and limb-like capsules in skin and cloth colours.
        distractors: expected number of other full people (Poisson), in [0, 10].
        partial_bodies: expected number of partial bodies entering from the image edges, in [0, 10].
        occlusion: expected number of occluders over the main person (Poisson), in [0, 10].
        occluder_size: typical occluder size as a fraction of the person's height, in [0.02, 1].
        pose_range: scales every joint angle's deviation from the neutral standing pose, in [0, 1].
        scale_range: (low, high) standing height of the main person over the image size, each in
            [0.2, 1.5] with low <= high.
        rotation: largest global in-plane rotation of the main person in degrees, in [0, 180].
        yaw_range: largest body yaw in degrees, in [0, 180] (0 = always facing the camera; yaw is
            normal with this as twice its standard deviation, clipped).
        foreshortening: how much limbs pointing out of the image plane shrink, in [0, 1].
        centre_jitter: standard deviation of the main person's offset from the image centre, as a
            fraction of the image size, in [0, 0.25].
        noise: pixel-noise level in [0, 1]; 1 is a noise standard deviation of up to 6 % of the
            intensity range.
        blur: blur level in [0, 1]; 1 is a Gaussian blur of radius up to 1.2 px at 128 px, scaled
            with the image size.
    """

    clutter: float = 0.6
    distractors: float = 0.8
    partial_bodies: float = 0.8
    occlusion: float = 0.7
    occluder_size: float = 0.22
    pose_range: float = 1.0
    scale_range: tuple[float, float] = (0.6, 0.9)
    rotation: float = 30.0
    yaw_range: float = 150.0
    foreshortening: float = 1.0
    centre_jitter: float = 0.03
    noise: float = 0.3
    blur: float = 0.3

    def __post_init__(self) -> None:
        check_knobs(self, _KNOB_RANGES)
        interval = check_interval("PoseSynthConfig.scale_range", self.scale_range, 0.2, 1.5)
        object.__setattr__(self, "scale_range", interval)


#: Accepted range of each scalar knob of :class:`PoseSynthConfig`.
_KNOB_RANGES: dict[str, tuple[float, float]] = {
    "clutter": (0.0, 1.0),
    "distractors": (0.0, 10.0),
    "partial_bodies": (0.0, 10.0),
    "occlusion": (0.0, 10.0),
    "occluder_size": (0.02, 1.0),
    "pose_range": (0.0, 1.0),
    "rotation": (0.0, 180.0),
    "yaw_range": (0.0, 180.0),
    "foreshortening": (0.0, 1.0),
    "centre_jitter": (0.0, 0.25),
    "noise": (0.0, 1.0),
    "blur": (0.0, 1.0),
}


def generate_pose(
    num_images: int, image_size: int, seed: int, config: PoseSynthConfig | None = None
) -> KeypointSet:
    """Render ``num_images`` square RGB images of a centred person with MPII joint annotations.

    Args:
        num_images: number of images (>= 1).
        image_size: side of each image in pixels (>= 32).
        seed: non-negative integer; image ``i`` is drawn from ``SeedSequence([seed, i])``.
        config: the difficulty knobs; ``None`` means ``PoseSynthConfig()``.

    Returns:
        A :class:`KeypointSet` with the MPII scheme, ``norms["head"]`` and ``norms["torso"]``.
    """
    num_images, image_size, seed = check_generator_args(num_images, image_size, seed)
    config = PoseSynthConfig() if config is None else config
    check_config(config, PoseSynthConfig)

    num_joints = MPII.num_keypoints
    images = np.empty((num_images, image_size, image_size, 3), dtype=np.uint8)
    joints = np.empty((num_images, num_joints, 2), dtype=np.float32)
    valid = np.empty((num_images, num_joints), dtype=bool)
    occluded = np.empty((num_images, num_joints), dtype=bool)
    head = np.empty(num_images, dtype=np.float32)
    torso = np.empty(num_images, dtype=np.float32)
    for index in range(num_images):
        rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
        sample = _render_sample(rng, image_size, config)
        images[index] = sample.image
        joints[index] = sample.joints
        valid[index] = sample.valid
        occluded[index] = sample.occluded
        head[index] = sample.head_size
        torso[index] = sample.torso_size
    return KeypointSet(
        images=images,
        joints=joints,
        valid=valid,
        occluded=occluded,
        norms={"head": head, "torso": torso},
        spec=MPII,
        info={
            "name": "synthetic-pose",
            "config": asdict(config),
            "image_size": image_size,
            "seed": seed,
            "num_images": num_images,
        },
    )


# ---------------------------------------------------------------------------------------------
# Bodies and poses


def _random_material(rng: np.random.Generator, period_scale: float) -> Texture:
    """A cloth-like texture; ``period_scale`` (pixels) sets the size of its pattern."""
    kind = str(rng.choice(("solid", "stripes", "checks", "tiles"), p=(0.4, 0.2, 0.15, 0.25)))
    base = hsv_colour(rng)
    if rng.random() < 0.5:
        accent = np.clip(base * rng.uniform(0.4, 0.8), 0.0, 1.0).astype(np.float32)
    else:
        accent = hsv_colour(rng)
    # Keyword order is draw order: period, angle, then the tile.
    return Texture(
        kind=kind,
        first=base,
        second=accent,
        period=max(1.5, period_scale * rng.uniform(0.5, 1.5)),
        angle=float(rng.choice((0.0, math.pi / 2)) + rng.normal(0.0, 0.15)),
        tile=int(rng.integers(4)),
    )


def _skin_material(rng: np.random.Generator) -> Texture:
    return Texture.solid(np.clip(pick(rng, _SKIN_TONES, 0.92, 1.05), 0.0, 1.0))


@dataclass(frozen=True)
class _Body:
    """One figure's proportions (fractions of standing height) and clothes."""

    lengths: dict[str, float]
    sizes: dict[str, float]
    radii: dict[str, float]
    skin: Texture
    hair: np.ndarray
    hairline: float
    top: Texture
    bottom: Texture
    shoes: Texture
    sleeves: int  # 0 sleeveless, 1 short, 2 long
    long_trousers: bool


def _sample_body(rng: np.random.Generator, height_px: float) -> _Body:
    lengths = {
        name: length * rng.uniform(1.0 - LENGTH_VARIATION, 1.0 + LENGTH_VARIATION)
        for name, length in SEGMENT_LENGTHS.items()
    }
    build = rng.uniform(0.85, 1.2)
    sizes = dict(_BODY_SIZES)
    for name in ("shoulder_width", "hip_width", "chest_depth", "hip_depth"):
        sizes[name] *= build
    sizes["head_width"] *= rng.uniform(0.9, 1.1)
    radii = {name: radius * build * rng.uniform(0.9, 1.1) for name, radius in _RADII.items()}
    period = height_px * 0.035
    return _Body(
        lengths=lengths,
        sizes=sizes,
        radii=radii,
        skin=_skin_material(rng),
        hair=pick(rng, _HAIR_COLOURS, 0.85, 1.1),
        hairline=rng.uniform(0.2, 0.5),
        top=_random_material(rng, period),
        bottom=_random_material(rng, period),
        shoes=Texture.solid(hsv_colour(rng) * 0.5),
        sleeves=int(rng.choice(3, p=(0.2, 0.35, 0.45))),
        long_trousers=bool(rng.random() < 0.7),
    )


def _sample_activity(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Joint angles (degrees) from the activity mixture, before limits and ``pose_range``."""
    two = (2,)
    angles: dict[str, np.ndarray] = {
        "bend": np.array(rng.normal(3.0, 5.0)),
        "side_lean": np.array(rng.normal(0.0, 4.0)),
        "twist": np.array(rng.normal(0.0, 8.0)),
        "neck_flex": np.array(rng.normal(5.0, 8.0)),
        "neck_side": np.array(rng.normal(0.0, 6.0)),
        "head_turn": np.array(rng.normal(0.0, 25.0)),
        "arm_elevation": np.abs(rng.normal(12.0, 10.0, two)),
        "arm_azimuth": rng.uniform(20.0, 110.0, two),
        "arm_twist": rng.normal(0.0, 20.0, two),
        "elbow": rng.uniform(0.0, 40.0, two),
        "leg_elevation": np.abs(rng.normal(5.0, 4.0, two)),
        "leg_azimuth": rng.uniform(60.0, 120.0, two),
        "leg_twist": rng.normal(0.0, 10.0, two),
        "knee": rng.uniform(0.0, 12.0, two),
    }
    activity = _ACTIVITIES[rng.choice(len(_ACTIVITIES), p=_ACTIVITY_WEIGHTS)]
    if activity in ("walk", "run"):
        swing = rng.uniform(12.0, 35.0) if activity == "walk" else rng.uniform(30.0, 70.0)
        leading = rng.integers(2)  # which leg is forward
        leg_swing = np.where(np.arange(2) == leading, swing, -swing * rng.uniform(0.4, 0.9))
        arm_swing = -0.8 * leg_swing * rng.uniform(0.5, 1.2)
        angles["leg_elevation"], angles["leg_azimuth"] = _swing(rng, leg_swing)
        angles["arm_elevation"], angles["arm_azimuth"] = _swing(rng, arm_swing)
        if activity == "walk":
            forward, backward = rng.uniform(0, 25, two), rng.uniform(5, 50, two)
            angles["knee"] = np.where(leg_swing > 0, forward, backward)
            angles["elbow"] = rng.uniform(5.0, 50.0, two)
        else:
            forward, backward = rng.uniform(40, 110, two), rng.uniform(30, 110, two)
            angles["knee"] = np.where(leg_swing > 0, forward, backward)
            angles["elbow"] = rng.uniform(65.0, 110.0, two)
            angles["bend"] = np.array(rng.normal(12.0, 6.0))
    elif activity == "gesture":
        raised = np.array([True, True]) if rng.random() < 0.4 else np.arange(2) == rng.integers(2)
        angles["arm_elevation"] = np.where(
            raised, rng.uniform(50, 175, two), angles["arm_elevation"]
        )
        angles["arm_azimuth"] = np.where(raised, rng.uniform(-30, 120, two), angles["arm_azimuth"])
        angles["arm_twist"] = np.where(raised, rng.uniform(-70, 40, two), angles["arm_twist"])
        angles["elbow"] = np.where(raised, rng.uniform(0, 130, two), angles["elbow"])
    elif activity == "sit":
        angles["leg_elevation"] = rng.uniform(65.0, 115.0, two)
        angles["leg_azimuth"] = rng.uniform(-10.0, 40.0, two)
        angles["leg_twist"] = rng.normal(-10.0, 15.0, two)
        angles["knee"] = rng.uniform(60.0, 140.0, two)
        angles["arm_elevation"] = rng.uniform(5.0, 70.0, two)
        angles["arm_azimuth"] = rng.uniform(-30.0, 60.0, two)
        angles["elbow"] = rng.uniform(20.0, 120.0, two)
        angles["bend"] = np.array(rng.uniform(-5.0, 30.0))
    elif activity == "bend":
        bend = rng.uniform(35.0, 90.0)
        angles["bend"] = np.array(bend)
        angles["leg_elevation"] = rng.uniform(0.0, 15.0, two)
        angles["leg_azimuth"] = rng.uniform(-10.0, 30.0, two)
        angles["knee"] = rng.uniform(0.0, 35.0, two)
        angles["arm_elevation"] = bend + rng.normal(0.0, 15.0, two)
        angles["arm_azimuth"] = rng.uniform(-15.0, 30.0, two)
        angles["elbow"] = rng.uniform(0.0, 50.0, two)
    elif activity == "sport":
        angles["bend"] = np.array(rng.uniform(-15.0, 60.0))
        angles["side_lean"] = np.array(rng.normal(0.0, 12.0))
        angles["twist"] = np.array(rng.normal(0.0, 20.0))
        for limb, low_twist, high_twist in (("arm", -70.0, 90.0), ("leg", -45.0, 45.0)):
            low, high = JOINT_LIMITS[f"{limb}_azimuth"]
            azimuth = rng.uniform(low, high, two)
            cap = np.interp(azimuth, *_ELEVATION_CAPS[limb])
            shape = (1.3, 1.3) if limb == "arm" else (1.2, 2.2)
            angles[f"{limb}_azimuth"] = azimuth
            angles[f"{limb}_elevation"] = cap * rng.beta(*shape, two)
            angles[f"{limb}_twist"] = rng.uniform(low_twist, high_twist, two)
        angles["elbow"] = rng.uniform(0.0, 150.0, two)
        angles["knee"] = rng.uniform(0.0, 150.0, two)
    return angles


def _swing(rng: np.random.Generator, swing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Elevation and azimuth of limbs swung forward (positive) or backward (negative)."""
    forward, backward = (
        rng.uniform(-10.0, 15.0, swing.shape),
        180.0 - rng.uniform(0, 20.0, swing.shape),
    )
    return np.abs(swing), np.where(swing > 0, forward, backward)


def _sample_pose(rng: np.random.Generator, pose_range: float) -> dict[str, np.ndarray]:
    """Joint angles in degrees within :data:`JOINT_LIMITS`, shrunk towards the neutral pose."""
    angles = _sample_activity(rng)
    pose = {}
    for name, (low, high) in JOINT_LIMITS.items():
        neutral = NEUTRAL_POSE.get(name, 0.0)
        pose[name] = neutral + pose_range * (np.clip(angles[name], low, high) - neutral)
    for limb in ("arm", "leg"):
        cap = np.interp(pose[f"{limb}_azimuth"], *_ELEVATION_CAPS[limb])
        pose[f"{limb}_elevation"] = np.minimum(pose[f"{limb}_elevation"], cap)
    return pose


# ---------------------------------------------------------------------------------------------
# 3-D skeleton and projection. Camera frame: x to the image right, y down, z away from the camera;
# a person facing the camera has the left side at +x and looks along -z.


def _rot_x(degrees: float) -> np.ndarray:
    """Rotation about x that turns "down" (+y) towards "forward" (-z) for positive angles."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])


def _rot_y(degrees: float) -> np.ndarray:
    """Yaw about the vertical axis: the person's left (+x) turns towards +z (away)."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])


def _rot_z(degrees: float) -> np.ndarray:
    """In-plane rotation (a sideways lean of a figure facing the camera)."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking unit vector ``a`` to unit vector ``b`` (Rodrigues)."""
    axis = np.cross(a, b)
    sin_angle, cos_angle = np.linalg.norm(axis), float(np.dot(a, b))
    if sin_angle < 1e-9:
        return np.eye(3) if cos_angle > 0 else _rot_x(180.0)
    return _axis_rotation(axis / sin_angle, math.atan2(sin_angle, cos_angle))


def _axis_rotation(axis: np.ndarray, radians: float) -> np.ndarray:
    """Rotation by ``radians`` about unit ``axis``."""
    x, y, z = axis
    cross = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + math.sin(radians) * cross + (1.0 - math.cos(radians)) * (cross @ cross)


def _limb_frame(elevation: float, azimuth: float, twist: float, side: float) -> np.ndarray:
    """Rotation taking "down" to the limb direction, then twisted about the limb.

    ``side`` is -1 for a right limb and +1 for a left one; positive twist turns the bend plane
    inwards.
    """
    e, a = math.radians(elevation), math.radians(azimuth)
    direction = np.array(
        [side * math.sin(e) * math.sin(a), math.cos(e), -math.sin(e) * math.cos(a)]
    )
    return _axis_rotation(direction, math.radians(side * twist)) @ _rotation_between(
        _DOWN, direction
    )


@dataclass(frozen=True)
class _Skeleton:
    """A posed figure in body units (standing height 1), projected; pelvis at the origin."""

    joints: np.ndarray  # (16, 2) image-plane positions
    depth: np.ndarray  # (16,) z of each joint (larger = farther)
    hand_tips: np.ndarray  # (2, 2) right, left
    toe_tips: np.ndarray  # (2, 2)
    heels: np.ndarray  # (2, 2)
    torso_half_widths: tuple[float, float]  # at the hips, at the shoulders
    head_yaw: float  # degrees, 0 = face towards the camera


def _segment_2d(
    vector: np.ndarray, fallback: np.ndarray, foreshortening: float
) -> tuple[np.ndarray, float]:
    """Image-plane direction and length of a 3-D segment (see the ``foreshortening`` knob)."""
    length = float(np.linalg.norm(vector))
    projected = float(np.hypot(vector[0], vector[1]))
    direction = vector[:2] / projected if projected > 1e-6 * max(length, 1e-12) else fallback
    return direction, length * (1.0 - foreshortening) + projected * foreshortening


def _clamp_bend(parent: np.ndarray, child: np.ndarray, limit_degrees: float) -> np.ndarray:
    """Turn unit ``child`` towards unit ``parent`` so the angle between them is <= the limit."""
    angle = math.atan2(parent[0] * child[1] - parent[1] * child[0], float(parent @ child))
    limit = math.radians(limit_degrees)
    if abs(angle) <= limit:
        return child
    turn = math.copysign(limit, angle)
    c, s = math.cos(turn), math.sin(turn)
    return np.array([c * parent[0] - s * parent[1], s * parent[0] + c * parent[1]])


@dataclass(frozen=True)
class _Chain:
    """A two-segment limb (upper arm and forearm, or thigh and shin) after posing."""

    points: np.ndarray  # (2, 3) middle and end joints in 3-D
    joints: np.ndarray  # (2, 2) middle and end joints in the image plane
    end_frame: np.ndarray  # (3, 3) rotation of the second segment ("down" = along it)
    end_direction: np.ndarray  # (2,) image-plane direction of the second segment
    end_scale: float  # image-plane length of the second segment over its true length


def _pose_chain(
    frame: np.ndarray,
    bend: float,
    lengths: tuple[float, float],
    root: tuple[np.ndarray, np.ndarray],
    foreshortening: float,
    limit: float,
) -> _Chain:
    """Pose a limb from its root (3-D point, image point): ``frame`` orients the first segment,
    ``bend`` (degrees, positive = forward) turns the second; the image-plane bend is held to
    ``limit``."""
    end_frame = frame @ _rot_x(bend)
    first = frame @ _DOWN * lengths[0]
    second = end_frame @ _DOWN * lengths[1]
    first_dir, first_len = _segment_2d(first, np.array([0.0, 1.0]), foreshortening)
    second_dir, second_len = _segment_2d(second, first_dir, foreshortening)
    second_dir = _clamp_bend(first_dir, second_dir, limit)
    middle = root[1] + first_dir * first_len
    return _Chain(
        points=np.stack([root[0] + first, root[0] + first + second]),
        joints=np.stack([middle, middle + second_dir * second_len]),
        end_frame=end_frame,
        end_direction=second_dir,
        end_scale=second_len / lengths[1],
    )


def _pose_skeleton(
    body: _Body, pose: dict[str, np.ndarray], yaw: float, foreshortening: float
) -> _Skeleton:
    """Forward kinematics of the MPII tree, orthographic projection and foreshortening."""
    lengths, sizes, radii = body.lengths, body.sizes, body.radii
    shoulder_yaw = yaw + float(pose["twist"])
    lower = _rot_y(yaw)
    upper = _rot_y(shoulder_yaw) @ _rot_z(float(pose["side_lean"])) @ _rot_x(-float(pose["bend"]))
    neck_frame = upper @ _rot_z(float(pose["neck_side"])) @ _rot_x(-float(pose["neck_flex"]))
    points = np.zeros((MPII.num_keypoints, 3))
    points[_THORAX] = upper @ (_UP * lengths["torso"])
    points[_NECK] = points[_THORAX] + neck_frame @ (_UP * lengths["neck"])
    points[_HEAD_TOP] = points[_NECK] + neck_frame @ (_UP * lengths["head"])
    hand_tips, toe_tips, heels = np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((2, 2))
    joints = np.zeros((MPII.num_keypoints, 2))
    for k, side in enumerate(_SIDE_SIGNS):
        shoulder = np.array([side * sizes["shoulder_width"] / 2, sizes["shoulder_drop"], 0.0])
        points[_SHOULDERS[k]] = points[_THORAX] + upper @ shoulder
        points[_HIPS[k]] = lower @ np.array([side * sizes["hip_width"] / 2, 0.0, 0.0])
    rigid = [_PELVIS, _THORAX, _NECK, _HEAD_TOP, *_SHOULDERS, *_HIPS]
    joints[rigid] = points[rigid, :2]
    for k, side in enumerate(_SIDE_SIGNS):
        arm_angles = (float(pose[f"arm_{name}"][k]) for name in ("elevation", "azimuth", "twist"))
        arm = _pose_chain(
            upper @ _limb_frame(*arm_angles, side),
            float(pose["elbow"][k]),
            (lengths["upper_arm"], lengths["forearm"]),
            (points[_SHOULDERS[k]], joints[_SHOULDERS[k]]),
            foreshortening,
            JOINT_LIMITS["elbow"][1],
        )
        points[[_ELBOWS[k], _WRISTS[k]]] = arm.points
        joints[[_ELBOWS[k], _WRISTS[k]]] = arm.joints
        hand_length = sizes["hand_length"] * arm.end_scale
        hand_tips[k] = arm.joints[1] + arm.end_direction * hand_length
        leg_angles = (float(pose[f"leg_{name}"][k]) for name in ("elevation", "azimuth", "twist"))
        leg = _pose_chain(
            lower @ _limb_frame(*leg_angles, side),
            -float(pose["knee"][k]),
            (lengths["thigh"], lengths["shin"]),
            (points[_HIPS[k]], joints[_HIPS[k]]),
            foreshortening,
            JOINT_LIMITS["knee"][1],
        )
        points[[_KNEES[k], _ANKLES[k]]] = leg.points
        joints[[_KNEES[k], _ANKLES[k]]] = leg.joints
        foot = leg.end_frame @ _rot_x(80.0) @ _DOWN * sizes["foot_length"]
        foot_dir, foot_length = _segment_2d(foot, leg.end_direction, foreshortening)
        toe_tips[k] = leg.joints[1] + foot_dir * foot_length
        heels[k] = (
            leg.joints[1] - foot_dir * foot_length * sizes["heel_length"] / sizes["foot_length"]
        )
    half_widths = [
        0.5 * math.hypot(width * math.cos(math.radians(turn)), depth * math.sin(math.radians(turn)))
        for width, depth, turn in (
            (sizes["hip_width"] + 1.4 * radii["thigh"], sizes["hip_depth"], yaw),
            (sizes["shoulder_width"] + radii["upper_arm"], sizes["chest_depth"], shoulder_yaw),
        )
    ]
    return _Skeleton(
        joints=joints,
        depth=points[:, 2],
        hand_tips=hand_tips,
        toe_tips=toe_tips,
        heels=heels,
        torso_half_widths=(half_widths[0], half_widths[1]),
        head_yaw=shoulder_yaw + float(pose["head_turn"]),
    )


@dataclass(frozen=True)
class _Figure:
    """A skeleton placed in the image: pixel coordinates and sizes."""

    skeleton: _Skeleton
    body: _Body
    height_px: float
    joints: np.ndarray  # (16, 2) pixels
    hand_tips: np.ndarray
    toe_tips: np.ndarray
    heels: np.ndarray
    head_centre: np.ndarray
    head_axis: np.ndarray  # unit vector from the head centre towards the head top
    head_half_length: float  # pixels, along head_axis
    head_half_width: float  # pixels


def _rotation_2d(radians: float) -> np.ndarray:
    c, s = math.cos(radians), math.sin(radians)
    return np.array([[c, -s], [s, c]])


def _extent_centre(skeleton: _Skeleton, rotation: float) -> np.ndarray:
    """Centre of the bounding box of the rotated joints (body units)."""
    points = skeleton.joints @ _rotation_2d(rotation).T
    return 0.5 * (points.min(axis=0) + points.max(axis=0))


def _place(
    skeleton: _Skeleton, body: _Body, height_px: float, rotation: float, centre: np.ndarray
) -> _Figure:
    """Scale by ``height_px``, rotate by ``rotation`` (radians), centre the box at ``centre``."""
    matrix = _rotation_2d(rotation) * height_px
    offset = centre - height_px * _extent_centre(skeleton, rotation)

    def transform(points: np.ndarray) -> np.ndarray:
        return points @ matrix.T + offset

    joints = transform(skeleton.joints)
    neck, top = joints[_NECK], joints[_HEAD_TOP]
    span = float(np.linalg.norm(top - neck))
    half_width = 0.5 * body.sizes["head_width"] * height_px
    axis = (top - neck) / span if span > 1e-6 else matrix @ np.array([0.0, -1.0]) / height_px
    return _Figure(
        skeleton=skeleton,
        body=body,
        height_px=height_px,
        joints=joints,
        hand_tips=transform(skeleton.hand_tips),
        toe_tips=transform(skeleton.toe_tips),
        heels=transform(skeleton.heels),
        head_centre=0.5 * (neck + top),
        head_axis=axis,
        head_half_length=max(0.5 * span * 1.05, 1.1 * half_width),
        head_half_width=half_width,
    )


def _random_figure(
    rng: np.random.Generator, config: PoseSynthConfig, height_px: float
) -> tuple[_Skeleton, _Body]:
    body = _sample_body(rng, height_px)
    pose = _sample_pose(rng, config.pose_range)
    yaw = float(np.clip(rng.normal(0.0, config.yaw_range / 2), -config.yaw_range, config.yaw_range))
    return _pose_skeleton(body, pose, yaw, config.foreshortening), body


# ---------------------------------------------------------------------------------------------
# Rendering


def _paint_torso(
    canvas: Canvas,
    bottom: np.ndarray,
    top: np.ndarray,
    half_widths: tuple[float, float],
    materials: tuple[Texture, Texture],
    brightness: float,
) -> None:
    """A torso: tapered outline from hips to shoulders; the lowest part in ``materials[0]``."""
    hip, shoulder = half_widths
    axis = top - bottom
    length = max(float(np.hypot(*axis)), 1e-3)
    ex, ey = (axis / length) if np.hypot(*axis) > 1e-6 else (0.0, -1.0)
    below, above = 0.45 * hip, 0.12 * shoulder
    knots = np.array([-below, 0.0, 0.5 * length, 0.85 * length, length, length + above])
    widths = np.array(
        [
            0.85 * hip,
            hip,
            0.88 * min(hip, shoulder) + 0.12 * shoulder,
            0.97 * shoulder,
            shoulder,
            0.75 * shoulder,
        ]
    )
    reach = max(hip, shoulder) + below + above + 1.0
    window = canvas.window(np.minimum(bottom, top) - reach, np.maximum(bottom, top) + reach)
    if window is None:
        return
    region, xs, ys = window
    along, across = local_frame(xs, ys, bottom, ex, ey)
    width = np.interp(along, knots, widths).astype(np.float32)
    inside = np.minimum(np.minimum(width - np.abs(across), along + below), length + above - along)
    alpha = np.clip(inside + 0.5, 0.0, 1.0)
    normal = np.clip(across / width, -1.0, 1.0)
    shade = canvas.shade(-normal * ey, normal * ex, brightness)
    lower, upper = materials
    colours = np.where(
        (along < 0.12 * length)[..., None],
        lower.colours(along, across),
        upper.colours(along, across),
    )
    canvas.paint(region, alpha, colours * shade[..., None])


def _paint_head(canvas: Canvas, figure: _Figure, brightness: float) -> None:
    """Head ellipse with hair and a face whose features move with the head's yaw."""
    centre, axis = figure.head_centre, figure.head_axis
    half_u, half_v = max(figure.head_half_length, 0.5), max(figure.head_half_width, 0.5)
    reach = 1.2 * max(half_u, half_v) + 1.0
    window = canvas.window(centre - reach, centre + reach)
    if window is None:
        return
    region, xs, ys = window
    ex, ey = float(axis[0]), float(axis[1])
    u, v = local_frame(xs, ys, centre, ex, ey)
    nu = u / half_u  # towards the head top
    nv = v / half_v  # towards the person's left when facing the camera
    rho, alpha = ellipse_alpha(nu, nv, half_u, half_v)
    yaw = math.radians(figure.skeleton.head_yaw)
    ring = np.sqrt(np.clip(1.0 - nu * nu, 1e-4, 1.0))
    longitude = np.arcsin(np.clip(nv / ring, -1.0, 1.0))
    off_face = np.abs(np.angle(np.exp(1j * (longitude - yaw)))) > math.radians(80.0)
    hair = (nu > figure.body.hairline - 0.35 * nv * nv) | off_face
    skin = figure.body.skin.first
    colours = np.where(hair[..., None], figure.body.hair, skin)
    scale = min(half_u, half_v)

    def feature(u0: float, longitude0: float, size_u: float, size_v: float) -> np.ndarray:
        v0 = math.sin(longitude0) * math.sqrt(max(1.0 - u0 * u0, 0.0))
        du, dv = (nu - u0) / size_u, (nv - v0) / size_v
        return np.clip((1.0 - np.sqrt(du * du + dv * dv)) * scale * min(size_u, size_v) + 0.5, 0, 1)

    eye_colour = np.array([0.08, 0.06, 0.06], dtype=np.float32)
    for offset in (-0.55, 0.55):
        eye_longitude = yaw + offset
        if math.cos(eye_longitude) > 0.2:
            mask = feature(0.05, eye_longitude, 0.16, 0.17 * math.cos(eye_longitude) + 0.05)
            colours = colours + mask[..., None] * (eye_colour - colours)
    nose_alpha = np.zeros_like(alpha)
    if math.cos(yaw) > -0.1:
        nose_alpha = feature(-0.3, yaw, 0.22, 0.2) * np.float32(1.0 if math.cos(yaw) < 0.8 else 0.6)
        nose_alpha = nose_alpha * (rho < 1.25)
        colours = colours + nose_alpha[..., None] * (skin * 0.72 - colours)
    if math.cos(yaw) > 0.25:
        mouth = feature(-0.62, yaw, 0.1, 0.3 * math.cos(yaw))
        colours = colours + mouth[..., None] * (np.array([0.55, 0.18, 0.18], np.float32) - colours)
    shade = canvas.shade(0.8 * (nu * ex - nv * ey), 0.8 * (nu * ey + nv * ex), brightness)
    canvas.paint(
        region, np.maximum(alpha, nose_alpha * (math.sin(yaw) ** 2)), colours * shade[..., None]
    )


def _draw_figure(canvas: Canvas, figure: _Figure) -> None:
    """Paint a figure's parts far to near (painter's algorithm); far parts are darker."""
    skeleton, body, joints, radii = figure.skeleton, figure.body, figure.joints, figure.body.radii
    scale, depth = figure.height_px, skeleton.depth
    torso_depth = 0.5 * (depth[_PELVIS] + depth[_THORAX])

    def brightness(z: float) -> float:
        return 1.0 - 0.3 * float(np.clip((z - torso_depth) / 0.12, 0.0, 1.0))

    sleeve = (body.skin, body.top, body.top)[body.sleeves]
    forearm = body.top if body.sleeves == 2 else body.skin
    shin = body.bottom if body.long_trousers else body.skin
    # (depth, start, end, radius name, taper, material) of every capsule.
    capsules = [(torso_depth + 0.02, joints[_THORAX], joints[_NECK], "neck", 1.0, body.skin)]
    for k in range(2):
        s, e, w = _SHOULDERS[k], _ELBOWS[k], _WRISTS[k]
        h, n, a = _HIPS[k], _KNEES[k], _ANKLES[k]
        capsules += [
            (0.5 * (depth[s] + depth[e]), joints[s], joints[e], "upper_arm", 0.85, sleeve),
            (0.5 * (depth[e] + depth[w]), joints[e], joints[w], "forearm", 0.8, forearm),
            (depth[w] - 1e-3, joints[w], figure.hand_tips[k], "hand", 0.8, body.skin),
            (0.5 * (depth[h] + depth[n]), joints[h], joints[n], "thigh", 0.75, body.bottom),
            (0.5 * (depth[n] + depth[a]), joints[n], joints[a], "shin", 0.7, shin),
            (depth[a] - 1e-3, figure.heels[k], figure.toe_tips[k], "foot", 0.9, body.shoes),
        ]
    parts: list[tuple[float, Callable[[], None]]] = [
        (
            z,
            partial(
                canvas.capsule,
                start,
                end,
                (radii[name] * scale, radii[name] * taper * scale),
                material,
                brightness(z),
            ),
        )
        for z, start, end, name, taper, material in capsules
    ]
    half_widths = tuple(half * scale for half in skeleton.torso_half_widths)
    torso = partial(
        _paint_torso,
        canvas,
        joints[_PELVIS],
        joints[_THORAX],
        half_widths,
        (body.bottom, body.top),
        brightness(torso_depth),
    )
    parts.append((torso_depth + 0.03, torso))
    parts.append(
        (depth[_NECK] - 0.06, partial(_paint_head, canvas, figure, brightness(depth[_NECK])))
    )
    for _, paint in sorted(parts, key=lambda part: -part[0]):
        paint()


def _draw_background(
    canvas: Canvas, rng: np.random.Generator, clutter: float, height_px: float
) -> None:
    """Gradient base, then (with clutter) a texture, random shapes and limb-like capsules."""
    size = canvas.size
    base = hsv_colour(rng) * 0.8 + 0.1
    other = np.clip(base + rng.normal(0.0, 0.08, 3), 0.0, 1.0).astype(np.float32)
    direction = rng.uniform(0.0, 2.0 * math.pi)
    coords = np.arange(size, dtype=np.float32) / size
    ramp = coords[None, :] * math.cos(direction) + coords[:, None] * math.sin(direction)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    canvas.pixels[:] = base + ramp[..., None] * (other - base)
    if clutter <= 0.0:
        return
    if rng.random() < clutter:
        material = _random_material(rng, size * rng.uniform(0.03, 0.15))
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
        strength = rng.uniform(0.2, 0.8) * clutter
        canvas.pixels += strength * (material.colours(xs, ys) - canvas.pixels)
    image = Image.fromarray(quantize(canvas.pixels * 255.0))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.poisson(20.0 * clutter)):
        colour = tuple(int(c) for c in (hsv_colour(rng) * 255))
        x, y = rng.uniform(-0.1, 1.1, 2) * size
        w, h = rng.uniform(0.03, 0.35, 2) * size
        kind = rng.integers(4)
        if kind == 0:
            draw.rectangle((x, y, x + w, y + h), fill=colour)
        elif kind == 1:
            draw.ellipse((x, y, x + w, y + h), fill=colour)
        elif kind == 2:
            corners = rng.integers(3, 8)
            angles = np.sort(rng.uniform(0.0, 2.0 * math.pi, corners))
            radii = max(w, h) * rng.uniform(0.4, 1.0, corners)
            draw.polygon(
                [
                    (x + r * math.cos(t), y + r * math.sin(t))
                    for r, t in zip(radii, angles, strict=True)
                ],
                fill=colour,
            )
        else:
            draw.line(
                (x, y, x + w * rng.choice((-1, 1)), y + h),
                fill=colour,
                width=max(1, int(rng.uniform(0.005, 0.03) * size)),
            )
    canvas.pixels[:] = np.asarray(image, dtype=np.float32) / 255.0
    for _ in range(rng.poisson(6.0 * clutter)):
        material = (
            _skin_material(rng) if rng.random() < 0.4 else _random_material(rng, height_px * 0.035)
        )
        start = rng.uniform(0.0, 1.0, 2) * size
        radius = rng.uniform(0.02, 0.055) * height_px
        pieces = 2 if rng.random() < 0.5 else 1
        for _ in range(pieces):
            angle = rng.uniform(0.0, 2.0 * math.pi)
            end = start + rng.uniform(0.1, 0.28) * height_px * np.array(
                [math.cos(angle), math.sin(angle)]
            )
            canvas.capsule(
                start,
                end,
                (radius, radius * rng.uniform(0.7, 1.0)),
                material,
                rng.uniform(0.8, 1.1),
            )
            start, radius = end, radius * 0.8


def _draw_occluder(
    canvas: Canvas, rng: np.random.Generator, target: np.ndarray, size_px: float
) -> None:
    """A rectangle, ellipse, bar or textured patch centred near ``target``."""
    angle = rng.uniform(0.0, math.pi)
    axis = np.array([math.cos(angle), math.sin(angle)])
    centre = target + rng.normal(0.0, 0.25 * size_px, 2)
    kind = rng.integers(4)
    if kind == 2:  # a bar: long and thin
        half_axes = (size_px * rng.uniform(1.0, 2.0), size_px * rng.uniform(0.08, 0.2))
    else:
        half_axes = (0.5 * size_px * rng.uniform(0.6, 1.4), 0.5 * size_px * rng.uniform(0.6, 1.4))
    if kind == 3:
        material = _random_material(rng, size_px * rng.uniform(0.1, 0.4))
    else:
        material = Texture.solid(hsv_colour(rng))
    canvas.ellipse(centre, axis, half_axes, material, rng.uniform(0.8, 1.15), box=kind != 1)


@dataclass(frozen=True)
class _Sample:
    image: np.ndarray
    joints: np.ndarray
    valid: np.ndarray
    occluded: np.ndarray
    head_size: float
    torso_size: float


def _distractor_centre(rng: np.random.Generator, size: int) -> np.ndarray:
    """Centre for a distractor: offset from the image centre, mostly to the side."""
    if rng.random() < 0.75:
        angle = rng.choice((0.0, math.pi)) + rng.normal(0.0, 0.35)
    else:
        angle = rng.uniform(0.0, 2.0 * math.pi)
    distance = rng.uniform(0.4, 0.75) * size
    return (size - 1) / 2 + distance * np.array([math.cos(angle), math.sin(angle)])


def _partial_figure(
    rng: np.random.Generator, config: PoseSynthConfig, size: int, main_height: float
) -> _Figure | None:
    """A figure placed so that one limb enters from an image edge while its pelvis stays outside."""
    height = main_height * rng.uniform(0.8, 1.4)
    skeleton, body = _random_figure(rng, config, height)
    anchor = int(rng.choice(_WRISTS + _ELBOWS + _KNEES + _ANKLES + _SHOULDERS + (_HEAD_TOP,)))
    edge = rng.integers(4)  # inward normal: +x, -x, +y, -y
    inward = np.array(((1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0))[edge])
    reach_vector = skeleton.joints[anchor] - skeleton.joints[_PELVIS]
    reach = float(np.linalg.norm(reach_vector)) * height
    if reach < 0.05 * size:
        return None
    rotation = (
        math.atan2(inward[1], inward[0])
        - math.atan2(reach_vector[1], reach_vector[0])
        + rng.normal(0.0, 0.4)
    )
    inward_reach = float(_rotation_2d(rotation) @ reach_vector @ inward) * height
    depth = min(rng.uniform(0.05, 0.3) * size, inward_reach - 0.03 * size)
    if depth <= 0.02 * size:
        return None
    along = rng.uniform(0.1, 0.9) * size
    border = 0.0 if edge in (0, 2) else size - 1.0
    anchor_px = (
        np.array([border + inward[0] * depth, along])
        if edge < 2
        else np.array([along, border + inward[1] * depth])
    )
    figure = _place(skeleton, body, height, rotation, np.zeros(2))
    return _place(skeleton, body, height, rotation, anchor_px - figure.joints[anchor])


def _render_sample(rng: np.random.Generator, size: int, config: PoseSynthConfig) -> _Sample:
    """One image: background, people behind, the main person, people in front, occluders."""
    light_angle = rng.uniform(0.0, 2.0 * math.pi)
    canvas = Canvas(
        np.zeros((size, size, 3), dtype=np.float32),
        np.array([math.cos(light_angle), math.sin(light_angle)], dtype=np.float32),
    )
    main_height = size * rng.uniform(*config.scale_range)
    main_skeleton, main_body = _random_figure(rng, config, main_height)
    rotation_limit = math.radians(config.rotation)
    rotation = float(np.clip(rng.normal(0.0, rotation_limit / 2), -rotation_limit, rotation_limit))
    centre = (size - 1) / 2 + rng.normal(0.0, config.centre_jitter * size, 2)
    main = _place(main_skeleton, main_body, main_height, rotation, centre)

    others: list[tuple[bool, _Figure]] = []
    for _ in range(min(rng.poisson(config.distractors), 10)):
        height = main_height * rng.uniform(0.8, 1.15)
        skeleton, body = _random_figure(rng, config, height)
        figure = _place(
            skeleton,
            body,
            height,
            rng.normal(0.0, rotation_limit / 3),
            _distractor_centre(rng, size),
        )
        others.append((rng.random() < 0.2, figure))
    for _ in range(min(rng.poisson(config.partial_bodies), 10)):
        in_front = rng.random() < 0.25
        figure = _partial_figure(rng, config, size, main_height)
        if figure is not None:
            others.append((in_front, figure))

    _draw_background(canvas, rng, config.clutter, main_height)
    for in_front, figure in others:
        if not in_front:
            _draw_figure(canvas, figure)
    _draw_figure(canvas, main)
    canvas.track_coverage = True
    for in_front, figure in others:
        if in_front:
            _draw_figure(canvas, figure)
    for _ in range(min(rng.poisson(config.occlusion), 10)):
        target = main.joints[rng.integers(MPII.num_keypoints)]
        size_px = config.occluder_size * main_height * rng.uniform(0.5, 1.5)
        _draw_occluder(canvas, rng, target, size_px)

    joints = main.joints.astype(np.float32)
    valid = inside_image(joints, size, margin=_VALID_MARGIN)
    occluded = valid & covered(canvas.coverage, joints)

    rgb = canvas.pixels * np.float32(rng.uniform(0.85, 1.15))
    noise_std = config.noise * 0.06 * rng.uniform(0.3, 1.0)
    if noise_std > 0:
        rgb = rgb + rng.normal(0.0, noise_std, rgb.shape).astype(np.float32)
    image = quantize(rgb * 255.0)
    blur_radius = config.blur * rng.uniform(0.0, 1.2) * size / 128
    if blur_radius > 0.2:
        image = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(blur_radius)))

    half_u, half_v = main.head_half_length, main.head_half_width
    axis = main.head_axis
    box_half = np.sqrt((half_u * axis) ** 2 + (half_v * axis[::-1]) ** 2)
    head_size = metrics.MPII_HEAD_FACTOR * 2.0 * float(np.linalg.norm(box_half))
    torso_size = float(np.linalg.norm(main.joints[_SHOULDERS[0]] - main.joints[_HIPS[1]]))
    return _Sample(image, joints, valid, occluded, head_size, torso_size)
