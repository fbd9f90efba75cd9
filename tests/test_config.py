"""Run configs: profiles, overrides, phase schedules, and clear errors for bad parameters."""

import pytest

from studylib.config import PoseConfig, schedule_phases, seeds_for


def test_profile_values_and_overrides():
    config = PoseConfig.from_profile("smoke", epochs=3, features=None)
    assert config.profile == "smoke" and config.epochs == 3
    assert config.features == PoseConfig.from_profile("smoke").features  # None keeps the profile's


def test_phased_schedules_give_the_heatmap_network_the_same_epochs_as_joint_training():
    a, b, c = schedule_phases("A-B-C", 300, 5e-4)
    assert (a.epochs, c.epochs) == (200, 100)  # A and C share the heatmap epochs 2:1 (paper)
    assert b.epochs == 75  # phase B's mask epochs come on top (a quarter by default)
    assert (a.lr, b.lr, c.lr) == (5e-4, 2.5e-4, 2.5e-4)
    assert (a.train, a.masks, b.train, c.train) == ("heatmap", False, "mask", "all")
    assert schedule_phases("A-B", 10, 1e-3, mask_epochs=4)[1].epochs == 4


def test_every_phase_warms_up_and_anneals_within_its_own_steps():
    for phase in schedule_phases("A-B-C", 3, 1e-3):
        assert phase.lr_at(0.0) == pytest.approx(1e-4 * phase.lr / 1e-3)  # a tenth at the start
        assert phase.lr_at(0.3) == pytest.approx(phase.lr)
        assert phase.lr_at(0.7) == pytest.approx(phase.lr / 10)
        assert phase.lr_at(0.99) == pytest.approx(phase.lr / 100)  # annealed before it ends


@pytest.mark.parametrize("schedule", ["joint", "A-B-C", "A-B", "A-C"])
@pytest.mark.parametrize("epochs", [2, 10, 37])
def test_schedules_give_equal_heatmap_updates(schedule, epochs):
    phases = schedule_phases(schedule, epochs, 1e-3)
    assert sum(p.epochs for p in phases if p.train in ("all", "heatmap")) == epochs
    assert all(p.epochs >= 1 for p in phases)


def test_seeds_come_from_the_profile_unless_given():
    assert seeds_for("quick") == (0, 1, 2)
    assert seeds_for("smoke", [4, 5]) == (4, 5)
    with pytest.raises(ValueError, match="seeds must be"):
        seeds_for("quick", [])


@pytest.mark.parametrize(
    "overrides, error, message",
    [
        (dict(epochs=0), ValueError, "epochs must be > 0"),
        (dict(batch_size=-4), ValueError, "batch_size must be > 0"),
        (dict(epochs="10"), TypeError, "epochs must be int"),
        (dict(lr="fast"), TypeError, "lr must be float"),
        (dict(flip_test=1), TypeError, "flip_test must be bool"),
        (dict(dataset="coco"), ValueError, "dataset must be one of"),
        (dict(attention="se"), ValueError, "attention must be one of"),
        (dict(mask="binary"), ValueError, "mask must be one of"),
        (dict(image_size=96), ValueError, "multiple of 64"),
        (dict(schedule="A-B-C"), ValueError, "only has the 'joint' schedule"),
        (dict(schedule="B-A", attention="acnn"), ValueError, "schedule must be one of"),
        (dict(num_layers=3), ValueError, "unknown PoseConfig parameter"),
    ],
)
def test_bad_parameters_are_named(overrides, error, message):
    with pytest.raises(error, match=message):
        PoseConfig.from_profile("smoke", **overrides)


def test_unknown_profile():
    with pytest.raises(ValueError, match="profile must be one of"):
        PoseConfig.from_profile("medium")
