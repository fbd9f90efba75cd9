"""Heatmap decoders compared on the validation split of validation-split pose runs.

    .venv/bin/python scripts/compare_decoders.py RUN [RUN ...] [--out FILE]

Each RUN is a pose run trained with ``validation=true`` (its test set is the held-out part of the
training images, never the test set); its checkpoint must be there. The flip-tested heatmaps of
the last stage are decoded four ways: argmax; argmax with the quarter-pixel shift toward the
higher neighbour (what the study uses, Newell et al.); a per-axis parabola fitted to the log
heatmap at the peak; and DARK (Zhang et al. 2020: the log of the Gaussian-smoothed heatmap, one
Newton step of its second-order expansion). Prints, and writes to FILE, PCKh@0.5, its AUC and
the mean normalised error of each.
"""

import studylib.cpu_kernels  # noqa: F401, I001  (first: pins the CPU kernels before torch loads)

import argparse
import json

import torch
import torch.nn.functional as F

from studylib import pose
from studylib.data.heatmaps import decode_heatmaps, heatmap_to_image


def gaussian_blur(heatmaps: torch.Tensor, sigma: float = 1.0, size: int = 5) -> torch.Tensor:
    r = torch.arange(size, dtype=heatmaps.dtype) - size // 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    g = g / g.sum()
    b, k, h, w = heatmaps.shape
    x = F.pad(heatmaps.reshape(b * k, 1, h, w), (size // 2,) * 4, mode="replicate")
    x = F.conv2d(F.conv2d(x, g.view(1, 1, 1, size)), g.view(1, 1, size, 1))
    return x.reshape(b, k, h, w)


def refine(heatmaps: torch.Tensor, mode: str) -> torch.Tensor:
    """Argmax plus a sub-pixel offset from the log heatmap's derivatives at the peak."""
    points, _ = decode_heatmaps(heatmaps, subpixel=False)
    maps = gaussian_blur(heatmaps.clamp(min=0)) if mode == "dark" else heatmaps
    log = torch.log(maps.clamp(min=1e-10))
    b, k, h, w = log.shape
    flat = log.reshape(b, k, -1)
    x, y = points[..., 0].long(), points[..., 1].long()

    def at(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
        return flat.gather(-1, (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)).unsqueeze(-1))[..., 0]

    inside = (x > 0) & (x < w - 1) & (y > 0) & (y < h - 1)
    dx = 0.5 * (at(y, x + 1) - at(y, x - 1))
    dy = 0.5 * (at(y + 1, x) - at(y - 1, x))
    dxx = at(y, x + 1) - 2 * at(y, x) + at(y, x - 1)
    dyy = at(y + 1, x) - 2 * at(y, x) + at(y - 1, x)
    zero = torch.zeros_like(dx)
    if mode == "parabola":
        ox = torch.where(dxx < 0, -dx / dxx.clamp(max=-1e-6), zero).clamp(-0.5, 0.5)
        oy = torch.where(dyy < 0, -dy / dyy.clamp(max=-1e-6), zero).clamp(-0.5, 0.5)
    else:
        dxy = 0.25 * (at(y + 1, x + 1) - at(y + 1, x - 1) - at(y - 1, x + 1) + at(y - 1, x - 1))
        det = dxx * dyy - dxy**2
        ok = (det > 1e-8) & (dxx < 0)
        ox = torch.where(ok, -(dyy * dx - dxy * dy) / det.clamp(min=1e-8), zero).clamp(-1, 1)
        oy = torch.where(ok, -(dxx * dy - dxy * dx) / det.clamp(min=1e-8), zero).clamp(-1, 1)
    return points + torch.stack((ox, oy), -1) * inside.unsqueeze(-1)


DECODERS = {
    "argmax": lambda h: decode_heatmaps(h, subpixel=False)[0],
    "quarter shift (the study's)": lambda h: decode_heatmaps(h)[0],
    "parabola": lambda h: refine(h, "parabola"),
    "dark": lambda h: refine(h, "dark"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    found = {}
    for folder in args.runs:
        model, config = pose.load_run_model(folder)
        if not config.validation:
            raise SystemExit(
                f"{folder}: trained with validation=false; its test set is the test set"
            )
        _, held_out = pose.load_pose_data(config)
        task = pose.build_task(config, held_out.spec, model)
        model.eval()
        with torch.no_grad():
            heatmaps = torch.cat(
                [
                    task.predict_heatmaps(
                        model, torch.from_numpy(held_out.images[s : s + 64]), True
                    )
                    for s in range(0, len(held_out), 64)
                ]
            )
        scores = {}
        for name, decode in DECODERS.items():
            metrics, _ = pose.pose_metrics(
                heatmap_to_image(decode(heatmaps), task.stride).numpy(), held_out
            )
            scores[name] = {
                k: round(float(metrics[k]), 4) for k in ("pckh", "pckh_auc", "mean_error")
            }
        print(folder, len(held_out), scores)
        found[folder] = {"validation_images": len(held_out), "decoders": scores}
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(found, handle, indent=2)


if __name__ == "__main__":
    main()
