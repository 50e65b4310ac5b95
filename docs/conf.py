"""Sphinx configuration for the neuroback documentation.

Builds offline: no intersphinx, math is emitted as MathJax markup and rendered
by the browser. Build with ``sphinx-build -W -b html docs docs/_build/html``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

project = "neuroback"
author = "The neuroback developers"
copyright = "The neuroback developers"

try:
    release = _dist_version("neuroback")
except PackageNotFoundError:  # building from a source tree that was never installed
    release = "0+unknown"
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []

# -- autodoc ------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "none"
autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
}

# -- napoleon (the built-ins use NumPy-style "Parameters" sections) -----------
napoleon_google_docstring = True
napoleon_numpy_docstring = True

nitpicky = False

# -- HTML ---------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"neuroback {release}"
html_theme_options = {
    "description": "Visible backpropagation; every part a plugin.",
    "fixed_sidebar": True,
}
