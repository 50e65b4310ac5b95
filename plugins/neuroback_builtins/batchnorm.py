r"""Batch normalization over the feature (channel) axis, with PyTorch's conventions.

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

**Channels: 3-D and 4-D input.** For ``(N, C, L)`` and ``(N, C, H, W)`` input (PyTorch's
``BatchNorm1d`` on 3-D input and ``BatchNorm2d``) each *channel* :math:`c` is normalized
over the batch and every spatial position: the sums above run over the index set
:math:`I = \{(n, l)\}` (or :math:`\{(n, h, w)\}`), that is the reduction axes are
``(0, 2)`` (or ``(0, 2, 3)``), and

.. math::

    m = N \prod_{\text{spatial}} d = N L \ \ (\text{or } N H W), \qquad
    \mu_c = \frac1m \sum_{i \in I} x_{i,c}, \qquad
    \sigma^2_c = \frac1m \sum_{i \in I} (x_{i,c} - \mu_c)^2, \qquad
    y_{i,c} = \gamma_c \hat x_{i,c} + \beta_c

with one :math:`\gamma_c, \beta_c` and one running mean and variance per channel (the
running variance is unbiased with this :math:`m`: :math:`\sigma^2_c\, m/(m-1)`). The
backward is the one above with the same :math:`m` and the sums over :math:`I`:

.. math::

    \frac{\partial L}{\partial \gamma_c} = \sum_{i\in I} g_{i,c} \hat x_{i,c}, \qquad
    \frac{\partial L}{\partial \beta_c} = \sum_{i\in I} g_{i,c}, \qquad
    \frac{\partial L}{\partial x_{i,c}} = \frac{\gamma_c s_c}{m}\Big(m\, g_{i,c}
    - \sum_{j\in I} g_{j,c} - \hat x_{i,c} \sum_{j\in I} g_{j,c} \hat x_{j,c}\Big)

The per-channel vectors are broadcast as ``(1, C, 1)`` or ``(1, C, 1, 1)``. A variance
needs :math:`m \ge 2` values per channel in training (a batch of one 1x1 image has one).
The layer picks the convention from the input's rank; 2-D input is ``(N, C)`` with
:math:`m = N`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, final

import numpy as np

from neuroback import Array, BackendLike, Backward, Layer, checks
from neuroback.errors import ShapeError

from .windows import Workspace

__all__ = ["BatchNorm"]


@final
class BatchNorm(Layer):
    """Normalize each feature over the batch, then scale by ``gamma`` and shift by ``beta``.

    On ``(N, C)`` input each column is a feature; on ``(N, C, L)`` and ``(N, C, H, W)``
    input each channel (axis 1) is normalized over the batch and all positions.

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

    On images, one mean and variance per channel (over the batch, height and width):

    >>> bn4 = nb.layers.BatchNorm(3, dtype="float64")
    >>> x = np.random.default_rng(0).normal(5.0, 2.0, size=(4, 3, 8, 8))
    >>> y, _ = bn4.forward(x, train=True)
    >>> y.mean(axis=(0, 2, 3)).round(6) + 0.0, y.var(axis=(0, 2, 3)).round(3)
    (array([0., 0., 0.]), array([1., 1., 1.]))
    """

    #: Features on axis 1: ``(N, C)``, ``(N, C, L)`` and ``(N, C, H, W)`` input alike.
    feature_axis = 1
    #: PyTorch's BatchNorm1d/2d: gamma and beta are ``weight`` and ``bias``; its
    #: ``num_batches_tracked`` (read only with ``momentum=None``) is not kept here.
    torch_layout: ClassVar[Mapping[str, str] | None] = MappingProxyType(
        {
            "gamma": "weight",
            "beta": "bias",
            "running_mean": "running_mean",
            "running_var": "running_var",
        }
    )
    torch_extra: ClassVar[Mapping[str, int]] = MappingProxyType({"num_batches_tracked": 0})

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
        self._work = Workspace()  # x - mu of a training forward on images, reused per call
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
        self.check_input(x, ndim=(2, 3, 4), features=self.num_features, dtype=self.dtype)
        if x.ndim != 2:
            return self._forward_channels(x, train=train)
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
            self._update_running(mean, var, m)
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

    def _forward_channels(self, x: Array, *, train: bool) -> tuple[Array, Backward]:
        """``(N, C, L)`` or ``(N, C, H, W)`` input: statistics per channel over the batch and
        every position (the module docstring's channel formulas).

        Arranged for few passes over memory: the per-channel sums are products with a
        vector of ones and the per-channel sums of products are batched dot products
        (:func:`_channel_sums`, :func:`_channel_dots`: BLAS, no temporaries; a
        reduction over the axes ``(0, 2, 3)`` was 2-4x slower), and :math:`\\hat x` is
        never stored: with :math:`x_c = x - \\mu` (kept for backward),
        :math:`y = x_c\\,(\\gamma s) + \\beta`, :math:`\\sum g \\hat x = s \\sum g\\, x_c` and
        :math:`\\hat x\\,\\frac1m \\sum g \\hat x = x_c\\, \\frac{s}{m} \\sum g \\hat x`.

        In training :math:`x_c` is scratch lent by a
        :class:`~neuroback_builtins.windows.Workspace` to the forward and given back by its
        backward, so a step reuses last step's array instead of faulting in fresh pages
        (128 page faults a step at the digits CNN's second BatchNorm, about 0.2 ms, under
        glibc's defaults); a second forward before that backward gets its own, and a
        second backward of the same call computes :math:`x_c` again from the input (so a
        training call's closure keeps a reference to its input until it is dropped, as the
        convolutions' do).
        """
        xp = self.backend.xp
        gamma, beta = self.gamma, self.beta
        c = self.num_features
        work = self._work
        per_channel = (1, c) + (1,) * (x.ndim - 2)
        block = (1, *x.shape[1:])

        def spread(v: Array) -> Array:
            """A (C,) vector as a contiguous (1, C, *spatial) block, broadcast over the
            samples only: NumPy then runs x's element-wise operations with it over rows of
            C * positions values (against a (1, C, 1, 1) view, rows of one channel's
            positions: 2.5x slower at (64, 32, 8, 8))."""
            return xp.ascontiguousarray(xp.broadcast_to(v.reshape(per_channel), block))

        m = x.size // c  # values per channel: N * L, or N * H * W
        if train:
            if m < 2:
                raise ShapeError(
                    f"{self._label()} needs at least 2 values per channel in training to "
                    f"estimate a variance (batch size times {_positions(x.ndim)}), got input of "
                    f"shape {tuple(x.shape)}: {m} value{'' if m == 1 else 's'} per channel. Use a "
                    f"larger batch (or drop the last partial batch), or call it with train=False."
                )
            mean = _channel_sums(xp, x) / m
            # x_c, lent by the workspace until this call's backward gives it back
            centered = xp.subtract(x, spread(mean), out=work.lend("x_c", xp, x.shape, x.dtype))
            var = _channel_dots(centered, centered) / m
            inv_std = 1.0 / xp.sqrt(var + self.eps)  # s, (C,)
            self._update_running(mean, var, m)
        else:
            inv_std = 1.0 / xp.sqrt(self.state("running_var") + self.eps)
            centered = x - spread(self.state("running_mean"))  # new: may have no backward
        held = [centered] if train else []
        scale = gamma.value * inv_std if gamma is not None else inv_std  # gamma s, (C,)
        y = centered * spread(scale)  # x_hat gamma
        if beta is not None:
            y += spread(beta.value)

        def backward(dy: Array, *, input_grad: bool = True) -> Array | None:
            self.check_gradient(dy, y)
            # x_c; a second backward of a training call computes it again (the first gave
            # the lent array back); an inference call's is its own and stays
            x_c = (held.pop() if held else x - spread(mean)) if train else centered
            sum_dy = _channel_sums(xp, dy)  # (C,)
            sum_dy_xhat = _channel_dots(dy, x_c) * inv_std
            if gamma is not None and beta is not None:
                gamma.accumulate(sum_dy_xhat)
                beta.accumulate(sum_dy)
            if not input_grad:
                if train:
                    work.give_back("x_c", x_c)
                return None
            if not train:
                return dy * spread(scale)
            # dx = gamma s (g - sum(g)/m - x_hat sum(g x_hat)/m), x_hat = x_c s
            dx = x_c * spread(inv_std * sum_dy_xhat / m)
            work.give_back("x_c", x_c)
            dx += spread(sum_dy / m)
            xp.subtract(dy, dx, out=dx)
            dx *= spread(scale)
            return dx

        return y, backward

    def _update_running(self, mean: Array, var: Array, m: int) -> None:
        """Move the running estimates towards the batch's, keeping the unbiased variance:
        :math:`r \\leftarrow (1-\\rho) r + \\rho\\, b` (see the module docstring)."""
        running_mean, running_var = self.state("running_mean"), self.state("running_var")
        running_mean *= 1.0 - self.momentum
        running_mean += self.momentum * mean
        running_var *= 1.0 - self.momentum
        running_var += (self.momentum * m / (m - 1)) * var

    def config(self) -> dict[str, Any]:
        return {
            "num_features": self.num_features,
            "momentum": self.momentum,
            "eps": self.eps,
            "affine": self.gamma is not None,
            "dtype": self.dtype.name,
        }


def _channel_sums(xp: Any, a: Array) -> Array:
    """:math:`\\sum_{n,j} a_{n,c,j}` for ``a`` of shape ``(N, C, *spatial)``: shape ``(C,)``.

    One matrix-vector product, ``a`` as ``(N C) x S`` rows times a vector of ones, then the
    ``N`` partial sums of each channel added.
    """
    n, c = a.shape[0], a.shape[1]
    rows = a.reshape(n * c, -1)
    return (rows @ xp.ones(rows.shape[1], dtype=a.dtype)).reshape(n, c).sum(axis=0)


def _channel_dots(a: Array, b: Array) -> Array:
    """:math:`\\sum_{n,j} a_{n,c,j}\\, b_{n,c,j}` for two ``(N, C, *spatial)`` arrays:
    shape ``(C,)``. One batched product of the ``N C`` rows (a dot product each, no
    temporary of ``a``'s size), then the ``N`` partial sums of each channel added."""
    n, c = a.shape[0], a.shape[1]
    rows_a, rows_b = a.reshape(n, c, 1, -1), b.reshape(n, c, -1, 1)
    return (rows_a @ rows_b).reshape(n, c).sum(axis=0)


def _positions(ndim: int) -> str:
    return "length" if ndim == 3 else "height times width"
