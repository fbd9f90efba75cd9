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
        """Index array ``p`` such that ``flipped_joints = joints[..., p, :]`` swaps left and right."""
        perm = np.arange(self.num_keypoints)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"{self.name} has no keypoint named {name!r}; it has {self.names}") from None


MPII = KeypointSpec(
    name="mpii16",
    names=(
        "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle",
        "pelvis", "thorax", "upper_neck", "head_top",
        "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
    ),
    flip_pairs=((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)),
)

#: The column groups of the ACNN paper's Table 1 (MPII PCKh@0.5). Pelvis and thorax are left out
#: of the table's groups but counted in "Total", as in the standard MPII evaluation script.
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
    pairs += [(48, 54), (49, 53), (50, 52), (60, 64), (61, 63), (67, 65), (59, 55), (58, 56)]  # mouth
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


def flip_joints(joints: np.ndarray, width: int, spec: KeypointSpec) -> np.ndarray:
    """Mirror (..., K, 2) joints in an image of ``width`` pixels and swap left/right names."""
    flipped = joints[..., spec.flip_permutation(), :].copy()
    flipped[..., 0] = width - 1 - flipped[..., 0]
    return flipped
