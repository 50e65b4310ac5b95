r"""Pooling: max and average over sliding windows (1-D and 2-D), and global average pooling.

None has parameters. Input is ``(N, C, L)`` for the 1-D layers and ``(N, C, H, W)``
for the 2-D ones; every channel is pooled on its own. The semantics are PyTorch's
(``max_pool1d/2d``, ``avg_pool1d/2d`` with ``ceil_mode=False`` and
``count_include_pad=True``), so results compare one to one.

**Windows.** With the input :math:`\tilde x` padded by :math:`p` on both sides of each
spatial axis (with :math:`-\infty` for max pooling, with 0 for average pooling),
kernel :math:`k` and stride :math:`s`, output position :math:`q` reads the window
:math:`W_q = \{\, s \odot q + o : 0 \le o < k \,\}` (see :mod:`.windows`), and each
spatial axis has :math:`\lfloor (n + 2p - k)/s \rfloor + 1` output positions.

**Max pooling.** Forward and backward, with :math:`a_q` the *first* position of the
maximum in window :math:`W_q` (row-major window order, as PyTorch picks on ties):

.. math::

    y_q = \max_{i \in W_q} \tilde x_i, \qquad
    \frac{\partial L}{\partial x_i} = \sum_{q \,:\, a_q = i} \frac{\partial L}{\partial y_q}

A window's whole gradient goes to its argmax; its other inputs get +0, whatever the
gradient (an infinite one stays at the argmax, as in PyTorch). The computation runs per
kernel offset :math:`o` (:func:`~.windows.offsets`, :math:`\prod k` of them), never per window: the
window elements at offset :math:`o` of every window form one array of the output's
shape (:func:`~.windows.at_offset`), copied once into a contiguous slab. Scanning the
offsets from the last to the first, offset :math:`o` becomes the running argmax where
its value is :math:`\ge` the running maximum (so ties end at the first) or NaN. The
forward keeps only :math:`a_q` (one byte per output for up to 256 offsets). Backward,
offset :math:`o` writes :math:`[a_q = o]\, \partial L/\partial y_q` at the input
elements it read (adds, where windows overlap), then the padding is cut off. On NumPy
this is a few passes over contiguous arrays per offset; reducing a copy of the
``(..., kernel)`` windows over their short last axis instead (an argmax and a max, then
a one-hot and a fold) pays a loop start-up per window and was about 10x slower on
LeNet-5's pooling layers. Where numba is installed, the NumPy backend runs both passes as
compiled loops over the windows instead (:mod:`neuroback.jit`; the same results, bit for
bit), the kernels ``max_first`` and ``route_to_first`` below.

A window whose inputs are all :math:`-\infty` sends its gradient to its first input
element (never to the padding), as PyTorch's does. With NaN in a window the output is
NaN and the gradient goes to the window's first NaN (PyTorch's CPU kernel: its last).

**Average pooling.** Padding counts in the divisor :math:`|W| = \prod k`:

.. math::

    y_q = \frac{1}{|W|} \sum_{i \in W_q} \tilde x_i, \qquad
    \frac{\partial L}{\partial x_i} =
    \sum_{q \,:\, i \in W_q} \frac{1}{|W|} \frac{\partial L}{\partial y_q}

**Global average pooling** averages each channel over all :math:`S` spatial
positions, ``(N, C, *spatial) -> (N, C)``:

.. math::

    y_{n,c} = \frac{1}{S} \sum_{j} x_{n,c,j}, \qquad
    \frac{\partial L}{\partial x_{n,c,j}} = \frac{1}{S} \frac{\partial L}{\partial y_{n,c}}
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, final

import numpy as np

from neuroback import Array, BackendLike, Backward, Layer, get_backend, jit
from neuroback.errors import ShapeError
from neuroback.kernels import Kernel

from .windows import (
    Workspace,
    as_tuple,
    at_offset,
    fold,
    offsets,
    output_size,
    pad,
    unfold,
    unpad,
    window_count,
)

__all__ = ["AvgPool1D", "AvgPool2D", "GlobalAvgPool", "MaxPool1D", "MaxPool2D"]

#: The gradient of a pooling's output, mapped to the gradient of its padded input.
PaddedGrad = Callable[[Array], Array]

_AXES = {1: ("length",), 2: ("height", "width")}


# -- max pooling's kernels: the windows' first maximum, and the gradient routed to it ------


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


class _Pool(Layer):
    """What the four window poolings share; a subclass fixes ``dims`` and the reduction."""

    #: Number of spatial axes: 1 for ``(N, C, L)``, 2 for ``(N, C, H, W)``.
    dims: ClassVar[int]
    #: The value the input is padded with.
    pad_value: ClassVar[float]
    feature_axis = 1  # (N, C, ...): channels; no parameters, so any count is accepted

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        stride: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
        *,
        backend: BackendLike = None,
    ) -> None:
        super().__init__(backend=backend)
        name = type(self).__name__
        self._work = Workspace()  # scratch reused from call to call (max pooling's slabs)
        self.kernel_size = as_tuple(kernel_size, self.dims, f"{name} kernel_size")
        self.stride = (
            self.kernel_size if stride is None else as_tuple(stride, self.dims, f"{name} stride")
        )
        self.padding = as_tuple(padding, self.dims, f"{name} padding", minimum=0)
        half = tuple(k // 2 for k in self.kernel_size)
        if any(p > h for p, h in zip(self.padding, half, strict=True)):
            raise ValueError(
                f"{name} padding must be at most half the kernel size (kernel_size // 2 on "
                f"each axis, as in PyTorch): got padding {_plain(self.padding)} for "
                f"kernel_size {_plain(self.kernel_size)}. Use padding <= {_plain(half)}, or a "
                "larger kernel_size."
            )

    def forward(self, x: Array, *, train: bool, rng: Any = None) -> tuple[Array, Backward]:
        self.check_input(x, ndim=self.dims + 2)
        xp = self.backend.xp
        self._check_fits(tuple(x.shape))
        pads = tuple((p, p) for p in self.padding)
        ones = (1,) * self.dims
        padded = pad(xp, x, pads, self.pad_value)
        padded_shape = tuple(padded.shape)
        windows = unfold(xp, padded, self.kernel_size, self.stride, ones)
        y, padded_grad = self._reduce(xp, windows, padded_shape)

        def backward(dy: Array, *, input_grad: bool = True) -> Array | None:
            self.check_gradient(dy, y)
            if not input_grad:
                return None  # no parameters: nothing else to compute
            return unpad(padded_grad(dy), pads)

        return y, backward

    @abstractmethod
    def _reduce(
        self, xp: Any, windows: Array, padded_shape: tuple[int, ...]
    ) -> tuple[Array, PaddedGrad]:
        """Pool ``windows`` ``(N, C, *out, *kernel)`` to ``y`` ``(N, C, *out)``; return ``y``
        and the map from ``dL/dy`` to the gradient of the padded input (``padded_shape``)."""

    def _check_fits(self, shape: tuple[int, ...]) -> None:
        for axis, n, k, s, p in zip(
            _AXES[self.dims], shape[2:], self.kernel_size, self.stride, self.padding, strict=True
        ):
            if output_size(n, k, s, p, p, 1) < 1:
                raise ShapeError(
                    f"{self._label()} expects each spatial axis, padded, to be at least as long "
                    f"as the kernel; got input of shape {shape}, whose {axis} {n} plus padding "
                    f"2*{p} is {n + 2 * p} < kernel {k}. Use a smaller kernel_size or a larger "
                    "input."
                )

    def config(self) -> dict[str, Any]:
        return {
            "kernel_size": _plain(self.kernel_size),
            "stride": _plain(self.stride),
            "padding": _plain(self.padding),
        }


class _MaxPool(_Pool):
    pad_value = -math.inf

    def _reduce(
        self, xp: Any, windows: Array, padded_shape: tuple[int, ...]
    ) -> tuple[Array, PaddedGrad]:
        kernel, stride, backend = self.kernel_size, self.stride, self.backend
        taps = window_count(kernel)
        out = tuple(windows.shape[2 : 2 + self.dims])
        shape = tuple(windows.shape[: 2 + self.dims])  # (N, C, *out)
        y = xp.empty(shape, dtype=windows.dtype)
        first = xp.empty(shape, dtype=xp.uint8 if taps <= 256 else xp.int32)
        max_first(backend, windows, y, first, kernel=kernel, stride=stride, work=self._work)
        if any(self.padding):  # a window of -inf inputs: its first input, never the padding
            first = xp.where(y == -math.inf, self._first_input(xp, out), first)

        def padded_grad(dy: Array) -> Array:
            grad = xp.empty(padded_shape, dtype=dy.dtype)
            route_to_first(backend, dy, first, grad, kernel=kernel, stride=stride)
            return grad

        return y, padded_grad

    def _first_input(self, xp: Any, out: tuple[int, ...]) -> Array:
        r"""The row-major window index of each window's first input (not padding) element,
        shape ``out``: per axis, output position :math:`q` starts at offset
        :math:`\max(0, p - s q)` of its window."""
        index: Any = 0
        for axis, (n, k, s, p) in enumerate(
            zip(out, self.kernel_size, self.stride, self.padding, strict=True)
        ):
            offset = xp.maximum(p - s * xp.arange(n), 0)
            index = index * k + offset.reshape((n,) + (1,) * (self.dims - 1 - axis))
        return index


class _AvgPool(_Pool):
    pad_value = 0.0

    def _reduce(
        self, xp: Any, windows: Array, padded_shape: tuple[int, ...]
    ) -> tuple[Array, PaddedGrad]:
        shape = tuple(windows.shape)
        size = window_count(self.kernel_size)
        y = windows.mean(axis=tuple(range(-self.dims, 0)))  # padding counts in |W|
        spread = (Ellipsis, *(None,) * self.dims)
        kernel, stride, ones = self.kernel_size, self.stride, (1,) * self.dims

        def padded_grad(dy: Array) -> Array:
            window_grad = xp.broadcast_to((dy / size)[spread], shape)  # read only by fold
            return fold(xp, window_grad, padded_shape, kernel, stride, ones)

        return y, padded_grad


def _plain(values: tuple[int, ...]) -> int | list[int]:
    """One int when every axis has the same value, else a list (for config and messages)."""
    return values[0] if len(set(values)) == 1 else list(values)


def _no_ties(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Example input of distinct values 0.1 apart (shuffled), so no window has two maxima
    within a finite-difference step."""
    size = math.prod(shape)
    return (np.random.default_rng(seed).permutation(size).reshape(shape) - size / 2) * 0.1


