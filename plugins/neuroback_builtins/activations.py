r"""Activations: ReLU, LeakyReLU, Sigmoid, Tanh (element-wise) and Softmax.

None has parameters. An element-wise activation's backward multiplies the
incoming gradient by the local derivative,
:math:`\partial L/\partial x = \partial L/\partial y \odot f'(x)`; Softmax
couples the elements of a row and applies its Jacobian instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, final

import numpy as np

from neuroback import Array, Backward, Layer, checks, jit
from neuroback.kernels import Kernel

__all__ = ["ELEMENTWISE", "Elementwise", "LeakyReLU", "ReLU", "Sigmoid", "Softmax", "Tanh"]


@dataclass(frozen=True)
class Elementwise:
    """An element-wise activation as two array functions, shared by its layer and by
    ``Dense(activation=...)``: ``apply(xp, z, out)`` returns :math:`f(z)`, written into
    ``out`` where it can be (``out=z`` from a caller that owns ``z`` saves an array;
    ``None`` allocates); ``derivative(xp, y)`` returns :math:`f'` computed from the
    output :math:`y = f(z)`."""

    apply: Callable[[Any, Array, Array | None], Array]
    derivative: Callable[[Any, Array], Array]


#: NumPy's ``maximum`` with a scalar operand runs without SIMD, and with a broadcast row
#: a loop per row: on 8,192 float32 values (NumPy 2.4, AVX2) 10.5 us with ``0``, 3.9 us
#: against a flat array of zeros as long (on 524,288: 597 us, against 125 us). A NumPy
#: array of at most :data:`_ZEROS_MAX` values is compared with a read-only array of zeros
#: of its own shape and dtype (a view of one flat array per dtype, remembered per shape:
#: no reshape per call); a longer one goes chunk by chunk, a call per 32,768 values,
#: about 1% more time. The zeros come from ``np.zeros`` as fresh pages that are only ever
#: read, which Linux maps to its shared zero page, but ``tracemalloc`` and a strict
#: overcommit policy count them: hence the cap (128 KiB of float32).
_ZEROS: dict[np.dtype, np.ndarray] = {}
_ZEROS_MAX = 1 << 15
_ZEROS_BY_SHAPE: dict[tuple[tuple[int, ...], np.dtype], np.ndarray] = {}
#: shapes remembered at most (a model meets a few; a run of varying lengths, many)
_ZEROS_SHAPES_MAX = 256


def _zeros(size: int, dtype: np.dtype) -> np.ndarray:
    """A read-only flat array of ``size`` zeros of ``dtype`` (a view of the shared one),
    ``size`` at most ``_ZEROS_MAX``."""
    zeros = _ZEROS.get(dtype)
    if zeros is None or zeros.size < size:
        zeros = np.zeros(size, dtype)
        zeros.flags.writeable = False
        _ZEROS[dtype] = zeros
    return zeros[:size]


def _zeros_shaped(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A read-only array of zeros of ``shape`` and ``dtype`` (a view of the shared flat
    one), remembered for the next call with that shape."""
    if len(_ZEROS_BY_SHAPE) >= _ZEROS_SHAPES_MAX:
        _ZEROS_BY_SHAPE.clear()
    zeros = _zeros(math.prod(shape), dtype).reshape(shape)
    _ZEROS_BY_SHAPE[shape, dtype] = zeros
    return zeros


def _relu(xp: Any, z: Array, out: Array | None) -> Array:
    r""":math:`\max(z, 0)`, NaN kept (``maximum`` propagates it)."""
    if not isinstance(z, np.ndarray):
        return xp.maximum(z, 0, out=out)
    size = z.size
    if size <= _ZEROS_MAX:
        zeros = _ZEROS_BY_SHAPE.get((z.shape, z.dtype))
        if zeros is None:
            zeros = _zeros_shaped(z.shape, z.dtype)
        return np.maximum(z, zeros, out=out)
    if not z.flags.c_contiguous or (
        out is not None and not (isinstance(out, np.ndarray) and out.flags.c_contiguous)
    ):
        return np.maximum(z, 0, out=out)
    y = np.empty_like(z) if out is None else out
    flat_z, flat_y = z.reshape(-1), y.reshape(-1)
    zeros = _zeros(_ZEROS_MAX, z.dtype)
    for start in range(0, size, _ZEROS_MAX):
        stop = min(start + _ZEROS_MAX, size)
        np.maximum(flat_z[start:stop], zeros[: stop - start], out=flat_y[start:stop])
    return y


def _relu_backward_reference(backend: Any, dy: Array, y: Array) -> Array:
    r""":math:`\partial L/\partial x = \partial L/\partial y \odot [y > 0]` from the
    output :math:`y = \max(x, 0)` (``y > 0`` exactly where ``x > 0``): a new array."""
    return dy * (y > 0)


