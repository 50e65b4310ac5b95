r"""Learning-rate schedules: the factor :math:`s(t)` that multiplies the base learning rate.

:class:`~neuroback_builtins.callbacks.LearningRateScheduler` sets
``optimizer.lr = base_lr * s(t)``, where :math:`t` counts epochs or optimizer
steps from 0.

==================  ======================================================================
``Constant()``      :math:`s(t) = 1`
``StepDecay``       :math:`s(t) = \gamma^{\lfloor t / \text{step\_size} \rfloor}`
``Exponential``     :math:`s(t) = \gamma^{t}`
``Cosine``          :math:`s(t) = m + (1 - m)\,\tfrac12\big(1 + \cos(\pi \min(t, T)/T)\big)`
                    with :math:`m` = ``min_factor``, :math:`T` = ``total``
``LinearWarmup``    :math:`s(t) = (t+1)/W` for :math:`t < W`, then ``after``'s factor at
                    :math:`t - W` (constant 1 by default)
==================  ======================================================================
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, final

from neuroback import checks

__all__ = [
    "SCHEDULES",
    "Constant",
    "Cosine",
    "Exponential",
    "LinearWarmup",
    "Schedule",
    "StepDecay",
]


class Schedule:
    """Base of the built-in schedules: callable on ``t`` and rebuildable from ``spec()``."""

    def __call__(self, t: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        return {}

    def spec(self) -> dict[str, Any]:
        return {"name": type(self).__name__, "config": self.config()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


@final
class Constant(Schedule):
    """Keep the base learning rate."""

    def __call__(self, t: int) -> float:
        return 1.0


@final
class StepDecay(Schedule):
    """Multiply by ``gamma`` every ``step_size`` units.

    >>> [StepDecay(2, gamma=0.5)(t) for t in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = checks.positive_int(step_size, "StepDecay step_size")
        self.gamma = checks.positive(gamma, "StepDecay gamma")

    def __call__(self, t: int) -> float:
        return self.gamma ** (t // self.step_size)

    def config(self) -> dict[str, Any]:
        return {"step_size": self.step_size, "gamma": self.gamma}


@final
class Exponential(Schedule):
    """Multiply by ``gamma`` every unit."""

    def __init__(self, gamma: float) -> None:
        self.gamma = checks.positive(gamma, "Exponential gamma")

    def __call__(self, t: int) -> float:
        return self.gamma**t

    def config(self) -> dict[str, Any]:
        return {"gamma": self.gamma}


@final
class Cosine(Schedule):
    """Cosine annealing from 1 to ``min_factor`` over ``total`` units, then flat.

    >>> s = Cosine(4)
    >>> [round(s(t), 3) for t in range(6)]
    [1.0, 0.854, 0.5, 0.146, 0.0, 0.0]
    """

    def __init__(self, total: int, min_factor: float = 0.0) -> None:
        self.total = checks.positive_int(total, "Cosine total")
        self.min_factor = checks.non_negative(min_factor, "Cosine min_factor")

    def __call__(self, t: int) -> float:
        progress = min(t, self.total) / self.total
        return self.min_factor + (1 - self.min_factor) * 0.5 * (1 + math.cos(math.pi * progress))

    def config(self) -> dict[str, Any]:
        return {"total": self.total, "min_factor": self.min_factor}


@final
class LinearWarmup(Schedule):
    """Ramp linearly up to the base rate over ``warmup`` units, then follow ``after``.

    >>> s = LinearWarmup(4, after=StepDecay(2, gamma=0.5))
    >>> [s(t) for t in range(8)]
    [0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 0.5, 0.5]
    """

    def __init__(self, warmup: int, after: Schedule | Mapping[str, Any] | None = None) -> None:
        self.warmup = checks.positive_int(warmup, "LinearWarmup warmup")
        self.after = build_schedule(after) if after is not None else Constant()

    def __call__(self, t: int) -> float:
        if t < self.warmup:
            return (t + 1) / self.warmup
        return self.after(t - self.warmup)

    def config(self) -> dict[str, Any]:
        return {"warmup": self.warmup, "after": self.after.spec()}


SCHEDULES: dict[str, type[Schedule]] = {
    cls.__name__: cls for cls in (Constant, StepDecay, Exponential, Cosine, LinearWarmup)
}


def build_schedule(spec: Any) -> Schedule:
    """A schedule from an instance, a name, or ``{"name": ..., "config": {...}}``."""
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, str):
        spec = {"name": spec}
    if isinstance(spec, Mapping) and "name" in spec:
        name = spec["name"]
        if name not in SCHEDULES:
            close = [k for k in SCHEDULES if k.lower() == str(name).lower()]
            hint = f" Did you mean {close[0]!r}? (names are case-sensitive)" if close else ""
            raise ValueError(
                f"Unknown schedule {name!r}; expected one of {sorted(SCHEDULES)}.{hint}"
            )
        return SCHEDULES[name](**dict(spec.get("config") or {}))
    raise ValueError(
        f"A schedule is one of {sorted(SCHEDULES)} (an instance, a name, or "
        f"{{'name': ..., 'config': {{...}}}}), got {spec!r}."
    )
