r"""The update window: the micro-batches whose gradients add up to one optimizer update.

With ``accumulate_steps`` :math:`k`, :meth:`~neuroback.Trainer.train_step` scales each
micro-batch's loss gradient by :math:`1/k`, so when the window is full the gradients hold
the mean over its micro-batches,

.. math::

    g = \frac{1}{k} \sum_{i=1}^{k} g_i ,

and :func:`apply_update` runs the optimizer on them (under several processes, after
summing the ranks' gradients, each scaled by its share of the batch). A window ends in
one of three ways:

* its update (:func:`apply_update`), checked for a NaN or an infinity in the gradients,
  the losses of its micro-batches and the layer state its forwards changed; a skipped
  update also puts that layer state back as it was when the window began;
* its discard (:func:`discard_gradients`), when a step fails or ``fit`` starts with
  micro-batches a manual ``train_step`` left (:func:`discard_leftover_micro_batches`);
* at the end of an epoch, an update on the :math:`m < k` micro-batches there are
  (:func:`flush_partial_accumulation`), their gradients rescaled by :math:`k/m` to the
  mean over those :math:`m`: :math:`\frac{k}{m} \cdot \frac{1}{k} \sum_{i=1}^{m} g_i =
  \frac{1}{m} \sum_{i=1}^{m} g_i`.

The window's bookkeeping lives on the Trainer (``_micro``, ``_window_state``,
``_window_losses``), where :meth:`~neuroback.Trainer.train_step` and a checkpoint read it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..caller_warnings import warn_at_caller
from .distributed import sum_gradients

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = [
    "apply_update",
    "discard_gradients",
    "discard_leftover_micro_batches",
    "flush_partial_accumulation",
]


def apply_update(trainer: Trainer) -> None:
    """The window's update (or its skip), with Ctrl-C deferred; the window is then empty."""
    window = trainer._window_state
    # the window's losses, and the layer state its forwards changed (BatchNorm's
    # running variance can overflow while the loss and the gradients stay finite)
    also = [*trainer._window_losses, *(window.current() if window is not None else ())]
    if trainer.strategy.distributed:  # the global gradient, before any user transform
        also = sum_gradients(trainer, also)
    for cb in trainer.callbacks:
        cb.on_before_optimizer_step(trainer)
    with trainer._interrupts.updating():  # a Ctrl-C here lands after the update, not in it
        applied = trainer.optimizer.try_step(
            skip_nonfinite=trainer.skip_nonfinite, also_finite=also
        )
        if trainer._window_state is not None:  # a skipped update keeps the state too
            trainer._window_state.restore_unless(applied, trainer.backend)
        trainer._window_state = None
        trainer._window_losses = []
        trainer.optimizer.zero_grad()
        trainer._micro = 0
        trainer.global_step += 1


def discard_gradients(trainer: Trainer) -> None:
    """Forget the gradients of an unfinished step (and of its accumulation window)."""
    trainer.model.zero_grad()
    trainer._micro = 0
    trainer._window_state = None
    trainer._window_losses = []


def flush_partial_accumulation(trainer: Trainer) -> None:
    """Update with the micro-batches left at the end of an epoch, rescaled to a mean."""
    if trainer._micro == 0:
        return
    scale = trainer.accumulate_steps / trainer._micro
    try:
        for param in trainer.model.named_parameters().values():
            param.grad[...] *= scale
        apply_update(trainer)
    except BaseException:
        discard_gradients(trainer)
        raise


def discard_leftover_micro_batches(trainer: Trainer) -> None:
    """Discard, with a warning, the micro-batches a manual ``train_step`` left before
    ``fit`` (called from ``fit`` itself: the warning names the user's ``fit`` call)."""
    if trainer._micro:  # micro-batches left by a manual train_step
        warn_at_caller(
            f"Discarding the gradients of {trainer._micro} micro-batch(es) that never reached "
            f"an update (accumulate_steps={trainer.accumulate_steps}); fit() starts from "
            f"zero gradients.",
            UserWarning,
        )
        discard_gradients(trainer)
