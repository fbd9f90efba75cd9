"""The pose experiment: data, model, loss (ACNN Eq. 3), decoding (Eq. 5) and evaluation of one run.

``run_pose(config, root, ablation, setting)`` is what a notebook calls for each setting and seed:
it builds the data and the model the config describes, trains with :func:`studylib.train.fit`,
and writes the run record. A finished run with the same config is not trained again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from studylib import results
from studylib.config import PoseConfig
from studylib.data.augment import AugmentConfig, augment
from studylib.data.cache import cached
from studylib.data.dataset import KeypointSet
from studylib.data.heatmaps import (
    decode_heatmaps,
    heatmap_to_image,
    image_to_heatmap,
    render_heatmaps,
)
from studylib.metrics import mpii_table, pck, pckh
from studylib.models.hourglass import StackedHourglass, count_parameters
from studylib.train import CHECKPOINT, fit, resolve_device

#: Seed offsets of the splits of a synthetic dataset: train and test never share an image.
SPLIT_SEEDS = {"train": 0, "test": 1}


def synthetic_pose_set(
    split: str, num_images: int, image_size: int, data_seed: int, synth: dict
) -> KeypointSet:
    """A split of the built-in synthetic pose data (cached on disk)."""
    from studylib.data.synthetic_pose import PoseSynthConfig, generate_pose

    knobs = PoseSynthConfig(**synth)
    seed = 2 * data_seed + SPLIT_SEEDS[split]
    params = {"num_images": num_images, "image_size": image_size, "seed": seed, "synth": synth}
    return cached(
        "synthetic-pose", params, lambda: generate_pose(num_images, image_size, seed, knobs)
    )


def load_pose_data(config: PoseConfig) -> tuple[KeypointSet, KeypointSet]:
    """(train, test) sets for the config's dataset at its image size.

    ``synthetic`` is generated (train and test from different seeds); ``lsp`` is the standard
    split (train = LSPET + LSP 1-1000, test = LSP 1001-2000) found through ``STUDYLIB_DATA``,
    of which ``num_train`` / ``num_test`` keep the first images of each split.
    """
    sizes = {"train": config.num_train, "test": config.num_test}
    if config.dataset == "synthetic":
        return tuple(
            synthetic_pose_set(split, n, config.image_size, config.data_seed, config.synth)
            for split, n in sizes.items()
        )
    if config.dataset == "lsp":
        from studylib.data.real import load_lsp

        return tuple(load_lsp(split, config.image_size, limit=n) for split, n in sizes.items())
    raise ValueError(
        f"dataset {config.dataset!r} cannot train a pose model; use 'synthetic' or 'lsp'"
    )


def build_model(config: PoseConfig, num_joints: int) -> StackedHourglass:
    return StackedHourglass(
        num_stacks=config.num_stacks,
        features=config.features,
        num_joints=num_joints,
        attention=config.attention,
        mask=config.mask,
    )


def images_to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> float (B, 3, H, W) in [0, 1]."""
    return images.permute(0, 3, 1, 2).float().div_(255.0)


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
        images, joints, valid = augment(
            images_to_input(batch["images"]),
            batch["joints"],
            batch["valid"],
            self.augment,
            self.flip_permutation,
            generator,
        )
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


def pose_metrics(pred: np.ndarray, data: KeypointSet) -> tuple[dict[str, Any], pd.DataFrame]:
    """PCKh@0.5 (MPII Table-1 layout), PCKh on visible/occluded joints, PCK@0.2 (torso).

    The headline ``pckh`` is the MPII "Total": every joint but pelvis and thorax, count-weighted.
    """
    names = data.spec.names
    head = pckh(pred, data.joints, data.valid, data.norms["head"], 0.5)
    table = mpii_table(head)
    metrics: dict[str, Any] = {
        "pckh": table["Total"],
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


def run_pose(
    config: PoseConfig,
    root: str | Path,
    ablation: str,
    setting: str,
    *,
    force: bool = False,
    progress: bool | None = None,
) -> Path:
    """Train and evaluate one pose run and write its record; return the record's folder.

    A run whose record holds the same config is finished and is returned as it is, unless
    ``force``; an interrupted run resumes from its checkpoint.
    """
    folder = results.run_dir(root, ablation, config.dataset, setting, config.seed)
    config_dict = config.to_dict()
    if not force and results.is_complete(folder, config_dict):
        return folder
    if force and folder.exists():
        (folder / CHECKPOINT).unlink(missing_ok=True)
    train_set, test_set = load_pose_data(config)
    device = resolve_device(config.device)
    model = build_model(config, train_set.spec.num_keypoints)
    task = PoseTask(
        flip_permutation=torch.from_numpy(train_set.spec.flip_permutation()),
        stride=model.stride,
        sigma=config.sigma,
        augment=AugmentConfig(**config.augment),
        flip_test=config.flip_test,
    )
    outcome = fit(
        model,
        task,
        train_set,
        test_set,
        config.phases(),
        batch_size=config.batch_size,
        seed=config.seed,
        device=device,
        checkpoint_dir=folder,
        config=config_dict,
        amp=config.amp,
        progress=progress,
    )
    metrics = {
        **outcome.metrics,
        "parameters": count_parameters(model),
        "mask_head_parameters": count_parameters(model.parameter_groups()["mask"]),
    }
    prov = results.provenance(
        outcome.device,
        outcome.wall_time_s,
        outcome.train_images,
        dataset_info={"train": train_set.info, "test": test_set.info},
    )
    return results.write_record(
        folder, config_dict, metrics, outcome.history, outcome.per_sample, prov
    )
