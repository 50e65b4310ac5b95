r"""What the Trainer does differently when its strategy spans several processes.

Every function here is a collective operation: each rank calls it at the same point of
the run (the Trainer guarantees it, as every rank takes the same steps), or every rank
waits.

* :func:`start_from_main`: the model, its state, the optimizer's state and the data
  order's generator are rank 0's on every rank, so the ranks start identical.
* :func:`sum_gradients`: each rank's gradient (already scaled by its share
  :math:`n_r/N` of the global batch) is summed over the ranks in flat buckets, before
  the user's gradient transforms run. Every rank then holds the same global gradient,
  so clipping sees the global norm and every rank applies the same update: the
  weights stay bitwise identical.
* layer state (BatchNorm's running statistics, which each rank updates from its own
  part of the batch) is averaged over the ranks at each update, so every rank holds the
  same state too (PyTorch's DistributedDataParallel copies rank 0's instead);
* the non-finite guard decides once for all ranks: a NaN loss or overflowing layer state
  on any rank skips the update on every rank.
* :func:`any_rank`: a stop asked for on one rank (a callback's ``stop_training``) is
  agreed by all at the same step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..backend import Array
from ..strategy import Strategy
from .data import ArrayLoader, BatchIterable

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["any_rank", "check_global_batch", "start_from_main", "sum_gradients"]


def start_from_main(trainer: Trainer) -> None:
    """Give every rank rank 0's weights, layer state, optimizer state and data order."""
    strategy = trainer.strategy  # a broadcast returns rank 0's value on every rank
    trainer.model.load_state_dict(strategy.broadcast(trainer.model.state_dict()))
    trainer.optimizer.load_state_dict(strategy.broadcast(trainer.optimizer.state_dict()))
    trainer.data_rng.bit_generator.state = strategy.broadcast(trainer.data_rng.bit_generator.state)


def sum_gradients(trainer: Trainer, also_finite: list[Array]) -> list[Array]:
    """Sum the trainable parameters' gradients over every rank, in place, in flat buckets;
    return what the non-finite guard must also check, the same on every rank (a 0-d
    array that is infinite when any rank's losses or layer state were not finite)."""
    strategy, backend = trainer.strategy, trainer.backend
    xp = backend.xp
    grads = [p.grad for p in trainer.optimizer.params.values() if p.trainable]
    limit = int(getattr(strategy, "bucket_elements", 1 << 23))
    for bucket in _buckets(grads, limit):
        flat = xp.concatenate([g.reshape(-1) for g in bucket])
        strategy.allreduce_sum_into(flat, backend)
        offset = 0
        for g in bucket:
            g[...] = flat[offset : offset + g.size].reshape(g.shape)
            offset += g.size
    local_bad = 0.0 if (not also_finite or bool(backend.all_finite(also_finite))) else 1.0
    # layer state (BatchNorm's running statistics, from each rank's own batches): the
    # mean over the ranks, so every rank keeps the same state as well as the same weights
    states = [a for a in trainer.model.named_state().values() if a.dtype.kind == "f"]
    for bucket in _buckets(states, limit):
        flat = xp.concatenate([a.reshape(-1) for a in bucket])
        strategy.allreduce_sum_into(flat, backend)
        flat *= 1.0 / strategy.world_size
        offset = 0
        for a in bucket:
            a[...] = flat[offset : offset + a.size].reshape(a.shape)
            offset += a.size
    bad = float(strategy.allreduce_sum(np.array([local_bad]))[0])
    return [xp.asarray(np.inf if bad else 0.0)]


def _buckets(grads: list[Array], limit: int) -> list[list[Array]]:
    """Consecutive gradients of one dtype, at most ``limit`` elements a bucket (a larger
    gradient is a bucket of its own)."""
    buckets: list[list[Array]] = []
    current: list[Array] = []
    size = 0
    for g in grads:
        if current and (g.dtype != current[0].dtype or size + g.size > limit):
            buckets.append(current)
            current, size = [], 0
        current.append(g)
        size += g.size
    if current:
        buckets.append(current)
    return buckets


def check_global_batch(
    strategy: Strategy, batch_size: Any, data: ArrayLoader | BatchIterable
) -> None:
    """Under several processes: the batch is global, split evenly across the ranks, and
    the data are arrays (each rank takes its part of every batch); one process: nothing."""
    if not strategy.distributed:
        return
    size = strategy.world_size
    if isinstance(batch_size, int) and batch_size % size:
        raise ValueError(
            f"batch_size={batch_size} is the global batch, split across {size} "
            f"processes, so it must be a multiple of {size}. Use batch_size="
            f"{max(size, batch_size - batch_size % size)} or "
            f"{batch_size + size - batch_size % size}."
        )
    if not isinstance(data, ArrayLoader):
        raise TypeError(
            f"Under the {type(strategy).__name__} strategy, fit() takes arrays (x, y): every "
            f"rank draws the same global batches and trains on its part of each. A batch "
            f"iterable does not split itself across the ranks; pass the arrays, or train "
            f"it with one process."
        )


def any_rank(strategy: Strategy, flag: bool) -> bool:
    """Whether ``flag`` is true on any rank (the same answer on every rank)."""
    return bool(strategy.allreduce_sum(np.array([1.0 if flag else 0.0]))[0] > 0)


def forward_seed_for_rank(seed: Any, rank: int) -> Any:
    """Rank 0 keeps the single-process seed (so one process runs exactly as before); rank
    ``r`` draws its dropout masks from a child of it."""
    if rank == 0:
        return seed
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, 0x6E62, rank))
