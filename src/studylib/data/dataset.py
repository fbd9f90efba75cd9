"""The in-memory keypoint dataset every generator and loader produces.

A :class:`KeypointSet` holds fixed-size RGB images and their annotations as numpy arrays. Real
datasets are cropped and resized to the training size once (by their loaders) and the synthetic
generators render at that size directly, so training never decodes an image: batches are slices
of one uint8 array, moved to the device and augmented there (:mod:`studylib.data.augment`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from studylib.data.keypoints import AFLW19, AFLW21, COFW29, FACE68, MPII, KeypointSpec
from studylib.io import atomic_path

SPECS: dict[str, KeypointSpec] = {
    spec.name: spec for spec in (MPII, FACE68, COFW29, AFLW21, AFLW19)
}


def register_spec(spec: KeypointSpec) -> None:
    """Make a keypoint scheme known to :meth:`KeypointSet.load`."""
    SPECS[spec.name] = spec


@dataclass
class KeypointSet:
    """Images and keypoint annotations of one split.

    Attributes:
        images: (N, H, W, 3) uint8 RGB.
        joints: (N, K, 2) float32 keypoints (x, y) in pixels, pixel-centre convention.
        valid: (N, K) bool, the keypoint is annotated and is scored (MPII: not ``jnt_missing``).
        occluded: (N, K) bool, annotated but hidden (still scored, as in MPII and COFW).
        norms: per-sample normalisers by name, each (N,) float32: ``"head"`` (PCKh head size),
            ``"torso"`` (PCK@0.2), ``"interocular"`` (NME), ``"box"`` (AFLW-style NME).
        spec: the keypoint scheme (names and flip pairs).
        info: provenance (generator parameters, source files), JSON-serialisable.
    """

    images: np.ndarray
    joints: np.ndarray
    valid: np.ndarray
    occluded: np.ndarray
    norms: dict[str, np.ndarray]
    spec: KeypointSpec
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) of every image."""
        return int(self.images.shape[1]), int(self.images.shape[2])

    def validate(self) -> None:
        """Check shapes and types; raise ValueError naming the field and what was expected."""
        name = self.info.get("name", "KeypointSet")
        if self.images.ndim != 4 or self.images.shape[-1] != 3 or self.images.dtype != np.uint8:
            raise ValueError(
                f"{name}: images must be a (N, H, W, 3) uint8 array, got {self.images.dtype} "
                f"{self.images.shape}"
            )
        n, k = len(self), self.spec.num_keypoints
        expected = {"joints": (n, k, 2), "valid": (n, k), "occluded": (n, k)}
        for attr, shape in expected.items():
            got = getattr(self, attr).shape
            if got != shape:
                raise ValueError(
                    f"{name}: {attr} must have shape {shape} for {n} images and the {k} keypoints "
                    f"of {self.spec.name}, got {got}"
                )
        for key, value in self.norms.items():
            if value.shape != (n,):
                raise ValueError(
                    f"{name}: norms[{key!r}] must have shape ({n},), got {value.shape}"
                )
        if not np.isfinite(self.joints[self.valid]).all():
            raise ValueError(f"{name}: valid joints must have finite coordinates")

    def subset(self, index) -> KeypointSet:
        """The samples at ``index`` (a slice, an index array or a boolean mask)."""
        return KeypointSet(
            images=self.images[index],
            joints=self.joints[index],
            valid=self.valid[index],
            occluded=self.occluded[index],
            norms={key: value[index] for key, value in self.norms.items()},
            spec=self.spec,
            info=dict(self.info),
        )

    def save(self, path: str | Path) -> None:
        """Write to an ``.npz`` file atomically (readers never see a partial file)."""
        arrays = {
            "images": self.images,
            "joints": self.joints,
            "valid": self.valid,
            "occluded": self.occluded,
            "info": np.array(json.dumps({**self.info, "spec": self.spec.name})),
        }
        arrays.update({f"norm_{key}": value for key, value in self.norms.items()})
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> KeypointSet:
        """Read a set written by :meth:`save`; a damaged file is a clear error naming it."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                info = json.loads(str(data["info"]))
                spec_name = info.pop("spec")
                return cls(
                    images=data["images"],
                    joints=data["joints"],
                    valid=data["valid"],
                    occluded=data["occluded"],
                    norms={key[5:]: data[key] for key in data.files if key.startswith("norm_")},
                    spec=SPECS[spec_name],
                    info=info,
                )
        except FileNotFoundError:
            raise
        except Exception as error:  # zipfile, JSON and key errors all mean the same to a user
            raise ValueError(
                f"{path}: not a readable studylib dataset cache ({type(error).__name__}: {error}); "
                "delete it to regenerate"
            ) from error


def describe(sets: dict[str, KeypointSet]) -> pd.DataFrame:
    """Statistics of named splits: size, keypoints inside the image, occlusion, normalisers."""
    rows = {}
    for name, data in sets.items():
        row = {
            "images": len(data),
            "image size": "x".join(map(str, data.image_size)),
            "keypoints": data.spec.num_keypoints,
            "annotated (%)": round(100 * float(data.valid.mean()), 1),
            "occluded (% of annotated)": round(100 * float(data.occluded[data.valid].mean()), 1),
        }
        for key, values in data.norms.items():
            row[f"mean {key} size (px)"] = round(float(values.mean()), 1)
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def train_and_test(
    load: Callable[[str, int], KeypointSet], num_train: int, num_test: int, validation: bool
) -> tuple[KeypointSet, KeypointSet]:
    """(train, test) from ``load(split, count)``; with ``validation`` the test set is the last
    ``num_test`` images of the training split instead (:func:`holdout`), for choosing settings
    without the test set."""
    if validation:
        return holdout(load("train", num_train + num_test), num_test)
    return load("train", num_train), load("test", num_test)


def holdout(train: KeypointSet, count: int) -> tuple[KeypointSet, KeypointSet]:
    """(train, validation): the last ``count`` images of a training split held out, for choosing
    settings without the test set."""
    if len(train) <= count:
        raise ValueError(
            f"the training split has {len(train)} images; holding out {count} leaves none"
        )
    return train.subset(np.arange(len(train) - count)), train.subset(
        np.arange(len(train) - count, len(train))
    )
