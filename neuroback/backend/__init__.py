"""Choosing the array backend: NumPy on the CPU, CuPy on the GPU.

The backend is resolved once, when a layer is built or a Trainer starts, in this
order: an explicit ``backend=`` argument, the innermost :func:`use_backend`
context, the ``NEUROBACK_BACKEND`` environment variable, then ``"numpy"``.

>>> import neuroback as nb
>>> nb.get_backend().name
'numpy'
>>> with nb.use_backend("numpy") as be:
...     be.xp.__name__
'numpy'
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..errors import BackendError, BackendMismatchError
from .base import Array, Backend
from .numpy_backend import NumpyBackend

__all__ = [
    "Array",
    "Backend",
    "BackendLike",
    "array_namespace",
    "available_backends",
    "configured_backend",
    "get_backend",
    "register_backend",
    "use_backend",
]

#: What the ``backend=`` arguments accept: a name or a :class:`Backend`.
BackendLike = str | Backend | None

ENV_VAR = "NEUROBACK_BACKEND"


def _cupy_factory() -> Backend:
    from .cupy_backend import CupyBackend

    return CupyBackend()


_factories: dict[str, Callable[[], Backend]] = {"numpy": NumpyBackend, "cupy": _cupy_factory}
_instances: dict[str, Backend] = {}
_current: contextvars.ContextVar[Backend | None] = contextvars.ContextVar(
    "neuroback_backend", default=None
)


def register_backend(name: str, factory: Callable[[], Backend]) -> None:
    """Make a backend selectable by ``name`` (``factory`` is called once, on first use)."""
    _factories[name] = factory
    _instances.pop(name, None)


def available_backends() -> list[str]:
    """The names :func:`get_backend` accepts (CuPy is listed even if not installed)."""
    return sorted(_factories)


def _by_name(name: str) -> Backend:
    key = name.strip().lower()
    if key not in _factories:
        raise BackendError(
            f"Unknown backend {name!r}. Expected one of {available_backends()}; "
            f"set backend= or the {ENV_VAR} environment variable to one of them."
        )
    if key not in _instances:
        _instances[key] = _factories[key]()
    return _instances[key]


def get_backend(backend: BackendLike = None) -> Backend:
    """Resolve a backend: an explicit argument, else the active context, else the environment.

    Raises :class:`~neuroback.errors.BackendError` for an unknown name, or for
    ``"cupy"`` where CuPy or a GPU is missing (the message names the extra to install).
    """
    if isinstance(backend, Backend):
        return backend
    if backend is not None:
        if not isinstance(backend, str):
            raise BackendError(
                f"backend must be a name such as 'numpy' or 'cupy' or a Backend object, "
                f"got {type(backend).__name__}."
            )
        return _by_name(backend)
    active = _current.get()
    if active is not None:
        return active
    env = os.environ.get(ENV_VAR, "").strip()
    return _by_name(env or "numpy")


def array_namespace(array: Any) -> Any:
    """The ``xp`` module an array belongs to (for code handed bare arrays, like transforms).

    Only backends already in use are consulted, so this never imports CuPy.
    """
    for backend in _instances.values():
        if isinstance(array, backend.array_type) and backend.array_type is not np.ndarray:
            return backend.xp
    if isinstance(array, np.ndarray | np.generic):
        return np
    raise BackendMismatchError(
        f"{type(array).__module__}.{type(array).__qualname__} is not an array of any backend in "
        f"use ({sorted(_instances) or ['numpy']}). Convert it with backend.asarray(...)."
    )


def configured_backend() -> Backend | None:
    """The backend the user chose by context or environment, or ``None`` if neither is set.

    (``get_backend()`` falls back to NumPy; this tells an explicit choice apart.)
    """
    active = _current.get()
    if active is not None:
        return active
    env = os.environ.get(ENV_VAR, "").strip()
    return _by_name(env) if env else None


@contextlib.contextmanager
def use_backend(backend: str | Backend) -> Iterator[Backend]:
    """Build layers (and run Trainers) on ``backend`` inside a ``with`` block."""
    resolved = get_backend(backend)
    token = _current.set(resolved)
    try:
        yield resolved
    finally:
        _current.reset(token)
