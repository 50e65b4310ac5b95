r"""Conv1D and Conv2D: convolution layers with PyTorch's layouts and arguments.

A convolution here is the cross-correlation PyTorch computes. For input
:math:`x` of shape ``(N, C, *S)``, weights :math:`W` of shape
``(O, C/G, *k)``, bias :math:`b` of shape ``(O,)``, stride :math:`s`, dilation
:math:`d`, groups :math:`G` and :math:`\tilde x` the input zero-padded on the
spatial axes, output channel :math:`o` of group :math:`g(o)` reads the
:math:`C/G` input channels of its group:

.. math::

    y_{n,o,p} = b_o + \sum_{c=1}^{C/G} \sum_{q}
    W_{o,c,q}\; \tilde x_{n,\; g(o)\,C/G + c,\; s \odot p + d \odot q}

with :math:`p` running over output positions and :math:`q` over kernel offsets
(tuples with one entry per spatial axis). With the windows of
:mod:`~neuroback_builtins.windows`, :math:`U(\tilde x)_{n,c,p,q} = \tilde
x_{n,c,s\odot p + d\odot q}`, each group is one matrix product. Copy the windows
of group :math:`g` into a *patch matrix* :math:`X_g` with a row per (input channel,
kernel offset) and a column per (output position, sample), and lay the group's
weights out as :math:`W_g` with a row per output channel:

.. math::

    Y_g = W_g X_g + b_g, \qquad
    X_g \in \mathbb R^{(C/G)K \times PN},\;
    W_g \in \mathbb R^{(O/G) \times (C/G)K},\;
    Y_g \in \mathbb R^{(O/G) \times PN}

(:math:`P` output positions, :math:`K=\prod k` offsets per window). Backward, with
:math:`\delta = \partial L/\partial y` laid out per group as :math:`\Delta_g`, the
shape of :math:`Y_g`:

.. math::

    \frac{\partial L}{\partial W_g} = \Delta_g X_g^\top
    = \sum_{n} \Delta_{g,n} X_{g,n}^\top, \qquad
    \frac{\partial L}{\partial b_o} = \sum_{n,p} \delta_{n,o,p}, \qquad
    \frac{\partial L}{\partial x} = \operatorname{unpad}\Big(U^\top\big(W_g^\top
    \Delta_g\big)_{g=1..G}\Big)

where :math:`U^\top` (:func:`~neuroback_builtins.windows.fold`) adds every patch
entry back onto the input element it was read from (one strided addition per kernel
offset), and unpad drops the border (both at once, without summing the border:
:func:`~neuroback_builtins.windows.fold_unpadded`). All groups go through one batched matrix
product (a stack of :math:`G`), so the forward pass is one product and the backward
pass two (weights, input); the input product and the fold are skipped when
``backward(dy, input_grad=False)``.

The sample axis is kept last inside the layer (the padded input is copied once to
``(G, C/G, *spatial, N)``): the patch copy and each of the fold's additions then run
over rows of ``out_width * N`` contiguous numbers instead of ``out_width`` (keeping
the samples first, or the channels last, made them slower on NumPy, up to 14x for the
fold, at the small images and channel counts of LeNet-5 and the digits CNN).
:math:`Y_g = W_g X_g` comes out laid out ``(O/G, P, N)``, and one pass moves the samples
back to the front and adds the bias; :math:`\Delta_g` is ``dy`` with the samples moved
last. Where BLAS is faster with an operand transposed, the code computes the transpose
of a product (:math:`\partial L/\partial W_g^\top = X_g \Delta_g^\top`); the numbers
are the same.

**Memory.** The patch matrices hold :math:`K` copies of the (padded) input, the
largest arrays of a step (LeNet-5's first layer: 10 MB of patches for a 0.4 MB
batch). They, and the layer's scratch arrays (:math:`\tilde x` with the samples last,
:math:`Y_g`, :math:`\Delta_g`, the folded gradient), come from a
:class:`~neuroback_builtins.windows.Workspace` and are reused from step to step instead
of being allocated anew: under glibc's defaults, fresh pages on every step cost about
5-8% of the digits CNN's step. (Sharing one buffer between :math:`\tilde x` and the folded
gradient and one between :math:`Y_g` and :math:`\Delta_g` saves memory, 3.7 MiB of
LeNet-5's peak, but made the digits CNN's step about 9% slower in the suite: more pages
freed and faulted in again each step.) The patch buffer is lent to one training forward
and given back by its backward (which first reuses it for :math:`W_g^\top \Delta_g`); a
second forward before that backward gets a buffer of its own, and a second backward of
the same call rebuilds the patches from the input. Outputs and input gradients are
always new arrays.

``padding="same"`` pads :math:`d\,(k-1)` in total per axis, the extra one on the high
side when it is odd (as PyTorch does); it needs stride 1.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, final

import numpy as np

from neuroback import Array, BackendLike, Backward, Layer, checks
from neuroback.errors import ShapeError
from neuroback.rng import resolve_rng

from . import windows
from .initializers import INITIALIZERS, initialize

__all__ = ["Conv1D", "Conv2D"]

_AXIS_NAMES: dict[int, tuple[str, ...]] = {1: ("length",), 2: ("height", "width")}


class _ConvND(Layer):
    """The shared implementation of :class:`Conv1D` and :class:`Conv2D` (``dims`` spatial axes)."""

    dims: ClassVar[int]
    feature_axis = 1
    #: PyTorch's Conv1d/Conv2d hold the same arrays in the same layouts.
    torch_layout: ClassVar[Mapping[str, str] | None] = MappingProxyType(
        {"W": "weight", "b": "bias"}
    )

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | list[int] | tuple[int, ...],
        *,
        stride: int | list[int] | tuple[int, ...] = 1,
        padding: int | str | list[int] | tuple[int, ...] = 0,
        dilation: int | list[int] | tuple[int, ...] = 1,
        groups: int = 1,
        bias: bool = True,
        init: str = "he",
        dtype: Any = "float32",
        rng: np.random.Generator | int | None = None,
        backend: BackendLike = None,
    ) -> None:
        super().__init__(backend=backend)
        name, dims = type(self).__name__, self.dims
        self._work = windows.Workspace()  # buffers reused from call to call (patch matrices)
        self.in_channels = checks.positive_int(in_channels, f"{name} in_channels")
        self.out_channels = checks.positive_int(out_channels, f"{name} out_channels")
        self.groups = checks.positive_int(groups, f"{name} groups")
        for what, count in (("in_channels", self.in_channels), ("out_channels", self.out_channels)):
            if count % self.groups:
                raise ValueError(
                    f"{name} {what} ({count}) must be divisible by groups ({self.groups}): "
                    f"each group maps in_channels/groups inputs to out_channels/groups outputs. "
                    f"Choose groups among the common divisors of in_channels and out_channels "
                    f"(groups=in_channels is a depthwise convolution)."
                )
        self.kernel_size = windows.as_tuple(kernel_size, dims, f"{name} kernel_size")
        self.stride = windows.as_tuple(stride, dims, f"{name} stride")
        self.dilation = windows.as_tuple(dilation, dims, f"{name} dilation")
        self._given = {
            "kernel_size": _as_config(kernel_size),
            "stride": _as_config(stride),
            "padding": _as_config(padding),
            "dilation": _as_config(dilation),
        }
        self.padding = self._resolve_padding(padding)
        if not isinstance(init, str) or init not in INITIALIZERS:
            raise ValueError(f"{name} init must be one of {sorted(INITIALIZERS)}, got {init!r}.")
        if not isinstance(bias, bool):
            raise ValueError(f"{name} bias must be True or False, got {bias!r}.")
        self.init = init
        self.dtype = checks.float_dtype(dtype)
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.W = self.add_parameter("W", self._initial_weights(resolve_rng(rng), shape))
        self.b = (
            self.add_parameter("b", np.zeros(self.out_channels, dtype=self.dtype)) if bias else None
        )

    def _resolve_padding(self, padding: Any) -> tuple[tuple[int, int], ...]:
        name, dims = type(self).__name__, self.dims
        if isinstance(padding, str):
            if padding == "valid":
                return ((0, 0),) * dims
            if padding != "same":
                raise ValueError(
                    f"{name} padding must be 'valid', 'same', a non-negative integer or a list "
                    f"of {dims}, got {padding!r}."
                )
            if any(s != 1 for s in self.stride):
                raise ValueError(
                    f"{name} padding='same' needs stride 1, got stride={list(self.stride)}: with "
                    f"a larger stride no padding keeps the output the input's size (PyTorch "
                    f"refuses it too). Give the padding as numbers instead."
                )
            totals = (d * (k - 1) for k, d in zip(self.kernel_size, self.dilation, strict=True))
            return tuple((t // 2, t - t // 2) for t in totals)
        try:
            pads = windows.as_tuple(padding, dims, f"{name} padding", minimum=0)
        except ValueError:
            raise ValueError(
                f"{name} padding must be 'valid', 'same', a non-negative integer or a list of "
                f"{dims}, got {padding!r}."
            ) from None
        return tuple((p, p) for p in pads)

    def _initial_weights(self, generator: np.random.Generator, shape: tuple[int, ...]) -> Any:
        """Draw ``shape`` from the initializer with the convolution's fans,
        fan_in = (C/G) K and fan_out = (O/G) K (K: the kernel's positions)."""
        kernel = math.prod(self.kernel_size)
        fan_in = self.in_channels // self.groups * kernel
        fan_out = self.out_channels // self.groups * kernel
        return initialize(self.init, generator, fan_in, fan_out, self.dtype, shape=shape)

    def _output_spatial(self, spatial: tuple[int, ...]) -> tuple[int, ...]:
        out = []
        for axis, (size, k, s, (lo, hi), d) in enumerate(
            zip(spatial, self.kernel_size, self.stride, self.padding, self.dilation, strict=True)
        ):
            n = windows.output_size(size, k, s, lo, hi, d)
            if n < 1:
                raise ShapeError(
                    f"{self._label()} got input of shape {spatial} on its spatial axes: on axis "
                    f"{axis + 2} ({_AXIS_NAMES[self.dims][axis]}) the padded input has size "
                    f"{size + lo + hi} ({size} + padding {lo} + {hi}), smaller than the "
                    f"effective kernel size {windows.effective_kernel(k, d)} (dilation {d} * "
                    f"(kernel {k} - 1) + 1). Use a larger input, more padding, or a smaller "
                    f"kernel or dilation."
                )
            out.append(n)
        return tuple(out)

    @classmethod
    @abstractmethod
    def example(cls) -> tuple[Layer, Any]:
        """A small float64 layer and input (each public class declares its own)."""

    def forward(self, x: Array, *, train: bool, rng: Any = None) -> tuple[Array, Backward]:
        dims = self.dims
        self.check_input(x, ndim=dims + 2, features=self.in_channels, dtype=self.dtype)
        xp = self.backend.xp
        spatial = tuple(x.shape[2:])
        out = self._output_spatial(spatial)
        n, groups, dtype = x.shape[0], self.groups, x.dtype
        c_g, o_g = self.in_channels // groups, self.out_channels // groups
        kernel, stride, dilation = self.kernel_size, self.stride, self.dilation
        padding = self.padding
        positions, taps = math.prod(out), math.prod(kernel)
        padded = tuple(s + lo + hi for s, (lo, hi) in zip(spatial, padding, strict=True))
        in_shape = (groups, c_g, *padded, n)  # x~ laid out (G, C/G, *padded, N)
        out_shape = (groups, o_g, positions * n)
        cols_shape = (groups, c_g * taps, positions * n)  # the patch matrices X_g
        work = self._work

        def patches(cols: Array) -> Array:
            """X_g: U(x~) (a view (G, C/G, *out, N, *kernel)) copied into ``cols``, laid
            out (G, C/G, *kernel, *out, N): row (c, q), column (p, n)."""
            # the padded input: its border is zero from allocation on and never written
            x_t = work.lend("x_t", xp, in_shape, dtype, fill=0)
            interior = windows.unpad(x_t, padding, axis=2)
            _move_samples_last(interior, x.reshape(n, groups, c_g, *spatial))
            win = windows.unfold(xp, x_t, kernel, stride, dilation, axis=2)
            cols.reshape(groups, c_g, *kernel, *out, n)[...] = win.transpose(_TO_COLS[dims])
            work.give_back("x_t", x_t)
            return cols

        # X_g, lent by the workspace until this call's backward (train) or new (inference)
        cols = work.lend("cols", xp, cols_shape, dtype) if train else xp.empty(cols_shape, dtype)
        held = [patches(cols)]
        W = self.W.value
        W_g = W.reshape(groups, o_g, c_g * taps)
        b = self.b
        Y = work.lend("Y", xp, out_shape, dtype)
        xp.matmul(W_g, held[0], out=Y)  # Y_g = W_g X_g: one product for all groups
        # y (N, O, *out) = Y_g + b, the sample axis moved back to the front (one pass)
        y = xp.empty((n, self.out_channels, *out), dtype=dtype)
        y_g = y.reshape(n, groups, o_g, positions)
        Y_t = Y.reshape(groups, o_g, positions, n).transpose(3, 0, 1, 2)
        if b is not None:
            xp.add(Y_t, b.value.reshape(groups, o_g, 1), out=y_g)
        else:
            y_g[...] = Y_t
        work.give_back("Y", Y)

        def backward(dy: Array, *, input_grad: bool = True) -> Array | None:
            self.check_gradient(dy, y)
            # X_g; a second backward of this call rebuilds it (the first gave it back)
            X = held.pop() if held else patches(xp.empty(cols_shape, dtype))
            delta_g = work.lend("delta", xp, out_shape, dtype)
            delta = delta_g.reshape(groups, o_g, positions, n)
            _move_samples_last(delta, dy.reshape(n, groups, o_g, positions))  # Delta_g
            # dW_g = Delta_g X_g^T, computed as (X_g Delta_g^T)^T: the faster BLAS call
            dW_t = X @ delta_g.transpose(0, 2, 1)
            self.W.accumulate(dW_t.transpose(0, 2, 1).reshape(W.shape))
            if b is not None:
                b.accumulate_sum(delta.reshape(self.out_channels, positions * n), axis=1)
            if not input_grad:
                work.give_back("delta", delta_g)
                work.give_back("cols", X)
                return None
            # dX_g = W_g^T Delta_g, written over X_g (no longer needed), then folded
            d_cols = xp.matmul(W_g.transpose(0, 2, 1), delta_g, out=X)
            work.give_back("delta", delta_g)
            # unpad(U^T(dX)), laid out (C, *spatial, N): the border is never summed
            d_t = work.lend("d_t", xp, (self.in_channels, *spatial, n), dtype)
            windows.fold_columns(
                self.backend,
                d_cols.reshape(self.in_channels, *kernel, *out, n),
                d_t,
                kernel=kernel,
                stride=stride,
                dilation=dilation,
                padding=padding,
            )
            work.give_back("cols", X)
            dx = xp.empty(x.shape, dtype=dtype)  # (N, C, *spatial), the samples first again
            d_g = d_t.reshape(groups, c_g, *spatial, n)
            dx.reshape(n, groups, c_g, *spatial)[...] = d_g.transpose(_SAMPLES_FIRST[dims])
            work.give_back("d_t", d_t)
            return dx

        return y, backward

    def config(self) -> dict[str, Any]:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            **self._given,
            "groups": self.groups,
            "bias": self.b is not None,
            "init": self.init,
            "dtype": self.dtype.name,
        }


