"""EarlyStopping: stop when a monitored value stops improving, and keep the best model."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, final

import numpy as np

from neuroback import Callback, checks
from neuroback.errors import StateMismatchError
from neuroback.weights import check_state_dict

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
        if self._best_weights is not None:  # restored ones must fit the model they restore
            problems = check_state_dict(trainer.model, self._best_weights, source="the state")
            if problems:
                raise StateMismatchError(
                    "EarlyStopping's best weights do not fit this model:\n" + "\n".join(problems)
                )
        if self.stopped_epoch is not None and not self._resumed:
            self._reset()  # it stopped the last run: a new fit starts a new search
        self._resumed = False
        self.stopped_epoch = None

    def on_epoch_end(self, trainer: Any, epoch: int, logs: Mapping[str, float]) -> None:
        value = self._monitor.value(logs)
        weights = trainer.model.state_dict() if self.restore_best_weights else None
        # an epoch whose weights went NaN or infinite (after the logged loss was measured)
        # is no best epoch: its weights could not be restored
        usable = weights is None or all(
            v.dtype.kind != "f" or np.isfinite(v).all() for v in weights.values()
        )
        if usable and self._monitor.improved(value, self.best):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if weights is not None:  # host copies of the weights and the layer state
                self._best_weights = weights
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
        """Restore a :meth:`state_dict`, checked first (the best weights are checked against
        the model when training begins, in :meth:`on_train_begin`)."""
        keys = {"best", "best_epoch", "wait", "stopped_epoch", "best_weights"}
        if not isinstance(state, Mapping) or not set(state) <= keys | {"best_state"}:
            raise ValueError(f"EarlyStopping state must be a mapping with the keys {sorted(keys)}.")
        best = state["best"]
        if isinstance(best, bool) or not isinstance(best, int | float) or math.isnan(best):
            raise ValueError(f"EarlyStopping state 'best' must be a number, got {best!r}.")
        for key in ("best_epoch", "stopped_epoch"):
            value = state[key]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(
                    f"EarlyStopping state {key!r} must be an epoch or None, got {value!r}."
                )
        wait = state["wait"]
        if isinstance(wait, bool) or not isinstance(wait, int) or wait < 0:
            raise ValueError(f"EarlyStopping state 'wait' must be a count >= 0, got {wait!r}.")
        weights = state.get("best_weights")
        self._best_weights = None if weights is None else _arrays(weights)
        self.best, self.best_epoch, self.wait = float(best), state["best_epoch"], wait
        self.stopped_epoch = state["stopped_epoch"]
        self._resumed = True

    def config(self) -> dict[str, Any]:
        return {
            "monitor": self._monitor.name,
            "patience": self.patience,
            "min_delta": self._monitor.min_delta,
            "mode": self._monitor.mode,
            "restore_best_weights": self.restore_best_weights,
        }


def _arrays(weights: Any) -> dict[str, np.ndarray]:
    """Saved best weights as host arrays: numeric, finite (lists from JSON are accepted)."""
    problem = "must map names to arrays of finite numbers"
    if not isinstance(weights, Mapping):
        raise ValueError(f"EarlyStopping state 'best_weights' {problem}, got {weights!r}.")
    out: dict[str, np.ndarray] = {}
    for name, value in weights.items():
        try:
            array = np.array(value)
        except (TypeError, ValueError):
            array = np.array(None)
        kind = array.dtype.kind
        if kind not in "fiub" or (kind == "f" and not np.isfinite(array).all()):
            raise ValueError(f"EarlyStopping state 'best_weights' {problem}; {name!r} is not.")
        out[str(name)] = array
    return out
