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

import functools
import math
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, final

import numpy as np

from neuroback import Array, Backend, GradientTransform, Optimizer, Parameter, checks, jit
from neuroback.kernels import Kernel, scratch_like

__all__ = ["SGD", "sgd_step"]


def _sgd_reference(
    backend: Backend,
    value: Array,
    grad: Array,
    velocity: Array | None,
    *,
    lr: float,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    first_step: bool,
) -> None:
    r"""One SGD step in place, in PyTorch's order (the module's formulas):
    :math:`g \leftarrow g + \lambda\theta`; :math:`v \leftarrow \mu v + (1-\tau) g`
    (:math:`v \leftarrow g` on the first step); :math:`d = g + \mu v` (Nesterov) or
    :math:`v`; :math:`\theta \leftarrow \theta - \eta d`. ``grad`` is left alone."""
    xp = backend.xp
    if weight_decay:
        grad = grad + weight_decay * value
    if momentum:
        if velocity is None:
            raise ValueError("SGD with momentum needs a velocity buffer")
        if first_step:
            velocity[...] = grad
        else:
            velocity *= momentum
            velocity += (1.0 - dampening) * grad
        direction = grad + momentum * velocity if nesterov else velocity
    else:
        direction = grad
    xp.subtract(value, lr * direction, out=value)  # one temporary at most