def _as_config(value: Any) -> Any:
    """An argument as config() stores it: ints and strings as given, sequences as lists."""
    if isinstance(value, str | bool):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, list | tuple):
        return [int(v) if isinstance(v, np.integer) else v for v in value]
    return value  # invalid: the checks after this line name it


#: per number of spatial axes d: the window view (G, C/G, *out, N, *kernel) -> the patch
#: layout (G, C/G, *kernel, *out, N), and (G, C/G, *spatial, N) -> (N, G, ...)
_TO_COLS = {d: (0, 1, *range(3 + d, 3 + 2 * d), *range(2, 3 + d)) for d in (1, 2)}
_SAMPLES_FIRST = {d: (2 + d, 0, 1, *range(2, 2 + d)) for d in (1, 2)}

#: samples moved per copy in _move_samples_last when a sample spans a multiple of 4 KiB
_SAMPLE_BLOCK = 8


def _move_samples_last(dst: Array, src: Array) -> None:
    """``dst[..., i] = src[i, ...]``: ``src`` ``(N, *rest)`` copied into ``dst`` ``(*rest, N)``.

    NumPy copies in ``dst``'s order, so consecutive reads of ``src`` are one sample
    apart. When a sample spans a multiple of 4 KiB (64 samples of 16 x 8 x 8 float32, a
    common case), those reads all fall into the same few cache sets and evict each
    other: the copy ran about 3x slower. Copying ``_SAMPLE_BLOCK`` samples at a time
    keeps the lines in use within the L1 cache's ways. Other sizes are copied at once
    (blocks were slower there).
    """
    n = src.shape[0]
    moved = src.transpose(*range(1, src.ndim), 0)
    if n <= _SAMPLE_BLOCK or src.strides[0] % 4096:
        dst[...] = moved
        return
    for start in range(0, n, _SAMPLE_BLOCK):
        dst[..., start : start + _SAMPLE_BLOCK] = moved[..., start : start + _SAMPLE_BLOCK]


