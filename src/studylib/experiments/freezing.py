"""The freezing-phases ablation of ACNN: its settings, and the analyses of its records.

ACNN (Sec. 3.3) trains in phases because, it says, the gradients of the mask task are much
larger than those of the heatmap task: A) the heatmap network with the masks held at ones,
B) the mask heads with the heatmap network frozen, C) both. The ablation compares schedules at
equal total epochs. The functions below define its settings (one table, shared by the notebook
and the book) and read its records.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studylib import compare, papers, pose, report, results, stats
from studylib.config import PoseConfig
from studylib.experiments.base import Experiment
from studylib.io import read_json
from studylib.models.hourglass import StackedHourglass, count_parameters
from studylib.pose import PCKH_WORDING

ABLATION = "freezing"
#: The fewest epochs that give phases A and C one epoch each.
MIN_EPOCHS = 2
#: The settings a profile runs when the notebook does not name them. At the quick profile the
#: CPU budget runs the three that the ledger's claims compare (1: A-B-C against no attention;
#: 4: A-B-C against joint; 2, 3, 5: their masks and gradients); the other schedules and the
#: hard mask run at the GPU profiles, or on request.
PROFILE_SETTINGS = {
    "quick": ("no-attention", "acnn-joint", "acnn-A-B-C"),
}


def setting_overrides() -> dict[str, dict[str, Any]]:
    """The freezing-phases ablation: setting name -> :class:`PoseConfig` overrides, in table order.

    Every setting gives the heatmap network the same epochs; a phased schedule adds phase B's mask
    epochs on top (:func:`studylib.config.schedule_phases`).
    """
    return {
        "no-attention": dict(attention=None, mask="soft", schedule="joint"),
        "acnn-joint": dict(attention="acnn", mask="soft", schedule="joint"),
        "acnn-A-B": dict(attention="acnn", mask="soft", schedule="A-B"),
        "acnn-A-B-C": dict(attention="acnn", mask="soft", schedule="A-B-C"),
        "acnn-A-C": dict(attention="acnn", mask="soft", schedule="A-C"),
        "acnn-A-B-C-hard": dict(attention="acnn", mask="hard", schedule="A-B-C"),
    }


def base_config(profile: str, **overrides: Any) -> PoseConfig:
    """The profile's pose config for the ablation, with at least :data:`MIN_EPOCHS`
    epochs unless ``epochs`` is given (an explicit value too small for a schedule is an error)."""
    config = PoseConfig.from_profile(profile, **overrides)
    if overrides.get("epochs") is None and config.epochs < MIN_EPOCHS:
        config = config.replace(epochs=MIN_EPOCHS)
    return config


def configs(base: PoseConfig, settings: Sequence[str] | str | None = None) -> dict[str, PoseConfig]:
    """``base`` with each setting's overrides; when ``settings`` is None, those of
    :data:`PROFILE_SETTINGS` for ``base``'s profile (every setting for a profile not there).

    ``settings`` may be the list of names or its string form (papermill's ``-p settings
    '["acnn-joint", "acnn-A-B-C"]'``).
    """
    from studylib.params import names

    table = setting_overrides()
    if settings is None:
        chosen = list(PROFILE_SETTINGS.get(base.profile, table))
    else:
        chosen = names("settings", settings, list(table))
    return {name: base.replace(**table[name]) for name in chosen}


def schedule_table(configs: dict[str, PoseConfig]) -> pd.DataFrame:
    """One row per setting: model, mask type, each phase's epochs, trained part and rate, and the
    epochs in which the heatmap network trains (equal in every setting, so that a schedule is
    not confounded with a budget) and those of the masks alone.

    A phase's cell reads "4 ep, heatmap, lr 0.002": four epochs training the heatmap network at
    a peak rate of 0.002; every phase warms up and is divided by 10 at the config's ``lr_drops``
    (shares of its steps).
    """
    rows = {}
    for name, config in configs.items():
        phases = config.phases()
        row = {
            "model": "ACNN" if config.attention else "hourglass",
            "masks": config.mask if config.attention else "-",
        }
        for phase in phases:
            row[phase.name] = f"{phase.epochs} ep, {phase.train}, lr {phase.lr:g}"
        row["heatmap epochs"] = sum(p.epochs for p in phases if p.train in ("all", "heatmap"))
        row["mask-only epochs"] = sum(p.epochs for p in phases if p.train == "mask")
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index").fillna("-")
    phase_columns = [c for c in ("joint", "A", "B", "C") if c in table]
    table = table[["model", "masks", *phase_columns, "heatmap epochs", "mask-only epochs"]]
    table.index.name = "setting"
    return table


def mask_head_parameters(config: PoseConfig, num_joints: int = 16) -> pd.DataFrame:
    """Parameters of the hourglass, of ACNN (hourglass + mask heads) and of the mask heads alone,
    at the config's size and at the paper's (4 stacks, 256 features)."""
    sizes = {
        f"this profile ({config.num_stacks} stacks, {config.features} features)": (
            config.num_stacks,
            config.features,
        ),
        "ACNN paper (4 stacks, 256 features)": (4, 256),
    }
    rows = {}
    for label, (stacks, features) in sizes.items():
        plain = StackedHourglass(stacks, features, num_joints)
        acnn = StackedHourglass(stacks, features, num_joints, attention="acnn")
        heads = count_parameters(acnn.parameter_groups()["mask"])
        rows[label] = {
            "hourglass": count_parameters(plain),
            "ACNN": count_parameters(acnn),
            "mask heads": heads,
            "mask heads (% of ACNN)": round(100 * heads / count_parameters(acnn), 2),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


GRADIENT_GROUPS = ("heatmap", "mask")


def gradient_history(runs: Iterable[str | Path]) -> pd.DataFrame:
    """Per-epoch gradient norms of each run (``history.csv``), each group's columns left blank
    in the phases where the group is frozen (it receives no gradient there), and the ratios
    mask / heatmap of the L2 norm (``grad_ratio_norm``) and of the RMS per parameter
    (``grad_ratio_rms``; the two groups differ in size)."""
    frames = []
    for folder in map(Path, runs):
        history = results.load_csvs([folder], "history.csv")
        phases = PoseConfig.from_record(folder).phases()
        trained = history["phase"].map({p.name: p.train for p in phases})
        for group in GRADIENT_GROUPS:
            frozen = ~trained.isin(["all", group])
            for stat in ("norm", "rms"):
                column = f"grad_{stat}_{group}"
                history[column] = np.where(frozen, np.nan, history.get(column, np.nan))
            # The gradient at a tensor exists wherever the tensor is computed from what trains.
            column = f"grad_elem_{group}"
            history[column] = history.get(column, np.nan)
        for stat in ("norm", "rms", "elem"):
            history[f"grad_ratio_{stat}"] = (
                history[f"grad_{stat}_mask"] / history[f"grad_{stat}_heatmap"]
            )
        frames.append(history)
    return pd.concat(frames, ignore_index=True)


def gradient_summary(
    runs: Iterable[str | Path], order: Sequence[str] | None = None
) -> pd.DataFrame:
    """Per setting and phase: each gradient quantity's mean over the phase's epochs, then mean,
    low, high (Student-t 95%) and n over seeds. Long form: setting, phase, quantity, mean, ...

    The ratios (``grad_ratio_*``) are averaged on the log scale, over epochs and over seeds: their
    ``mean`` is a geometric mean and the interval is back-transformed, since a ratio varies by
    factors (an interval on the plain scale could reach below zero).
    """
    history = gradient_history(runs)
    quantities = [
        c
        for c in history
        if c.startswith(("grad_norm_", "grad_rms_", "grad_elem_", "grad_ratio_"))
        and history[c].notna().any()
    ]
    ratios = [q for q in quantities if q.startswith("grad_ratio_")]
    history[ratios] = np.log(history[ratios])
    per_run = history.groupby(["setting", "phase", "seed"], sort=False)[quantities].mean()
    rows = []
    for (setting, phase), group in per_run.groupby(level=["setting", "phase"], sort=False):
        for quantity in quantities:
            interval = stats.mean_ci(group[quantity])
            if not interval.n:
                continue
            values = (interval.estimate, interval.low, interval.high)
            mean, low, high = np.exp(values) if quantity in ratios else values
            rows.append(
                {
                    "setting": setting,
                    "phase": phase,
                    "quantity": quantity,
                    "mean": float(mean),
                    "low": float(low),
                    "high": float(high),
                    "n": interval.n,
                }
            )
    summary = pd.DataFrame(rows)
    if order is not None:
        rank = {name: i for i, name in enumerate(order)}
        summary = summary[summary["setting"].isin(rank)]
        summary = summary.sort_values("setting", key=lambda s: s.map(rank), kind="stable")
    return summary.reset_index(drop=True)


GRADIENT_LABELS = {
    "grad_norm_heatmap": "heatmap L2",
    "grad_norm_mask": "mask L2",
    "grad_rms_heatmap": "heatmap RMS",
    "grad_rms_mask": "mask RMS",
    "grad_ratio_norm": "mask / heatmap (L2)",
    "grad_ratio_rms": "mask / heatmap (RMS)",
    "grad_elem_heatmap": "at the heatmaps (RMS per element)",
    "grad_elem_mask": "at the masks (RMS per element)",
    "grad_ratio_elem": "mask / heatmap (per element)",
}


def gradient_table(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`gradient_summary` as a table: one row per setting and phase, 3 significant digits;
    norms as "mean ± half-width", ratios as "geometric mean [low, high]" (their interval is not
    symmetric); "-" where a group is frozen or absent."""
    cells = summary.assign(
        cell=[
            _format_interval(m, lo, hi, symmetric=not q.startswith("grad_ratio_"))
            for q, m, lo, hi in summary[["quantity", "mean", "low", "high"]].to_numpy()
        ],
        label=summary["quantity"].map(GRADIENT_LABELS),
    )
    table = cells.pivot_table(
        index=["setting", "phase"], columns="label", values="cell", aggfunc="first", sort=False
    )
    columns = [label for label in GRADIENT_LABELS.values() if label in table]
    table = table.reindex(columns=columns).fillna("-")
    table.columns.name = None
    return table


