"""Leeds Sports Pose (LSP) and LSP Extended (LSPET): readers, joint mapping, loader.

Formats (S. Johnson and M. Everingham, BMVC 2010 and CVPR 2011):

- LSP ``joints.mat``: key ``joints`` shaped (3, 14, N) = x, y, flag; **flag 1 = occluded**. Every
  joint is annotated (occluded ones are estimated by the annotator).
- LSPET ``joints.mat``: key ``joints`` shaped (14, 3, N); **flag 1 = visible**; a joint at
  (0, 0) was not annotated (its flag is meaningless). In the released LSPET every annotated joint
  is visible, i.e. occluded joints were left unannotated; a flag-0 joint with coordinates would be
  read as annotated and occluded.

Coordinates are used as stored (pixels of the image file).

Joint mapping onto the model's 16 MPII joints (:data:`studylib.data.keypoints.MPII`): the 12 limb
joints map by name, LSP "neck" is MPII ``upper_neck`` and LSP "head top" is MPII ``head_top``.
MPII ``pelvis`` and ``thorax`` have no LSP counterpart. They are *derived* as the hip and shoulder
mid-points (where both are annotated) and, by default, marked **not valid**: they are neither
trained on nor scored, and the coordinates only serve drawing and centring. With
``derived_joints=True`` they become valid (a training target), and ``info["derived_joints"]``
says so; the MPII table groups of :func:`studylib.metrics.mpii_table` never score them.

Normalisers (``norms``, in crop pixels):

- ``"torso"``: the PCK@0.2 torso size of the LSP evaluation code (L. Pishchulin's
  ``getDistPCK.m``, used for the LSP tables of e.g. DeepCut and the MPII toolkit:
  ``refDist = norm(gt(:,10) - gt(:,3))`` in LSP's 1-based order), i.e. the distance from the
  **left shoulder to the right hip**. Where one of them is not annotated (LSPET only) the other
  diagonal (right shoulder to left hip) is used, else NaN.
- ``"head_segment"``: upper neck to head top; NaN where either is not annotated.
- ``"head"``: the PCKh head size, 0.75 x the head segment. In MPII's own validation ground truth
  the segment is exactly 4/3 of MPII's head size (0.6 x head-box diagonal), so PCKh@0.5 with this
  normaliser has MPII's meaning (``norms["head"]`` is the PCKh head size in every studylib set).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studylib.data.dataset import KeypointSet
from studylib.data.keypoints import MPII
from studylib.data.real.cache import cache_file, cached
from studylib.data.real.crop import CropSample, box_from_points, build_keypoint_set
from studylib.data.real.matfile import load_mat, mat_array
from studylib.data.real.root import data_root, source_path

#: LSP / LSPET joint order.
LSP_JOINTS: tuple[str, ...] = (
    "r_ankle",
    "r_knee",
    "r_hip",
    "l_hip",
    "l_knee",
    "l_ankle",
    "r_wrist",
    "r_elbow",
    "r_shoulder",
    "l_shoulder",
    "l_elbow",
    "l_wrist",
    "neck",
    "head_top",
)

#: ``LSP_TO_MPII[i]`` is the MPII index of LSP joint ``i`` (LSP neck -> MPII upper_neck).
LSP_TO_MPII: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 8, 9)

#: MPII joints without an LSP counterpart, each derived as the mid-point of two LSP joints.
DERIVED_JOINTS: dict[str, tuple[str, str]] = {
    "pelvis": ("r_hip", "l_hip"),
    "thorax": ("r_shoulder", "l_shoulder"),
}

#: The torso diagonal of the LSP PCK evaluation (left shoulder, right hip), then the fallback.
TORSO_PAIRS: tuple[tuple[str, str], ...] = (("l_shoulder", "r_hip"), ("r_shoulder", "l_hip"))

#: MPII's head size (0.6 x head-box diagonal) over the upper-neck-to-head-top segment.
MPII_HEAD_PER_SEGMENT = 0.75

#: Margin of the crop around the joints' box. In MPII's crops (``center``/``scale`` x 1.25) the
#: joints' extent is 0.53-0.71 (mean 0.63) of the frame on the mmpose MPII fixture people;
#: 1 / 1.6 = 0.625 gives LSP people the same fraction of the frame.
POSE_MARGIN = 1.6

#: LSP's standard split (1-based image numbers).
LSP_TRAIN = range(1, 1001)
LSP_TEST = range(1001, 2001)


@dataclass
class RawJoints:
    """Joints as read from an LSP / LSPET ``joints.mat``, one row per image.

    Attributes:
        xy: (N, 14, 2) float64 pixel coordinates in the image file.
        labelled: (N, 14) bool, the joint was annotated.
        occluded: (N, 14) bool, annotated but hidden.
        path: the file read.
    """

    xy: np.ndarray
    labelled: np.ndarray
    occluded: np.ndarray
    path: Path

    def __len__(self) -> int:
        return int(self.xy.shape[0])


def read_lsp_joints(path: str | Path) -> RawJoints:
    """Read LSP's ``joints.mat``: ``joints`` (3, 14, N), flag 1 = occluded, all annotated."""
    path = Path(path)
    joints = mat_array(load_mat(path), "joints", path, (3, 14, None)).transpose(2, 1, 0)
    _check_flags(joints[..., 2], path, "LSP")
    labelled = np.isfinite(joints[..., :2]).all(axis=-1)
    return RawJoints(
        xy=joints[..., :2],
        labelled=labelled,
        occluded=labelled & (joints[..., 2] == 1),
        path=path,
    )


