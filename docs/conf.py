"""Sphinx configuration of tornio's documentation (pages in Markdown, read by MyST).

Build: ``python -m sphinx -W --keep-going -b html docs build/docs`` (``scripts/test`` does,
with ``pip install -e '.[docs]'``).
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

from sphinx.errors import PycodeError
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docstrings import prepare_docstring

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # tornio and workers, from this checkout
sys.path.insert(0, str(DOCS / "_ext"))

project = "tornio"
author = "the tornio authors"
copyright = "the tornio authors"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "tornio_docs",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "benchmarks/*.json"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
# A class's signature goes with its __init__, not above its docstring: Settings' would be a
# wall of forty keyword arguments, each documented below it anyway.
autodoc_class_signature = "separated"
autodoc_default_options = {"members": True, "undoc-members": False}

html_theme = "alabaster"
html_title = "tornio"
html_theme_options = {
    "description": "Socket.IO 0.9 and v5 on Tornado",
    "fixed_sidebar": True,
    "page_width": "1240px",
    "sidebar_width": "230px",
}
html_static_path = ["_static"]
html_css_files = ["tornio.css"]


def _prose_docs(app, what, name, obj, options, lines):  # type: ignore[no-untyped-def]
    """Attributes' and properties' documentation as written.

    napoleon reads the text before an attribute's or a property's first colon as its type
    ("Allowed origins, node 0.9 style: ..." would lose its first words): tornio writes those
    docstrings as prose, so they are put back whole after napoleon has run.
    """
    if what == "property":
        doc = inspect.getdoc(getattr(obj, "fget", None) or obj)
        if doc:
            lines[:] = prepare_docstring(doc)
    elif what == "attribute":
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):  # the longest importable prefix is the module
            module = ".".join(parts[:cut])
            try:
                docs = ModuleAnalyzer.for_module(module).find_attr_docs()
            except PycodeError:
                continue
            original = docs.get((".".join(parts[cut:-1]), parts[-1]))
            if original is not None:
                lines[:] = list(original)
            return


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("autodoc-process-docstring", _prose_docs, priority=900)