def _format_interval(mean: float, low: float, high: float, symmetric: bool = True) -> str:
    if not np.isfinite(high - low):
        return f"{mean:.3g}"
    if symmetric:
        return f"{mean:.3g} ± {(high - low) / 2:.2g}"
    return f"{mean:.3g} [{low:.3g}, {high:.3g}]"


def describe_gradient_ratios(summary: pd.DataFrame) -> str:
    """Sentences on the mask / heatmap gradient ratios where both groups train from the same loss
    (phase C and joint training), worded by where each interval lies relative to 1."""
    kinds = {
        "grad_ratio_elem": "gradient at the tensors, RMS per element",
        "grad_ratio_rms": "parameter gradients, RMS per parameter",
        "grad_ratio_norm": "parameter gradients, L2 norm",
    }
    both = summary[summary["quantity"].isin(list(kinds))]
    if both.empty:
        return "No phase trained both groups, so no gradient ratio was measured."
    sentences = []
    for row in both.itertuples():
        kind = kinds[row.quantity]
        what = f"{row.setting}, phase {row.phase}, {kind}: mask / heatmap {row.mean:.3g}"
        if not np.isfinite(row.high - row.low):
            sentences.append(f"{what} (one seed, so no interval).")
            continue
        if row.low > 1:
            verdict = "larger for the mask heads"
        elif row.high < 1:
            verdict = "smaller for the mask heads"
        else:
            verdict = "not resolved from 1"
        span = f"geometric mean, 95% interval {row.low:.3g} to {row.high:.3g} over {row.n} seeds"
        sentences.append(f"{what} ({span}): {verdict}.")
    return "\n".join(f"- {s}" for s in sentences)


