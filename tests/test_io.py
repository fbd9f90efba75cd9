"""Atomic files and JSON (studylib.io): a write that fails half-way leaves the old file, and
malformed JSON is named. (Writers killed half-way are tested in test_reliability.py.)"""

import os

import pytest

from studylib.io import atomic_path, read_json, write_json


def test_failed_atomic_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "record.json"
    write_json(target, {"old": True})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text('{"new": ')
        raise RuntimeError("killed mid-write")
    assert read_json(target) == {"old": True}
    assert os.listdir(tmp_path) == ["record.json"]


def test_malformed_json_names_the_file(tmp_path):
    bad = tmp_path / "metrics.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="metrics.json: malformed JSON"):
        read_json(bad)
