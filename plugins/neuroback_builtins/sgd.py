r"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay.

The rule follows ``torch.optim.SGD`` exactly, for gradient :math:`g_t`:

.. math::

    g_t &\leftarrow g_t + \lambda\,\theta_{t-1}                    && \text{(weight decay)}\\
    v_t &= \mu\, v_{t-1} + (1-\tau)\, g_t, \quad v_1 = g_1        && \text{(momentum)}\\
    d_t &= g_t + \mu\, v_t \ \text{(Nesterov)} \quad\text{or}\quad v_t \\
    \theta_t &= \theta_{t-1} - \eta\, d_t

With ``momentum=0`` this is the plain step :math:`\theta \leftarrow \theta - \eta g`
of the seed tutorial's ``update_weights``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, final

from neuroback import Array, GradientTransform, Optimizer, Parameter, checks

__all__ = ["SGD"]


@final
class SGD(Optimizer):
    """Gradient descent with optional momentum, Nesterov momentum and L2 weight decay.

    >>> import numpy as np, neuroback as nb
    >>> layer = nb.layers.Dense(1, 1, bias=False, init="zeros")
    >>> opt = nb.optimizers.SGD(lr=0.5).bind(layer)
    >>> layer.W.grad[...] = 2.0
    >>> opt.step()
    >>> layer.W.value
    array([[-1.]], dtype=float32)
    """

    #: The momentum buffer appears at the first step (see :meth:`init_slots`).
    lazy_slots: ClassVar[frozenset[str]] = frozenset({"velocity"})

    def __init__(
        self,
        lr: float = 0.01,
        *,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        transforms: Iterable[GradientTransform] = (),
        groups: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        super().__init__(lr=lr, transforms=transforms, groups=groups)
        self.momentum = checks.non_negative(momentum, "SGD momentum")
        self.dampening = checks.non_negative(dampening, "SGD dampening")
        self.weight_decay = checks.non_negative(weight_decay, "SGD weight_decay")
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0.")

    @classmethod
    def example(cls) -> SGD:
        return cls(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "dampening": self.dampening,
            "weight_decay": self.weight_decay,
            "nesterov": self.nesterov,
        }

    def init_slots(self, param: Parameter) -> dict[str, Array]:
        return {}  # the velocity buffer is created at the first step, as in PyTorch

    def update(
        self,
        value: Array,
        grad: Array,
        slots: dict[str, Array],
        *,
        step: int,
        hp: Mapping[str, Any],
    ) -> None:
        velocity = slots.get("velocity")
        first = velocity is None
        if hp["momentum"] and velocity is None:
            velocity = slots["velocity"] = self.backend.xp.empty_like(value)
        self.backend.sgd_update(
            value,
            grad,
            velocity,
            lr=hp["lr"],
            momentum=hp["momentum"],
            dampening=hp["dampening"],
            weight_decay=hp["weight_decay"],
            nesterov=hp["nesterov"],
            first_step=first,
        )
