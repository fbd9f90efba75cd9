"""Run configs: profiles, overrides, phase schedules, and clear errors for bad parameters."""

import pytest

from studylib.config import PoseConfig, schedule_phases, seeds_for


def test_profile_values_and_overrides():
    config = PoseConfig.from_profile("smoke", epochs=3, features=None)
    assert config.profile == "smoke" and config.epochs == 3
    assert config.features == PoseConfig.from_profile("smoke").features  # None keeps the profile's


def test_paper_schedule_splits_epochs_200_200_100():
    a, b, c = schedule_phases("A-B-C", 500, 5e-4)
    assert (a.epochs, b.epochs, c.epochs) == (200, 200, 100)
    assert (a.lr, b.lr, c.lr) == (5e-4, 2.5e-4, 2.5e-4)
    assert a.lr_drops == (120, 170) and c.lr_drops == (50, 70)
    assert (a.train, a.masks, b.train, c.train) == ("heatmap", False, "mask", "all")
    assert (
        a.lr_at(119) == 5e-4
        and a.lr_at(120) == pytest.approx(5e-5)
        and a.lr_at(199) == pytest.approx(5e-6)
    )


@pytest.mark.parametrize("schedule", ["joint", "A-B-C", "A-B", "A-C"])
@pytest.mark.parametrize("epochs", [3, 10, 37])
def test_schedules_keep_the_total_epochs(schedule, epochs):
    assert sum(p.epochs for p in schedule_phases(schedule, epochs, 1e-3)) == epochs


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