@final
class MaxPool1D(_MaxPool):
    """Max pooling over the length of ``(N, C, L)`` input (``torch.nn.MaxPool1d``).

    Parameters
    ----------
    kernel_size:
        Window length.
    stride:
        Step between windows (default: ``kernel_size``).
    padding:
        Implicit :math:`-\\infty` padding on both ends, at most ``kernel_size // 2``.

    On ties the gradient goes to the first maximum of the window.

    >>> import numpy as np, neuroback as nb
    >>> layer = nb.layers.MaxPool1D(2)
    >>> y, backward = layer.forward(np.array([[[1.0, 3.0, 2.0, 2.0, 5.0]]]), train=True)
    >>> y
    array([[[3., 2.]]])
    >>> backward(np.array([[[10.0, 20.0]]]))
    array([[[ 0., 10., 20.,  0.,  0.]]])
    """

    dims = 1

    @classmethod
    def example(cls) -> tuple[MaxPool1D, np.ndarray]:
        return cls(3, stride=2, padding=1), _no_ties((2, 2, 7), seed=0)


@final
class MaxPool2D(_MaxPool):
    """Max pooling over height and width of ``(N, C, H, W)`` input (``torch.nn.MaxPool2d``).

    Parameters
    ----------
    kernel_size:
        Window size: one int, or ``[height, width]``.
    stride:
        Step between windows, int or ``[height, width]`` (default: ``kernel_size``).
    padding:
        Implicit :math:`-\\infty` padding on both sides, at most ``kernel_size // 2``
        per axis.

    On ties the gradient goes to the first maximum of the window in row-major order.

    >>> import numpy as np, neuroback as nb
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> layer = nb.layers.MaxPool2D(2)
    >>> y, backward = layer.forward(x, train=True)
    >>> y
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    >>> backward(np.ones((1, 1, 2, 2)))[0, 0]
    array([[0., 0., 0., 0.],
           [0., 1., 0., 1.],
           [0., 0., 0., 0.],
           [0., 1., 0., 1.]])
    """

    dims = 2

    @classmethod
    def example(cls) -> tuple[MaxPool2D, np.ndarray]:
        return cls([3, 2], stride=[2, 1], padding=1), _no_ties((1, 2, 5, 4), seed=1)


