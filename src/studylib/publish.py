"""What an experiment notebook shows, published once for the book's chapters (myst-nb ``glue``).

An experiment notebook computes each of its tables, figures and readings once and shows it with
:func:`show`, under a key; a chapter of the book pastes it by that key (``{glue:any}`` with
``:doc:`` the notebook's executed copy) beside its explanation, so no analysis is computed twice.
The book's build executes the synthetic notebooks' executed copies again, reading the records in
``results/`` (never training: :data:`READ_ONLY_ENV`), so the pasted numbers are always the records'.

Figures that need a trained model (a run's masks or attention maps) are drawn from the run's
checkpoint, which is not committed; :func:`run_figure` keeps the drawing as a PNG beside the run's
record when it draws it, and shows that PNG where the checkpoint is absent (a clean clone).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Set (to 1) while the book executes notebooks: a run without a finished record then raises
#: instead of training, and nothing is written under ``results/``.
READ_ONLY_ENV = "STUDYLIB_READ_ONLY"


#: Set (to 1) by the study while it executes a notebook on a real dataset: the executed copy is
#: kept in the repository, so drawings of that dataset's images are left out of it
#: (:func:`data_figure`); a researcher who executes the notebook with the data sees them.
NO_DATA_IMAGES_ENV = "STUDYLIB_NO_DATA_IMAGES"


def read_only() -> bool:
    """Whether notebooks only read records here (the book's build), never train or write."""
    return os.environ.get(READ_ONLY_ENV, "") not in ("", "0")


def markdown_html(text: str) -> Any:
    """``text`` (Markdown) as an HTML display object: a chapter can paste HTML from another page,
    not Markdown (myst-nb pastes text/html, images and plain text across documents)."""
    from IPython.display import HTML
    from markdown_it import MarkdownIt

    return HTML(MarkdownIt("commonmark").enable("table").render(text))


def show(key: str, value: Any) -> None:
    """Show ``value`` in the notebook and publish it under ``key`` for the chapters.

    ``value`` is a table (DataFrame or Styler), a Markdown reading (``str``), a matplotlib Figure
    or Axes (published as its figure, which is then closed so that it is not shown twice), or any
    object IPython displays (an image). Returns nothing, so that a cell ending in ``show(...)``
    does not show its value a second time.
    """
    from myst_nb import glue

    if isinstance(value, str):
        value = markdown_html(value)
    figure = _figure_of(value)
    if figure is not None:
        import matplotlib.pyplot as plt

        glue(key, figure, display=True)
        plt.close(figure)
        return
    glue(key, value, display=True)


def _figure_of(value: Any) -> Any:
    """The matplotlib Figure of ``value`` (a Figure or Axes), else None."""
    try:
        from matplotlib.axes import Axes
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        return None
    if isinstance(value, Figure):
        return value
    if isinstance(value, Axes):
        return value.figure
    return None


def figure_path(folder: str | Path, name: str) -> Path:
    """Where :func:`run_figure` keeps the drawing ``name`` of the run in ``folder``."""
    return Path(folder) / f"figure-{name}.png"


def run_figure(folder: str | Path, name: str, draw: Callable[[], Any]) -> Any:
    """A figure of a trained run: ``draw()`` (which loads the run's checkpoint) when the checkpoint
    is here, kept as ``figure-<name>.png`` beside the record (synthetic data only, and not while
    the book reads); else the PNG kept when the records were made; else a sentence saying that
    neither is there.

    ``draw`` raises FileNotFoundError when the checkpoint is missing, as loading one does.
    """
    from IPython.display import Image

    dataset = _run_dataset(folder)
    if dataset not in (None, "synthetic") and _no_data_images():
        return _left_out(dataset)
    path = figure_path(folder, name)
    try:
        figure = draw()
    except FileNotFoundError as missing:
        if path.is_file():
            return Image(filename=str(path))
        return f"*No figure: {missing}; and no drawing of it was kept beside the record.*"
    figure = _figure_of(figure)
    if figure is not None and not read_only() and _keeps_drawings(folder):
        figure.savefig(path, dpi=72, bbox_inches="tight")
    return figure


def data_figure(dataset: str, draw: Callable[[], Any]) -> Any:
    """``draw()``, a drawing of ``dataset``'s images; for a real dataset while the study makes
    the executed copy that the repository keeps (:data:`NO_DATA_IMAGES_ENV`), a sentence
    instead, and ``draw`` is not called."""
    if dataset != "synthetic" and _no_data_images():
        return _left_out(dataset)
    return draw()


def _no_data_images() -> bool:
    return os.environ.get(NO_DATA_IMAGES_ENV, "") not in ("", "0")


#: How a real dataset is named to readers (titles of executed copies, left-out drawings).
DATASET_TITLES = {"lsp": "LSP", "300w": "300-W", "mpii": "MPII"}


def _left_out(dataset: str) -> str:
    name = DATASET_TITLES.get(dataset, dataset)
    return (
        f"*Left out of this copy: the drawing shows {name} images, which stay with the data "
        "(`STUDYLIB_DATA`), not in the repository. Executing the notebook with the data draws "
        "it.*"
    )


def _run_dataset(folder: str | Path) -> str | None:
    """The dataset of the run in ``folder``, from its config (None without one)."""
    from studylib.io import read_json

    config = Path(folder) / "config.json"
    return read_json(config).get("dataset") if config.is_file() else None


def _keeps_drawings(folder: str | Path) -> bool:
    """Whether a run's drawings are kept beside its record: only for synthetic data. A drawing
    of a real dataset's run shows that dataset's images, which stay where the data is
    (``STUDYLIB_DATA``), never in the repository."""
    return _run_dataset(folder) == "synthetic"
