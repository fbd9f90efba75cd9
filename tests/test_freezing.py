"""The freezing-phases ablation: ACNN's phases through the training loop, the settings table, and
the functions that read the ablation's records and draw its figures.

The training tests go through :func:`studylib.train.fit` on a tiny synthetic set (64 px, 16
training images, 8 features), so what they check is what a run of the notebook does.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from studylib import compare, freezing, plots, pose, report, results
from studylib.config import PoseConfig, schedule_phases
from studylib.data.synthetic_pose import generate_pose
from studylib.io import read_json
from studylib.train import fit

LR = 2e-3


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run faster and bitwise repeatably on one thread (and do not fight other
    processes for the CPU); the previous setting is restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_data():
    return generate_pose(16, 64, seed=0), generate_pose(8, 64, seed=1)


def tiny_model(attention="acnn", mask="soft", stacks=2):
    torch.manual_seed(0)
    return pose.build_model(
        PoseConfig(num_stacks=stacks, features=8, attention=attention, mask=mask), 16
    )


def train(model, phases, data):
    train_set, test_set = data
    task = pose.PoseTask(
        flip_permutation=torch.from_numpy(train_set.spec.flip_permutation()), flip_test=False
    )
    return fit(
        model,
        task,
        train_set,
        test_set,
        tuple(phases),
        batch_size=8,
        seed=0,
        device=torch.device("cpu"),
        progress=False,
    )


def state(module):
    """Every parameter and buffer (BatchNorm running statistics included), copied."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def heatmap_state(model):
    return {k: v for k, v in state(model).items() if not k.startswith("mask_heads.")}


def column(history, name):
    """A history column, all NaN when the loop never logged it."""
    return history[name] if name in history else pd.Series(np.nan, index=history.index)


@pytest.fixture(scope="module")
def abc_run(tiny_data):
    """The paper's schedule, A-B-C, over 4 epochs (A 1, B 2, C 1)."""
    phases = schedule_phases("A-B-C", 4, LR)
    return phases, train(tiny_model(), phases, tiny_data).history


# ---------------------------------------------------------------------------- phases through fit


@pytest.mark.slow
def test_phase_a_keeps_mask_heads_unchanged_and_logs_no_mask_gradient(tiny_data):
    model = tiny_model()
    masks_before, heatmap_before = state(model.mask_heads), heatmap_state(model)
    phase_a = schedule_phases("A-B-C", 3, LR)[0]
    assert (phase_a.name, phase_a.train, phase_a.masks) == ("A", "heatmap", False)
    history = train(model, [phase_a], tiny_data).history
    for key, value in state(model.mask_heads).items():
        assert torch.equal(value, masks_before[key]), key
    assert any(not torch.equal(v, heatmap_before[k]) for k, v in heatmap_state(model).items())
    assert column(history, "grad_norm_mask").isna().all()
    assert (history["grad_norm_heatmap"] > 0).all()


@pytest.mark.slow
def test_phase_b_leaves_heatmap_parameters_and_batchnorm_statistics_unchanged(tiny_data):
    # Same seed, same initial weights: A alone and A then B must leave the heatmap network
    # (weights and BatchNorm running statistics) identical, while B changes the mask heads.
    phase_a, phase_b = schedule_phases("A-B", 2, LR)
    after_a = tiny_model()
    train(after_a, [phase_a], tiny_data)
    after_b = tiny_model()
    train(after_b, [phase_a, phase_b], tiny_data)
    expected = heatmap_state(after_a)
    running = [k for k in expected if k.endswith(("running_mean", "running_var"))]
    assert running, "the heatmap network should have BatchNorm statistics to check"
    for key, value in heatmap_state(after_b).items():
        assert torch.equal(value, expected[key]), key
    masks_a, masks_b = state(after_a.mask_heads), state(after_b.mask_heads)
    assert any(not torch.equal(masks_a[k], masks_b[k]) for k in masks_a)


@pytest.mark.slow
def test_history_phases_and_rates_match_schedule_phases(abc_run):
    phases, history = abc_run
    expected = [(p.name, p.lr_at(e / p.epochs)) for p in phases for e in range(p.epochs)]
    assert [p.name for p in phases] == ["A", "B", "C"]
    assert list(history["epoch"]) == list(range(1, len(expected) + 1))
    assert list(history["phase"]) == [name for name, _ in expected]
    assert np.allclose(history["lr"], [lr for _, lr in expected])


