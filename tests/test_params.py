"""List and dict notebook parameters (studylib.params): the value or its string form (papermill's
``-p``), read as a literal and never run. Where the configs and settings use it is tested with
them: test_config.py, test_freezing.py, test_reduction_ratio.py."""

import re

import pytest

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


def test_names_takes_known_names_as_a_list_or_its_string_form():
    from studylib.params import names

    known = ("a", "b", "c")
    assert names("settings", ["a", "c"], known) == ["a", "c"]
    assert names("settings", '["b"]', known) == ["b"]
    with pytest.raises(
        ValueError, match=r"settings must be a non-empty list of .*unknown: \['d'\]"
    ):
        names("settings", ["a", "d"], known)
    with pytest.raises(ValueError, match="settings must be a non-empty list"):
        names("settings", [], known)
