"""The pose experiment: data, model, loss (ACNN Eq. 3), decoding (Eq. 5) and evaluation of one run.

``run_pose(config, root, ablation, setting)`` is what a notebook calls for each setting and seed:
it builds the data and the model the config describes, trains with :func:`studylib.train.fit`,
and writes the run record. A finished run with the same config is not trained again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from studylib import compare, report, results
from studylib.config import PoseConfig
from studylib.data.augment import AugmentConfig, augment_batch, images_to_input
from studylib.data.cache import synthetic_split
from studylib.data.dataset import KeypointSet, train_and_test
from studylib.data.heatmaps import (
    decode_heatmaps,
    heatmap_to_image,
    image_to_heatmap,
    render_heatmaps,
)
from studylib.data.keypoints import MPII_EDGES, MPII_TABLE_GROUPS, KeypointSpec
from studylib.io import read_json
from studylib.metrics import mpii_table, pck, pckh
from studylib.models.hourglass import HourglassOutput, StackedHourglass, count_parameters
from studylib.run import TrackParts, load_trained, train_run


def synthetic_pose_set(
    split: str, num_images: int, image_size: int, data_seed: int, synth: dict
) -> KeypointSet:
    """A split of the built-in synthetic pose data (cached on disk)."""
    from studylib.data.synthetic_pose import PoseSynthConfig, generate_pose

    return synthetic_split(
        "synthetic-pose",
        generate_pose,
        PoseSynthConfig,
        split,
        num_images,
        image_size,
        data_seed,
        synth,
    )


def load_pose_data(config: PoseConfig) -> tuple[KeypointSet, KeypointSet]:
    """(train, test) sets for the config's dataset at its image size.

    ``synthetic`` is generated (train and test from different seeds); ``lsp`` is the standard
    split (train = LSPET + LSP 1-1000, test = LSP 1001-2000) found through ``STUDYLIB_DATA``,
    of which ``num_train`` / ``num_test`` keep the first images of each split.
    """
    if config.dataset not in ("synthetic", "lsp"):
        raise ValueError(
            f"dataset {config.dataset!r} cannot train a pose model; use 'synthetic' or 'lsp'"
        )

    def load(split: str, n: int) -> KeypointSet:
        if config.dataset == "synthetic":
            return synthetic_pose_set(split, n, config.image_size, config.data_seed, config.synth)
        from studylib.data.real import load_lsp

        return load_lsp(split, config.image_size, limit=n)

    return train_and_test(load, config.num_train, config.num_test, config.validation)


def build_model(config: PoseConfig, num_joints: int) -> StackedHourglass:
    return StackedHourglass(
        num_stacks=config.num_stacks,
        features=config.features,
        num_joints=num_joints,
        attention=config.attention,
        mask=config.mask,
    )


@dataclass
class PoseTask:
    """Heatmap regression: Gaussian targets, MSE on every stage's prediction, argmax decoding."""

    flip_permutation: torch.Tensor
    stride: int = 4
    sigma: float = 1.0
    augment: AugmentConfig = AugmentConfig()
    flip_test: bool = True
    eval_batch_size: int = 64

    def loss(
        self, model: nn.Module, batch: dict[str, torch.Tensor], generator: torch.Generator
    ) -> torch.Tensor:
        images, joints, valid = augment_batch(batch, self.augment, self.flip_permutation, generator)
        size = images.shape[-1] // self.stride
        targets = render_heatmaps(image_to_heatmap(joints, self.stride), valid, size, self.sigma)
        output = model(images)
        # ACNN Eq. 3 on every stage's composed prediction P_i (intermediate supervision).
        return sum(nn.functional.mse_loss(p.float(), targets) for p in output.predictions)

    @torch.no_grad()
    def predict_heatmaps(
        self, model: nn.Module, images: torch.Tensor, flip_test: bool | None = None
    ) -> torch.Tensor:
        """The last stage's prediction P_n, averaged with the flipped image's when flip-testing."""
        x = images_to_input(images)
        heatmaps = model(x).predictions[-1].float()
        if self.flip_test if flip_test is None else flip_test:
            flipped = model(x.flip(-1)).predictions[-1].float()
            heatmaps = (heatmaps + flipped.flip(-1)[:, self.flip_permutation.to(x.device)]) / 2
        return heatmaps

    @torch.no_grad()
    def predict(
        self,
        model: nn.Module,
        data: KeypointSet,
        device: torch.device,
        flip_test: bool | None = None,
    ) -> np.ndarray:
        """(N, K, 2) joints in image pixels, decoded from P_n (Eq. 5 with the quarter shift)."""
        model.eval()
        out = []
        for start in range(0, len(data), self.eval_batch_size):
            images = torch.from_numpy(data.images[start : start + self.eval_batch_size]).to(device)
            points, _ = decode_heatmaps(self.predict_heatmaps(model, images, flip_test))
            out.append(heatmap_to_image(points, self.stride).cpu())
        return torch.cat(out).numpy()

    def evaluate(
        self, model: nn.Module, data: KeypointSet, device: torch.device, final: bool = True
    ) -> tuple[dict, pd.DataFrame]:
        """PCKh and per-sample errors; the per-epoch check (``final=False``) skips flip-testing."""
        pred = self.predict(model, data, device, flip_test=None if final else False)
        return pose_metrics(pred, data)


