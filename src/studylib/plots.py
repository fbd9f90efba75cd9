"""Figures for notebooks and the book (matplotlib + seaborn), readable at page width."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from studylib.data.dataset import KeypointSet
from studylib.data.keypoints import MPII_EDGES

#: Colours of the right side, the left side and the centre line of a skeleton.
SIDE_COLOURS = {"r": "#e4572e", "l": "#29a9e0", "c": "#f3c623"}


def _side(name: str) -> str:
    return name[0] if name[:2] in ("r_", "l_") else "c"


def show_keypoint_samples(
    data: KeypointSet,
    indices: Sequence[int] | None = None,
    cols: int = 4,
    edges: Sequence[tuple[int, int]] | None = None,
    size: float = 2.3,
    title: str | None = None,
) -> plt.Figure:
    """A grid of images with their keypoints: filled = visible, hollow = occluded (right side
    orange, left side blue); skeleton edges when given (default: MPII's for 16 joints)."""
    indices = list(range(min(8, len(data)))) if indices is None else list(indices)
    if edges is None and data.spec.num_keypoints == 16:
        edges = MPII_EDGES
    rows = int(np.ceil(len(indices) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size), squeeze=False)
    colours = [SIDE_COLOURS[_side(n)] for n in data.spec.names]
    marker = 14 if data.spec.num_keypoints <= 21 else 5
    for ax, i in zip(axes.flat, indices):
        ax.imshow(data.images[i])
        joints, valid, occluded = data.joints[i], data.valid[i], data.occluded[i]
        for a, b in edges or ():
            if valid[a] and valid[b]:
                ax.plot(*joints[[a, b]].T, color="white", lw=1.0, alpha=0.8)
        shown = valid & ~occluded
        ax.scatter(
            *joints[shown].T,
            s=marker,
            c=np.array(colours)[shown],
            edgecolors="black",
            linewidths=0.4,
        )
        hidden = valid & occluded
        ax.scatter(
            *joints[hidden].T,
            s=marker,
            facecolors="none",
            edgecolors=np.array(colours)[hidden],
            linewidths=1.0,
        )
    for ax in axes.flat:
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_learning_curves(
    history: pd.DataFrame,
    metrics: Sequence[str] = ("train_loss", "pckh"),
    hue: str = "setting",
    labels: dict[str, str] | None = None,
    phase_boundaries: bool = True,
) -> plt.Figure:
    """Per-epoch curves, mean over seeds with a 95% band; dotted lines where phases change."""
    labels = {
        "train_loss": "training loss (sum over stages)",
        "pckh": "test PCKh@0.5 (%)",
        **(labels or {}),
    }
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        sns.lineplot(data=history, x="epoch", y=metric, hue=hue, errorbar=("ci", 95), ax=ax)
        ax.set_ylabel(labels.get(metric, metric))
        if metric.endswith("loss"):
            ax.set_yscale("log")
        if phase_boundaries and "phase" in history:
            first = history[history["seed"] == history["seed"].min()]
            for _, runs in first.groupby(hue):
                changes = runs["epoch"][
                    runs["phase"].ne(runs["phase"].shift()) & (runs["epoch"] > 1)
                ]
                for epoch in changes:
                    ax.axvline(epoch - 0.5, color="grey", ls=":", lw=0.8)
        ax.legend(fontsize=8, title=None)
    fig.tight_layout()
    return fig


def plot_intervals(
    intervals: pd.DataFrame, by: str, xlabel: str, reference: float | None = None, ax=None
) -> plt.Axes:
    """Means with 95% intervals (from :func:`studylib.report.seed_intervals`), one row each."""
    ax = ax or plt.subplots(figsize=(6, 0.45 * len(intervals) + 1))[1]
    y = np.arange(len(intervals))
    err = np.vstack([intervals["mean"] - intervals["low"], intervals["high"] - intervals["mean"]])
    ax.errorbar(intervals["mean"], y, xerr=np.nan_to_num(err), fmt="o", capsize=3)
    ax.set_yticks(y, intervals[by])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    if reference is not None:
        ax.axvline(reference, color="grey", ls=":", lw=0.8)
    return ax


# ---- ACNN figures


def _upsample(values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour upsampling of a (h, w) map to ``shape`` (an integer multiple of it)."""
    fy, fx = shape[0] // values.shape[0], shape[1] // values.shape[1]
    return np.repeat(np.repeat(values, fy, axis=0), fx, axis=1)


def plot_attention_masks(
    images: np.ndarray,
    masks: np.ndarray,
    threshold: float = 0.5,
    dim: float = 0.15,
    size: float = 2.0,
) -> plt.Figure:
    """ACNN's Fig. 6: each row an input image, then the mask M_i each stage passes on.

    Each mask is drawn over the image as what it does to the features: the image is scaled by
    ``dim + (1 - dim) * M_i``, so the discarded regions (mask near 0) are dark. The white contour
    is the ``threshold`` level; the corner gives the mask's mean and its share below the threshold.

    Args:
        images: (N, H, W, 3) uint8 images.
        masks: (N, stages - 1, h, w) mask values in [0, 1], as from
            :func:`studylib.pose.attention_masks`; H and W are multiples of h and w.
    """
    images, masks = np.asarray(images), np.asarray(masks)
    rows, stages = masks.shape[:2]
    fig, axes = plt.subplots(
        rows, stages + 1, figsize=(size * (stages + 1), size * rows), squeeze=False
    )
    for row in range(rows):
        image = images[row].astype(float) / 255.0
        axes[row, 0].imshow(image, interpolation="nearest")
        for stage in range(stages):
            ax = axes[row, stage + 1]
            mask = _upsample(masks[row, stage], image.shape[:2])
            ax.imshow(image * (dim + (1.0 - dim) * mask)[..., None], interpolation="nearest")
            if mask.min() < threshold < mask.max():
                ax.contour(mask, levels=[threshold], colors="white", linewidths=0.7)
            ax.text(
                0.03,
                0.03,
                f"mean {mask.mean():.2f}, {100 * (mask < threshold).mean():.0f}% < {threshold:g}",
                transform=ax.transAxes,
                fontsize=7,
                color="white",
                bbox=dict(facecolor="black", alpha=0.5, pad=1, lw=0),
            )
    titles = ["input"] + [f"M{i + 1} (after stage {i + 1})" for i in range(stages)]
    for ax, title in zip(axes[0], titles):
        ax.set_title(title, fontsize=9)
    for ax in axes.flat:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def plot_joint_heatmaps(
    image: np.ndarray, heatmaps: np.ndarray, names: Sequence[str], cols: int = 6, size: float = 1.7
) -> plt.Figure:
    """ACNN's Fig. 1 (bottom): one image, then each joint's predicted heatmap drawn over it.

    Args:
        image: (H, W, 3) uint8 image.
        heatmaps: (K, h, w) predictions for the image (as from
            :func:`studylib.pose.predicted_heatmaps`) on a grid whose cells tile the image
            (heatmap pixel u covers image pixels [u * H / h, (u + 1) * H / h)); the cross marks
            each map's maximum. All maps share one colour scale (0 to the largest value).
        names: the K joint names.
    """
    heatmaps = np.asarray(heatmaps)
    top = max(float(heatmaps.max()), 1e-6)
    height, width = image.shape[:2]
    extent = (-0.5, width - 0.5, height - 0.5, -0.5)
    panels = len(heatmaps) + 1
    rows = int(np.ceil(panels / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size), squeeze=False)
    axes.flat[0].imshow(image, interpolation="nearest")
    axes.flat[0].set_title("input", fontsize=8)
    grey = image.astype(float).mean(axis=-1)
    for ax, heatmap, name in zip(axes.flat[1:], heatmaps, names):
        ax.imshow(grey, cmap="gray", extent=extent, interpolation="nearest")
        ax.imshow(
            np.clip(heatmap, 0, None),
            cmap="magma",
            alpha=0.7,
            extent=extent,
            interpolation="nearest",
            vmin=0,
            vmax=top,
        )
        y, x = np.unravel_index(np.argmax(heatmap), heatmap.shape)
        scale_y, scale_x = height / heatmap.shape[0], width / heatmap.shape[1]
        ax.plot((x + 0.5) * scale_x - 0.5, (y + 0.5) * scale_y - 0.5, "c+", ms=6, mew=1.2)
        ax.set_title(name.replace("_", " "), fontsize=8)
    for ax in axes.flat:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def plot_gradient_norms(
    history: pd.DataFrame,
    hue: str = "setting",
    groups: Sequence[str] = ("heatmap", "mask"),
) -> plt.Figure:
    """Per-epoch gradient L2 norm (left) and RMS per parameter (right) of each parameter group,
    mean over seeds, log scale: solid lines for the heatmap network, dashed for the mask heads.

    ``history`` holds ``grad_norm_<group>`` and ``grad_rms_<group>`` columns (blank where a
    group is frozen: the line stops there), e.g. from :func:`studylib.pose.gradient_history`.
    Dotted lines mark phase changes, as in :func:`plot_learning_curves`.
    """
    styles = dict(zip(groups, ("-", "--", ":", "-.")))
    keys = list(dict.fromkeys(history[hue]))
    colours = dict(zip(keys, sns.color_palette(n_colors=len(keys))))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, stat, label in zip(
        axes, ("norm", "rms"), ("gradient L2 norm", "gradient RMS per parameter")
    ):
        for key in keys:
            runs = history[history[hue] == key]
            for group in groups:
                column = f"grad_{stat}_{group}"
                if column not in runs or runs[column].isna().all():
                    continue
                mean = runs.groupby("epoch")[column].mean()
                ax.plot(
                    mean.index,
                    mean.to_numpy(),
                    ls=styles[group],
                    marker="o",
                    ms=3,
                    color=colours[key],
                    label=f"{key} ({group})",
                )
        _draw_phase_changes(ax, history, hue)
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    return fig


def _draw_phase_changes(ax: plt.Axes, history: pd.DataFrame, hue: str) -> None:
    """Dotted vertical lines between epochs where a run's phase changes (first seed of each)."""
    first = history[history["seed"] == history["seed"].min()]
    changes = set()
    for _, runs in first.groupby(hue):
        runs = runs.sort_values("epoch")
        changes |= set(runs["epoch"][runs["phase"].ne(runs["phase"].shift()) & (runs["epoch"] > 1)])
    for epoch in sorted(changes):
        ax.axvline(epoch - 0.5, color="grey", ls=":", lw=0.8)
