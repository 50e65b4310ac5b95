"""The CPU backend: NumPy."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Array, Backend

__all__ = ["NumpyBackend"]


class NumpyBackend(Backend):
    """Arrays are ``numpy.ndarray``; host transfers are free."""

    name = "numpy"
    host_reads_are_free = True
    xp = np
    #: a class attribute, not the base class's property: read by every layer's input check
    array_type = np.ndarray

    def asarray(self, data: Any, dtype: Any = None) -> Array:
        if hasattr(data, "__cuda_array_interface__") and hasattr(data, "get"):
            data = data.get()  # a CuPy array coming back to the host
        return np.asarray(data, dtype=dtype)

    def to_host(self, array: Array) -> np.ndarray:
        return np.asarray(array)
