"""TerminateOnNaN: stop (or raise) as soon as the logged loss is NaN or infinite."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, final

from neuroback import Callback
from neuroback.errors import TrainingError

__all__ = ["TerminateOnNaN"]


@final
class TerminateOnNaN(Callback):
    """Watch the loss at each logging step and at each epoch end.

    ``action="stop"`` ends training cleanly (callbacks' ``on_train_end`` still
    run); ``action="raise"`` raises :class:`~neuroback.errors.TrainingError`.
    The loss is read on the host only at logging steps, so on the GPU this
    costs nothing extra.
    """

    def __init__(self, action: str = "stop") -> None:
        if action not in ("stop", "raise"):
            raise ValueError(f"TerminateOnNaN action must be 'stop' or 'raise', got {action!r}.")
        self.action = action
        self.triggered_at: int | None = None

    def _check(self, trainer: Any, logs: Mapping[str, Any], where: str) -> None:
        loss = logs.get("loss")
        if loss is None or math.isfinite(loss):
            return
        self.triggered_at = trainer.batch_step
        message = (
            f"The training loss became {loss} ({where}, step {trainer.batch_step}). Lower the "
            "learning rate, clip gradients with ClipByGlobalNorm, or check the data."
        )
        if self.action == "raise":
            raise TrainingError(message)
        trainer.stop_training = True

    def on_batch_end(self, trainer: Any, step: int, logs: Mapping[str, Any]) -> None:
        self._check(trainer, logs, "at a logging step")

    def on_epoch_end(self, trainer: Any, epoch: int, logs: Mapping[str, float]) -> None:
        self._check(trainer, logs, f"at the end of epoch {epoch}")

    def config(self) -> dict[str, Any]:
        return {"action": self.action}
