"""Keypoint metrics: PCK / PCKh (pose), NME with CED, AUC and failure rate (faces).

All functions take numpy arrays (torch tensors are converted) with keypoints as (..., K, 2).
Percentages are in [0, 100]; normalised errors are fractions of the normaliser.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from studylib.data.keypoints import FACE68_OUTER_EYE_CORNERS, MPII_TABLE_GROUPS

#: MPII's head-size factor: the head size is 0.6 times the diagonal of the annotated head box.
MPII_HEAD_FACTOR = 0.6


def _array(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _check_keypoints(pred: np.ndarray, gt: np.ndarray) -> None:
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 2:
        raise ValueError(
            f"pred and gt must both be (N, K, 2) keypoint arrays, got {pred.shape} and {gt.shape}"
        )


@dataclass
class PCKResult:
    """PCK at one threshold.

    Attributes:
        per_joint: (K,) percentage of scored joints within the threshold (NaN where none scored).
        mean: percentage over all scored joints together (each scored joint counts once).
        correct: (N, K) bool, within the threshold (False where not scored).
        scored: (N, K) bool, the joints that counted.
        errors: (N, K) error / normaliser (NaN where not scored).
    """

    per_joint: np.ndarray
    mean: float
    correct: np.ndarray
    scored: np.ndarray
    errors: np.ndarray

    @property
    def counts(self) -> np.ndarray:
        """(K,) number of scored joints."""
        return self.scored.sum(axis=0)

    def group_mean(self, joints) -> float:
        """Percentage correct over the scored joints in ``joints`` (count-weighted)."""
        joints = list(joints)
        scored = self.scored[:, joints].sum()
        return float(100.0 * self.correct[:, joints].sum() / scored) if scored else float("nan")


def pck(pred, gt, visible, normalizer, threshold: float) -> PCKResult:
    """Percentage of correct keypoints: correct when error <= threshold * normalizer.

    Args:
        pred, gt: (N, K, 2) predicted and true keypoints.
        visible: (N, K) mask of the joints to score (annotated; MPII's ``1 - jnt_missing``).
        normalizer: (N,) per-sample length (head size for PCKh, torso size for PCK@0.2).
        threshold: fraction of the normaliser.
    """
    pred, gt = _array(pred), _array(gt)
    _check_keypoints(pred, gt)
    scored = np.asarray(visible, dtype=bool)
    norm = _array(normalizer)
    if scored.shape != pred.shape[:2]:
        raise ValueError(f"visible must be (N, K) = {pred.shape[:2]}, got {scored.shape}")
    if norm.shape != (pred.shape[0],):
        raise ValueError(f"normalizer must be (N,) = ({pred.shape[0]},), got {norm.shape}")
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0, got {threshold}")
    if np.any(norm[scored.any(axis=1)] <= 0):
        raise ValueError("normalizer must be > 0 for every sample with a scored joint")
    safe_norm = np.where(norm > 0, norm, 1.0)
    errors = np.linalg.norm(pred - gt, axis=-1) / safe_norm[:, None]
    errors = np.where(scored, errors, np.nan)
    correct = scored & (np.nan_to_num(errors, nan=np.inf) <= threshold)
    counts = scored.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_joint = 100.0 * correct.sum(axis=0) / counts
    per_joint = np.where(counts > 0, per_joint, np.nan)
    total = scored.sum()
    mean = float(100.0 * correct.sum() / total) if total else float("nan")
    return PCKResult(per_joint=per_joint, mean=mean, correct=correct, scored=scored, errors=errors)


def pckh(pred, gt, visible, head_sizes, threshold: float = 0.5) -> PCKResult:
    """PCKh in the MPII convention: correct when error <= threshold * head size.

    ``head_sizes`` is MPII's head size, 0.6 times the head-box diagonal
    (:func:`mpii_head_sizes` computes it from head boxes).
    """
    return pck(pred, gt, visible, head_sizes, threshold)


def mpii_head_sizes(headboxes) -> np.ndarray:
    """Head sizes from MPII head boxes given as (N, 2, 2) = [[x1, y1], [x2, y2]] per person."""
    boxes = _array(headboxes)
    if boxes.ndim != 3 or boxes.shape[1:] != (2, 2):
        raise ValueError(f"headboxes must be (N, 2, 2) corner pairs, got {boxes.shape}")
    return MPII_HEAD_FACTOR * np.linalg.norm(boxes[:, 1] - boxes[:, 0], axis=-1)


def mpii_table(result: PCKResult, groups: dict[str, tuple[int, ...]] = MPII_TABLE_GROUPS) -> dict:
    """The row of the ACNN paper's Table 1: Head, Sho., Elb., Wri., Hip, Kne., Ank., Total.

    As in the official MPII evaluation, a group is the plain mean of its joints' percentages
    (left and right; "Head" is upper neck and head top, as in MPII's MATLAB table, while the
    Python port of the hourglass/HRNet code reports the head top alone), and "Total" pools every
    joint of the groups, count-weighted, which leaves out pelvis and thorax.
    """
    row = {
        name: float(np.nanmean(result.per_joint[list(joints)])) for name, joints in groups.items()
    }
    row["Total"] = result.group_mean(sorted({j for joints in groups.values() for j in joints}))
    return row


def nme(pred, gt, normalizer, visible=None) -> np.ndarray:
    """Per-sample normalised mean error: mean over landmarks of ||pred - gt|| / normalizer.

    Args:
        pred, gt: (N, L, 2) landmarks.
        normalizer: (N,) e.g. the inter-ocular distance (:func:`inter_ocular_distance`) or the
            box size for AFLW.
        visible: optional (N, L) mask; the mean runs over the masked landmarks only (NaN for a
            sample with none).
    Returns:
        (N,) normalised errors (fractions; multiply by 100 for the papers' "x10^-2" tables).
    """
    pred, gt = _array(pred), _array(gt)
    _check_keypoints(pred, gt)
    norm = _array(normalizer)
    if norm.shape != (pred.shape[0],):
        raise ValueError(f"normalizer must be (N,) = ({pred.shape[0]},), got {norm.shape}")
    if np.any(norm <= 0):
        raise ValueError("normalizer must be > 0 for every sample")
    dist = np.linalg.norm(pred - gt, axis=-1)
    if visible is None:
        return dist.mean(axis=1) / norm
    mask = np.asarray(visible, dtype=bool)
    if mask.shape != dist.shape:
        raise ValueError(f"visible must be (N, L) = {dist.shape}, got {mask.shape}")
    count = mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (dist * mask).sum(axis=1) / count, np.nan) / norm


def inter_ocular_distance(gt, corners: tuple[int, int] = FACE68_OUTER_EYE_CORNERS) -> np.ndarray:
    """(N,) distance between the outer eye corners (points 36 and 45 of the 68-point scheme)."""
    gt = _array(gt)
    return np.linalg.norm(gt[:, corners[0]] - gt[:, corners[1]], axis=-1)


def ced(errors, max_error: float = 0.1, num: int = 201) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative error distribution: (thresholds, fraction of samples with error <= threshold)."""
    errors = _array(errors)
    errors = errors[np.isfinite(errors)]
    thresholds = np.linspace(0.0, max_error, num)
    if errors.size == 0:
        return thresholds, np.full_like(thresholds, np.nan)
    fraction = (errors[None, :] <= thresholds[:, None]).mean(axis=1)
    return thresholds, fraction


def auc(errors, threshold: float = 0.08, num: int = 1001) -> float:
    """Area under the CED curve up to ``threshold``, divided by ``threshold`` (1 is perfect)."""
    thresholds, fraction = ced(errors, threshold, num)
    return float(np.trapezoid(fraction, thresholds) / threshold)


def failure_rate(errors, threshold: float = 0.1) -> float:
    """Fraction of samples whose error is above ``threshold``."""
    errors = _array(errors)
    errors = errors[np.isfinite(errors)]
    return float((errors > threshold).mean()) if errors.size else float("nan")
