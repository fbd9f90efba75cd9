"""List and dict notebook parameters: the value or its string form (papermill's ``-p``)."""

import re

import pytest

from studylib import face, freezing
from studylib.config import FaceConfig, PoseConfig, seeds_for
from studylib.params import is_int, literal

SEEDS = "a non-empty list of integers >= 0"


def _seeds(value):
    return literal(
        "seeds", value, SEEDS, valid=lambda v: bool(v) and all(is_int(s) and s >= 0 for s in v)
    )


@pytest.mark.parametrize(
    "value, parsed",
    [
        ([0, 1, 2], [0, 1, 2]),
        ((3, 4), (3, 4)),
        ("[0, 1, 2, 3, 4]", [0, 1, 2, 3, 4]),  # the README's old -p example
        ("  [5]\n", [5]),
        ("(1, 2)", (1, 2)),
        ("[0, 1, 2,]", [0, 1, 2]),
    ],
)
def test_a_list_is_taken_as_the_value_or_its_string_form(value, parsed):
    assert _seeds(value) == parsed


@pytest.mark.parametrize(
    "value",
    ["[0, 1,", "0, 1, 2x", "seeds", "[]", "[-1]", "[0.5]", "[True]", "{0: 1}", "", 3, None, [],
     "__import__('os').system('true')", "[0] * 3", "[" * 500],
)  # fmt: skip
def test_a_wrong_list_names_the_parameter_what_was_expected_and_what_was_given(value):
    with pytest.raises(ValueError) as error:
        _seeds(value)
    assert str(error.value) == f"seeds must be {SEEDS}, got {value!r}"


def test_strings_are_read_as_literals_never_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for text in ("open('made', 'w')", "[open('made', 'w')]", "[x for x in 'ab']"):
        with pytest.raises(ValueError, match="seeds must be"):
            _seeds(text)
    assert not (tmp_path / "made").exists()


def test_a_dict_parameter_and_its_string_form():
    expected = "a dict of knob -> level"
    assert literal("knobs", {"clutter": 0.5}, expected, kinds=dict) == {"clutter": 0.5}
    assert literal("knobs", "{'clutter': 0.5}", expected, kinds=dict) == {"clutter": 0.5}
    with pytest.raises(
        ValueError, match=re.escape("knobs must be a dict of knob -> level, got '[1]'")
    ):
        literal("knobs", "[1]", expected, kinds=dict)
    with pytest.raises(TypeError, match="cannot include str"):
        literal("name", "x", "a string", kinds=(str, list))


def test_is_int_excludes_bools():
    assert is_int(3) and not is_int(True) and not is_int(3.0) and not is_int("3")


# ------------------------------------------------------------------ where the notebooks use them


def test_seeds_from_papermill_p():
    assert seeds_for("quick", "[0, 1, 2, 3, 4]") == (0, 1, 2, 3, 4)
    assert seeds_for("smoke", [4, 5]) == (4, 5)
    assert seeds_for("smoke", range(2)) == (0, 1)
    assert seeds_for("quick") == (0, 1, 2)
    message = "seeds must be a non-empty list of integers >= 0, got '[0, 1,'"
    with pytest.raises(ValueError, match=re.escape(message)):
        seeds_for("quick", "[0, 1,")


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


def test_face_settings_from_papermill_p():
    ratios = face.reduction_ratio_settings("[4, 8]", pooling_ablation=True)
    assert list(ratios) == ["resnet", "odn", "adm-r4", "adm-r8", "adm-r4-avg"]
    assert ratios == face.reduction_ratio_settings([4, 8], pooling_ablation=True)
    for bad in ("[4, 8", "[0]", "[]", "[8.0]", "8"):
        with pytest.raises(
            ValueError, match="reduction_ratios must be a non-empty list of integers > 0"
        ):
            face.reduction_ratio_settings(bad)

    orders = face.attention_order_settings('["channel-spatial", "none"]', reduction_ratio=16)
    assert list(orders) == ["channel-spatial", "none"]
    assert orders["none"]["reduction_ratio"] == 16
    with pytest.raises(ValueError, match=r"orders must be .*unknown: \['channel-first'\]"):
        face.attention_order_settings("['channel-first']")
    with pytest.raises(ValueError, match=r"orders must be .*got '\[\"none\"'"):
        face.attention_order_settings('["none"')


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
