"""A disk cache of built datasets, keyed by everything that determines their content.

Generating or cropping a dataset takes seconds to minutes; every run of a sweep uses the same
one. :func:`cached` returns the set saved under a hash of ``(kind, params)``, or builds, saves
(atomically) and returns it. The folder is ``cache_dir=`` where a loader takes one, else
``$STUDYLIB_CACHE``, else ``~/.cache/studylib``; deleting it is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studylib.data.dataset import KeypointSet

CACHE_ENV = "STUDYLIB_CACHE"
#: Bump when a generator or loader changes what it produces, so old caches are not reused.
CACHE_VERSION = 2


def cache_dir(override: str | Path | None = None) -> Path:
    """``override``, else ``$STUDYLIB_CACHE``, else ``~/.cache/studylib``."""
    if override is not None:
        return Path(override).expanduser()
    value = os.environ.get(CACHE_ENV, "").strip()
    return Path(value).expanduser() if value else Path.home() / ".cache" / "studylib"


def digest(params: dict[str, Any]) -> str:
    """A short hash of JSON-able parameters (and :data:`CACHE_VERSION`)."""
    text = json.dumps({**params, "version": CACHE_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_or_build(path: Path, build: Callable[[], KeypointSet]) -> KeypointSet:
    """Load ``path`` if it is a readable cache, else ``build()`` the set and save it there."""
    if path.is_file():
        try:
            return KeypointSet.load(path)
        except ValueError as error:
            warnings.warn(f"rebuilding a damaged dataset cache: {error}", stacklevel=3)
    data = build()
    data.save(path)
    return data


def cached(kind: str, params: dict[str, Any], build: Callable[[], KeypointSet]) -> KeypointSet:
    """The cached set for ``(kind, params)``, building and saving it on a miss."""
    return load_or_build(cache_dir() / f"{kind}-{digest({'kind': kind, **params})}.npz", build)


#: Seed offsets of the splits of a synthetic dataset: train and test never share an image.
SPLIT_SEEDS = {"train": 0, "test": 1}


def synthetic_split(
    kind: str,
    generate: Callable[..., KeypointSet],
    knobs: type,
    split: str,
    num_images: int,
    image_size: int,
    data_seed: int,
    synth: dict,
) -> KeypointSet:
    """A split of a built-in synthetic dataset, cached: ``generate(num_images, image_size, seed,
    knobs(**synth))`` with a seed of its own per split (:data:`SPLIT_SEEDS`). The knobs are
    checked before the cache is read."""
    config = knobs(**synth)
    seed = 2 * data_seed + SPLIT_SEEDS[split]
    params = {"num_images": num_images, "image_size": image_size, "seed": seed, "synth": synth}
    return cached(kind, params, lambda: generate(num_images, image_size, seed, config))
