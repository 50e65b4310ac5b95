"""Batches for training: in-memory arrays with a resumable iterator, or user iterables.

In-memory data (``fit(x, y)``) is moved to the backend and cast to the model's
dtype once, then cut into batches by an :class:`ArrayLoader` whose position
(epoch, order, offset) can be saved and restored, so a resumed run sees exactly
the batches the interrupted one would have.

Any other dataset follows the **batch-iterable protocol**: an object whose
``__iter__`` yields ``(x_batch, y_batch)`` pairs, re-iterable once per epoch
(``len()``, if defined, gives the number of batches for progress bars).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..backend import Array, Backend

__all__ = ["ArrayLoader", "BatchIterable"]


@runtime_checkable
class BatchIterable(Protocol):
    """A dataset the Trainer can iterate: ``for xb, yb in dataset``, once per epoch."""

    def __iter__(self) -> Iterator[tuple[Any, Any]]: ...


class ArrayLoader:
    """Batches of backend arrays ``x[idx], y[idx]``, shuffled per epoch by a host generator.

    >>> import numpy as np, neuroback as nb
    >>> from neuroback.training import ArrayLoader
    >>> x, y = np.arange(10.0).reshape(5, 2), np.arange(5.0)
    >>> loader = ArrayLoader(x, y, batch_size=2, shuffle=False, backend=nb.get_backend())
    >>> [len(yb) for _, yb in loader.epoch()]
    [2, 2, 1]
    """

    def __init__(
        self,
        x: Array,
        y: Array | None,
        *,
        batch_size: int,
        shuffle: bool,
        backend: Backend,
        rng: np.random.Generator | None = None,
        drop_last: bool = False,
    ) -> None:
        self.x = x
        self.y = y
        self.n = int(x.shape[0])
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.backend = backend
        self.rng = rng if rng is not None else np.random.default_rng()
        self.drop_last = bool(drop_last)
        self._epoch = 0
        self._order: np.ndarray | None = None
        self._offset = 0

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def _new_order(self) -> np.ndarray:
        return self.rng.permutation(self.n) if self.shuffle else np.arange(self.n)

    def epoch(self) -> Iterator[tuple[Array, Array | None]]:
        """Yield one epoch of batches, continuing a restored position if there is one."""
        if self._order is None:
            self._order = self._new_order()
            self._offset = 0
        order = self._order
        sequential = not self.shuffle
        device_order = None if sequential else self.backend.asarray(order)
        while self._offset < self.n:
            start = self._offset
            stop = min(start + self.batch_size, self.n)
            if self.drop_last and stop - start < self.batch_size:
                break
            self._offset = stop
            if sequential:
                xb = self.x[start:stop]
                yb = None if self.y is None else self.y[start:stop]
            else:
                idx = device_order[start:stop]
                xb = self.x[idx]
                yb = None if self.y is None else self.y[idx]
            yield xb, yb
        self._epoch += 1
        self._order = None
        self._offset = 0

    def state_dict(self) -> dict[str, Any]:
        """The position: epochs done, this epoch's order and how far into it, the generator."""
        return {
            "epoch": self._epoch,
            "order": None if self._order is None else self._order.tolist(),
            "offset": self._offset,
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a :meth:`state_dict` (checked first: a mismatch changes nothing)."""
        order = state.get("order")
        restored = None if order is None else np.asarray(order, dtype=np.int64)
        if restored is not None and restored.shape != (self.n,):
            raise ValueError(
                f"The saved data order covers {restored.shape[0]} samples but the data has "
                f"{self.n}. Resume with the same dataset."
            )
        offset = int(state["offset"])
        epoch = int(state["epoch"])
        rng_state = state["rng"]
        if not 0 <= offset <= self.n:
            raise ValueError(f"The saved offset {offset} is outside the data (0..{self.n}).")
        probe = np.random.default_rng()
        probe.bit_generator.state = rng_state  # raises on a malformed state, changing nothing
        self.rng.bit_generator.state = rng_state
        self._epoch = epoch
        self._order = restored
        self._offset = offset
