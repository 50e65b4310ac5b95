r"""Element-wise activations: ReLU and Sigmoid.

Each has no parameters; its backward multiplies the incoming gradient by the
local derivative, :math:`\partial L/\partial x = \partial L/\partial y \odot f'(x)`.
"""

from __future__ import annotations

from typing import Any, final

from neuroback import Array, Backward, Layer
from neuroback.errors import ShapeError

__all__ = ["ReLU", "Sigmoid"]


def _check_grad(layer: Layer, dy: Array, y: Array) -> None:
    if dy.shape != y.shape:
        raise ShapeError(
            f"{layer!r}.backward expected a gradient of shape {tuple(y.shape)}, "
            f"got {tuple(dy.shape)}."
        )


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

    def forward(self, x: Array, *, train: bool, rng: Any = None) -> tuple[Array, Backward]:
        self.check_input(x)
        xp = self.backend.xp
        y = xp.maximum(x, 0)

        def backward(dy: Array) -> Array:
            _check_grad(self, dy, y)
            return dy * (y > 0)

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

    def forward(self, x: Array, *, train: bool, rng: Any = None) -> tuple[Array, Backward]:
        self.check_input(x)
        xp = self.backend.xp
        e = xp.abs(x)
        xp.negative(e, out=e)
        xp.exp(e, out=e)  # e = exp(-|x|), in (0, 1]
        y = xp.where(x >= 0, 1.0, e)
        y /= 1 + e

        def backward(dy: Array) -> Array:
            _check_grad(self, dy, y)
            return dy * (y * (1 - y))

        return y, backward

    def config(self) -> dict[str, Any]:
        return {}
