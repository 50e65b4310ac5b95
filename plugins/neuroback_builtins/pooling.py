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
bit), the kernels of :mod:`.max_pool_kernels`.

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

from neuroback import Array, BackendLike, Backward, Layer
from neuroback.errors import ShapeError

from .max_pool_kernels import max_first, route_to_first
from .windows import (
    Workspace,
    as_tuple,
    fold,
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
