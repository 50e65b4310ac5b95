"""Learning-rate callbacks: a fixed schedule, or a reduction when progress stalls."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any, cast, final

from neuroback import Callback, Schedule, checks, to_spec
from neuroback.errors import ConfigError
from neuroback.schedule import as_schedule

from ._monitor import Monitor

__all__ = ["LearningRateScheduler", "ReduceLROnPlateau"]


@final
class LearningRateScheduler(Callback):
    """Set ``optimizer.lr = base_lr * schedule(t)`` at the start of each epoch or step.

    ``schedule`` is a :class:`neuroback.Schedule` (``nb.schedules.Cosine(50)``), the name
    of a registered one (``"Constant"``), a spec ``{"type": "StepDecay", "config":
    {"step_size": 10}}`` (what :meth:`config` writes), or any callable ``t -> factor``
    (which works but cannot be written to a config). Every factor must be a real number
    >= 0; anything else stops training with a :class:`~neuroback.errors.ConfigError`
    naming the schedule, ``t`` and the value. ``base_lr`` defaults to the optimizer's
    rate when training starts.
    """

    def __init__(
        self,
        schedule: Schedule | str | Mapping[str, Any] | Callable[[int], float] = "Constant",
        *,
        interval: str = "epoch",
        base_lr: float | None = None,
    ) -> None:
        if interval not in ("epoch", "step"):
            raise ValueError(
                f"LearningRateScheduler interval must be 'epoch' or 'step', got {interval!r}."
            )
        if isinstance(schedule, type):
            raise TypeError(
                f"LearningRateScheduler needs a schedule instance, got the class "
                f"{schedule.__name__}; call it with its arguments, e.g. Cosine(total=50)."
            )
        if callable(schedule) and not isinstance(schedule, Schedule):
            self.schedule: Callable[[int], float] = schedule
        else:
            self.schedule = as_schedule(schedule, what="LearningRateScheduler schedule")
        self.interval = interval
        self.base_lr = base_lr
        self._base: float | None = None

    def on_train_begin(self, trainer: Any) -> None:
        if self._base is None:
            self._base = float(self.base_lr if self.base_lr is not None else trainer.optimizer.lr)

    def factor(self, t: int) -> float:
        """The schedule's factor at ``t``, checked: a finite real number >= 0."""
        value = self.schedule(t)
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            factor = float(value)
            if math.isfinite(factor) and factor >= 0:
                return factor
            problem = "a factor must be finite and >= 0"
        else:
            problem = f"it is a {type(value).__name__}, not a real number"
        raise ConfigError(
            f"LearningRateScheduler: the schedule {_describe(self.schedule)} returned "
            f"{value!r} at t={t} ({problem}). A schedule returns the factor s(t) >= 0 that "
            f"multiplies the base learning rate, as a float."
        )

    def _apply(self, trainer: Any, t: int) -> None:
        if self._base is None:
            self.on_train_begin(trainer)
        factor = self.factor(t)  # checked before anything changes
        trainer.optimizer.lr = cast(float, self._base) * factor

    def on_epoch_begin(self, trainer: Any, epoch: int) -> None:
        if self.interval == "epoch":
            self._apply(trainer, epoch)

    def on_batch_begin(self, trainer: Any, step: int) -> None:
        if self.interval == "step":
            self._apply(trainer, trainer.global_step)

    def state_dict(self) -> dict[str, Any]:
        return {"base": self._base}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the base learning rate (``None``: not read from the optimizer yet)."""
        if not isinstance(state, Mapping) or set(state) != {"base"}:
            raise ValueError(
                f"LearningRateScheduler state must be {{'base': <rate or None>}}, got {state!r}."
            )
        base = state["base"]
        if base is not None:
            ok = isinstance(base, int | float) and not isinstance(base, bool)
            if not ok or not math.isfinite(base) or base < 0:
                raise ValueError(
                    f"LearningRateScheduler state 'base' must be a finite learning rate >= 0 "
                    f"or None, got {base!r}."
                )
            base = float(base)
        self._base = base

    def config(self) -> dict[str, Any]:
        if not isinstance(self.schedule, Schedule):
            raise ConfigError(
                f"The schedule {_describe(self.schedule)} is a plain callable and cannot be "
                "written to a config; use a registered schedule (nb.schedules.names() lists "
                "them), or subclass neuroback.Schedule and register it."
            )
        out: dict[str, Any] = {"schedule": to_spec(self.schedule), "interval": self.interval}
        if self.base_lr is not None:
            out["base_lr"] = self.base_lr
        return out


def _describe(schedule: Any) -> str:
    """``Cosine(total=4, min_factor=0.0)``, or ``my_schedule`` for a function."""
    if isinstance(schedule, Schedule):
        return repr(schedule)
    name = getattr(schedule, "__qualname__", None)
    return name if isinstance(name, str) else repr(schedule)


@final
class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when more than ``patience`` epochs in a row
    have not improved ``monitor`` (PyTorch's rule: with ``patience=2`` the third such
    epoch reduces it).

    After a reduction, ``cooldown`` epochs pass before counting again; the rate
    never goes below ``min_lr``.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        factor: float = 0.1,
        patience: int = 10,
        min_delta: float = 1e-4,
        mode: str = "auto",
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        factor = checks.number(
            factor, "ReduceLROnPlateau factor", low=0, high=1, low_open=True, high_open=True
        )
        patience = checks.non_negative_int(patience, "ReduceLROnPlateau patience")
        cooldown = checks.non_negative_int(cooldown, "ReduceLROnPlateau cooldown")
        min_lr = checks.non_negative(min_lr, "ReduceLROnPlateau min_lr")
        self._monitor = Monitor("ReduceLROnPlateau", monitor, mode, min_delta)
        self.factor, self.patience, self.cooldown = float(factor), patience, cooldown
        self.min_lr = float(min_lr)
        self.best = self._monitor.initial()
        self.wait = 0
        self.cooldown_left = 0

    def on_train_begin(self, trainer: Any) -> None:
        self._monitor.check_keys(getattr(trainer, "log_keys", ()))

    def on_epoch_end(self, trainer: Any, epoch: int, logs: Mapping[str, float]) -> None:
        value = self._monitor.value(logs)
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.wait = 0
        if self._monitor.improved(value, self.best):
            self.best, self.wait = value, 0
            return
        if self.cooldown_left > 0:
            return
        self.wait += 1
        if self.wait > self.patience:
            opt = trainer.optimizer
            opt.lr = max(opt.lr * self.factor, self.min_lr)
            self.wait = 0
            self.cooldown_left = self.cooldown

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait, "cooldown_left": self.cooldown_left}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.best = float(state["best"])
        self.wait = int(state["wait"])
        self.cooldown_left = int(state["cooldown_left"])

    def config(self) -> dict[str, Any]:
        return {
            "monitor": self._monitor.name,
            "factor": self.factor,
            "patience": self.patience,
            "min_delta": self._monitor.min_delta,
            "mode": self._monitor.mode,
            "cooldown": self.cooldown,
            "min_lr": self.min_lr,
        }
