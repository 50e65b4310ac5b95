"""The epoch loop of ``fit``: one epoch's batches, sums, validation and History row.

:meth:`~neuroback.Trainer.fit` plans the run, calls ``on_train_begin``, then runs
:func:`run_epoch` once per epoch until the epochs are done or every rank agrees to stop
(:func:`stop_agreed`), and ends with :func:`end_training`. An epoch
(:func:`train_epoch`) feeds each batch to :meth:`~neuroback.Trainer.train_step` between
the batch hooks, adds its loss and metrics to the epoch's sums and to the log window's
(both stay on the backend), reads the window on the host every ``log_every_n_steps``
batches, and at its end updates with a partial accumulation window and reads the
epoch's means. Non-finite losses and skipped updates are reported at those host reads
(:mod:`neuroback.training.nonfinite`), whose warnings name the user's ``fit`` call at
any call depth (:func:`~neuroback.caller_warnings.warn_at_caller`).

While an epoch runs, its sums and loader are kept on the Trainer (``_epoch_totals``,
``_log_totals``, ``_loader``) for a checkpoint taken inside it to record;
:func:`end_fit_context` clears them when ``fit`` ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..callback import Callback
from .checkpoint import ResumePoint
from .data import ArrayLoader, BatchIterable
from .distributed import any_rank
from .fit_plan import FitPlan
from .history import History
from .totals import Totals
from .update_window import flush_partial_accumulation

if TYPE_CHECKING:
    from ..backend import Array
    from .trainer import Trainer

__all__ = [
    "end_fit_context",
    "end_training",
    "report_nonfinite",
    "run_epoch",
    "stop_agreed",
    "train_epoch",
]


def stop_agreed(trainer: Trainer) -> bool:
    """``stop_training``, agreed by every rank (any rank's request stops them all)."""
    if trainer.strategy.distributed:
        trainer.stop_training = any_rank(trainer.strategy, trainer.stop_training)
    return trainer.stop_training


def end_fit_context(trainer: Trainer, outer_state: dict[str, Array] | None = None) -> None:
    """Forget what only a running ``fit`` holds: the model's state list (back to
    ``outer_state``, a :meth:`~neuroback.Trainer.loop` block's), the loader, the sums."""
    trainer._state = outer_state
    trainer._loader = None
    trainer._epoch_totals = trainer._log_totals = None


def run_epoch(
    trainer: Trainer, plan: FitPlan, history: History, resumed: ResumePoint | None
) -> None:
    """One epoch (or the rest of a resumed one); its row joins ``history`` before
    ``on_epoch_end``, so a checkpoint written there holds it."""
    epoch = trainer.epoch
    for cb in trainer.callbacks:
        cb.on_epoch_begin(trainer, epoch)
    logs = train_epoch(trainer, plan.train, resumed)
    if plan.validation is not None:
        val = trainer._evaluate_arrays(*plan.validation, batch_size=max(plan.batch_size, 256))
        val_logs = {f"val_{k}": v for k, v in val.items()}
        for cb in trainer.callbacks:
            cb.on_validation_end(trainer, val_logs)
        logs.update(val_logs)
    row = {"epoch": epoch, **logs}
    trainer.epoch += 1
    history.append(row)
    for cb in trainer.callbacks:
        cb.on_epoch_end(trainer, epoch, row)


def end_training(trainer: Trainer, started: list[Callback]) -> list[BaseException]:
    """Every started callback's ``on_train_end`` runs, even after one raised."""
    errors: list[BaseException] = []
    for cb in started:
        try:
            cb.on_train_end(trainer)
        except BaseException as exc:  # Ctrl-C too: the later callbacks still run
            errors.append(exc)
    return errors


def train_epoch(
    trainer: Trainer, data: ArrayLoader | BatchIterable, resumed: ResumePoint | None = None
) -> dict[str, float]:
    """The training batches of one epoch; returns the epoch's mean loss and metrics."""
    strategy = trainer.strategy
    distributed = strategy.distributed
    if resumed is not None and resumed.totals is not None:  # the rest of a resumed epoch
        totals, window = resumed.totals
    else:
        totals = Totals(trainer.backend, trainer.metrics, strategy)
        window = Totals(trainer.backend, {}, strategy)
    # what a checkpoint taken inside this epoch records (its sums so far, the position)
    trainer._epoch_totals, trainer._log_totals = totals, window
    trainer._loader = data if isinstance(data, ArrayLoader) else None
    batches = data.epoch() if isinstance(data, ArrayLoader) else trainer._intake().batches(data)
    for xb, yb in batches:
        step = trainer.batch_step  # this batch's index in the run, for both batch hooks
        for cb in trainer.callbacks:
            cb.on_batch_begin(trainer, step)
        value, pred = trainer.train_step(xb, yb)
        n = int(xb.shape[0])
        yl, nl = yb, n
        if distributed:  # this rank's part of the batch
            part = strategy.shard(n)
            yl, nl = yb[part], part.stop - part.start
        if pred is not None:
            totals.add(value, pred, yl, nl)
            window.add(value, pred, yl, nl)
        logs: dict[str, Any] = {"batch_size": n}
        if trainer.batch_step % trainer.log_every_n_steps == 0:
            window_means, skipped = window.means(also=trainer.optimizer.skipped_steps_raw)
            logs["loss"] = window_means["loss"]
            report_nonfinite(trainer, logs["loss"], skipped)
            window.clear()
        for cb in trainer.callbacks:
            cb.on_batch_end(trainer, step, logs)
        if stop_agreed(trainer) if distributed else trainer.stop_training:
            break
    trainer._epoch_totals = trainer._log_totals = None
    trainer._loader = None
    if totals.count == 0 and not strategy.distributed:
        raise ValueError("The training data yielded no batch in this epoch.")
    flush_partial_accumulation(trainer)
    means, skipped = totals.means(also=trainer.optimizer.skipped_steps_raw)
    report_nonfinite(trainer, means["loss"], skipped)
    return means


def report_nonfinite(trainer: Trainer, loss: float, skipped: int) -> None:
    """Hand a host read of the loss and of the skip count to the Trainer's reporter."""
    trainer._nonfinite.loss(loss, step=trainer.batch_step, guarded=trainer.skip_nonfinite)
    trainer._nonfinite.skips(skipped, step=trainer.global_step)
