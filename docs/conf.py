"""Sphinx configuration of tornio's documentation (pages in Markdown, read by MyST).

Build: ``python -m sphinx -W --keep-going -b html docs build/docs`` (``scripts/test`` does,
with ``pip install -e '.[docs]'``).
"""

from __future__ import annotations

import sys
from pathlib import Path

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


def _settings_docs(app, what, name, obj, options, lines):  # type: ignore[no-untyped-def]
    """Each setting's documentation as written above it in tornio/settings.py.

    napoleon reads an attribute docstring's text before its first colon as a type
    ("Allowed origins, node 0.9 style: ..." would lose its first words): the settings'
    comments are prose, so they are put back whole after napoleon has run.
    """
    prefix = "tornio.settings.Settings."
    if what == "attribute" and name.startswith(prefix):
        from sphinx.pycode import ModuleAnalyzer

        docs = ModuleAnalyzer.for_module("tornio.settings").find_attr_docs()
        original = docs.get(("Settings", name[len(prefix):]))
        if original is not None:
            lines[:] = list(original)


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("autodoc-process-docstring", _settings_docs, priority=900)
smartquotes = False  # "--workers" stays two hyphens, quotes stay straight
