"""Cropping real images (studylib.data.real.crop): a joint lands where the box's transform puts
it, padding takes the fill value, JPEG draft decoding keeps the geometry, and an unreadable image
is named."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studylib.data.real import CropBox, crop_image, read_crop


def _blob_image(width: int, height: int, center: tuple[float, float], sigma: float) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    blob = np.exp(-((x - center[0]) ** 2 + (y - center[1]) ** 2) / (2 * sigma**2))
    return np.repeat(np.round(255 * blob).astype(np.uint8)[..., None], 3, axis=-1)


def _centroid(image: np.ndarray) -> np.ndarray:
    weight = image[..., 0].astype(np.float64)
    y, x = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    return np.array([(weight * x).sum(), (weight * y).sum()]) / weight.sum()


@pytest.mark.parametrize(
    ("box", "out_size"),
    [
        (CropBox(40.0, 25.0, 80.0), 32),  # shrink 2.5x, box reaches outside the image
        (CropBox(31.0, 22.0, 20.0), 48),  # enlarge 2.4x, inside the image
        (CropBox(10.0, 10.0, 60.0), 40),  # mostly padding
        (CropBox(29.6, 21.9, 37.3), 37),  # fractional box
    ],
)
def test_crop_puts_a_dot_at_the_transformed_joint(box, out_size):
    joint = (30.3, 20.7)
    image = _blob_image(97, 61, joint, sigma=2.5)
    crop = crop_image(image, box, out_size)
    assert crop.shape == (out_size, out_size, 3) and crop.dtype == np.uint8
    expected = box.to_crop(joint, out_size)
    np.testing.assert_allclose(_centroid(crop), expected, atol=0.08)
    np.testing.assert_allclose(box.to_source(expected, out_size), joint)


def test_crop_pads_with_the_fill_value():
    image = np.full((20, 30, 3), 200, dtype=np.uint8)
    crop = crop_image(image, CropBox(5.0, 5.0, 20.0), 20, fill=77)  # source -5..15
    assert (crop[:4, :] == 77).all() and (crop[:, :4] == 77).all()
    assert (crop[6:, 6:] == 200).all()


def test_jpeg_draft_decoding_keeps_the_geometry(tmp_path):
    joint = (412.6, 287.3)
    path = tmp_path / "big.jpg"
    Image.fromarray(_blob_image(800, 600, joint, sigma=14.0)).save(path, quality=95)
    box = CropBox(400.0, 300.0, 640.0)  # 10x smaller: decoded at 1/8 scale
    fast = read_crop(path, box, 64)
    with Image.open(path) as full:
        slow = crop_image(full.convert("RGB"), box, 64)
    np.testing.assert_allclose(_centroid(fast), box.to_crop(joint, 64), atol=0.1)
    assert np.abs(fast.astype(int) - slow.astype(int)).mean() < 2.0


def test_unreadable_image_is_an_error_naming_it(tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"no image here")
    with pytest.raises(ValueError, match=r"broken\.jpg"):
        read_crop(path, CropBox(5.0, 5.0, 10.0), 8)
