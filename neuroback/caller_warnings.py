"""Warnings that point at the user's code: the first frame outside neuroback.

``warnings.warn(..., stacklevel=n)`` names the frame ``n`` calls up, so a fixed ``n`` is
right only for one call path: when ``fit``'s loop moved into its own module the
non-finite warnings pointed at a line inside ``fit`` instead of the user's ``fit(...)``
call. :func:`warn_at_caller` walks up the stack past every frame of neuroback and of its
built-in plugins, whatever the depth, and warns from there.
"""

from __future__ import annotations

import os
import sys
import warnings

__all__ = ["warn_at_caller"]


def _package_dir(module_file: str) -> str:
    """The directory of a package's ``__init__.py``, with a trailing separator."""
    return os.path.dirname(os.path.abspath(module_file)) + os.sep


#: neuroback's own directory (this module lives in it)
_NEUROBACK_DIR = _package_dir(__file__)


#: modules whose frames are skipped too: the command line's framework (``neuroback train``
#: runs ``fit`` from inside click)
_FRAMEWORKS = ("click.",)


def _skipped(filename: str, module: str) -> bool:
    """Whether a frame of ``filename`` (module ``module``) belongs to neuroback, its
    built-in plugins or the command line's framework."""
    if filename.startswith(_NEUROBACK_DIR) or module.startswith(_FRAMEWORKS):
        return True
    builtins = sys.modules.get("neuroback_builtins")
    file = getattr(builtins, "__file__", None)
    return bool(file) and filename.startswith(_package_dir(file))


def warn_at_caller(message: str, category: type[Warning]) -> None:
    """``warnings.warn(message, category)`` attributed to the nearest caller outside
    neuroback, its built-in plugins and click; to the outermost frame if there is none
    (the ``neuroback`` command: its script, which calls neuroback's command line)."""
    frame = sys._getframe(1)
    level = 2  # stacklevel 2 names our caller
    while frame.f_back is not None and _skipped(
        frame.f_code.co_filename, str(frame.f_globals.get("__name__", ""))
    ):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
