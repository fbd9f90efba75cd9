"""Keypoint schemes: joint names, left/right pairs for flipping, and report groupings.

Coordinates everywhere in studylib are (x, y) pixels in the *pixel-centre* convention: the centre
of pixel (row i, column j) is at x = j, y = i, so an image of width W spans x in [-0.5, W - 0.5]
and a horizontal flip maps x to W - 1 - x.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class KeypointSpec:
    """A keypoint scheme: names in order and the pairs that swap under a horizontal flip."""

    name: str
    names: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]

    @property
    def num_keypoints(self) -> int:
        return len(self.names)

    def flip_permutation(self) -> np.ndarray:
        """Index array ``p``: ``joints[..., p, :]`` swaps the left and right keypoints."""
        perm = np.arange(self.num_keypoints)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(
                f"{self.name} has no keypoint named {name!r}; it has {self.names}"
            ) from None


MPII = KeypointSpec(
    name="mpii16",
    names=(
        "r_ankle",
        "r_knee",
        "r_hip",
        "l_hip",
        "l_knee",
        "l_ankle",
        "pelvis",
        "thorax",
        "upper_neck",
        "head_top",
        "r_wrist",
        "r_elbow",
        "r_shoulder",
        "l_shoulder",
        "l_elbow",
        "l_wrist",
    ),
    flip_pairs=((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)),
)

#: The column groups of the ACNN paper's Table 1 (MPII PCKh@0.5). Pelvis and thorax belong to no
#: group and, as in the standard MPII evaluation, are left out of "Total" too.
MPII_TABLE_GROUPS: dict[str, tuple[int, ...]] = {
    "Head": (8, 9),
    "Sho.": (12, 13),
    "Elb.": (11, 14),
    "Wri.": (10, 15),
    "Hip": (2, 3),
    "Kne.": (1, 4),
    "Ank.": (0, 5),
}

#: Parent of each MPII joint in the kinematic tree (the pelvis is the root).
MPII_PARENTS: tuple[int, ...] = (1, 2, 6, 6, 3, 4, -1, 6, 7, 8, 11, 12, 7, 7, 13, 14)

#: Skeleton edges for drawing (child, parent).
MPII_EDGES: tuple[tuple[int, int], ...] = tuple(
    (child, parent) for child, parent in enumerate(MPII_PARENTS) if parent >= 0
)


def _face68_flip_pairs() -> tuple[tuple[int, int], ...]:
    """Left/right pairs of the 300-W 68-point scheme (0-based), by facial part."""
    pairs = [(i, 16 - i) for i in range(8)]  # jaw
    pairs += [(17 + i, 26 - i) for i in range(5)]  # brows
    pairs += [(31, 35), (32, 34)]  # nostrils
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    pairs += [
        (48, 54),
        (49, 53),
        (50, 52),
        (60, 64),
        (61, 63),
        (67, 65),
        (59, 55),
        (58, 56),
    ]  # mouth
    return tuple(pairs)


FACE68 = KeypointSpec(
    name="300w68",
    names=tuple(
        [f"jaw_{i}" for i in range(17)]
        + [f"brow_{i}" for i in range(10)]
        + [f"nose_{i}" for i in range(9)]
        + [f"eye_{i}" for i in range(12)]
        + [f"mouth_{i}" for i in range(20)]
    ),
    flip_pairs=_face68_flip_pairs(),
)

#: 300-W index ranges of the facial parts (0-based, end exclusive).
FACE68_PARTS: dict[str, tuple[int, int]] = {
    "jaw": (0, 17),
    "brows": (17, 27),
    "nose": (27, 36),
    "eyes": (36, 48),
    "mouth": (48, 68),
}

#: Outer eye corners of the 300-W scheme: the inter-ocular normaliser of NME.
FACE68_OUTER_EYE_CORNERS = (36, 45)


def _mirror_pairs(names: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """Index pairs of names that differ only in an ``r_``/``l_`` prefix."""
    pairs = []
    for i, name in enumerate(names):
        if name.startswith("r_") and f"l_{name[2:]}" in names:
            pairs.append((i, names.index(f"l_{name[2:]}")))
    return tuple(pairs)


_COFW_NAMES = (
    "r_brow_outer",
    "l_brow_outer",
    "r_brow_inner",
    "l_brow_inner",
    "r_brow_top",
    "r_brow_bottom",
    "l_brow_top",
    "l_brow_bottom",
    "r_eye_outer",
    "l_eye_outer",
    "r_eye_inner",
    "l_eye_inner",
    "r_eye_top",
    "r_eye_bottom",
    "l_eye_top",
    "l_eye_bottom",
    "r_pupil",
    "l_pupil",
    "r_nose_wing",
    "l_nose_wing",
    "nose_tip",
    "nose_bottom",
    "r_mouth_corner",
    "l_mouth_corner",
    "upper_lip_top",
    "upper_lip_bottom",
    "lower_lip_top",
    "lower_lip_bottom",
    "chin",
)

#: COFW's 29 landmarks (the order of ``phisTr``).
COFW29 = KeypointSpec(name="cofw29", names=_COFW_NAMES, flip_pairs=_mirror_pairs(_COFW_NAMES))

_AFLW21_NAMES = (
    "r_brow_outer",
    "r_brow_center",
    "r_brow_inner",
    "l_brow_inner",
    "l_brow_center",
    "l_brow_outer",
    "r_eye_outer",
    "r_eye_center",
    "r_eye_inner",
    "l_eye_inner",
    "l_eye_center",
    "l_eye_outer",
    "r_ear",
    "r_nose_wing",
    "nose_center",
    "l_nose_wing",
    "l_ear",
    "r_mouth_corner",
    "mouth_center",
    "l_mouth_corner",
    "chin",
)

#: AFLW's full 21-point markup (AFLW feature ids 1-21 in order).
AFLW21 = KeypointSpec(name="aflw21", names=_AFLW21_NAMES, flip_pairs=_mirror_pairs(_AFLW21_NAMES))

#: AFLW21 indices kept by the 19-point AFLW-Full protocol (the ears dropped).
AFLW19_FROM_21: tuple[int, ...] = tuple(
    i for i, name in enumerate(_AFLW21_NAMES) if not name.endswith("_ear")
)

_AFLW19_NAMES = tuple(_AFLW21_NAMES[i] for i in AFLW19_FROM_21)

#: The 19-point AFLW of the AFLW-Full protocol (Zhu et al., CVPR 2016; HRNet; mmpose).
AFLW19 = KeypointSpec(name="aflw19", names=_AFLW19_NAMES, flip_pairs=_mirror_pairs(_AFLW19_NAMES))


def flip_joints(joints: np.ndarray, width: int, spec: KeypointSpec) -> np.ndarray:
    """Mirror (..., K, 2) joints in an image of ``width`` pixels and swap left/right names."""
    flipped = joints[..., spec.flip_permutation(), :].copy()
    flipped[..., 0] = width - 1 - flipped[..., 0]
    return flipped
