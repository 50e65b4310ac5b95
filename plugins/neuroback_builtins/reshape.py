r"""Flatten and Reshape: per-sample reshapes that keep the batch axis.

A reshape moves no numbers, so its backward is the inverse reshape:

.. math::

    y = \operatorname{reshape}(x,\ (N, s_1, \dots, s_k)), \qquad
    \frac{\partial L}{\partial x} =
    \operatorname{reshape}\Big(\frac{\partial L}{\partial y},\ \text{shape}(x)\Big)

``Flatten`` merges every axis after the batch axis; ``Reshape(shape)`` gives each
sample the shape ``shape`` (one entry may be ``-1``, inferred from the others).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, final

import numpy as np

from neuroback import Array, BackendLike, Backward, Layer
from neuroback.errors import ShapeError

__all__ = ["Flatten", "Reshape"]


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


@final
class Reshape(Layer):
    """Give each sample a new shape; the batch axis is kept.

    Parameters
    ----------
    shape:
        The shape of one sample after the layer, a list of positive integers; one
        entry may be ``-1``, inferred from the sample's size. ``Reshape([1, 8, 8])``
        maps ``(N, 64)`` to ``(N, 1, 8, 8)``.

    >>> import numpy as np, neuroback as nb
    >>> layer = nb.layers.Reshape([1, 8, 8])
    >>> y, backward = layer.forward(np.zeros((2, 64)), train=True)
    >>> y.shape, backward(np.ones((2, 1, 8, 8))).shape
    ((2, 1, 8, 8), (2, 64))
    >>> nb.layers.Reshape([-1, 4])(np.zeros((2, 3, 8))).shape
    (2, 6, 4)
    """

    def __init__(self, shape: Sequence[int] | int, *, backend: BackendLike = None) -> None:
        super().__init__(backend=backend)
        self.shape = _sample_shape(shape)

    @classmethod
    def example(cls) -> tuple[Reshape, np.ndarray]:
        return cls([2, -1, 3]), np.random.default_rng(0).normal(size=(3, 2, 6))

    def forward(self, x: Array, *, train: bool, rng: Any = None) -> tuple[Array, Backward]:
        self.check_input(x)
        if x.ndim < 1:
            raise ShapeError(
                f"{self._label()} expects a batch axis, got a 0-d array. Pass a batch: "
                "x.reshape(1, -1) for a single sample."
            )
        shape = tuple(x.shape)
        y = x.reshape((shape[0], *self._target(shape)))

        def backward(dy: Array, *, input_grad: bool = True) -> Array:
            self.check_gradient(dy, y)
            return dy.reshape(shape)

        return y, backward

    def _target(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The per-sample output shape for input ``shape``, with ``-1`` resolved."""
        size = math.prod(shape[1:])
        known = math.prod(s for s in self.shape if s != -1)
        if -1 in self.shape:
            if size % known == 0:
                return tuple(size // known if s == -1 else s for s in self.shape)
            holds = f"a multiple of {known} values"
        elif size == known:
            return self.shape
        else:
            holds = f"{known} values"
        raise ShapeError(
            f"{self._label()} cannot reshape input of shape {shape}: each sample has shape "
            f"{shape[1:]} ({size} values), but the shape {list(self.shape)} needs {holds}. "
            "Check the previous layer's output size, or the shape given to Reshape."
        )

    def config(self) -> dict[str, Any]:
        return {"shape": list(self.shape)}


def _sample_shape(shape: Any) -> tuple[int, ...]:
    """``shape`` as a tuple of positive ints with at most one ``-1``, or a ValueError."""
    entries = [shape] if isinstance(shape, int | np.integer) else shape
    try:
        items = list(entries)
    except TypeError:
        items = None
    if items is None or not all(
        isinstance(s, int | np.integer) and not isinstance(s, bool) and (s >= 1 or s == -1)
        for s in items
    ):
        raise ValueError(
            f"Reshape shape must be a list of positive integers (one of them may be -1), "
            f"got {shape!r}. Example: Reshape([1, 8, 8]) maps (N, 64) to (N, 1, 8, 8)."
        )
    if items.count(-1) > 1:
        raise ValueError(
            f"Reshape shape may hold -1 at most once (it is inferred from the others), got "
            f"{list(items)}."
        )
    return tuple(int(s) for s in items)
