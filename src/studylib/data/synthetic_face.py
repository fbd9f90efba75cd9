"""Synthetic faces with the 68 landmarks of 300-W, rendered from a parametric 3-D template.

The generator is the face track's built-in data tier (design notes, "Data tiers"): it needs no
download, is bit-identical for the same arguments, and its difficulty knobs let the study draw
robustness curves (NME against occlusion, pose, clutter).

API: :class:`FaceSynthConfig` (the knobs), :func:`generate_faces` (a :class:`KeypointSet`) and
:func:`render_face` (one face as a :class:`FaceRender`, with what the set does not keep: its
pose in degrees, the two causes of occlusion apart, the occluder mask and, on request, the same
image without occluders).

Generative model
----------------
Each image ``i`` of ``generate_faces(num_images, image_size, seed, config)`` is drawn from
``np.random.SeedSequence([seed, i])`` alone, so image ``i`` does not depend on ``num_images``.
That sequence is split into independent streams (geometry, appearance, background, occluders,
sensor), and every background shape and every occluder has its own sub-stream. A knob therefore
changes only what it controls: raising ``occlusion`` adds occluders to the *same* faces on the
*same* backgrounds, raising ``pose_range`` turns the same people further, and so on.

1. **Shape.** :data:`FACE_TEMPLATE` is a mean 68-point 3-D face in the 300-W order, in units of
   the outer-eye-corner distance (x to the image right, y down, z towards the camera; point 27,
   the top of the nose bridge, at the origin). Its x and y are the symmetrised Procrustes mean of
   near-frontal 300-W training annotations (AFW and HELEN), with the inner lips closed; its depth
   follows the proportions of the generic 3-D head models used for head-pose estimation (nose tip
   a third of the inter-ocular distance in front of the eye corners, jaw contour wrapping back
   to half of it behind them). Identity is ``template + sum_m c_m * mode_m`` over
   :data:`IDENTITY_MODES` (face width, jaw shape, face length, eye distance, eye size, nose
   length, nose width, mouth width, lip thickness, brow height, eye tilt) with
   ``c_m ~ N(0, 1)`` clipped to +-2.5 and scaled by ``identity``, plus a small per-point
   asymmetry. Expression adds :data:`EXPRESSION_MODES` (jaw open, smile or frown of the mouth,
   brow raise, brow frown, closure of each eye) with amounts scaled by ``expression``.
2. **Pose and camera.** The shape is rotated by yaw (about the vertical axis; positive turns the
   nose towards the image right), pitch (positive looks up) and roll (positive turns clockwise in
   the image), each uniform in +-``pose_range`` times 50, 25 and 30 degrees, and projected in
   perspective from a camera 5 to 12 inter-ocular distances away. The landmarks' bounding box is
   scaled to 0.5-0.7 of the image (sqrt of area, measured on the frontal shape so the scale does
   not depend on pose) and centred with a jitter of up to 6% of the image, like a 300-W crop.
3. **Rendering** (numpy and Pillow on the shared core :mod:`studylib.data.render`, drawn at
   twice the resolution and box-filtered down). A textured background with ``clutter`` times 24
   shapes; shoulders and neck; ears; the head, whose skin region is the convex hull of the
   landmarks and a projected cranium ellipsoid (so the far cheek stays skin when the head
   turns), shaded by a random light with normals from a blurred silhouette; eye sockets, nose
   and lip shadows; hair in one of :data:`HAIR_STYLES` and random colours (it may cover the
   forehead down to the brows, never a landmark); brows, eyes (white, iris, pupil, lids),
   nostrils and lips (with teeth and mouth cavity when open). Then the occluders, a global
   illumination change, a random Gaussian blur of up to ``blur`` pixels and Gaussian pixel
   noise of standard deviation ``noise`` (a fraction of the 0-255 range).
4. **Occluders** (drawn last, over everything). Their number is Poisson with mean
   ``occlusion`` (at most :data:`MAX_OCCLUDERS`); each is one of ``occluder_kinds``: ``"hand"``
   (a palm with four fingers and a thumb in a skin tone), ``"bar"`` (sunglasses, a scarf or
   mask-like band across the face, or a stick) or ``"patch"`` (a textured polygon, ellipse or
   rectangle). Its size is ``occluder_size`` times the face size (sqrt of the landmarks' box
   area), times a random factor in [0.7, 1.3], and it is placed over a random landmark.

Labels
------
``joints`` are the projected 3-D landmarks in pixel-centre coordinates (the convention of
:mod:`studylib.data.keypoints`). The template is *3-D consistent*: a jaw point stays on the
same spot of the jaw when the head turns (as in 300W-LP and AFLW2000-3D), instead of sliding to
the visible silhouette as 300-W's annotators did. ``occluded[k]`` is true when landmark ``k``'s
pixel is covered by an occluder and, if ``self_occlusion`` is on, also when the face itself
hides it: the landmark's surface normal (a fixed per-landmark table, :data:`LANDMARK_NORMALS`)
has turned more than about 15 degrees past the silhouette, i.e. the angle between the normal and
the ray to the camera exceeds about 105 degrees. Under yaw this hides the far end of the jaw
contour first (points 0-3 or 13-16 beyond about 20 degrees of yaw, more of the jaw further on);
the margin keeps points that sit right on the silhouette, where an annotator would still see
them, visible. ``valid[k]`` is true when the landmark lies inside the image,
:func:`~studylib.data.render.inside_image`: x and y in ``[-0.5, size - 0.5]``.
The norms are ``"interocular"`` (distance between points 36 and 45) and ``"box"`` (sqrt of the
area of the landmarks' bounding box, AFLW-style).

Knobs (:class:`FaceSynthConfig`)
--------------------------------
``occlusion`` expected occluders per face; ``occluder_size`` occluder size as a fraction of the
face; ``occluder_kinds`` the kinds drawn from; ``self_occlusion`` whether self-occluded landmarks
count as occluded; ``pose_range`` 0 (frontal, upright) to 1 (yaw +-50, pitch +-25, roll +-30
degrees); ``expression`` 0 (neutral) to 1 (full range); ``identity`` scale of the shape modes
(0: every face has the template's shape); ``clutter`` 0 (smooth background) to 1 (busy
textures and 24 shapes); ``lighting`` 0 (flat, white light) to 1 (strong directional shading and
colour casts); ``blur`` largest Gaussian blur sigma in output pixels; ``noise`` pixel-noise
standard deviation as a fraction of 255.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter
from scipy.spatial import ConvexHull

from studylib.data.dataset import KeypointSet
from studylib.data.keypoints import FACE68
from studylib.data.render import (
    MIN_IMAGE_SIZE,
    Canvas,
    Texture,
    check_choices,
    check_config,
    check_count,
    check_flag,
    check_generator_args,
    check_knobs,
    covered,
    dome_shading,
    ellipse_points,
    flat,
    inside_image,
    muted_colour,
    pick,
    quantize,
    random_polygon,
    spline,
    upsampled_noise,
)
from studylib.metrics import inter_ocular_distance

#: Occluder kinds :class:`FaceSynthConfig` accepts.
OCCLUDER_KINDS: tuple[str, ...] = ("hand", "bar", "patch")

#: Hair styles and their probabilities.
HAIR_STYLES: dict[str, float] = {
    "bald": 0.07,
    "short": 0.30,
    "receding": 0.10,
    "bangs": 0.18,
    "bob": 0.15,
    "long": 0.20,
}

#: Most occluders one face can get (the Poisson count is capped here).
MAX_OCCLUDERS = 6

#: Background shapes at ``clutter = 1`` (the count grows linearly with ``clutter``).
MAX_CLUTTER_SHAPES = 24

#: Limits of yaw, pitch and roll in degrees at ``pose_range = 1``.
POSE_LIMITS_DEG = (50.0, 25.0, 30.0)

#: Drawing resolution relative to the output (anti-aliasing by box filtering).
SUPERSAMPLING = 2

# fmt: off
#: Mean 3-D face, (68, 3): x right, y down, z towards the camera, in units of the distance
#: between the outer eye corners (points 36 and 45); 300-W order (0-based).
FACE_TEMPLATE = np.array([
    # jaw 0-16: from the image-left end of the contour (subject's right) over the chin
    (-0.790, 0.025, -0.52), (-0.774, 0.238, -0.47), (-0.746, 0.444, -0.40),
    (-0.706, 0.645, -0.31), (-0.628, 0.831, -0.20), (-0.506, 0.992, -0.08),
    (-0.355, 1.123, 0.02), (-0.189, 1.226, 0.10), (0.000, 1.256, 0.14),
    (0.189, 1.226, 0.10), (0.355, 1.123, 0.02), (0.506, 0.992, -0.08),
    (0.628, 0.831, -0.20), (0.706, 0.645, -0.31), (0.746, 0.444, -0.40),
    (0.774, 0.238, -0.47), (0.790, 0.025, -0.52),
    # brows 17-21 (image left, outer to inner) and 22-26 (inner to outer)
    (-0.668, -0.109, -0.06), (-0.567, -0.203, 0.03), (-0.424, -0.232, 0.09),
    (-0.275, -0.213, 0.12), (-0.134, -0.165, 0.13),
    (0.134, -0.165, 0.13), (0.275, -0.213, 0.12), (0.424, -0.232, 0.09),
    (0.567, -0.203, 0.03), (0.668, -0.109, -0.06),
    # nose bridge 27-30 (top to tip), lower nose 31-35 (left ala, nostrils, subnasale, right ala)
    (0.000, 0.000, 0.12), (0.000, 0.137, 0.18), (0.000, 0.272, 0.25), (0.000, 0.410, 0.33),
    (-0.166, 0.499, 0.13), (-0.085, 0.524, 0.18), (0.000, 0.548, 0.21),
    (0.085, 0.524, 0.18), (0.166, 0.499, 0.13),
    # image-left eye 36-41 (outer corner, upper lid, inner corner, lower lid)
    (-0.500, 0.023, 0.00), (-0.410, -0.026, 0.05), (-0.303, -0.024, 0.07),
    (-0.210, 0.045, 0.06), (-0.309, 0.061, 0.06), (-0.416, 0.059, 0.04),
    # image-right eye 42-47 (inner corner, upper lid, outer corner, lower lid)
    (0.210, 0.045, 0.06), (0.303, -0.024, 0.07), (0.410, -0.026, 0.05),
    (0.500, 0.023, 0.00), (0.416, 0.059, 0.04), (0.309, 0.061, 0.06),
    # outer lips 48-59 (left corner, upper lip, right corner, lower lip)
    (-0.310, 0.744, 0.02), (-0.196, 0.698, 0.10), (-0.080, 0.675, 0.15), (0.000, 0.694, 0.16),
    (0.080, 0.675, 0.15), (0.196, 0.698, 0.10), (0.310, 0.744, 0.02),
    (0.201, 0.854, 0.09), (0.086, 0.903, 0.13), (0.000, 0.912, 0.14),
    (-0.086, 0.903, 0.13), (-0.201, 0.854, 0.09),
    # inner lips 60-67 (left corner, upper inner lip, right corner, lower inner lip)
    (-0.263, 0.749, 0.05), (-0.081, 0.758, 0.12), (0.000, 0.765, 0.13), (0.081, 0.758, 0.12),
    (0.263, 0.749, 0.05), (0.082, 0.762, 0.12), (0.000, 0.769, 0.13), (-0.082, 0.762, 0.12),
], dtype=np.float64)
# fmt: on
FACE_TEMPLATE.setflags(write=False)

_JAW = np.arange(0, 17)
_BROWS = np.arange(17, 27)
_NOSE = np.arange(27, 36)
_LOWER_NOSE = np.arange(31, 36)
_EYES = np.arange(36, 48)
_LEFT_EYE = np.arange(36, 42)
_RIGHT_EYE = np.arange(42, 48)
_MOUTH = np.arange(48, 68)
_OUTER_UPPER_LIP = np.arange(48, 55)
_OUTER_LOWER_LIP = np.array([54, 55, 56, 57, 58, 59, 48])
_INNER_UPPER_LIP = np.arange(60, 65)
_INNER_LOWER_LIP = np.array([64, 65, 66, 67, 60])

#: Cranium ellipsoid (centre and semi-axes, template units): the head's silhouette above the jaw.
_CRANIUM_CENTRE = np.array([0.0, -0.30, -0.75])
_CRANIUM_AXES = np.array([0.86, 1.05, 0.90])
#: Point the head rotates about (roughly the top of the neck).
_PIVOT = np.array([0.0, 0.5, -0.45])


def _side(points: np.ndarray) -> np.ndarray:
    """-1 for points on the image-left half of the template, +1 on the right, 0 on the midline."""
    return np.sign(np.round(points[:, 0], 3))


def _identity_modes() -> dict[str, np.ndarray]:
    """Linear shape modes (68, 3): the displacement at coefficient 1 (about one s.d.)."""
    t = FACE_TEMPLATE
    side = _side(t)
    modes = {
        name: np.zeros_like(t)
        for name in (
            "face_width",
            "jaw_shape",
            "face_length",
            "eye_distance",
            "eye_size",
            "nose_length",
            "nose_width",
            "mouth_width",
            "lip_thickness",
            "brow_height",
            "eye_tilt",
        )
    }
    modes["face_width"][_JAW, 0] = 0.07 * t[_JAW, 0]
    modes["face_width"][_BROWS, 0] = 0.03 * t[_BROWS, 0]
    jaw_weight = np.array([0, 0, 0, 0.4, 0.9, 1.0, 0.8, 0.4, 0, 0.4, 0.8, 1.0, 0.9, 0.4, 0, 0, 0])
    modes["jaw_shape"][_JAW, 0] = 0.06 * jaw_weight * side[_JAW]
    lower = np.clip((t[_JAW, 1] - 0.4) / 0.85, 0.0, 1.0)
    modes["face_length"][_JAW, 1] = 0.09 * lower
    modes["face_length"][_MOUTH, 1] = 0.04
    modes["face_length"][_LOWER_NOSE, 1] = 0.015
    modes["eye_distance"][_EYES, 0] = 0.035 * side[_EYES]
    modes["eye_distance"][_BROWS, 0] = 0.02 * side[_BROWS]
    for eye in (_LEFT_EYE, _RIGHT_EYE):
        modes["eye_size"][eye] = 0.14 * (t[eye] - t[eye].mean(axis=0)) * np.array([1, 1, 0])
    modes["eye_tilt"][[36, 45], 1] = -0.02
    modes["eye_tilt"][[39, 42], 1] = 0.02
    modes["nose_length"][_NOSE, 1] = 0.07 * t[_NOSE, 1] / t[33, 1]
    modes["nose_length"][[29, 30, 32, 33, 34], 2] = 0.03
    modes["nose_width"][_LOWER_NOSE, 0] = 0.2 * t[_LOWER_NOSE, 0]
    modes["mouth_width"][_MOUTH, 0] = 0.1 * t[_MOUTH, 0]
    modes["lip_thickness"][[49, 50, 51, 52, 53], 1] = -0.02
    modes["lip_thickness"][[55, 56, 57, 58, 59], 1] = 0.03
    modes["brow_height"][_BROWS, 1] = -0.035
    for mode in modes.values():
        mode.setflags(write=False)
    return modes


def _expression_modes() -> dict[str, np.ndarray]:
    """Linear expression modes (68, 3): the displacement at full strength."""
    t = FACE_TEMPLATE
    side = _side(t)
    modes = {
        name: np.zeros_like(t)
        for name in (
            "jaw_open",
            "smile",
            "brow_raise",
            "brow_frown",
            "close_left_eye",
            "close_right_eye",
        )
    }
    jaw_drop = np.array([0, 0, 0, 0.02, 0.07, 0.13, 0.2, 0.26, 0.28])
    modes["jaw_open"][_JAW, 1] = np.concatenate([jaw_drop, jaw_drop[-2::-1]])
    modes["jaw_open"][_JAW, 2] = -0.2 * modes["jaw_open"][_JAW, 1]
    modes["jaw_open"][[55, 56, 57, 58, 59, 65, 66, 67], 1] = 0.27
    modes["jaw_open"][[48, 54], 1] = 0.07
    modes["jaw_open"][[60, 64], 1] = 0.09
    modes["jaw_open"][[61, 62, 63], 1] = -0.01
    modes["jaw_open"][[55, 56, 57, 58, 59, 65, 66, 67], 2] = -0.04
    smile = {
        48: (0.07, -0.07),
        60: (0.06, -0.06),
        49: (0.03, -0.025),
        59: (0.03, -0.04),
        58: (0.01, -0.015),
        61: (0.02, -0.02),
        67: (0.02, -0.02),
        50: (0.01, -0.01),
    }
    for left, (dx, dy) in smile.items():
        right = int(FACE68.flip_permutation()[left])
        modes["smile"][left, :2] = (-dx, dy)
        modes["smile"][right, :2] = (dx, dy)
    modes["smile"][[57, 66], 1] = -0.01
    modes["brow_raise"][_BROWS, 1] = -0.06 - 0.05 * (1 - np.abs(t[_BROWS, 0]) / 0.67)
    modes["brow_raise"][[37, 38, 43, 44], 1] = -0.012
    modes["brow_frown"][[20, 21, 22, 23], 1] = (0.03, 0.05, 0.05, 0.03)
    modes["brow_frown"][[20, 21, 22, 23], 0] = -0.03 * side[[20, 21, 22, 23]]
    for upper, lower in ((37, 41), (38, 40)):
        modes["close_left_eye"][upper] = t[lower] - t[upper] - (0, 0.004, 0)
    for upper, lower in ((43, 47), (44, 46)):
        modes["close_right_eye"][upper] = t[lower] - t[upper] - (0, 0.004, 0)
    for mode in modes.values():
        mode.setflags(write=False)
    return modes


def _landmark_normals() -> np.ndarray:
    """Approximate outward surface normal of each landmark (68, 3), unit length."""
    t = FACE_TEMPLATE
    normals = np.zeros_like(t)
    # Jaw: the contour's outward in-plane normal, tilted towards the camera by an angle that
    # grows from the frontal silhouette (points 0 and 16) to the chin.
    tangent = np.gradient(t[_JAW, :2], axis=0)
    outward = np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)
    outward *= np.sign(np.sum(outward * (t[_JAW, :2] - (0.0, 0.3)), axis=1))[:, None]
    outward /= np.linalg.norm(outward, axis=1, keepdims=True)
    tilt = np.radians([5, 8, 11, 15, 20, 28, 38, 48, 55, 48, 38, 28, 20, 15, 11, 8, 5])
    normals[_JAW, :2] = outward * np.cos(tilt)[:, None]
    normals[_JAW, 2] = np.sin(tilt)
    # Elsewhere: forward, turning sideways with distance from the midline (per-part gain) and
    # up or down where the surface faces that way.
    parts = {
        "brows": (_BROWS, 1.1, -0.3),
        "bridge": (np.arange(27, 31), 0.0, 0.0),
        "lower_nose": (_LOWER_NOSE, 4.0, 0.4),
        "eyes": (_EYES, 1.3, 0.0),
        "upper_lip": (np.arange(48, 55), 1.6, -0.1),
        "lower_lip": (np.arange(55, 60), 1.6, 0.3),
        "inner_lips": (np.arange(60, 68), 1.2, 0.0),
    }
    for index, lateral_gain, vertical in parts.values():
        normals[index, 0] = lateral_gain * t[index, 0]
        normals[index, 1] = vertical
        normals[index, 2] = 1.0
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    normals.setflags(write=False)
    return normals


#: Identity shape modes (name -> (68, 3) displacement at coefficient 1).
IDENTITY_MODES: dict[str, np.ndarray] = _identity_modes()
#: Expression modes (name -> (68, 3) displacement at full strength).
EXPRESSION_MODES: dict[str, np.ndarray] = _expression_modes()
#: Per-landmark outward normals of the template, used for the self-occlusion labels.
LANDMARK_NORMALS: np.ndarray = _landmark_normals()

#: A landmark is self-occluded when cos(angle between its normal and the view ray) is below this
#: (-0.25: turned about 15 degrees past the silhouette).
_SELF_OCCLUSION_COS = -0.25


def _box_size(points: np.ndarray) -> float:
    """sqrt(width * height) of the bounding box of (K, 2+) points."""
    extent = points[:, :2].max(axis=0) - points[:, :2].min(axis=0)
    return float(np.sqrt(extent[0] * extent[1]))


_TEMPLATE_BOX = _box_size(FACE_TEMPLATE)


@dataclass(frozen=True)
class FaceSynthConfig:
    """Difficulty knobs of the synthetic faces (see the module docstring for the model).

    Attributes:
        occlusion: expected number of occluders per face (Poisson mean), in [0, 4].
        occluder_size: occluder size as a fraction of the face size, in [0.05, 1.5].
        occluder_kinds: the occluder kinds drawn from, a non-empty subset of
            :data:`OCCLUDER_KINDS`.
        self_occlusion: count landmarks the face itself hides (far side under yaw) as occluded.
        pose_range: 0 (frontal) to 1 (yaw +-50, pitch +-25, roll +-30 degrees).
        expression: 0 (neutral) to 1 (full expression range).
        identity: scale of the identity shape modes, in [0, 2].
        clutter: background clutter, 0 (smooth) to 1 (busy).
        lighting: strength of directional shading and colour casts, 0 to 1.
        blur: largest Gaussian blur sigma in output pixels, in [0, 3].
        noise: standard deviation of the pixel noise as a fraction of 255, in [0, 0.5].
    """

    occlusion: float = 0.6
    occluder_size: float = 0.4
    occluder_kinds: tuple[str, ...] = OCCLUDER_KINDS
    self_occlusion: bool = True
    pose_range: float = 0.6
    expression: float = 0.6
    identity: float = 1.0
    clutter: float = 0.5
    lighting: float = 0.6
    blur: float = 0.6
    noise: float = 0.02

    def __post_init__(self) -> None:
        check_knobs(self, _KNOB_RANGES)
        kinds = check_choices("FaceSynthConfig.occluder_kinds", self.occluder_kinds, OCCLUDER_KINDS)
        check_flag("FaceSynthConfig.self_occlusion", self.self_occlusion)
        object.__setattr__(self, "occluder_kinds", kinds)

    def as_dict(self) -> dict:
        """The knobs as a JSON-serialisable dict (tuples become lists)."""
        values = asdict(self)
        values["occluder_kinds"] = list(self.occluder_kinds)
        return values


#: Accepted range of each numeric knob of :class:`FaceSynthConfig`.
_KNOB_RANGES: dict[str, tuple[float, float]] = {
    "occlusion": (0.0, 4.0),
    "occluder_size": (0.05, 1.5),
    "pose_range": (0.0, 1.0),
    "expression": (0.0, 1.0),
    "identity": (0.0, 2.0),
    "clutter": (0.0, 1.0),
    "lighting": (0.0, 1.0),
    "blur": (0.0, 3.0),
    "noise": (0.0, 0.5),
}

#: The default knobs (a module constant so that function defaults are never mutable calls).
DEFAULT_FACE_CONFIG = FaceSynthConfig()


@dataclass(frozen=True)
class FaceRender:
    """One rendered face.

    Attributes:
        image: (H, W, 3) uint8 RGB.
        landmarks: (68, 2) float64 (x, y) pixels, pixel-centre convention.
        occluded_by_occluder: (68,) bool, the landmark's pixel is covered by an occluder.
        self_occluded: (68,) bool, the face itself hides the landmark (far side of the head).
        occluder_mask: (H, W) float32 in [0, 1], occluder coverage at the output resolution.
        pose: (yaw, pitch, roll) in degrees; yaw > 0 turns the nose to the image right,
            pitch > 0 looks up, roll > 0 turns the face clockwise in the image.
        clean_image: the same image without the occluders (same face, background, blur and
            noise), or None unless it was asked for.
    """

    image: np.ndarray
    landmarks: np.ndarray
    occluded_by_occluder: np.ndarray
    self_occluded: np.ndarray
    occluder_mask: np.ndarray
    pose: tuple[float, float, float]
    clean_image: np.ndarray | None = None


# --------------------------------------------------------------------------------------------
# Geometry: shape sampling, pose, projection
# --------------------------------------------------------------------------------------------


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """R = roll @ pitch @ yaw for x right, y down, z towards the camera (see module docstring)."""
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cr, sr = math.cos(roll), math.sin(roll)
    r_yaw = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    r_pitch = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    r_roll = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return r_roll @ r_pitch @ r_yaw


@dataclass(frozen=True)
class _Camera:
    """Rigid pose plus perspective projection from template units to output pixels."""

    rotation: np.ndarray
    distance: float
    scale: float = 1.0
    offset: tuple[float, float] = (0.0, 0.0)

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """Template points (N, 3) in camera coordinates (pivot at the origin, camera at +z)."""
        return (np.asarray(points, dtype=np.float64) - _PIVOT) @ self.rotation.T

    def project(self, points: np.ndarray) -> np.ndarray:
        """Template points (N, 3) to image points (N, 2) in output pixels."""
        p = self.to_camera(points)
        factor = self.distance / (self.distance - p[:, 2])
        return p[:, :2] * factor[:, None] * self.scale + np.asarray(self.offset)

    def ellipsoid_outline(self, centre, axes, num: int = 48) -> np.ndarray:
        """Silhouette (num, 2) of an axis-aligned template ellipsoid (weak perspective)."""
        c = self.to_camera(np.asarray(centre)[None])[0]
        factor = self.distance / (self.distance - c[2])
        quadric = self.rotation @ np.diag(1.0 / np.asarray(axes) ** 2) @ self.rotation.T
        conic = quadric[:2, :2] - np.outer(quadric[:2, 2], quadric[:2, 2]) / quadric[2, 2]
        eigenvalues, eigenvectors = np.linalg.eigh(conic)
        angles = np.linspace(0.0, 2 * np.pi, num, endpoint=False)
        circle = np.stack([np.cos(angles), np.sin(angles)], axis=1) / np.sqrt(eigenvalues)
        outline = c[:2] + circle @ eigenvectors.T
        return outline * factor * self.scale + np.asarray(self.offset)

    def visible(self, points: np.ndarray, normals: np.ndarray) -> np.ndarray:
        """(N,) bool: the surface at ``points`` with ``normals`` faces the camera."""
        p = self.to_camera(points)
        view = np.array([0.0, 0.0, self.distance]) - p
        view /= np.linalg.norm(view, axis=1, keepdims=True)
        return np.sum((normals @ self.rotation.T) * view, axis=1) > _SELF_OCCLUSION_COS


@dataclass(frozen=True)
class _FaceShape:
    """A sampled face: its 3-D landmarks, head proportions, camera and body turn."""

    landmarks3d: np.ndarray
    head_width: float
    pose_deg: tuple[float, float, float]
    camera: _Camera
    body_camera: _Camera
    expression: dict[str, float]


def _sample_shape(rng: np.random.Generator, config: FaceSynthConfig, image_size: int) -> _FaceShape:
    """Identity, expression, pose and image placement of one face."""
    identity = np.clip(rng.standard_normal(len(IDENTITY_MODES)), -2.5, 2.5) * config.identity
    shape = FACE_TEMPLATE.copy()
    for coefficient, mode in zip(identity, IDENTITY_MODES.values(), strict=True):
        shape += coefficient * mode
    shape += rng.normal(0.0, 0.008, size=shape.shape) * config.identity * np.array([1, 1, 0.5])

    u = rng.random(8)
    amount = config.expression
    blink = u[5] < 0.12
    wink = (not blink) and u[5] < 0.17
    expression = {
        "jaw_open": amount * (0.0 if u[0] < 0.45 else ((u[0] - 0.45) / 0.55) ** 1.5),
        "smile": amount * (1.4 * u[1] - 0.4),
        "brow_raise": amount * (0.0 if u[2] < 0.4 else (u[2] - 0.4) / 0.6),
        "brow_frown": amount * (0.0 if u[3] < 0.75 else (u[3] - 0.75) / 0.25),
        "close_left_eye": amount * (0.6 + 0.4 * u[6] if blink or (wink and u[4] < 0.5) else 0.0),
        "close_right_eye": amount * (0.6 + 0.4 * u[7] if blink or (wink and u[4] >= 0.5) else 0.0),
    }
    for name, value in expression.items():
        shape += value * EXPRESSION_MODES[name]
    # Lids cannot cross: keep each upper-lid point above its lower-lid partner.
    for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46)):
        shape[upper, 1] = min(shape[upper, 1], shape[lower, 1] - 0.004)

    limits = np.radians(POSE_LIMITS_DEG) * config.pose_range
    yaw, pitch, roll = (rng.uniform(-1.0, 1.0, size=3) * limits).tolist()
    distance = float(rng.uniform(5.0, 12.0))
    face_fraction = float(rng.uniform(0.5, 0.7))
    jitter = rng.uniform(-0.06, 0.06, size=2) * image_size
    body_turn = rng.uniform(0.0, 0.4)

    camera = _Camera(rotation=_rotation(yaw, pitch, roll), distance=distance)
    projected = camera.project(shape)
    scale = face_fraction * image_size / _TEMPLATE_BOX
    box_centre = (projected.min(axis=0) + projected.max(axis=0)) / 2
    offset = (image_size - 1) / 2 + jitter - scale * box_centre
    camera = replace(camera, scale=scale, offset=(float(offset[0]), float(offset[1])))
    body_rotation = _rotation(body_turn * yaw, 0.0, body_turn * roll)
    body_camera = replace(camera, rotation=body_rotation)
    head_width = 1.0 + 0.07 * identity[0]
    pose_deg = tuple(math.degrees(angle) for angle in (yaw, pitch, roll))
    return _FaceShape(shape, head_width, pose_deg, camera, body_camera, expression)


# --------------------------------------------------------------------------------------------
# Drawing helpers
# --------------------------------------------------------------------------------------------


def _random_texture(rng: np.random.Generator, colour, scale: float) -> Texture:
    """A random pattern around ``colour``; ``scale`` is image pixels per output pixel."""
    # Keyword order is draw order.
    return Texture(
        kind=("noise", "stripes", "checks", "gradient")[rng.integers(4)],
        first=np.asarray(colour, dtype=np.float64),
        second=rng.uniform(0, 255, size=3),
        angle=float(rng.uniform(0, np.pi)),
        period=float(rng.uniform(3.0, 14.0) * scale),
        cells=int(rng.integers(2, 9)),
        seed=int(rng.integers(2**31)),
    )


# --------------------------------------------------------------------------------------------
# Appearance
# --------------------------------------------------------------------------------------------

_SKIN_LIGHT = np.array([250.0, 218.0, 190.0])
_SKIN_DARK = np.array([85.0, 52.0, 36.0])
_HAIR_COLOURS = np.array(
    [
        (22, 18, 16),
        (45, 32, 24),
        (75, 50, 32),
        (115, 78, 45),
        (160, 120, 70),
        (205, 170, 110),
        (140, 60, 30),
        (150, 150, 150),
        (215, 210, 200),
    ],
    dtype=np.float64,
)
_EYE_COLOURS = np.array(
    [
        (60, 35, 20),
        (90, 60, 30),
        (40, 25, 15),
        (70, 110, 150),
        (80, 120, 80),
        (110, 100, 60),
    ],
    dtype=np.float64,
)


@dataclass(frozen=True)
class _Appearance:
    """Colours, hair and lighting of one face."""

    skin: np.ndarray
    lips: np.ndarray
    hair_style: str
    hair: np.ndarray
    brows: np.ndarray
    iris: np.ndarray
    clothes: np.ndarray
    brow_thickness: float
    hairline: float
    hair_length: float
    gaze: np.ndarray
    light: np.ndarray
    light_strength: float
    tint: np.ndarray
    seed: int


def _skin_tone(rng: np.random.Generator) -> np.ndarray:
    """A skin colour between :data:`_SKIN_LIGHT` and :data:`_SKIN_DARK`."""
    tone = rng.beta(1.6, 1.6)
    return _SKIN_LIGHT * (1 - tone) + _SKIN_DARK * tone


def _sample_appearance(rng: np.random.Generator, config: FaceSynthConfig) -> _Appearance:
    skin = _skin_tone(rng) * rng.uniform(0.94, 1.06, size=3)
    lips = skin * np.array([0.88, 0.62, 0.62]) + rng.uniform(-10, 10, size=3)
    styles = list(HAIR_STYLES)
    hair_style = styles[rng.choice(len(styles), p=list(HAIR_STYLES.values()))]
    hair = pick(rng, _HAIR_COLOURS, 0.85, 1.15)
    brows = np.minimum(hair, skin) * rng.uniform(0.4, 0.8)
    iris = pick(rng, _EYE_COLOURS, 0.8, 1.2)
    clothes = rng.uniform(0, 255, size=3)
    azimuth = rng.uniform(0, 2 * np.pi)
    elevation = rng.uniform(0.35, 1.2)
    light = np.array(
        [
            math.cos(azimuth) * math.cos(elevation),
            math.sin(azimuth) * math.cos(elevation),
            math.sin(elevation),
        ]
    )
    return _Appearance(
        skin=np.clip(skin, 0, 255),
        lips=np.clip(lips, 0, 255),
        hair_style=hair_style,
        hair=np.clip(hair, 0, 255),
        brows=brows,
        iris=iris,
        clothes=clothes,
        brow_thickness=float(rng.uniform(0.035, 0.07)),
        hairline=float(rng.uniform(0.0, 1.0)),
        hair_length=float(rng.uniform(0.0, 1.0)),
        gaze=rng.uniform(-1.0, 1.0, size=2),
        light=light,
        light_strength=config.lighting * float(rng.uniform(0.4, 1.0)),
        tint=1.0 + config.lighting * rng.normal(0.0, 0.06, size=3),
        seed=int(rng.integers(2**31)),
    )


# --------------------------------------------------------------------------------------------
# Rendering of the scene
# --------------------------------------------------------------------------------------------


def _clutter_shape(rng: np.random.Generator, image: Image.Image) -> None:
    """Draw one random background shape (solid or textured, possibly translucent) on ``image``."""
    size = image.size[0]
    mask = Image.new("L", image.size, 0)
    draw = ImageDraw.Draw(mask)
    kind, opacity, cx, cy, radius, aspect, angle, extra = rng.random(8).tolist()
    opacity = int(150 + 105 * opacity)
    centre = np.array([cx, cy]) * 1.2 * size - 0.1 * size
    radius = (0.04 + 0.26 * radius) * size
    if kind < 0.25:
        corners = ellipse_points(centre, (radius, radius * (0.2 + 0.8 * aspect)), angle * np.pi, 4)
        draw.polygon(flat(corners), fill=opacity)
    elif kind < 0.5:
        draw.ellipse([*(centre - radius), *(centre + radius)], fill=opacity)
    elif kind < 0.75:
        points = random_polygon(rng, centre, 3 + int(5 * extra), radius, 0.4)
        draw.polygon(flat(points), fill=opacity)
    else:
        direction = angle * 2 * np.pi
        end = centre + np.array([math.cos(direction), math.sin(direction)]) * aspect * size * 0.8
        width = max(1, int((0.005 + 0.025 * extra) * size))
        draw.line(flat(np.stack([centre, end])), fill=opacity, width=width)
    box = mask.getbbox()
    if box is None:
        return
    colour = muted_colour(rng)
    if rng.random() < 0.5:
        texture = _random_texture(rng, colour, 1.0).render(*box)
        fill = Image.fromarray(np.clip(texture, 0, 255).astype(np.uint8))
    else:
        fill = tuple(int(c) for c in colour)
    image.paste(fill, box, mask.crop(box))


class _FaceRenderer:
    """Draws one face at the supersampled resolution; coordinates are output pixels."""

    def __init__(self, image_size: int, face: _FaceShape, look: _Appearance) -> None:
        self.image_size = image_size
        self.size = image_size * SUPERSAMPLING
        self.face = face
        self.look = look
        self.rng = np.random.default_rng(look.seed)
        self.unit = face.camera.scale * SUPERSAMPLING  # drawing pixels per template unit
        self.canvas: Canvas | None = None

    def px(self, points: np.ndarray) -> np.ndarray:
        """Output-pixel coordinates to drawing-pixel coordinates (pixel-centre convention)."""
        return (np.asarray(points) + 0.5) * SUPERSAMPLING - 0.5

    def head(self, points3d) -> np.ndarray:
        """Project head-attached template points to drawing pixels."""
        return self.px(self.face.camera.project(np.asarray(points3d, dtype=np.float64)))

    def body(self, points3d) -> np.ndarray:
        """Project torso-attached template points (they turn less than the head)."""
        return self.px(self.face.body_camera.project(np.asarray(points3d, dtype=np.float64)))

    # ---- scene parts -------------------------------------------------------------------------

    def background(self, rng: np.random.Generator, shape_seeds, clutter: float) -> None:
        """A muted colour ramp, smooth blotches, a wallpaper pattern and the clutter shapes.

        One shape is drawn per seed in ``shape_seeds``. The background is drawn at the output
        resolution and upsampled: it is out of focus behind the face anyway.
        """
        size = self.image_size
        ramp = Texture(
            "gradient", muted_colour(rng), muted_colour(rng), angle=rng.uniform(0, 2 * np.pi)
        )
        pixels = ramp.render(0, 0, size, size)
        cells = int(rng.integers(3, 12))
        blotches = upsampled_noise(rng, (cells, cells, 3), size, size) / 127.5 - 1.0
        blotches = blotches.mean(axis=2, keepdims=True) * 0.7 + blotches * 0.3
        pixels += blotches * (10 + 60 * clutter)
        wallpaper = _random_texture(rng, pixels.mean(axis=(0, 1)), 1.0)
        if rng.random() < clutter * 0.6:
            pixels = pixels * 0.6 + wallpaper.render(0, 0, size, size) * 0.4
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        for shape_seed in shape_seeds:
            _clutter_shape(np.random.default_rng(shape_seed), image)
        upsampled = image.resize((self.size, self.size), Image.BILINEAR)
        self.canvas = Canvas(np.asarray(upsampled, dtype=np.float32).copy())

    def torso(self) -> None:
        """Long hair hanging behind the shoulders, the neck and the clothed shoulders."""
        look, skin = self.look, self.look.skin
        if look.hair_style == "long":
            bottom = 1.5 + 1.0 * look.hair_length
            outline = np.array(
                [
                    (-0.95, -0.6),
                    (-1.1, 0.5),
                    (-1.15, bottom),
                    (-0.5, bottom + 0.1),
                    (0.5, bottom + 0.1),
                    (1.15, bottom),
                    (1.1, 0.5),
                    (0.95, -0.6),
                ]
            )
            points = np.column_stack([outline, np.full(len(outline), -0.95)])
            mask, draw = self.canvas.new_mask()
            draw.polygon(flat(self.head(points)), fill=255)
            self.paint_hair(mask)
        neck_top = np.array([(-0.38, 0.55, -0.55), (0.38, 0.55, -0.55)])
        neck_bottom = np.array([(0.44, 2.6, -0.55), (-0.44, 2.6, -0.55)])
        neck = np.concatenate([self.head(neck_top), self.body(neck_bottom)])
        self.canvas.paint_polygon(neck, skin * 0.78)
        collar_depth = 2.0 if self.rng.random() < 0.5 else 1.85
        shoulders = np.array(
            [
                (-0.45, 1.72),
                (0.0, collar_depth),
                (0.45, 1.72),
                (1.5, 1.95),
                (2.4, 2.4),
                (2.9, 3.5),
                (2.9, 6.0),
                (-2.9, 6.0),
                (-2.9, 3.5),
                (-2.4, 2.4),
                (-1.5, 1.95),
            ]
        )
        points = np.column_stack([shoulders, np.full(len(shoulders), -0.55)])
        outline = self.body(points)
        self.canvas.paint_polygon(outline, Texture.shaded(self.rng, self.look.clothes, 0.12))

    def ears(self, near: bool) -> None:
        """The ears behind the head's silhouette (``near=False``) or turned towards the camera.

        An ear turned towards the camera (its side of the head faces it by more than 15 degrees)
        is drawn over the head, unless long or bob hair covers it.
        """
        for side in (-1.0, 1.0):
            facing = (self.face.camera.rotation @ (side, 0.0, 0.0))[2] > 0.26
            if facing != near or (near and self.look.hair_style in ("long", "bob")):
                continue
            centre = np.array([side * 0.84 * self.face.head_width, 0.2, -0.72])
            out = np.array([side * 0.5, 0.0, -0.85])
            out /= np.linalg.norm(out)
            t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
            points = (
                centre
                + np.outer(0.3 * np.cos(t), (0, 1, 0))
                + np.outer(0.15 * np.sin(t) + 0.05, out)
            )
            self.canvas.paint_polygon(self.head(points), self.look.skin * 0.85)
            if near:
                inner = centre + (points - centre) * 0.55 + out * 0.03
                self.canvas.paint_polygon(self.head(inner), self.look.skin * 0.6, opacity=0.6)

    def head_outline(self) -> np.ndarray:
        """Drawing-pixel outline of the head's skin: hull of cranium, jaw and landmarks."""
        face = self.face
        axes = _CRANIUM_AXES * np.array([face.head_width, 1.0, 1.0])
        cranium = self.px(face.camera.ellipsoid_outline(_CRANIUM_CENTRE, axes))
        ramus = np.array([(-0.72, 0.55, -0.75), (-0.62, 0.85, -0.6), (-0.8, 0.15, -0.8)])
        ramus = np.concatenate([ramus, ramus * (-1, 1, 1)]) * (face.head_width, 1, 1)
        points = np.concatenate([cranium, self.head(face.landmarks3d), self.head(ramus)])
        hull = ConvexHull(points)
        return points[hull.vertices]

    def skin(self, outline: np.ndarray) -> Image.Image:
        """Paint the shaded head; returns its mask."""
        look = self.look
        mask, draw = self.canvas.new_mask()
        draw.polygon(flat(outline), fill=255)
        box = mask.getbbox()
        if box is None:
            return mask
        x0, y0, x1, y1 = box
        # The head is shaded as the dome of its blurred silhouette, at the output resolution.
        sigma = max(0.5, 0.12 * self.unit / SUPERSAMPLING)
        shading = dome_shading(mask, SUPERSAMPLING, sigma, look.light, look.light_strength)
        shading = np.asarray(shading.crop(box), np.float32)
        blotches = Texture.shaded(self.rng, look.skin, 0.04).render(x0, y0, x1, y1)
        alpha = np.asarray(mask.crop(box), dtype=np.float32) / 255
        self.canvas.paint((slice(y0, y1), slice(x0, x1)), alpha, blotches * shading[..., None])
        return mask

    def shadows_and_highlights(self, head_mask: Image.Image) -> None:
        """Soft shadows (eye sockets, nose side, under nose and lip) and highlights."""
        lm = self.face.landmarks3d
        unit = self.unit
        shadow, draw = self.canvas.new_mask()
        for eye in (_LEFT_EYE, _RIGHT_EYE):
            centre = lm[eye].mean(axis=0) + (0, -0.02, -0.02)
            socket = np.array(
                [
                    centre + (dx * 0.19, dy * 0.1, 0)
                    for dx, dy in zip(
                        np.cos(np.linspace(0, 2 * np.pi, 12)),
                        np.sin(np.linspace(0, 2 * np.pi, 12)),
                        strict=True,
                    )
                ]
            )
            draw.polygon(flat(self.head(socket)), fill=110)
        light_side = 1.0 if self.look.light[0] >= 0 else -1.0
        bridge = lm[[27, 28, 29, 30]] + (-light_side * 0.06, 0.0, -0.04)
        draw.line(flat(self.head(bridge)), fill=150, width=max(1, int(0.05 * unit)))
        under_nose = lm[[31, 32, 33, 34, 35]] + (0, 0.025, -0.03)
        draw.line(flat(self.head(under_nose)), fill=170, width=max(1, int(0.04 * unit)))
        under_lip = lm[[58, 57, 56]] + (0, 0.06, -0.03)
        draw.line(flat(self.head(under_lip)), fill=120, width=max(1, int(0.05 * unit)))
        smile = max(0.0, self.face.expression["smile"])
        if smile > 0.2:
            for ala, corner in ((31, 48), (35, 54)):
                fold = np.stack(
                    [
                        lm[ala] + (np.sign(lm[ala, 0]) * 0.05, 0, 0),
                        lm[corner] + (np.sign(lm[corner, 0]) * 0.06, -0.02, 0),
                    ]
                )
                draw.line(
                    flat(self.head(fold)), fill=int(120 * smile), width=max(1, int(0.025 * unit))
                )
        shadow = shadow.filter(ImageFilter.GaussianBlur(max(1.0, 0.035 * unit)))
        shadow = ImageChops.multiply(shadow, head_mask)
        self.canvas.paint_mask(shadow, self.look.skin * 0.45, opacity=0.7)

        highlight, draw = self.canvas.new_mask()
        tip = self.head(lm[30:31] + (light_side * 0.02, -0.03, 0.0))[0]
        radius = 0.04 * unit
        draw.ellipse([*(tip - radius), *(tip + radius)], fill=200)
        ridge = self.head(lm[[27, 28, 29]] + (light_side * 0.02, 0.0, 0.0))
        draw.line(flat(ridge), fill=110, width=max(1, int(0.03 * unit)))
        highlight = highlight.filter(ImageFilter.GaussianBlur(max(1.0, 0.03 * unit)))
        self.canvas.paint_mask(highlight, np.minimum(self.look.skin * 1.3 + 20, 255), opacity=0.5)

    def hair(self) -> None:
        """Hair over the cranium, above a hairline that always stays above the brows."""
        look, face = self.look, self.face
        if look.hair_style == "bald":
            return
        lm = face.landmarks3d
        width = face.head_width
        brow_top = lm[_BROWS, 1].min() - look.brow_thickness - 0.04
        if look.hair_style == "bangs":
            top = brow_top - 0.03 * look.hairline
        elif look.hair_style == "receding":
            top = -0.95 - 0.15 * look.hairline
        else:
            top = -0.5 - 0.3 * look.hairline
        x = np.linspace(-0.86, 0.86, 25) * width
        edge = np.abs(x) / (0.86 * width)
        hairline_y = top + (0.2 - top) * edge**4
        if look.hair_style == "bangs":
            hairline_y += np.where(np.arange(len(x)) % 2 == 0, 0.0, -0.05)
        inner = np.abs(x) < 0.74 * width
        hairline_y[inner] = np.minimum(hairline_y[inner], brow_top)
        z = _CRANIUM_CENTRE[2] + _CRANIUM_AXES[2] * np.sqrt(
            np.clip(
                1
                - (x / (_CRANIUM_AXES[0] * width)) ** 2
                - ((hairline_y - _CRANIUM_CENTRE[1]) / _CRANIUM_AXES[1]) ** 2,
                0.05,
                1.0,
            )
        )
        hairline = np.column_stack([x, hairline_y, z])
        jaw = lm[_JAW] + np.column_stack([_side(lm[_JAW]) * 0.05, np.zeros(17), np.zeros(17)])
        face_region = np.concatenate([self.head(hairline), self.head(jaw[::-1])])
        exposed, draw = self.canvas.new_mask()
        draw.polygon(flat(face_region), fill=255)

        volume = 1.04 + 0.06 * look.hair_length
        axes = _CRANIUM_AXES * np.array([width * volume, volume, volume])
        centre = _CRANIUM_CENTRE + (0.0, -0.03, 0.0)
        cap = self.px(face.camera.ellipsoid_outline(centre, axes))
        hair, draw = self.canvas.new_mask()
        draw.polygon(flat(cap), fill=255)
        if look.hair_style == "bob":
            for side in (-1.0, 1.0):
                bob = np.array([(0.75, -0.6), (1.0, -0.2), (1.05, 0.9), (0.7, 1.0), (0.7, 0.0)])
                bob = bob * (side * width, 1.0)
                points = np.column_stack([bob, np.full(len(bob), -0.6)])
                draw.polygon(flat(self.head(points)), fill=255)
        self.paint_hair(ImageChops.subtract(hair, exposed))

    def paint_hair(self, mask: Image.Image) -> None:
        """Hair colour with strands where ``mask`` is set."""
        self.canvas.paint_mask(mask, Texture.shaded(self.rng, self.look.hair, 0.2, kind="streaks"))

    def brows(self) -> None:
        """Tapered brows, thickest at their inner ends."""
        lm = self.face.landmarks3d
        thickness = self.look.brow_thickness
        for brow in (np.arange(17, 22), np.arange(22, 27)):
            points = lm[brow]
            inner_end = 4 if brow[0] == 17 else 0
            taper = 0.55 + 0.45 * (1 - np.abs(np.arange(5) - inner_end) / 4)
            upper = points + np.column_stack([np.zeros(5), -thickness * taper * 0.6, np.zeros(5)])
            lower = points + np.column_stack([np.zeros(5), thickness * taper * 0.4, np.zeros(5)])
            outline = np.concatenate([spline(self.head(upper)), spline(self.head(lower))[::-1]])
            self.canvas.paint_polygon(outline, self.look.brows, opacity=0.9)

    def eyes(self) -> None:
        """Eye whites, iris and pupil clipped to the lids, lid lines and the upper-lid crease."""
        lm = self.face.landmarks3d
        unit = self.unit
        for eye in (_LEFT_EYE, _RIGHT_EYE):
            corners = self.head(lm[eye])
            upper = spline(corners[[0, 1, 2, 3]])
            lower = spline(corners[[3, 4, 5, 0]])
            outline = np.concatenate([upper, lower[1:-1]])
            opening, draw = self.canvas.new_mask()
            draw.polygon(flat(outline), fill=255)
            self.canvas.paint_mask(opening, (235.0, 230.0, 222.0))
            width3d = np.linalg.norm(lm[eye[3]] - lm[eye[0]])
            centre3d = lm[eye].mean(axis=0) + (
                self.look.gaze[0] * 0.2 * width3d,
                self.look.gaze[1] * 0.03,
                0.0,
            )
            iris3d = centre3d + np.column_stack(
                [
                    0.24 * width3d * np.cos(np.linspace(0, 2 * np.pi, 16, endpoint=False)),
                    0.24 * width3d * np.sin(np.linspace(0, 2 * np.pi, 16, endpoint=False)),
                    np.zeros(16),
                ]
            )
            iris, draw = self.canvas.new_mask()
            draw.polygon(flat(self.head(iris3d)), fill=255)
            pupil3d = centre3d + (iris3d - centre3d) * 0.45
            pupil, pupil_draw = self.canvas.new_mask()
            pupil_draw.polygon(flat(self.head(pupil3d)), fill=255)
            for layer, colour in ((iris, self.look.iris), (pupil, (15.0, 12.0, 12.0))):
                self.canvas.paint_mask(ImageChops.multiply(layer, opening), colour)
            lids, draw = self.canvas.new_mask()
            draw.line(flat(upper), fill=255, width=max(1, round(0.03 * unit)), joint="curve")
            draw.line(flat(lower), fill=110, width=max(1, round(0.015 * unit)), joint="curve")
            crease = self.head(lm[eye[[0, 1, 2, 3]]] + (0, -0.045, 0))
            draw.line(flat(spline(crease)), fill=70, width=max(1, round(0.015 * unit)))
            self.canvas.paint_mask(lids, self.look.brows * 0.5 + 10)

    def nose(self) -> None:
        """Alar creases, the ridge's silhouette when turned, and the nostrils."""
        lm = self.face.landmarks3d
        unit = self.unit
        lines, draw = self.canvas.new_mask()
        width = max(1, round(0.02 * unit))
        for ala in ((31, 32), (35, 34)):
            curve = np.stack(
                [
                    lm[ala[0]] + (0, -0.05, 0.0),
                    lm[ala[0]] + (np.sign(lm[ala[0], 0]) * 0.01, 0.0, 0.0),
                    lm[ala[1]] + (0, 0.01, 0.0),
                ]
            )
            draw.line(flat(spline(self.head(curve))), fill=150, width=width, joint="curve")
        # Under yaw the nose's far side becomes a silhouette against the cheek behind it.
        facing = (LANDMARK_NORMALS[[31, 35]] @ self.face.camera.rotation.T)[:, 2]
        far_ala = 31 if facing[0] < facing[1] else 35
        turn = float(abs(facing[0] - facing[1]))
        if turn > 0.2:
            ridge = spline(self.head(lm[[27, 28, 29, 30, far_ala]]))
            draw.line(flat(ridge), fill=min(255, int(300 * turn)), width=width, joint="curve")
        self.canvas.paint_mask(lines, self.look.skin * 0.55)
        tilt = np.array([0.0, 0.7, -0.7])
        for left, right in ((31, 33), (33, 35)):
            centre = (lm[left] + lm[right]) / 2 + (0, -0.005, 0)
            t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
            nostril = (
                centre + np.outer(0.042 * np.cos(t), (1, 0, 0)) + np.outer(0.03 * np.sin(t), tilt)
            )
            self.canvas.paint_polygon(self.head(nostril), self.look.skin * 0.3, opacity=0.85)

    def mouth(self) -> None:
        """Upper and lower lips, the mouth cavity and upper teeth when open, the lip line."""
        lm = self.face.landmarks3d
        unit = self.unit
        outer_upper = spline(self.head(lm[_OUTER_UPPER_LIP]))
        outer_lower = spline(self.head(lm[_OUTER_LOWER_LIP]))
        inner_upper = spline(self.head(lm[_INNER_UPPER_LIP]))
        inner_lower = spline(self.head(lm[_INNER_LOWER_LIP]))
        lips = self.look.lips
        self.canvas.paint_polygon(np.concatenate([outer_upper, inner_upper[::-1]]), lips * 0.92)
        self.canvas.paint_polygon(np.concatenate([outer_lower, inner_lower[::-1]]), lips)
        gap = float(np.mean(lm[[65, 66, 67], 1] - lm[[63, 62, 61], 1]))
        if gap > 0.015:
            cavity = np.concatenate([inner_upper, inner_lower[1:-1]])
            self.canvas.paint_polygon(cavity, (55.0, 20.0, 25.0))
            teeth3d = np.concatenate(
                [
                    lm[_INNER_UPPER_LIP][1:-1],
                    lm[_INNER_UPPER_LIP][-2:0:-1] + (0, min(0.05, 0.5 * gap), 0),
                ]
            )
            self.canvas.paint_polygon(self.head(teeth3d), (225.0, 220.0, 205.0), opacity=0.9)
        line, draw = self.canvas.new_mask()
        draw.line(flat(inner_upper), fill=255, width=max(1, round(0.02 * unit)), joint="curve")
        self.canvas.paint_mask(line, lips * 0.45)

    def render(self, background_rng, shape_seeds, clutter: float) -> None:
        """Everything but the occluders, back to front."""
        self.background(background_rng, shape_seeds, clutter)
        self.torso()
        self.ears(near=False)
        head_mask = self.skin(self.head_outline())
        self.shadows_and_highlights(head_mask)
        self.hair()
        self.ears(near=True)
        self.brows()
        self.eyes()
        self.nose()
        self.mouth()


