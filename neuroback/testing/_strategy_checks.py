"""The strategy contract of the conformance kit: :func:`check_strategy`.

Run in one process (whatever the launcher), a :class:`~neuroback.Strategy` passes when

1. ``0 <= rank < world_size``, and ``is_main`` is ``rank == 0``;
2. :meth:`~neuroback.Strategy.shard` gives this rank its part of the ``numpy.array_split``
   rule (contiguous, sizes differing by at most one, the first ranks taking one more),
   for batch sizes below, at and above the number of ranks;
3. ``allreduce_sum`` returns an array of the input's shape and dtype, and leaves its
   input alone; in a world of one it is the input; ``allgather`` returns one entry per
   rank with this rank's at its index; ``broadcast`` in a world of one is the identity;
   ``allreduce_sum_into`` on a backend array keeps it on the backend;
4. its ``config()`` survives JSON and rebuilds, through the registry, a strategy of the
   same class with the same config.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..backend import get_backend
from ..config import build, to_spec
from ..strategy import Strategy
from ._contract_support import ConformanceError

__all__ = ["check_strategy"]


def _fail(strategy: Any, rule: str, detail: str) -> ConformanceError:
    return ConformanceError(f"{strategy!r} breaks the strategy rule '{rule}': {detail}")


def check_strategy(strategy: Strategy) -> None:
    """Run the strategy contract on ``strategy`` (see the module docstring)."""
    rank, size = strategy.rank, strategy.world_size
    if not (isinstance(size, int) and size >= 1 and isinstance(rank, int) and 0 <= rank < size):
        raise _fail(strategy, "0 <= rank < world_size", f"rank {rank!r}, world_size {size!r}")
    if strategy.is_main != (rank == 0):
        raise _fail(strategy, "is_main is rank == 0", f"rank {rank}, is_main {strategy.is_main}")

    for n in sorted({0, 1, size - 1, size, size + 1, 7 * size + 3}):
        expected = np.array_split(np.arange(n), size)[rank]
        part = strategy.shard(n)
        got = np.arange(n)[part]
        if not np.array_equal(got, expected):
            raise _fail(
                strategy,
                "shard is this rank's part of numpy.array_split",
                f"n={n}: got indices {got.tolist()}, expected {expected.tolist()}",
            )

    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    before = values.copy()
    summed = strategy.allreduce_sum(values)
    if not isinstance(summed, np.ndarray) or summed.shape != values.shape:
        raise _fail(strategy, "allreduce_sum keeps the shape", f"got {summed!r}")
    if summed.dtype != values.dtype:
        raise _fail(strategy, "allreduce_sum keeps the dtype", f"{summed.dtype}")
    if not np.array_equal(values, before):
        raise _fail(strategy, "allreduce_sum leaves its input alone", "the input changed")
    if size == 1 and not np.array_equal(summed, values):
        raise _fail(strategy, "a sum over one rank is the input", f"got {summed.tolist()}")
    scalar = strategy.allreduce_sum(np.array(2.5))
    if not isinstance(scalar, np.ndarray) or scalar.shape != ():
        raise _fail(strategy, "allreduce_sum keeps a 0-d array 0-d", f"got {scalar!r}")
    gathered = strategy.allgather(("rank", rank))
    if len(gathered) != size or gathered[rank] != ("rank", rank):
        raise _fail(strategy, "allgather lists every rank in order", f"got {gathered!r}")
    if size == 1 and strategy.broadcast({"x": 1}) != {"x": 1}:
        raise _fail(strategy, "a broadcast in a world of one is the identity", "it changed")
    backend = get_backend()
    device = backend.asarray(np.ones(4, dtype=np.float32))
    strategy.allreduce_sum_into(device, backend)
    if not backend.is_native(device) or float(backend.to_host(device).sum()) != 4.0 * size:
        raise _fail(strategy, "allreduce_sum_into sums in place on the backend", repr(device))

    spec = json.loads(json.dumps(to_spec(strategy)))
    rebuilt = build("strategies", spec)
    if type(rebuilt) is not type(strategy) or rebuilt.config() != strategy.config():
        raise _fail(
            strategy,
            "config() rebuilds the same strategy",
            f"{spec} rebuilt {type(rebuilt).__name__} with {rebuilt.config()}",
        )