@pytest.mark.slow
def test_phase_c_logs_the_gradient_norms_of_both_groups(abc_run):
    _, history = abc_run
    phase_c = history[history["phase"] == "C"]
    assert len(phase_c) == 1
    for name in ("grad_norm_heatmap", "grad_norm_mask", "grad_rms_heatmap", "grad_rms_mask"):
        value = float(phase_c[name].iloc[0])
        assert math.isfinite(value) and value > 0, name
    phase_a = history[history["phase"] == "A"]
    assert column(phase_a, "grad_norm_mask").isna().all()


@pytest.mark.slow
def test_history_has_no_heatmap_gradient_in_phase_b(abc_run):
    # The heatmap network is frozen in phase B, so it gets no gradient there; a value logged for
    # it would be a leftover of phase A's last step (a gradient kept on a frozen parameter).
    _, history = abc_run
    phase_b = history[history["phase"] == "B"]
    assert column(phase_b, "grad_norm_heatmap").isna().all(), phase_b["grad_norm_heatmap"]
    assert (phase_b["grad_norm_mask"] > 0).all()


# ------------------------------------------------------------------------------- settings table


@pytest.mark.parametrize("profile", ["smoke", "quick", "full"])
def test_settings_table_builds_valid_configs_with_equal_epochs(profile):
    base = freezing.base_config(profile)
    configs = freezing.configs(base, list(freezing.setting_overrides()))
    assert list(freezing.configs(base)) == list(
        freezing.PROFILE_SETTINGS.get(profile, freezing.setting_overrides())
    )
    assert set(freezing.REFERENCES) <= set(configs)
    for name, config in configs.items():
        assert isinstance(config, PoseConfig)
        heatmap_epochs = sum(p.epochs for p in config.phases() if p.train in ("all", "heatmap"))
        assert heatmap_epochs == base.epochs, name
        assert (config.attention is None) == (name == "no-attention")
        assert config.mask == ("hard" if name.endswith("-hard") else "soft")
        if config.attention:
            assert name.removeprefix("acnn-").removesuffix("-hard") == config.schedule
    table = freezing.schedule_table(configs)
    assert list(table.index) == list(configs)
    assert set(table["heatmap epochs"]) == {base.epochs}


def test_smoke_gets_enough_epochs_for_phases_a_and_c_unless_told_otherwise():
    assert freezing.base_config("smoke").epochs >= freezing.MIN_EPOCHS
    assert freezing.base_config("smoke", epochs=5).epochs == 5
    with pytest.raises(ValueError, match="epochs must be >= 2"):
        freezing.configs(freezing.base_config("smoke", epochs=1))


def test_quick_runs_the_settings_the_claims_compare_and_any_on_request():
    quick = freezing.base_config("quick")
    assert list(freezing.configs(quick)) == list(freezing.PROFILE_SETTINGS["quick"])
    assert list(freezing.configs(quick, ["acnn-A-C"])) == ["acnn-A-C"]


def test_unknown_or_empty_settings_are_named():
    base = freezing.base_config("smoke")
    with pytest.raises(ValueError, match="acnn-A-D"):
        freezing.configs(base, ["acnn-A-D"])
    with pytest.raises(ValueError, match="non-empty"):
        freezing.configs(base, [])
    assert list(freezing.configs(base, ["acnn-A-C"])) == ["acnn-A-C"]


def test_mask_head_parameters_at_the_paper_scale():
    table = freezing.mask_head_parameters(PoseConfig.from_profile("smoke"))
    paper = table.loc["ACNN paper (4 stacks, 256 features)"]
    assert paper["hourglass"] == 12_858_304
    assert paper["ACNN"] - paper["hourglass"] == paper["mask heads"] > 0


# ------------------------------------------------------------------------- masks and figures


def test_mask_statistics_of_known_masks():
    masks = np.ones((2, 2, 4, 4), dtype=np.float32)
    masks[:, 1, :2] = 0.3  # half of M2 below 0.5, and not near 0 or 1
    stats = pose.mask_statistics(masks)
    assert stats["M1"] == {"mean": 1.0, "discarded_pct": 0.0, "near_binary_pct": 100.0}
    assert stats["M2"]["discarded_pct"] == 50.0
    assert stats["M2"]["near_binary_pct"] == 50.0
    assert stats["M2"]["mean"] == pytest.approx(0.65)