# --------------------------------------------------------------------------------------------
# Occluders
# --------------------------------------------------------------------------------------------


def _occluder_count(uniform: float, mean: float) -> int:
    """Poisson(mean) by inversion of one uniform (monotone in ``mean``), capped."""
    if mean <= 0:
        return 0
    term = cumulative = math.exp(-mean)
    count = 0
    while uniform > cumulative and count < MAX_OCCLUDERS:
        count += 1
        term *= mean / count
        cumulative += term
    return count


def _draw_occluder(
    rng: np.random.Generator,
    kinds: tuple[str, ...],
    renderer: _FaceRenderer,
    landmarks_px: np.ndarray,
    size_fraction: float,
) -> tuple[Image.Image, np.ndarray | Texture]:
    """Mask and colour (or texture) of one occluder, in drawing pixels."""
    canvas = renderer.canvas
    face_size = _box_size(landmarks_px)
    size = size_fraction * face_size * float(rng.uniform(0.7, 1.3))
    target = landmarks_px[rng.integers(len(landmarks_px))] + rng.normal(0, 0.08, 2) * face_size
    kind = kinds[rng.integers(len(kinds))]
    mask, draw = canvas.new_mask()
    if kind == "hand":
        colour = _hand(rng, draw, target, size, renderer.look.skin)
        return mask, Texture.shaded(rng, colour, 0.12)
    if kind == "bar":
        return mask, _bar(rng, draw, target, size, landmarks_px)
    points = _patch_outline(rng, target, size)
    draw.polygon(flat(points), fill=255)
    return mask, _random_texture(rng, rng.uniform(0, 255, size=3), SUPERSAMPLING)


