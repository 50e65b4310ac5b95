"""Optional loops compiled with numba, for the NumPy backend's fast kernels.

Some computations are loops NumPy can only run as many small vectorised passes: the
fold of a convolution's input gradient adds one strided block per kernel offset, each
pass over memory too short for NumPy's inner loops. Written as the loop it is and
compiled by `numba <https://numba.pydata.org>`_, the same arithmetic in the same order
runs in one pass (bitwise equal to the NumPy version: no ``fastmath``).

numba is optional (``pip install "neuroback[numba]"``). A fast kernel for the
``"numpy"`` backend that needs it registers only where :func:`available` says numba is
installed; otherwise its :class:`~neuroback.kernels.Kernel` runs the NumPy reference.
``NEUROBACK_JIT=0`` turns the compiled loops off without uninstalling numba (read once,
at the kernels' import); ``NEUROBACK_REFERENCE_KERNELS=1`` turns every fast version off.

Loops are compiled on first use, not at import (numba's import and each compilation take
about a second), and once per process and argument types. A loop made with
``compiled(fn, cache=True)`` (a function defined at a module's top level) is also kept in
numba's on-disk cache (``__pycache__`` beside its module, or ``NUMBA_CACHE_DIR``), so a
later process loads it instead of compiling it again.

>>> import numpy as np
>>> from neuroback import jit
>>> def total(values):
...     s = 0.0
...     for v in values:
...         s += v
...     return s
>>> loop = jit.compiled(total)   # compiled at its first call where numba is installed
>>> loop(np.array([1.0, 2.0]))
3.0
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable
from typing import Any

from .switches import env_flag

__all__ = ["Unavailable", "available", "compiled"]

_available: bool | None = None
#: why numba gave up in this process (then every compiled loop raises Unavailable)
_gave_up: str | None = None


class Unavailable(RuntimeError):
    """numba is installed but could not compile a loop (it does not import, or it refuses
    the argument types): the caller runs its NumPy reference instead."""


def available() -> bool:
    """Whether compiled loops are used: numba is installed and ``NEUROBACK_JIT`` is not off.

    Only looked up here (importing numba takes about a second); a numba that is installed
    but fails to import is found at the first compilation, which then raises
    :class:`Unavailable` (with a ``RuntimeWarning``, once) and turns this to ``False``."""
    global _available
    if _available is None:
        _available = (
            env_flag("NEUROBACK_JIT", default=True)
            and importlib.util.find_spec("numba") is not None
        )
    return _available


def _give_up(why: str) -> Unavailable:
    global _available, _gave_up
    _gave_up = why
    if _available:
        warnings.warn(
            f"neuroback.jit: numba cannot compile ({why}); the NumPy references run instead. "
            f"Set NEUROBACK_JIT=0 to silence this.",
            RuntimeWarning,
            stacklevel=3,
        )
    _available = False
    return Unavailable(why)


class compiled:  # lower case: used like a decorator function
    """``fn`` compiled with ``numba.njit`` at its first call (plain Python where numba is
    not installed): a loop written once, readable as Python, run as machine code.

    Where numba is installed but cannot import, or refuses the arguments' types, the
    call raises :class:`Unavailable`, and so does every compiled loop's call after it in
    the process; a kernel's compiled version catches it and runs its NumPy version (never
    the loop as interpreted Python, hundreds of times slower)."""

    __slots__ = ("__wrapped__", "_cache", "_compiled", "_fn", "_numba_error")

    def __init__(self, fn: Callable[..., Any], *, cache: bool = False) -> None:
        self._fn = fn
        #: whether numba keeps the machine code on disk for the next process
        self._cache = cache
        self._compiled: Callable[..., Any] | None = None
        #: numba's base error once compiled (an exception no call raises before that)
        self._numba_error: type[BaseException] = _NeverRaised
        self.__wrapped__ = fn

    def __call__(self, *args: Any) -> Any:
        if _gave_up is not None:  # the kernels that call it run their NumPy versions
            raise Unavailable(_gave_up)
        loop = self._compiled
        if loop is None:
            if not available():  # numba not installed, or NEUROBACK_JIT=0: plain Python
                loop = self._compiled = self._fn
                return loop(*args)
            try:
                import numba
                import numba.core.errors
            except Exception as exc:  # installed but broken (e.g. a NumPy it predates)
                raise _give_up(f"import numba: {type(exc).__name__}: {exc}") from exc
            self._numba_error = numba.core.errors.NumbaError
            loop = self._compiled = numba.njit(self._fn, nogil=True, cache=self._cache)
        try:
            return loop(*args)
        except self._numba_error as exc:  # types it cannot compile for, or cannot lower
            raise _give_up(f"{self._fn.__name__}: {str(exc).splitlines()[0]}") from exc


class _NeverRaised(Exception):
    """What :class:`compiled` catches before numba is imported: nothing."""
