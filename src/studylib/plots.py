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


def plot_robustness(
    intervals: pd.DataFrame,
    ylabel: str,
    order: Sequence[str] | None = None,
    training: dict[str, float] | None = None,
) -> plt.Figure:
    """One panel per knob: each setting's metric against the knob's level, the mean over seeds
    with its 95% interval as a band (from
    :func:`studylib.experiments.robustness.curve_intervals`); a dotted line at each knob's
    training level (``training``)."""
    knobs = list(dict.fromkeys(intervals["knob"]))
    fig, axes = plt.subplots(1, len(knobs), figsize=(3.6 * len(knobs), 3.2), squeeze=False)
    present = list(dict.fromkeys(intervals["setting"]))
    settings = [s for s in (order or present) if s in present]
    for ax, knob in zip(axes[0], knobs):
        for setting, colour in zip(settings, sns.color_palette("deep", len(settings))):
            rows = intervals[(intervals["knob"] == knob) & (intervals["setting"] == setting)]
            rows = rows.sort_values("level")
            ax.plot(rows["level"], rows["mean"], "o-", color=colour, label=setting, ms=4)
            ax.fill_between(rows["level"], rows["low"], rows["high"], color=colour, alpha=0.2)
        if training and knob in training:
            ax.axvline(training[knob], color="grey", ls=":", lw=0.8)
        ax.set_xlabel(knob)
        ax.set_title(knob, fontsize=10)
    axes[0, 0].set_ylabel(ylabel)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


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


# ---- face figures


def plot_ced(
    curves: pd.DataFrame,
    order: Sequence[str] | None = None,
    marks: Sequence[float] = (0.08, 0.10),
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """CED curves (from :func:`studylib.face.ced_curves`): the share of test faces whose NME is at
    or below each threshold, one line per setting; dotted lines at ``marks`` (AUC and failure
    thresholds)."""
    ax = ax or plt.subplots(figsize=(6.4, 4.2))[1]
    present = list(dict.fromkeys(curves["setting"]))
    for name in [s for s in (order or present) if s in present]:
        rows = curves[curves["setting"] == name]
        ax.plot(100 * rows["threshold"], 100 * rows["fraction"], label=name, lw=1.4)
    for mark in marks:
        ax.axvline(100 * mark, color="grey", ls=":", lw=0.8)
    ax.set_xlabel("NME (% of the inter-ocular distance)")
    ax.set_ylabel("test faces at or below (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    return ax


def plot_parameter_counts(tables: dict[str, pd.DataFrame]) -> plt.Figure:
    """The face paper's Fig. 13-14 for tables from :func:`studylib.face.parameter_table`: per
    table (e.g. this profile's size, the paper's) one row of two panels, the distillation
    module's parameters and the total, stacked by module, in millions."""
    rows = max(len(table) for table in tables.values())
    fig, axes = plt.subplots(
        len(tables), 2, figsize=(11, len(tables) * (0.32 * rows + 1.3)), squeeze=False
    )
    for (title, table), (left, right) in zip(tables.items(), axes):
        y = np.arange(len(table))
        left.barh(y, table["distillation"].to_numpy(float) / 1e6, color="#4c72b0")
        left.set_title(f"distillation module, {title}", fontsize=10)
        modules = [c for c in table.columns if c != "total"]
        start = np.zeros(len(table))
        for module, colour in zip(modules, sns.color_palette("tab10", len(modules))):
            values = table[module].to_numpy(float) / 1e6
            right.barh(y, values, left=start, color=colour, label=module)
            start += values
        right.set_title(f"whole network, {title}", fontsize=10)
        for ax in (left, right):
            ax.set_yticks(y, table.index)
            ax.invert_yaxis()
            ax.set_xlabel("parameters (millions)")
    axes[0, 1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def show_face_attention(
    images: np.ndarray,
    maps: dict[str, np.ndarray | None],
    landmarks: np.ndarray | None = None,
    occluded: np.ndarray | None = None,
    size: float = 2.3,
    row_labels: Sequence[str] | None = None,
) -> plt.Figure:
    """The face paper's Fig. 15 for maps from :func:`studylib.face.attention_maps`: one row per
    face, with the input (true landmarks filled where visible, hollow where occluded; predictions
    as small crosses), the occlusion probability (occluded landmarks as cyan circles) and the
    spatial gate over the image in grey (each map's colours span its own range, from dark to
    bright, given in the title), and the channel gate's values sorted. A map that is
    all NaN (a gate the row's model does not have) leaves its panel empty; ``row_labels`` name
    the rows (e.g. the models)."""
    panels = [key for key in ("occlusion", "spatial", "channel") if maps.get(key) is not None]
    titles = {"occlusion": "occlusion prob.", "spatial": "spatial gate", "channel": "channel gate"}
    columns = 1 + len(panels)
    fig, axes = plt.subplots(
        len(images), columns, figsize=(columns * size, len(images) * size), squeeze=False
    )
    h, w = images.shape[1:3]
    extent = (-0.5, w - 0.5, h - 0.5, -0.5)
    for i, row in enumerate(axes):
        row[0].imshow(images[i], interpolation="nearest")
        if landmarks is not None:
            hidden = occluded[i] if occluded is not None else np.zeros(len(landmarks[i]), bool)
            row[0].scatter(*landmarks[i][~hidden].T, s=5, c="#29a9e0", edgecolors="black", lw=0.3)
            row[0].scatter(*landmarks[i][hidden].T, s=6, facecolors="none", edgecolors="#e4572e")
        row[0].scatter(*maps["landmarks"][i].T, s=6, marker="x", c="white", lw=0.6)
        if row_labels is not None:
            row[0].set_title(row_labels[i], fontsize=9)
        for ax, key in zip(row[1:], panels):
            values = maps[key][i]
            if np.isnan(values).all():
                ax.set_axis_off()
                ax.set_title(f"no {titles[key]}", fontsize=8)
                continue
            if key == "channel":
                ax.plot(np.sort(values)[::-1], color="#4c72b0")
                ax.set_ylim(0, 1)
                ax.set_xlabel("channels, sorted", fontsize=8)
                ax.tick_params(labelsize=7)
            else:
                ax.imshow(images[i].mean(axis=-1), cmap="gray", interpolation="nearest")
                ax.imshow(values, extent=extent, cmap="magma", alpha=0.65, interpolation="nearest")
                if key == "occlusion" and landmarks is not None and occluded is not None:
                    ax.scatter(*landmarks[i][occluded[i]].T, s=6, facecolors="none", edgecolors="c")
                ax.set_xlim(extent[:2])
                ax.set_ylim(extent[2:])
                ax.set_axis_off()
            ax.set_title(f"{titles[key]}, {values.min():.2f}-{values.max():.2f}", fontsize=8)
        row[0].set_axis_off()
    fig.tight_layout()
    return fig
