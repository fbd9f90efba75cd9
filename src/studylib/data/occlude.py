"""Synthetic occluders pasted on real images, with per-keypoint occlusion labels (COFW-like).

Real face benchmarks such as 300-W label no occlusion, so the face paper's claim about occluded
faces cannot be checked on them directly. :func:`paste_occluders` covers a chosen fraction of
each face's box (the bounding box of its landmarks) with one textured rectangle and marks the
landmarks under it as occluded, so that NME on occluded and on visible landmarks can be read
against the occluded area. Deterministic for a seed; the same seed gives every model the same
occluders.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from studylib.data.dataset import KeypointSet


def paste_occluders(data: KeypointSet, area: float, seed: int = 0) -> KeypointSet:
    """``data`` with one textured rectangle over each face, covering ``area`` (in [0, 1)) of the
    face box: a random aspect ratio in [1/2, 2], a random centre inside the box, a random colour
    with noise texture. Landmarks inside the rectangle are added to ``occluded``; ``area = 0``
    returns the images unchanged.
    """
    if not 0.0 <= area < 1.0:
        raise ValueError(f"area must be a fraction of the face box in [0, 1), got {area!r}")
    images = data.images.copy()
    occluded = data.occluded.copy()
    if area > 0:
        rng = np.random.default_rng(seed)
        height, width = data.image_size
        for i in range(len(data)):
            points = data.joints[i][data.valid[i]]
            (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
            box_w, box_h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
            aspect = np.exp(rng.uniform(np.log(0.5), np.log(2.0)))
            w = min(np.sqrt(area * box_w * box_h * aspect), box_w)
            h = min(area * box_w * box_h / w, box_h)
            cx, cy = (
                rng.uniform(x0 + w / 2, x1 - w / 2 + 1e-6),
                rng.uniform(y0 + h / 2, y1 - h / 2 + 1e-6),
            )
            left, right = int(round(cx - w / 2)), int(round(cx + w / 2))
            top, bottom = int(round(cy - h / 2)), int(round(cy + h / 2))
            left, top = max(left, 0), max(top, 0)
            right, bottom = min(right, width), min(bottom, height)
            colour = rng.uniform(0, 255, 3)
            texture = rng.normal(0, 25, (bottom - top, right - left, 1))
            images[i, top:bottom, left:right] = np.clip(colour + texture, 0, 255).astype(np.uint8)
            x, y = data.joints[i, :, 0], data.joints[i, :, 1]
            under = (x >= left - 0.5) & (x < right - 0.5) & (y >= top - 0.5) & (y < bottom - 0.5)
            occluded[i] |= under & data.valid[i]
    info = {**data.info, "pasted_occluders": {"area": area, "seed": seed}}
    return dataclasses.replace(data, images=images, occluded=occluded, info=info)
