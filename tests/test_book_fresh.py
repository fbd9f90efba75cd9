"""The book shows the records on disk: a second build after a record changed shows the new number.

A tiny book with the project's own ``_config.yml`` (its execution settings and extensions) is
built, a record is changed, and the book is built again the way ``make book`` builds it (no
``--all``, strict as ``make test``). Sphinx alone re-reads only changed sources, so a page kept
the old number before ``studylib.chapters``. Two kinds of page are checked: one that computes from
a record, and a chapter that pastes what an experiment notebook published (the notebook computes,
the chapter explains: ``studylib.publish``), which must follow the record too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _jupyter_book() -> str:
    script = Path(sys.executable).with_name("jupyter-book")
    found = str(script) if script.is_file() else shutil.which("jupyter-book")
    if found is None:
        pytest.skip("jupyter-book is not installed")
    return found


def _book(tmp_path: Path) -> Path:
    """A book folder with the project's ``_config.yml`` and a table of contents of one page."""
    book = tmp_path / "book"
    book.mkdir()
    shutil.copy(ROOT / "_config.yml", book / "_config.yml")
    (book / "_toc.yml").write_text("format: jb-book\nroot: page\n", encoding="utf-8")
    return book


def _page() -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# A page that reads a record"),
        nbformat.v4.new_code_cell(
            "import json\n"
            "value = json.load(open('results/run/metrics.json'))['pckh']\n"
            "print(f'PCKh is {value:.2f} here')"
        ),
    ]
    return notebook


def _build(book: Path, page: str = "page") -> str:
    """Build ``book`` as ``make book`` does (strict, not ``--all``); the HTML of ``page``."""
    done = subprocess.run(
        [_jupyter_book(), "build", str(book), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return (book / "_build" / "html" / f"{page}.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_a_second_build_shows_a_changed_record(tmp_path):
    book = _book(tmp_path)
    (book / "results" / "run").mkdir(parents=True)
    nbformat.write(_page(), book / "page.ipynb")
    record = book / "results" / "run" / "metrics.json"

    record.write_text(json.dumps({"pckh": 41.25}), encoding="utf-8")
    assert "PCKh is 41.25 here" in _build(book)

    record.write_text(json.dumps({"pckh": 57.75}), encoding="utf-8")
    html = _build(book)
    assert "PCKh is 57.75 here" in html
    assert "41.25" not in html


def _publishing_notebook() -> nbformat.NotebookNode:
    """An experiment notebook in miniature: it reads a record and publishes a table and a
    reading, and says whether it may train (the book's build must only read)."""
    notebook = _page()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# An experiment notebook"),
        nbformat.v4.new_code_cell(
            "import json\n"
            "import pandas as pd\n"
            "from studylib.publish import read_only, show\n"
            "value = json.load(open('../results/run/metrics.json'))['pckh']\n"
            "show('scores', pd.DataFrame({'PCKh': [value]}, index=['hourglass']))\n"
            "show('reading', f'The hourglass scores **{value:.2f}**; read only: {read_only()}.')"
        ),
    ]
    return notebook


CHAPTER = """# A chapter

It explains what the notebook computed.

```{glue:any} scores
:doc: logs/experiment.ipynb
```

```{glue:any} reading
:doc: logs/experiment.ipynb
```
"""


@pytest.mark.slow
def test_a_chapter_pastes_what_the_notebook_published_from_the_records_now_on_disk(tmp_path):
    book = _book(tmp_path)
    # As in the book: the chapter and the notebook are siblings (a page whose table of contents
    # lists the notebook would be rewritten with it anyway).
    (book / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n  - file: chapter\n  - file: logs/experiment\n",
        encoding="utf-8",
    )
    (book / "intro.md").write_text("# A book\n", encoding="utf-8")
    (book / "results" / "run").mkdir(parents=True)
    (book / "logs").mkdir()
    nbformat.write(_publishing_notebook(), book / "logs" / "experiment.ipynb")
    (book / "chapter.md").write_text(CHAPTER, encoding="utf-8")
    record = book / "results" / "run" / "metrics.json"

    record.write_text(json.dumps({"pckh": 41.25}), encoding="utf-8")
    html = _build(book, "chapter")
    assert "<strong>41.25</strong>" in html and "41.25</td>" in html
    assert "read only: True" in html  # the build's notebooks never train

    record.write_text(json.dumps({"pckh": 57.75}), encoding="utf-8")
    html = _build(book, "chapter")
    assert "<strong>57.75</strong>" in html and "57.75</td>" in html
    assert "41.25" not in html


@pytest.mark.slow
def test_the_book_bundles_mathjax(tmp_path):
    """Equations typeset offline: the page loads MathJax from the book itself, not a CDN."""
    book = _book(tmp_path)
    (book / "page.md").write_text("# Math\n\n$$\nX^{(i+1)} = f(X^{(i)})\n$$\n", encoding="utf-8")
    html = _build(book)
    assert "_static/mathjax/tex-chtml.js" in html
    assert "cdn.jsdelivr" not in html
    assert (book / "_build" / "html" / "_static" / "mathjax" / "tex-chtml.js").is_file()
