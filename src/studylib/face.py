"""The face track: data, model, loss (the face paper's Eq. 1) and evaluation of one run, and the
analyses of face records that both face ablations use (their settings and readings are in
:mod:`studylib.experiments.reduction_ratio` and :mod:`studylib.experiments.attention_order`).

``run_face(config, root, ablation, setting)`` is what a notebook calls for each setting and seed:
it builds the data and the :class:`~studylib.models.LandmarkNet` the config describes, trains
with :func:`studylib.train.fit`, and writes the run record. A finished run with the same config
is not trained again. It mirrors :func:`studylib.pose.run_pose`.

Metrics (every NME is a fraction of the inter-ocular distance, between the outer eye corners 36
and 45; the paper's tables are these times 100, "NRMSE x 10^-2"):

- ``nme``: the per-face NME averaged over the test faces (the paper's Eq. 5);
- ``nme_visible`` / ``nme_occluded``: the normalised error pooled over every visible / occluded
  test landmark (pooled, because many faces have no occluded landmark at all);
- ``nme_<part>`` for jaw, brows, nose, eyes and mouth (per-face mean over the part's points);
- ``auc_0.08``: the area under the CED curve up to 0.08, divided by 0.08; ``failure_0.08`` and
  ``failure_0.10``: the fraction of faces whose NME is above 0.08 / 0.10;
- ``nme_mean_shape``: the NME of predicting the training set's mean shape for every test face,
  what a model that learnt nothing from the image would score;
- ``occlusion_prob_occluded`` / ``occlusion_prob_visible`` / ``occlusion_gap`` (ODN and ADM):
  the distillation module's occlusion probability at occluded and visible landmarks
  (:func:`occlusion_statistics`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from studylib import compare, distributed, report, results
from studylib.config import FaceConfig
from studylib.data.augment import AugmentConfig, augment_batch, images_to_input
from studylib.data.cache import synthetic_split
from studylib.data.dataset import KeypointSet, train_and_test
from studylib.data.keypoints import FACE68_PARTS, KeypointSpec
from studylib.metrics import auc, ced, failure_rate, nme
from studylib.models.landmark import MODULE_GROUPS, LandmarkNet, pixels_to_normalized
from studylib.run import TrackParts, load_trained, train_run
from studylib.train import flush_denormals

#: The normaliser of every NME here (outer eye corners).
NORMALIZER = "interocular"
#: The threshold of the AUC and those of the failure rates.
AUC_THRESHOLD = 0.08
FAILURE_THRESHOLDS = (0.08, 0.10)
#: The paper's input size and trunk width (a 7 x 7 last feature map) and LandmarkNet's default
#: rank of M, for parameter counts at the paper's scale.
PAPER_SCALE: dict[str, Any] = dict(image_size=224, width=64, layer4_stride=2, rank=128)
#: The faces of 300-W's test split here (the HELEN half of the common subset): the real-data
#: runs test on all of them.
HELEN_TEST_FACES = 330
#: How ``make study-real`` trains on 300-W (beyond the profile): the whole training split (AFW +
#: HELEN train), the whole HELEN test set, 45 epochs (:data:`studylib.study.REAL` says why). The
#: occlusion test finds its runs by it.
REAL_300W_RUNS: dict[str, Any] = dict(num_train=2337, num_test=HELEN_TEST_FACES, epochs=45)


# ----------------------------------------------------------------------------------------- data


def synthetic_face_set(
    split: str, num_images: int, image_size: int, data_seed: int, synth: dict
) -> KeypointSet:
    """A split of the built-in synthetic faces (cached on disk); train and test never overlap."""
    from studylib.data.synthetic_face import FaceSynthConfig, generate_faces

    return synthetic_split(
        "synthetic-face",
        generate_faces,
        FaceSynthConfig,
        split,
        num_images,
        image_size,
        data_seed,
        synth,
    )


def load_face_data(config: FaceConfig) -> tuple[KeypointSet, KeypointSet]:
    """(train, test) sets for the config's dataset at its image size.

    ``"300w"`` is AFW + HELEN train for training and HELEN test for testing (found through
    ``STUDYLIB_DATA``), the first ``num_train`` / ``num_test`` faces of each; it has no occlusion
    labels, so its occluded-landmark NME is NaN.
    """
    if config.dataset not in ("synthetic", "300w"):
        raise ValueError(f"dataset {config.dataset!r} is not a face dataset")

    def load(split: str, n: int) -> KeypointSet:
        if config.dataset == "synthetic":
            return synthetic_face_set(split, n, config.image_size, config.data_seed, config.synth)
        from studylib.data.real.faces import load_300w

        return load_300w(split, config.image_size, limit=n)

    return train_and_test(load, config.num_train, config.num_test, config.validation)


# ---------------------------------------------------------------------------------------- model


def build_model(config: FaceConfig, num_landmarks: int = 68) -> LandmarkNet:
    """The LandmarkNet the config describes (the trunk from ``config.pretrained`` if given).

    ``config.low_rank_input == "mean"`` divides the flattened X by the h x w positions of the
    feature map on its way into the low-rank module: Eq. 1's ``M^T X`` becomes ``M^T X / (h w)``,
    the same functions (M absorbs the constant) trained differently. Why: RMSProp moves every
    weight by about the learning rate, so a linear map of the d = channels x h x w numbers of the
    flattened X moves its output h x w times faster than the ResNet baseline's head, which
    averages over the positions. At one learning rate for the whole network the low-rank module
    then moves too fast and the trunk learns less. ``"sum"`` is the module as written; ``"mean"``
    was chosen on the validation split of the training faces, never on the test set (the records
    ``results/tuning/synthetic/lowrank-*``: every combination with :func:`init_mean_shape`).
    """
    return LandmarkNet(
        num_landmarks,
        attention_order=config.attention_order,
        reduction_ratio=config.reduction_ratio,
        variant=config.variant,
        width=config.width,
        input_size=config.image_size,
        rank=config.rank,
        alpha=config.alpha,
        layer4_stride=config.layer4_stride,
        channel_pooling=config.channel_pooling,
        pretrained_backbone=config.pretrained,
        low_rank_input=config.low_rank_input,
    )


def init_mean_shape(model: LandmarkNet, train_set: KeypointSet) -> None:
    """Start the regression at the training set's mean shape: the last layer's bias is set to it.

    The network then learns each face's offset from the mean shape, as cascaded regression starts
    from a mean face; every variant starts so. On the validation split of the training faces it
    made little difference at the quick profile once the low-rank input is the mean (the records
    ``results/tuning/synthetic/lowrank-*``); it is kept because it costs nothing and spares a
    shorter budget the walk to the mean shape.
    """
    normalized = pixels_to_normalized(torch.from_numpy(train_set.joints).float(), model.input_size)
    last = model.low_rank.fc if model.low_rank is not None else model.head.fc
    with torch.no_grad():
        last.bias.copy_(normalized.mean(dim=0).flatten())


# ------------------------------------------------------------------------------- task, metrics


@dataclass
class FaceTask:
    """Landmark regression: augmented batches, normalised targets, Eq. 1's loss, NME evaluation.

    The target is every landmark in the network's normalised coordinates (-1 and +1 at the
    input's edges), also those that augmentation moved outside the image: a regression target is
    defined wherever the point is, so none is dropped.
    """

    flip_permutation: torch.Tensor
    input_size: int
    augment: AugmentConfig = AugmentConfig()
    eval_batch_size: int = 128

    def loss(
        self, model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator
    ) -> torch.Tensor:
        images, landmarks, _ = augment_batch(batch, self.augment, self.flip_permutation, generator)
        output = model(images)
        target = pixels_to_normalized(landmarks, self.input_size)
        # Eq. 1: squared error + alpha * ||M||_* (a DDP wrapper holds the model in .module).
        return distributed.unwrap(model).loss(output, target.float())

    @torch.no_grad()
    def predict(self, model: nn.Module, data: KeypointSet, device: torch.device) -> np.ndarray:
        """(N, L, 2) landmarks in image pixels."""
        model.eval()
        out = []
        for start in range(0, len(data), self.eval_batch_size):
            images = torch.from_numpy(data.images[start : start + self.eval_batch_size]).to(device)
            out.append(model(images_to_input(images)).landmarks.float().cpu())
        return torch.cat(out).numpy()

    def evaluate(
        self, model: nn.Module, data: KeypointSet, device: torch.device, final: bool = True
    ) -> tuple[dict, pd.DataFrame]:
        """NME metrics and per-face errors (the per-epoch check is the same: it is cheap)."""
        return face_metrics(self.predict(model, data, device), data)


def face_metrics(pred: np.ndarray, data: KeypointSet) -> tuple[dict[str, Any], pd.DataFrame]:
    """The module docstring's metrics for ``pred`` (N, L, 2) in pixels, and one row per face:
    sample, nme, nme_visible, nme_occluded (NaN without occluded landmarks), nme_<part>, norm."""
    gt, norm = data.joints, data.norms[NORMALIZER]
    scored = data.valid
    visible, occluded = scored & ~data.occluded, scored & data.occluded
    per_face = nme(pred, gt, norm, scored)
    error = np.linalg.norm(pred - gt, axis=-1) / norm[:, None]
    per_sample = pd.DataFrame(
        {
            "sample": np.arange(len(data)),
            "nme": per_face,
            "nme_visible": nme(pred, gt, norm, visible),
            "nme_occluded": nme(pred, gt, norm, occluded),
        }
    )
    for part, (start, stop) in FACE68_PARTS.items():
        in_part = np.zeros_like(scored)
        in_part[:, start:stop] = scored[:, start:stop]
        per_sample[f"nme_{part}"] = nme(pred, gt, norm, in_part)
    per_sample["norm"] = norm
    metrics: dict[str, Any] = {
        "nme": float(np.nanmean(per_face)),
        "nme_visible": _pooled(error, visible),
        "nme_occluded": _pooled(error, occluded),
        **{f"nme_{part}": float(np.nanmean(per_sample[f"nme_{part}"])) for part in FACE68_PARTS},
        f"auc_{AUC_THRESHOLD}": auc(per_face, AUC_THRESHOLD),
        **{f"failure_{t:.2f}": failure_rate(per_face, t) for t in FAILURE_THRESHOLDS},
        "occluded_fraction": float(occluded.sum() / max(int(scored.sum()), 1)),
        "num_test": len(data),
    }
    return metrics, per_sample


def _pooled(error: np.ndarray, mask: np.ndarray) -> float:
    return float(error[mask].mean()) if mask.any() else float("nan")


def mean_shape_nme(train_set: KeypointSet, test_set: KeypointSet) -> float:
    """NME of predicting the training set's mean landmarks (pixels) for every test face."""
    mean_shape = train_set.joints.mean(axis=0, keepdims=True)
    pred = np.broadcast_to(mean_shape, test_set.joints.shape)
    per_face = nme(pred, test_set.joints, test_set.norms[NORMALIZER], test_set.valid)
    return float(np.nanmean(per_face))


