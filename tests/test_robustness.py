"""Robustness sweeps (studylib.experiments.robustness): records at every knob level, reuse,
retraining without a checkpoint, paired differences per level and the level gates."""

import pandas as pd
import pytest

from helpers import require_real_data
from studylib.experiments import robustness
from studylib.train import CHECKPOINT

TINY_SWEEPS = {"occlusion": (0.0, 2.0), "clutter": (0.0, 1.0)}


@pytest.fixture
def tiny_tracks(monkeypatch):
    """Both tracks with two knobs of two levels each."""
    for name, track in robustness.TRACKS.items():
        sweeps = {k: v for k, v in TINY_SWEEPS.items() if k in track.sweeps}
        monkeypatch.setitem(
            robustness.TRACKS, name, robustness.Track(**{**track.__dict__, "sweeps": sweeps})
        )


def configs(track):
    overrides = dict(num_train=16, num_test=8, epochs=3) if track == "pose" else {}
    return robustness.source_configs(track, "smoke", **overrides)


@pytest.mark.parametrize("track", ["pose", "face"])
def test_a_sweep_scores_every_level_and_is_reused(tiny_tracks, tmp_path, track, monkeypatch):
    for setting, config in configs(track).items():
        folder = robustness.sweep(track, config, tmp_path, setting)
    assert folder.parent.name == f"{track}-{setting}"
    curves = robustness.curves(robustness.find_runs(tmp_path)[f"{track}-{setting}"])
    assert len(curves) == 4 and set(curves["knob"]) == {"occlusion", "clutter"}
    occlusion = curves[curves["knob"] == "occlusion"].set_index("level")["occluded_fraction"]
    assert occlusion[2.0] > occlusion[0.0]  # the knob does what it says
    # Each level keeps its own floor: the trivial predictor scored on that level's test set.
    if track == "pose":
        assert all(0 <= floor["pckh"] <= 100 for floor in curves["floor"])
    else:
        assert (curves["nme_mean_shape"] > 0).all()
    assert "floor" in robustness.curve_table(curves, "pckh" if track == "pose" else "nme")

    # A finished sweep is read back, not evaluated again.
    def fail(*args):
        raise AssertionError("evaluated again")

    spec = robustness.TRACKS[track]
    monkeypatch.setitem(
        robustness.TRACKS, track, robustness.Track(**{**spec.__dict__, "evaluate": fail})
    )
    assert robustness.sweep(track, config, tmp_path, setting) == folder


def test_paired_differences_per_level_and_their_reading(tiny_tracks, tmp_path):
    for setting, config in configs("face").items():
        robustness.sweep("face", config, tmp_path, setting)
    runs = [f for fs in robustness.find_runs(tmp_path).values() for f in fs]
    differences = robustness.paired(runs, "face")
    assert len(differences) == 4
    assert set(differences["setting"]) == {"adm-r8"} and set(differences["against"]) == {"odn"}
    table = robustness.paired_table(differences, "face")
    assert list(table.index) == ["occlusion = 0", "occlusion = 2", "clutter = 0", "clutter = 1"]
    text = robustness.describe(differences, "face")
    assert "**occlusion**, adm-r8 against odn: at occlusion = 0:" in text
    # Smoke models do not clear their floors: with the curves, no level is read.
    gated = robustness.describe(differences, "face", robustness.curves(runs))
    assert gated.count("no evidence, models at floor") == 4
    assert robustness.paired(runs, "pose").empty
    intervals = robustness.curve_intervals(robustness.curves(runs), "nme")
    assert set(intervals.columns) >= {"setting", "knob", "level", "mean", "low", "high"}
    assert isinstance(robustness.curve_table(robustness.curves(runs), "nme"), pd.DataFrame)


def test_a_source_run_without_checkpoint_is_trained_again(tiny_tracks, tmp_path):
    setting, config = next(iter(configs("face").items()))
    robustness.sweep("face", config, tmp_path, setting)
    source = tmp_path / "reduction_ratio" / "synthetic" / setting / "seed0"
    (source / CHECKPOINT).unlink()  # as in a clone: records without checkpoints
    robustness.sweep("face", config, tmp_path, setting, force=True)
    assert (source / CHECKPOINT).is_file()


def test_sweeps_need_synthetic_data_and_a_known_track(tmp_path):
    config = configs("face")["odn"].replace(dataset="300w")
    with pytest.raises(ValueError, match="dataset must be 'synthetic', got '300w'"):
        robustness.sweep("face", config, tmp_path, "odn")
    with pytest.raises(ValueError, match="track must be one of"):
        robustness.source_configs("hands", "smoke")
    levels = robustness.training_levels("pose", configs("pose")["acnn-A-B-C"])
    assert levels["occlusion"] == pytest.approx(0.7)


def test_occlusion_test_on_real_faces(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDYLIB_DATA", str(require_real_data("300w")))
    spec = robustness.TRACKS["face-occluders"]
    monkeypatch.setitem(
        robustness.TRACKS,
        "face-occluders",
        robustness.Track(**{**spec.__dict__, "sweeps": {"occluded_area": (0.0, 0.3)}}),
    )
    configs = robustness.source_configs(
        "face-occluders", "smoke", num_train=32, num_test=16, epochs=1
    )
    assert {c.dataset for c in configs.values()} == {"300w"}
    for setting, config in configs.items():
        robustness.sweep("face-occluders", config, tmp_path, setting)
    runs = [f for fs in robustness.find_runs(tmp_path, "300w").values() for f in fs]
    curves = robustness.curves(runs).set_index(["setting", "level"])
    assert curves.loc[("odn", 0.0), "occluded_fraction"] == 0  # 300-W has no occlusion labels
    assert curves.loc[("odn", 0.3), "occluded_fraction"] > 0.1
    assert len(robustness.paired(runs, "face-occluders")) == 2
    assert robustness.training_levels("face-occluders", configs["odn"]) == {"occluded_area": 0.0}


def test_level_gates_pass_only_where_every_model_cleared_its_floor():
    floor = {"pckh": 10.0}
    curves = pd.DataFrame(
        [
            {"knob": "occlusion", "level": 0.0, "setting": "a", "pckh": 60.0, "floor": floor},
            {"knob": "occlusion", "level": 0.0, "setting": "b", "pckh": 50.0, "floor": floor},
            {"knob": "occlusion", "level": 3.0, "setting": "a", "pckh": 40.0, "floor": floor},
            {"knob": "occlusion", "level": 3.0, "setting": "b", "pckh": 30.0, "floor": floor},
        ]
    )
    gates = robustness.level_gates(curves)
    assert gates[("occlusion", 0.0)][0] is True
    passed, why = gates[("occlusion", 3.0)]
    assert passed is False and "1 of 2 runs did not clear" in why
