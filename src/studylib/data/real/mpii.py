"""MPII Human Pose: the annotation JSON, the validation ground truth ``.mat``, the PCKh check.

Formats (M. Andriluka et al., CVPR 2014; the JSON and ``.mat`` layouts of the stacked-hourglass
and HRNet code bases):

- Annotation JSON: a list of people, each ``{"image", "center": [x, y], "scale", "joints":
  16 x [x, y], "joints_vis": 16 x 0/1}``. Coordinates are MATLAB 1-based; ``scale`` is the
  person's height / 200 px; ``joints_vis`` says a joint is annotated (not whether it is visible,
  so ``occluded`` stays False); unannotated joints hold (-1, -1).
- ``valid_gt.mat`` / ``gt_valid.mat``: ``pos_gt_src`` (16, 2, N), ``headboxes_src`` (2, 2, N) =
  [corner, (x, y), person], ``jnt_missing`` (16, N), ``dataset_joints`` (1, 16) names and, in
  the shared copy, ``pos_pred_src`` (16, 2, N): one model's predictions. All MATLAB 1-based.

Crops follow HRNet's MPII loader: the centre moves down by 15 x scale, the box is
1.25 x 200 x scale pixels, and 1 is subtracted from centre and joints (1-based to 0-based).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studylib import metrics
from studylib.data.dataset import KeypointSet
from studylib.data.keypoints import MPII
from studylib.data.real.cache import cache_file, cached
from studylib.data.real.crop import CropSample, box_from_center_scale, build_keypoint_set
from studylib.data.real.matfile import load_mat, mat_array
from studylib.data.real.root import DataNotFoundError, data_root, source_path

#: ``dataset_joints`` names of the MPII ``.mat`` files, in MPII's joint order.
MAT_JOINT_NAMES: tuple[str, ...] = (
    "rank",
    "rkne",
    "rhip",
    "lhip",
    "lkne",
    "lank",
    "pelv",
    "thor",
    "neck",
    "head",
    "rwri",
    "relb",
    "rsho",
    "lsho",
    "lelb",
    "lwri",
)

#: Keys of one person in an MPII annotation JSON.
PERSON_KEYS: tuple[str, ...] = ("image", "center", "scale", "joints", "joints_vis")

#: HRNet's downward shift of the MPII centre, in units of ``scale``.
CENTER_SHIFT = 15.0


@dataclass
class MpiiAnnotations:
    """People of an MPII annotation JSON, coordinates as stored (MATLAB 1-based).

    Attributes:
        images: image file name of each person.
        centers: (N, 2) person centres.
        scales: (N,) person height / 200.
        joints: (N, 16, 2) joints.
        annotated: (N, 16) bool, ``joints_vis``.
        path: the file read.
    """

    images: list[str]
    centers: np.ndarray
    scales: np.ndarray
    joints: np.ndarray
    annotated: np.ndarray
    path: Path

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class MpiiGroundTruth:
    """An MPII ``valid_gt.mat``, people first, coordinates as stored (MATLAB 1-based).

    Attributes:
        joints: (N, 16, 2) ``pos_gt_src``.
        headboxes: (N, 2, 2) ``headboxes_src`` as [[x1, y1], [x2, y2]].
        missing: (N, 16) bool ``jnt_missing``.
        predictions: (N, 16, 2) ``pos_pred_src``, or None when the file has none.
        path: the file read.
    """

    joints: np.ndarray
    headboxes: np.ndarray
    missing: np.ndarray
    predictions: np.ndarray | None
    path: Path

    def __len__(self) -> int:
        return int(self.joints.shape[0])

    @property
    def head_sizes(self) -> np.ndarray:
        """(N,) MPII head sizes, 0.6 x head-box diagonal."""
        return metrics.mpii_head_sizes(self.headboxes)


def read_mpii_json(path: str | Path) -> MpiiAnnotations:
    """Read an MPII annotation JSON (the hourglass / HRNet / mmpose layout)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: malformed JSON ({error})") from error
    if not isinstance(data, list) or not data:
        raise ValueError(
            f"{path}: expected a non-empty JSON list of people, got {type(data).__name__}"
        )
    images, centers, scales, joints, annotated = [], [], [], [], []
    for index, person in enumerate(data):
        where = f"{path}: person {index}"
        if not isinstance(person, dict):
            raise ValueError(f"{where}: expected an object, got {type(person).__name__}")
        missing = [k for k in PERSON_KEYS if k not in person]
        if missing:
            raise ValueError(f"{where}: missing key(s) {missing}")
        images.append(str(person["image"]))
        centers.append(_numeric(person["center"], (2,), where, "center"))
        scales.append(_numeric(person["scale"], (), where, "scale"))
        joints.append(_numeric(person["joints"], (16, 2), where, "joints"))
        annotated.append(_numeric(person["joints_vis"], (16,), where, "joints_vis") > 0)
    return MpiiAnnotations(
        images=images,
        centers=np.stack(centers),
        scales=np.array(scales),
        joints=np.stack(joints),
        annotated=np.stack(annotated),
        path=path,
    )


