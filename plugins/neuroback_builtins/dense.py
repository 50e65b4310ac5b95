r"""Dense (fully connected) layer.

Forward, for a batch :math:`x \in \mathbb R^{m\times n}`, weights
:math:`W \in \mathbb R^{n\times k}` and bias :math:`b \in \mathbb R^{k}`:

.. math:: y = x W + b

Backward, given :math:`\delta = \partial L/\partial y \in \mathbb R^{m\times k}`:

.. math::

    \frac{\partial L}{\partial W} = x^\top \delta, \qquad
    \frac{\partial L}{\partial b} = \textstyle\sum_{i} \delta_{i,:}, \qquad
    \frac{\partial L}{\partial x} = \delta\, W^\top

The weight layout is ``(in_features, out_features)``, as in ``x @ W`` (the
transpose of ``torch.nn.Linear.weight``).

**Any rank.** Like ``torch.nn.Linear``, the layer acts on the last axis of an input of
any rank :math:`\ge 2`: ``(N, d_1, ..., d_r, n) -> (N, d_1, ..., d_r, k)``, the same
:math:`W` applied at every leading index. The input is viewed as the 2-D
:math:`x_{2d} \in \mathbb R^{M\times n}` with :math:`M = N\, d_1 \cdots d_r` rows
(``x.reshape(-1, n)``; a view of a contiguous array), the products above are formed on
it, and the results are viewed back:

.. math::

    y = \operatorname{reshape}(x_{2d} W + b), \qquad
    \frac{\partial L}{\partial W} = x_{2d}^\top \delta_{2d}, \qquad
    \frac{\partial L}{\partial b} = \textstyle\sum_{\text{all leading axes}} \delta, \qquad
    \frac{\partial L}{\partial x} = \operatorname{reshape}(\delta_{2d} W^\top)

so the weight gradient sums over the batch *and* every other leading axis. 2-D input
takes the direct path (no reshape).

With ``activation=f`` (``"relu"``, ``"sigmoid"`` or ``"tanh"``) the layer computes
:math:`y = f(xW + b)` in one layer: :math:`f` is applied to the product in place, and
the backward pass first forms :math:`\delta = \partial L/\partial y \odot f'` (from
:math:`y`) and then the three products above. The numbers are those of ``Dense``
followed by the activation's own layer, bit for bit; what is saved is one array per
batch and a layer's call, its checks and its closure (a tenth of a small model's step).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, final

import numpy as np

from neuroback import Array, BackendLike, Backward, Layer, checks
from neuroback.errors import ShapeError
from neuroback.rng import resolve_rng

from .activations import ELEMENTWISE
from .dense_kernels import add_bias
from .initializers import INITIALIZERS, initialize

__all__ = ["Dense"]


@final
class Dense(Layer):
    """Fully connected layer ``y = x @ W + b``, on the last axis of input of any rank >= 2.

    Parameters
    ----------
    in_features, out_features:
        Sizes of the input and output feature axes.
    bias:
        Whether to learn the bias ``b`` (initialized to zeros).
    init:
        Weight initializer: ``"he"`` (default; alias ``"kaiming"``), ``"xavier"`` (alias
        ``"glorot"``), ``"normal"`` or ``"zeros"``.
    dtype:
        Parameter dtype (default ``"float32"``); inputs must match it.
    activation:
        ``None`` (default), or ``"relu"``, ``"sigmoid"``, ``"tanh"``: that activation
        fused into this layer (the same numbers as a separate activation layer after it).
    rng:
        A ``numpy.random.Generator`` or seed for the initial weights; default:
        the generator :func:`neuroback.seed` controls.
    backend:
        Where the parameters live (default: the active backend).

    >>> import numpy as np, neuroback as nb
    >>> layer = nb.layers.Dense(3, 2, rng=0)
    >>> y, backward = layer.forward(np.ones((4, 3), np.float32), train=True)
    >>> y.shape, layer.W.shape
    ((4, 2), (3, 2))
    >>> backward(np.ones((4, 2), np.float32)).shape
    (4, 3)
    >>> layer.b.grad
    array([4., 4.], dtype=float32)

    On ``(batch, ..., in_features)`` input it maps the last axis, as ``torch.nn.Linear``:

    >>> layer.forward(np.ones((4, 5, 3), np.float32), train=False)[0].shape
    (4, 5, 2)
    """

    #: ``torch.nn.Linear`` stores the weight as ``(out_features, in_features)``.
    torch_layout: ClassVar[Mapping[str, str] | None] = MappingProxyType(
        {"W": "weight.T", "b": "bias"}
    )

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        init: str = "he",
        dtype: Any = "float32",
        activation: str | None = None,
        rng: np.random.Generator | int | None = None,
        backend: BackendLike = None,
    ) -> None:
        super().__init__(backend=backend)
        if activation is not None and (
            not isinstance(activation, str) or activation not in ELEMENTWISE
        ):
            raise ValueError(
                f"Dense activation must be one of {sorted(ELEMENTWISE)} or None, got "
                f"{activation!r}. Other activations go in a layer of their own after Dense."
            )
        self.activation = activation
        self._activation = None if activation is None else ELEMENTWISE[activation]
        self.in_features = checks.positive_int(in_features, "Dense in_features")
        self.out_features = checks.positive_int(out_features, "Dense out_features")
        if init not in INITIALIZERS:
            raise ValueError(f"Dense init must be one of {sorted(INITIALIZERS)}, got {init!r}.")
        self.init = init
        self.dtype = checks.float_dtype(dtype)
        generator = resolve_rng(rng)
        self.W = self.add_parameter(
            "W", initialize(init, generator, self.in_features, self.out_features, self.dtype)
        )
        self.b = (
            self.add_parameter("b", np.zeros(self.out_features, dtype=self.dtype)) if bias else None
        )

    @classmethod
    def example(cls) -> tuple[Dense, np.ndarray]:
        layer = cls(4, 3, dtype="float64", rng=0)
        layer.b.assign(np.random.default_rng(1).normal(size=3))
        return layer, np.random.default_rng(2).normal(size=(5, 4))

    def forward(self, x: Array, *, train: bool, rng: Any = None) -> tuple[Array, Backward]:
        # the passing case of check_input in one test (a third of its cost); anything
        # else goes through check_input, which passes it or raises
        if not (
            type(x) is self._backend.array_type
            and x.ndim == 2
            and x.shape[1] == self.in_features
            and x.dtype is self.dtype
        ):
            if getattr(x, "ndim", 2) != 2:
                return self._forward_any_rank(x, train=train)
            self.check_input(x, ndim=2, features=self.in_features, dtype=self.dtype)
        W = self.W.value
        b = self.b
        y = x @ W
        if b is not None:  # y += b, compiled where it can be (dense_kernels)
            backend = self._backend
            add_bias.implementation_for(backend)(backend, y, b.value)
        act = self._activation
        if act is not None:  # fused: f applied to the product in place, where f allows
            y = act.apply(self.backend.xp, y, y)

        def backward(dy: Array, *, input_grad: bool = True) -> Array | None:
            self.check_gradient(dy, y)
            dz = dy if act is None else dy * act.derivative(self.backend.xp, y)
            self.W.accumulate_matmul(x.T, dz)
            if b is not None:
                b.accumulate_sum(dz, axis=0)
            return dz @ W.T if input_grad else None

        return y, backward

    def _forward_any_rank(self, x: Array, *, train: bool) -> tuple[Array, Backward]:
        """``(N, ..., in_features)`` input: the 2-D pass on ``x.reshape(-1, in_features)``."""
        if not isinstance(x, self.backend.array_type):
            self.check_input(x)  # raises: another backend's array, named
        if x.ndim < 2:
            raise ShapeError(
                f"{self._label()} expects input of shape (batch, ..., {self.in_features}) "
                f"(any rank >= 2, features on the last axis), got shape {tuple(x.shape)}. "
                f"Reshape a single sample with x.reshape(1, -1)."
            )
        self.check_input(x, features=self.in_features, dtype=self.dtype)
        shape = x.shape
        y2d, backward2d = self.forward(x.reshape(-1, self.in_features), train=train)
        y = y2d.reshape(*shape[:-1], self.out_features)

        def backward(dy: Array, *, input_grad: bool = True) -> Array | None:
            self.check_gradient(dy, y)
            dx2d = backward2d(dy.reshape(-1, self.out_features), input_grad=input_grad)
            return None if dx2d is None else dx2d.reshape(shape)

        return y, backward

    def config(self) -> dict[str, Any]:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.b is not None,
            "init": self.init,
            "dtype": self.dtype.name,
            **({"activation": self.activation} if self.activation is not None else {}),
        }