@final
class Conv1D(_ConvND):
    """1-D convolution over ``(N, C, L)`` input, as ``torch.nn.Conv1d``.

    ``W`` has shape ``(out_channels, in_channels/groups, kernel)`` and ``b``
    ``(out_channels,)``, PyTorch's layouts, so weights copy over one to one.

    Parameters
    ----------
    in_channels, out_channels:
        Channels of the input and of the output; both divisible by ``groups``.
    kernel_size:
        Kernel length: an int or a list of one.
    stride, dilation:
        An int or a list of one (default 1).
    padding:
        Zeros added at both ends: an int, a list of one, ``"valid"`` (0) or ``"same"``
        (output as long as the input; stride 1 only).
    groups:
        Channel groups: each maps ``in_channels/groups`` inputs to
        ``out_channels/groups`` outputs; ``groups=in_channels`` is depthwise.
    bias:
        Whether to learn the bias ``b`` (initialized to zeros).
    init:
        Weight initializer (``"he"`` by default, as for Dense), drawn with
        fan_in = in_channels / groups times the kernel size, and fan_out =
        out_channels / groups times the kernel size. PyTorch's default differs: weights and
        bias uniform in :math:`\\pm 1/\\sqrt{\\text{fan\\_in}}`.
    dtype, rng, backend:
        As for :class:`~neuroback_builtins.dense.Dense`.

    >>> import numpy as np, neuroback as nb
    >>> layer = nb.layers.Conv1D(2, 4, 3, padding="same", rng=0)
    >>> y, backward = layer.forward(np.ones((5, 2, 10), np.float32), train=True)
    >>> y.shape, layer.W.shape, y.dtype
    ((5, 4, 10), (4, 2, 3), dtype('float32'))
    >>> backward(np.ones_like(y)).shape
    (5, 2, 10)
    >>> layer.b.grad
    array([50., 50., 50., 50.], dtype=float32)
    """

    dims = 1

    @classmethod
    def example(cls) -> tuple[Conv1D, np.ndarray]:
        layer = cls(2, 3, 3, padding=1, dtype="float64", rng=0)
        if layer.b is not None:
            layer.b.assign(np.random.default_rng(1).normal(size=3))
        return layer, np.random.default_rng(2).normal(size=(2, 2, 7))


