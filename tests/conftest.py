"""Shared test set-up: tests never read or write the user's dataset cache or results."""

from __future__ import annotations

import pytest

# Before any test module imports torch: studylib pins the CPU kernels' code paths
# (studylib.cpu_kernels), so the tests compute as the study's runs do.
import studylib  # noqa: F401


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> str:
    """One dataset cache for the session (synthetic sets are generated once), in a tmp folder."""
    return str(tmp_path_factory.mktemp("studylib-cache"))


@pytest.fixture(autouse=True)
def isolated_studylib_dirs(monkeypatch, tmp_path_factory, shared_cache):
    """Point ``STUDYLIB_CACHE`` at the session's tmp cache and ``STUDYLIB_RESULTS`` at a fresh
    tmp folder, so no test touches ``~/.cache/studylib`` or the project's ``results/``."""
    monkeypatch.setenv("STUDYLIB_CACHE", shared_cache)
    monkeypatch.setenv("STUDYLIB_RESULTS", str(tmp_path_factory.mktemp("studylib-results")))


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread for a module (``pytestmark = pytest.mark.usefixtures("one_thread")``):
    tiny models train faster and bitwise repeatably so, and far faster than two threads on a busy
    2-core machine, where oversubscribed threads spin."""
    from helpers import torch_threads

    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def tiny_data():
    """A tiny synthetic pose train and test set (16 and 8 figures)."""
    from helpers import pose_sets

    return pose_sets(16, 8)
