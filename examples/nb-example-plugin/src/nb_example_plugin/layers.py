r"""nb-example-plugin's layers.

``Swish`` (Ramachandran et al., 2017), with a learnable slope per feature:

.. math::

    y = x\,\sigma(\beta x), \qquad
    \frac{\partial y}{\partial x} = \sigma(\beta x)
        + \beta x\,\sigma(\beta x)(1 - \sigma(\beta x)), \qquad
    \frac{\partial y}{\partial \beta} = x^2\,\sigma(\beta x)(1 - \sigma(\beta x))
"""

from __future__ import annotations

from typing import Any

import numpy as np

import neuroback as nb


class Swish(nb.Layer):
    """``y = x * sigmoid(beta * x)``, ``beta`` learned per feature (starting at ``beta``)."""

    def __init__(self, features: int, *, beta: float = 1.0, dtype: str = "float32", backend=None):
        super().__init__(backend=backend)
        self.features, self.beta0, self.dtype = int(features), float(beta), dtype
        self.beta = self.add_parameter("beta", np.full(self.features, self.beta0, dtype=dtype))

    def forward(self, x: Any, *, train: bool, rng: Any = None):
        # the backend, the rank, the feature count and the dtype, each with a clear error
        self.check_input(x, ndim=2, features=self.features, dtype=self.dtype)
        xp = self.backend.xp
        beta = self.beta.value
        s = 1.0 / (1.0 + xp.exp(-beta * x))
        y = x * s

        def backward(dy: Any, *, input_grad: bool = True):
            self.check_gradient(dy, y)  # dy must be shaped like y, on the same backend
            ds = s * (1.0 - s)
            self.beta.grad[...] += (dy * x * x * ds).sum(axis=0)
            return dy * (s + beta * x * ds) if input_grad else None

        return y, backward

    def config(self) -> dict[str, Any]:
        return {"features": self.features, "beta": self.beta0, "dtype": self.dtype}

    @classmethod
    def example(cls) -> tuple[Swish, Any]:
        rng = np.random.default_rng(0)
        return cls(4, beta=1.5, dtype="float64"), rng.normal(size=(3, 4))