@torch.no_grad()
def occlusion_statistics(
    model: LandmarkNet, data: KeypointSet, device: torch.device, batch_size: int = 128
) -> tuple[dict[str, float], np.ndarray]:
    """Does the distillation module's occlusion probability P rise where landmarks are occluded?

    P is read at the feature-map cell of every scored landmark. Returns the mean P at occluded
    and at visible landmarks (pooled over the test set's landmarks), the mean over faces of the
    per-face gap (mean P at its occluded landmarks minus at its visible ones), and that gap per
    face (NaN for a face without both kinds). The paper learns P without occlusion labels; a gap
    above 0 says it found occluders anyway.
    """
    model.eval()
    probabilities = []
    for start in range(0, len(data), batch_size):
        images = torch.from_numpy(data.images[start : start + batch_size]).to(device)
        probabilities.append(model(images_to_input(images)).occlusion.float().cpu()[:, 0])
    maps = torch.cat(probabilities).numpy()  # (N, h, w)
    cells = maps.shape[-1]
    stride = data.image_size[1] / cells
    index = np.clip(np.floor((data.joints + 0.5) / stride), 0, cells - 1).astype(int)
    at_landmarks = np.take_along_axis(
        maps.reshape(len(data), -1), index[..., 1] * cells + index[..., 0], axis=1
    )
    visible, occluded = data.valid & ~data.occluded, data.valid & data.occluded
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_occluded = (at_landmarks * occluded).sum(axis=1) / occluded.sum(axis=1)
        mean_visible = (at_landmarks * visible).sum(axis=1) / visible.sum(axis=1)
    gap = mean_occluded - mean_visible
    statistics = {
        "occlusion_prob_occluded": _pooled(at_landmarks, occluded),
        "occlusion_prob_visible": _pooled(at_landmarks, visible),
        "occlusion_gap": float(np.nanmean(gap)) if np.isfinite(gap).any() else float("nan"),
    }
    return statistics, gap


