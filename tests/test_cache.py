"""The dataset cache (studylib.data.cache): where it lives, an argument before
``STUDYLIB_CACHE`` before ``~/.cache/studylib``. (A damaged cache is tested in
test_bad_input.py.)"""

from pathlib import Path

from studylib.data.cache import cache_dir


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("STUDYLIB_CACHE", str(tmp_path / "env"))
    assert cache_dir() == tmp_path / "env"
    assert cache_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("STUDYLIB_CACHE")
    assert cache_dir() == Path.home() / ".cache" / "studylib"
