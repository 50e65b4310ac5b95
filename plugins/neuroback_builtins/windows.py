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
(all output positions at once, :func:`at_offset`), so :math:`\prod k` vectorised
additions and never a loop over positions, nor ``np.add.at``. :func:`unpad` then drops
the padded border (the adjoint of :func:`pad`); :func:`fold_unpadded` does both without
summing the border. :func:`offsets` lists the kernel offsets in a window's row-major
order, and a :class:`Workspace` keeps a layer's scratch arrays from one call to the next.

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

from neuroback import Array, jit
from neuroback.kernels import Kernel

__all__ = [
    "Workspace",
    "as_tuple",
    "at_offset",
    "effective_kernel",
    "fold",
    "fold_columns",
    "fold_unpadded",
    "offsets",
    "output_size",
    "pad",
    "unfold",
    "unpad",
    "window_count",
    "zero_border",
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


def zero_border(x_padded: Array, padding: Padding, *, axis: int | None = None) -> None:
    """Write zeros into the border :func:`pad` adds (``padding``, ``axis`` as there),
    in place, leaving the interior alone: a reused buffer whose interior is about to be
    overwritten needs no full fill.

    >>> import numpy as np
    >>> a = np.ones((1, 4, 5))
    >>> zero_border(a, ((1, 1), (0, 2)))
    >>> a[0]
    array([[0., 0., 0., 0., 0.],
           [1., 1., 1., 0., 0.],
           [1., 1., 1., 0., 0.],
           [0., 0., 0., 0., 0.]])
    """
    first = _first_spatial(x_padded.ndim, len(padding), axis)
    for i, (lo, hi) in enumerate(padding):
        size = x_padded.shape[first + i]
        for side in (slice(0, lo), slice(size - hi, size)):
            if side.stop > side.start:
                x_padded[_at_spatial(x_padded.ndim, first + i, [side])] = 0


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
    if isinstance(x_padded, np.ndarray):  # the view built directly: 4-10x less overhead
        return _window_view(x_padded, first, kernel, stride, dilation)
    axes = tuple(range(first, first + dims))
    extent = tuple(effective_kernel(k, d) for k, d in zip(kernel, dilation, strict=True))
    view = xp.lib.stride_tricks.sliding_window_view(x_padded, extent, axis=axes)
    if all(s == 1 for s in stride) and all(d == 1 for d in dilation):
        return view
    positions = _at_spatial(x_padded.ndim, first, [slice(None, None, s) for s in stride])
    offsets = tuple(slice(None, None, d) for d in dilation)
    return view[(*positions, *offsets)]


def _window_view(
    x: np.ndarray,
    first: int,
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
) -> np.ndarray:
    """:func:`unfold` for a NumPy array, as one read-only ``as_strided`` view: spatial axis
    ``i`` becomes ``out_i`` positions ``s_i`` elements apart, and kernel axis ``i`` (appended)
    ``k_i`` offsets ``d_i`` elements apart (what ``sliding_window_view`` and a strided slice
    give, without their checks and intermediate views: 10 us instead of 40-140 us)."""
    dims = len(kernel)
    spatial = range(first, first + dims)
    shape, strides = list(x.shape), list(x.strides)
    for i, (axis, k, s, d) in enumerate(zip(spatial, kernel, stride, dilation, strict=True)):
        shape[axis] = output_size(x.shape[axis], k, s, 0, 0, d)
        strides[axis] = x.strides[axis] * s
        shape.append(k)
        strides.append(x.strides[first + i] * d)
    return np.lib.stride_tricks.as_strided(x, tuple(shape), tuple(strides), writeable=False)


def fold(
    xp: Any,
    grad_windows: Array,
    padded_shape: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    *,
    axis: int | None = None,
    out: Array | None = None,
) -> Array:
    """:math:`U^\\top(G)`: the ``padded_shape`` array where every window element of
    ``grad_windows`` (shape ``(N, C, *out, *kernel)``, or as :func:`unfold` lays it out
    for ``axis``) is added to the input element it was read from; written into ``out``
    (zeroed first) when given.

    One strided ``+=`` per kernel offset (:func:`at_offset`), :math:`\\prod k` in all. The
    additions are fastest when the axes after the spatial ones are long and contiguous
    (which is why Conv2D folds a ``(G, C, *spatial, N)`` layout).
    """
    dims = len(kernel)
    first = _first_spatial(len(padded_shape), dims, axis)
    out_sizes = tuple(grad_windows.shape[first : first + dims])
    if out is None:
        out = xp.zeros(tuple(padded_shape), dtype=grad_windows.dtype)
    else:
        out[...] = 0
    for offset in offsets(kernel):
        target = at_offset(out, offset, stride, dilation, out_sizes, axis=first)
        target += grad_windows[(Ellipsis, *offset)]
    return out


def fold_unpadded(
    xp: Any,
    grad_windows: Array,
    shape: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    padding: Padding,
    *,
    axis: int | None = None,
    out: Array | None = None,
) -> Array:
    """``unpad(fold(...), padding)`` of the unpadded ``shape``, without the border: per
    kernel offset only the output positions whose element lies inside the input are
    added (the border's sums would be cut off anyway). Into ``out`` (zeroed first)
    when given; ``axis`` as for :func:`fold`.

    Per axis, offset :math:`q` of output position :math:`p` reads input element
    :math:`i = s p + d q - \\text{lo}`, inside the input for
    :math:`\\lceil (\\text{lo} - d q)/s \\rceil \\le p \\le
    \\lfloor (\\text{size} - 1 + \\text{lo} - d q)/s \\rfloor`.
    """
    dims = len(kernel)
    first = _first_spatial(len(shape), dims, axis)
    out_sizes = tuple(grad_windows.shape[first : first + dims])
    sizes = tuple(shape[first : first + dims])
    if out is None:
        out = xp.zeros(tuple(shape), dtype=grad_windows.dtype)
    else:
        out[...] = 0
    for offset in offsets(kernel):
        source, target = [], []
        for q, d, s, n, size, (lo, _) in zip(
            offset, dilation, stride, out_sizes, sizes, padding, strict=True
        ):
            start = -((d * q - lo) // s)  # the first p inside: ceil((lo - d q) / s)
            p_lo, p_hi = max(0, start), min(n, (size - 1 + lo - d * q) // s + 1)
            if p_hi <= p_lo:
                break
            i_lo = s * p_lo + d * q - lo
            source.append(slice(p_lo, p_hi))
            target.append(slice(i_lo, i_lo + s * (p_hi - p_lo - 1) + 1, s))
        else:
            at = _at_spatial(out.ndim, first, target)
            out[at] += grad_windows[(*_at_spatial(out.ndim, first, source), *offset)]
    return out


def _fold_columns_reference(
    backend: Any,
    columns: Array,
    out: Array,
    *,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    padding: Padding,
) -> None:
    """:func:`fold_unpadded` of patch-matrix rows: ``columns`` ``(C, *kernel, *out, N)``
    (contiguous, as a convolution's input-gradient product leaves them) folded into
    ``out`` ``(C, *spatial, N)``, overwritten."""
    dims = len(kernel)
    # (C, *kernel, *out, N) -> the window layout (C, *out, N, *kernel)
    order = (0, *range(1 + dims, 2 + 2 * dims), *range(1, 1 + dims))
    windows = columns.transpose(order)
    fold_unpadded(
        backend.xp, windows, out.shape, kernel, stride, dilation, padding, axis=1, out=out
    )


def _fold_columns_cases() -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    rng = np.random.default_rng(0)
    cases = []
    for dtype, kernel, stride, dilation, padding, out, spatial in (
        ("float64", (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), (5, 4), (5, 4)),
        ("float32", (2, 3), (2, 1), (1, 2), ((0, 1), (2, 2)), (3, 4), (5, 4)),
        ("float64", (3,), (2,), (1,), ((1, 1),), (4,), (7,)),
    ):
        columns = rng.normal(size=(2, *kernel, *out, 3)).astype(dtype)
        target = np.full((2, *spatial, 3), np.nan, dtype=dtype)  # every element written
        settings = {"kernel": kernel, "stride": stride, "dilation": dilation, "padding": padding}
        cases.append(((columns, target), settings))
    return cases


#: The input gradient of a convolution from its patch-matrix gradient (:math:`U^\top`
#: without the padded border), on rows laid out ``(C, *kernel, *out, N)``: see
#: :func:`_fold_columns_reference`. On NumPy with numba installed, one compiled loop
#: (:mod:`neuroback.jit`) adds the kernel offsets in the reference's order.
fold_columns = Kernel("windows.fold_columns", _fold_columns_reference, example=_fold_columns_cases)


@jit.compiled
def _fold_loop(columns: Any, out: Any, stride: Any, dilation: Any, low: Any) -> None:
    """``out[c, i, j, n] = sum over (kh, kw) of columns[c, kh, kw, p, q, n]`` where
    ``i = s_h p + d_h kh - lo_h`` and ``j = s_w q + d_w kw - lo_w``, the offsets in
    row-major order (the reference's order of additions)."""
    channels, kh_n, kw_n, oh_n, ow_n, n_n = columns.shape
    height, width = out.shape[1], out.shape[2]
    flat = out.reshape(-1)
    for k in range(flat.size):
        flat[k] = 0
    for c in range(channels):
        for kh in range(kh_n):
            for kw in range(kw_n):
                for p in range(oh_n):
                    i = stride[0] * p + dilation[0] * kh - low[0]
                    if i < 0 or i >= height:
                        continue
                    for q in range(ow_n):
                        j = stride[1] * q + dilation[1] * kw - low[1]
                        if j < 0 or j >= width:
                            continue
                        for n in range(n_n):
                            out[c, i, j, n] += columns[c, kh, kw, p, q, n]


if jit.available():

    @fold_columns.implement("numpy")
    def _fold_columns_compiled(
        backend: Any,
        columns: Array,
        out: Array,
        *,
        kernel: tuple[int, ...],
        stride: tuple[int, ...],
        dilation: tuple[int, ...],
        padding: Padding,
    ) -> None:
        settings = {"kernel": kernel, "stride": stride, "dilation": dilation, "padding": padding}
        if not (
            isinstance(columns, np.ndarray)
            and isinstance(out, np.ndarray)
            and columns.flags.c_contiguous
            and out.flags.c_contiguous
            and columns.dtype == out.dtype
            and columns.dtype in (np.float32, np.float64)
        ):
            _fold_columns_reference(backend, columns, out, **settings)
            return
        if len(kernel) == 1:  # a 1-D fold is the 2-D one with a kernel one row high
            c, k, o, n = columns.shape
            columns = columns.reshape(c, 1, k, 1, o, n)
            out = out.reshape(out.shape[0], 1, out.shape[1], out.shape[2])
            stride, dilation, padding = (1, *stride), (1, *dilation), ((0, 0), *padding)
        low = np.array([lo for lo, _ in padding], dtype=np.int64)
        _fold_loop(
            columns, out, np.array(stride, dtype=np.int64), np.array(dilation, np.int64), low
        )


def offsets(kernel: Sequence[int]) -> list[tuple[int, ...]]:
    """Every kernel offset :math:`k`, in row-major order (the order of a window's
    flattened elements).

    >>> offsets((2, 3))
    [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    """
    return list(itertools.product(*(range(k) for k in kernel)))


def at_offset(
    x_padded: Array,
    offset: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    out: Sequence[int],
    *,
    axis: int | None = None,
) -> Array:
    """The strided view of the elements kernel offset :math:`k` reads for every output
    position :math:`p`, :math:`\\tilde x_{n,c,\\,s \\odot p + d \\odot k}`: shape
    ``(N, C, *out)``, equal to ``unfold(...)[..., *offset]``, and writable (what
    :func:`fold` adds into). ``axis`` as for :func:`pad`.

    >>> import numpy as np
    >>> at_offset(np.arange(10), (1,), (4,), (1,), (3,), axis=0)
    array([1, 5, 9])
    """
    first = _first_spatial(x_padded.ndim, len(offset), axis)
    target = [
        slice(o * d, o * d + s * (n - 1) + 1, s)
        for o, d, s, n in zip(offset, dilation, stride, out, strict=True)
    ]
    return x_padded[_at_spatial(x_padded.ndim, first, target)]


class Workspace:
    """Arrays a layer reuses from one call to the next, each lent to one call at a time.

    A large array allocated and freed every step (a convolution's patch matrices) costs
    fresh pages from the operating system each time on NumPy; lent from here it is
    allocated once. :meth:`lend` hands out the array kept under ``name`` if it has the
    asked shape, dtype and backend, taking it out of the workspace, and a new,
    uninitialized one otherwise; :meth:`give_back` keeps an array for the next call. So
    a call that still holds its array (a forward whose backward has not run yet) makes
    the next call allocate its own: two forwards before a backward never share memory.
    A lent array is scratch: nothing handed to a caller (an output, an input gradient)
    may be one.

    >>> import numpy as np
    >>> work = Workspace()
    >>> a = work.lend("cols", np, (2, 3), np.float32)
    >>> work.lend("cols", np, (2, 3), np.float32) is a  # still lent: a new one
    False
    >>> work.give_back("cols", a)
    >>> work.lend("cols", np, (2, 3), np.float32) is a
    True
    >>> work.lend("padded", np, (2, 2), np.float32, fill=0)  # new: filled
    array([[0., 0.],
           [0., 0.]], dtype=float32)
    """

    __slots__ = ("_free",)

    def __init__(self) -> None:
        self._free: dict[str, Array] = {}

    def lend(
        self, name: str, xp: Any, shape: Sequence[int], dtype: Any, *, fill: float | None = None
    ) -> Array:
        """The array kept under ``name``, if it fits, as its last borrower left it; else a
        new one, uninitialized (``xp.empty``) or, with ``fill``, holding ``fill`` everywhere
        (for a borrower that writes only part of it and needs the rest to stay as filled,
        such as a padded buffer whose border is never written)."""
        kept = self._free.pop(name, None)
        shape = tuple(shape)
        if (
            kept is not None
            and isinstance(kept, xp.ndarray)
            and tuple(kept.shape) == shape
            and kept.dtype == dtype
        ):
            return kept
        if fill is None:
            return xp.empty(shape, dtype=dtype)
        return xp.full(shape, fill, dtype=dtype)

    def give_back(self, name: str, array: Array) -> None:
        """Keep ``array`` for the next :meth:`lend` of ``name`` (replacing any kept one)."""
        self._free[name] = array


def window_count(kernel: Sequence[int]) -> int:
    """Elements per window, :math:`\\prod k`."""
    return math.prod(kernel)
