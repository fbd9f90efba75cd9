"""Run configs (studylib.config): profiles, overrides, phase schedules, seeds, the string form of
dict and list parameters (papermill's ``-p``), and clear errors for bad parameters, for
PoseConfig and FaceConfig."""

import re

import pytest
import torch

from studylib.config import (
    ATTENTION_ORDERS,
    FACE_VARIANTS,
    FaceConfig,
    PoseConfig,
    schedule_phases,
    seeds_for,
)
from studylib.models.attention import CBAM
from studylib.models.landmark import VARIANTS


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


def test_a_pose_config_sets_where_every_phase_drops_its_rate():
    config = PoseConfig.from_profile("smoke", schedule="A-B-C", attention="acnn", lr_drops="[0.9]")
    assert config.lr_drops == (0.9,)
    for phase in config.phases():
        assert phase.lr_drops == (0.9,)
        assert phase.lr_at(0.85) == pytest.approx(phase.lr)
        assert phase.lr_at(0.95) == pytest.approx(phase.lr / 10)
    again = PoseConfig(**config.to_dict() | {"lr_drops": [0.9]})  # as config.json gives it back
    assert again == config


@pytest.mark.parametrize("drops", [(0.0,), (1.0,), (0.8, 0.6), (0.5, 0.5)])
def test_rate_drops_outside_the_phase_or_out_of_order_are_named(drops):
    with pytest.raises(ValueError, match="lr_drops must be increasing shares"):
        PoseConfig.from_profile("smoke", lr_drops=drops)


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


def test_seeds_from_papermill_p():
    assert seeds_for("quick", "[0, 1, 2, 3, 4]") == (0, 1, 2, 3, 4)
    assert seeds_for("smoke", [4, 5]) == (4, 5)
    assert seeds_for("smoke", range(2)) == (0, 1)
    assert seeds_for("quick") == (0, 1, 2)
    message = "seeds must be a non-empty list of integers >= 0, got '[0, 1,'"
    with pytest.raises(ValueError, match=re.escape(message)):
        seeds_for("quick", "[0, 1,")


def test_config_dict_and_tuple_fields_take_their_string_form():
    pose = PoseConfig.from_profile("smoke", synth="{'clutter': 0.5}", augment='{"scale": 0.1}')
    assert pose.synth == {"clutter": 0.5} and pose.augment == {"scale": 0.1}
    config = FaceConfig.from_profile("smoke", channel_pooling="['avg']")
    assert config.channel_pooling == ("avg",)
    with pytest.raises(
        ValueError,
        match=re.escape("PoseConfig.synth must be a dict or its string form, got '{clutter'"),
    ):
        PoseConfig.from_profile("smoke", synth="{clutter")
    with pytest.raises(ValueError, match="FaceConfig.channel_pooling must be a list"):
        FaceConfig.from_profile("smoke", channel_pooling="avg")
    with pytest.raises(ValueError, match="synth.*clutterr"):  # the knob check still runs
        PoseConfig.from_profile("smoke", synth="{'clutterr': 0.5}")
    with pytest.raises(TypeError, match="epochs must be int, got '10'"):  # scalars stay strict
        PoseConfig.from_profile("smoke", epochs="10")


# ------------------------------------------------------------------------------------ FaceConfig


@pytest.mark.parametrize(
    "overrides, error, message",
    [
        (dict(attention_order="spatial-first"), ValueError, "attention_order must be one of"),
        (dict(reduction_ratio=3), ValueError, "does not divide the 64 channels"),
        (dict(reduction_ratio=0), ValueError, "reduction_ratio must be > 0"),
        (dict(reduction_ratio=8.0), TypeError, "reduction_ratio must be int"),
        (dict(variant="vit"), ValueError, "variant must be one of"),
        (dict(dataset="lsp"), ValueError, "dataset must be one of"),
        (dict(epochs="10"), TypeError, "epochs must be int"),
        (dict(amp=1), TypeError, "amp must be bool"),
        (dict(alpha=-1e-4), ValueError, "alpha must be >= 0"),
        (dict(image_size=72), ValueError, "multiple of the trunk's total stride 16"),
        (dict(layer4_stride=3), ValueError, "layer4_stride must be one of"),
        (dict(channel_pooling=("avg", "avg")), ValueError, "channel_pooling must be"),
        (dict(channel_pooling=("min",)), ValueError, "channel_pooling must be"),
        (dict(low_rank_input="max"), ValueError, "low_rank_input must be one of"),
        (dict(pretrained="resnet18.pth"), ValueError, "width 64"),
        (dict(synth={"occlusion": 9.0}), ValueError, "occlusion must be in"),
        (dict(synth={"fog": 1.0}), ValueError, "synth: .*fog"),
        (dict(augment={"scale": 2.0}), ValueError, "augment scale"),
        (dict(depth=18), ValueError, "unknown FaceConfig parameter"),
    ],
)
def test_bad_face_parameters_are_named(overrides, error, message):
    with pytest.raises(error, match=message):
        FaceConfig.from_profile("smoke", **overrides)


def test_face_profiles_overrides_and_choices():
    config = FaceConfig.from_profile("quick", epochs=3, width=None, channel_pooling=["avg"])
    assert config.epochs == 3 and config.width == FaceConfig.from_profile("quick").width
    assert config.channel_pooling == ("avg",)  # a papermill list becomes a tuple
    full = FaceConfig.from_profile("full")
    assert (full.image_size, full.width, full.layer4_stride) == (224, 64, 2)  # the paper's scale
    assert FACE_VARIANTS == VARIANTS and ATTENTION_ORDERS == CBAM.ORDERS


def test_runs_train_contiguous_on_the_cpu_and_channels_last_on_cuda_unless_told():
    from studylib.train import default_channels_last

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    for config in (PoseConfig.from_profile("smoke"), FaceConfig.from_profile("smoke")):
        assert default_channels_last(cpu, config.channels_last) is False
        assert default_channels_last(cuda, config.channels_last) is True
        assert default_channels_last(cpu, True) is True
        # The default is not written into the record's config, so older records still match.
        assert "channels_last" not in config.to_dict()
