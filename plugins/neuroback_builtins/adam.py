r"""Adam and AdamW: adaptive moment estimation, with coupled or decoupled weight decay.

For gradient :math:`g_t` at step :math:`t` (counting from 1):

.. math::

    m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
    v_t &= \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
    \hat m_t &= m_t / (1-\beta_1^t), \qquad \hat v_t = v_t / (1-\beta_2^t) \\
    \theta_t &= \theta_{t-1} - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)

This is the seed tutorial's ``AdamOptimizer`` (same defaults, same
:math:`\epsilon = 10^{-8}`), evaluated in ``torch.optim.Adam``'s arrangement so
the two follow the same trajectory. ``Adam(weight_decay=λ)`` adds
:math:`\lambda\theta` to the gradient (L2); ``AdamW`` instead shrinks the weights
directly, :math:`\theta \leftarrow \theta(1-\eta\lambda)`, before the update
(Loshchilov & Hutter's decoupled weight decay).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, final

import numpy as np

from neuroback import Array, Backend, GradientTransform, Optimizer, Parameter, checks
from neuroback.kernels import Kernel, scratch_like

__all__ = ["Adam", "AdamW", "adam_step"]


def _adam_reference(
    backend: Backend,
    value: Array,
    grad: Array,
    exp_avg: Array,
    exp_avg_sq: Array,
    *,
    step: int,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled: bool,
) -> None:
    r"""One Adam (``decoupled=True``: AdamW) step in place, in PyTorch's order.

    .. math::

        \theta &\leftarrow \theta (1 - \eta\lambda) \quad\text{(AdamW)}
        \qquad g \leftarrow g + \lambda\theta \quad\text{(Adam)} \\
        m &\leftarrow \beta_1 m + (1-\beta_1) g, \qquad
        v \leftarrow \beta_2 v + (1-\beta_2) g^2 \\
        \theta &\leftarrow \theta - \frac{\eta}{1-\beta_1^t}\,
        \frac{m}{\sqrt{v}/\sqrt{1-\beta_2^t} + \epsilon}

    ``grad`` is left alone; one temporary array (the denominator) is allocated.
    """
    xp = backend.xp
    if weight_decay:
        if decoupled:
            value *= 1.0 - lr * weight_decay
        else:
            grad = grad + weight_decay * value
    exp_avg *= beta1
    exp_avg += (1.0 - beta1) * grad
    exp_avg_sq *= beta2
    exp_avg_sq += (1.0 - beta2) * (grad * grad)
    bias_correction2_sqrt = (1.0 - beta2**step) ** 0.5
    denom = xp.sqrt(exp_avg_sq)
    denom /= bias_correction2_sqrt
    denom += eps
    denom = xp.divide(exp_avg, denom, out=denom)
    denom *= lr / (1.0 - beta1**step)
    value -= denom


def _adam_cases() -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    rng = np.random.default_rng(0)
    cases: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for dtype in (np.float32, np.float64):
        for step, weight_decay, decoupled in [(1, 0.0, False), (7, 0.1, False), (3, 0.1, True)]:
            value, grad, exp_avg = (rng.normal(size=(33, 7)).astype(dtype) for _ in "vgm")
            exp_avg_sq = rng.random(size=(33, 7)).astype(dtype)  # never negative
            hp = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
            cases.append(
                (
                    (value, grad, exp_avg, exp_avg_sq),
                    {"step": step, **hp, "weight_decay": weight_decay, "decoupled": decoupled},
                )
            )
    return cases


#: The Adam/AdamW update as a kernel: the reference above, a fused CuPy kernel below.
adam_step = Kernel("Adam.step", _adam_reference, example=_adam_cases)


@adam_step.implement("numpy")
def _adam_numpy(
    backend: Backend,
    value: Array,
    grad: Array,
    exp_avg: Array,
    exp_avg_sq: Array,
    *,
    step: int,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled: bool,
) -> None:
    """The reference's operations in the same order (so the same bits), with every
    temporary written into one scratch array instead of four new ones per parameter:
    at the large size those allocations cost more than the arithmetic."""
    tmp = scratch_like(backend, value)
    if weight_decay:
        if decoupled:
            value *= 1.0 - lr * weight_decay
        else:
            grad = grad + weight_decay * value  # a new array: the caller's grad is left alone
    np.multiply(grad, 1.0 - beta1, out=tmp)
    exp_avg *= beta1
    exp_avg += tmp
    np.multiply(grad, grad, out=tmp)
    tmp *= 1.0 - beta2
    exp_avg_sq *= beta2
    exp_avg_sq += tmp
    np.sqrt(exp_avg_sq, out=tmp)
    tmp /= (1.0 - beta2**step) ** 0.5
    tmp += eps
    np.divide(exp_avg, tmp, out=tmp)
    tmp *= lr / (1.0 - beta1**step)
    value -= tmp


@functools.cache
def _cupy_adam_kernel(cupy: Any) -> Any:
    return cupy.ElementwiseKernel(
        "T grad, T one_minus_beta1, T one_minus_beta2, T beta1, T beta2, T eps, "
        "T bias_correction2_sqrt, T step_size, T coupled_decay, T shrink",
        "T value, T exp_avg, T exp_avg_sq",
        """
        T g = grad + coupled_decay * value;
        T m = beta1 * exp_avg + one_minus_beta1 * g;
        T v = beta2 * exp_avg_sq + one_minus_beta2 * (g * g);
        exp_avg = m;
        exp_avg_sq = v;
        value = value * shrink - step_size * (m / (sqrt(v) / bias_correction2_sqrt + eps));
        """,
        "neuroback_adam",
    )


@adam_step.implement("cupy")
def _adam_cupy(
    backend: Backend,
    value: Array,
    grad: Array,
    exp_avg: Array,
    exp_avg_sq: Array,
    *,
    step: int,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled: bool,
) -> None:
    """The reference's step as one CUDA kernel: one pass over parameter and slots, no
    temporaries. The scalars are computed on the host in float64, as in the reference."""
    coupled_decay = 0.0 if decoupled else weight_decay
    shrink = 1.0 - lr * weight_decay if decoupled else 1.0
    _cupy_adam_kernel(backend.xp)(
        grad,
        1.0 - beta1,
        1.0 - beta2,
        beta1,
        beta2,
        eps,
        (1.0 - beta2**step) ** 0.5,
        lr / (1.0 - beta1**step),
        coupled_decay,
        shrink,
        value,
        exp_avg,
        exp_avg_sq,
    )


class _AdamBase(Optimizer):
    """Shared by Adam and AdamW (abstract: subclasses set ``decoupled``)."""

    decoupled: bool
    #: Each element moves on its own: one update call per group (flat buffers).
    elementwise: ClassVar[bool] = True

    def __init__(
        self,
        lr: float,
        *,
        betas: tuple[float, float],
        eps: float,
        weight_decay: float,
        transforms: Iterable[GradientTransform],
        groups: Iterable[Mapping[str, Any]],
    ) -> None:
        super().__init__(lr=lr, transforms=transforms, groups=groups)
        name = type(self).__name__
        if not isinstance(betas, list | tuple) or len(betas) != 2:
            raise ValueError(f"{name} betas must be a pair (beta1, beta2), got {betas!r}.")
        self.beta1 = checks.number(betas[0], f"{name} beta1", low=0, high=1, high_open=True)
        self.beta2 = checks.number(betas[1], f"{name} beta2", low=0, high=1, high_open=True)
        try:  # eps > 0: v_hat is 0 wherever the gradient has been 0, and 0/(0 + 0) is NaN
            self.eps = checks.positive(eps, f"{name} eps")
        except ValueError as exc:
            raise ValueError(
                f"{exc} The update divides by sqrt(v) + eps, so eps must keep that above 0; "
                "use the default 1e-8."
            ) from None
        self.weight_decay = checks.non_negative(weight_decay, f"{name} weight_decay")

    @property
    def betas(self) -> tuple[float, float]:
        return (self.beta1, self.beta2)

    @betas.setter
    def betas(self, value: tuple[float, float]) -> None:
        self.beta1, self.beta2 = (float(v) for v in value)

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "betas": [self.beta1, self.beta2],
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }

    def init_slots(self, param: Parameter) -> dict[str, Array]:
        xp = param.backend.xp
        return {"exp_avg": xp.zeros_like(param.value), "exp_avg_sq": xp.zeros_like(param.value)}

    def check_slot(self, slot: str, value: np.ndarray) -> str | None:
        """``exp_avg_sq`` is a running mean of squared gradients: never negative."""
        if slot == "exp_avg_sq" and value.size and float(value.min()) < 0:
            index = tuple(int(i) for i in np.unravel_index(int(value.argmin()), value.shape))
            return (
                f"be >= 0 (a running mean of squared gradients, whose square root the update "
                f"takes), got {float(value.min())!r} at index {index}"
            )
        return None

    def update(
        self,
        value: Array,
        grad: Array,
        slots: dict[str, Array],
        *,
        step: int,
        hp: Mapping[str, Any],
    ) -> None:
        beta1, beta2 = hp["betas"]
        if not _eps_survives(value.dtype, hp["eps"]):
            raise ValueError(
                f"{type(self).__name__} eps={hp['eps']!r} is 0 in {value.dtype} (the parameters' "
                f"dtype), so a zero gradient would give 0/0 = NaN. Use an eps of at least "
                f"{float(np.finfo(value.dtype).tiny):.1e} (the default 1e-8 is fine in float32)."
            )
        backend = self.backend
        adam_step.implementation_for(backend)(  # called directly, as in SGD.update
            backend,
            value,
            grad,
            slots["exp_avg"],
            slots["exp_avg_sq"],
            step=step,
            lr=hp["lr"],
            beta1=beta1,
            beta2=beta2,
            eps=hp["eps"],
            weight_decay=hp["weight_decay"],
            decoupled=self.decoupled,
        )


_EPS_SURVIVES: dict[tuple[Any, float], bool] = {}


def _eps_survives(dtype: Any, eps: float) -> bool:
    """Whether ``eps`` is still above 0 once cast to ``dtype`` (remembered per pair: the
    update asks for every parameter at every step)."""
    key = (dtype, eps)
    known = _EPS_SURVIVES.get(key)
    if known is None:
        known = _EPS_SURVIVES[key] = bool(dtype.type(eps) > 0)
    return known


@final
class Adam(_AdamBase):
    """Adam with bias correction; ``weight_decay`` is L2 added to the gradient.

    >>> import numpy as np, neuroback as nb
    >>> layer = nb.layers.Dense(1, 1, bias=False, init="zeros", dtype="float64")
    >>> opt = nb.optimizers.Adam(lr=0.1).bind(layer)
    >>> layer.W.grad[...] = 5.0      # Adam's first step has size lr, whatever the gradient
    >>> opt.step()
    >>> round(float(layer.W.value[0, 0]), 6)
    -0.1
    """

    decoupled = False

    @classmethod
    def example(cls) -> Adam:
        return cls(lr=0.05, weight_decay=1e-4)

    def __init__(
        self,
        lr: float = 1e-3,
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        transforms: Iterable[GradientTransform] = (),
        groups: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        super().__init__(
            lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            transforms=transforms,
            groups=groups,
        )


@final
class AdamW(_AdamBase):
    """Adam with decoupled weight decay (default ``weight_decay=0.01``, as in PyTorch)."""

    decoupled = True

    @classmethod
    def example(cls) -> AdamW:
        return cls(lr=0.05)

    def __init__(
        self,
        lr: float = 1e-3,
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        transforms: Iterable[GradientTransform] = (),
        groups: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        super().__init__(
            lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            transforms=transforms,
            groups=groups,
        )