def read_lspet_joints(path: str | Path) -> RawJoints:
    """Read LSPET's ``joints.mat``: ``joints`` (14, 3, N), flag 1 = visible, (0, 0) = unlabelled."""
    path = Path(path)
    joints = mat_array(load_mat(path), "joints", path, (14, 3, None)).transpose(2, 0, 1)
    _check_flags(joints[..., 2], path, "LSPET")
    xy = joints[..., :2]
    labelled = np.isfinite(xy).all(axis=-1) & ~((xy[..., 0] == 0) & (xy[..., 1] == 0))
    return RawJoints(
        xy=xy,
        labelled=labelled,
        occluded=labelled & (joints[..., 2] == 0),
        path=path,
    )


def _check_flags(flags: np.ndarray, path: Path, name: str) -> None:
    if not np.isin(flags, (0, 1)).all():
        bad = np.unique(flags[~np.isin(flags, (0, 1))])[:5]
        raise ValueError(f"{path}: {name} visibility flags must be 0 or 1, found {bad}")


def lsp_to_mpii(raw: RawJoints, derived_joints: bool = False) -> tuple[np.ndarray, ...]:
    """Map LSP joints onto the 16 MPII joints.

    Returns:
        (joints (N, 16, 2), valid (N, 16), occluded (N, 16)). Pelvis and thorax hold the hip and
        shoulder mid-points (0 where a parent is not annotated); they are valid only with
        ``derived_joints=True`` and both parents annotated.
    """
    n = len(raw)
    joints = np.zeros((n, MPII.num_keypoints, 2))
    valid = np.zeros((n, MPII.num_keypoints), dtype=bool)
    occluded = np.zeros((n, MPII.num_keypoints), dtype=bool)
    target = list(LSP_TO_MPII)
    joints[:, target] = np.where(raw.labelled[..., None], raw.xy, 0.0)
    valid[:, target] = raw.labelled
    occluded[:, target] = raw.occluded
    for name, (a, b) in DERIVED_JOINTS.items():
        ia, ib = LSP_JOINTS.index(a), LSP_JOINTS.index(b)
        both = raw.labelled[:, ia] & raw.labelled[:, ib]
        index = MPII.index(name)
        joints[both, index] = (raw.xy[both, ia] + raw.xy[both, ib]) / 2.0
        valid[:, index] = both & derived_joints
        occluded[:, index] = valid[:, index] & (raw.occluded[:, ia] | raw.occluded[:, ib])
    return joints, valid, occluded


def lsp_norms(raw: RawJoints) -> dict[str, np.ndarray]:
    """Per-image ``torso``, ``head_segment`` and ``head`` lengths in source pixels (module doc)."""

    def length(a: str, b: str) -> np.ndarray:
        ia, ib = LSP_JOINTS.index(a), LSP_JOINTS.index(b)
        both = raw.labelled[:, ia] & raw.labelled[:, ib]
        return np.where(both, np.linalg.norm(raw.xy[:, ia] - raw.xy[:, ib], axis=-1), np.nan)

    torso = length(*TORSO_PAIRS[0])
    for pair in TORSO_PAIRS[1:]:
        torso = np.where(np.isnan(torso), length(*pair), torso)
    segment = length("neck", "head_top")
    return {"torso": torso, "head_segment": segment, "head": MPII_HEAD_PER_SEGMENT * segment}


