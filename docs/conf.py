"""Sphinx configuration for the neuroback documentation.

Builds offline: no intersphinx, math is emitted as MathJax markup and rendered
by the browser. Build with ``sphinx-build -W -b html docs docs/_build/html``.
"""

from __future__ import annotations

import re
import runpy
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from importlib.util import find_spec
from pathlib import Path

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

exclude_patterns = ["_build", "_scripts", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []

# -- autodoc ------------------------------------------------------------------
autodoc_member_order = "bysource"
# Signatures without annotations: the library's array aliases (``Array = Any``)
# would otherwise render as ``Any`` or as unresolved alias objects, and the
# docstrings already say what each argument is.
autodoc_typehints = "none"
autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
}

# -- napoleon (the built-ins use NumPy-style "Parameters" sections) -----------
napoleon_google_docstring = True
napoleon_numpy_docstring = True

nitpicky = False


# -- docstring fix-ups (rendering only; the library's docstrings stay as written) --
_SECTION_RULE = re.compile(r"^-{3,}\s*$")
_FIELD_SECTIONS = {"parameters", "other parameters", "returns", "yields", "raises", "attributes"}


def _doctest_after_field_section(app, what, name, obj, options, lines):
    """Give a doctest that directly follows a NumPy-style ``Parameters`` section its own
    ``Examples`` heading, so napoleon does not read the doctest as more parameters."""
    section = None
    out: list[str] = []
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and line.strip() and _SECTION_RULE.match(lines[i + 1]):
            section = line.strip().lower()
        elif (
            section in _FIELD_SECTIONS
            and line.startswith(">>>")
            and (not out or not out[-1].strip())
        ):
            out += ["Examples", "--------"]
            section = "examples"
        out.append(line)
    lines[:] = out


def _restore_attribute_colon(app, what, name, obj, options, lines):
    """napoleon reads ``"Summary: more text"`` in an attribute or property docstring as
    ``"type: description"``; put such a sentence back together."""
    if what not in {"attribute", "property", "data"}:
        return
    filled = [j for j, line in enumerate(lines) if line.strip()]
    if not filled or not lines[filled[-1]].startswith(":type: "):
        return
    phrase = lines[filled[-1]][len(":type: ") :]
    if " " not in phrase or "[" in phrase or not (phrase[:1].isupper() or phrase[:2] == "``"):
        return  # a real type such as ``dict[str, int]``
    body = list(lines[: filled[-1]])
    while body and not body[-1].strip():
        body.pop()
    first = next((j for j, line in enumerate(body) if line.strip()), None)
    if first is None:
        return
    body[first] = f"{phrase}: {body[first].lstrip()}"
    lines[:] = body


# -- generated figures --------------------------------------------------------------
# The gradient-flow plots of ``gradient-flow.rst`` are drawn at every build by
# ``_scripts/gradient_flow_plot.py`` (with neuroback's own GradientFlowMonitor.plot), into
# ``_static/`` (ignored by git: ``*.png``). They need matplotlib, which the ``examples``
# extra provides. Without it, the figures between the ``.. generated-figure-begin`` and
# ``.. generated-figure-end`` comments are replaced by a note, so the build stays free of
# "image file not readable" warnings.
_DOCS = Path(__file__).resolve().parent
_FIGURES_DRAWN = find_spec("matplotlib") is not None
if _FIGURES_DRAWN:
    runpy.run_path(str(_DOCS / "_scripts" / "gradient_flow_plot.py"))["main"](_DOCS / "_static")
    runpy.run_path(str(_DOCS / "_scripts" / "tutorial_figures.py"))["main"](_DOCS / "_static")

_GENERATED_FIGURES = re.compile(
    r"^\.\. generated-figure-begin\n.*?^\.\. generated-figure-end\n", re.MULTILINE | re.DOTALL
)
_NO_FIGURES_NOTE = """.. note::

   The plots are drawn when the documentation is built with matplotlib installed
   (``pip install "neuroback[examples]"``).

"""


def _drop_figures_without_matplotlib(app, docname, source):
    if not _FIGURES_DRAWN:
        source[0] = _GENERATED_FIGURES.sub(_NO_FIGURES_NOTE, source[0])


def setup(app):
    # napoleon converts docstrings at the default priority (500): fix before and after it.
    app.connect("autodoc-process-docstring", _doctest_after_field_section, priority=400)
    app.connect("autodoc-process-docstring", _restore_attribute_colon, priority=600)
    app.connect("source-read", _drop_figures_without_matplotlib)


# -- HTML ---------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"neuroback {release}"
html_theme_options = {
    "description": "Visible backpropagation; every part a plugin.",
    "fixed_sidebar": True,
}
