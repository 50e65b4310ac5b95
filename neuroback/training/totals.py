"""Running sums of the loss and metrics over an epoch or an evaluation.

Training epochs and evaluation accumulate the same way: each batch adds
``value * n`` (its mean times its size) to a float64 sum, and the means are read on
the host once, at the end:

.. math:: \\bar L = \\frac{\\sum_b n_b L_b}{\\sum_b n_b}

On a device the sums are 0-d float64 arrays there (reading a batch's loss would wait for
the device at every step). Where host reads are free (NumPy) they are Python floats: two
0-d array operations per sum and batch cost more than the rest of ``fit``'s bookkeeping
(about 5 us a batch on these machines). Either way the product ``L_b n_b`` is formed in
float64, so both give the same bits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..backend import Array, Backend
from ..strategy import Strategy
from .components import Metric

__all__ = ["Totals"]


class Totals:
    """Sums of ``loss`` and each metric, weighted by batch size, on ``backend``."""

    def __init__(
        self, backend: Backend, metrics: Mapping[str, Metric], strategy: Strategy | None = None
    ) -> None:
        self._backend = backend
        self._metrics = metrics
        #: Under several processes the sums and counts are added over the ranks when read.
        self._strategy = strategy if strategy is not None and strategy.distributed else None
        #: Python floats on the host; 0-d float64 arrays on a device (see the module)
        self._host = backend.host_reads_are_free
        zero = self._zero()
        self._sums: dict[str, Any] = {"loss": zero, **dict.fromkeys(metrics, zero)}
        #: Samples added so far.
        self.count = 0

    def add(self, value: Array, pred: Array, target: Array, n: int) -> None:
        """Add one batch of ``n`` samples: its mean loss ``value`` and its metrics."""
        sums = self._sums
        if self._host:
            sums["loss"] += float(value) * n
            for name, metric in self._metrics.items():
                sums[name] += float(metric(pred, target)) * n
        else:  # the product in float64 as well: the host's bits, on the device
            sums["loss"] = sums["loss"] + value.astype(np.float64) * n
            for name, metric in self._metrics.items():
                sums[name] = sums[name] + _float64(metric(pred, target)) * n
        self.count += n

    def _zero(self) -> Any:
        return 0.0 if self._host else self._backend.xp.zeros((), dtype=np.float64)

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
        count = self.count
        if self._strategy is not None:  # a collective: every rank reads at the same point
            summed = self._strategy.allreduce_sum(
                np.array([*host[: len(names)], count], dtype=np.float64)
            )
            host = np.concatenate([summed[: len(names)], host[len(names) :]])
            count = int(summed[-1])
        count = max(count, 1)
        means = {k: float(host[i]) / count for i, k in enumerate(names)}
        return means, (int(extra) if host_extra else int(host[-1]))

    def clear(self) -> None:
        """Start again from zero (the log window after each log)."""
        self._sums = dict.fromkeys(self._sums, self._zero())
        self.count = 0

    def state(self) -> dict[str, Any]:
        """Host copies of the sums (0-d float64 arrays) and the count, for a checkpoint."""
        backend = self._backend
        sums = {k: np.array(backend.to_host(v), dtype=np.float64) for k, v in self._sums.items()}
        return {"sums": sums, "count": self.count}

    def load(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`state` (the same names; checked by the caller)."""
        backend = self._backend
        if self._host:
            self._sums = {k: float(np.asarray(state["sums"][k], np.float64)) for k in self._sums}
        else:
            self._sums = {
                k: backend.asarray(np.asarray(state["sums"][k], dtype=np.float64))
                for k in self._sums
            }
        self.count = int(state["count"])

    def names(self) -> list[str]:
        return list(self._sums)

    def loss_sum(self) -> Any:
        return self._sums["loss"]


def _float64(value: Any) -> Any:
    """A metric's value in float64, where it is: an array cast where it lives (not moved
    to the device: the sum then meets it as before), a Python number as a float."""
    return value.astype(np.float64) if hasattr(value, "astype") else float(value)
