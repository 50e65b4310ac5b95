"""Learning-rate callbacks: a fixed schedule, or a reduction when progress stalls."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, final

from neuroback import Callback, checks
from neuroback.errors import ConfigError

from ..schedules import Schedule, build_schedule
from ._monitor import Monitor

__all__ = ["LearningRateScheduler", "ReduceLROnPlateau"]


@final
class LearningRateScheduler(Callback):
    """Set ``optimizer.lr = base_lr * schedule(t)`` at the start of each epoch or step.

    ``schedule`` is a built-in schedule (``Cosine(50)``, ``"Constant"``, or a spec
    ``{"name": "StepDecay", "config": {"step_size": 10}}``) or any callable
    ``t -> factor``. ``base_lr`` defaults to the optimizer's rate when training starts.
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
            self.schedule = build_schedule(schedule)
        self.interval = interval
        self.base_lr = base_lr
        self._base: float | None = None

    def on_train_begin(self, trainer: Any) -> None:
        if self._base is None:
            self._base = float(self.base_lr if self.base_lr is not None else trainer.optimizer.lr)

    def _apply(self, trainer: Any, t: int) -> None:
        if self._base is None:
            self.on_train_begin(trainer)
        factor = float(self.schedule(t))
        if not factor >= 0:
            raise ValueError(f"The schedule returned {factor} at t={t}; factors must be >= 0.")
        trainer.optimizer.lr = self._base * factor

    def on_epoch_begin(self, trainer: Any, epoch: int) -> None:
        if self.interval == "epoch":
            self._apply(trainer, epoch)

    def on_batch_begin(self, trainer: Any, step: int) -> None:
        if self.interval == "step":
            self._apply(trainer, trainer.global_step)

    def state_dict(self) -> dict[str, Any]:
        return {"base": self._base}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._base = state.get("base")

    def config(self) -> dict[str, Any]:
        if not isinstance(self.schedule, Schedule):
            raise ConfigError(
                f"The schedule {self.schedule!r} is a plain callable and cannot be written to a "
                "config; use a built-in schedule (Constant, StepDecay, Exponential, Cosine, "
                "LinearWarmup)."
            )
        out: dict[str, Any] = {"schedule": self.schedule.spec(), "interval": self.interval}
        if self.base_lr is not None:
            out["base_lr"] = self.base_lr
        return out


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
