"""Batched augmentation on the training device: scale, rotation, horizontal flip, colour.

A whole batch is warped with one ``grid_sample`` call on the device that trains (CPU or GPU), so
the data path is a slice of a uint8 array plus a few tensor operations. Keypoints go through the
same affine matrix as the pixels; a flipped sample also swaps its left/right keypoint names.

Nothing here reads a value back to the host: the random parameters are drawn on the images'
device, the matrix inverse skips its error check (an affine map with scale > 0 is invertible),
and constants are made on the device, so a CUDA training step never waits for the GPU here.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    """Random augmentation ranges (Newell et al.: scale 0.75-1.25, rotation +-30 deg, flip)."""

    scale: float = 0.25
    rotation: float = 30.0
    rotation_prob: float = 0.6
    flip: bool = True
    color: float = 0.2

    def __post_init__(self) -> None:
        if not 0 <= self.scale < 1:
            raise ValueError(f"augment scale must be in [0, 1), got {self.scale}")
        if not 0 <= self.rotation <= 180:
            raise ValueError(f"augment rotation must be in [0, 180] degrees, got {self.rotation}")
        if not 0 <= self.rotation_prob <= 1:
            raise ValueError(f"augment rotation_prob must be in [0, 1], got {self.rotation_prob}")
        if not 0 <= self.color < 1:
            raise ValueError(f"augment color must be in [0, 1), got {self.color}")


NO_AUGMENT = AugmentConfig(scale=0.0, rotation=0.0, rotation_prob=0.0, flip=False, color=0.0)


def affine_matrices(
    scale: torch.Tensor, rotation_deg: torch.Tensor, flip: torch.Tensor, size: tuple[int, int]
) -> torch.Tensor:
    """(B, 3, 3) maps from source to augmented pixel coordinates, about the image centre.

    Flip mirrors x about the centre, which is x -> W - 1 - x in the pixel-centre convention.
    """
    h, w = size
    theta = rotation_deg * (math.pi / 180.0)
    cos, sin = torch.cos(theta) * scale, torch.sin(theta) * scale
    mirror = 1.0 - 2.0 * flip.to(scale.dtype)
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    matrices = torch.zeros(scale.shape[0], 3, 3, dtype=scale.dtype, device=scale.device)
    matrices[:, 0, 0], matrices[:, 0, 1] = cos * mirror, -sin
    matrices[:, 1, 0], matrices[:, 1, 1] = sin * mirror, cos
    matrices[:, 0, 2] = cx - matrices[:, 0, 0] * cx - matrices[:, 0, 1] * cy
    matrices[:, 1, 2] = cy - matrices[:, 1, 0] * cx - matrices[:, 1, 1] * cy
    matrices[:, 2, 2] = 1.0
    return matrices


def transform_points(points: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Apply (B, 3, 3) affine maps to (B, K, 2) points."""
    return points @ matrices[:, :2, :2].transpose(1, 2) + matrices[:, None, :2, 2]


def warp_images(images: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Resample (B, C, H, W) images so that source pixel p lands at ``matrices @ p``."""
    b, _, h, w = images.shape
    # inv_ex: the same factorisation as linalg.inv without its error check, which on CUDA is a
    # blocking read of the status.
    inverse = torch.linalg.inv_ex(matrices).inverse
    ys, xs = torch.meshgrid(
        torch.arange(h, device=images.device, dtype=images.dtype),
        torch.arange(w, device=images.device, dtype=images.dtype),
        indexing="ij",
    )
    target = torch.stack((xs, ys), dim=-1).reshape(1, h * w, 2).expand(b, -1, -1)
    source = transform_points(target, inverse.to(images.dtype))
    # Made on the device (torch.tensor would copy it from the host at every call).
    size = images.new_full((2,), float(w))
    size[1] = h
    grid = ((source + 0.5) / size * 2.0 - 1.0).reshape(b, h, w, 2)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


_ON_DEVICE: dict[tuple[int, torch.device], tuple[weakref.ref, torch.Tensor]] = {}


def on_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``tensor`` on ``device``, copied there once and reused for as long as ``tensor`` lives
    (e.g. a task's flip permutation, which would otherwise be copied from the host every step).

    Keyed by identity (a tensor's ``==`` is elementwise, so it cannot key a dict); an entry whose
    tensor has died is replaced.
    """
    if tensor.device == device:
        return tensor
    key = (id(tensor), device)
    entry = _ON_DEVICE.get(key)
    if entry is None or entry[0]() is not tensor:
        for stale in [k for k, (ref, _) in _ON_DEVICE.items() if ref() is None]:
            del _ON_DEVICE[stale]
        entry = _ON_DEVICE[key] = (weakref.ref(tensor), tensor.to(device))
    return entry[1]


def augment(
    images: torch.Tensor,
    joints: torch.Tensor,
    valid: torch.Tensor,
    config: AugmentConfig,
    flip_permutation: torch.Tensor,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Randomly augment a batch.

    Args:
        images: (B, 3, H, W) float images in [0, 1] on the training device.
        joints: (B, K, 2) keypoints in pixels; valid: (B, K) bool.
        flip_permutation: (K,) index tensor that swaps left and right keypoints.
        generator: a generator on the images' device (a CPU generator for CPU or ``meta``
            images): the random parameters are drawn there, so a GPU step draws them without
            a copy; a run is reproducible on its device because the training loop seeds this
            generator from its CPU generator at every step.
    Returns:
        augmented images, keypoints and validity (keypoints warped outside the image become
        invalid).
    """
    b, _, h, w = images.shape
    device = images.device

    def rand() -> torch.Tensor:
        return torch.rand(b, generator=generator, device=device)

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * rand()

    # The order of the draws is part of a run's random stream: keep it.
    scale = uniform(1.0 - config.scale, 1.0 + config.scale)
    rotate = rand() < config.rotation_prob
    rotation = uniform(-config.rotation, config.rotation) * rotate
    flip = (rand() < 0.5) & config.flip
    brightness = uniform(1.0 - config.color, 1.0 + config.color)
    contrast = uniform(1.0 - config.color, 1.0 + config.color)

    matrices = affine_matrices(scale, rotation, flip, (h, w))
    images = warp_images(images, matrices.to(images.dtype))
    if config.color > 0:
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        images = (images - mean) * contrast.view(b, 1, 1, 1) + mean
        images = (images * brightness.view(b, 1, 1, 1)).clamp(0.0, 1.0)

    joints = transform_points(joints, matrices.to(joints.dtype))
    swap = on_device(flip_permutation, device)
    joints = torch.where(flip[:, None, None], joints[:, swap], joints)
    valid = torch.where(flip[:, None], valid[:, swap], valid)
    inside = (joints >= -0.5).all(-1) & (joints[..., 0] <= w - 0.5) & (joints[..., 1] <= h - 0.5)
    return images, joints, valid & inside


def images_to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> float (B, 3, H, W) in [0, 1]."""
    return images.permute(0, 3, 1, 2).float().div_(255.0)


def augment_batch(
    batch: dict[str, torch.Tensor],
    config: AugmentConfig,
    flip_permutation: torch.Tensor,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A training batch (uint8 images, keypoints, validity) as the network's input, augmented
    (:func:`augment`): the first step of both tracks' losses."""
    return augment(
        images_to_input(batch["images"]),
        batch["joints"],
        batch["valid"],
        config,
        flip_permutation,
        generator,
    )
