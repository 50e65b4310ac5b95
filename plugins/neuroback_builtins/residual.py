r"""Residual connection: :math:`y = x + f(x)`.

Backward adds the two paths, :math:`\partial L/\partial x = \partial L/\partial y +
J_f(x)^\top\, \partial L/\partial y`: the identity path carries the gradient
through unchanged, which is why deep residual networks do not suffer vanishing
gradients the way plain deep stacks do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, final

import numpy as np

from neuroback import Array, BackendLike, Backward, Layer
from neuroback.errors import ShapeError
from neuroback.layer import Observer, forward_child, run_backward

__all__ = ["Residual"]


@final
class Residual(Layer):
    """Wrap any layer or Sequential ``block`` (its output must have the input's shape).

    Its parameters are listed under ``block``: ``Residual(Dense(4, 4))`` has
    ``block.W`` and ``block.b``.

    >>> import numpy as np, neuroback as nb
    >>> block = nb.layers.Dense(2, 2, init="zeros")
    >>> nb.layers.Residual(block)(np.ones((1, 2), np.float32))      # f(x) = 0, so y = x
    array([[1., 1.]], dtype=float32)
    """

    def __init__(self, block: Layer, *, backend: BackendLike = None) -> None:
        if not isinstance(block, Layer):
            raise TypeError(
                f"Residual wraps a Layer (or Sequential), got {type(block).__name__}: {block!r}."
            )
        super().__init__(backend=block.backend if backend is None else backend)
        if block.backend is not self.backend:
            block.to(self.backend)
        self.block = block

    @classmethod
    def example(cls) -> tuple[Residual, np.ndarray]:
        from neuroback import Sequential

        from .activations import Tanh
        from .dense import Dense

        block = Sequential(Dense(4, 4, dtype="float64", rng=0), Tanh())
        return cls(block), np.random.default_rng(1).normal(size=(5, 4))

    def children(self) -> Mapping[str, Layer]:
        return {"block": self.block}

    def forward(
        self, x: Array, *, train: bool, rng: Any = None, observer: Observer | None = None
    ) -> tuple[Array, Backward]:
        self.check_input(x)
        block = self.block
        fx, block_backward = forward_child(
            block, x, name="block", train=train, rng=rng, observer=observer
        )
        if fx.shape != x.shape:
            raise ShapeError(
                f"Residual needs its block to keep the shape, but {block!r} maps "
                f"{tuple(x.shape)} to {tuple(fx.shape)}. Make the block's output size equal its "
                f"input size (e.g. Dense(n, n)), or add a projection outside the Residual."
            )
        y = fx + x

        def backward(dy: Array, *, input_grad: bool = True) -> Array | None:
            self.check_gradient(dy, y)
            d_block = run_backward(block_backward, dy, input_grad=input_grad, owner=block)
            if not input_grad:
                return None
            return dy + d_block

        return y, backward

    def config(self) -> dict[str, Any]:
        from neuroback import to_spec

        return {"block": to_spec(self.block)}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Residual:
        from neuroback import build

        unknown = sorted(set(config) - {"block"})
        if unknown or "block" not in config:
            raise TypeError(
                f"Residual takes exactly 'block' (a layer spec) in its config, got "
                f"{sorted(config)}."
            )
        return cls(build("layers", config["block"]))

    def __repr__(self) -> str:
        return f"Residual({self.block!r})"
