"""Cropping real images around a person or face into a fixed-size :class:`KeypointSet`.

Geometry. A :class:`CropBox` is a square of side ``size`` source pixels centred at ``center``, in
the pixel-centre convention of :mod:`studylib.data.keypoints` (the centre of pixel (row i, column
j) is at x = j, y = i). Cropping it to ``S x S`` output pixels maps a source point ``x`` to

    u = (x - center_x) * S / size + (S - 1) / 2        (the same for y)

so the box's edges ``center -+ size / 2`` land on the output's edges ``-0.5`` and ``S - 0.5``.
Joints are transformed with exactly this map, and the pixels are resampled with exactly the same
map (PIL ``resize`` with a fractional ``box``, bilinear with antialiasing when shrinking), so a
dot drawn at a joint lands at the transformed joint.

Padding. Where the box reaches outside the image the crop is filled with a constant grey level
``fill`` (default 0, black, as ``cv2.warpAffine`` in the HRNet / mmpose pipelines). The padding is
applied before resampling, so it blends into the border like any other image content.

Speed. JPEG files are decoded with PIL's ``draft`` mode when the crop shrinks them by 2x or more:
libjpeg then decodes at 1/2, 1/4 or 1/8 scale, which is much faster and loses nothing the output
could show. Images are loaded on a thread pool (PIL releases the GIL while decoding/resizing).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from studylib.data.dataset import KeypointSet
from studylib.data.keypoints import KeypointSpec

#: Pixels per person-scale unit in the MPII ``scale`` annotation (scale = height / 200).
MPII_PIXEL_STD = 200.0
#: Enlargement of the MPII / HRNet ``center``/``scale`` box before cropping.
MPII_SCALE_FACTOR = 1.25


@dataclass(frozen=True)
class CropBox:
    """A square region of a source image: centre (x, y) and side length, in source pixels."""

    center_x: float
    center_y: float
    size: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.center_x) and math.isfinite(self.center_y)):
            raise ValueError(f"crop box centre must be finite, got {self.center_x, self.center_y}")
        if not (math.isfinite(self.size) and self.size > 0):
            raise ValueError(f"crop box size must be finite and > 0, got {self.size}")

    def scale(self, out_size: int) -> float:
        """Output pixels per source pixel."""
        return out_size / self.size

    def to_crop(self, points, out_size: int) -> np.ndarray:
        """Map (..., 2) source points into the ``out_size`` crop (pixel-centre convention)."""
        points = np.asarray(points, dtype=np.float64)
        center = np.array([self.center_x, self.center_y])
        return (points - center) * self.scale(out_size) + (out_size - 1) / 2.0

    def to_source(self, points, out_size: int) -> np.ndarray:
        """Inverse of :meth:`to_crop`: crop coordinates back to source pixels."""
        points = np.asarray(points, dtype=np.float64)
        center = np.array([self.center_x, self.center_y])
        return (points - (out_size - 1) / 2.0) / self.scale(out_size) + center

    def corners(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) edges in PIL's corner coordinates (pixel centre + 0.5)."""
        half = self.size / 2.0
        return (
            self.center_x - half + 0.5,
            self.center_y - half + 0.5,
            self.center_x + half + 0.5,
            self.center_y + half + 0.5,
        )


def box_from_points(points, valid=None, margin: float = 1.6, min_size: float = 1.0) -> CropBox:
    """The square around the valid points' bounding box, enlarged ``margin`` times.

    Args:
        points: (K, 2) keypoints in source pixels.
        valid: optional (K,) mask of the points to use (default: all finite points).
        margin: side = margin * the longer side of the points' box.
        min_size: lower bound on the side (a single point has a zero-size box).
    """
    points = np.asarray(points, dtype=np.float64)
    mask = np.isfinite(points).all(axis=-1)
    if valid is not None:
        mask &= np.asarray(valid, dtype=bool)
    if not mask.any():
        raise ValueError("cannot place a crop: no valid keypoint")
    chosen = points[mask]
    low, high = chosen.min(axis=0), chosen.max(axis=0)
    center = (low + high) / 2.0
    size = max(float((high - low).max()) * margin, min_size)
    return CropBox(float(center[0]), float(center[1]), size)


