"""The freezing-phases ablation (studylib.experiments.freezing): its settings table and configs
(also from papermill's string form), the mask heads' parameter counts, the gradient tables read
from its records, and the paper's Table 1. The phases themselves, through the training loop, are
tested in test_train.py; the masks and per-sample scores its notebook reads, in test_pose.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers import write_fake_pose_run
from studylib import report
from studylib.config import PoseConfig
from studylib.experiments import freezing

# ------------------------------------------------------------------------------- settings table


@pytest.mark.parametrize("profile", ["smoke", "quick", "full"])
def test_settings_table_builds_valid_configs_with_equal_epochs(profile):
    base = freezing.base_config(profile)
    configs = freezing.configs(base, list(freezing.setting_overrides()))
    assert list(freezing.configs(base)) == list(
        freezing.PROFILE_SETTINGS.get(profile, freezing.setting_overrides())
    )
    assert set(freezing.EXPERIMENT.references) <= set(configs)
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


def test_freezing_settings_from_papermill_p():
    base = freezing.base_config("smoke")
    chosen = freezing.configs(base, '["acnn-joint", "acnn-A-B-C"]')
    assert list(chosen) == ["acnn-joint", "acnn-A-B-C"]
    assert list(freezing.configs(base, ("acnn-A-C",))) == ["acnn-A-C"]
    with pytest.raises(
        ValueError, match=r"settings must be a non-empty list of .*unknown: \['acnn-A-D'\]"
    ):
        freezing.configs(base, "['acnn-A-D']")
    with pytest.raises(ValueError, match=r"settings must be .*got 'acnn-joint'"):
        freezing.configs(base, "acnn-joint")  # a bare name is not a list
    with pytest.raises(ValueError, match="non-empty"):
        freezing.configs(base, "[]")


def test_mask_head_parameters_at_the_paper_scale():
    table = freezing.mask_head_parameters(PoseConfig.from_profile("smoke"))
    paper = table.loc["ACNN paper (4 stacks, 256 features)"]
    assert paper["hourglass"] == 12_858_304
    assert paper["ACNN"] - paper["hourglass"] == paper["mask heads"] > 0


# ------------------------------------------------------------------------ reading the records


def test_gradient_tables_ignore_logged_values_of_a_frozen_group(tiny_data, tmp_path):
    rng = np.random.default_rng(0)
    runs = [
        write_fake_pose_run(tmp_path, "acnn-A-B-C", seed, tiny_data[1], 1.0, rng) for seed in (0, 1)
    ]
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


def test_the_mask_and_heatmap_figures_are_drawn_from_a_trained_run(tmp_path):
    import matplotlib.pyplot as plt

    from helpers import tiny_pose_config
    from studylib import pose

    config = tiny_pose_config(num_stacks=2, attention="acnn", schedule="joint", device="cpu")
    folder = pose.run_pose(config, tmp_path, "freezing", "acnn-joint", progress=False)
    for draw in (freezing.draw_masks, freezing.draw_heatmaps):
        assert draw(folder).axes  # a figure with panels
    plt.close("all")
    (folder / "checkpoint.pt").unlink()
    freezing._trained.cache_clear()
    with pytest.raises(FileNotFoundError):
        freezing.draw_masks(folder)