#: The mask statistics of a run record: key -> (column label, decimals shown).
MASK_STATISTICS = {
    "mean": ("mean mask value", 2),
    "discarded_pct": ("below 0.5 (%)", 1),
    "near_binary_pct": ("within 0.1 of 0 or 1 (%)", 1),
    "mean_on_person": ("mean on the person", 2),
    "mean_off_person": ("mean off the person", 2),
}


def mask_statistics_frame(runs: Iterable[str | Path]) -> pd.DataFrame:
    """The masks' statistics on the test set (``metrics.json``'s ``mask_statistics``), one row per
    run and mask M_i: setting, seed, mask, mean, discarded_pct, near_binary_pct. Runs without
    masks are left out."""
    rows = []
    for folder in map(Path, runs):
        by_mask = read_json(folder / "metrics.json").get("mask_statistics", {})
        keys = results.run_keys(folder)
        rows += [
            {"setting": keys["setting"], "seed": keys["seed"], "mask": mask, **values}
            for mask, values in by_mask.items()
        ]
    return pd.DataFrame(rows, columns=["setting", "seed", "mask", *MASK_STATISTICS])


def mask_statistics_table(
    runs: Iterable[str | Path], order: Sequence[str] | None = None
) -> pd.DataFrame:
    """:func:`mask_statistics_frame` per setting and mask, mean ± 95% interval over seeds."""
    frame = mask_statistics_frame(runs)
    table = {}
    for (setting, mask), group in frame.groupby(["setting", "mask"], sort=False):
        table[(setting, mask)] = {
            label: stats.mean_ci(group[key]).format(digits)
            for key, (label, digits) in MASK_STATISTICS.items()
        }
        table[(setting, mask)]["seeds"] = group["seed"].nunique()
    out = pd.DataFrame.from_dict(table, orient="index")
    if out.empty:
        return pd.DataFrame(columns=[label for label, _ in MASK_STATISTICS.values()] + ["seeds"])
    out.index.names = ["setting", "mask"]
    if order is not None:
        out = out.reindex([k for name in order for k in out.index if k[0] == name])
    return out