def _relu_backward_cases() -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    rng = np.random.default_rng(0)
    cases: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for dtype in (np.float32, np.float64):
        for shape in ((5, 3), (4, 3, 2, 2), (7,)):
            dy = rng.normal(size=shape).astype(dtype)
            y = np.maximum(rng.normal(size=shape), 0).astype(dtype)
            dy.reshape(-1)[::4], y.reshape(-1)[1::5] = np.nan, np.nan
            cases.append(((dy, y), {}))
    return cases


#: ReLU's backward: the reference above; on NumPy with numba, one compiled pass.
relu_backward = Kernel("ReLU.backward", _relu_backward_reference, example=_relu_backward_cases)


def relu_backward_loop(dy: Array, y: Array, dx: Array, zero: Any) -> None:
    """``dx = dy * [y > 0]`` element by element: ``dy`` where ``y > 0``, else ``dy * 0``
    in the arrays' dtype (``zero``), which is what NumPy's product with the mask gives
    (a signed zero, or NaN for an infinite or NaN ``dy``)."""
    for i in range(dy.size):
        dx[i] = dy[i] if y[i] > 0 else dy[i] * zero


_relu_backward_loop = jit.compiled(relu_backward_loop, cache=True)
_COMPILED_DTYPES = {np.dtype(np.float32): np.float32(0), np.dtype(np.float64): np.float64(0)}


if jit.available():

    @relu_backward.implement("numpy")
    def _relu_backward_compiled(backend: Any, dy: Array, y: Array) -> Array:
        """One compiled pass for ``dy`` and ``y`` of one shape and float dtype (no boolean
        mask, no second pass; a non-contiguous input is flattened into a C-ordered copy
        first, and ``dx`` is C-ordered); the reference for anything else."""
        zero = _COMPILED_DTYPES.get(dy.dtype)
        if (
            zero is not None
            and type(dy) is np.ndarray
            and type(y) is np.ndarray
            and y.dtype is dy.dtype
            and y.shape == dy.shape
        ):
            dx = np.empty(dy.shape, dy.dtype)  # C order: its flat view is the array
            try:
                _relu_backward_loop(dy.reshape(-1), y.reshape(-1), dx.reshape(-1), zero)
                return dx
            except jit.Unavailable:
                pass
        return dy * (y > 0)


def _sigmoid(xp: Any, z: Array, out: Array | None) -> Array:
    """Without overflow for any input: with e = exp(-|z|) in (0, 1], 1/(1+e) for z >= 0
    and e/(1+e) for z < 0 (a new array; ``out`` is not used)."""
    e = xp.abs(z)
    xp.negative(e, out=e)
    xp.exp(e, out=e)  # e = exp(-|z|), in (0, 1]
    y = xp.where(z >= 0, 1.0, e)
    y /= 1 + e
    return y


def _tanh(xp: Any, z: Array, out: Array | None) -> Array:
    return xp.tanh(z, out=out)


#: The element-wise activations by name: ``Dense(activation=name)`` applies them fused.
ELEMENTWISE: dict[str, Elementwise] = {
    "relu": Elementwise(_relu, lambda xp, y: y > 0),
    "sigmoid": Elementwise(_sigmoid, lambda xp, y: y * (1 - y)),
    "tanh": Elementwise(_tanh, lambda xp, y: 1 - y * y),
}


