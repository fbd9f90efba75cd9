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
