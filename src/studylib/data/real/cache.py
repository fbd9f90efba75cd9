"""Cache file names of built real-data sets (the caching itself is :mod:`studylib.data.cache`).

A cache file is named ``<source>-<split>-<size>px-<digest>.npz`` under ``<cache dir>/real/``;
the digest covers everything that changes the content (the data root and the loader's options),
so changing an option builds a new file instead of reading a stale one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from studylib.data.cache import cache_dir, digest
from studylib.data.cache import load_or_build as cached

__all__ = ["cache_file", "cached"]


def cache_file(
    source: str, split: str, image_size: int, options: Mapping, folder: str | Path | None = None
) -> Path:
    """Where the set built with these options is cached."""
    return (
        cache_dir(folder) / "real" / f"{source}-{split}-{image_size}px-{digest(dict(options))}.npz"
    )