#: Thresholds (fractions of the head size) of the PCKh curve whose area is ``pckh_auc``.
AUC_THRESHOLDS = np.linspace(0.0, 0.5, 26)
#: The joints of MPII's "Total" (all but pelvis and thorax).
TOTAL_JOINTS = sorted({j for joints in MPII_TABLE_GROUPS.values() for j in joints})


def pose_metrics(pred: np.ndarray, data: KeypointSet) -> tuple[dict[str, Any], pd.DataFrame]:
    """PCKh@0.5 (MPII Table-1 layout), PCKh on visible/occluded joints, PCK@0.2 (torso), and two
    continuous scores that do not jump from 0 to 1 at one radius: ``pckh_auc``, the area under the
    PCKh curve (Total) over thresholds 0-0.5 of the head size, in % of its maximum, and
    ``mean_error``, the mean over the Total joints of the error in head sizes.

    The headline ``pckh`` is the MPII "Total": every joint but pelvis and thorax, count-weighted.
    """
    names = data.spec.names
    head = pckh(pred, data.joints, data.valid, data.norms["head"], 0.5)
    table = mpii_table(head)
    curve = [
        pckh(pred, data.joints, data.valid, data.norms["head"], t).group_mean(TOTAL_JOINTS)
        for t in AUC_THRESHOLDS
    ]
    metrics: dict[str, Any] = {
        "pckh": table["Total"],
        "pckh_auc": float(np.mean(curve)),
        "mean_error": float(np.nanmean(head.errors[:, TOTAL_JOINTS])),
        "pckh_all_joints": head.mean,
        "pckh_table": table,
        "pckh_per_joint": dict(zip(names, head.per_joint.tolist())),
        "pckh_visible": pckh(
            pred, data.joints, data.valid & ~data.occluded, data.norms["head"]
        ).mean,
        "pckh_occluded": pckh(
            pred, data.joints, data.valid & data.occluded, data.norms["head"]
        ).mean,
        "num_test": len(data),
    }
    if "torso" in data.norms:
        metrics["pck_torso_0.2"] = pck(pred, data.joints, data.valid, data.norms["torso"], 0.2).mean
    pixel_error = np.linalg.norm(pred - data.joints, axis=-1)
    per_sample = pd.DataFrame({"sample": np.arange(len(data))})
    for key, values in data.norms.items():
        per_sample[f"norm_{key}"] = values
    for k, name in enumerate(names):
        per_sample[f"err_{name}"] = np.where(data.valid[:, k], pixel_error[:, k], np.nan)
        per_sample[f"occluded_{name}"] = data.occluded[:, k].astype(int)
    return metrics, per_sample