def describe_masks(frame: pd.DataFrame) -> str:
    """Sentences on :func:`mask_statistics_frame`: how binary each setting's masks are, how much
    they discard, and whether they are lower off the person than on it (claim 2), worded by the
    numbers (a mask that discards almost nothing is near-binary only because it stayed near its
    all-ones start)."""
    if frame.empty:
        return "No run with attention masks was found."
    sentences = []
    for (setting, mask), group in frame.groupby(["setting", "mask"], sort=False):
        near = stats.mean_ci(group["near_binary_pct"])
        discarded = stats.mean_ci(group["discarded_pct"])
        text = (
            f"{setting}, {mask}: {near.format(1)}% of values within 0.1 of 0 or 1, "
            f"{discarded.format(1)}% below 0.5"
        )
        top = discarded.high if np.isfinite(discarded.high) else discarded.estimate
        if top < 1:
            text += "; it discards almost nothing, so it is near-binary by staying near 1"
        contrast = person_contrast(group)
        if contrast.n:
            text += (
                f"; on the person minus off it {contrast.format(3)} "
                f"({_side_words(contrast.low, contrast.high, 'higher on the person')})"
            )
        sentences.append(text + ".")
    return "\n".join(f"- {s}" for s in sentences)


def person_contrast(frame: pd.DataFrame) -> stats.Interval:
    """Mean mask on the person minus off it, mean and 95% interval over the rows' seeds (NaN
    where the records predate the person regions)."""
    if not {"mean_on_person", "mean_off_person"} <= set(frame.columns):
        return stats.mean_ci([])
    return stats.mean_ci((frame["mean_on_person"] - frame["mean_off_person"]).dropna())


def _side_words(low: float, high: float, above: str) -> str:
    if not np.isfinite(high - low):
        return "one seed, no interval"
    return {
        1: f"{above}, the interval excludes 0",
        -1: "the opposite, the interval excludes 0",
        0: "not resolved, the interval includes 0",
    }[compare.side(low, high)]


def reading(
    vs_reference: pd.DataFrame | None,
    vs_baseline: pd.DataFrame | None,
    gradients: pd.DataFrame,
    masks: pd.DataFrame,
) -> str:
    """The ablation's evidence on ACNN's claims 1, 3, 4 and 5, as Markdown sentences computed from
    the comparisons (:func:`paired_pckh` against ``acnn-A-B-C`` and against ``no-attention``),
    the gradient summary and the mask statistics; a comparison whose settings were not run is
    left out."""

    def sentences(differences, settings, columns=("Total",)):
        return compare.sentences(differences, settings, columns, **PCKH_WORDING)

    reported = paper_table1().iloc[-1]
    parts = {
        "Claim 1, attention improves PCKh, most on the ankles (reported on MPII: "
        f"{reported['Total']:+.1f} Total, {reported['Ank.']:+.1f} ankles)": sentences(
            vs_baseline, ["acnn-A-B-C"], ("Total", "Ank.")
        ),
        "Claim 4, phased training beats training both tasks from the start": sentences(
            vs_reference, ["acnn-joint", "acnn-A-B", "acnn-A-C"]
        ),
        "Binary (hard) masks against the paper's soft ones, same schedule": sentences(
            vs_reference, ["acnn-A-B-C-hard"]
        ),
        "Claim 3, mask gradients are much larger than heatmap gradients (mask / heatmap, "
        "where both train)": [describe_gradient_ratios(gradients)],
        "Claims 2 and 5, the masks discard what is off the person and are binary": [
            describe_masks(masks)
        ],
    }
    return "\n\n".join(
        f"**{title}.**\n\n" + "\n".join(lines) for title, lines in parts.items() if lines
    )


def paper_table1() -> pd.DataFrame:
    """ACNN's Table 1 rows for the hourglass and ACNN, as reported (MPII), and their difference."""
    table = pd.DataFrame.from_dict(
        papers.ACNN_TABLE1, orient="index", columns=list(report.TABLE1_COLUMNS)
    )
    hourglass, acnn = table.index
    table.loc["difference (ACNN - hourglass)"] = (table.loc[acnn] - table.loc[hourglass]).round(1)
    table.index.name = "reported on MPII (PCKh@0.5)"
    return table


