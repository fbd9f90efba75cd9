"""Where real data lives: one setting, ``STUDYLIB_DATA``, and where built sets are cached.

Real benchmarks are never part of the repository. A user points studylib at a folder with the
layout below, either with the environment variable ``STUDYLIB_DATA`` or with the ``root=``
argument of every loader (the argument wins). Built sets are cached by :mod:`studylib.data.cache`.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable naming the real-data root folder.
DATA_ENV = "STUDYLIB_DATA"

#: The layout loaders expect under the data root (any subset may be present).
EXPECTED_LAYOUT = """\
<root>/lsp/joints.mat                 LSP: 'joints' (3, 14, 2000), flag 1 = occluded
<root>/lsp/images/im0001.jpg ...
<root>/lspet/joints.mat               LSPET: 'joints' (14, 3, 10000), flag 1 = visible
<root>/lspet/images/im00001.jpg ...
<root>/300w/{afw,helen_trainset,helen_testset}/NAME.{jpg,pts}
<root>/mpii/valid_gt.mat              MPII validation ground truth (pos_gt_src, headboxes_src, ...)
<root>/cofw/COFW_{train,test}.mat     COFW Caltech release (optional)
<root>/fixtures/mmpose/{mpii,300w,cofw,aflw,wflw}/test_*.json  (+ their images)"""

#: Files or folders that must exist for each named source (relative to the root).
REQUIRED: dict[str, tuple[str, ...]] = {
    "lsp": ("lsp/joints.mat", "lsp/images"),
    "lspet": ("lspet/joints.mat", "lspet/images"),
    "300w": ("300w/afw", "300w/helen_trainset", "300w/helen_testset"),
    "mpii": ("mpii/valid_gt.mat",),
    "cofw": ("cofw",),
    "fixtures": ("fixtures/mmpose",),
    "mpii_fixture": ("fixtures/mmpose/mpii/test_mpii.json",),
    "300w_fixture": ("fixtures/mmpose/300w/test_300w.json",),
    "cofw_fixture": ("fixtures/mmpose/cofw/test_cofw.json",),
    "aflw_fixture": ("fixtures/mmpose/aflw/test_aflw.json",),
}


class DataNotFoundError(FileNotFoundError):
    """Real data was asked for but the setting is missing or does not point at it."""


def _layout_hint() -> str:
    return (
        f"Set the environment variable {DATA_ENV} (or pass the root= parameter) to a folder "
        f"laid out as:\n{EXPECTED_LAYOUT}"
    )


def data_root(root: str | Path | None = None) -> Path:
    """The real-data root: ``root`` if given, else ``$STUDYLIB_DATA``.

    Raises:
        DataNotFoundError: neither is set, or the folder does not exist. The message names the
            setting and the expected layout.
    """
    if root is not None:
        origin = "the root parameter"
        path = Path(root).expanduser()
    else:
        value = os.environ.get(DATA_ENV, "").strip()
        if not value:
            raise DataNotFoundError(f"no real-data folder is configured. {_layout_hint()}")
        origin = f"{DATA_ENV}={value}"
        path = Path(value).expanduser()
    if not path.is_dir():
        raise DataNotFoundError(f"{origin}: {path} is not a folder. {_layout_hint()}")
    return path


def source_path(name: str, root: str | Path | None = None) -> Path:
    """``<root>/<first folder of name>`` after checking that the files of ``name`` exist.

    Raises:
        KeyError: ``name`` is not one of :data:`REQUIRED`.
        DataNotFoundError: the root or one of the source's files is missing.
    """
    if name not in REQUIRED:
        raise KeyError(f"unknown real-data source {name!r}; known: {sorted(REQUIRED)}")
    base = data_root(root)
    missing = [rel for rel in REQUIRED[name] if not (base / rel).exists()]
    if missing:
        raise DataNotFoundError(
            f"{name}: missing {', '.join(str(base / rel) for rel in missing)}. {_layout_hint()}"
        )
    return base / REQUIRED[name][0].split("/")[0]


def available(name: str, root: str | Path | None = None) -> bool:
    """True when the real-data source ``name`` (a key of :data:`REQUIRED`) can be loaded."""
    try:
        source_path(name, root)
    except DataNotFoundError:
        return False
    return True
