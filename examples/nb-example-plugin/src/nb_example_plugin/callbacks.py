r"""nb-example-plugin's callback: the norm of every parameter, epoch by epoch.

Weights that grow without bound, or a layer whose weights never move, show up here
before they show up in the loss. After each epoch it records, for every parameter
:math:`W` of the model, :math:`\lVert W \rVert_2 = \sqrt{\sum_{ij} W_{ij}^2}`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import neuroback as nb
from neuroback import checks


class WeightNormHistory(nb.Callback):
    """Records ``{parameter name: L2 norm}`` after every ``every`` epochs, in ``history``.

    The history is part of a checkpoint (:meth:`state_dict`), so a resumed run continues
    the same record.
    """

    def __init__(self, every: int = 1) -> None:
        self.every = checks.positive_int(every, "WeightNormHistory every")
        self.history: list[dict[str, Any]] = []

    def on_epoch_end(self, trainer: Any, epoch: int, logs: Mapping[str, float]) -> None:
        if (epoch + 1) % self.every:
            return
        backend = trainer.model.backend
        norms = {
            name: math.sqrt(float(backend.to_host((p.value * p.value).sum())))
            for name, p in trainer.model.named_parameters().items()
        }
        self.history.append({"epoch": epoch, "norms": norms})

    def state_dict(self) -> dict[str, Any]:
        return {"history": [dict(entry) for entry in self.history]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        history = state.get("history")
        if not isinstance(history, list) or not all(
            isinstance(e, Mapping) and {"epoch", "norms"} <= set(e) for e in history
        ):
            raise ValueError(
                "WeightNormHistory state must be {'history': [{'epoch': int, 'norms': "
                f"{{name: float}}}}, ...]}}, got {state!r}; pass what state_dict() returned."
            )
        self.history = [
            {"epoch": int(e["epoch"]), "norms": {k: float(v) for k, v in e["norms"].items()}}
            for e in history
        ]

    def config(self) -> dict[str, Any]:
        return {"every": self.every} if self.every != 1 else {}