def run_pose(config: PoseConfig, root: str | Path, ablation: str, setting: str, **options) -> Path:
    """Train and evaluate one pose run and write its record; return the record's folder.

    :func:`studylib.run.train_run` with the pose track's parts; ``options`` are its ``force``,
    ``progress`` and ``shared_with`` (reuse a finished record, resume, link a shared run).
    """
    parts = TrackParts(load_data=load_pose_data, build=_build_run, record=_record_metrics)
    return train_run(parts, config, root, ablation, setting, **options)


def build_task(config: PoseConfig, spec: KeypointSpec, model: StackedHourglass) -> PoseTask:
    """The loss and evaluation of a run with this config (the model sets the heatmap stride)."""
    return PoseTask(
        flip_permutation=torch.from_numpy(spec.flip_permutation()),
        stride=model.stride,
        sigma=config.sigma,
        augment=AugmentConfig(**config.augment),
        flip_test=config.flip_test,
    )


def _build_run(config: PoseConfig, train_set: KeypointSet) -> tuple[StackedHourglass, PoseTask]:
    model = build_model(config, train_set.spec.num_keypoints)
    return model, build_task(config, train_set.spec, model)


def _record_metrics(
    model: StackedHourglass,
    config: PoseConfig,
    train_set: KeypointSet,
    test_set: KeypointSet,
    device: torch.device,
    outcome,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """A pose record's metrics: the fit's, the floors, the parameter counts and, for ACNN, the
    masks' statistics on the test images."""
    metrics = {
        **outcome.metrics,
        "floor": pose_floor(train_set, test_set, model.stride, config.sigma, config.num_stacks),
        "parameters": count_parameters(model),
        "mask_head_parameters": count_parameters(model.parameter_groups()["mask"]),
    }
    if model.attention is not None and model.num_stacks > 1:
        masks = attention_masks(model, test_set.images)
        person = person_regions(test_set, masks.shape[-2:], model.stride)
        metrics["mask_statistics"] = mask_statistics(masks, person)
    return metrics, outcome.per_sample


def pose_floor(
    train_set: KeypointSet, test_set: KeypointSet, stride: int, sigma: float, num_stacks: int
) -> dict[str, float]:
    """What a predictor that ignores the image scores (:mod:`studylib.floors`).

    The constant is the training set's mean pose in the crop frame (each joint's mean over the
    images where it is annotated), scored on ``test_set`` like a model (:func:`pose_metrics`).
    ``heatmap_loss`` is the training loss of the best constant heatmap, the mean target over the
    (unaugmented) training images, on each of the ``num_stacks`` stages: a training loss above
    it has not yet used the image.
    """
    valid = train_set.valid[..., None]
    mean_pose = (train_set.joints * valid).sum(axis=0) / np.maximum(valid.sum(axis=0), 1)
    constant = np.broadcast_to(mean_pose, test_set.joints.shape).astype(np.float64)
    scores, _ = pose_metrics(constant, test_set)
    floor = {
        key: scores[key]
        for key in ("pckh", "pckh_auc", "mean_error", "pck_torso_0.2")
        if key in scores
    }
    size = train_set.image_size[0] // stride
    total = total_sq = 0.0
    for start in range(0, len(train_set), 256):
        joints = torch.from_numpy(train_set.joints[start : start + 256].astype(np.float32))
        valid_part = torch.from_numpy(train_set.valid[start : start + 256])
        maps = render_heatmaps(image_to_heatmap(joints, stride), valid_part, size, sigma).double()
        total = total + maps.sum(dim=0)
        total_sq = total_sq + maps.pow(2).sum(dim=0)
    n = len(train_set)
    variance = (total_sq / n - (total / n) ** 2).clamp_min(0)
    floor["heatmap_loss"] = float(num_stacks * variance.mean())
    return floor


# ---- trained models: masks, heatmaps, mask statistics


@torch.no_grad()
def forward_images(
    model: StackedHourglass, images: np.ndarray, batch_size: int = 64
) -> HourglassOutput:
    """The model's outputs (float, on the CPU) for uint8 (N, H, W, 3) images, in eval mode with
    the masks on when the model has them; the model's mode is restored afterwards."""
    device = next(model.parameters()).device
    was_training, was_active = model.training, model.masks_active
    model.eval()
    model.masks_active = model.attention is not None
    try:
        parts = []
        for start in range(0, len(images), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size]))
            out = model(images_to_input(batch.to(device)))
            parts.append(
                [
                    [t.float().cpu() for t in maps]
                    for maps in (out.heatmaps, out.masks, out.predictions)
                ]
            )
    finally:
        model.train(was_training)
        model.masks_active = was_active
    heatmaps, masks, predictions = (
        [torch.cat([part[k][stage] for part in parts]) for stage in range(model.num_stacks)]
        for k in range(3)
    )
    return HourglassOutput(heatmaps=heatmaps, masks=masks, predictions=predictions)