def _samples(raw: RawJoints, image_dir: Path, numbers, digits: int, derived: bool, margin: float):
    joints, valid, occluded = lsp_to_mpii(raw, derived)
    norms = lsp_norms(raw)
    samples = []
    for number in numbers:
        i = number - 1
        name = f"im{number:0{digits}d}.jpg"
        samples.append(
            CropSample(
                image=image_dir / name,
                joints=joints[i],
                valid=valid[i],
                occluded=occluded[i],
                box=box_from_points(raw.xy[i], raw.labelled[i], margin),
                norms={key: float(value[i]) for key, value in norms.items()},
                name=f"{image_dir.parent.name}/{name}",
            )
        )
    return samples


def load_lsp(
    split: str,
    image_size: int,
    root: str | Path | None = None,
    cache_dir: str | Path | None = None,
    *,
    limit: int | None = None,
    derived_joints: bool = False,
    margin: float = POSE_MARGIN,
    fill: int = 0,
    workers: int | None = None,
) -> KeypointSet:
    """LSP in the MPII joint layout, cropped to ``image_size`` pixels (cached).

    Args:
        split: ``"train"`` = all 10,000 LSPET images then LSP 1-1000 (unannotated LSPET joints are
            not valid); ``"test"`` = LSP 1001-2000.
        image_size: side of the square crops.
        root: the real-data folder (default: ``$STUDYLIB_DATA``).
        cache_dir: where built sets are cached (default: ``$STUDYLIB_CACHE`` or
            ``~/.cache/studylib``).
        limit: keep only the first ``limit`` images of the split (quick tests).
        derived_joints: make the derived pelvis and thorax valid (see the module doc).
        margin: crop side over the longer side of the annotated joints' box.
        fill: grey level of the padding outside the image.
        workers: image-decoding threads.
    """
    if split not in ("train", "test"):
        raise ValueError(f"LSP split must be 'train' or 'test', got {split!r}")
    base = data_root(root)
    sources = ("lspet", "lsp") if split == "train" else ("lsp",)
    for source in sources:
        source_path(source, base)
    options = {
        "root": str(base.resolve()),
        "limit": limit,
        "derived_joints": derived_joints,
        "margin": margin,
        "fill": fill,
    }
    path = cache_file("lsp", split, image_size, options, cache_dir)

    def build() -> KeypointSet:
        samples = []
        if split == "train":
            lspet = read_lspet_joints(base / "lspet" / "joints.mat")
            numbers = range(1, len(lspet) + 1)
            images = base / "lspet" / "images"
            samples += _samples(lspet, images, numbers, 5, derived_joints, margin)
        lsp = read_lsp_joints(base / "lsp" / "joints.mat")
        numbers = LSP_TRAIN if split == "train" else LSP_TEST
        if len(lsp) < numbers[-1]:
            raise ValueError(f"{lsp.path}: expected {numbers[-1]} LSP images, found {len(lsp)}")
        samples += _samples(lsp, base / "lsp" / "images", numbers, 4, derived_joints, margin)
        samples = samples[:limit] if limit is not None else samples
        info = {
            "name": f"lsp-{split}",
            "source": "LSP + LSPET" if split == "train" else "LSP",
            "split": split,
            "split_rule": "train = LSPET 1-10000 + LSP 1-1000; test = LSP 1001-2000",
            "joint_mapping": {
                name: MPII.names[LSP_TO_MPII[i]] for i, name in enumerate(LSP_JOINTS)
            },
            "derived_joints": {
                name: {"from": list(parents), "valid": derived_joints}
                for name, parents in DERIVED_JOINTS.items()
            },
            "norms": {
                "torso": "left shoulder to right hip (LSP PCK evaluation, getDistPCK.m); "
                "right shoulder to left hip where those are unannotated",
                "head_segment": "upper neck to head top",
                "head": f"{MPII_HEAD_PER_SEGMENT} x head_segment (MPII head-size equivalent)",
            },
            "crop": f"square around the annotated joints' box, margin {margin}",
            "flags": "LSP: 1 = occluded; LSPET: 1 = visible, (0, 0) = unannotated",
        }
        return build_keypoint_set(samples, MPII, image_size, info, fill=fill, workers=workers)

    return cached(path, build)
