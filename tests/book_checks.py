"""Checks of the built book (run by `make test` after `jupyter-book build`, not by plain pytest).

Each chapter's HTML must exist and contain its figures and tables, so a page that silently lost
its output (a report cell that printed nothing, a figure that failed to render) fails the tests.
"""

import re
from pathlib import Path

import pytest

HTML = Path(__file__).resolve().parents[1] / "_build" / "html"

#: chapter page -> (minimum number of figures, minimum number of tables)
CHAPTERS = {
    "book/intro.html": (0, 0),
    "book/methods.html": (0, 0),
    # The chapters paste what the notebooks publish; the figures of trained models come from the
    # checkpoint or, in a clone, from the drawing kept beside the record.
    "book/pose_baseline.html": (2, 4),
    "book/freezing_phases.html": (4, 10),
    "book/face_attention.html": (6, 12),
    "results/executed/quick/robustness.html": (7, 6),
    "book/real_data.html": (3, 15),
    "book/compute_cost.html": (0, 3),
    "book/claims.html": (0, 2),
    "book/reproducibility.html": (0, 1),
    "book/references.html": (0, 0),
    "results/executed/quick/pose_baseline.html": (2, 3),
    "results/executed/quick/freezing_phases.html": (4, 8),
    "results/executed/quick/reduction_ratio.html": (5, 6),
    "results/executed/quick/attention_order.html": (5, 5),
    "results/executed/quick/heatmap_sigma.html": (1, 4),
    # The real-data copies draw no dataset images (publish.data_figure): their plots only.
    "results/executed/quick/freezing_phases-lsp.html": (2, 8),
    "results/executed/quick/reduction_ratio-300w.html": (4, 6),
    "results/executed/quick/attention_order-300w.html": (4, 5),
}
#: The real-data copies and how many drawings of the dataset's images each leaves out.
REAL_DATA_COPIES = {
    "results/executed/quick/freezing_phases-lsp.html": 2,
    "results/executed/quick/reduction_ratio-300w.html": 2,
    "results/executed/quick/attention_order-300w.html": 2,
}


@pytest.mark.parametrize("page, expected", CHAPTERS.items())
def test_chapter_has_its_figures_and_tables(page, expected):
    path = HTML / page
    assert path.is_file(), f"{path} was not built; run `make book` first"
    html = path.read_text(encoding="utf-8")
    images = re.findall(r'<img[^>]*src="([^"]*_images/[^"]+)"', html)
    for src in images:
        assert (path.parent / src).resolve().is_file(), f"{page}: missing image {src}"
    figures, tables = len(images), html.count("<table")
    min_figures, min_tables = expected
    assert figures >= min_figures, f"{page}: {figures} figures, expected >= {min_figures}"
    assert tables >= min_tables, f"{page}: {tables} tables, expected >= {min_tables}"
    assert "Traceback" not in html, f"{page} shows a Python traceback"
    # MathJax ships with the book (sphinx-mathjax-offline): equations typeset without a network.
    assert "cdn.jsdelivr.net/npm/mathjax" not in html, f"{page} loads MathJax from a CDN"


@pytest.mark.parametrize("page, left_out", REAL_DATA_COPIES.items())
def test_real_data_copies_leave_the_datasets_images_out(page, left_out):
    html = (HTML / page).read_text(encoding="utf-8")
    assert html.count("Left out of this copy") == left_out, page


def test_mathjax_is_bundled():
    assert (HTML / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert "_static/mathjax/tex-chtml.js" in (HTML / "book" / "methods.html").read_text("utf-8")


def test_every_page_of_the_table_of_contents_is_checked():
    import yaml

    toc = yaml.safe_load((HTML.parents[1] / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]] + [
        chapter["file"] for part in toc["parts"] for chapter in part["chapters"]
    ]
    assert sorted(f"{page}.html" for page in pages) == sorted(CHAPTERS)