@final
class Conv2D(_ConvND):
    """2-D convolution over ``(N, C, H, W)`` input, as ``torch.nn.Conv2d``.

    ``W`` has shape ``(out_channels, in_channels/groups, kh, kw)`` and ``b``
    ``(out_channels,)``, PyTorch's layouts, so weights copy over one to one.

    Parameters
    ----------
    in_channels, out_channels:
        Channels of the input and of the output; both divisible by ``groups``.
    kernel_size:
        An int (square kernel) or a list ``[kh, kw]``.
    stride, dilation:
        An int or a list of two (default 1).
    padding:
        Zeros added on each side: an int, a list ``[ph, pw]``, ``"valid"`` (0) or
        ``"same"`` (output the input's size; stride 1 only; an odd total puts the
        extra zero at the bottom/right, as PyTorch does).
    groups:
        Channel groups: each maps ``in_channels/groups`` inputs to
        ``out_channels/groups`` outputs; ``groups=in_channels`` is depthwise.
    bias:
        Whether to learn the bias ``b`` (initialized to zeros).
    init:
        Weight initializer (``"he"`` by default, as for Dense), drawn with
        fan_in = in_channels / groups times kh kw, and fan_out =
        out_channels / groups times kh kw. PyTorch's default differs: weights and
        bias uniform in :math:`\\pm 1/\\sqrt{\\text{fan\\_in}}`.
    dtype, rng, backend:
        As for :class:`~neuroback_builtins.dense.Dense`.

    >>> import numpy as np, neuroback as nb
    >>> layer = nb.layers.Conv2D(3, 8, 3, stride=2, padding=1, rng=0)
    >>> y, backward = layer.forward(np.ones((4, 3, 28, 28), np.float32), train=True)
    >>> y.shape, layer.W.shape
    ((4, 8, 14, 14), (8, 3, 3, 3))
    >>> backward(np.ones_like(y)).shape
    (4, 3, 28, 28)
    >>> nb.layers.Conv2D(4, 4, [1, 3], groups=4, padding=[0, 1]).W.shape  # depthwise
    (4, 1, 1, 3)
    """

    dims = 2

    @classmethod
    def example(cls) -> tuple[Conv2D, np.ndarray]:
        layer = cls(2, 3, 3, padding=1, dtype="float64", rng=0)
        if layer.b is not None:
            layer.b.assign(np.random.default_rng(1).normal(size=3))
        return layer, np.random.default_rng(2).normal(size=(2, 2, 4, 4))
