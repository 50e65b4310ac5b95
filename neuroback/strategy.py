r"""Strategies: how a Trainer's work is spread over processes.

A :class:`Strategy` is a registered kind of component, like a layer or an optimizer:
the default is :class:`SingleProcess`; the built-in plugin adds ``"mpi"``
(data parallelism over MPI, see :doc:`/distributed`), and a third party can ship
another (Ray, Horovod) through the ``neuroback_register_strategies`` hook.

A strategy gives the Trainer three things:

* **who it is**: :attr:`~Strategy.rank` of :attr:`~Strategy.world_size` processes;
  rank 0 is the *main* process, the one that prints, plots and writes files;
* **collective operations** on host arrays: a sum over every process whose result is
  the same on each of them (:meth:`~Strategy.allreduce_sum`), a broadcast from the
  main process, a gather to every process;
* **the split of the data**: a global batch of :math:`N` samples is cut into
  contiguous parts, one per rank, whose sizes differ by at most one
  (:meth:`~Strategy.shard`).

Results do not depend on the number of processes: the Trainer scales each rank's
loss gradient by its share :math:`n_r/N` of the global batch, so the sum over ranks is
the gradient of the mean loss over the whole batch, exactly what one process computes:

.. math::

    g = \sum_r \frac{n_r}{N}\, \nabla \bar L_r
      = \nabla \frac1N \sum_{i=1}^{N} L_i
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import numpy as np

from .backend import Array, Backend

__all__ = ["SingleProcess", "Strategy"]


class Strategy(ABC):
    """Base class of strategies (see the module docstring)."""

    @property
    @abstractmethod
    def rank(self) -> int:
        """This process's index, from 0."""

    @property
    @abstractmethod
    def world_size(self) -> int:
        """How many processes train together."""

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the process that prints and writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether more than one process takes part."""
        return self.world_size > 1

    # -- collective operations (every rank calls each, in the same order) ------------
    @abstractmethod
    def allreduce_sum(self, array: np.ndarray) -> np.ndarray:
        """The element-wise sum of ``array`` over every rank (a host array), the same
        bits on each rank."""

    @abstractmethod
    def broadcast(self, obj: Any) -> Any:
        """The main process's ``obj`` (any picklable value), on every rank."""

    @abstractmethod
    def allgather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order, on every rank."""

    def allreduce_sum_into(self, array: Array, backend: Backend) -> None:
        """Replace the backend array ``array`` by its sum over every rank, in place.

        The default copies through the host; a strategy with device collectives (NCCL)
        overrides it."""
        summed = self.allreduce_sum(np.ascontiguousarray(backend.to_host(array)))
        array[...] = backend.asarray(summed)

    def barrier(self) -> None:
        """Wait until every rank gets here."""
        self.allgather(None)

    # -- the data ---------------------------------------------------------------------
    def shard(self, n: int) -> slice:
        """This rank's contiguous part of ``n`` samples: sizes differ by at most one, the
        first ``n % world_size`` ranks take one more (``numpy.array_split``'s rule).

        >>> from neuroback.strategy import SingleProcess
        >>> SingleProcess().shard(10)
        slice(0, 10, None)
        """
        size, rank = self.world_size, self.rank
        base, extra = divmod(int(n), size)
        start = rank * base + min(rank, extra)
        return slice(start, start + base + (1 if rank < extra else 0))

    # -- configuration ------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this strategy (JSON/TOML values)."""
        return {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Strategy:
        return cls(**dict(config))

    @classmethod
    def example(cls) -> Strategy:
        """An instance for the conformance kit (default: every argument at its default)."""
        return cls()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rank={self.rank}, world_size={self.world_size})"


class SingleProcess(Strategy):
    """One process does everything: the default, with no communication at all."""

    # class attributes rather than the base class's properties (read at every training
    # step through ``distributed``); a subclass may still override them with properties
    rank = 0
    world_size = 1

    def allreduce_sum(self, array: np.ndarray) -> np.ndarray:
        return np.array(array, copy=True)

    def broadcast(self, obj: Any) -> Any:
        return obj

    def allgather(self, obj: Any) -> list[Any]:
        return [obj]

    def allreduce_sum_into(self, array: Array, backend: Backend) -> None:
        return None

    def barrier(self) -> None:
        return None
