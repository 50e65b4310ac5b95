"""Argument checks shared by the built-in components."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["float_dtype", "positive_int"]


def positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}.")
    return int(value)


def float_dtype(value: Any) -> np.dtype:
    try:
        dtype = np.dtype(value)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind != "f":
        raise ValueError(
            f"dtype must be a floating-point type such as 'float32' or 'float64', got {value!r}."
        )
    return dtype
