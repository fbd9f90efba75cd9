"""The real-data root (studylib.data.real.root): a missing ``STUDYLIB_DATA`` names the setting
and the expected layout, a root pointing nowhere is named, and ``available`` checks a source's
files."""

from __future__ import annotations

import pytest

from studylib.data.real import DataNotFoundError, available, data_root, load_lsp


def test_missing_root_names_the_setting_and_layout(monkeypatch):
    monkeypatch.delenv("STUDYLIB_DATA", raising=False)
    with pytest.raises(DataNotFoundError) as caught:
        data_root()
    message = str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)
    assert "STUDYLIB_DATA" in message and "root" in message
    assert "lsp/joints.mat" in message and "mpii/valid_gt.mat" in message
    with pytest.raises(DataNotFoundError, match="STUDYLIB_DATA"):
        load_lsp("test", 32)


def test_nonexistent_root_is_an_error_naming_it(monkeypatch, tmp_path):
    monkeypatch.setenv("STUDYLIB_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataNotFoundError, match="STUDYLIB_DATA=.*nowhere"):
        data_root()
    assert data_root(tmp_path) == tmp_path  # the root parameter wins over the variable
    with pytest.raises(DataNotFoundError, match="root parameter"):
        data_root(tmp_path / "missing")


def test_available_checks_the_files_of_a_source(tmp_path):
    assert not available("mpii", tmp_path)
    (tmp_path / "mpii").mkdir()
    (tmp_path / "mpii" / "valid_gt.mat").write_bytes(b"")
    assert available("mpii", tmp_path)
    assert not available("lsp", tmp_path)
    with pytest.raises(DataNotFoundError, match="lsp/joints.mat"):
        load_lsp("test", 32, root=tmp_path, cache_dir=tmp_path / "cache")