def attention_masks(model: StackedHourglass, images: np.ndarray) -> np.ndarray:
    """(N, stages - 1, h, w): the masks M_1 ... M_(n-1) the stages pass on (the last stage passes
    nothing on), for uint8 (N, H, W, 3) images."""
    if model.num_stacks < 2:
        raise ValueError("a one-stage network passes no mask on")
    masks = forward_images(model, images).masks[:-1]
    return torch.cat(masks, dim=1).numpy()


def predicted_heatmaps(model: StackedHourglass, images: np.ndarray) -> np.ndarray:
    """(N, K, h, w): the last stage's prediction P_n (what Eq. 5 decodes), without flip-testing."""
    return forward_images(model, images).predictions[-1].numpy()


def person_regions(data: KeypointSet, size: tuple[int, int], stride: int) -> np.ndarray:
    """(N, h, w) bool: heatmap positions within one head size of the person's skeleton.

    The skeleton is the segments between annotated joints (MPII's kinematic tree); what is not
    near it is background, distractors and clutter. Used to ask where the masks discard.
    """
    h, w = size
    ys, xs = np.mgrid[0:h, 0:w]
    grid = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
    joints = (data.joints + 0.5) / stride - 0.5
    radius = data.norms["head"] / stride
    regions = np.zeros((len(data), h * w), dtype=bool)
    for i in range(len(data)):
        for child, parent in MPII_EDGES:
            if not (data.valid[i, child] and data.valid[i, parent]):
                continue
            a, b = joints[i, child], joints[i, parent]
            t = np.clip(((grid - a) @ (b - a)) / max(float((b - a) @ (b - a)), 1e-6), 0.0, 1.0)
            distance = np.linalg.norm(grid - (a + t[:, None] * (b - a)), axis=1)
            regions[i] |= distance <= radius[i]
    return regions.reshape(len(data), h, w)


def mask_statistics(
    masks: np.ndarray,
    person: np.ndarray | None = None,
    threshold: float = 0.5,
    margin: float = 0.1,
) -> dict[str, dict[str, float]]:
    """Per mask M_i of (N, stages - 1, h, w) masks: the mean value, the percentage of positions
    below ``threshold`` (discarded), the percentage within ``margin`` of 0 or 1 (how binary a soft
    mask is; ACNN calls its masks binary), and, given (N, h, w) ``person`` regions
    (:func:`person_regions`), the mean mask on and off the person (ACNN's claim 2: masks discard
    background and redundant parts)."""
    out = {}
    for stage in range(masks.shape[1]):
        values = masks[:, stage]
        near = (values <= margin) | (values >= 1 - margin)
        stats = {
            "mean": float(values.mean()),
            "discarded_pct": float(100 * (values < threshold).mean()),
            "near_binary_pct": float(100 * near.mean()),
        }
        if person is not None:
            stats["mean_on_person"] = float(values[person].mean())
            stats["mean_off_person"] = float(values[~person].mean())
        out[f"M{stage + 1}"] = stats
    return out