def box_from_xywh(bbox, margin: float = 1.25) -> CropBox:
    """The square around a COCO-style ``[x, y, width, height]`` box, enlarged ``margin`` times."""
    x, y, width, height = (float(v) for v in bbox)
    if width <= 0 or height <= 0:
        raise ValueError(f"box must have positive width and height, got {bbox}")
    return CropBox(x + width / 2.0, y + height / 2.0, max(width, height) * margin)


def box_from_center_scale(
    center, scale: float, factor: float = MPII_SCALE_FACTOR, pixel_std: float = MPII_PIXEL_STD
) -> CropBox:
    """The square of side ``factor * pixel_std * scale`` at ``center`` (MPII / HRNet convention)."""
    return CropBox(float(center[0]), float(center[1]), float(scale) * pixel_std * factor)


def _as_rgb_image(image) -> Image.Image:
    if isinstance(image, Image.Image):
        return image if image.mode == "RGB" else image.convert("RGB")
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(f"image arrays must be uint8, got {array.dtype}")
    if array.ndim == 2:
        return Image.fromarray(array, mode="L").convert("RGB")
    if array.ndim == 3 and array.shape[-1] == 3:
        return Image.fromarray(array, mode="RGB")
    raise ValueError(f"image arrays must be (H, W) or (H, W, 3), got {array.shape}")


def crop_image(image, box: CropBox, out_size: int, fill: int = 0) -> np.ndarray:
    """Crop ``box`` out of ``image`` and resample it to ``out_size x out_size`` RGB uint8.

    ``image`` is a PIL image or a (H, W) / (H, W, 3) uint8 array. Outside the image the crop is
    ``fill`` (a grey level 0-255). Resampling is bilinear, antialiased when shrinking.
    """
    if out_size < 1:
        raise ValueError(f"out_size must be >= 1, got {out_size}")
    if not 0 <= fill <= 255:
        raise ValueError(f"fill must be a grey level in [0, 255], got {fill}")
    source = _as_rgb_image(image)
    left, top, right, bottom = box.corners()
    # Enough extra source pixels around the box for the filter's support (bilinear: one output
    # pixel, i.e. size / out_size source pixels, on either side) so that padding and image
    # content enter the resampling the same way wherever the image border lies.
    pad = math.ceil(max(1.0, box.size / out_size)) + 1
    region = (
        math.floor(left) - pad,
        math.floor(top) - pad,
        math.ceil(right) + pad,
        math.ceil(bottom) + pad,
    )
    inside = (
        max(region[0], 0),
        max(region[1], 0),
        min(region[2], source.width),
        min(region[3], source.height),
    )
    if inside == region:  # no padding needed: resample straight from the source
        canvas, region = source, (0, 0, source.width, source.height)
    else:
        canvas = Image.new("RGB", (region[2] - region[0], region[3] - region[1]), (fill,) * 3)
        if inside[0] < inside[2] and inside[1] < inside[3]:
            canvas.paste(source.crop(inside), (inside[0] - region[0], inside[1] - region[1]))
    resized = canvas.resize(
        (out_size, out_size),
        resample=Image.Resampling.BILINEAR,
        box=(left - region[0], top - region[1], right - region[0], bottom - region[1]),
    )
    return np.asarray(resized, dtype=np.uint8)


