"""What the book's pages compute, so that each table is computed in one place and tested.

Also a Sphinx extension (``_config.yml`` lists ``studylib.chapters`` in ``extra_extensions``):
every page that the build executes is executed again at every build. Sphinx re-reads only the
sources whose files changed, but a report page's source does not change when ``results/`` does,
so without this a second build after new runs kept the old numbers beside the new executed
notebooks. Pages that are not executed (markdown, the executed notebooks shown as they ran) keep
Sphinx's usual change detection.
"""

from __future__ import annotations

from typing import Any


def _reread_executed_pages(app: Any, doctree: Any) -> None:
    """Mark the page being read to be read (and so executed) again at the next build, when
    myst-nb executed it in this one."""
    from myst_nb.sphinx_ import NbMetadataCollector

    env = app.env
    if NbMetadataCollector.get_exec_data(env, env.docname):
        env.note_reread()


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point: connect the re-read rule."""
    app.setup_extension("myst_nb")
    app.connect("doctree-read", _reread_executed_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