def _numeric(value, shape: tuple, where: str, key: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {key!r} must be numeric with shape {shape}") from None
    if array.shape != shape:
        raise ValueError(f"{where}: {key!r} must have shape {shape}, got {array.shape}")
    return array


def read_mpii_gt(path: str | Path) -> MpiiGroundTruth:
    """Read MPII's ``valid_gt.mat`` / ``gt_valid.mat`` (see the module doc for the keys)."""
    path = Path(path)
    mat = load_mat(path)
    joints = mat_array(mat, "pos_gt_src", path, (16, 2, None)).transpose(2, 0, 1)
    n = joints.shape[0]
    headboxes = mat_array(mat, "headboxes_src", path, (2, 2, n)).transpose(2, 0, 1)
    missing = mat_array(mat, "jnt_missing", path, (16, n)).T
    if not np.isin(missing, (0, 1)).all():
        raise ValueError(f"{path}: 'jnt_missing' must hold 0 or 1")
    predictions = None
    if "pos_pred_src" in mat:
        predictions = mat_array(mat, "pos_pred_src", path, (16, 2, n)).transpose(2, 0, 1)
    if "dataset_joints" in mat:
        cells = np.asarray(mat["dataset_joints"]).ravel()
        names = tuple(str(np.asarray(cell).ravel()[0]) for cell in cells)
        if names != MAT_JOINT_NAMES:
            raise ValueError(
                f"{path}: 'dataset_joints' must list the MPII joints {MAT_JOINT_NAMES}, got {names}"
            )
    return MpiiGroundTruth(
        joints=joints,
        headboxes=headboxes,
        missing=missing.astype(bool),
        predictions=predictions,
        path=path,
    )


def mpii_prediction_pckh(mat_path: str | Path, threshold: float = 0.5) -> metrics.PCKResult:
    """PCKh of the ``pos_pred_src`` stored in an MPII ``.mat`` against its ``pos_gt_src``.

    Scored joints are ``1 - jnt_missing``; head sizes are 0.6 x the ``headboxes_src`` diagonal
    (:func:`studylib.metrics.mpii_head_sizes`). Predictions and ground truth are compared as
    stored, without a +-1 offset: both are MATLAB 1-based in the original code (HRNet adds 1 to
    its 0-based predictions before this comparison), and on the shared file shifting the
    predictions by -1, -0.5, +0.5 or +1 pixel changes the total by less than 0.04 points.
    """
    gt = read_mpii_gt(mat_path)
    if gt.predictions is None:
        raise ValueError(f"{gt.path}: no 'pos_pred_src' predictions to score")
    return metrics.pckh(gt.predictions, gt.joints, ~gt.missing, gt.head_sizes, threshold)


def mpii_reference_pckh(mat_path: str | Path, threshold: float = 0.5) -> dict[str, float]:
    """The Table-1 row (Head, Sho., ..., Total) of :func:`mpii_prediction_pckh`."""
    return metrics.mpii_table(mpii_prediction_pckh(mat_path, threshold))


def standard_mpii_evaluation(
    gt_dict: dict, pos_pred_src: np.ndarray, threshold: float = 0.5
) -> tuple[dict[str, float], np.ndarray]:
    """A literal port of the standard MPII evaluation script (``MPIIDataset.evaluate`` of HRNet,
    itself from the stacked-hourglass code), kept as written so that :func:`evaluation_check`
    can hold :func:`studylib.metrics.pckh` against it: returns (name -> value, per-joint PCKh)."""
    SC_BIAS = 0.6  # noqa: N806 - the original's name
    dataset_joints = gt_dict["dataset_joints"]
    jnt_missing = gt_dict["jnt_missing"]
    pos_gt_src = gt_dict["pos_gt_src"]
    headboxes_src = gt_dict["headboxes_src"]

    def joint(name):
        return np.where(dataset_joints == name)[1][0]

    head = joint("head")
    lsho, lelb, lwri = joint("lsho"), joint("lelb"), joint("lwri")
    lhip, lkne, lank = joint("lhip"), joint("lkne"), joint("lank")
    rsho, relb, rwri = joint("rsho"), joint("relb"), joint("rwri")
    rhip, rkne, rank = joint("rhip"), joint("rkne"), joint("rank")

    jnt_visible = 1 - jnt_missing
    uv_error = pos_pred_src - pos_gt_src
    uv_err = np.linalg.norm(uv_error, axis=1)
    headsizes = headboxes_src[1, :, :] - headboxes_src[0, :, :]
    headsizes = np.linalg.norm(headsizes, axis=0)
    headsizes *= SC_BIAS
    scale = np.multiply(headsizes, np.ones((len(uv_err), 1)))
    scaled_uv_err = np.divide(uv_err, scale)
    scaled_uv_err = np.multiply(scaled_uv_err, jnt_visible)
    jnt_count = np.sum(jnt_visible, axis=1)
    less_than_threshold = np.multiply((scaled_uv_err <= threshold), jnt_visible)
    pckh = np.divide(100.0 * np.sum(less_than_threshold, axis=1), jnt_count)
    per_joint = np.array(pckh)

    pckh = np.ma.array(pckh, mask=False)
    pckh.mask[6:8] = True
    jnt_count = np.ma.array(jnt_count, mask=False)
    jnt_count.mask[6:8] = True
    jnt_ratio = jnt_count / np.sum(jnt_count).astype(np.float64)
    table = {
        "Head": pckh[head],
        "Shoulder": 0.5 * (pckh[lsho] + pckh[rsho]),
        "Elbow": 0.5 * (pckh[lelb] + pckh[relb]),
        "Wrist": 0.5 * (pckh[lwri] + pckh[rwri]),
        "Hip": 0.5 * (pckh[lhip] + pckh[rhip]),
        "Knee": 0.5 * (pckh[lkne] + pckh[rkne]),
        "Ankle": 0.5 * (pckh[lank] + pckh[rank]),
        "Mean": np.sum(pckh * jnt_ratio),
    }
    return {key: float(value) for key, value in table.items()}, per_joint


def evaluation_check(mat_path: str | Path, threshold: float = 0.5) -> dict:
    """PCKh of the predictions stored in an MPII ``.mat`` by :func:`studylib.metrics.pckh` and by
    the standard script (:func:`standard_mpii_evaluation`), per joint and in the Table-1 groups.

    The groups differ by definition in one place: the script's "Head" is the head top alone,
    MPII's MATLAB table (and ours) averages the upper neck and the head top; both are given.
    """
    import scipy.io

    path = Path(mat_path)
    ours = mpii_prediction_pckh(path, threshold)
    table = metrics.mpii_table(ours)
    gt = scipy.io.loadmat(path)
    official, official_per_joint = standard_mpii_evaluation(gt, gt["pos_pred_src"], threshold)
    names = [str(n[0]) for n in gt["dataset_joints"][0]]
    return {
        "file": path.name,
        "people": int(gt["pos_gt_src"].shape[-1]),
        "threshold": threshold,
        "joints": names,
        "per_joint_ours": [float(v) for v in ours.per_joint],
        "per_joint_standard": [float(v) for v in official_per_joint],
        "table_ours": table,
        "table_standard": official,
        "max_per_joint_difference": float(
            np.nanmax(np.abs(np.asarray(ours.per_joint) - official_per_joint))
        ),
    }


#: The standard script's names of the Table-1 columns (its "Mean" is our "Total").
STANDARD_COLUMNS = {
    "Head": "Head",
    "Sho.": "Shoulder",
    "Elb.": "Elbow",
    "Wri.": "Wrist",
    "Hip": "Hip",
    "Kne.": "Knee",
    "Ank.": "Ankle",
    "Total": "Mean",
}


def check_table(check: dict):
    """An :func:`evaluation_check` record as a two-row table in the Table-1 columns: ours, then
    the standard script's."""
    import pandas as pd

    standard = check["table_standard"]
    rows = {
        "studylib.metrics.pckh": check["table_ours"],
        "standard script": {ours: standard[theirs] for ours, theirs in STANDARD_COLUMNS.items()},
    }
    return pd.DataFrame.from_dict(rows, orient="index")[list(STANDARD_COLUMNS)]


def match_ground_truth(
    people: MpiiAnnotations, gt: MpiiGroundTruth, tol: float = 0.01
) -> np.ndarray:
    """Index into ``gt`` of each JSON person (same annotated joints and coordinates), else -1."""
    index = np.full(len(people), -1)
    for i in range(len(people)):
        same_mask = (~gt.missing == people.annotated[i]).all(axis=1)
        mask = people.annotated[i]
        close = np.abs(gt.joints[:, mask] - people.joints[i, mask]).max(axis=(1, 2)) <= tol
        found = np.flatnonzero(same_mask & close)
        if found.size:
            index[i] = found[0]
    return index


def _torso(joints: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Left shoulder to right hip (the LSP PCK convention), else the other diagonal, else NaN."""
    result = np.full(joints.shape[0], np.nan)
    for a, b in (("l_shoulder", "r_hip"), ("r_shoulder", "l_hip")):
        ia, ib = MPII.index(a), MPII.index(b)
        ok = valid[:, ia] & valid[:, ib] & np.isnan(result)
        result[ok] = np.linalg.norm(joints[ok, ia] - joints[ok, ib], axis=-1)
    return result


def load_mpii_fixture(
    split: str = "test",
    image_size: int = 256,
    root: str | Path | None = None,
    cache_dir: str | Path | None = None,
    *,
    json_path: str | Path | None = None,
    gt_mat: str | Path | None = None,
    fill: int = 0,
    workers: int | None = None,
) -> KeypointSet:
    """People of an MPII annotation JSON cropped to ``image_size`` (cached).

    Args:
        split: only ``"test"`` (the fixture is five validation people).
        json_path: the JSON (default: ``<root>/fixtures/mmpose/mpii/test_mpii.json``); images are
            looked up next to it.
        gt_mat: MPII ground truth used to find each person's head box (default:
            ``<root>/mpii/valid_gt.mat`` when present). ``norms["head"]`` (MPII head size) is
            present only when every person is found there; ``norms["torso"]`` always is.
    """
    if split != "test":
        raise ValueError(f"the MPII fixture has only the 'test' split, got {split!r}")
    base = None
    if json_path is None:
        base = data_root(root)
        json_path = source_path("mpii_fixture", base) / "mmpose" / "mpii" / "test_mpii.json"
    elif gt_mat is None:
        with contextlib.suppress(DataNotFoundError):
            base = data_root(root)
    json_path = Path(json_path)
    if gt_mat is None and base is not None and (base / "mpii" / "valid_gt.mat").is_file():
        gt_mat = base / "mpii" / "valid_gt.mat"
    options = {"json": str(json_path.resolve()), "gt_mat": str(gt_mat), "fill": fill}
    path = cache_file("mpii-fixture", split, image_size, options, cache_dir)

    def build() -> KeypointSet:
        people = read_mpii_json(json_path)
        joints = people.joints - 1.0
        valid = people.annotated
        norms = {"torso": _torso(joints, valid)}
        head_note = "not available: no MPII ground truth .mat given"
        if gt_mat is not None:
            gt = read_mpii_gt(gt_mat)
            match = match_ground_truth(people, gt)
            if (match >= 0).all():
                norms["head"] = gt.head_sizes[match]
                head_note = f"0.6 x head-box diagonal from {gt_mat}, people {match.tolist()}"
            else:
                unmatched = np.flatnonzero(match < 0).tolist()
                head_note = f"not available: people {unmatched} are not in {gt_mat}"
        samples = []
        for i, image in enumerate(people.images):
            center = people.centers[i] + np.array([0.0, CENTER_SHIFT * people.scales[i]]) - 1.0
            samples.append(
                CropSample(
                    image=json_path.parent / image,
                    joints=joints[i],
                    valid=valid[i],
                    occluded=np.zeros(MPII.num_keypoints, dtype=bool),
                    box=box_from_center_scale(center, people.scales[i]),
                    norms={key: float(value[i]) for key, value in norms.items()},
                    name=image,
                )
            )
        info = {
            "name": "mpii-fixture",
            "source": str(json_path),
            "split": split,
            "crop": "HRNet MPII: centre + (0, 15 scale), side 1.25 x 200 x scale, "
            "1-based -> 0-based",
            "norms": {"head": head_note, "torso": "left shoulder to right hip"},
            "occluded": "unknown (joints_vis marks annotated joints only)",
        }
        return build_keypoint_set(samples, MPII, image_size, info, fill=fill, workers=workers)

    return cached(path, build)
