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


def _skipped(filename: str) -> bool:
    """Whether a frame of ``filename`` belongs to neuroback or its built-in plugins."""
    if filename.startswith(_NEUROBACK_DIR):
        return True
    builtins = sys.modules.get("neuroback_builtins")
    file = getattr(builtins, "__file__", None)
    return bool(file) and filename.startswith(_package_dir(file))


def warn_at_caller(message: str, category: type[Warning]) -> None:
    """``warnings.warn(message, category)`` attributed to the nearest caller outside
    neuroback (and its built-in plugins); to the outermost frame if there is none (the
    ``neuroback`` command, whose whole stack is ours)."""
    frame = sys._getframe(1)
    level = 2  # stacklevel 2 names our caller
    while frame.f_back is not None and _skipped(frame.f_code.co_filename):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
