"""The real-data package (studylib.data.real, its ``__init__``): ``load`` refuses an unknown
dataset name. Each source's readers are tested in test_real_<module>.py (root, lsp, faces, crop,
mpii); every loader without a data root, in test_bad_input.py."""

from __future__ import annotations

import pytest

from studylib.data.real import load


def test_load_dispatch_rejects_unknown_names(tmp_path):
    with pytest.raises(KeyError, match="unknown real dataset"):
        load("imagenet", "train", 64, root=tmp_path, cache_dir=tmp_path)