def _hand(rng, draw: ImageDraw.ImageDraw, centre, size: float, face_skin) -> np.ndarray:
    """Palm, four fingers and a thumb; returns the hand's skin colour."""
    angle = rng.uniform(-2.2, 2.2)  # fingers point up when 0
    mirror = 1.0 if rng.random() < 0.5 else -1.0
    c, s = math.cos(angle), math.sin(angle)
    to_image = np.array([[c, s], [-s, c]]) * size

    def place(local):
        local = np.atleast_2d(local) * (mirror, 1.0)
        return local @ to_image + centre

    palm = place(ellipse_points((0.0, 0.15), (0.5, 0.55), num=20))
    draw.polygon(flat(palm), fill=255)
    spread = rng.uniform(0.0, 0.25)
    curl = rng.uniform(0.6, 1.0)
    width = max(2, round(0.2 * size))
    lengths = np.array([0.7, 0.82, 0.78, 0.6]) * curl
    for i, (base_x, length) in enumerate(zip((-0.34, -0.11, 0.12, 0.34), lengths, strict=True)):
        direction = np.array([(i - 1.5) * spread, -1.0])
        direction /= np.linalg.norm(direction)
        base = np.array([base_x, -0.3])
        finger = place(np.stack([base, base + direction * length]))
        draw.line(flat(finger), fill=255, width=width)
        radius = width / 2
        for end in finger:
            draw.ellipse([*(end - radius), *(end + radius)], fill=255)
    thumb_direction = np.array([math.cos(-0.6), math.sin(-0.6)])
    thumb = place(np.stack([(0.4, 0.3), np.array([0.4, 0.3]) + thumb_direction * 0.6 * curl]))
    draw.line(flat(thumb), fill=255, width=max(2, round(0.24 * size)))
    radius = round(0.12 * size)
    for end in thumb:
        draw.ellipse([*(end - radius), *(end + radius)], fill=255)
    if rng.random() < 0.5:
        return _skin_tone(rng)
    return np.asarray(face_skin) * rng.uniform(0.9, 1.1)


