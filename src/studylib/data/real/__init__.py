"""Real benchmarks in their official formats, cropped into :class:`~studylib.data.KeypointSet`.

One setting finds the data: the environment variable ``STUDYLIB_DATA`` (or the ``root=`` argument
of any loader), pointing at a folder laid out as :data:`~studylib.data.real.root.EXPECTED_LAYOUT`
says. Built sets are cached as ``.npz`` under ``cache_dir`` (default ``$STUDYLIB_CACHE`` or
``~/.cache/studylib``).

Entry points, all ``(split, image_size, root=None, cache_dir=None, **options)``:

- :func:`load_lsp`: LSP + LSPET in the 16 MPII joints (train = LSPET + LSP 1-1000,
  test = LSP 1001-2000), norms ``torso``, ``head`` (PCKh head size), ``head_segment``.
- :func:`load_300w`: 300-W 68 points (train = AFW + HELEN train, test = HELEN test), norm
  ``interocular``.
- :func:`load_cofw`: COFW 29 points with occlusion labels from the Caltech ``.mat``.
- :func:`load_mpii_fixture`, :func:`load_face_fixture`: the small mmpose fixtures.
- :func:`load`: any of them by name, for notebooks with a ``dataset`` parameter.

:func:`available` tells whether a source is present (tests skip on it).
"""

from __future__ import annotations

from pathlib import Path

from studylib.data.dataset import KeypointSet
from studylib.data.keypoints import AFLW19, AFLW19_FROM_21, AFLW21, COFW29
from studylib.data.real.crop import (
    CropBox,
    CropSample,
    box_from_center_scale,
    box_from_points,
    box_from_xywh,
    build_keypoint_set,
    crop_image,
    read_crop,
)
from studylib.data.real.faces import (
    CocoKeypoints,
    CofwData,
    coco_visibility,
    load_300w,
    load_coco_faces,
    load_cofw,
    load_face_fixture,
    read_coco_keypoints,
    read_cofw_mat,
    read_pts,
)
from studylib.data.real.lsp import (
    LSP_JOINTS,
    LSP_TO_MPII,
    RawJoints,
    load_lsp,
    lsp_norms,
    lsp_to_mpii,
    read_lsp_joints,
    read_lspet_joints,
)
from studylib.data.real.mpii import (
    MpiiAnnotations,
    MpiiGroundTruth,
    check_table,
    evaluation_check,
    load_mpii_fixture,
    mpii_prediction_pckh,
    mpii_reference_pckh,
    read_mpii_gt,
    read_mpii_json,
    standard_mpii_evaluation,
)
from studylib.data.real.root import (
    DATA_ENV,
    EXPECTED_LAYOUT,
    DataNotFoundError,
    available,
    data_root,
)

#: Dataset names accepted by :func:`load`.
LOADERS = {
    "lsp": load_lsp,
    "300w": load_300w,
    "cofw": load_cofw,
    "mpii_fixture": load_mpii_fixture,
}


def load(
    name: str,
    split: str,
    image_size: int,
    root: str | Path | None = None,
    cache_dir: str | Path | None = None,
    **options,
) -> KeypointSet:
    """Load a real dataset by name: ``"lsp"``, ``"300w"``, ``"cofw"``, ``"mpii_fixture"``, or a
    face fixture ``"300w_fixture"``, ``"cofw_fixture"``, ``"aflw_fixture"``."""
    if name in LOADERS:
        return LOADERS[name](split, image_size, root, cache_dir, **options)
    if name.endswith("_fixture"):
        fixture = name.removesuffix("_fixture")
        return load_face_fixture(fixture, split, image_size, root, cache_dir, **options)
    raise KeyError(f"unknown real dataset {name!r}; known: {sorted(LOADERS)} and face fixtures")


__all__ = [
    "check_table",
    "evaluation_check",
    "standard_mpii_evaluation",
    "AFLW19",
    "AFLW19_FROM_21",
    "AFLW21",
    "COFW29",
    "DATA_ENV",
    "EXPECTED_LAYOUT",
    "LOADERS",
    "LSP_JOINTS",
    "LSP_TO_MPII",
    "CocoKeypoints",
    "CofwData",
    "CropBox",
    "CropSample",
    "DataNotFoundError",
    "MpiiAnnotations",
    "MpiiGroundTruth",
    "RawJoints",
    "available",
    "box_from_center_scale",
    "box_from_points",
    "box_from_xywh",
    "build_keypoint_set",
    "coco_visibility",
    "crop_image",
    "data_root",
    "load",
    "load_300w",
    "load_coco_faces",
    "load_cofw",
    "load_face_fixture",
    "load_lsp",
    "load_mpii_fixture",
    "lsp_norms",
    "lsp_to_mpii",
    "mpii_prediction_pckh",
    "mpii_reference_pckh",
    "read_coco_keypoints",
    "read_cofw_mat",
    "read_crop",
    "read_lsp_joints",
    "read_lspet_joints",
    "read_mpii_gt",
    "read_mpii_json",
    "read_pts",
]
