"""Reading MATLAB ``.mat`` files with errors that name the file and what was expected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io


def load_mat(path: str | Path) -> dict:
    """``scipy.io.loadmat`` with clear errors (missing file, v7.3/HDF5 file, unreadable file)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such .mat file")
    try:
        return scipy.io.loadmat(path)
    except NotImplementedError as error:  # scipy's answer to a v7.3 (HDF5) file
        raise ValueError(
            f"{path}: a MATLAB v7.3 (HDF5) file, which scipy cannot read ({error})"
        ) from error
    except Exception as error:  # scipy raises ValueError, TypeError or struct errors
        raise ValueError(
            f"{path}: not a readable .mat file ({type(error).__name__}: {error})"
        ) from error


def mat_array(mat: dict, key: str, path: str | Path, shape: tuple) -> np.ndarray:
    """``mat[key]`` as a float64 array of ``shape`` (``None`` entries match any length).

    Raises:
        ValueError: the key is missing or the shape differs; the message names the file, the key
            and the expected shape.
    """
    if key not in mat:
        present = sorted(k for k in mat if not k.startswith("__"))
        raise ValueError(
            f"{path}: no key {key!r} (expected shape {_shape_text(shape)}); has {present}"
        )
    array = np.asarray(mat[key])
    if array.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(array.shape, shape, strict=True)
    ):
        raise ValueError(f"{path}: {key!r} must have shape {_shape_text(shape)}, got {array.shape}")
    try:
        return array.astype(np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: {key!r} must be numeric, got {array.dtype}") from error


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join("N" if n is None else str(n) for n in shape) + ")"