def read_crop(path: str | Path, box: CropBox, out_size: int, fill: int = 0) -> np.ndarray:
    """Open an image file and crop ``box`` from it (see :func:`crop_image`).

    JPEGs are decoded at a reduced scale (PIL ``draft``) when the crop shrinks them by 2x or
    more; the box is rescaled to the decoded image so the result is the same geometry.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            reduction = _draft_reduction(box, out_size)
            if image.format == "JPEG" and reduction > 1:
                width, height = image.size
                requested = (max(1, width // reduction), max(1, height // reduction))
                drafted = image.draft("RGB", requested)
                if drafted is not None:
                    factor = width / drafted[1][2]
                    # Decoded pixel i covers source pixels [i * f, (i + 1) * f) in corner
                    # coordinates, so corner coordinates divide by f.
                    box = CropBox(
                        (box.center_x + 0.5) / factor - 0.5,
                        (box.center_y + 0.5) / factor - 0.5,
                        box.size / factor,
                    )
            image.load()
            return crop_image(image, box, out_size, fill)
    except (OSError, SyntaxError) as error:
        raise ValueError(f"{path}: cannot read the image ({error})") from error


def _draft_reduction(box: CropBox, out_size: int) -> int:
    """The largest JPEG decode reduction (1, 2, 4, 8) that keeps the crop >= ``out_size``."""
    ratio = box.size / out_size
    for reduction in (8, 4, 2):
        if ratio >= reduction:
            return reduction
    return 1


@dataclass
class CropSample:
    """One person or face to crop: its image, annotation in source pixels, and crop box.

    Attributes:
        image: a file path, or an in-memory image (PIL or uint8 array, e.g. from COFW's .mat).
        joints: (K, 2) keypoints in source pixels (pixel-centre convention).
        valid: (K,) annotated and scored.
        occluded: (K,) annotated but hidden.
        box: the region to crop.
        norms: per-sample lengths in source pixels (scaled with the crop).
        name: a short identifier for provenance (e.g. the file name).
    """

    image: str | Path | Image.Image | np.ndarray
    joints: np.ndarray
    valid: np.ndarray
    occluded: np.ndarray
    box: CropBox
    norms: Mapping[str, float] = field(default_factory=dict)
    name: str = ""


def _crop_one(sample: CropSample, out_size: int, fill: int) -> np.ndarray:
    if isinstance(sample.image, (str, Path)):
        return read_crop(sample.image, sample.box, out_size, fill)
    return crop_image(sample.image, sample.box, out_size, fill)


def build_keypoint_set(
    samples: Sequence[CropSample],
    spec: KeypointSpec,
    image_size: int,
    info: Mapping | None = None,
    fill: int = 0,
    workers: int | None = None,
) -> KeypointSet:
    """Crop every sample to ``image_size`` pixels and assemble a :class:`KeypointSet`.

    Joints and norms are mapped into the crop with each sample's box; the coordinates of invalid
    joints are kept as given (they carry no information: test ``valid``). ``workers`` threads
    decode the images (default: the number of CPUs, at most 8).
    """
    if not samples:
        raise ValueError("no samples to build a dataset from")
    keys = set(samples[0].norms)
    for sample in samples:
        if set(sample.norms) != keys:
            raise ValueError(
                f"every sample needs the same norms; {sample.name!r} has {sorted(sample.norms)}, "
                f"expected {sorted(keys)}"
            )
    workers = workers or min(8, os.cpu_count() or 1)
    images = np.empty((len(samples), image_size, image_size, 3), dtype=np.uint8)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        crops = pool.map(lambda sample: _crop_one(sample, image_size, fill), samples)
        for index, crop in enumerate(crops):
            images[index] = crop
    joints = np.stack([s.box.to_crop(s.joints, image_size) for s in samples]).astype(np.float32)
    valid = np.stack([np.asarray(s.valid, dtype=bool) for s in samples])
    joints[~valid] = np.where(np.isfinite(joints[~valid]), joints[~valid], 0.0)
    norms = {
        key: np.array([s.norms[key] * s.box.scale(image_size) for s in samples], dtype=np.float32)
        for key in sorted(keys)
    }
    return KeypointSet(
        images=images,
        joints=joints,
        valid=valid,
        occluded=np.stack([np.asarray(s.occluded, dtype=bool) for s in samples]) & valid,
        norms=norms,
        spec=spec,
        info={
            **dict(info or {}),
            "image_size": image_size,
            "fill": fill,
            "samples": [s.name for s in samples],
            "coordinates": "pixel centres; (x - box_center) * S / box_size + (S - 1) / 2",
        },
    )