def _bar(rng, draw, target, size: float, landmarks_px) -> np.ndarray | Texture:
    """Sunglasses, a scarf or mask band across the face, or a stick; returns its colour.

    The band is as tall as ``size`` and as wide as the face; the stick crosses the image.
    """
    style = rng.integers(3)
    eye_axis = landmarks_px[45] - landmarks_px[36]
    angle = math.atan2(eye_axis[1], eye_axis[0])
    across = np.array([math.cos(angle), math.sin(angle)])
    down = np.array([-across[1], across[0]])
    if style == 0:
        interocular = np.linalg.norm(eye_axis)
        width = max(2, round(0.05 * interocular))
        for eye in (_LEFT_EYE, _RIGHT_EYE):
            centre = landmarks_px[eye].mean(axis=0)
            radii = (0.24 * interocular, 0.17 * interocular)
            draw.polygon(flat(ellipse_points(centre, radii, angle)), fill=255)
        bridge = np.stack([landmarks_px[39], landmarks_px[42]]) - down * 0.05 * interocular
        draw.line(flat(bridge), fill=255, width=width)
        for outer, temple in ((36, 0), (45, 16)):
            arm = np.stack(
                [
                    landmarks_px[outer] - down * 0.05 * interocular,
                    landmarks_px[temple] - down * 0.05 * interocular,
                ]
            )
            draw.line(flat(arm), fill=255, width=width)
        return rng.uniform(0, 60, size=3)
    if style == 1:
        half_width = 0.75 * _box_size(landmarks_px)
        top = target - down * 0.5 * size
        bottom = target + down * 0.5 * size
        band = np.array(
            [
                top - across * half_width,
                top + across * half_width,
                bottom + across * half_width,
                bottom - across * half_width,
            ]
        )
        draw.polygon(flat(band), fill=255)
        return _random_texture(rng, rng.uniform(0, 255, size=3), SUPERSAMPLING)
    direction = rng.uniform(0, np.pi)
    axis = np.array([math.cos(direction), math.sin(direction)])
    half_length = size * rng.uniform(1.5, 3.0)
    stick = np.stack([target - axis * half_length, target + axis * half_length])
    draw.line(flat(stick), fill=255, width=max(2, round(size * rng.uniform(0.2, 0.4))))
    return Texture.shaded(rng, rng.uniform(0, 255, size=3), 0.2, kind="gradient")