def load_run_model(folder: str | Path) -> tuple[StackedHourglass, PoseConfig]:
    """The trained model of a finished run (:func:`studylib.run.load_trained`), its masks active
    when it has attention, and the run's config."""

    def build(config: PoseConfig, folder: Path) -> StackedHourglass:
        return build_model(config, len(read_json(folder / "metrics.json")["pckh_per_joint"]))

    model, config = load_trained(folder, PoseConfig, build)
    model.masks_active = model.attention is not None
    return model, config


# ---- reading the ablation's records


def per_sample_pckh(runs: Iterable[str | Path], threshold: float = 0.5) -> pd.DataFrame:
    """Each run's per-test-sample share of every Table-1 column (Head ... Total), from its
    ``per_sample.csv`` (:func:`pckh_shares`)."""
    return pckh_shares(results.load_csvs(runs, "per_sample.csv"), threshold)


def pckh_shares(
    frame: pd.DataFrame, threshold: float = 0.5, keys: Sequence[str] = ("setting", "seed")
) -> pd.DataFrame:
    """Per-sample shares of every Table-1 column for per-sample errors (``err_<joint>`` in
    pixels, NaN where not scored, and ``norm_head``), one evaluation per value of ``keys``.

    The scores are scaled so that their mean over the test samples is exactly the column's PCKh:
    a group is the plain mean of its joints' PCKh (MPII), so a sample scores the mean over the
    group's joints of 100 * correct * N / scored(joint); "Total" pools its joints, so a sample
    scores 100 * (its correct joints) * N / (all scored joints). Settings scored on the same test
    images can then be compared sample by sample (:func:`paired_pckh`).
    """
    names = [c[len("err_") :] for c in frame.columns if c.startswith("err_")]
    total_joints = sorted({j for joints in MPII_TABLE_GROUPS.values() for j in joints})
    out = []
    for key, run in frame.groupby(list(keys), sort=False):
        errors = run[[f"err_{name}" for name in names]].to_numpy(float)
        scored = np.isfinite(errors)
        norm = run["norm_head"].to_numpy(float)[:, None]
        correct = scored & (np.nan_to_num(errors / norm, nan=np.inf) <= threshold)
        counts, n = scored.sum(axis=0), len(run)
        scores = {**dict(zip(keys, key)), "sample": run["sample"].to_numpy()}
        for column, joints in MPII_TABLE_GROUPS.items():
            joints = [j for j in joints if counts[j] > 0]
            scores[column] = (
                (100.0 * n * correct[:, joints] / counts[joints]).mean(axis=1)
                if joints
                else np.full(n, np.nan)
            )
        pooled = max(counts[total_joints].sum(), 1)
        scores["Total"] = 100.0 * n * correct[:, total_joints].sum(axis=1) / pooled
        normalised = np.where(scored, errors / norm, np.nan)[:, total_joints]
        # The continuous scores (:func:`pose_metrics`), scaled the same way: "AUC" averages the
        # Total share over the curve's thresholds; "MNE" is the sample's summed error in head
        # sizes over the pooled count, so that its mean over samples is the mean error.
        within = np.nan_to_num(normalised, nan=np.inf)
        scores["AUC"] = np.mean(
            [100.0 * n * (within <= t).sum(axis=1) / pooled for t in AUC_THRESHOLDS], axis=0
        )
        scores["MNE"] = n * np.nansum(normalised, axis=1) / pooled
        out.append(pd.DataFrame(scores))
    return pd.concat(out, ignore_index=True)


def paired_pckh(
    runs: Iterable[str | Path],
    against: str,
    columns: Sequence[str] = report.TABLE1_COLUMNS,
    order: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """PCKh differences (setting - ``against``) per Table-1 column, on the same test images, with
    a paired bootstrap interval over test images and an interval over seeds
    (:func:`studylib.compare.paired_differences`, which says what each interval covers)."""
    return compare.paired_differences(per_sample_pckh(runs), against, columns, order, confidence)


#: How :func:`studylib.compare.describe` words a PCKh difference.
PCKH_WORDING = dict(better="higher", unit="points of PCKh", digits=1)
