r"""Flatten: reshape ``(batch, d1, d2, ...)`` to ``(batch, d1*d2*...)``.

A reshape moves no numbers, so its backward is the inverse reshape:
:math:`\partial L/\partial x = \operatorname{reshape}(\partial L/\partial y,\ \text{shape}(x))`.
"""

from __future__ import annotations

from typing import Any, final

import numpy as np

from neuroback import Array, Backward, Layer
from neuroback.errors import ShapeError

__all__ = ["Flatten"]


@final
class Flatten(Layer):
    """Keep the batch axis, merge all others.

    >>> import numpy as np, neuroback as nb
    >>> nb.layers.Flatten()(np.zeros((2, 8, 8))).shape
    (2, 64)
    """

    @classmethod
    def example(cls) -> tuple[Flatten, np.ndarray]:
        return cls(), np.random.default_rng(0).normal(size=(3, 2, 4))

    def forward(self, x: Array, *, train: bool, rng: Any = None) -> tuple[Array, Backward]:
        self.check_input(x)
        if x.ndim < 2:
            raise ShapeError(
                f"Flatten expects a batch axis and at least one more, got shape {tuple(x.shape)}. "
                "Reshape a single sample with x[None]."
            )
        shape = x.shape
        y = x.reshape(shape[0], -1)

        def backward(dy: Array, *, input_grad: bool = True) -> Array:
            self.check_gradient(dy, y)
            return dy.reshape(shape)

        return y, backward

    def config(self) -> dict[str, Any]:
        return {}
