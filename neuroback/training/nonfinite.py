"""Reporting non-finite training: the loss that went NaN, the updates that were skipped.

The guard itself is the optimizer's (:meth:`~neuroback.Optimizer.try_step`); this module
only tells the user, at the host reads the Trainer makes anyway (each log and each
epoch's end), so reporting never adds a device sync to a step. A diverged run gives at
most three warnings per ``fit``: the first non-finite loss, the first skipped update, and
the total of skipped updates at the end.
"""

from __future__ import annotations

import math

from ..caller_warnings import warn_at_caller

__all__ = ["NonFiniteLossWarning", "NonFiniteReporter", "NonFiniteUpdateWarning"]


class NonFiniteLossWarning(UserWarning):
    """The training loss became NaN or infinite (add TerminateOnNaN to stop or raise)."""


class NonFiniteUpdateWarning(UserWarning):
    """Updates were skipped because their loss or gradients were NaN or infinite."""


class NonFiniteReporter:
    """Warns about a non-finite loss once per Trainer, and about skipped updates per ``fit``.

    The skip count it is given is the optimizer's running total (read on the host at a
    log); a count lower than the last one seen means the optimizer was bound again.
    Every warning names the user's line (the ``fit`` call): :func:`warn_at_caller`.
    """

    def __init__(self) -> None:
        self._warned_loss = False
        self._seen = 0  # skipped updates at the last host read
        self._at_fit_start = 0
        self._warned_skip = False
        self._warned_skip_at = 0

    def begin_fit(self) -> None:
        """A new ``fit``: its skips are counted from here and warned about afresh."""
        self._at_fit_start, self._warned_skip = self._seen, False

    def loss(self, value: float, *, step: int, guarded: bool) -> None:
        """Warn the first time the logged training loss is NaN or infinite."""
        if math.isfinite(value) or self._warned_loss:
            return
        self._warned_loss = True
        note = " Updates with a non-finite loss or gradients are skipped." if guarded else ""
        warn_at_caller(
            f"The training loss is {value} at step {step}. Lower the learning rate, clip "
            "gradients (ClipByGlobalNorm), check the data, or add the TerminateOnNaN callback "
            f"to stop the run.{note}",
            NonFiniteLossWarning,
        )

    def skips(self, skipped: int, *, step: int) -> None:
        """Warn at the first skipped update of a ``fit`` (``skipped``: the running total)."""
        if skipped < self._seen:  # the optimizer was bound again: a new count
            self._seen = self._at_fit_start = 0
        if skipped > self._seen and not self._warned_skip:
            self._warned_skip = True
            warn_at_caller(
                f"{skipped - self._at_fit_start} update(s) skipped by step {step} because their "
                f"loss or gradients were NaN or infinite; the weights were left as they were. "
                f"Check the data and the learning rate, or clip gradients "
                f"(trainer.skipped_updates counts them).",
                NonFiniteUpdateWarning,
            )
            self._warned_skip_at = skipped
        self._seen = max(self._seen, skipped)

    def end_fit(self) -> None:
        """At the end of a ``fit`` that skipped more than its first warning said: the total."""
        if self._warned_skip and self._seen > self._warned_skip_at:
            warn_at_caller(
                f"In all, {self._seen - self._at_fit_start} update(s) of this fit were skipped "
                f"because their loss or gradients were NaN or infinite.",
                NonFiniteUpdateWarning,
            )
