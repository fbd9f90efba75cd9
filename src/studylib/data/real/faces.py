"""Face landmark benchmarks: 300-W ``.pts``, COFW ``.mat``, COCO-style keypoint JSON (AFLW, ...).

Formats:

- **300-W** (C. Sagonas et al., 2013): ``NAME.pts`` with an optional header ``version: 1``,
  ``n_points: 68``, ``{`` ... ``}`` around 68 lines ``x y``; the points are the 68-point scheme
  :data:`~studylib.data.keypoints.FACE68` in order. The coordinates are used as stored (the shared
  copy documents them as 0-based pixels); ``pts_offset=1.0`` reads them as 1-based, the
  convention of e.g. menpo.
- **COFW** (X. P. Burgos-Artizzu et al., ICCV 2013), ``COFW_train.mat`` / ``COFW_test.mat``:
  ``IsTr`` / ``IsT`` a cell array of uint8 images (grey or RGB), ``phisTr`` / ``phisT`` (N, 87)
  = 29 x, 29 y, 29 occlusion flags (1 = occluded), ``bboxesTr`` / ``bboxesT`` (N, 4) face boxes
  ``[x, y, width, height]``; MATLAB 1-based pixel coordinates (1 is subtracted here). Files saved
  as MATLAB v7.3 (HDF5, as the Caltech release is) are read with ``h5py`` when it is installed.
- **COCO-style keypoint JSON** (the mmpose fixtures): ``images`` (``id``, ``file_name``),
  ``annotations`` (``image_id``, ``keypoints`` = K x [x, y, v], ``bbox`` = [x, y, w, h], and
  optionally ``center``, ``scale`` = box side / 200, AFLW's ``box_size``). Coordinates are used as
  stored. Visibility ``v``: in COCO's convention 0 = not annotated, 1 = annotated but hidden,
  2 = visible (the COFW fixture uses it); files whose flags are all 0/1 (300-W, AFLW, WFLW
  fixtures) use 1 for every annotated point and carry no occlusion information.

Schemes: 300-W maps 1:1 onto ``FACE68``; COFW gets :data:`COFW29`, AFLW :data:`AFLW21` (the full
AFLW markup) and :data:`AFLW19` (the usual AFLW-Full protocol without the two ear points, as in
the fixture). Names are from the subject's point of view (``r_`` = subject's right = image left
in a frontal face); flip pairs swap ``r_``/``l_``.

Normalisers (``norms``, crop pixels): ``"interocular"`` = distance between the outer eye corners
(300-W points 36 and 45; COFW 8 and 9 as in HRNet; AFLW 6 and 11); ``"interpupil"`` for COFW
(pupils 16 and 17, RCPR's original normaliser); ``"box"`` for AFLW = the annotation's
``box_size`` (HRNet / mmpose AFLW protocol), or sqrt(w h) of ``bbox`` when absent.

Crops: a square of ``1.25 x`` the landmarks' box for 300-W (HRNet's 300-W protocol), of
``1.25 x`` the face box for COFW, and of ``1.25 x 200 x scale`` around ``center`` for a COCO JSON
with ``center``/``scale`` (else ``1.25 x`` its ``bbox``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

from studylib.data.dataset import KeypointSet
from studylib.data.keypoints import (
    AFLW19,
    AFLW21,
    COFW29,
    FACE68,
    FACE68_OUTER_EYE_CORNERS,
    KeypointSpec,
)
from studylib.data.real.cache import cache_file, cached
from studylib.data.real.crop import (
    CropSample,
    box_from_center_scale,
    box_from_points,
    box_from_xywh,
    build_keypoint_set,
)
from studylib.data.real.matfile import load_mat, mat_array
from studylib.data.real.root import source_path

#: Crop side over the face box (HRNet's face protocols enlarge their boxes 1.25 times).
FACE_MARGIN = 1.25


#: Face schemes by number of points, for files that do not name theirs.
SPECS_BY_COUNT: dict[int, KeypointSpec] = {68: FACE68, 29: COFW29, 21: AFLW21, 19: AFLW19}

#: Outer eye corners of each scheme: the inter-ocular normaliser.
OUTER_EYE_CORNERS: dict[str, tuple[int, int]] = {
    FACE68.name: FACE68_OUTER_EYE_CORNERS,
    COFW29.name: (COFW29.index("r_eye_outer"), COFW29.index("l_eye_outer")),
    AFLW21.name: (AFLW21.index("r_eye_outer"), AFLW21.index("l_eye_outer")),
    AFLW19.name: (AFLW19.index("r_eye_outer"), AFLW19.index("l_eye_outer")),
}

#: 300-W folders of each split.
SPLITS_300W: dict[str, tuple[str, ...]] = {
    "train": ("afw", "helen_trainset"),
    "test": ("helen_testset",),
}


# --------------------------------------------------------------------------- 300-W .pts


def read_pts(path: str | Path, num_points: int | None = 68) -> np.ndarray:
    """Read a 300-W ``.pts`` file, with or without its ``version``/``n_points``/``{``/``}`` header.

    Returns:
        (num_points, 2) float64 coordinates as stored.
    Raises:
        ValueError: a malformed line, or a point count other than ``num_points`` (or than the
            header's ``n_points``); the message names the file.
    """
    path = Path(path)
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    lines = [(number, line) for number, line in enumerate(lines, 1) if line]
    declared = None
    points = []
    inside = not any(line == "{" for _, line in lines)
    for number, line in lines:
        if line == "{":
            inside = True
        elif line == "}":
            inside = False
        elif ":" in line and not inside:
            key, _, value = line.partition(":")
            if key.strip() == "n_points":
                try:
                    declared = int(value)
                except ValueError:
                    raise ValueError(f"{path}:{number}: bad n_points {value.strip()!r}") from None
        elif inside:
            fields = line.split()
            try:
                if len(fields) != 2:
                    raise ValueError
                points.append((float(fields[0]), float(fields[1])))
            except ValueError:
                raise ValueError(f"{path}:{number}: expected a point 'x y', got {line!r}") from None
        else:
            raise ValueError(f"{path}:{number}: unexpected line {line!r} outside the point block")
    count = len(points)
    if declared is not None and declared != count:
        raise ValueError(f"{path}: header says n_points {declared} but the file has {count} points")
    if num_points is not None and count != num_points:
        raise ValueError(f"{path}: expected {num_points} points, got {count}")
    return np.array(points, dtype=np.float64).reshape(count, 2)


def _image_for(pts: Path) -> Path:
    for suffix in (".jpg", ".png", ".jpeg", ".JPG", ".PNG"):
        candidate = pts.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{pts}: no image next to it ({pts.stem}.jpg or .png)")


def _face_norms(spec: KeypointSpec, joints: np.ndarray) -> dict[str, float]:
    a, b = OUTER_EYE_CORNERS[spec.name]
    norms = {"interocular": float(np.linalg.norm(joints[a] - joints[b]))}
    if spec is COFW29:
        pupils = joints[COFW29.index("r_pupil")] - joints[COFW29.index("l_pupil")]
        norms["interpupil"] = float(np.linalg.norm(pupils))
    return norms


def load_300w(
    split: str,
    image_size: int,
    root: str | Path | None = None,
    cache_dir: str | Path | None = None,
    *,
    limit: int | None = None,
    pts_offset: float = 0.0,
    margin: float = FACE_MARGIN,
    fill: int = 0,
    workers: int | None = None,
) -> KeypointSet:
    """300-W faces (68 points, ``FACE68``) cropped to ``image_size`` pixels (cached).

    Args:
        split: ``"train"`` = AFW + HELEN train; ``"test"`` = HELEN test (the HELEN part of the
            300-W common subset). Files are taken in name order within each folder.
        limit: keep only the first ``limit`` faces of the split.
        pts_offset: subtracted from the stored coordinates (1.0 reads them as 1-based).
        margin: crop side over the longer side of the landmarks' box.
        fill: grey level of the padding outside the image.
    """
    if split not in SPLITS_300W:
        raise ValueError(f"300-W split must be one of {sorted(SPLITS_300W)}, got {split!r}")
    folder = source_path("300w", root)
    options = {
        "root": str(folder.resolve()),
        "limit": limit,
        "pts_offset": pts_offset,
        "margin": margin,
        "fill": fill,
    }
    path = cache_file("300w", split, image_size, options, cache_dir)

    def build() -> KeypointSet:
        files = [pts for sub in SPLITS_300W[split] for pts in sorted((folder / sub).glob("*.pts"))]
        if not files:
            raise ValueError(f"{folder}: no .pts files in {SPLITS_300W[split]}")
        files = files[:limit] if limit is not None else files
        samples = []
        for pts in files:
            joints = read_pts(pts, FACE68.num_keypoints) - pts_offset
            samples.append(
                CropSample(
                    image=_image_for(pts),
                    joints=joints,
                    valid=np.ones(FACE68.num_keypoints, dtype=bool),
                    occluded=np.zeros(FACE68.num_keypoints, dtype=bool),
                    box=box_from_points(joints, margin=margin),
                    norms=_face_norms(FACE68, joints),
                    name=f"{pts.parent.name}/{pts.stem}",
                )
            )
        info = {
            "name": f"300w-{split}",
            "source": "300-W (AFW, HELEN)",
            "split": split,
            "split_rule": "train = AFW + HELEN train; test = HELEN test",
            "norms": {"interocular": "outer eye corners, points 36 and 45"},
            "crop": f"square around the landmarks' box, margin {margin}",
            "pts_offset": pts_offset,
        }
        return build_keypoint_set(samples, FACE68, image_size, info, fill=fill, workers=workers)

    return cached(path, build)


# --------------------------------------------------------------------------- COFW .mat


@dataclass
class CofwData:
    """A COFW ``.mat`` split, coordinates 0-based (1 subtracted from MATLAB's).

    Attributes:
        images: uint8 images, (H, W) grey or (H, W, 3) RGB.
        landmarks: (N, 29, 2) landmarks.
        occluded: (N, 29) bool, the landmark is occluded.
        bboxes: (N, 4) face boxes [x, y, width, height].
        path: the file read.
    """

    images: list[np.ndarray]
    landmarks: np.ndarray
    occluded: np.ndarray
    bboxes: np.ndarray
    path: Path

    def __len__(self) -> int:
        return int(self.landmarks.shape[0])


_COFW_KEYS = (("IsTr", "phisTr", "bboxesTr"), ("IsT", "phisT", "bboxesT"))


def read_cofw_mat(path: str | Path) -> CofwData:
    """Read a COFW ``.mat`` (train keys ``IsTr/phisTr/bboxesTr`` or test ``IsT/phisT/bboxesT``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such .mat file")
    try:
        version = scipy.io.matlab.matfile_version(path)
    except Exception as error:  # scipy raises ValueError or MatReadError for non-.mat files
        raise ValueError(f"{path}: not a readable .mat file ({error})") from error
    mat = _read_hdf5_mat(path) if version[0] == 2 else load_mat(path)
    keys = [names for names in _COFW_KEYS if names[1] in mat]
    if not keys:
        present = sorted(k for k in mat if not k.startswith("__"))
        raise ValueError(f"{path}: no COFW key 'phisTr' or 'phisT' (shape (N, 87)); has {present}")
    images_key, phis_key, boxes_key = keys[0]
    phis = mat_array(mat, phis_key, path, (None, 87))
    n = phis.shape[0]
    bboxes = mat_array(mat, boxes_key, path, (n, 4))
    if images_key not in mat:
        raise ValueError(f"{path}: no key {images_key!r} (a cell array of {n} images)")
    images = _cofw_images(mat[images_key], n, path, images_key)
    flags = phis[:, 58:]
    if not np.isin(flags, (0, 1)).all():
        raise ValueError(f"{path}: {phis_key!r} columns 58-86 (occlusion flags) must be 0 or 1")
    landmarks = np.stack([phis[:, :29], phis[:, 29:58]], axis=-1) - 1.0
    boxes = bboxes.copy()
    boxes[:, :2] -= 1.0
    return CofwData(
        images=images, landmarks=landmarks, occluded=flags == 1, bboxes=boxes, path=path
    )


def _cofw_images(cell, n: int, path: Path, key: str) -> list[np.ndarray]:
    cells = list(np.asarray(cell, dtype=object).ravel())
    if len(cells) != n:
        raise ValueError(f"{path}: {key!r} must hold {n} images (one per shape), got {len(cells)}")
    images = []
    for index, image in enumerate(cells):
        image = np.asarray(image)
        if image.dtype != np.uint8 or not (
            image.ndim == 2 or (image.ndim == 3 and image.shape[-1] == 3)
        ):
            raise ValueError(
                f"{path}: {key}[{index}] must be a uint8 (H, W) or (H, W, 3) image, "
                f"got {image.dtype} {image.shape}"
            )
        images.append(image)
    return images


def _read_hdf5_mat(path: Path) -> dict:
    """The COFW keys of a MATLAB v7.3 file, transposed back to MATLAB's shapes (needs h5py)."""
    try:
        import h5py
    except ImportError:
        raise ValueError(
            f"{path}: a MATLAB v7.3 (HDF5) file; install h5py to read it, or re-save it in "
            "MATLAB with save(..., '-v7')"
        ) from None
    mat = {}
    with h5py.File(path, "r") as handle:
        for images_key, phis_key, boxes_key in _COFW_KEYS:
            if phis_key in handle:
                mat[phis_key] = np.asarray(handle[phis_key]).T
            if boxes_key in handle:
                mat[boxes_key] = np.asarray(handle[boxes_key]).T
            if images_key in handle:
                refs = np.asarray(handle[images_key]).ravel()
                cell = np.empty(len(refs), dtype=object)
                for index, ref in enumerate(refs):
                    cell[index] = np.asarray(handle[ref]).T
                mat[images_key] = cell
    return mat


def load_cofw(
    split: str,
    image_size: int,
    root: str | Path | None = None,
    cache_dir: str | Path | None = None,
    *,
    mat_path: str | Path | None = None,
    limit: int | None = None,
    margin: float = FACE_MARGIN,
    fill: int = 0,
    workers: int | None = None,
) -> KeypointSet:
    """COFW (29 points, :data:`COFW29`, with occlusion labels) cropped to ``image_size`` (cached).

    Args:
        split: ``"train"`` or ``"test"``; the file is ``mat_path`` or
            ``<root>/cofw/COFW_{train,test}.mat`` (``COFW_{train,test}_color.mat`` also found).
        margin: crop side over the longer side of the face box.
    """
    if split not in ("train", "test"):
        raise ValueError(f"COFW split must be 'train' or 'test', got {split!r}")
    if mat_path is None:
        folder = source_path("cofw", root)
        candidates = [folder / f"COFW_{split}.mat", folder / f"COFW_{split}_color.mat"]
        found = [c for c in candidates if c.is_file()]
        if not found:
            raise FileNotFoundError(f"COFW {split}: none of {[str(c) for c in candidates]} exists")
        mat_path = found[0]
    mat_path = Path(mat_path)
    options = {"mat": str(mat_path.resolve()), "limit": limit, "margin": margin, "fill": fill}
    path = cache_file("cofw", split, image_size, options, cache_dir)

    def build() -> KeypointSet:
        data = read_cofw_mat(mat_path)
        count = len(data) if limit is None else min(limit, len(data))
        samples = [
            CropSample(
                image=data.images[i],
                joints=data.landmarks[i],
                valid=np.ones(COFW29.num_keypoints, dtype=bool),
                occluded=data.occluded[i],
                box=box_from_xywh(data.bboxes[i], margin),
                norms=_face_norms(COFW29, data.landmarks[i]),
                name=f"{mat_path.name}[{i}]",
            )
            for i in range(count)
        ]
        info = {
            "name": f"cofw-{split}",
            "source": str(mat_path),
            "split": split,
            "norms": {
                "interocular": "outer eye corners, points 8 and 9 (HRNet)",
                "interpupil": "pupils, points 16 and 17 (RCPR)",
            },
            "crop": f"square around the face box, margin {margin}",
        }
        return build_keypoint_set(samples, COFW29, image_size, info, fill=fill, workers=workers)

    return cached(path, build)


# --------------------------------------------------------------------------- COCO-style JSON


@dataclass
class CocoKeypoints:
    """Annotations of a COCO-style keypoint JSON, one row per annotation, values as stored.

    Attributes:
        file_names: image file of each annotation.
        keypoints: (N, K, 2) coordinates.
        flags: (N, K) visibility ``v``.
        bboxes: (N, 4) ``[x, y, w, h]``.
        centers: (N, 2) ``center`` (NaN where absent).
        scales: (N,) ``scale`` (NaN where absent).
        box_sizes: (N,) ``box_size`` (NaN where absent).
        path: the file read.
    """

    file_names: list[str]
    keypoints: np.ndarray
    flags: np.ndarray
    bboxes: np.ndarray
    centers: np.ndarray
    scales: np.ndarray
    box_sizes: np.ndarray
    path: Path

    def __len__(self) -> int:
        return len(self.file_names)


def read_coco_keypoints(path: str | Path) -> CocoKeypoints:
    """Read a COCO-style keypoint JSON (``images`` + ``annotations`` with flat ``keypoints``)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: malformed JSON ({error})") from error
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object with 'images' and 'annotations'")
    for key in ("images", "annotations"):
        if not isinstance(data.get(key), list) or not data[key]:
            raise ValueError(f"{path}: expected a non-empty list under {key!r}")
    try:
        files = {image["id"]: str(image["file_name"]) for image in data["images"]}
    except (KeyError, TypeError):
        raise ValueError(f"{path}: every entry of 'images' needs 'id' and 'file_name'") from None
    names, points, boxes, centers, scales, box_sizes = [], [], [], [], [], []
    count = None
    for index, ann in enumerate(data["annotations"]):
        where = f"{path}: annotations[{index}]"
        if not isinstance(ann, dict):
            raise ValueError(f"{where}: expected an object")
        for key in ("image_id", "keypoints", "bbox"):
            if key not in ann:
                raise ValueError(f"{where}: missing key {key!r}")
        if ann["image_id"] not in files:
            raise ValueError(f"{where}: image_id {ann['image_id']!r} is not in 'images'")
        flat = _float_list(ann["keypoints"], where, "keypoints")
        if len(flat) % 3 or (count is not None and len(flat) != 3 * count):
            expected = "a multiple of 3" if count is None else str(3 * count)
            raise ValueError(f"{where}: 'keypoints' must have {expected} numbers, got {len(flat)}")
        count = len(flat) // 3
        bbox = _float_list(ann["bbox"], where, "bbox")
        if len(bbox) != 4:
            raise ValueError(f"{where}: 'bbox' must be [x, y, w, h], got {len(bbox)} numbers")
        center = _float_list(ann["center"], where, "center") if "center" in ann else [np.nan] * 2
        if len(center) != 2:
            raise ValueError(f"{where}: 'center' must be [x, y]")
        names.append(files[ann["image_id"]])
        points.append(np.array(flat).reshape(count, 3))
        boxes.append(bbox)
        centers.append(center)
        scales.append(float(ann.get("scale", np.nan)))
        box_sizes.append(float(ann.get("box_size", np.nan)))
    points = np.stack(points)
    return CocoKeypoints(
        file_names=names,
        keypoints=points[..., :2],
        flags=points[..., 2],
        bboxes=np.array(boxes),
        centers=np.array(centers),
        scales=np.array(scales),
        box_sizes=np.array(box_sizes),
        path=path,
    )


def _float_list(value, where: str, key: str) -> list[float]:
    try:
        return [float(v) for v in value]
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {key!r} must be a list of numbers") from None


def coco_visibility(flags: np.ndarray, convention: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """(valid, occluded) from COCO ``v`` flags.

    ``convention``: ``"coco"`` (0 = not annotated, 1 = hidden, 2 = visible), ``"annotated"``
    (v > 0 = annotated, no occlusion information) or ``"auto"`` (``"coco"`` when any flag is 2).
    """
    if convention == "auto":
        convention = "coco" if (flags == 2).any() else "annotated"
    if convention not in ("coco", "annotated"):
        raise ValueError(f"convention must be 'auto', 'coco' or 'annotated', got {convention!r}")
    valid = flags > 0
    occluded = valid & (flags == 1) if convention == "coco" else np.zeros_like(valid)
    return valid, occluded


def load_coco_faces(
    json_path: str | Path,
    image_size: int,
    cache_dir: str | Path | None = None,
    *,
    spec: KeypointSpec | None = None,
    image_dir: str | Path | None = None,
    visibility: str = "auto",
    margin: float = FACE_MARGIN,
    fill: int = 0,
    workers: int | None = None,
) -> KeypointSet:
    """Faces of a COCO-style keypoint JSON cropped to ``image_size`` (cached).

    Args:
        json_path: the JSON; images are in ``image_dir`` (default: the JSON's folder).
        spec: the scheme (default: by point count, :data:`SPECS_BY_COUNT`).
        visibility: how to read the ``v`` flags (:func:`coco_visibility`).
        margin: enlargement of ``200 x scale`` (or of the ``bbox``) for the crop.
    """
    json_path = Path(json_path)
    image_dir = Path(image_dir) if image_dir is not None else json_path.parent
    options = {
        "json": str(json_path.resolve()),
        "image_dir": str(image_dir.resolve()),
        "spec": spec.name if spec else None,
        "visibility": visibility,
        "margin": margin,
        "fill": fill,
    }
    path = cache_file(f"coco-{json_path.stem}", "test", image_size, options, cache_dir)

    def build() -> KeypointSet:
        data = read_coco_keypoints(json_path)
        count = data.keypoints.shape[1]
        scheme = spec or SPECS_BY_COUNT.get(count)
        if scheme is None:
            raise ValueError(
                f"{json_path}: no face scheme with {count} points; known: {sorted(SPECS_BY_COUNT)}"
            )
        if scheme.num_keypoints != count:
            raise ValueError(
                f"{json_path}: {scheme.name} has {scheme.num_keypoints} points, got {count}"
            )
        valid, occluded = coco_visibility(data.flags, visibility)
        samples = []
        for i, name in enumerate(data.file_names):
            if np.isfinite(data.centers[i]).all() and np.isfinite(data.scales[i]):
                box = box_from_center_scale(data.centers[i], data.scales[i], factor=margin)
            else:
                box = box_from_xywh(data.bboxes[i], margin)
            norms = _face_norms(scheme, data.keypoints[i])
            if scheme in (AFLW19, AFLW21):
                width, height = data.bboxes[i, 2:]
                size = data.box_sizes[i]
                norms["box"] = float(size if np.isfinite(size) else np.sqrt(width * height))
            samples.append(
                CropSample(
                    image=image_dir / name,
                    joints=data.keypoints[i],
                    valid=valid[i],
                    occluded=occluded[i],
                    box=box,
                    norms=norms,
                    name=name,
                )
            )
        info = {
            "name": f"coco-{json_path.stem}",
            "source": str(json_path),
            "split": "test",
            "visibility": visibility,
            "norms": sorted(samples[0].norms),
            "crop": f"{margin} x (200 x scale) at center, else {margin} x bbox",
        }
        return build_keypoint_set(samples, scheme, image_size, info, fill=fill, workers=workers)

    return cached(path, build)


def load_face_fixture(
    name: str,
    split: str = "test",
    image_size: int = 256,
    root: str | Path | None = None,
    cache_dir: str | Path | None = None,
    **options,
) -> KeypointSet:
    """A face fixture ``<root>/fixtures/mmpose/<name>/test_<name>.json`` (``300w``, ``cofw``,
    ``aflw``) through :func:`load_coco_faces`; ``options`` are passed on."""
    if split != "test":
        raise ValueError(f"the {name} fixture has only the 'test' split, got {split!r}")
    folder = source_path(f"{name}_fixture", root)
    return load_coco_faces(
        folder / "mmpose" / name / f"test_{name}.json", image_size, cache_dir, **options
    )