def _patch_outline(rng, centre, size: float) -> np.ndarray:
    """A random polygon, ellipse or rectangle of diameter about ``size``."""
    shape = rng.integers(3)
    angle = rng.uniform(0, np.pi)
    if shape == 0:
        return random_polygon(rng, centre, int(rng.integers(5, 10)), 0.5 * size, 0.6)
    aspect = rng.uniform(0.5, 1.0)
    num = 24 if shape == 1 else 4
    radii = (0.5 * size, 0.5 * size * aspect)
    if shape == 2:
        radii = (0.5 * size * math.sqrt(2), 0.5 * size * aspect * math.sqrt(2))
    return ellipse_points(centre, radii, angle, num=num)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

_STREAMS = ("geometry", "appearance", "background", "occluders", "sensor")


def _finish(pixels: np.ndarray, image_size: int, tint, blur_sigma: float, noise) -> np.ndarray:
    """Illumination tint, box-filter down to the output size, blur, noise, uint8."""
    drawn = np.clip(pixels * np.asarray(tint, np.float32), 0, 255).astype(np.uint8)
    image = Image.fromarray(drawn).resize((image_size, image_size), Image.BOX)
    if blur_sigma > 0.05:
        image = image.filter(ImageFilter.GaussianBlur(blur_sigma))
    return quantize(np.asarray(image, np.float32) + noise)


