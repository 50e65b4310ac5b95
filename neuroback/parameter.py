"""Parameters: named arrays a model learns, each with its gradient."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, final

import numpy as np

from . import jit
from .backend import Array, Backend
from .errors import ShapeError
from .kernels import Kernel

__all__ = ["Parameter", "realize_gradients"]


@final
class Parameter:
    """A learnable array and the gradient accumulated for it.

    ``value`` is updated in place and never rebound by a training step, so
    optimizers, saved files and views all keep pointing at the same storage. Two
    things give it new storage, with the same numbers: ``model.to(backend)``, and
    binding an element-wise optimizer, which packs its parameters into one flat
    buffer per group (:mod:`neuroback.flat_buffers`): take ``p.value`` after
    ``bind``, not before.
    ``grad`` has the same shape and dtype; backward passes *add* into it
    (so shared weights and gradient accumulation need nothing special) and
    :meth:`zero_grad` clears it.

    :meth:`zero_grad` is lazy: it only marks the gradient as zero, and the next
    backward *writes* its gradient instead of adding it (one pass over memory
    instead of three). Reading :attr:`grad` always gives the true value.

    A parameter's ``name`` is its local name inside the layer that owns it
    (``"W"``); its stable dotted name within a model (``"0.W"``) is the key
    :meth:`Layer.named_parameters() <neuroback.Layer.named_parameters>` lists
    it under. A frozen parameter (``trainable=False``) still receives
    gradients but no optimizer updates it.

    Every change that an optimizer's cached step plan depends on (new storage, a
    changed ``trainable`` flag) advances :meth:`generation`, a counter shared by all
    parameters: an optimizer compares one number per step instead of re-checking
    every parameter (:mod:`neuroback.step_plan`).
    """

    __slots__ = ("_backend", "_grad", "_grad_is_zero", "_trainable", "_value", "name")

    #: Advanced by every storage rebinding and ``trainable`` change of any parameter.
    _generation: ClassVar[int] = 0

    def __init__(
        self, value: Array, *, name: str, backend: Backend, trainable: bool = True
    ) -> None:
        backend.check_native(value, f"Parameter {name!r}")
        self._backend = backend
        self._value = value
        self._grad = backend.xp.zeros_like(value)
        self._grad_is_zero = False  # True: the buffer is stale and logically all zeros
        self.name = name
        self._trainable = bool(trainable)

    @staticmethod
    def generation() -> int:
        """A number that changes whenever any parameter gets new storage (``model.to``, an
        optimizer packing it into flat buffers) or its ``trainable`` flag changes; what
        else a parameter does (values, gradients, in place) leaves it as it is."""
        return Parameter._generation

    @property
    def trainable(self) -> bool:
        """Whether an optimizer updates this parameter (``False``: frozen)."""
        return self._trainable

    @trainable.setter
    def trainable(self, flag: bool) -> None:
        flag = bool(flag)
        if flag != self._trainable:
            self._trainable = flag
            Parameter._generation += 1

    @property
    def value(self) -> Array:
        """The array itself. Change it in place (``p.value[...] = ...``) or with :meth:`assign`."""
        return self._value

    @property
    def grad(self) -> Array:
        """The accumulated gradient of the loss with respect to :attr:`value`."""
        if self._grad_is_zero:
            self._grad.fill(0)
            self._grad_is_zero = False
        return self._grad

    @property
    def backend(self) -> Backend:
        return self._backend

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._value.shape)

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._value.dtype

    @property
    def size(self) -> int:
        return int(self._value.size)

    def assign(self, new_value: Any) -> None:
        """Copy ``new_value`` (host or backend array) into :attr:`value`, in place."""
        arr = self._backend.asarray(new_value)
        if tuple(arr.shape) != self.shape:
            raise ShapeError(
                f"Cannot assign an array of shape {tuple(arr.shape)} to parameter {self.name!r} "
                f"of shape {self.shape}."
            )
        self._value[...] = arr

    def accumulate(self, gradient: Array) -> None:
        """Add ``gradient`` into :attr:`grad` in place (what a backward pass calls)."""
        if self._grad_is_zero:
            self._grad[...] = gradient
            self._grad_is_zero = False
        else:
            self._backend.xp.add(self._grad, gradient, out=self._grad)

    def accumulate_matmul(self, a: Array, b: Array) -> None:
        """Add ``a @ b`` into :attr:`grad`, writing the product in place when grad is zero."""
        xp = self._backend.xp
        if self._grad_is_zero:
            xp.matmul(a, b, out=self._grad)
            self._grad_is_zero = False
        else:
            xp.add(self._grad, a @ b, out=self._grad)

    def accumulate_sum(self, a: Array, axis: int = 0) -> None:
        """Add ``a.sum(axis)`` into :attr:`grad`, summing in place when grad is zero."""
        if self._grad_is_zero:
            if type(a) is np.ndarray:
                backend = self._backend
                fast = sum_rows.implementation_for(backend) if axis == 0 else None
                if fast is not None and fast is not sum_rows.reference:
                    fast(backend, a, self._grad)  # a bias gradient, compiled (sum_rows)
                else:  # ndarray.sum's own work (the reference's), without its wrapper
                    np.add.reduce(a, axis=axis, out=self._grad)
            else:  # the array's own method: no dispatch through xp.sum
                a.sum(axis=axis, out=self._grad)
            self._grad_is_zero = False
        else:
            self._backend.xp.add(self._grad, a.sum(axis=axis), out=self._grad)

    def zero_grad(self) -> None:
        """Make :attr:`grad` zero (lazily: the buffer is cleared or overwritten on next use)."""
        self._grad_is_zero = True

    def _adopt_storage(self, value: Array, grad: Array) -> None:
        """Use ``value`` and ``grad`` (views of an optimizer's flat buffers, already holding
        this parameter's numbers) as storage from now on: one of the two sanctioned
        rebindings (see :mod:`neuroback.flat_buffers`). The object keeps its identity."""
        if value.shape != self._value.shape or value.dtype != self._value.dtype:
            raise ValueError(
                f"Parameter {self.name!r}: new storage {value.shape} {value.dtype} does not "
                f"match {self._value.shape} {self._value.dtype}."
            )
        self._value = value
        self._grad = grad
        Parameter._generation += 1

    def _move_to(self, backend: Backend) -> None:
        """Re-home value and gradient on ``backend`` (a sanctioned rebinding)."""
        if backend is self._backend:
            return
        host_value = self._backend.to_host(self._value)
        host_grad = self._backend.to_host(self._grad)
        self._value = backend.asarray(host_value)
        self._grad = backend.asarray(host_grad)
        self._backend = backend
        Parameter._generation += 1

    def __repr__(self) -> str:
        flag = "" if self.trainable else ", frozen"
        return (
            f"Parameter({self.name!r}, shape={self.shape}, dtype={self.dtype}, "
            f"backend={self._backend.name!r}{flag})"
        )


def _sum_rows_reference(backend: Backend, a: Array, out: Array) -> None:
    """``out = a.sum(axis=0)`` for a 2-D ``a`` and a vector ``out`` of its columns."""
    backend.xp.sum(a, axis=0, out=out)


def _sum_rows_cases() -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    rng = np.random.default_rng(0)
    cases: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for dtype in (np.float32, np.float64):
        for rows, k in ((32, 8), (1, 3), (5, 1), (200, 2)):
            a = (rng.normal(size=(rows, k)) * 10.0 ** rng.integers(-3, 4, (rows, k))).astype(dtype)
            a[:, 0] = -0.0  # NumPy's sum starts from +0: a column of -0.0 sums to +0.0
            cases.append(((a, np.empty(k, dtype)), {}))
    return cases


#: A Dense bias gradient's column sums: ``out = a.sum(axis=0)``, compiled on NumPy where
#: numba is installed (see :func:`sum_rows_loop`).
sum_rows = Kernel("Parameter.sum_rows", _sum_rows_reference, example=_sum_rows_cases)


def sum_rows_loop(a: Array, out: Array) -> None:
    """``out[j] = ((0 + a[0, j]) + a[1, j]) + ...``: NumPy's ``add.reduce(a, axis=0)``
    step for step for a C-contiguous ``(n, k)`` array with ``k >= 2`` (it starts from its
    identity +0, so a column of -0.0 sums to +0.0, and adds the rows in order; with
    ``k == 1`` or columns in memory it sums pairwise, in another order)."""
    n, k = a.shape
    for j in range(k):
        out[j] = 0
    for i in range(n):
        for j in range(k):
            out[j] += a[i, j]


_sum_rows_loop = jit.compiled(sum_rows_loop, cache=True)
_ROW_SUM_DTYPES = frozenset({np.dtype(np.float32), np.dtype(np.float64)})

if jit.available():

    @sum_rows.implement("numpy")
    def _sum_rows_compiled(backend: Backend, a: Array, out: Array) -> None:
        """The compiled loop where ``a`` is a C-contiguous float32/64 ``(n, k >= 2)`` array
        and ``out`` a writeable NumPy vector of ``k`` of its dtype: NumPy's bits in one
        pass (NumPy starts a loop per row: 64 rows of 128, 5.2 us against 2.0 us); NumPy's
        own reduction for anything else."""
        if (
            type(a) is np.ndarray
            and a.ndim == 2
            and a.dtype in _ROW_SUM_DTYPES
            and type(out) is np.ndarray
            and out.dtype is a.dtype
            and out.shape == a.shape[1:]
            and a.shape[1] > 1
            and a.flags.c_contiguous
            and out.flags.writeable
        ):
            try:
                _sum_rows_loop(a, out)
                return
            except jit.Unavailable:
                pass
        np.add.reduce(a, axis=0, out=out)


def realize_gradients(params: Iterable[Parameter]) -> None:
    """Make every lazily zero gradient of ``params`` real (its buffer filled with zeros),
    as reading :attr:`Parameter.grad` would: for code that reads the gradient buffers
    directly, such as an optimizer's flat buffers (one loop, no property per parameter)."""
    for param in params:
        if param._grad_is_zero:
            param._grad.fill(0)
            param._grad_is_zero = False