# ------------------------------------------------------------------------------------------- run


def run_face(config: FaceConfig, root: str | Path, ablation: str, setting: str, **options) -> Path:
    """Train and evaluate one face run and write its record; return the record's folder. The
    record's metrics include the mean shape's NME (the floor) and the model's total and
    per-module parameter counts.

    :func:`studylib.run.train_run` with the face track's parts; ``options`` are its ``force``,
    ``progress`` and ``shared_with`` (reuse a finished record, resume, link a shared run).
    """
    parts = TrackParts(
        load_data=load_face_data,
        build=_build_run,
        record=_record_metrics,
        fit_context=flush_denormals,  # subnormal gate values take the CPU's slow path
    )
    return train_run(parts, config, root, ablation, setting, **options)


def build_task(config: FaceConfig, spec: KeypointSpec) -> FaceTask:
    """The loss and evaluation of a run with this config."""
    return FaceTask(
        flip_permutation=torch.from_numpy(spec.flip_permutation()),
        input_size=config.image_size,
        augment=AugmentConfig(**config.augment),
    )


def _build_run(config: FaceConfig, train_set: KeypointSet) -> tuple[LandmarkNet, FaceTask]:
    model = build_model(config, train_set.spec.num_keypoints)
    if config.mean_shape_init:
        init_mean_shape(model, train_set)
    return model, build_task(config, train_set.spec)


