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
autodoc_default_options = {"members": True, "undoc-members": False}

html_theme = "alabaster"
html_title = "tornio"
html_theme_options = {
    "description": "Socket.IO 0.9 and v5 on Tornado",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "230px",
}
