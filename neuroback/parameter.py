"""Parameters: named arrays a model learns, each with its gradient."""

from __future__ import annotations

from typing import Any, final

import numpy as np

from .backend import Array, Backend
from .errors import ShapeError

__all__ = ["Parameter"]


@final
class Parameter:
    """A learnable array and the gradient accumulated for it.

    ``value`` is updated in place and never rebound by training code, so
    optimizers, saved files and views all keep pointing at the same storage.
    ``grad`` has the same shape and dtype; backward passes *add* into it
    (so shared weights and gradient accumulation need nothing special) and
    :meth:`zero_grad` clears it.

    A parameter's ``name`` is its local name inside the layer that owns it
    (``"W"``); its stable dotted name within a model (``"0.W"``) is the key
    :meth:`Layer.named_parameters() <neuroback.Layer.named_parameters>` lists
    it under. A frozen parameter (``trainable=False``) still receives
    gradients but no optimizer updates it.
    """

    __slots__ = ("_backend", "_grad", "_value", "name", "trainable")

    def __init__(
        self, value: Array, *, name: str, backend: Backend, trainable: bool = True
    ) -> None:
        backend.check_native(value, f"Parameter {name!r}")
        self._backend = backend
        self._value = value
        self._grad = backend.xp.zeros_like(value)
        self.name = name
        self.trainable = trainable

    @property
    def value(self) -> Array:
        """The array itself. Change it in place (``p.value[...] = ...``) or with :meth:`assign`."""
        return self._value

    @property
    def grad(self) -> Array:
        """The accumulated gradient of the loss with respect to :attr:`value`."""
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
        self._backend.xp.add(self._grad, gradient, out=self._grad)

    def zero_grad(self) -> None:
        """Set :attr:`grad` to zero, in place."""
        self._grad.fill(0)

    def _move_to(self, backend: Backend) -> None:
        """Re-home value and gradient on ``backend`` (the one sanctioned rebinding)."""
        if backend is self._backend:
            return
        host_value = self._backend.to_host(self._value)
        host_grad = self._backend.to_host(self._grad)
        self._value = backend.asarray(host_value)
        self._grad = backend.asarray(host_grad)
        self._backend = backend

    def __repr__(self) -> str:
        flag = "" if self.trainable else ", frozen"
        return (
            f"Parameter({self.name!r}, shape={self.shape}, dtype={self.dtype}, "
            f"backend={self._backend.name!r}{flag})"
        )
