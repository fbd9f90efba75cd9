"""Floors and the learning gate: every record holds its trivial predictor's score, and a
comparison of runs at their floor gets no verdict."""

import numpy as np
import pandas as pd
import pytest
import torch

from studylib import floors, pose, report, results
from studylib.config import PoseConfig
from studylib.data.heatmaps import image_to_heatmap, render_heatmaps
from studylib.data.synthetic_pose import generate_pose
from studylib.io import read_json


@pytest.fixture(scope="module")
def data():
    return generate_pose(24, 64, seed=0), generate_pose(12, 64, seed=1)


def test_pose_floor_scores_the_mean_training_pose_and_the_best_constant_heatmap(data):
    train, test = data
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


def test_continuous_scores_order_predictions_and_pair_per_sample(data):
    test = data[1]
    rng = np.random.default_rng(0)
    near, _ = pose.pose_metrics(test.joints + rng.normal(0, 0.5, test.joints.shape), test)
    far, far_samples = pose.pose_metrics(test.joints + rng.normal(0, 4.0, test.joints.shape), test)
    assert near["pckh_auc"] > far["pckh_auc"] and near["mean_error"] < far["mean_error"]
    assert 0 <= far["pckh_auc"] <= 100
    shares = pose.pckh_shares(far_samples.assign(setting="s", seed=0))
    assert shares["AUC"].mean() == pytest.approx(far["pckh_auc"])
    assert shares["MNE"].mean() == pytest.approx(far["mean_error"])


def pose_metrics(pckh, floor):
    return {"pckh": pckh, "floor": {"pckh": floor}}


def test_clearance_needs_the_margin_above_the_floor():
    assert floors.clearance(pose_metrics(40.0, 12.0)).cleared
    assert not floors.clearance(pose_metrics(30.0, 12.0)).cleared
    assert floors.clearance({"nme": 0.05, "nme_mean_shape": 0.2}).cleared
    assert not floors.clearance({"nme": 0.12, "nme_mean_shape": 0.2}).cleared
    # A record without its floor cannot clear it.
    assert not floors.clearance({"pckh": 90.0}).cleared
    with pytest.raises(ValueError, match="neither 'pckh'"):
        floors.clearance({"accuracy": 1.0})


def test_gate_fails_on_floor_level_records_and_names_them():
    learnt = [dict(pose_metrics(60.0, 11.4), setting="a", seed=s) for s in (0, 1)]
    at_floor = [dict(pose_metrics(10.6, 11.4), setting="b", seed=0)]
    passed, reason = floors.gate(learnt)
    assert passed and "all 2 runs" in reason
    passed, reason = floors.gate(learnt + at_floor)
    assert not passed and "1 of 3 runs did not clear" in reason and "b seed 0" in reason
    assert floors.gate([]) == (False, "no runs")


def test_tables_show_the_floor_and_the_gate(data, tmp_path):
    train, test = data
    folders = []
    for setting, noise in (("good", 0.3), ("bad", 30.0)):
        pred = test.joints + np.random.default_rng(0).normal(0, noise, test.joints.shape)
        metrics, per_sample = pose.pose_metrics(pred, test)
        metrics["floor"] = pose.pose_floor(train, test, 4, 1.0, 2)
        folder = results.run_dir(tmp_path, "freezing", "synthetic", setting, 0)
        config = PoseConfig.from_profile("smoke").to_dict()
        folders.append(
            results.write_record(folder, config, metrics, pd.DataFrame(), per_sample, {})
        )
    table = report.pckh_table(folders)
    assert table.loc["good", "clears gate"] == "1/1" and table.loc["bad", "clears gate"] == "0/1"
    floor = read_json(folders[0] / "metrics.json")["floor"]["pckh"]
    assert table.loc["good", "floor (constant pose)"] == f"{floor:.1f}"
    assert {"AUC", "mean error", "seeds"} <= set(table.columns)


def test_a_shared_configuration_is_trained_once_and_linked(tmp_path):
    config = PoseConfig.from_profile(
        "smoke", features=8, num_train=16, num_test=8, batch_size=8, epochs=1, device="cpu"
    )
    source = pose.run_pose(config, tmp_path, "freezing", "no-attention", progress=False)
    stamp = (source / "metrics.json").stat().st_mtime_ns
    linked = pose.run_pose(
        config,
        tmp_path,
        "baseline",
        "hourglass",
        force=True,  # forcing the baseline does not retrain the run another ablation owns
        shared_with=("freezing", "no-attention"),
        progress=False,
    )
    assert (source / "metrics.json").stat().st_mtime_ns == stamp
    assert read_json(linked / "metrics.json") == read_json(source / "metrics.json")
    assert results.is_complete(linked, config.to_dict())
    assert "floor" in read_json(linked / "metrics.json")


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


def test_a_shared_run_never_overwrites_the_owners_record_of_another_configuration(tmp_path):
    config = PoseConfig.from_profile(
        "smoke", features=8, num_train=16, num_test=8, batch_size=8, epochs=1, device="cpu"
    )
    owner = pose.run_pose(config, tmp_path, "freezing", "no-attention", progress=False)
    other = config.replace(lr=1e-3)
    folder = pose.run_pose(
        other,
        tmp_path,
        "baseline",
        "hourglass",
        shared_with=("freezing", "no-attention"),
        progress=False,
    )
    assert results.is_complete(owner, config.to_dict())  # the owner's run is untouched
    assert results.is_complete(folder, other.to_dict())
    assert not (folder / "metrics.json").samefile(owner / "metrics.json")
