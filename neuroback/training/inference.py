"""Evaluation and prediction in inference mode, in batches, on one process or many.

Under a strategy with several processes each rank takes its contiguous part of the data
(:meth:`~neuroback.Strategy.shard`): ``evaluate`` sums each rank's loss and metric sums
and counts over the ranks (every rank gets the whole data's means), ``predict`` gathers
every rank's outputs in rank order (every rank gets all of them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..backend import Array
from .totals import Totals

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["evaluate_arrays", "predict_arrays"]


def evaluate_arrays(trainer: Trainer, x: Array, y: Array, *, batch_size: int) -> dict[str, float]:
    """The mean loss and metrics over ``x, y`` (backend arrays), batch by batch."""
    strategy = trainer.strategy
    if strategy.distributed:
        part = strategy.shard(int(x.shape[0]))
        x, y = x[part], y[part]
    totals = Totals(trainer.backend, trainer.metrics, strategy)
    for start in range(0, int(x.shape[0]), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        pred = trainer.model(xb)
        value, _ = trainer.loss.forward(pred, yb)
        totals.add(value, pred, yb, int(xb.shape[0]))
    return totals.means()[0]


def predict_arrays(trainer: Trainer, x: Array, *, batch_size: int) -> np.ndarray:
    """The model's outputs for ``x`` (a backend array), as one host array."""
    strategy, backend = trainer.strategy, trainer.backend
    if strategy.distributed:
        x = x[strategy.shard(int(x.shape[0]))]
    outs = [
        backend.to_host(trainer.model(x[start : start + batch_size]))
        for start in range(0, int(x.shape[0]), batch_size)
    ]
    if not strategy.distributed:
        return np.concatenate(outs, axis=0)
    local = np.concatenate(outs, axis=0) if outs else None
    return np.concatenate([p for p in strategy.allgather(local) if p is not None], axis=0)
