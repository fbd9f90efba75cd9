"""Gaussian heatmap targets and argmax decoding (stacked-hourglass conventions).

The network sees an image of S pixels and emits heatmaps of S / stride pixels. With the
pixel-centre convention (:mod:`studylib.data.keypoints`) an image coordinate x and a heatmap
coordinate u are related exactly by ``u = (x + 0.5) / stride - 0.5``, which makes a horizontal
flip of the image an exact flip of the heatmap.
"""

from __future__ import annotations

import torch


def image_to_heatmap(points: torch.Tensor, stride: int) -> torch.Tensor:
    """Image pixel coordinates to heatmap pixel coordinates."""
    return (points + 0.5) / stride - 0.5


def heatmap_to_image(points: torch.Tensor, stride: int) -> torch.Tensor:
    """Heatmap pixel coordinates to image pixel coordinates."""
    return (points + 0.5) * stride - 0.5


def render_heatmaps(
    points: torch.Tensor, valid: torch.Tensor, size: int, sigma: float = 1.0
) -> torch.Tensor:
    """Unnormalised Gaussians (peak 1) at keypoints given in heatmap coordinates.

    Args:
        points: (B, K, 2) keypoints (x, y) in heatmap pixels.
        valid: (B, K) bool; invalid keypoints get an all-zero map (Newell et al.).
        size: heatmap side length.
        sigma: Gaussian standard deviation in heatmap pixels (1 at 64x64 in Newell et al.).
    Returns:
        (B, K, size, size) float32 targets on the device of ``points``.
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    if points.ndim != 3 or points.shape[-1] != 2:
        raise ValueError(f"points must be (B, K, 2) keypoints, got {tuple(points.shape)}")
    if valid.shape != points.shape[:2]:
        raise ValueError(
            f"valid must be (B, K) = {tuple(points.shape[:2])}, got {tuple(valid.shape)}"
        )
    grid = torch.arange(size, device=points.device, dtype=torch.float32)
    dx = grid.view(1, 1, 1, size) - points[..., 0, None, None].float()
    dy = grid.view(1, 1, size, 1) - points[..., 1, None, None].float()
    maps = torch.exp(-(dx * dx + dy * dy) / (2.0 * sigma * sigma))
    return maps * valid[..., None, None].to(maps.dtype)


def decode_heatmaps(
    heatmaps: torch.Tensor, subpixel: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Argmax decoding (ACNN Eq. 5) with the quarter-pixel shift toward the higher neighbour.

    Args:
        heatmaps: (B, K, H, W).
        subpixel: shift each coordinate by 0.25 toward the larger of its two neighbours
            (Newell et al.), which halves the expected quantisation error of a plain argmax.
    Returns:
        (points, scores): (B, K, 2) heatmap coordinates (x, y) and (B, K) peak values.
    """
    if heatmaps.ndim != 4:
        raise ValueError(f"heatmaps must be (B, K, H, W), got {tuple(heatmaps.shape)}")
    b, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(b, k, h * w)
    scores, index = flat.max(dim=-1)
    y, x = torch.div(index, w, rounding_mode="floor"), index % w
    points = torch.stack((x, y), dim=-1).to(torch.float32)
    if not subpixel:
        return points, scores

    def at(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
        return flat.gather(-1, (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)).unsqueeze(-1))[..., 0]

    # The shift is taken only where both neighbours exist, as in the reference implementation.
    dx = torch.sign(at(y, x + 1) - at(y, x - 1)) * ((x > 0) & (x < w - 1))
    dy = torch.sign(at(y + 1, x) - at(y - 1, x)) * ((y > 0) & (y < h - 1))
    return points + 0.25 * torch.stack((dx, dy), dim=-1).to(points.dtype), scores
