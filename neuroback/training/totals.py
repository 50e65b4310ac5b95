"""Running sums of the loss and metrics over an epoch or an evaluation, kept on the backend.

Training epochs and evaluation accumulate the same way: each batch adds
``value * n`` (its mean times its size) to a 0-d float64 array on the backend,
and the means are read on the host once, at the end:

.. math:: \\bar L = \\frac{\\sum_b n_b L_b}{\\sum_b n_b}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..backend import Array, Backend
from .components import Metric

__all__ = ["Totals"]


class Totals:
    """Sums of ``loss`` and each metric, weighted by batch size, on ``backend``."""

    def __init__(self, backend: Backend, metrics: Mapping[str, Metric]) -> None:
        self._backend = backend
        self._metrics = metrics
        zero = backend.xp.zeros((), dtype=np.float64)
        self._sums: dict[str, Array] = {"loss": zero, **dict.fromkeys(metrics, zero)}
        #: Samples added so far.
        self.count = 0

    def add(self, value: Array, pred: Array, target: Array, n: int) -> None:
        """Add one batch of ``n`` samples: its mean loss ``value`` and its metrics."""
        sums = self._sums
        sums["loss"] = sums["loss"] + value * n
        for name, metric in self._metrics.items():
            sums[name] = sums[name] + metric(pred, target) * n
        self.count += n

    def means(self, *, also: Array | int | None = None) -> tuple[dict[str, float], int]:
        """Every mean, and the count ``also`` (e.g. skipped updates), in one host read."""
        backend = self._backend
        xp = backend.xp
        names = list(self._sums)
        values = [self._sums[k] for k in names]
        extra = 0 if also is None else also
        host_extra = isinstance(extra, int)
        if not host_extra:
            values.append(extra.astype(np.float64))
        host = backend.to_host(xp.stack(values))
        count = max(self.count, 1)
        means = {k: float(host[i]) / count for i, k in enumerate(names)}
        return means, (int(extra) if host_extra else int(host[-1]))

    def loss_sum(self) -> Any:
        return self._sums["loss"]