def _sgd_cases() -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    rng = np.random.default_rng(0)
    cases: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    settings = [
        {"momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
        {"momentum": 0.0, "dampening": 0.0, "weight_decay": 1e-2, "nesterov": False},
        {"momentum": 0.9, "dampening": 0.1, "weight_decay": 1e-2, "nesterov": False},
        {"momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0, "nesterov": True},
    ]
    for dtype in (np.float32, np.float64):
        for hp in settings:
            for first in (True, False):
                value, grad, velocity = (rng.normal(size=(33, 7)).astype(dtype) for _ in "vgm")
                args = (value, grad, velocity if hp["momentum"] else None)
                cases.append((args, {"lr": 0.05, **hp, "first_step": first}))
    return cases


#: The SGD update as a kernel: the reference above, a fused CuPy kernel below.
sgd_step = Kernel("SGD.step", _sgd_reference, example=_sgd_cases)


@sgd_step.implement("numpy")
def _sgd_numpy(
    backend: Backend,
    value: Array,
    grad: Array,
    velocity: Array | None,
    *,
    lr: float,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    first_step: bool,
) -> None:
    """The reference's operations in the same order (so the same bits), with the
    temporaries written into one scratch array instead of new ones per parameter."""
    if weight_decay:
        grad = grad + weight_decay * value  # a new array: the caller's grad is left alone
    tmp = scratch_like(backend, value)
    if momentum:
        if velocity is None:
            raise ValueError("SGD with momentum needs a velocity buffer")
        if first_step:
            velocity[...] = grad
        else:
            velocity *= momentum
            np.multiply(grad, 1.0 - dampening, out=tmp)
            velocity += tmp
        if nesterov:
            np.multiply(velocity, momentum, out=tmp)
            tmp += grad  # g + mu v, as the reference adds it
            direction = tmp
        else:
            direction = velocity
    else:
        direction = grad
    np.multiply(direction, lr, out=tmp)
    np.subtract(value, tmp, out=value)


def sgd_plain_loop(value: Array, grad: Array, lr: Any) -> None:
    r"""Plain SGD, :math:`\theta \leftarrow \theta - \eta g`, element by element: the
    NumPy version's ``value - grad * lr`` in one pass and without a temporary."""
    for i in range(value.size):
        value[i] = value[i] - grad[i] * lr


def sgd_loop(value: Array, grad: Array, velocity: Array, scalars: Array) -> None:
    """The NumPy version's arithmetic with weight decay and momentum, element by element.
    ``scalars`` holds ``lr, momentum, 1 - dampening, weight_decay`` and the flags
    ``momentum > 0, nesterov, first step, weight_decay > 0`` as 0 or 1, in the arrays'
    dtype (one array argument: each argument costs a compiled call its dispatch). The
    flags come from the Python values, as the NumPy version tests them (a weight decay
    that rounds to 0 in float32 still multiplies, as there)."""
    lr, momentum, keep, weight_decay = scalars[0], scalars[1], scalars[2], scalars[3]
    has_momentum, nesterov, first_step = scalars[4] != 0, scalars[5] != 0, scalars[6] != 0
    has_weight_decay = scalars[7] != 0
    for i in range(value.size):
        g = grad[i]
        if has_weight_decay:
            g = g + weight_decay * value[i]
        if has_momentum:
            v = g if first_step else velocity[i] * momentum + g * keep
            velocity[i] = v
            d = v * momentum + g if nesterov else v
        else:
            d = g
        value[i] = value[i] - d * lr


_sgd_plain_loop = jit.compiled(sgd_plain_loop, cache=True)
_sgd_loop = jit.compiled(sgd_loop, cache=True)

#: the dtypes the compiled loops take (others run the NumPy version)
_COMPILED_DTYPES = frozenset({np.dtype(np.float32), np.dtype(np.float64)})


def _compilable(value: Array, grad: Array, velocity: Array | None) -> bool:
    """Whether the loops take these arrays: C-contiguous NumPy arrays of one shape and one
    float dtype they are compiled for (checked at every step: written out, not looped)."""
    if not (isinstance(value, np.ndarray) and isinstance(grad, np.ndarray)):
        return False
    dtype, shape = value.dtype, value.shape
    if not (
        dtype in _COMPILED_DTYPES
        and grad.dtype == dtype
        and grad.shape == shape
        and value.flags.c_contiguous
        and grad.flags.c_contiguous
    ):
        return False
    return velocity is None or (
        isinstance(velocity, np.ndarray)
        and velocity.dtype == dtype
        and velocity.shape == shape
        and velocity.flags.c_contiguous
    )


#: The last learning rate cast to an array dtype, as ``(lr, dtype, scalar)``: a
#: NumPy scalar costs about 1 us to make, and ``lr`` changes only with a schedule.
_last_lr: tuple[Any, Any, Any] = (None, None, None)


def _lr_scalar(lr: float, dtype: np.dtype) -> Any:
    """``dtype.type(lr)``, the scalar NumPy's arithmetic would cast ``lr`` to."""
    global _last_lr
    last = _last_lr
    if (
        last[1] is dtype
        and type(last[0]) is type(lr)
        and last[0] == lr
        and (lr or math.copysign(1.0, lr) == math.copysign(1.0, last[0]))  # -0.0 is not 0.0
    ):
        return last[2]
    scalar = dtype.type(lr)
    _last_lr = (lr, dtype, scalar)
    return scalar


if jit.available():

    @sgd_step.implement("numpy")
    def _sgd_compiled(
        backend: Backend,
        value: Array,
        grad: Array,
        velocity: Array | None,
        *,
        lr: float,
        momentum: float,
        dampening: float,
        weight_decay: float,
        nesterov: bool,
        first_step: bool,
    ) -> None:
        """One compiled pass over contiguous arrays of one float dtype (an element-wise
        optimizer's flat buffers, or a parameter), without a temporary: the same bits as
        the NumPy version, which runs for anything else. Every scalar is cast to the
        arrays' dtype first, as NumPy casts a Python float operand."""
        if momentum and velocity is None:
            raise ValueError("SGD with momentum needs a velocity buffer")
        if _compilable(value, grad, velocity):
            if value.ndim == 1:  # an optimizer's flat buffer
                flat_value, flat_grad = value, grad
            else:
                flat_value, flat_grad = value.reshape(-1), grad.reshape(-1)
            try:
                if not momentum and not weight_decay:
                    _sgd_plain_loop(flat_value, flat_grad, _lr_scalar(lr, value.dtype))
                    return
                flags = (bool(momentum), bool(nesterov), bool(first_step), bool(weight_decay))
                scalars = np.array(
                    [lr, momentum, 1.0 - dampening, weight_decay, *flags], dtype=value.dtype
                )
                velocity_flat = flat_value if velocity is None else velocity.reshape(-1)
                _sgd_loop(flat_value, flat_grad, velocity_flat, scalars)
                return
            except jit.Unavailable:
                pass
        _sgd_numpy(
            backend,
            value,
            grad,
            velocity,
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            first_step=first_step,
        )


@functools.cache
def _cupy_sgd_kernels(cupy: Any) -> tuple[Any, Any]:
    plain = cupy.ElementwiseKernel(
        "T grad, T lr, T weight_decay",
        "T value",
        "value -= lr * (grad + weight_decay * value);",
        "neuroback_sgd",
    )
    with_momentum = cupy.ElementwiseKernel(
        "T grad, T lr, T momentum, T keep, T weight_decay, T nesterov, T first",
        "T value, T velocity",
        """
        T g = grad + weight_decay * value;
        T v = first != 0 ? g : momentum * velocity + keep * g;
        velocity = v;
        value -= lr * (nesterov != 0 ? g + momentum * v : v);
        """,
        "neuroback_sgd_momentum",
    )
    return plain, with_momentum


@sgd_step.implement("cupy")
def _sgd_cupy(
    backend: Backend,
    value: Array,
    grad: Array,
    velocity: Array | None,
    *,
    lr: float,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    first_step: bool,
) -> None:
    """The reference's step as one CUDA kernel: one pass over the parameter."""
    plain, with_momentum = _cupy_sgd_kernels(backend.xp)
    if not momentum:
        plain(grad, lr, weight_decay, value)
        return
    if velocity is None:
        raise ValueError("SGD with momentum needs a velocity buffer")
    keep = 1.0 - dampening  # on the host in float64, as the reference computes it
    flags = (float(bool(nesterov)), float(bool(first_step)))
    with_momentum(grad, lr, momentum, keep, weight_decay, *flags, value, velocity)


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
    #: Each element moves on its own: one update call per group (flat buffers).
    elementwise: ClassVar[bool] = True

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
        backend = self.backend
        # the version for this backend, called directly: a Kernel's own call forwards
        # every argument once more (about 2 us a step on a small model)
        sgd_step.implementation_for(backend)(
            backend,
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
