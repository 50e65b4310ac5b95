r"""Dropout: randomly zero activations during training (inverted dropout).

With drop probability :math:`p` and a mask :math:`M_{ij} \sim \text{Bernoulli}(1-p)`:

.. math::

    y = \frac{M \odot x}{1-p}, \qquad
    \frac{\partial L}{\partial x} = \frac{M \odot \partial L/\partial y}{1-p}

so the expected activation is unchanged and inference is the identity.
Each element is dropped independently, on input of any shape (``(N, F)``, ``(N, C, L)``,
``(N, C, H, W)``...): the mask has the input's shape (element-wise dropout, as
``torch.nn.functional.dropout``; not whole channels, as ``Dropout2d``).
The mask is drawn from the ``rng`` passed to ``forward`` (the Trainer passes
its own seeded backend generator), never from a global generator.
"""

from __future__ import annotations

from typing import Any, final

import numpy as np

from neuroback import Array, BackendLike, Backward, Layer, checks

__all__ = ["Dropout"]


@final
class Dropout(Layer):
    """Zero each element with probability ``p`` in training; identity at inference.

    >>> import numpy as np, neuroback as nb
    >>> layer = nb.layers.Dropout(0.5)
    >>> x = np.ones((2, 4))
    >>> (layer(x) == x).all()                     # inference: identity
    np.True_
    >>> y, _ = layer.forward(x, train=True, rng=nb.get_backend().generator(0))
    >>> sorted(set(y.ravel().tolist()))           # kept values are scaled by 1/(1-p)
    [0.0, 2.0]
    >>> layer.forward(np.ones((2, 3, 4, 4)), train=True, rng=nb.get_backend().generator(0))[0].shape
    (2, 3, 4, 4)
    """

    def __init__(self, p: float = 0.5, *, backend: BackendLike = None) -> None:
        super().__init__(backend=backend)
        self.p = checks.number(p, "Dropout p", low=0, high=1, high_open=True)

    @classmethod
    def example(cls) -> tuple[Dropout, np.ndarray]:
        return cls(0.3), np.random.default_rng(0).normal(size=(6, 5))

    def forward(self, x: Array, *, train: bool, rng: Any = None) -> tuple[Array, Backward]:
        self.check_input(x)
        if not train or self.p == 0.0:

            def identity(dy: Array, *, input_grad: bool = True) -> Array:
                self.check_gradient(dy, x)
                return dy

            return x, identity
        if rng is None or not callable(getattr(rng, "random", None)):
            got = "none was given" if rng is None else f"got {type(rng).__name__} {rng!r}"
            raise ValueError(
                f"{self!r} needs a random generator in training ({got}). The Trainer passes "
                f"its own; in a manual loop call forward(x, train=True, "
                f"rng=nb.get_backend().generator(seed)) with one generator kept across steps."
            )
        keep = 1.0 - self.p
        mask = rng.random(x.shape, dtype=x.dtype) < keep
        scale = 1.0 / keep
        y = x * mask
        y *= scale

        def backward(dy: Array, *, input_grad: bool = True) -> Array:
            self.check_gradient(dy, y)
            dx = dy * mask
            dx *= scale
            return dx

        return y, backward

    def config(self) -> dict[str, Any]:
        return {"p": self.p}
