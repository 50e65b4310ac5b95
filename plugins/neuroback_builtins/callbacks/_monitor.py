"""Reading a monitored quantity from epoch logs, shared by EarlyStopping and ReduceLROnPlateau."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any

from neuroback import checks

__all__ = ["Monitor"]


class Monitor:
    """Which logged value to watch and whether lower (``min``) or higher (``max``) is better."""

    def __init__(self, owner: str, monitor: str, mode: str, min_delta: float) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{owner} mode must be 'auto', 'min' or 'max', got {mode!r}.")
        min_delta = checks.non_negative(min_delta, f"{owner} min_delta", finite=False)
        if mode == "auto":
            mode = (
                "max" if any(k in monitor for k in ("acc", "auc", "precision", "recall")) else "min"
            )
        self.owner, self.name, self.mode, self.min_delta = owner, monitor, mode, float(min_delta)

    def check_keys(self, keys: Iterable[str]) -> None:
        """Raise the :meth:`value` error now if the epoch logs will lack the monitored key.

        Callbacks call it from ``on_train_begin`` with ``trainer.log_keys``, so a typo
        fails before the first update rather than after the first epoch.
        """
        keys = list(keys)
        if keys:  # a Trainer that does not announce its keys is checked at the first epoch
            self.value(dict.fromkeys(["epoch", *keys], 0.0))

    def value(self, logs: Mapping[str, Any]) -> float:
        if self.name not in logs:
            close = difflib.get_close_matches(self.name, list(logs), n=1, cutoff=0.5)
            if self.name.startswith("val_") and not any(k.startswith("val_") for k in logs):
                hint = " Pass validation_data or validation_split to fit()."
            elif close:
                hint = f" Did you mean {close[0]!r}?"
            else:
                hint = " A metric is logged only when it is in Trainer(metrics=[...])."
            raise KeyError(
                f"{self.owner} monitors {self.name!r}, which the epoch logs do not have "
                f"(they have {sorted(logs)}).{hint}"
            )
        return float(logs[self.name])

    def initial(self) -> float:
        return math.inf if self.mode == "min" else -math.inf

    def improved(self, value: float, best: float) -> bool:
        if self.mode == "min":
            return value < best - self.min_delta
        return value > best + self.min_delta
