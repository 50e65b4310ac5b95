r"""Learning-rate schedules: the factor :math:`s(t)` that multiplies the base learning rate.

:class:`~neuroback_builtins.callbacks.LearningRateScheduler` sets
``optimizer.lr = base_lr * s(t)``, where :math:`t` counts epochs or optimizer
steps from 0. Each is a :class:`neuroback.Schedule`, registered by the built-in plugin
(``nb.schedules.Cosine``, qualified ``"neuroback:Cosine"``) and built from the standard
spec ``{"type": "Cosine", "config": {"total": 50}}``.

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

from neuroback import Schedule, checks, to_spec
from neuroback.schedule import as_schedule

__all__ = [
    "Constant",
    "Cosine",
    "Exponential",
    "LinearWarmup",
    "StepDecay",
]


@final
class Constant(Schedule):
    """Keep the base learning rate: :math:`s(t) = 1`."""

    def __call__(self, t: int) -> float:
        return 1.0

    @classmethod
    def example(cls) -> Constant:
        return cls()


@final
class StepDecay(Schedule):
    r"""Multiply by ``gamma`` every ``step_size`` units:
    :math:`s(t) = \gamma^{\lfloor t / \text{step\_size} \rfloor}`.

    >>> [StepDecay(2, gamma=0.5)(t) for t in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(self, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = checks.positive_int(step_size, "StepDecay step_size")
        self.gamma = checks.positive(gamma, "StepDecay gamma")

    def __call__(self, t: int) -> float:
        return float(self.gamma ** (t // self.step_size))

    def config(self) -> dict[str, Any]:
        return {"step_size": self.step_size, "gamma": self.gamma}

    @classmethod
    def example(cls) -> StepDecay:
        return cls(3, gamma=0.5)


@final
class Exponential(Schedule):
    r"""Multiply by ``gamma`` every unit: :math:`s(t) = \gamma^{t}`."""

    def __init__(self, gamma: float) -> None:
        self.gamma = checks.positive(gamma, "Exponential gamma")

    def __call__(self, t: int) -> float:
        try:
            return float(self.gamma**t)
        except OverflowError:  # gamma > 1 for long enough: the scheduler reports the inf
            return math.inf

    def config(self) -> dict[str, Any]:
        return {"gamma": self.gamma}

    @classmethod
    def example(cls) -> Exponential:
        return cls(0.9)


@final
class Cosine(Schedule):
    r"""Cosine annealing from 1 to ``min_factor`` over ``total`` units, then flat:
    :math:`s(t) = m + (1 - m)\,\tfrac12\big(1 + \cos(\pi \min(t, T)/T)\big)`.

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

    @classmethod
    def example(cls) -> Cosine:
        return cls(10, min_factor=0.1)


@final
class LinearWarmup(Schedule):
    """Ramp linearly up to the base rate over ``warmup`` units, then follow ``after``:
    :math:`s(t) = (t+1)/W` for :math:`t < W`, then ``after``'s factor at :math:`t - W`.

    ``after`` is a schedule, a name or a spec (``{"type": "Cosine", "config": {...}}``);
    by default :class:`Constant`. The config writes it as its spec.

    >>> s = LinearWarmup(4, after=StepDecay(2, gamma=0.5))
    >>> [s(t) for t in range(8)]
    [0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 0.5, 0.5]
    >>> s.config()
    {'warmup': 4,
     'after': {'type': 'neuroback:StepDecay', 'config': {'step_size': 2, 'gamma': 0.5}}}
    """

    def __init__(
        self, warmup: int, after: Schedule | str | Mapping[str, Any] | None = None
    ) -> None:
        self.warmup = checks.positive_int(warmup, "LinearWarmup warmup")
        self.after = (
            as_schedule(after, what="LinearWarmup after") if after is not None else Constant()
        )

    def __call__(self, t: int) -> float:
        if t < self.warmup:
            return (t + 1) / self.warmup
        return self.after(t - self.warmup)

    def config(self) -> dict[str, Any]:
        return {"warmup": self.warmup, "after": to_spec(self.after)}

    def __repr__(self) -> str:
        return f"LinearWarmup(warmup={self.warmup!r}, after={self.after!r})"

    @classmethod
    def example(cls) -> LinearWarmup:
        return cls(3, after=Cosine(5))
