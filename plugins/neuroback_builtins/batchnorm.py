r"""Batch normalization over the feature axis of 2-D input, with PyTorch's conventions.

Training, for a batch of :math:`m` rows and each feature column:

.. math::

    \mu = \frac1m \sum_i x_i, \qquad
    \sigma^2 = \frac1m \sum_i (x_i - \mu)^2, \qquad
    \hat x_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad
    y_i = \gamma \hat x_i + \beta

The running estimates move towards the batch statistics with weight
``momentum`` (0.1, the weight of the *new* batch) and keep the unbiased
variance: :math:`r_\mu \leftarrow (1-0.1) r_\mu + 0.1 \mu`,
:math:`r_{\sigma^2} \leftarrow (1-0.1) r_{\sigma^2} + 0.1\,\sigma^2\, m/(m-1)`.

Backward in training, with :math:`g = \partial L/\partial y` and
:math:`s = 1/\sqrt{\sigma^2+\epsilon}` (the batch statistics depend on every row):

.. math::

    \frac{\partial L}{\partial \gamma} = \sum_i g_i \hat x_i, \qquad
    \frac{\partial L}{\partial \beta} = \sum_i g_i, \qquad
    \frac{\partial L}{\partial x_i} = \frac{\gamma s}{m}\Big(m\, g_i - \sum_j g_j
    - \hat x_i \sum_j g_j \hat x_j\Big)

At inference the running statistics replace :math:`\mu, \sigma^2`, which are
then constants: :math:`\partial L/\partial x = g\, \gamma / \sqrt{r_{\sigma^2}+\epsilon}`.
"""

from __future__ import annotations

from typing import Any, final

import numpy as np

from neuroback import Array, BackendLike, Backward, Layer, checks
from neuroback.errors import ShapeError

__all__ = ["BatchNorm"]


@final
class BatchNorm(Layer):
    """Normalize each feature over the batch, then scale by ``gamma`` and shift by ``beta``.

    Parameters are ``gamma`` (ones) and ``beta`` (zeros), unless
    ``affine=False``; the state is ``running_mean`` (zeros) and
    ``running_var`` (ones), saved and moved with the layer.

    >>> import numpy as np, neuroback as nb
    >>> bn = nb.layers.BatchNorm(2, dtype="float64")
    >>> y, _ = bn.forward(np.array([[1.0, 10.0], [3.0, 30.0]]), train=True)
    >>> y.round(4)
    array([[-1., -1.],
           [ 1.,  1.]])
    >>> bn.state("running_mean"), bn.state("running_var")
    (array([0.2, 2. ]), array([  1.1,  20.9]))
    """

    def __init__(
        self,
        num_features: int,
        *,
        momentum: float = 0.1,
        eps: float = 1e-5,
        affine: bool = True,
        dtype: Any = "float32",
        backend: BackendLike = None,
    ) -> None:
        super().__init__(backend=backend)
        self.num_features = checks.positive_int(num_features, "BatchNorm num_features")
        self.momentum = checks.number(momentum, "BatchNorm momentum", low=0, high=1)
        self.eps = checks.positive(eps, "BatchNorm eps")
        self.dtype = checks.float_dtype(dtype)
        n = self.num_features
        self.gamma = self.add_parameter("gamma", np.ones(n, self.dtype)) if affine else None
        self.beta = self.add_parameter("beta", np.zeros(n, self.dtype)) if affine else None
        self.add_state("running_mean", np.zeros(n, self.dtype))
        self.add_state("running_var", np.ones(n, self.dtype))

    @classmethod
    def example(cls) -> tuple[BatchNorm, np.ndarray]:
        layer = cls(4, dtype="float64")
        rng = np.random.default_rng(0)
        if layer.gamma is not None and layer.beta is not None:
            layer.gamma.assign(rng.uniform(0.5, 1.5, size=4))
            layer.beta.assign(rng.normal(size=4))
        return layer, 2 + 3 * rng.normal(size=(8, 4))

    def forward(self, x: Array, *, train: bool, rng: Any = None) -> tuple[Array, Backward]:
        self.check_input(x, ndim=2, features=self.num_features, dtype=self.dtype)
        xp = self.backend.xp
        gamma, beta = self.gamma, self.beta
        m = x.shape[0]
        if train:
            if m < 2:
                raise ShapeError(
                    f"{self!r} needs at least 2 samples per batch in training to estimate a "
                    f"variance, got a batch of {m}. Use a larger batch (or drop the last partial "
                    f"batch), or call it with train=False."
                )
            mean = x.mean(axis=0)
            centered = x - mean
            var = (centered * centered).mean(axis=0)
            inv_std = 1.0 / xp.sqrt(var + self.eps)
            x_hat = centered
            x_hat *= inv_std
            running_mean, running_var = self.state("running_mean"), self.state("running_var")
            running_mean *= 1.0 - self.momentum
            running_mean += self.momentum * mean
            running_var *= 1.0 - self.momentum
            running_var += (self.momentum * m / (m - 1)) * var
        else:
            inv_std = 1.0 / xp.sqrt(self.state("running_var") + self.eps)
            x_hat = (x - self.state("running_mean")) * inv_std
        y = x_hat * gamma.value + beta.value if gamma is not None and beta is not None else x_hat

        def backward(dy: Array, *, input_grad: bool = True) -> Array | None:
            self.check_gradient(dy, y)
            sum_dy = dy.sum(axis=0)
            sum_dy_xhat = (dy * x_hat).sum(axis=0)
            if gamma is not None and beta is not None:
                gamma.accumulate(sum_dy_xhat)
                beta.accumulate(sum_dy)
                scale = gamma.value * inv_std
            else:
                scale = inv_std
            if not input_grad:
                return None
            if not train:
                return dy * scale
            dx = x_hat * (sum_dy_xhat / m)
            dx += sum_dy / m
            xp.subtract(dy, dx, out=dx)
            dx *= scale
            return dx

        return y, backward

    def config(self) -> dict[str, Any]:
        return {
            "num_features": self.num_features,
            "momentum": self.momentum,
            "eps": self.eps,
            "affine": self.gamma is not None,
            "dtype": self.dtype.name,
        }
