"""The pose track (studylib.pose): its floors (the mean training pose, the best constant
heatmap), continuous scores, the validation split, a run's record with its mask statistics and
reloaded model, the attention masks and person regions of a model, and the per-sample scores and
paired comparisons read from records.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import pose_sets, tiny_pose_model, write_fake_pose_run
from studylib import compare, pose, report, results
from studylib.config import PoseConfig
from studylib.data.heatmaps import image_to_heatmap, render_heatmaps
from studylib.data.synthetic_pose import generate_pose
from studylib.experiments import freezing
from studylib.io import read_json

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def floor_data():
    return pose_sets(24, 12)


# ------------------------------------------------------------------------------ floors, scores


def test_pose_floor_scores_the_mean_training_pose_and_the_best_constant_heatmap(floor_data):
    train, test = floor_data
    floor = pose.pose_floor(train, test, stride=4, sigma=1.0, num_stacks=2)
    valid = train.valid[..., None]
    mean_pose = (train.joints * valid).sum(0) / valid.sum(0)
    constant, _ = pose.pose_metrics(np.broadcast_to(mean_pose, test.joints.shape), test)
    assert floor["pckh"] == pytest.approx(constant["pckh"])
    assert floor["pckh_auc"] == pytest.approx(constant["pckh_auc"])
    targets = render_heatmaps(
        image_to_heatmap(torch.from_numpy(train.joints).float(), 4),
        torch.from_numpy(train.valid),
        16,
        1.0,
    )
    best = torch.nn.functional.mse_loss(targets, targets.mean(0, keepdim=True).expand_as(targets))
    assert floor["heatmap_loss"] == pytest.approx(2 * float(best), rel=1e-4)
    # Any other constant heatmap does worse than the mean target.
    worse = torch.nn.functional.mse_loss(targets, torch.zeros_like(targets))
    assert 2 * float(worse) > floor["heatmap_loss"]


def test_continuous_scores_order_predictions_and_pair_per_sample(floor_data):
    test = floor_data[1]
    rng = np.random.default_rng(0)
    near, _ = pose.pose_metrics(test.joints + rng.normal(0, 0.5, test.joints.shape), test)
    far, far_samples = pose.pose_metrics(test.joints + rng.normal(0, 4.0, test.joints.shape), test)
    assert near["pckh_auc"] > far["pckh_auc"] and near["mean_error"] < far["mean_error"]
    assert 0 <= far["pckh_auc"] <= 100
    shares = pose.pckh_shares(far_samples.assign(setting="s", seed=0))
    assert shares["AUC"].mean() == pytest.approx(far["pckh_auc"])
    assert shares["MNE"].mean() == pytest.approx(far["mean_error"])


def test_a_validation_run_holds_out_the_end_of_the_training_split():
    config = PoseConfig.from_profile("smoke", num_train=20, num_test=6, validation=True)
    train, validation = pose.load_pose_data(config)
    full_train, _ = pose.load_pose_data(config.replace(num_train=26, validation=False))
    assert len(train) == 20 and len(validation) == 6
    np.testing.assert_array_equal(validation.images, full_train.images[20:])
    np.testing.assert_array_equal(train.images, full_train.images[:20])
    with pytest.raises(ValueError, match="holding out 30 leaves none"):
        from studylib.data.dataset import holdout

        holdout(train, 30)


# ------------------------------------------------------------------------------ masks, records


def test_mask_statistics_of_known_masks():
    masks = np.ones((2, 2, 4, 4), dtype=np.float32)
    masks[:, 1, :2] = 0.3  # half of M2 below 0.5, and not near 0 or 1
    stats = pose.mask_statistics(masks)
    assert stats["M1"] == {"mean": 1.0, "discarded_pct": 0.0, "near_binary_pct": 100.0}
    assert stats["M2"]["discarded_pct"] == 50.0
    assert stats["M2"]["near_binary_pct"] == 50.0
    assert stats["M2"]["mean"] == pytest.approx(0.65)


def test_a_model_without_attention_has_all_ones_masks(tiny_data):
    masks = pose.attention_masks(tiny_pose_model(attention=None), tiny_data[1].images[:2])
    assert np.all(masks == 1.0)
    with pytest.raises(ValueError, match="one-stage"):
        pose.attention_masks(tiny_pose_model(stacks=1), tiny_data[1].images[:1])


def test_person_regions_follow_the_skeleton_and_split_mask_statistics():
    data = generate_pose(2, 64, seed=5)
    regions = pose.person_regions(data, (16, 16), stride=4)
    assert regions.shape == (2, 16, 16)
    for i in range(2):
        inside = data.valid[i]
        cells = np.clip(np.round((data.joints[i][inside] + 0.5) / 4 - 0.5).astype(int), 0, 15)
        assert regions[i][cells[:, 1], cells[:, 0]].all()  # every joint lies in its region
        assert 0.05 < regions[i].mean() < 0.9  # and the region is not the whole image
    masks = np.where(regions, 0.9, 0.2)[:, None].astype(np.float32)
    stats = pose.mask_statistics(masks, regions)["M1"]
    assert stats["mean_on_person"] == pytest.approx(0.9)
    assert stats["mean_off_person"] == pytest.approx(0.2)


@pytest.mark.slow
def test_run_records_mask_statistics_and_its_model_reloads(tmp_path):
    base = freezing.base_config(
        "smoke", features=8, num_train=16, num_test=8, batch_size=8, device="cpu"
    )
    configs = freezing.configs(base, ["no-attention", "acnn-A-B-C"])
    folders = {
        name: pose.run_pose(config, tmp_path, freezing.ABLATION, name, progress=False)
        for name, config in configs.items()
    }
    table = freezing.mask_statistics_table(folders.values())
    assert list(table.index) == [("acnn-A-B-C", "M1")]
    model, config = pose.load_run_model(folders["acnn-A-B-C"])
    assert config == configs["acnn-A-B-C"]
    assert model.masks_active and not model.training
    _, test_set = pose.load_pose_data(config)
    recorded = results.load_metrics([folders["acnn-A-B-C"]])
    masks = pose.attention_masks(model, test_set.images)
    stats = pose.mask_statistics(masks)
    stored = read_json(folders["acnn-A-B-C"] / "metrics.json")["mask_statistics"]
    assert stats["M1"]["mean"] == pytest.approx(stored["M1"]["mean"], rel=1e-5)
    assert recorded["mask_head_parameters"].iloc[0] > 0
    (folders["acnn-A-B-C"] / "checkpoint.pt").unlink()
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        pose.load_run_model(folders["acnn-A-B-C"])


def test_per_sample_scores_reproduce_the_table_and_pair_settings(tiny_data, tmp_path):
    data = tiny_data[0]
    rng = np.random.default_rng(0)
    runs = [
        write_fake_pose_run(tmp_path, "acnn-A-B-C", seed, data, noise=0.5, rng=rng)
        for seed in (0, 1)
    ] + [
        write_fake_pose_run(tmp_path, "no-attention", seed, data, noise=6.0, rng=rng)
        for seed in (0, 1)
    ]
    scores = pose.per_sample_pckh(runs)
    means = scores.groupby(["setting", "seed"], sort=False)[list(report.TABLE1_COLUMNS)].mean()
    tables = results.load_table(runs, "pckh_table").set_index(["setting", "seed"])
    pd.testing.assert_frame_equal(means, tables[list(report.TABLE1_COLUMNS)], check_dtype=False)

    differences = pose.paired_pckh(runs, "no-attention", columns=["Total"])
    row = differences.iloc[0]
    assert row["setting"] == "acnn-A-B-C" and row["seeds"] == 2
    assert 0 < row["low"] <= row["difference"] <= row["high"]
    sentence = compare.describe(row, **pose.PCKH_WORDING)
    assert sentence.startswith("acnn-A-B-C vs no-attention (Total): higher (better)")
    same = pose.paired_pckh(runs[:2], "acnn-A-B-C")
    assert same.empty
    with pytest.raises(ValueError, match="no runs of 'acnn-joint'"):
        pose.paired_pckh(runs, "acnn-joint")
    table = compare.difference_table(pose.paired_pckh(runs, "acnn-A-B-C"))
    assert list(table.columns) == list(report.TABLE1_COLUMNS)
    assert table.loc["no-attention", "Total"].startswith("-")
