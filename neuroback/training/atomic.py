"""Keeping a training step whole: interrupts deferred during the update, and layer state
put back when a step fails.

Every way out of a step, an exception included, leaves the model and optimizer
fully before or fully after it:

* before the update, a failure (a layer's backward, a callback, Ctrl-C) discards
  the step's gradients and restores the layer state its forward changed
  (BatchNorm's running statistics), so nothing of the step remains;
* the update itself runs with Ctrl-C deferred (:class:`InterruptGuard`): an
  interrupt that arrives while parameters are being written is raised right
  after the last one, so the step is then fully applied.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Mapping
from types import FrameType
from typing import Any

from ..backend import Array, Backend
from ..layer import Layer

__all__ = ["InterruptGuard", "StateSnapshot"]


class InterruptGuard:
    """Defers SIGINT while an update runs; otherwise Ctrl-C acts at once, as usual.

    :meth:`installed` puts a handler in place for a whole ``fit`` (installing one costs
    tens of microseconds, too much per step); :meth:`updating` marks the critical section
    and costs two attribute writes. Outside an installed block, :meth:`updating` installs
    the handler for that one update. Only the main thread receives signals; elsewhere
    both do nothing.
    """

    def __init__(self) -> None:
        self._active = False
        self._updating = False
        self._pending: FrameType | None = None
        self._previous: Any = None

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self._updating:
            self._pending = frame  # raised when the update is complete
            return
        self._forward(frame)

    def _forward(self, frame: FrameType | None) -> None:
        previous = self._previous
        if callable(previous) and previous is not signal.default_int_handler:
            previous(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    def installed(self) -> contextlib.AbstractContextManager[None]:
        """The handler in place for a block (a whole ``fit``); nested blocks do nothing."""
        return _Installed(self)

    def updating(self) -> contextlib.AbstractContextManager[None]:
        """The critical section of an update: a Ctrl-C in it is raised when it ends."""
        return _Updating(self)


class _Installed:
    """:meth:`InterruptGuard.installed` (a class, not a generator: entered at every step
    outside ``fit``)."""

    __slots__ = ("_guard", "_owner")

    def __init__(self, guard: InterruptGuard) -> None:
        self._guard = guard
        self._owner = False

    def __enter__(self) -> None:
        guard = self._guard
        if guard._active or threading.current_thread() is not threading.main_thread():
            return
        guard._previous = signal.signal(signal.SIGINT, guard._handler)
        guard._active = self._owner = True

    def __exit__(self, *exc: object) -> None:
        if self._owner:
            guard = self._guard
            guard._active = self._owner = False
            signal.signal(signal.SIGINT, guard._previous)


class _Updating:
    """:meth:`InterruptGuard.updating`: two attribute writes when a handler is installed."""

    __slots__ = ("_guard", "_installed")

    def __init__(self, guard: InterruptGuard) -> None:
        self._guard = guard
        self._installed: _Installed | None = None

    def __enter__(self) -> None:
        guard = self._guard
        if not guard._active:  # outside fit: install the handler for this one update
            self._installed = _Installed(guard)
            self._installed.__enter__()
        guard._updating = True

    def __exit__(self, exc_type: object, *exc: object) -> None:
        guard = self._guard
        guard._updating = False
        installed, self._installed = self._installed, None
        try:
            if exc_type is None and guard._pending is not None:
                frame, guard._pending = guard._pending, None
                guard._forward(frame)
        finally:
            if installed is not None:
                installed.__exit__(None, None, None)


class StateSnapshot:
    """Copies of a model's non-trainable arrays, taken before a forward that may change them."""

    __slots__ = ("_copies", "_state")

    def __init__(self, state: dict[str, Array]) -> None:
        self._state = state
        self._copies = {k: v.copy() for k, v in state.items()}

    @classmethod
    def of(cls, model: Layer) -> StateSnapshot:
        return cls(model.named_state())

    @classmethod
    def from_copies(
        cls, state: dict[str, Array], copies: Mapping[str, Any], backend: Backend
    ) -> StateSnapshot:
        """A snapshot whose copies were saved earlier (``copies``: host arrays by name)."""
        snapshot = cls.__new__(cls)
        snapshot._state = state
        snapshot._copies = {k: backend.asarray(copies[k]) for k in state}
        return snapshot

    def current(self) -> list[Array]:
        """The state arrays as they are now (what the non-finite guard also checks)."""
        return list(self._state.values())

    def host_copies(self, backend: Backend) -> dict[str, Any]:
        """The copies, as host arrays (for a checkpoint)."""
        return {k: backend.to_host(v).copy() for k, v in self._copies.items()}

    def restore(self) -> None:
        """Write the copies back, in place."""
        for name, value in self._copies.items():
            self._state[name][...] = value

    def restore_unless(self, applied: Any, backend: Backend) -> None:
        """Restore if an update was skipped: ``applied`` is a host bool, or a 0-d device
        bool, selected on the device (no host read)."""
        if isinstance(applied, bool):
            if not applied:
                self.restore()
            return
        skipped = ~applied
        for name, value in self._copies.items():
            backend.xp.copyto(self._state[name], value, where=skipped)