@final
class AvgPool1D(_AvgPool):
    """Average pooling over the length of ``(N, C, L)`` input (``torch.nn.AvgPool1d``).

    Parameters
    ----------
    kernel_size:
        Window length.
    stride:
        Step between windows (default: ``kernel_size``).
    padding:
        Implicit zero padding on both ends, at most ``kernel_size // 2``; the padded
        zeros count in the divisor (PyTorch's ``count_include_pad=True``).

    >>> import numpy as np, neuroback as nb
    >>> layer = nb.layers.AvgPool1D(2, padding=1)
    >>> y, backward = layer.forward(np.array([[[2.0, 4.0, 6.0]]]), train=True)
    >>> y
    array([[[1., 5.]]])
    >>> backward(np.array([[[1.0, 1.0]]]))
    array([[[0.5, 0.5, 0.5]]])
    """

    dims = 1

    @classmethod
    def example(cls) -> tuple[AvgPool1D, np.ndarray]:
        return cls(3, stride=2, padding=1), np.random.default_rng(2).normal(size=(2, 2, 7))


@final
class AvgPool2D(_AvgPool):
    """Average pooling over height and width of ``(N, C, H, W)`` input (``torch.nn.AvgPool2d``).

    Parameters
    ----------
    kernel_size:
        Window size: one int, or ``[height, width]``.
    stride:
        Step between windows, int or ``[height, width]`` (default: ``kernel_size``).
    padding:
        Implicit zero padding on both sides, at most ``kernel_size // 2`` per axis;
        the padded zeros count in the divisor ``height * width``.

    >>> import numpy as np, neuroback as nb
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> y, backward = nb.layers.AvgPool2D(2).forward(x, train=True)
    >>> y
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]])
    >>> backward(np.ones((1, 1, 2, 2)))[0, 0]
    array([[0.25, 0.25, 0.25, 0.25],
           [0.25, 0.25, 0.25, 0.25],
           [0.25, 0.25, 0.25, 0.25],
           [0.25, 0.25, 0.25, 0.25]])
    """

    dims = 2

    @classmethod
    def example(cls) -> tuple[AvgPool2D, np.ndarray]:
        return cls([3, 2], stride=[2, 1], padding=1), np.random.default_rng(3).normal(
            size=(1, 2, 5, 4)
        )


