"""The array backend: one object that carries the array module and its kernels.

Layers never call ``numpy`` directly; they call ``backend.xp`` (NumPy or CuPy),
so the same code runs on the CPU and the GPU. The few operations worth fusing on
a GPU are methods of :class:`Backend`, written once here with ``xp`` and
overridden by a subclass only where it can do better (the shape of thinc's
``Ops``/``CupyOps``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

import numpy as np

from ..errors import BackendMismatchError

__all__ = ["Array", "Backend"]

#: ``all_finite``'s answers on the host: read-only 0-d arrays made once (``np.asarray``
#: costs about a microsecond a step, and nobody may change the shared answer in place)
_HOST_TRUE = np.asarray(True)
_HOST_TRUE.flags.writeable = False
_HOST_FALSE = np.asarray(False)
_HOST_FALSE.flags.writeable = False

#: Any array of the active backend (``numpy.ndarray`` or ``cupy.ndarray``).
Array = Any


class Backend(ABC):
    """An array library plus host transfers, a random generator and fused kernels.

    Subclasses set :attr:`name` and :attr:`xp` and implement the host/device
    conversions. Everything else is written once in terms of ``xp``.
    """

    #: The name users select this backend by (``"numpy"``, ``"cupy"``).
    name: str
    #: The array module: ``numpy`` or ``cupy``.
    xp: ModuleType
    #: Whether reading a value on the host is free (the CPU). Where it is not (a GPU),
    #: checks inside a step stay on the device and are read at the next log.
    host_reads_are_free: bool = False

    # -- arrays and transfers ------------------------------------------------
    @property
    @abstractmethod
    def array_type(self) -> type:
        """The array class of this backend (used to check inputs)."""

    @abstractmethod
    def asarray(self, data: Any, dtype: Any = None) -> Array:
        """Return ``data`` as an array on this backend (copying from the host if needed)."""

    @abstractmethod
    def to_host(self, array: Array) -> np.ndarray:
        """Return a NumPy copy (or view, on the CPU) of a backend array."""

    def is_native(self, array: Any) -> bool:
        """Whether ``array`` is an array of this backend."""
        return isinstance(array, self.array_type)

    def check_native(self, array: Any, owner: str) -> None:
        """Raise :class:`BackendMismatchError` unless ``array`` belongs to this backend.

        ``owner`` names the component that received the array, for the message.
        """
        if not isinstance(array, self.array_type):
            got = f"{type(array).__module__}.{type(array).__qualname__}"
            raise BackendMismatchError(
                f"{owner} lives on the {self.name!r} backend but was given a {got}. "
                f"Move the data with neuroback.get_backend({self.name!r}).asarray(x), "
                f"or move the model with model.to(<backend of the data>)."
            )

    # -- randomness ----------------------------------------------------------
    def generator(self, seed: int | None = None) -> Any:
        """A fresh random generator living on this backend (for dropout masks and the like)."""
        return self.xp.random.default_rng(seed)

    def generator_state(self, generator: Any) -> dict[str, Any] | None:
        """The state of a :meth:`generator` as JSON values, or ``None`` where the backend's
        generators expose none (CuPy's), so a checkpoint cannot restore its stream."""
        bit_generator = getattr(generator, "bit_generator", None)
        state = getattr(bit_generator, "state", None)
        return dict(state) if isinstance(state, dict) else None

    def set_generator_state(self, generator: Any, state: Mapping[str, Any]) -> None:
        """Put back a state :meth:`generator_state` returned."""
        try:
            generator.bit_generator.state = dict(state)
        except (AttributeError, TypeError, ValueError) as exc:
            raise ValueError(
                f"Cannot restore the random generator's state on the {self.name!r} backend: "
                f"{exc}. Was the checkpoint written with another generator?"
            ) from None

    def synchronize(self) -> None:  # noqa: B027 - deliberately a no-op on the CPU
        """Wait until queued device work has finished (a no-op on the CPU)."""

    def all_finite(self, arrays: Iterable[Array]) -> Array:
        r"""A 0-d boolean array (on the host, one of two shared read-only ones): whether
        every element of every array is finite.

        One reduction per array, :math:`s = \sum_a a \cdot a` (a dot product: the fastest
        full pass). Squares are never negative, so no two terms cancel: :math:`s` is finite
        exactly when every element is, unless finite values overflow the dtype. On the
        host that rare case is settled by the exact test :math:`\mathrm{isfinite}(a)`; on a
        device an overflowing gradient counts as non-finite (its update would overflow
        too).
        """
        if not isinstance(arrays, list):
            arrays = list(arrays)
        xp = self.xp
        if self.host_reads_are_free:  # vdot and Python floats raise no FP warnings (dot does)
            total = 0.0
            for a in arrays:
                if a.ndim:
                    total += float(xp.vdot(a, a))  # flattens in C: no reshape per array
                else:  # a loss: a 0-d dot product costs more than reading the value
                    value = float(a)
                    total += value * value
            if math.isfinite(total) or all(bool(xp.isfinite(a).all()) for a in arrays):
                return _HOST_TRUE
            return _HOST_FALSE
        with np.errstate(over="ignore", invalid="ignore"):
            ok = xp.ones((), dtype=bool)
            for a in arrays:
                flat = a.reshape(-1)
                ok &= xp.isfinite(xp.dot(flat, flat))
        return ok

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
