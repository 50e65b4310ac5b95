"""Argument checks with clear messages, shared by the core and by plugins.

Each check returns the value in its canonical Python form (``int`` or
``float``: plain Python numbers keep float32 arrays float32 under NumPy 2's
promotion rules) or raises ``ValueError`` saying what was expected.

>>> from neuroback import checks
>>> checks.non_negative(0.9, "SGD momentum")
0.9
>>> checks.number(1.5, "Dropout p", low=0, high=1, high_open=True)
Traceback (most recent call last):
    ...
ValueError: Dropout p must be a number in [0, 1), got 1.5.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import ShapeError

__all__ = [
    "float_dtype",
    "gradient_shape",
    "non_negative",
    "non_negative_int",
    "number",
    "positive",
    "positive_int",
]


def _is_real(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float | np.integer | np.floating)


def number(
    value: Any,
    what: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = True,
) -> float:
    """A real number within the given bounds, as a Python float (finite unless
    ``finite=False``, for limits where infinity means "no limit")."""
    ok = _is_real(value) and not math.isnan(float(value))
    if ok and finite and not math.isfinite(float(value)):
        raise ValueError(f"{what} must be a finite number, got {value!r}.")
    if ok and low is not None:
        ok = float(value) > low if low_open else float(value) >= low
    if ok and high is not None:
        ok = float(value) < high if high_open else float(value) <= high
    if ok:
        return float(value)
    if low is not None and high is not None:
        expected = (
            f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        )
    elif low is not None:
        expected = (
            f"a {'positive' if low_open else 'non-negative'} number"
            if low == 0
            else f"a number {'>' if low_open else '>='} {low:g}"
        )
    elif high is not None:
        expected = f"a number {'<' if high_open else '<='} {high:g}"
    else:
        expected = "a finite number"
    raise ValueError(f"{what} must be {expected}, got {value!r}.")


def non_negative(value: Any, what: str, *, finite: bool = True) -> float:
    """A number >= 0 (finite unless ``finite=False``)."""
    return number(value, what, low=0, finite=finite)


def positive(value: Any, what: str, *, finite: bool = True) -> float:
    """A number > 0 (finite unless ``finite=False``)."""
    return number(value, what, low=0, low_open=True, finite=finite)


def positive_int(value: Any, what: str) -> int:
    """An integer >= 1 (``bool`` refused)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}.")
    return int(value)


def non_negative_int(value: Any, what: str) -> int:
    """An integer >= 0 (``bool`` refused)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {value!r}.")
    return int(value)


def float_dtype(value: Any) -> np.dtype[Any]:
    """A floating NumPy dtype for parameters, from a name or dtype (``"float32"``,
    ``np.float64``).

    float16 is refused: its smallest normal number is about 6e-5 and Adam's
    ``eps=1e-8`` rounds to 0 in it, so plain float16 training turns to NaN.
    Mixed precision (float16 compute, float32 master weights) is later work.

    >>> float_dtype("float16")
    Traceback (most recent call last):
        ...
    ValueError: float16 parameters are not supported yet: float16 cannot hold small values
    such as Adam's eps=1e-8 (it rounds to 0), so training turns to NaN. Use dtype='float32'
    (or 'float64'); mixed precision is planned.
    """
    try:
        dtype = np.dtype(value)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind != "f":
        raise ValueError(
            f"dtype must be a floating-point type such as 'float32' or 'float64', got {value!r}."
        )
    if dtype.itemsize < 4:
        raise ValueError(
            f"{dtype.name} parameters are not supported yet: {dtype.name} cannot hold small "
            "values such as Adam's eps=1e-8 (it rounds to 0), so training turns to NaN. Use "
            "dtype='float32' (or 'float64'); mixed precision is planned."
        )
    return dtype


def gradient_shape(owner: Any, dy: Any, expected: tuple[int, ...]) -> None:
    """Raise :class:`~neuroback.errors.ShapeError` unless a backward gradient has the
    shape of the forward output it belongs to."""
    if tuple(dy.shape) != tuple(expected):
        raise ShapeError(
            f"{owner!r}.backward expected a gradient of shape {tuple(expected)}, got "
            f"{tuple(dy.shape)}: it must match the shape of the forward output."
        )
