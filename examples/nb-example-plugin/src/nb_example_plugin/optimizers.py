r"""nb-example-plugin's optimizer: Lion (Chen et al., 2023, "Symbolic Discovery of
Optimization Algorithms").

Lion keeps one slot per parameter, a momentum :math:`m`, and moves every weight by the
same amount, the sign of an interpolation between the momentum and the gradient:

.. math::

    c_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, g_t \\
    \theta_t &= \theta_{t-1} - \eta\,\bigl(\operatorname{sign}(c_t) + \lambda\,\theta_{t-1}\bigr) \\
    m_t &= \beta_2 m_{t-1} + (1 - \beta_2)\, g_t

Because each step has size :math:`\eta` per weight, Lion wants a learning rate 3 to 10
times smaller than Adam's (the paper's advice), and a larger weight decay :math:`\lambda`.

The arithmetic is a :class:`neuroback.kernels.Kernel`, ``lion_step``: a reference in array
code that runs on every backend, and beside it a fused CUDA kernel that CuPy runs in one
pass over the weights (``neuroback check`` compares the two wherever a GPU is present).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

import neuroback as nb
from neuroback import checks
from neuroback.kernels import Kernel


def _lion_reference(backend, value, grad, exp_avg, *, lr, beta1, beta2, weight_decay):
    """One Lion step in place (the module's formulas); ``grad`` is left alone."""
    xp = backend.xp
    direction = beta1 * exp_avg  # c = beta1 m + (1 - beta1) g, a new array
    direction += (1.0 - beta1) * grad
    xp.sign(direction, out=direction)
    if weight_decay:
        direction += weight_decay * value  # decay reads the weight before the step
    value -= lr * direction
    exp_avg *= beta2  # m = beta2 m + (1 - beta2) g, after the step
    exp_avg += (1.0 - beta2) * grad


def _lion_cases():
    rng = np.random.default_rng(0)
    cases = []
    for dtype in (np.float32, np.float64):
        for weight_decay in (0.0, 0.1):
            value, grad, exp_avg = (rng.normal(size=(17, 5)).astype(dtype) for _ in "vgm")
            hp = {"lr": 0.01, "beta1": 0.9, "beta2": 0.99, "weight_decay": weight_decay}
            cases.append(((value, grad, exp_avg), hp))
    return cases


lion_step = Kernel("Lion.step", _lion_reference, example=_lion_cases)


@functools.cache
def _cupy_lion(cupy):
    return cupy.ElementwiseKernel(
        "T grad, T lr, T beta1, T one_minus_beta1, T beta2, T one_minus_beta2, T weight_decay",
        "T value, T exp_avg",
        """
        T c = beta1 * exp_avg + one_minus_beta1 * grad;
        T sign = (T)(c > 0) - (T)(c < 0);
        value -= lr * (sign + weight_decay * value);
        exp_avg = beta2 * exp_avg + one_minus_beta2 * grad;
        """,
        "nb_example_lion",
    )


@lion_step.implement("cupy")
def _lion_cupy(backend, value, grad, exp_avg, *, lr, beta1, beta2, weight_decay):
    """The reference's step in one CUDA pass (scalars computed on the host, in float64)."""
    _cupy_lion(backend.xp)(
        grad, lr, beta1, 1.0 - beta1, beta2, 1.0 - beta2, weight_decay, value, exp_avg
    )


class Lion(nb.Optimizer):
    """Lion: the sign of an interpolated momentum, with decoupled weight decay."""

    def __init__(
        self,
        lr: float = 1e-4,
        *,
        beta1: float = 0.9,
        beta2: float = 0.99,
        weight_decay: float = 0.0,
        transforms: Any = (),
        groups: Any = (),
    ) -> None:
        super().__init__(lr=lr, transforms=transforms, groups=groups)
        # each hyperparameter is the attribute of its name: load_state_dict sets it there
        self.beta1 = checks.number(beta1, "Lion beta1", low=0, high=1, high_open=True)
        self.beta2 = checks.number(beta2, "Lion beta2", low=0, high=1, high_open=True)
        self.weight_decay = checks.non_negative(weight_decay, "Lion weight_decay")

    @classmethod
    def example(cls) -> Lion:
        # the kit's quadratic needs steps of a useful size within 200 steps
        return cls(lr=0.01, weight_decay=0.01)

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "beta1": self.beta1,
            "beta2": self.beta2,
            "weight_decay": self.weight_decay,
        }

    def init_slots(self, param: nb.Parameter) -> dict[str, Any]:
        return {"exp_avg": param.backend.xp.zeros_like(param.value)}

    def update(self, value: Any, grad: Any, slots: Any, *, step: int, hp: Any) -> None:
        lion_step(
            self.backend,
            value,
            grad,
            slots["exp_avg"],
            lr=hp["lr"],
            beta1=hp["beta1"],
            beta2=hp["beta2"],
            weight_decay=hp["weight_decay"],
        )