def _away_from_zero(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Example inputs with |x| >= 0.1, so no kink lies within a finite-difference step."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.1, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


@final
class ReLU(Layer):
    r"""Rectified linear unit.

    .. math::

        y = \max(x, 0), \qquad
        \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} \odot [x > 0]

    (the derivative at exactly 0 is taken as 0, as PyTorch does).

    >>> import numpy as np, neuroback as nb
    >>> nb.layers.ReLU()(np.array([[-1.0, 0.0, 2.0]]))
    array([[0., 0., 2.]])
    """

    @classmethod
    def example(cls) -> tuple[ReLU, np.ndarray]:
        return cls(), _away_from_zero((5, 4))

    def forward(self, x: Array, *, train: bool, rng: Any = None) -> tuple[Array, Backward]:
        self.check_input(x)
        y = _relu(self._backend.xp, x, None)

        def backward(dy: Array, *, input_grad: bool = True) -> Array:
            self.check_gradient(dy, y)
            backend = self._backend
            return relu_backward.implementation_for(backend)(backend, dy, y)

        return y, backward

    def config(self) -> dict[str, Any]:
        return {}


@final
class Sigmoid(Layer):
    r"""Logistic sigmoid, computed without overflow for any input.

    .. math::

        y = \sigma(x) = \frac{1}{1 + e^{-x}}, \qquad
        \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} \odot y\,(1 - y)

    With :math:`e = e^{-|x|} \in (0, 1]`, the forward pass evaluates
    :math:`1/(1+e)` for :math:`x \ge 0` and :math:`e/(1+e)` for :math:`x < 0`:
    the exponential never overflows and both tails keep full relative precision.

    >>> import numpy as np, neuroback as nb
    >>> nb.layers.Sigmoid()(np.array([[-1000.0, 0.0, 1000.0]]))
    array([[0. , 0.5, 1. ]])
    """

    @classmethod
    def example(cls) -> tuple[Sigmoid, np.ndarray]:
        return cls(), 3 * np.random.default_rng(0).normal(size=(5, 4))

    def forward(self, x: Array, *, train: bool, rng: Any = None) -> tuple[Array, Backward]:
        self.check_input(x)
        xp = self.backend.xp
        sigmoid = ELEMENTWISE["sigmoid"]
        y = sigmoid.apply(xp, x, None)

        def backward(dy: Array, *, input_grad: bool = True) -> Array:
            self.check_gradient(dy, y)
            return dy * sigmoid.derivative(xp, y)

        return y, backward

    def config(self) -> dict[str, Any]:
        return {}


@final
class LeakyReLU(Layer):
    r"""ReLU with a small slope :math:`\alpha` for negative inputs.

    .. math::

        y = \begin{cases} x & x > 0 \\ \alpha x & x \le 0 \end{cases}, \qquad
        \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} \odot
        \begin{cases} 1 & x > 0 \\ \alpha & x \le 0 \end{cases}

    >>> import numpy as np, neuroback as nb
    >>> nb.layers.LeakyReLU(0.1)(np.array([[-2.0, 3.0]]))
    array([[-0.2,  3. ]])
    """

    def __init__(self, negative_slope: float = 0.01, *, backend: Any = None) -> None:
        super().__init__(backend=backend)
        self.negative_slope = checks.number(negative_slope, "LeakyReLU negative_slope")

    @classmethod
    def example(cls) -> tuple[LeakyReLU, np.ndarray]:
        return cls(0.1), _away_from_zero((5, 4))

    def forward(self, x: Array, *, train: bool, rng: Any = None) -> tuple[Array, Backward]:
        self.check_input(x)
        xp = self.backend.xp
        positive = x > 0
        y = xp.where(positive, x, self.negative_slope * x)

        def backward(dy: Array, *, input_grad: bool = True) -> Array:
            self.check_gradient(dy, y)
            return xp.where(positive, dy, self.negative_slope * dy)

        return y, backward

    def config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


@final
class Tanh(Layer):
    r"""Hyperbolic tangent.

    .. math::

        y = \tanh x, \qquad
        \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} \odot (1 - y^2)

    >>> import numpy as np, neuroback as nb
    >>> nb.layers.Tanh()(np.array([[0.0, 1000.0]]))
    array([[0., 1.]])
    """

    @classmethod
    def example(cls) -> tuple[Tanh, np.ndarray]:
        return cls(), 2 * np.random.default_rng(0).normal(size=(5, 4))

    def forward(self, x: Array, *, train: bool, rng: Any = None) -> tuple[Array, Backward]:
        self.check_input(x)
        xp = self.backend.xp
        tanh = ELEMENTWISE["tanh"]
        y = tanh.apply(xp, x, None)

        def backward(dy: Array, *, input_grad: bool = True) -> Array:
            self.check_gradient(dy, y)
            return dy * tanh.derivative(xp, y)

        return y, backward

    def config(self) -> dict[str, Any]:
        return {}


@final
class Softmax(Layer):
    r"""Softmax over the last axis (probabilities that sum to 1 per row).

    .. math::

        y_i = \frac{e^{x_i - \max_k x_k}}{\sum_j e^{x_j - \max_k x_k}}, \qquad
        \frac{\partial L}{\partial x_i} = y_i \Big(\frac{\partial L}{\partial y_i}
        - \sum_j \frac{\partial L}{\partial y_j} y_j\Big)

    Subtracting the row maximum changes nothing mathematically and keeps
    :math:`e^{(\cdot)}` from overflowing. For classification, prefer feeding
    logits to :class:`~neuroback_builtins.cross_entropy.SoftmaxCrossEntropy`, which fuses
    the two and is more accurate.

    >>> import numpy as np, neuroback as nb
    >>> nb.layers.Softmax()(np.array([[1000.0, 1000.0]]))
    array([[0.5, 0.5]])
    """

    @classmethod
    def example(cls) -> tuple[Softmax, np.ndarray]:
        return cls(), 2 * np.random.default_rng(0).normal(size=(4, 5))

    def forward(self, x: Array, *, train: bool, rng: Any = None) -> tuple[Array, Backward]:
        self.check_input(x)
        xp = self.backend.xp
        shifted = x - x.max(axis=-1, keepdims=True)
        y = xp.exp(shifted, out=shifted)
        y /= y.sum(axis=-1, keepdims=True)

        def backward(dy: Array, *, input_grad: bool = True) -> Array:
            self.check_gradient(dy, y)
            return y * (dy - (dy * y).sum(axis=-1, keepdims=True))

        return y, backward

    def config(self) -> dict[str, Any]:
        return {}