def test_mask_and_heatmap_figures_draw_from_a_model(tiny_data):
    _, test_set = tiny_data
    model = tiny_model(stacks=3)
    model.masks_active = False  # as after phase A: the figure still shows the mask heads' masks
    images = test_set.images[:2]
    masks = pose.attention_masks(model, images)
    assert masks.shape == (2, 2, 16, 16)
    assert masks.min() >= 0 and masks.max() <= 1
    assert model.masks_active is False and model.training
    fig = plots.plot_attention_masks(images, masks)
    assert len(fig.axes) == 2 * 3
    plt.close(fig)
    heatmaps = pose.predicted_heatmaps(model, images[:1])
    assert heatmaps.shape == (1, 16, 16, 16)
    fig = plots.plot_joint_heatmaps(images[0], heatmaps[0], test_set.spec.names)
    assert sum(ax.get_title() != "" for ax in fig.axes) == 17
    plt.close(fig)


def test_a_model_without_attention_has_all_ones_masks(tiny_data):
    masks = pose.attention_masks(tiny_model(attention=None), tiny_data[1].images[:2])
    assert np.all(masks == 1.0)
    with pytest.raises(ValueError, match="one-stage"):
        pose.attention_masks(tiny_model(stacks=1), tiny_data[1].images[:1])


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


# ------------------------------------------------------------------------ reading the records


def write_fake_run(root, setting, seed, data, noise, rng):
    """A run record whose predictions are the true joints plus Gaussian pixel noise."""
    pred = data.joints + rng.normal(0, noise, data.joints.shape)
    metrics, per_sample = pose.pose_metrics(pred, data)
    config = freezing.configs(freezing.base_config("smoke"), [setting])[setting]
    phases = config.phases()
    history = pd.DataFrame(
        {
            "epoch": range(1, sum(p.epochs for p in phases) + 1),
            "phase": [p.name for p in phases for _ in range(p.epochs)],
            "grad_norm_heatmap": 2.0,
            "grad_rms_heatmap": 0.02,
            "grad_norm_mask": 0.5,
            "grad_rms_mask": 0.04,
        }
    )
    folder = results.run_dir(root, freezing.ABLATION, "synthetic", setting, seed)
    return results.write_record(folder, config.to_dict(), metrics, history, per_sample, {})


def test_per_sample_scores_reproduce_the_table_and_pair_settings(tiny_data, tmp_path):
    data = tiny_data[0]
    rng = np.random.default_rng(0)
    runs = [
        write_fake_run(tmp_path, "acnn-A-B-C", seed, data, noise=0.5, rng=rng) for seed in (0, 1)
    ] + [
        write_fake_run(tmp_path, "no-attention", seed, data, noise=6.0, rng=rng) for seed in (0, 1)
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


def test_gradient_tables_ignore_logged_values_of_a_frozen_group(tiny_data, tmp_path):
    rng = np.random.default_rng(0)
    runs = [write_fake_run(tmp_path, "acnn-A-B-C", seed, tiny_data[1], 1.0, rng) for seed in (0, 1)]
    history = freezing.gradient_history(runs)
    by_phase = history.groupby("phase")
    assert by_phase["grad_norm_mask"].count().to_dict() == {"A": 0, "B": 2, "C": 2}
    assert by_phase["grad_norm_heatmap"].count().to_dict() == {"A": 2, "B": 0, "C": 2}
    phase_c = history[history["phase"] == "C"]
    assert np.allclose(phase_c["grad_ratio_norm"], 0.25)
    assert np.allclose(phase_c["grad_ratio_rms"], 2.0)
    summary = freezing.gradient_summary(runs)
    table = freezing.gradient_table(summary)
    assert table.loc[("acnn-A-B-C", "B"), "heatmap L2"] == "-"
    assert table.loc[("acnn-A-B-C", "C"), "mask / heatmap (RMS)"].startswith("2 ")
    text = freezing.describe_gradient_ratios(summary)
    assert "L2 norm: mask / heatmap 0.25 " in text and "smaller for the mask heads" in text
    assert "RMS per parameter: mask / heatmap 2 " in text and "larger for the mask heads" in text


def test_paper_table_is_labelled_and_its_difference_computed():
    table = freezing.paper_table1()
    assert "MPII" in table.index.name
    assert list(table.columns) == list(report.TABLE1_COLUMNS)
    assert table.loc["difference (ACNN - hourglass)", "Ank."] == pytest.approx(2.3)
    assert table.loc["difference (ACNN - hourglass)", "Total"] == pytest.approx(1.1)


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
