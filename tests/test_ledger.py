"""The claims ledger: verdicts computed from (fake) run records, in each direction."""

import numpy as np
import pandas as pd
import pytest

from studylib import freezing, ledger, pose, results
from studylib.data.synthetic_pose import generate_pose

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def pose_test_set():
    return generate_pose(24, 64, seed=1)


def write_pose_run(root, setting, seed, data, noise, rng, masks=None, grad_ratio=2.0):
    """A freezing-ablation record whose predictions are the true joints plus pixel noise."""
    metrics, per_sample = pose.pose_metrics(
        data.joints + rng.normal(0, noise, data.joints.shape), data
    )
    if masks is not None:
        metrics["mask_statistics"] = {"M1": masks}
    config = freezing.configs(freezing.base_config("smoke"), [setting])[setting]
    phases = config.phases()
    heatmap_rms = 0.02 * np.exp(rng.normal(0, 0.05))
    history = pd.DataFrame(
        {
            "epoch": range(1, config.epochs + 1),
            "phase": [p.name for p in phases for _ in range(p.epochs)],
            "grad_norm_heatmap": 2.0,
            "grad_rms_heatmap": heatmap_rms,
            "grad_norm_mask": 0.5,
            "grad_rms_mask": grad_ratio * heatmap_rms,
        }
    )
    folder = results.run_dir(root, freezing.ABLATION, "synthetic", setting, seed)
    return results.write_record(folder, config.to_dict(), metrics, history, per_sample, {})


def pose_records(root, data, joint_noise, on_person, near_binary, grad_ratio):
    rng = np.random.default_rng(0)
    for seed in SEEDS:
        masks = {
            "mean": 0.6,
            "discarded_pct": 30.0 + seed,
            "near_binary_pct": near_binary + seed,
            "mean_on_person": on_person + 0.01 * seed,
            "mean_off_person": 0.5 - 0.01 * seed,
        }
        write_pose_run(root, "acnn-A-B-C", seed, data, 0.5, rng, masks)
        write_pose_run(root, "no-attention", seed, data, 6.0, rng)
        write_pose_run(root, "acnn-joint", seed, data, joint_noise, rng, masks, grad_ratio)


def verdicts(table):
    return table["verdict"].to_dict()


def test_pose_claims_replicated(tmp_path, pose_test_set):
    pose_records(tmp_path, pose_test_set, 6.0, on_person=0.9, near_binary=95, grad_ratio=3.0)
    table = ledger.ledger(tmp_path)
    assert {n: verdicts(table)[n] for n in range(1, 6)} == dict.fromkeys(range(1, 6), "replicated")
    assert "points of PCKh" in table.loc[1, "evidence"] and "ankles" in table.loc[1, "evidence"]
    assert "profile smoke, 3 settings, 3 seeds" in table.loc[1, "records"]
    # No face records here: those claims are "not run", except the parameter count.
    assert verdicts(table)[6] == "not run" and verdicts(table)[10] == "inconclusive"


def test_pose_claims_not_replicated(tmp_path, pose_test_set):
    # Joint training as good as phased, masks higher off the person, far from binary, and mask
    # gradients smaller than the heatmap network's.
    pose_records(tmp_path, pose_test_set, 0.5, on_person=0.2, near_binary=40, grad_ratio=0.05)
    found = verdicts(ledger.ledger(tmp_path))
    assert found[1] == "replicated"
    assert found[2] == "not replicated"
    assert found[3] == "not replicated"
    assert found[4] in ("inconclusive", "not replicated")
    assert found[5] == "not replicated"


def write_face_run(root, ablation, setting, seed, errors, offset, rng):
    per_sample = pd.DataFrame(
        {
            "sample": np.arange(len(errors)),
            "nme": errors + offset + rng.normal(0, 1e-3, len(errors)),
            "nme_occluded": errors + offset + rng.normal(0, 1e-3, len(errors)),
        }
    )
    folder = results.run_dir(root, ablation, "synthetic", setting, seed)
    metrics = {"nme": float(per_sample["nme"].mean()), "nme_mean_shape": 0.3}
    results.write_record(folder, {"profile": "quick"}, metrics, pd.DataFrame(), per_sample, {})


def test_face_claims_each_way(tmp_path):
    rng = np.random.default_rng(0)
    errors = rng.uniform(0.05, 0.15, 100)
    offsets = {
        "reduction_ratio": {"odn": 0.02, "adm-r8": 0.0, "adm-r16": -0.01, "adm-r8-avg": 0.0},
        "attention_order": {"channel-spatial": 0.0, "spatial-channel": 0.01, "none": 0.03},
    }
    for ablation, settings in offsets.items():
        for setting, offset in settings.items():
            for seed in SEEDS:
                write_face_run(tmp_path, ablation, setting, seed, errors, offset, rng)
    table = ledger.ledger(tmp_path)
    found = verdicts(table)
    assert found[6] == "replicated"  # ADM 2 points below ODN on every seed
    assert found[7] == "not replicated"  # r = 16 is better than r = 8
    assert found[8] == "replicated"  # every other order is worse
    assert found[9] == "inconclusive"  # no difference
    assert found[10] == "inconclusive"
    assert all(found[n] == "not run" for n in range(1, 6))
    counts = ledger.summary(table)
    assert counts.loc["Attention-adaptive ODN"].sum() == 5
    assert "points of NME" in table.loc[7, "evidence"]


def test_a_verdict_must_be_known():
    with pytest.raises(ValueError, match="verdict must be one of"):
        ledger.entry(1, "probably", "", "")