def render_face(
    image_size: int,
    seed: int,
    index: int,
    config: FaceSynthConfig = DEFAULT_FACE_CONFIG,
    keep_clean: bool = False,
) -> FaceRender:
    """Render face ``index`` of the set drawn with ``seed`` (what :func:`generate_faces` stacks).

    With ``keep_clean`` the result also holds the same image without occluders (used to check
    that occluded landmarks really are covered).
    """
    check_count("image_size", image_size, MIN_IMAGE_SIZE)
    check_count("seed", seed, 0)
    check_count("index", index, 0)
    check_config(config, FaceSynthConfig)
    # Independent streams per aspect; the k-th clutter shape and the k-th occluder have their
    # own child sequences, so a knob that adds shapes or occluders leaves the others unchanged.
    sequences = dict(
        zip(_STREAMS, np.random.SeedSequence([seed, index]).spawn(len(_STREAMS)), strict=True)
    )
    geometry, appearance, background, occluders, sensor = (
        np.random.default_rng(sequences[name]) for name in _STREAMS
    )
    face = _sample_shape(geometry, config, image_size)
    look = _sample_appearance(appearance, config)
    shape_count = round(config.clutter * MAX_CLUTTER_SHAPES)
    shape_seeds = sequences["background"].spawn(shape_count)
    renderer = _FaceRenderer(image_size, face, look)
    renderer.render(background, shape_seeds, config.clutter)

    landmarks = face.camera.project(face.landmarks3d)
    self_occluded = ~face.camera.visible(face.landmarks3d, LANDMARK_NORMALS)
    clean_pixels = renderer.canvas.pixels.copy() if keep_clean else None
    coverage = np.zeros((renderer.size, renderer.size), dtype=np.float32)
    count = _occluder_count(float(occluders.random()), config.occlusion)
    landmarks_px = renderer.px(landmarks)
    for occluder_seed in sequences["occluders"].spawn(count):
        mask, colour = _draw_occluder(
            np.random.default_rng(occluder_seed),
            config.occluder_kinds,
            renderer,
            landmarks_px,
            config.occluder_size,
        )
        renderer.canvas.paint_mask(mask, colour)
        # A dark rim (edge shading, contact shadow) so that an occluder in the face's own skin
        # tone still has a visible outline.
        rim = ImageChops.subtract(mask, mask.filter(ImageFilter.MinFilter(3)))
        renderer.canvas.paint_mask(rim, (20.0, 15.0, 10.0), opacity=0.45)
        coverage = np.maximum(coverage, np.asarray(mask, np.float32) / 255)

    inside = inside_image(landmarks, image_size)
    by_occluder = covered(coverage, landmarks_px) & inside
    blur_sigma = float(sensor.uniform(0.0, config.blur))
    noise = sensor.standard_normal((image_size, image_size, 3), dtype=np.float32)
    noise *= config.noise * 255.0
    image = _finish(renderer.canvas.pixels, image_size, look.tint, blur_sigma, noise)
    clean = None
    if clean_pixels is not None:
        clean = _finish(clean_pixels, image_size, look.tint, blur_sigma, noise)
    coverage_out = (
        np.asarray(
            Image.fromarray((coverage * 255).astype(np.uint8)).resize(
                (image_size, image_size), Image.BOX
            ),
            np.float32,
        )
        / 255
    )
    return FaceRender(
        image=image,
        landmarks=landmarks,
        occluded_by_occluder=by_occluder,
        self_occluded=self_occluded & inside,
        occluder_mask=coverage_out,
        pose=face.pose_deg,
        clean_image=clean,
    )


