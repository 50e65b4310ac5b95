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

import copy
from collections.abc import Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .. import checks
from ..backend import Array, Backend

__all__ = ["ArrayLoader", "BatchIterable"]


@runtime_checkable
class BatchIterable(Protocol):
    """A dataset the Trainer can iterate: ``for xb, yb in dataset``, once per epoch."""

    def __iter__(self) -> Iterator[tuple[Any, Any]]: ...


#: Shuffled data up to this size (inputs and targets together) is gathered into its epoch
#: order once per epoch, the batches then being views: one gather instead of one per
#: batch (about 7 us each on the digits). Larger data is gathered batch by batch, so
#: that it is never held twice.
SHUFFLED_COPY_BYTES = 256 * 1024 * 1024


def _nbytes(x: Array, y: Array | None) -> int:
    return int(x.nbytes) + (0 if y is None else int(y.nbytes))


class ArrayLoader:
    """Batches of backend arrays ``x[idx], y[idx]``, shuffled per epoch by a host generator.

    Shuffled data of at most :data:`SHUFFLED_COPY_BYTES` is copied into its epoch order
    when an epoch starts and its batches are views of that copy (so a batch kept after
    its epoch keeps the copy alive, and changes to ``x`` during an epoch are not seen);
    larger data is gathered batch by batch.

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
        rng: np.random.Generator | int | None = None,
        drop_last: bool = False,
    ) -> None:
        if not isinstance(backend, Backend):
            raise TypeError(
                f"ArrayLoader backend must be a neuroback Backend, got {type(backend).__name__}. "
                f"Pass neuroback.get_backend() (or the Trainer's backend)."
            )
        self.n = _check_samples(x, "x", backend)
        if y is not None and _check_samples(y, "y", backend) != self.n:
            raise ValueError(
                f"ArrayLoader x and y must hold the same number of samples along axis 0, got "
                f"{self.n} inputs (x of shape {tuple(x.shape)}) and {int(y.shape[0])} targets "
                f"(y of shape {tuple(y.shape)}). Pass one target per input."
            )
        self.batch_size = checks.positive_int(batch_size, "ArrayLoader batch_size")
        self.shuffle = _check_flag(shuffle, "shuffle")
        self.drop_last = _check_flag(drop_last, "drop_last")
        if self.drop_last and self.batch_size > self.n:
            raise ValueError(
                f"With drop_last=True and batch_size={self.batch_size}, the {self.n} samples make "
                f"no full batch, so every epoch would be empty. Lower batch_size or pass "
                f"drop_last=False."
            )
        self.x = x
        self.y = y
        self.backend = backend
        self.rng = _check_rng(rng)
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
        x, y = self.x, self.y
        gather = None
        if self.shuffle:
            device_order = self.backend.asarray(order)
            if _nbytes(x, y) <= SHUFFLED_COPY_BYTES:  # one gather per epoch, then views
                x = _rows(x, device_order)
                y = None if y is None else _rows(y, device_order)
            else:  # a large dataset: one gather per batch, no second copy of it
                gather = device_order
        while self._offset < self.n:
            start = self._offset
            stop = min(start + self.batch_size, self.n)
            if self.drop_last and stop - start < self.batch_size:
                break
            self._offset = stop
            if gather is None:
                xb = x[start:stop]
                yb = None if y is None else y[start:stop]
            else:
                idx = gather[start:stop]
                xb = x[idx]
                yb = None if y is None else y[idx]
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
        """Continue from a :meth:`state_dict`.

        Every entry is checked first (keys, epoch, offset, the order against this loader's
        size and shuffle setting, the generator state), so a refused state raises
        ``ValueError`` naming the key, what was expected and what was found, and changes
        nothing.
        """
        if not isinstance(state, Mapping):
            raise ValueError(
                f"Cannot load this state into the ArrayLoader: a loader state is a mapping with "
                f"the keys {list(_STATE_KEYS)}, got {_describe(state)}. {_FIX}"
            )
        missing = [k for k in _STATE_KEYS if k not in state]
        unexpected = sorted(repr(k) for k in state if k not in _STATE_KEYS)
        if missing or unexpected:
            raise ValueError(
                f"Cannot load this state into the ArrayLoader: its keys are not those of a loader "
                f"state {list(_STATE_KEYS)}: missing {missing}, unexpected "
                f"[{', '.join(unexpected)}]. {_FIX}"
            )
        epoch = _count(state["epoch"], "epoch")
        offset = _count(state["offset"], "offset")
        order = self._checked_order(state["order"])
        if order is None and offset != 0:
            raise _invalid(
                "offset",
                "0 when state['order'] is None (between epochs)",
                _describe(offset),
            )
        if offset > self.n:
            raise _invalid("offset", f"at most the number of samples ({self.n})", _describe(offset))
        rng_state = state["rng"]
        probe = self._probe_generator()
        try:  # a malformed state raises here, on a throwaway generator
            probe.bit_generator.state = rng_state
        except (TypeError, ValueError, KeyError) as exc:
            kind = type(self.rng.bit_generator).__name__
            raise ValueError(
                f"Cannot load this state into the ArrayLoader: state['rng'] must be the state of "
                f"a {kind} bit generator (generator.bit_generator.state), got "
                f"{_describe(rng_state)}: {exc}. {_FIX}"
            ) from None
        self.rng.bit_generator.state = probe.bit_generator.state
        self._epoch = epoch
        self._order = order
        self._offset = offset

    def _checked_order(self, order: Any) -> np.ndarray | None:
        """The saved order as an int64 permutation of ``range(n)``, or None between epochs."""
        if order is None:
            return None
        expected = f"None or a permutation of range({self.n}) (a list of {self.n} integers)"
        host = None
        if isinstance(order, list | tuple | np.ndarray):
            try:
                host = np.asarray(order)
            except (TypeError, ValueError):
                host = None
        if host is None or host.ndim != 1 or (host.size and host.dtype.kind not in "iu"):
            raise _invalid("order", expected, _describe(order))
        if host.shape[0] != self.n:
            raise ValueError(
                f"The saved data order covers {host.shape[0]} samples but the data has "
                f"{self.n}: state['order'] must be {expected}. Resume with the same dataset."
            )
        outside = host[(host < 0) | (host >= self.n)]
        if outside.size:
            raise _invalid(
                "order", expected, f"the index {int(outside[0])}, outside 0..{self.n - 1}"
            )
        host = host.astype(np.int64)  # every entry is in 0..n-1 now
        counts = np.bincount(host, minlength=self.n)
        if (counts != 1).any():
            repeated = int(np.flatnonzero(counts > 1)[0])
            absent = int(np.flatnonzero(counts == 0)[0])
            raise _invalid(
                "order", expected, f"the index {repeated} repeated (and {absent} missing)"
            )
        if not self.shuffle and (host != np.arange(self.n)).any():
            raise ValueError(
                "Cannot load this state into the ArrayLoader: state['order'] is shuffled but "
                "this loader has shuffle=False and would ignore it. Build the loader with "
                "shuffle=True to resume this state."
            )
        return host

    def _probe_generator(self) -> np.random.Generator:
        """A throwaway generator of the same bit-generator kind, to try a saved state on."""
        try:
            return np.random.Generator(type(self.rng.bit_generator)())
        except TypeError:  # a bit generator that needs arguments: copy ours
            return np.random.Generator(copy.deepcopy(self.rng.bit_generator))


_STATE_KEYS = ("epoch", "order", "offset", "rng")
_FIX = "Pass the dictionary ArrayLoader.state_dict() returned, unchanged."


def _invalid(key: str, expected: str, found: str) -> ValueError:
    return ValueError(
        f"Cannot load this state into the ArrayLoader: state[{key!r}] must be {expected}, "
        f"got {found}. {_FIX}"
    )


def _count(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise _invalid(key, "a non-negative integer", _describe(value))
    return int(value)


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


def _check_samples(array: Any, what: str, backend: Backend) -> int:
    """The number of samples in ``array`` (axis 0), after checking it is a backend array
    with at least one dimension and one sample."""
    backend.check_native(array, f"ArrayLoader {what}")
    shape = tuple(array.shape)
    if not shape:
        raise ValueError(
            f"ArrayLoader {what} must have a sample axis (axis 0), got a scalar (shape ()). "
            f"Pass one row per sample, e.g. x.reshape(-1, 1)."
        )
    if shape[0] == 0:
        raise ValueError(
            f"ArrayLoader {what} has no samples (shape {shape}): there is nothing to batch. "
            f"Pass at least one sample."
        )
    return int(shape[0])


def _check_flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"ArrayLoader {what} must be True or False, got {value!r}.")
    return bool(value)


def _check_rng(rng: Any) -> np.random.Generator:
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise ValueError(
        f"ArrayLoader rng must be a numpy.random.Generator, a non-negative integer seed or "
        f"None (a fresh unseeded generator), got {rng!r}."
    )


def _rows(a: Array, order: Array) -> Array:
    """``a[order]``, the rows in that order: through ``np.take`` for a NumPy array (two to
    three times faster than indexing for the digits' 1797 rows), indexing otherwise."""
    if type(a) is np.ndarray and a.ndim and a.flags.c_contiguous:  # the same layout
        return np.take(a, order, axis=0)
    return a[order]
