"""EarlyStopping: stop when a monitored value stops improving, and keep the best model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, final

import numpy as np

from neuroback import Callback, checks

from ._monitor import Monitor

__all__ = ["EarlyStopping"]


@final
class EarlyStopping(Callback):
    """Stop training once ``patience`` epochs in a row have not improved ``monitor``.

    (As in Keras: with ``patience=2``, the second epoch without improvement is the
    last one.) The search carries over between ``fit`` calls and starts afresh after
    a run it stopped. An epoch improves when the value beats the best so far by more than
    ``min_delta`` (lower is better for losses, higher for accuracies: ``mode="auto"``).
    With ``restore_best_weights`` the model's parameters *and* non-trainable state
    (BatchNorm running statistics) are put back to the best epoch's at the end.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = True,
    ) -> None:
        self._monitor = Monitor("EarlyStopping", monitor, mode, min_delta)
        self.patience = checks.non_negative_int(patience, "EarlyStopping patience")
        self.restore_best_weights = bool(restore_best_weights)
        self._reset()

    def _reset(self) -> None:
        self.best = self._monitor.initial()
        self.best_epoch: int | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None
        self._best_weights: dict[str, np.ndarray] | None = None
        self._resumed = False

    def on_train_begin(self, trainer: Any) -> None:
        self._monitor.check_keys(getattr(trainer, "log_keys", ()))
        if self.stopped_epoch is not None and not self._resumed:
            self._reset()  # it stopped the last run: a new fit starts a new search
        self._resumed = False
        self.stopped_epoch = None

    def on_epoch_end(self, trainer: Any, epoch: int, logs: Mapping[str, float]) -> None:
        value = self._monitor.value(logs)
        if self._monitor.improved(value, self.best):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:  # host copies of the weights and the layer state
                self._best_weights = trainer.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            trainer.stop_training = True

    def on_train_end(self, trainer: Any) -> None:
        if self.restore_best_weights and self._best_weights is not None:
            trainer.model.load_state_dict(self._best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best_weights": self._best_weights,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.best = float(state["best"])
        self.best_epoch = state["best_epoch"]
        self.wait = int(state["wait"])
        self.stopped_epoch = state["stopped_epoch"]
        weights = state.get("best_weights")
        self._best_weights = (
            None if weights is None else {k: np.asarray(v) for k, v in weights.items()}
        )
        self._resumed = True

    def config(self) -> dict[str, Any]:
        return {
            "monitor": self._monitor.name,
            "patience": self.patience,
            "min_delta": self._monitor.min_delta,
            "mode": self._monitor.mode,
            "restore_best_weights": self.restore_best_weights,
        }
