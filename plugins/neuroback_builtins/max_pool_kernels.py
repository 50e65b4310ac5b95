"""Max pooling's kernels: each window's first maximum, and its gradient routed there.

The layers (:mod:`.pooling`) call them; the math is in that module's docstring. Each is a
:class:`~neuroback.kernels.Kernel`: the reference runs per kernel offset on any backend
(contiguous slabs, a few vectorised passes per offset), and where numba is installed the
NumPy backend runs a compiled loop over the windows instead (:mod:`neuroback.jit`), with
the same results, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from neuroback import Array, get_backend, jit
from neuroback.kernels import Kernel

from .windows import Workspace, at_offset, offsets, unfold

__all__ = ["max_first", "route_to_first"]


def _max_first_reference(
    backend: Any,
    windows: Array,
    y: Array,
    first: Array,
    *,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    work: Workspace | None = None,
) -> None:
    """``y`` = each window's maximum and ``first`` = the row-major offset of its first
    maximum, NaN counting as the maximum (the first NaN wins), for ``windows``
    ``(N, C, *out, *kernel)`` (:func:`~.windows.unfold` of the padded input). Its scratch
    (one slab per kernel offset) is lent by ``work`` when given, else allocated.

    Per kernel offset (the module docstring): the offsets' elements copied into contiguous
    slabs, then scanned from the last offset to the first; offset k replaces the running
    one where it is >= the running maximum (ties go to the earlier offset) or NaN (the
    earliest NaN wins; maximum() keeps a NaN, and no number is >= NaN).
    """
    xp = backend.xp
    taps = offsets(kernel)  # row-major: the order "first maximum" refers to
    last = len(taps) - 1
    shape = (len(taps), *y.shape)
    slabs = xp.empty(shape, y.dtype) if work is None else work.lend("taps", xp, shape, y.dtype)
    for k, tap in enumerate(taps):
        slabs[k] = windows[(Ellipsis, *tap)]
    y[...] = slabs[last]
    first[...] = last
    take = xp.empty(y.shape, dtype=bool)
    nan = xp.empty(y.shape, dtype=bool)
    step = xp.empty_like(first)
    for k in range(last - 1, -1, -1):
        v = slabs[k]
        xp.greater_equal(v, y, out=take)
        xp.logical_or(take, xp.isnan(v, out=nan), out=take)
        # first = k where take, as integer arithmetic (first > k here): a masked copy
        # (copyto with where=) is many times slower on NumPy
        xp.subtract(first, k, out=step)
        step *= take
        first -= step
        xp.maximum(y, v, out=y)
    if work is not None:
        work.give_back("taps", slabs)


def _route_to_first_reference(
    backend: Any,
    dy: Array,
    first: Array,
    grad: Array,
    *,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
) -> None:
    """``grad`` (the padded input's shape, overwritten) = every window's ``dy`` sent to its
    first maximum ``first``: per kernel offset k, the windows whose first maximum is k
    write (or add, where windows overlap) ``dy`` at that offset, and the others 0 (a
    ``where``, not ``dy * hit``: an infinite ``dy`` reaches its maximum only, as in
    PyTorch, instead of making the whole window NaN)."""
    xp = backend.xp
    ones = (1,) * len(kernel)
    out = tuple(dy.shape[2:])
    grad[...] = 0
    overlap = any(s < k for s, k in zip(stride, kernel, strict=True))
    hit = xp.empty(dy.shape, dtype=bool)
    for k, tap in enumerate(offsets(kernel)):
        target = at_offset(grad, tap, stride, ones, out)
        xp.equal(first, k, out=hit)
        if overlap:
            target += xp.where(hit, dy, 0)
        else:  # each input element in at most one window: written once
            target[...] = xp.where(hit, dy, 0)


def _pool_cases(route: bool) -> Callable[[], list[tuple[tuple[Any, ...], dict[str, Any]]]]:
    """Example cases with ties and NaN: windows (made contiguous), or ``dy`` and the
    ``first`` the reference finds for them."""

    def cases() -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        host = get_backend("numpy")
        rng = np.random.default_rng(0)
        found = []
        for dtype, kernel, stride, spatial in (
            ("float64", (2, 2), (2, 2), (6, 5)),
            ("float32", (3, 2), (1, 2), (5, 6)),  # windows overlap along the rows
            ("float64", (3,), (2,), (9,)),
        ):
            x = rng.integers(0, 3, size=(2, 3, *spatial)).astype(dtype)  # ties
            x.reshape(-1)[::11] = np.nan
            windows = np.ascontiguousarray(unfold(np, x, kernel, stride, (1,) * len(kernel)))
            shape = windows.shape[: 2 + len(kernel)]
            y, first = np.full(shape, np.nan, dtype), np.zeros(shape, np.uint8)
            settings = {"kernel": kernel, "stride": stride}
            if not route:
                found.append(((windows, y, first), settings))
                continue
            _max_first_reference(host, windows, y, first, **settings)
            dy = rng.normal(size=shape).astype(dtype)
            found.append(((dy, first, np.full(x.shape, np.nan, dtype)), settings))
        return found

    return cases


#: Max pooling's forward: each window's maximum and the offset of its first maximum.
#: On NumPy with numba installed, one compiled loop per kernel and stride.
max_first = Kernel("MaxPool.first", _max_first_reference, example=_pool_cases(route=False))
#: Max pooling's backward: each window's gradient sent to its first maximum.
route_to_first = Kernel("MaxPool.route", _route_to_first_reference, example=_pool_cases(route=True))


# The compiled versions (NumPy with numba installed): one loop per window shape, whose
# sizes the compiler sees as constants (about 2x faster than sizes passed at run time).
_FIRST_LOOPS: dict[tuple[int, int], Any] = {}
_ROUTE_LOOPS: dict[tuple[int, int, int, int], Any] = {}


def _first_loop(kh_n: int, kw_n: int) -> Any:
    loop = _FIRST_LOOPS.get((kh_n, kw_n))
    if loop is None:

        def first_max_2d(windows: Any, y: Any, first: Any) -> None:
            """Per window: the maximum, the first offset holding it (``>``: ties keep the
            earlier), and where a NaN is present, the first NaN instead."""
            n_n, c_n, oh_n, ow_n = y.shape
            for n in range(n_n):
                for c in range(c_n):
                    for i in range(oh_n):
                        for j in range(ow_n):
                            best = windows[n, c, i, j, 0, 0]
                            k = 0
                            nan = False
                            for a in range(kh_n):
                                for b in range(kw_n):
                                    v = windows[n, c, i, j, a, b]
                                    nan |= v != v
                                    if v > best:
                                        best = v
                                        k = a * kw_n + b
                            if nan:
                                found = False
                                for a in range(kh_n):
                                    for b in range(kw_n):
                                        v = windows[n, c, i, j, a, b]
                                        if not found and v != v:
                                            best, k, found = v, a * kw_n + b, True
                            y[n, c, i, j] = best
                            first[n, c, i, j] = k

        loop = _FIRST_LOOPS[(kh_n, kw_n)] = jit.compiled(first_max_2d)
    return loop


def _route_loop(kh_n: int, kw_n: int, sh: int, sw: int) -> Any:
    loop = _ROUTE_LOOPS.get((kh_n, kw_n, sh, sw))
    if loop is None:
        overlap = sh < kh_n or sw < kw_n

        def route_2d(dy: Any, first: Any, grad: Any) -> None:
            """``grad`` zeroed, then each window's ``dy`` written at its first maximum; where
            windows overlap, each window adds ``dy`` there and 0 at its other offsets, the
            windows in reverse row-major order, so that an input element shared by windows
            gets their terms in the order of its offset in them: the reference's sums."""
            n_n, c_n, oh_n, ow_n = dy.shape
            flat = grad.reshape(-1)
            for e in range(flat.size):
                flat[e] = 0
            for n in range(n_n):
                for c in range(c_n):
                    for i in range(oh_n - 1, -1, -1):
                        for j in range(ow_n - 1, -1, -1):
                            k = first[n, c, i, j]
                            g = dy[n, c, i, j]
                            if not overlap:
                                a = k // kw_n
                                grad[n, c, sh * i + a, sw * j + k - a * kw_n] = g
                                continue
                            for a in range(kh_n):
                                for b in range(kw_n):
                                    term = g if a * kw_n + b == k else 0.0
                                    grad[n, c, sh * i + a, sw * j + b] += term

        loop = _ROUTE_LOOPS[(kh_n, kw_n, sh, sw)] = jit.compiled(route_2d)
    return loop


def _as_2d(kernel: tuple[int, ...], stride: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """A 1-D pooling as the 2-D one with one-row windows."""
    return ((1, *kernel), (1, *stride)) if len(kernel) == 1 else (kernel, stride)


#: the dtypes the compiled loops take (others run the reference)
_COMPILED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

if jit.available():

    @max_first.implement("numpy")
    def _max_first_compiled(
        backend: Any,
        windows: Array,
        y: Array,
        first: Array,
        *,
        kernel: tuple[int, ...],
        stride: tuple[int, ...],
        work: Workspace | None = None,
    ) -> None:
        settings = {"kernel": kernel, "stride": stride, "work": work}
        if not (
            isinstance(windows, np.ndarray)
            and windows.dtype in _COMPILED_DTYPES
            and y.dtype == windows.dtype
            and y.flags.c_contiguous
            and first.flags.c_contiguous
        ):
            _max_first_reference(backend, windows, y, first, **settings)
            return
        shaped = (windows[:, :, None, :, None, :], y[:, :, None, :], first[:, :, None, :])
        (kh, kw), _ = _as_2d(kernel, stride)
        try:  # a 1-D pooling as (N, C, 1, L, 1, K) windows, views
            _first_loop(kh, kw)(*(shaped if len(kernel) == 1 else (windows, y, first)))
        except jit.Unavailable:
            _max_first_reference(backend, windows, y, first, **settings)

    @route_to_first.implement("numpy")
    def _route_to_first_compiled(
        backend: Any,
        dy: Array,
        first: Array,
        grad: Array,
        *,
        kernel: tuple[int, ...],
        stride: tuple[int, ...],
    ) -> None:
        if not (
            isinstance(dy, np.ndarray)
            and dy.dtype in _COMPILED_DTYPES
            and grad.dtype == dy.dtype
            and grad.flags.c_contiguous
        ):
            _route_to_first_reference(backend, dy, first, grad, kernel=kernel, stride=stride)
            return
        shaped = (dy[:, :, None, :], first[:, :, None, :], grad[:, :, None, :])
        (kh, kw), (sh, sw) = _as_2d(kernel, stride)
        try:
            _route_loop(kh, kw, sh, sw)(*(shaped if len(kernel) == 1 else (dy, first, grad)))
        except jit.Unavailable:
            _route_to_first_reference(backend, dy, first, grad, kernel=kernel, stride=stride)
