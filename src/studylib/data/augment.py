"""Batched augmentation on the training device: scale, rotation, horizontal flip, colour.

A whole batch is warped with one ``grid_sample`` call on the device that trains (CPU or GPU), so
the data path is a slice of a uint8 array plus a few tensor operations. Keypoints go through the
same affine matrix as the pixels; a flipped sample also swaps its left/right keypoint names.
"""

from __future__ import annotations

import math
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
    inverse = torch.linalg.inv(matrices)
    ys, xs = torch.meshgrid(
        torch.arange(h, device=images.device, dtype=images.dtype),
        torch.arange(w, device=images.device, dtype=images.dtype),
        indexing="ij",
    )
    target = torch.stack((xs, ys), dim=-1).reshape(1, h * w, 2).expand(b, -1, -1)
    source = transform_points(target, inverse.to(images.dtype))
    size = torch.tensor((w, h), device=images.device, dtype=images.dtype)
    grid = ((source + 0.5) / size * 2.0 - 1.0).reshape(b, h, w, 2)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


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
        generator: a CPU generator; drawing the random parameters there keeps runs
            reproducible on any device.
    Returns:
        augmented images, keypoints and validity (keypoints warped outside the image become
        invalid).
    """
    b, _, h, w = images.shape
    device = images.device

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(b, generator=generator)

    scale = uniform(1.0 - config.scale, 1.0 + config.scale)
    rotate = torch.rand(b, generator=generator) < config.rotation_prob
    rotation = uniform(-config.rotation, config.rotation) * rotate
    flip = (torch.rand(b, generator=generator) < 0.5) & config.flip
    brightness = uniform(1.0 - config.color, 1.0 + config.color)
    contrast = uniform(1.0 - config.color, 1.0 + config.color)

    matrices = affine_matrices(scale, rotation, flip, (h, w)).to(device)
    images = warp_images(images, matrices.to(images.dtype))
    if config.color > 0:
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        images = (images - mean) * contrast.to(device).view(b, 1, 1, 1) + mean
        images = (images * brightness.to(device).view(b, 1, 1, 1)).clamp(0.0, 1.0)

    joints = transform_points(joints, matrices.to(joints.dtype))
    flip = flip.to(device)
    swap = flip_permutation.to(device)
    joints = torch.where(flip[:, None, None], joints[:, swap], joints)
    valid = torch.where(flip[:, None], valid[:, swap], valid)
    inside = (joints >= -0.5).all(-1) & (joints[..., 0] <= w - 0.5) & (joints[..., 1] <= h - 0.5)
    return images, joints, valid & inside
