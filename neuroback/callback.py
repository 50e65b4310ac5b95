"""The Callback base class: hooks the Trainer calls, all no-ops by default.

Subclass :class:`Callback` and override the hooks you need. ``trainer`` gives
access to the model, optimizer and current step. A callback that keeps state
across a run implements :meth:`state_dict` / :meth:`load_state_dict` so a
resumed run restores it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = ["Callback"]


class Callback:
    """Base class of callbacks (every hook does nothing unless overridden)."""

    #: Under a strategy with several processes, a callback whose work is output
    #: (printing, plotting, writing logs) runs on the main process (rank 0) only; every
    #: other callback runs on every rank, where it sees the same reduced logs and makes
    #: the same decisions (see :doc:`/distributed`).
    main_process_only: ClassVar[bool] = False

    def on_train_begin(self, trainer: Any) -> None:
        """Before the first epoch."""

    def on_train_end(self, trainer: Any) -> None:
        """After the last epoch, also when a callback stopped training early."""

    def on_epoch_begin(self, trainer: Any, epoch: int) -> None:
        """At the start of each epoch (0-based)."""

    def on_epoch_end(self, trainer: Any, epoch: int, logs: Mapping[str, float]) -> None:
        """After each epoch, with its training (and validation) metrics."""

    def on_batch_begin(self, trainer: Any, step: int) -> None:
        """Before each training step."""

    def on_batch_end(self, trainer: Any, step: int, logs: Mapping[str, Any]) -> None:
        """After each training step."""

    def on_after_backward(self, trainer: Any) -> None:
        """Gradients are ready (before gradient transforms and the update)."""

    def on_before_optimizer_step(self, trainer: Any) -> None:
        """Just before the optimizer applies its transforms and update."""

    def on_validation_end(self, trainer: Any, logs: Mapping[str, float]) -> None:
        """After each validation pass."""

    def state_dict(self) -> dict[str, Any]:
        """State to save with a checkpoint (JSON-friendly values and arrays)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    def config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this callback."""
        return {}

    @classmethod
    def example(cls) -> Callback:
        """An instance for the conformance kit (default: every argument at its default)."""
        return cls()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Callback:
        return cls(**dict(config))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"