def gradient_at_initialisation(
    num_stacks: int, features: int, image_size: int = 64, images: int = 4, seed: int = 0
) -> dict[str, float]:
    """RMS per element of the loss's gradient at the masks M_i and at the heatmaps H_i of a new
    ACNN (joint training's first step, Eq. 3 on synthetic figures), and their ratio: claim 3's
    quantity, measurable at the paper's width (256 channels) without training it.

    The mask multiplies every channel of the features it gates, so its gradient is the sum of
    ``features`` channels' gradients; a wider network should show a larger ratio if the paper's
    explanation holds.
    """
    import torch

    from studylib.data.augment import AugmentConfig
    from studylib.data.synthetic_pose import generate_pose

    data = generate_pose(images, image_size, seed=seed)
    torch.manual_seed(seed)
    model = StackedHourglass(num_stacks, features, data.spec.num_keypoints, attention="acnn")
    task = pose.PoseTask(
        flip_permutation=torch.from_numpy(data.spec.flip_permutation()),
        augment=AugmentConfig(scale=0.0, rotation=0.0, flip=False, color=0.0),
    )
    batch = {
        "images": torch.from_numpy(data.images),
        "joints": torch.from_numpy(data.joints.astype("float32")),
        "valid": torch.from_numpy(data.valid),
    }
    model.train()
    task.loss(model, batch, torch.Generator().manual_seed(seed)).backward()
    rms = model.tensor_gradient_rms()
    return {
        "stacks": num_stacks,
        "features": features,
        "grad_elem_mask": rms["mask"],
        "grad_elem_heatmap": rms["heatmap"],
        "ratio": rms["mask"] / rms["heatmap"],
    }


#: Claim 3 measured at initialisation: this profile's width and the paper's (written by the study).
GRADIENT_AT_INIT_SIZES = ((2, 32), (4, 256))


def write_gradient_at_initialisation(root: str | Path) -> Path:
    """:func:`gradient_at_initialisation` at :data:`GRADIENT_AT_INIT_SIZES`, written with its
    provenance to ``<root>/freezing/gradient_at_initialisation.json``."""
    import time

    import torch

    from studylib.io import write_json

    started = time.perf_counter()
    rows = [gradient_at_initialisation(stacks, width) for stacks, width in GRADIENT_AT_INIT_SIZES]
    path = Path(root) / ABLATION / "gradient_at_initialisation.json"
    write_json(
        path,
        {
            "rows": rows,
            "provenance": results.provenance(torch.device("cpu"), time.perf_counter() - started),
        },
    )
    return path


def gradient_at_initialisation_table(root: str | Path) -> pd.DataFrame:
    """The record of :func:`write_gradient_at_initialisation` as a table (empty if not run)."""
    path = Path(root) / ABLATION / "gradient_at_initialisation.json"
    if not path.is_file():
        return pd.DataFrame()
    table = pd.DataFrame(read_json(path)["rows"]).set_index(["stacks", "features"])
    return table.rename(
        columns={
            "grad_elem_mask": "at the masks (RMS per element)",
            "grad_elem_heatmap": "at the heatmaps (RMS per element)",
            "ratio": "mask / heatmap",
        }
    )


def _configs(profile: str, *, settings=None, **parameters: Any) -> dict[str, PoseConfig]:
    return configs(base_config(profile, **parameters), settings)


EXPERIMENT = Experiment(
    "freezing_phases",
    ABLATION,
    "pose",
    {"settings": None},
    settings=_configs,
    order=lambda: list(setting_overrides()),
    # ACNN's full schedule against the rest, and everything against no attention.
    references=("acnn-A-B-C", "no-attention"),
)


@functools.lru_cache(maxsize=1)
def _trained(folder: str):
    """The model of the run in ``folder`` and its test set, loaded once for both figures."""
    model, config = pose.load_run_model(folder)
    return model, pose.load_pose_data(config)[1]


def draw_masks(folder: str | Path, count: int = 4):
    """The paper's Fig. 6 for the trained run in ``folder``: ``count`` test images and the mask
    each stage passes on. FileNotFoundError without the run's checkpoint."""
    from studylib import plots

    model, test_set = _trained(str(folder))
    images = test_set.images[:count]
    return plots.plot_attention_masks(images, pose.attention_masks(model, images))


def draw_heatmaps(folder: str | Path):
    """The paper's Fig. 1 for the trained run in ``folder``: the last stage's heatmap of every
    joint for the first test image. FileNotFoundError without the run's checkpoint."""
    from studylib import plots

    model, test_set = _trained(str(folder))
    heatmaps = pose.predicted_heatmaps(model, test_set.images[:1])
    return plots.plot_joint_heatmaps(test_set.images[0], heatmaps[0], test_set.spec.names)
