"""Sphinx configuration of OpenLab's documentation site (``nox -s docs``).

The pages are the Markdown files of this folder (MyST); the API reference is generated
from the docstrings of labcore, every codebase and labbench (autodoc + autosummary,
Google-style sections through napoleon). Warnings are errors in ``nox -s docs``.
"""

from __future__ import annotations

project = "OpenLab"
author = "OpenLab developers"
copyright = "OpenLab developers"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "README.md", "tests"]
templates_path = ["_templates"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {
    "members": True,
    "undoc-members": False,
    "show-inheritance": True,
    # a package documents what it defines; what it re-exports (its __all__) is documented
    # once, in the module that defines it
    "ignore-module-all": True,
}
autodoc_typehints = "description"
autodoc_member_order = "bysource"
# The API pages document OpenLab's own code; what it builds on is named, not documented.
autodoc_mock_imports: list[str] = []
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
# "Attributes:" sections of dataclasses become :ivar: fields, so autodoc's own entries for
# the same attributes are not described twice.
napoleon_use_ivar = True
# Docstrings name types of torch, MMEngine and numpy in annotations; Sphinx cannot
# resolve those cross-references without their inventories, which are not fetched here.
nitpicky = False
# A class re-exported by its package (labcore.zoo.ZooError from labcore.zoo.errors) is one
# object found under two names; the references to it are right either way.
suppress_warnings = ["ref.python"]

html_theme = "furo"
html_title = "OpenLab"


def _write_leaderboard_page(app) -> None:
    """docs/_generated/leaderboard.md: the leaderboard of the last default sweep of this
    checkout (``work_dirs/benchmark/leaderboard/leaderboard.md``, or the file
    ``$OPENLAB_LEADERBOARD`` names), or how to make one when no sweep has run here."""
    import os
    from pathlib import Path

    docs = Path(__file__).resolve().parent
    default = docs.parent / "work_dirs" / "benchmark" / "leaderboard" / "leaderboard.md"
    source = Path(os.environ.get("OPENLAB_LEADERBOARD", default))
    page = docs / "_generated" / "leaderboard.md"
    page.parent.mkdir(exist_ok=True)
    if source.is_file():
        text = source.read_text()
        text = "# Leaderboard of the default sweep\n\n" + text.split("\n", 1)[-1]
    else:
        text = (
            "# Leaderboard of the default sweep\n\n"
            "No sweep has run in this checkout. `nox -s benchmark` trains every config of "
            "the tiny protocols over their seeds and writes "
            "`work_dirs/benchmark/leaderboard/leaderboard.md`"
            " (with CSV, LaTeX and HTML beside it); the next `nox -s docs` shows it here. See "
            "[protocols and fair comparison](../protocols.md) for how to read it.\n"
        )
    if not page.is_file() or page.read_text() != text:
        page.write_text(text)


def setup(app):
    app.connect("builder-inited", _write_leaderboard_page)