@final
class GlobalAvgPool(Layer):
    """Average each channel over all spatial axes: ``(N, C, *spatial) -> (N, C)``.

    Any input of rank 3 or more: ``(N, C, L)``, ``(N, C, H, W)``, ``(N, C, D, H, W)``.

    >>> import numpy as np, neuroback as nb
    >>> x = np.arange(8.0).reshape(1, 2, 2, 2)
    >>> y, backward = nb.layers.GlobalAvgPool().forward(x, train=True)
    >>> y
    array([[1.5, 5.5]])
    >>> backward(np.array([[4.0, 8.0]]))[0]
    array([[[1., 1.],
            [1., 1.]],
    <BLANKLINE>
           [[2., 2.],
            [2., 2.]]])
    """

    feature_axis = 1  # (N, C, ...): channels; no parameters, so any count is accepted

    def __init__(self, *, backend: BackendLike = None) -> None:
        super().__init__(backend=backend)

    @classmethod
    def example(cls) -> tuple[GlobalAvgPool, np.ndarray]:
        return cls(), np.random.default_rng(4).normal(size=(2, 3, 3, 2))

    def forward(self, x: Array, *, train: bool, rng: Any = None) -> tuple[Array, Backward]:
        self.check_input(x)
        if x.ndim < 3:
            raise ShapeError(
                f"{self._label()} expects input of shape (batch, channels, *spatial) with at "
                f"least one spatial axis, got shape {tuple(x.shape)}. For (batch, features) "
                "input there is nothing to pool; drop the layer."
            )
        xp = self.backend.xp
        shape = tuple(x.shape)
        count = math.prod(shape[2:])
        y = x.mean(axis=tuple(range(2, x.ndim)))
        spread = (Ellipsis, *(None,) * (x.ndim - 2))

        def backward(dy: Array, *, input_grad: bool = True) -> Array | None:
            self.check_gradient(dy, y)
            if not input_grad:
                return None
            dx = xp.empty(shape, dtype=dy.dtype)
            dx[...] = (dy / count)[spread]
            return dx

        return y, backward

    def config(self) -> dict[str, Any]:
        return {}
