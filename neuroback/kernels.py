r"""Kernels beside their rules: one computation, a reference and fast versions per backend.

An update rule or a layer keeps its arithmetic next to its math, as a :class:`Kernel`:

* a **reference** implementation, written once against the array API of
  ``backend.xp``, that runs on every backend (NumPy, CuPy, the strict test backend);
* optionally, **fast** implementations for named backends (a fused
  ``cupy.ElementwiseKernel`` for ``"cupy"``, a JIT-compiled loop for ``"numpy"``), each
  registered with :meth:`Kernel.implement` in the same module as the reference.

Calling the kernel runs the fast version for the backend it is given when there is one,
and the reference otherwise. The reference is the definition: every fast version is
compared with it (:func:`neuroback.testing.check_kernel`), and
``NEUROBACK_REFERENCE_KERNELS=1`` (or :func:`reference_kernels` in code) runs the
references everywhere, to tell a numerical difference from a bug. Kernels change their
arguments in place and return nothing, or return new arrays; either way, what a fast
version does must be what the reference does.

>>> import numpy as np
>>> import neuroback as nb
>>> def axpy_reference(backend, y, x, *, a):          # y <- y + a x, in place
...     y += a * x
>>> axpy = Kernel("axpy", axpy_reference,
...               example=lambda: [((np.ones(3), np.arange(3.0)), {"a": 2.0})])
>>> numpy = nb.get_backend("numpy")
>>> y = np.ones(3)
>>> axpy(numpy, y, np.arange(3.0), a=2.0)
>>> y
array([1., 3., 5.])
>>> @axpy.implement("numpy")
... def axpy_numpy(backend, y, x, *, a):              # the same, with no temporary
...     np.add(y, np.multiply(x, a, out=np.empty_like(x)), out=y)
>>> sorted(axpy.implementations)
['numpy']
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .switches import env_flag

__all__ = [
    "SMALL_SCRATCH",
    "Kernel",
    "kernels",
    "reference_kernels",
    "scratch_like",
    "scratch_session",
]

#: ``(args, kwargs)`` pairs of host (NumPy) inputs; arrays are moved to the backend.
ExampleCases = Sequence[tuple[tuple[Any, ...], dict[str, Any]]]

_ALL: list[Kernel] = []

#: Whether every kernel runs its reference: ``None`` until the environment is read (once).
_reference_only: bool | None = None


def _read_switch() -> bool:
    global _reference_only
    if _reference_only is None:
        _reference_only = env_flag("NEUROBACK_REFERENCE_KERNELS")
    return _reference_only


@contextlib.contextmanager
def reference_kernels(enabled: bool = True) -> Iterator[None]:
    """Within the block, every :class:`Kernel` runs its reference implementation
    (``enabled=False``: the fast ones again, whatever the environment says). The switch
    is process-wide: it holds for every thread while the block runs."""
    global _reference_only
    before = _read_switch()
    _reference_only = enabled
    try:
        yield
    finally:
        _reference_only = before


class Kernel:
    """A named computation with a reference implementation and fast ones per backend.

    ``reference(backend, *args, **kwargs)`` uses only ``backend.xp`` (the array API that
    NumPy, CuPy and the strict backend share). ``example()``, when given, returns cases
    ``[(args, kwargs), ...]`` with host arrays, on which the conformance kit compares
    every fast implementation with the reference.
    """

    def __init__(
        self,
        name: str,
        reference: Callable[..., Any],
        *,
        example: Callable[[], ExampleCases] | None = None,
    ) -> None:
        self.name = name
        self.reference = reference
        self.example = example
        self.implementations: dict[str, Callable[..., Any]] = {}
        _ALL.append(self)

    def implement(self, backend_name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: ``fn(backend, *args, **kwargs)`` is the fast version on the backend
        called ``backend_name``; it must compute what the reference computes."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.implementations[backend_name] = fn
            return fn

        return register

    def implementation_for(self, backend: Any) -> Callable[..., Any]:
        """The function a call on ``backend`` runs: its fast version, or the reference."""
        if _reference_only is not False and _read_switch():
            return self.reference
        return self.implementations.get(backend.name, self.reference)

    def __call__(self, backend: Any, *args: Any, **kwargs: Any) -> Any:
        # implementation_for, inlined: this runs once per parameter and step
        if _reference_only is not False and _read_switch():
            return self.reference(backend, *args, **kwargs)
        return self.implementations.get(backend.name, self.reference)(backend, *args, **kwargs)

    def __repr__(self) -> str:
        fast = ", ".join(sorted(self.implementations)) or "none"
        return f"<Kernel {self.name!r}: reference, fast on {fast}>"


def kernels() -> list[Kernel]:
    """Every :class:`Kernel` created so far (the built-ins' once their plugin is loaded)."""
    return list(_ALL)


_scratch = threading.local()


class scratch_session:  # lower case: used like a function, ``with scratch_session():``
    """Within the block, :func:`scratch_like` lends one reused buffer per backend and
    dtype; when the block ends the buffers are released, so no scratch memory outlives it.

    :meth:`Optimizer.step <neuroback.Optimizer.step>` opens one around its updates: every
    parameter's kernel reuses the same buffer, and between steps (during the forward and
    backward passes, when memory peaks) none is held. A nested session shares the outer
    one's buffers. (A class rather than a generator: it is entered at every step.)
    """

    __slots__ = ("_outer",)

    def __enter__(self) -> None:
        self._outer = getattr(_scratch, "active", False)
        if not self._outer:
            _scratch.active, _scratch.views, _scratch.buffers = True, {}, {}

    def __exit__(self, *exc: object) -> None:
        if not self._outer:
            _scratch.active, _scratch.views, _scratch.buffers = False, {}, {}


#: Below this many elements a temporary is cheaper to allocate than to look up.
SMALL_SCRATCH = 1 << 14


def scratch_like(backend: Any, array: Any) -> Any:
    """A scratch array with ``array``'s shape and dtype, for a fast kernel's temporaries.

    Its contents are garbage. Inside a :func:`scratch_session` (an optimizer step opens
    one) it is a view of one flat buffer per backend and dtype, grown to the largest size
    asked for and reused by every call, so the kernels of all parameters share one
    temporary the size of the largest parameter; the view is lent until the next call
    in the same thread, so a kernel must not hold it across calls, nor ask for two at
    once. Outside a session, or for fewer than :data:`SMALL_SCRATCH` elements (where an
    allocation costs less than the lookup), it is a new array.
    """
    if array.size < SMALL_SCRATCH or not getattr(_scratch, "active", False):
        return backend.xp.empty(array.shape, dtype=array.dtype)
    views = _scratch.views
    shape = array.shape
    key = (backend.name, array.dtype, shape)
    view = views.get(key)
    if view is not None:
        return view
    buffers = _scratch.buffers
    flat_key = (backend.name, array.dtype)
    size = int(array.size)
    flat = buffers.get(flat_key)
    if flat is None or flat.size < size:
        flat = buffers[flat_key] = backend.xp.empty(size, dtype=array.dtype)
        for stale in [k for k in views if k[:2] == flat_key]:  # views of the old buffer
            del views[stale]
    view = views[key] = flat[:size].reshape(shape)
    return view
