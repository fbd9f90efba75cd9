"""Data: keypoint schemes, the in-memory dataset, synthetic generators, augmentation, targets."""

from studylib.data.dataset import KeypointSet
from studylib.data.keypoints import FACE68, MPII, KeypointSpec

__all__ = ["FACE68", "MPII", "KeypointSet", "KeypointSpec"]