def generate_faces(
    num_images: int,
    image_size: int,
    seed: int,
    config: FaceSynthConfig = DEFAULT_FACE_CONFIG,
) -> KeypointSet:
    """Render ``num_images`` synthetic faces of ``image_size`` x ``image_size`` pixels.

    Image ``i`` depends only on (``seed``, ``i``, ``image_size``, ``config``), so the first
    images of a larger set equal a smaller set's. See the module docstring for the model, the
    labels and the knobs.

    Returns:
        A :class:`KeypointSet` with the 68 landmarks of :data:`FACE68`, ``valid`` (inside the
        image), ``occluded`` (covered by an occluder, or hidden by the face itself when
        ``config.self_occlusion``), norms ``"interocular"`` and ``"box"``, and ``info`` with the
        generator's name and arguments.
    """
    num_images, image_size, seed = check_generator_args(num_images, image_size, seed)
    check_config(config, FaceSynthConfig)
    images = np.empty((num_images, image_size, image_size, 3), dtype=np.uint8)
    joints = np.empty((num_images, FACE68.num_keypoints, 2), dtype=np.float32)
    valid = np.empty((num_images, FACE68.num_keypoints), dtype=bool)
    occluded = np.empty((num_images, FACE68.num_keypoints), dtype=bool)
    for i in range(num_images):
        face = render_face(image_size, seed, i, config)
        images[i] = face.image
        joints[i] = face.landmarks
        valid[i] = inside_image(face.landmarks, image_size)
        occluded[i] = face.occluded_by_occluder
        if config.self_occlusion:
            occluded[i] |= face.self_occluded
    extent = joints.max(axis=1) - joints.min(axis=1)
    norms = {
        "interocular": inter_ocular_distance(joints).astype(np.float32),
        "box": np.sqrt(extent[:, 0] * extent[:, 1]).astype(np.float32),
    }
    info = {
        "name": "synthetic-face",
        "config": config.as_dict(),
        "image_size": image_size,
        "seed": seed,
        "num_images": num_images,
    }
    return KeypointSet(images, joints, valid, occluded, norms, FACE68, info)
