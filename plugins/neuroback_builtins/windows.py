r"""Sliding windows over the spatial axes of ``(N, C, *spatial)`` arrays.

Convolution and pooling layers see their input through windows: for every output
position :math:`p` (a tuple of spatial indices) and kernel offset :math:`k`, the
window element read is

.. math::

    U(x)_{n,c,p,k} = \tilde x_{n,\,c,\; s \odot p \,+\, d \odot k}

where :math:`\tilde x` is the input padded on the spatial axes, :math:`s` the stride
and :math:`d` the dilation (products taken per spatial axis). Per axis the output has

.. math::

    \text{out} = \left\lfloor \frac{\text{size} + \text{pad}_\text{lo} + \text{pad}_\text{hi}
    - d\,(k-1) - 1}{s} \right\rfloor + 1

positions. :math:`U` is a linear map that only *reads*: :func:`unfold` builds it as a
strided view of :math:`\tilde x`, of shape ``(N, C, *out, *kernel)``, without copying
(an element of :math:`\tilde x` appears in every window that covers it).

The backward pass of anything computed from windows needs the adjoint :math:`U^\top`:
given a gradient :math:`G` with the windows' shape, every window element sends its
value back to the input element it was read from, and the contributions of
overlapping windows add up:

.. math::

    U^\top(G)_{n,c,i} = \sum_{p,k \,:\, s \odot p + d \odot k = i} G_{n,c,p,k}

:func:`fold` computes it with one strided slice ``+=`` per kernel offset :math:`k`
(all output positions at once), so :math:`\prod k` vectorised additions and never a
loop over positions, nor ``np.add.at``. :func:`unpad` then drops the padded border
(the adjoint of :func:`pad`).

Every function takes ``xp`` (the backend's array module: NumPy, CuPy or the strict
test backend) and uses only calls CuPy 13 offers too
(``xp.lib.stride_tricks.sliding_window_view`` is in CuPy since 13.0).

>>> import numpy as np
>>> x = np.arange(10.0).reshape(1, 1, 10)
>>> w = unfold(np, pad(np, x, ((1, 1),)), kernel=(3,), stride=(4,), dilation=(1,))
>>> w.shape, output_size(10, 3, 4, 1, 1, 1)
((1, 1, 3, 3), 3)
>>> w[0, 0]
array([[0., 0., 1.],
       [3., 4., 5.],
       [7., 8., 9.]])
>>> unpad(fold(np, np.ones_like(w), (1, 1, 12), (3,), (4,), (1,)), ((1, 1),))[0, 0]
array([1., 1., 0., 1., 1., 1., 0., 1., 1., 1.])
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from neuroback import Array

__all__ = [
    "as_tuple",
    "effective_kernel",
    "fold",
    "output_size",
    "pad",
    "unfold",
    "unpad",
    "window_count",
]

Padding = tuple[tuple[int, int], ...]


def as_tuple(value: Any, dims: int, what: str, *, minimum: int = 1) -> tuple[int, ...]:
    """``value`` as a tuple of ``dims`` ints, each ``>= minimum``.

    ``value`` is one int (used on every spatial axis) or a list/tuple of ``dims``
    ints; ``bool`` is refused. ``what`` names the argument in the error, e.g.
    ``"Conv2D kernel_size"``.

    >>> as_tuple(3, 2, "Conv2D kernel_size"), as_tuple([1, 0], 2, "Conv2D padding", minimum=0)
    ((3, 3), (1, 0))
    >>> as_tuple([3], 2, "Conv2D kernel_size")
    Traceback (most recent call last):
    ...
    ValueError: Conv2D kernel_size must be a positive integer or a list of 2, got [3].
    """
    if minimum == 1:
        kind = "a positive integer"
    elif minimum == 0:
        kind = "a non-negative integer"
    else:
        kind = f"an integer >= {minimum}"
    items = list(value) if isinstance(value, list | tuple) else [value] * dims
    valid = len(items) == dims and all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= minimum for v in items
    )
    if not valid:
        raise ValueError(f"{what} must be {kind} or a list of {dims}, got {value!r}.")
    return tuple(int(v) for v in items)


def effective_kernel(kernel: int, dilation: int) -> int:
    """The extent a dilated kernel covers: :math:`d\\,(k-1)+1`."""
    return dilation * (kernel - 1) + 1


def output_size(
    size: int, kernel: int, stride: int, pad_lo: int, pad_hi: int, dilation: int
) -> int:
    """Output positions along one axis (below 1 when the window does not fit; the
    caller raises).

    >>> output_size(7, 3, 2, 1, 1, 1), output_size(7, 3, 1, 0, 0, 2), output_size(2, 5, 1, 0, 0, 1)
    (4, 3, -2)
    """
    return (size + pad_lo + pad_hi - effective_kernel(kernel, dilation)) // stride + 1


def _first_spatial(ndim: int, dims: int, axis: int | None) -> int:
    """The first spatial axis: ``axis``, or the first of the last ``dims`` axes."""
    return ndim - dims if axis is None else axis


def _at_spatial(ndim: int, first: int, items: Sequence[Any]) -> tuple[Any, ...]:
    """An index of ``ndim`` entries: ``items`` on the spatial axes, ``:`` elsewhere."""
    index: list[Any] = [slice(None)] * ndim
    index[first : first + len(items)] = items
    return tuple(index)


def pad(
    xp: Any, x: Array, padding: Padding, value: float = 0.0, *, axis: int | None = None
) -> Array:
    """``x`` padded on its spatial axes with ``value`` (``padding[i] = (lo, hi)`` for
    spatial axis ``i``); ``x`` itself when no padding is asked.

    The spatial axes are the last ``len(padding)`` axes (``(N, C, *spatial)``), or the
    ``len(padding)`` axes from ``axis`` on (e.g. ``axis=2`` for ``(G, C, *spatial, N)``).
    """
    if not any(lo or hi for lo, hi in padding):
        return x
    first = _first_spatial(x.ndim, len(padding), axis)
    shape = list(x.shape)
    for i, (lo, hi) in enumerate(padding):
        shape[first + i] += lo + hi
    out = xp.full(tuple(shape), value, dtype=x.dtype)
    out[_interior(x.shape, first, padding)] = x
    return out


def unpad(x_padded: Array, padding: Padding, *, axis: int | None = None) -> Array:
    """The view of ``x_padded`` without its padded border (the adjoint of :func:`pad`;
    ``axis`` as there)."""
    if not any(lo or hi for lo, hi in padding):
        return x_padded
    first = _first_spatial(x_padded.ndim, len(padding), axis)
    inner = list(x_padded.shape)
    for i, (lo, hi) in enumerate(padding):
        inner[first + i] -= lo + hi
    return x_padded[_interior(inner, first, padding)]


def _interior(inner: Sequence[int], first: int, padding: Padding) -> tuple[Any, ...]:
    slices = [slice(lo, lo + inner[first + i]) for i, (lo, _) in enumerate(padding)]
    return _at_spatial(len(inner), first, slices)


def unfold(
    xp: Any,
    x_padded: Array,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    *,
    axis: int | None = None,
) -> Array:
    """The read-only strided view :math:`U(\\tilde x)` of shape ``(N, C, *out, *kernel)``.

    ``x_padded`` is ``(N, C, *spatial)``, already padded; ``kernel``, ``stride`` and
    ``dilation`` have one entry per spatial axis. No copy is made: write the view
    to a contiguous buffer (``xp.ascontiguousarray``) if a consumer needs one.

    With ``axis``, the spatial axes are those from ``axis`` on, wherever they are:
    the output positions take their places and the kernel offsets are appended, so
    ``(G, C, *spatial, N)`` with ``axis=2`` gives ``(G, C, *out, N, *kernel)``.
    """
    dims = len(kernel)
    first = _first_spatial(x_padded.ndim, dims, axis)
    axes = tuple(range(first, first + dims))
    extent = tuple(effective_kernel(k, d) for k, d in zip(kernel, dilation, strict=True))
    view = xp.lib.stride_tricks.sliding_window_view(x_padded, extent, axis=axes)
    if all(s == 1 for s in stride) and all(d == 1 for d in dilation):
        return view
    positions = _at_spatial(x_padded.ndim, first, [slice(None, None, s) for s in stride])
    offsets = tuple(slice(None, None, d) for d in dilation)
    return view[(*positions, *offsets)]


def fold(
    xp: Any,
    grad_windows: Array,
    padded_shape: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    *,
    axis: int | None = None,
) -> Array:
    """:math:`U^\\top(G)`: the ``padded_shape`` array where every window element of
    ``grad_windows`` (shape ``(N, C, *out, *kernel)``, or as :func:`unfold` lays it out
    for ``axis``) is added to the input element it was read from.

    One strided ``+=`` per kernel offset, :math:`\\prod k` in all. The additions are
    fastest when the axes after the spatial ones are long and contiguous (which is
    why Conv2D folds a ``(G, C, *spatial, N)`` layout).
    """
    dims = len(kernel)
    first = _first_spatial(len(padded_shape), dims, axis)
    out_sizes = grad_windows.shape[first : first + dims]
    out = xp.zeros(tuple(padded_shape), dtype=grad_windows.dtype)
    for offset in itertools.product(*(range(k) for k in kernel)):
        target = [
            slice(o * d, o * d + s * (n - 1) + 1, s)
            for o, d, s, n in zip(offset, dilation, stride, out_sizes, strict=True)
        ]
        out[_at_spatial(out.ndim, first, target)] += grad_windows[(Ellipsis, *offset)]
    return out


def window_count(kernel: Sequence[int]) -> int:
    """Elements per window, :math:`\\prod k`."""
    return math.prod(kernel)