def _record_metrics(
    model: LandmarkNet,
    config: FaceConfig,
    train_set: KeypointSet,
    test_set: KeypointSet,
    device: torch.device,
    outcome,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """A face record's metrics: the fit's, the mean shape's NME, the parameter counts and, for
    the distillation variants, the occlusion statistics (and each face's occlusion gap)."""
    modules = model.module_parameter_counts()
    metrics = {
        **outcome.metrics,
        "nme_mean_shape": mean_shape_nme(train_set, test_set),
        "parameters": sum(modules.values()),
        "module_parameters": modules,
    }
    per_sample = outcome.per_sample
    if model.distillation is not None:
        statistics, gap = occlusion_statistics(model, test_set, device)
        metrics.update(statistics)
        per_sample = per_sample.assign(occlusion_gap=gap)
    return metrics, per_sample


# ------------------------------------------------------------------------------------- settings


def configs(base: FaceConfig, settings: dict[str, dict[str, Any]]) -> dict[str, FaceConfig]:
    """``base`` with each setting's overrides (each is checked as it is made)."""
    return {name: base.replace(**changes) for name, changes in settings.items()}


def setting_table(configs: dict[str, FaceConfig]) -> pd.DataFrame:
    """One row per setting: the model knobs that the settings vary."""
    rows = {
        name: {
            "variant": c.variant,
            "attention order": c.attention_order if c.variant == "adm" else "",
            "r": c.reduction_ratio if c.variant == "adm" else "",
            "channel pooling": "+".join(c.channel_pooling) if c.variant == "adm" else "",
            # The channel gate's MLP squeezes 8 x width channels to (8 x width) / r units: at a
            # narrower trunk than the paper's, a given r leaves fewer units than it did there.
            "MLP units": (
                f"{8 * c.width // c.reduction_ratio} (paper: {512 // c.reduction_ratio})"
                if c.variant == "adm" and "channel" in c.attention_order
                else ""
            ),
        }
        for name, c in configs.items()
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "setting"
    return table


def parameter_table(configs: dict[str, FaceConfig], **scale: Any) -> pd.DataFrame:
    """Parameters per module and in total of each setting's model (the paper's Fig. 13-14),
    built at the configs' size or, with ``scale`` (e.g. :data:`PAPER_SCALE`), at another."""
    rows = {}
    for name, config in configs.items():
        counts = build_model(config.replace(pretrained=None, **scale)).module_parameter_counts()
        rows[name] = {**counts, "total": sum(counts.values())}
    table = pd.DataFrame.from_dict(rows, orient="index")[[*MODULE_GROUPS, "total"]]
    table.index.name = "setting"
    return table


# ------------------------------------------------------------------------------ trained models


def load_run_model(folder: str | Path) -> tuple[LandmarkNet, FaceConfig]:
    """The trained model of a finished run (:func:`studylib.run.load_trained`) and its config.
    The checkpoint holds every weight: no pretrained file is needed (nor read) to rebuild it."""
    return load_trained(
        folder, FaceConfig, lambda config, _: build_model(config.replace(pretrained=None))
    )


def most_occluded(data: KeypointSet, count: int) -> np.ndarray:
    """Indices of the ``count`` faces with the most occluded landmarks (ties: lower index)."""
    return np.argsort(-data.occluded.sum(axis=1), kind="stable")[:count]


@torch.no_grad()
def attention_maps(model: LandmarkNet, images: np.ndarray) -> dict[str, np.ndarray | None]:
    """What the distillation module computes for uint8 (N, H, W, 3) images (the paper's Fig. 15):

    ``landmarks`` (N, L, 2) predicted pixels; ``occlusion`` (N, h, w) the occlusion probability;
    ``spatial`` (N, h, w) the spatial gate and ``channel`` (N, C) the channel gate of the ADM
    (None where the model has none).
    """
    model.eval()
    device = next(model.parameters()).device
    out = model(images_to_input(torch.from_numpy(np.ascontiguousarray(images)).to(device)))

    def array(t: torch.Tensor | None) -> np.ndarray | None:
        return None if t is None else t.float().cpu().numpy()

    channel, spatial, occlusion = (
        array(out.channel_attention),
        array(out.spatial_attention),
        array(out.occlusion),
    )
    return {
        "landmarks": array(out.landmarks),
        "occlusion": None if occlusion is None else occlusion[:, 0],
        "spatial": None if spatial is None else spatial[:, 0],
        "channel": None if channel is None else channel[:, :, 0, 0],
    }


def attention_maps_by_setting(
    models: dict[str, LandmarkNet], image: np.ndarray
) -> dict[str, np.ndarray]:
    """:func:`attention_maps` of several models for one uint8 (H, W, 3) image, stacked one row
    per model; a map a model does not compute (e.g. the spatial gate of the channel-only order)
    is all NaN in its row (the channel gate of the ResNet, ODN and no-attention models too)."""
    per_model = [attention_maps(model, image[None]) for model in models.values()]
    stacked = {}
    for key in ("landmarks", "occlusion", "spatial", "channel"):
        shapes = [m[key].shape[1:] for m in per_model if m[key] is not None]
        if not shapes:
            continue
        stacked[key] = np.stack(
            [m[key][0] if m[key] is not None else np.full(shapes[0], np.nan) for m in per_model]
        )
    return stacked


# --------------------------------------------------------------------------- reading the records

#: The columns of :func:`nme_table` (metric -> header); all are shown x 100.
NME_COLUMNS = {
    "nme": "NME",
    "nme_visible": "NME visible",
    "nme_occluded": "NME occluded",
    f"auc_{AUC_THRESHOLD}": f"AUC@{AUC_THRESHOLD}",
    "failure_0.08": "FR@0.08",
    "failure_0.10": "FR@0.10",
}


def draw_attention(folder: str | Path, test_set: KeypointSet, count: int = 4):
    """The paper's Fig. 15 for the trained run in ``folder``: its distillation module's maps on
    the ``count`` test faces with the most occluded landmarks. FileNotFoundError without the
    run's checkpoint."""
    from studylib import plots

    model, _ = load_run_model(folder)
    shown = most_occluded(test_set, count)
    maps = attention_maps(model, test_set.images[shown])
    return plots.show_face_attention(
        test_set.images[shown], maps, test_set.joints[shown], test_set.occluded[shown], size=1.9
    )


def draw_attention_by_setting(runs: dict[str, list[Path]], test_set: KeypointSet):
    """Each setting's seed-0 model's maps on the test face with the most occluded landmarks, one
    row per setting whose checkpoint is here; FileNotFoundError when none is."""
    from studylib import plots

    models = {}
    for name, folders in runs.items():
        with contextlib.suppress(FileNotFoundError):  # a setting without its checkpoint is left out
            models[name] = load_run_model(folders[0])[0]
    if not models:
        raise FileNotFoundError("no checkpoint of any setting's seed-0 run is here")
    index = [most_occluded(test_set, 1)[0]] * len(models)
    maps = attention_maps_by_setting(models, test_set.images[index[0]])
    return plots.show_face_attention(
        test_set.images[index],
        maps,
        test_set.joints[index],
        test_set.occluded[index],
        row_labels=list(models),
        size=1.9,
    )


def nme_table(
    runs: Iterable[str | Path],
    order: Sequence[str] | None = None,
    columns: dict[str, str] = NME_COLUMNS,
    digits: int = 2,
) -> pd.DataFrame:
    """Mean ± 95% interval over seeds (Student t) of each setting's metrics, in percent (NME in
    % of the inter-ocular distance, the paper's x 10^-2; AUC and failure rates in %)."""
    runs = list(runs)
    frame = results.load_metrics(runs)
    scaled = frame.assign(**{c: 100 * frame[c] for c in columns}).rename(columns=columns)
    table = report.seed_summary(scaled, list(columns.values()), digits=digits, order=order)
    # The seed count is in "seeds cleared" ("2/3": two of three seeds cleared the gate).
    return table.drop(columns="seeds").join(report.floor_columns(runs))


def occlusion_table(
    runs: Iterable[str | Path], order: Sequence[str] | None = None, digits: int = 3
) -> pd.DataFrame:
    """The distillation module's occlusion probability at occluded and visible landmarks and
    the per-face gap (:func:`occlusion_statistics`), mean ± 95% interval over seeds; settings
    without a distillation module are left out."""
    frame = results.load_metrics(runs)
    columns = {
        "occlusion_prob_occluded": "P at occluded",
        "occlusion_prob_visible": "P at visible",
        "occlusion_gap": "gap (occluded - visible)",
    }
    if "occlusion_gap" not in frame or frame["occlusion_gap"].isna().all():
        return pd.DataFrame(columns=[*columns.values(), "seeds"])
    frame = frame[frame["occlusion_gap"].notna()].rename(columns=columns)
    return report.seed_summary(frame, list(columns.values()), digits=digits, order=order)


def describe_occlusion_gap(runs: Iterable[str | Path], order: Sequence[str] | None = None) -> str:
    """Sentences on whether each setting's occlusion map is higher at occluded landmarks, worded
    by where the seed interval of the mean gap lies."""
    frame = results.load_metrics(runs)
    if "occlusion_gap" not in frame:
        return ""
    if frame["occlusion_gap"].isna().all():
        return (
            "No test face has both occluded and visible landmarks (a dataset without occlusion "
            "labels, such as 300-W), so the occlusion map cannot be checked here."
        )
    intervals = report.seed_intervals(frame[frame["occlusion_gap"].notna()], "occlusion_gap")
    intervals = intervals.set_index("setting")
    lines = []
    for name in [s for s in (order or intervals.index) if s in intervals.index]:
        row = intervals.loc[name]
        span = f"gap {row['mean']:+.3f}"
        if not np.isfinite(row["low"]):
            lines.append(f"- {name}: {span} (one seed, no interval).")
            continue
        span += f", 95% interval {row['low']:+.3f} to {row['high']:+.3f} over {int(row['n'])} seeds"
        if row["low"] > 0:
            verdict = "higher at occluded landmarks"
        elif row["high"] < 0:
            verdict = "lower at occluded landmarks"
        else:
            verdict = "no difference resolved"
        lines.append(f"- {name}: {verdict} ({span}).")
    return "\n".join(lines)


def part_table(
    runs: Iterable[str | Path], order: Sequence[str] | None = None, digits: int = 2
) -> pd.DataFrame:
    """NME (%) per facial part, mean ± 95% interval over seeds."""
    return nme_table(runs, order, {f"nme_{part}": part for part in FACE68_PARTS}, digits)


def paired_nme(
    runs: Iterable[str | Path],
    against: str,
    columns: Sequence[str] = ("nme", "nme_occluded"),
    order: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """NME differences (setting - ``against``, in % of the inter-ocular distance) on the same
    test faces, with a paired bootstrap interval over test faces and an interval over seeds
    (:func:`studylib.compare.paired_differences`, which says what each interval covers)."""
    frame = results.load_csvs(runs, "per_sample.csv")
    scores = frame.assign(**{column: 100 * frame[column] for column in columns})
    return compare.paired_differences(scores, against, columns, order, confidence)


#: How :func:`studylib.compare.describe` words an NME difference.
NME_WORDING = dict(better="lower", unit="points of NME", digits=2)


def ced_curves(
    runs: Iterable[str | Path], column: str = "nme", max_error: float = 0.2, num: int = 201
) -> pd.DataFrame:
    """Each setting's CED curve: at each threshold, the fraction of test faces at or below it,
    the mean of the seeds' curves (the same as pooling the seeds' faces, as every seed has the
    same test faces). Columns setting, threshold, fraction, seeds."""
    frame = results.load_csvs(runs, "per_sample.csv")
    curves = []
    for setting, rows in frame.groupby("setting", sort=False):
        per_seed = [ced(seed_rows[column], max_error, num) for _, seed_rows in rows.groupby("seed")]
        thresholds = per_seed[0][0]
        fraction = np.mean([f for _, f in per_seed], axis=0)
        curves.append(
            pd.DataFrame(
                {
                    "setting": setting,
                    "threshold": thresholds,
                    "fraction": fraction,
                    "seeds": len(per_seed),
                }
            )
        )
    return pd.concat(curves, ignore_index=True)


def learning_curves(runs: Iterable[str | Path]) -> pd.DataFrame:
    """Every run's ``history.csv`` with its keys, the NME columns in % (for
    :func:`studylib.plots.plot_learning_curves`)."""
    history = results.load_csvs(runs, "history.csv")
    columns = [c for c in history.columns if c.startswith("nme")]
    return history.assign(**{c: 100 * history[c] for c in columns})


def nme_intervals(runs: Iterable[str | Path], column: str = "nme") -> pd.DataFrame:
    """Numeric mean, low, high (in %) of a metric per setting, for :func:`plots.plot_intervals`."""
    frame = results.load_metrics(runs)
    return report.seed_intervals(frame.assign(**{column: 100 * frame[column]}), column)


def describe_scale(config: FaceConfig) -> str:
    """How far a face ablation's findings carry, given the scale of its runs (``config``)."""
    side = config.image_size // (16 * config.layer4_stride)
    return (
        f"How far this carries. The records were made at the `{config.profile}` profile: "
        f"{config.image_size} px faces, a width-{config.width} trunk whose last feature map is "
        f"{side} x {side} (7 x 7 in the paper), {config.num_train:,} training faces and "
        f"{config.epochs} epochs from scratch, where the paper pre-trains on ImageNet and trains "
        "on 300-W at 224 px. At a small scale the runs of one setting can differ a lot between "
        "seeds (the seed intervals in the tables show how much), so a difference that the "
        "test-face bootstrap resolves need not be resolved over seeds: it then says how these "
        "trained models compare, not that the settings would. A difference that is not resolved "
        "says only that this scale cannot see it. The parameter counts are exact, but ODN's "
        "feature pathway is our reconstruction (the paper does not give its layers), so claim 10 "
        "holds here by construction: a 3 x 3 convolution has 9C² weights against the channel "
        "gate's 2C²/r. The paper reports its ablations as single statements, without numbers "
        "or intervals."
    )


def beats_mean_shape(runs: Iterable[str | Path], order: Sequence[str] | None = None) -> str:
    """A sentence per setting: is its NME's seed interval below the mean shape's NME?"""
    frame = results.load_metrics(runs)
    floor = 100 * float(frame["nme_mean_shape"].iloc[0])
    intervals = nme_intervals(runs).set_index("setting")
    names = [s for s in (order or intervals.index) if s in intervals.index]
    below = [s for s in names if _upper(intervals.loc[s]) < floor]
    rest = [s for s in names if s not in below]
    text = (
        f"Predicting the training set's mean shape for every test face scores an NME of "
        f"{floor:.2f}%. "
    )
    if below:
        text += (
            f"Below it (the upper end of the 95% seed interval, or with one seed the NME itself, "
            f"is lower): {', '.join(below)}. "
        )
    if rest:
        text += f"Not resolved below it: {', '.join(rest)}."
    return text.strip()


def _upper(row: pd.Series) -> float:
    return row["high"] if np.isfinite(row["high"]) else row["mean"]
