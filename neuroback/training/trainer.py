"""The Trainer: fit, evaluate and predict, with callbacks and metrics.

One training step (:meth:`Trainer.train_step`) is the whole of the hot path::

    pred, backward = model.forward(xb, train=True, rng=trainer_rng)
    loss, dpred    = loss_fn.forward(pred, yb)
    backward(dpred, input_grad=False)    # Parameter.grad filled (no dL/dx needed)
    callbacks.on_after_backward()        # gradients are readable here
    callbacks.on_before_optimizer_step()
    optimizer.step()                     # non-finite guard, transforms, update rule
    optimizer.zero_grad()

A step is all or nothing: if anything in it raises (a layer, a callback, Ctrl-C),
its gradients are discarded and the layer state its forward changed is restored;
the update itself runs with Ctrl-C deferred. An update whose loss or gradients are NaN
or infinite (any micro-batch of its window) is skipped (``skip_nonfinite``) with the
layer state of its window, counted, and reported at the next log.

Values stay on the backend: the loss and metrics are summed there and read on
the host only every ``log_every_n_steps`` steps and at the end of each epoch.

Gradient accumulation's bookkeeping is in :mod:`neuroback.training.update_window`, the
epoch loop of ``fit`` in :mod:`neuroback.training.epoch_loop`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .. import checks
from ..backend import Array, Backend, BackendLike, configured_backend, get_backend, use_backend
from ..blas_warmup import warm_blas
from ..callback import Callback
from ..config import build
from ..deprecation import warn_deprecated
from ..errors import BackendMismatchError
from ..layer import Layer, run_backward
from ..loss import Loss
from ..optimizer import Optimizer
from ..strategy import Strategy
from .atomic import InterruptGuard, StateSnapshot
from .checkpoint import ResumePoint, restore_checkpoint, save_checkpoint
from .components import (
    Metric,
    bind_optimizer,
    build_strategy,
    check_callbacks,
    check_metrics,
    check_optimizer_owner,
    resolve_metric,
)
from .data import ArrayLoader
from .distributed import check_global_batch, forward_seed_for_rank, start_from_main
from .epoch_loop import end_fit_context, end_training, run_epoch, stop_agreed
from .fit_plan import plan_fit
from .history import History
from .inference import evaluate_arrays, predict_arrays
from .intake import DataIntake
from .nonfinite import NonFiniteLossWarning, NonFiniteReporter, NonFiniteUpdateWarning
from .totals import Totals
from .update_window import apply_update, discard_gradients, discard_leftover_micro_batches

__all__ = ["NonFiniteLossWarning", "NonFiniteUpdateWarning", "StepResult", "Trainer"]


class StepResult(NamedTuple):
    """What :meth:`Trainer.train_step` returns: both stay on the backend.

    Under a strategy with several processes they are this rank's: the mean loss over its
    share of the batch, and its predictions (``None`` when its share is empty)."""

    loss: Array
    prediction: Array | None


class _Loop:
    """:meth:`Trainer.loop`: a class, not a generator (a generator-based context that is
    dropped un-exited would be closed at once, ending the block early)."""

    __slots__ = ("_installed", "_owner", "_trainer")

    def __init__(self, trainer: Trainer) -> None:
        self._trainer = trainer
        self._installed = trainer._interrupts.installed()
        self._owner = False

    def __enter__(self) -> None:
        trainer = self._trainer
        self._installed.__enter__()
        if trainer._state is None:  # not inside fit or another loop
            try:
                trainer._state = trainer.model.named_state()
            except BaseException:
                self._installed.__exit__(None, None, None)
                raise
            self._owner = True

    def __exit__(self, *exc: object) -> None:
        if self._owner:
            self._owner = False
            self._trainer._state = None
        self._installed.__exit__(None, None, None)


class Trainer:
    """Train ``model`` on ``loss`` with ``optimizer``.

    Parameters
    ----------
    model:
        Any :class:`~neuroback.Layer` (usually a :class:`~neuroback.Sequential`).
    loss:
        A :class:`~neuroback.Loss`, or a registry name or spec (``"MSE"``).
    optimizer:
        An :class:`~neuroback.Optimizer`, or a registry name or spec
        (``{"type": "Adam", "config": {"lr": 0.001}}``); bound here, after the move.
        An optimizer already bound to *another* model is refused: give each model
        its own optimizer.
    callbacks:
        :class:`~neuroback.Callback` instances, called in order.
    metrics:
        Metric names from the registry (``"accuracy"``) or callables
        ``metric(pred, target) -> 0-d array``; reported per epoch.
    backend:
        Where to train. Default: the ``use_backend`` context or ``NEUROBACK_BACKEND``
        if set, else where the model already lives. An explicit ``backend=`` wins over
        both (the environment is then not read at all). The model is moved there
        before the optimizer is bound. On the NumPy backend the first Trainer of a
        process also runs :func:`neuroback.warm_blas` (one 768 x 768 product, about
        50 ms: up to 2.4x faster single-threaded products for the rest of the process;
        ``NEUROBACK_WARM_BLAS=0`` turns it off).
    seed:
        Seeds the data order and the generator handed to ``forward`` (dropout).
        With :func:`neuroback.seed` for the initial weights, the same seeds, data
        and code give bitwise identical results on the CPU.
    log_every_n_steps:
        How often the running loss (and the count of skipped updates) is read on the
        host, shown, and checked for NaN. Epoch results are always exact.
    accumulate_steps:
        Micro-batches per optimizer update; the loss is scaled by ``1/k`` so k
        micro-batches of size b update like one batch of size k*b (BatchNorm
        aside: its statistics are per micro-batch).
    skip_nonfinite:
        Skip an update whose loss or gradients are NaN or infinite (default ``True``): the
        weights, optimizer slots and transform state stay as they were, the step still
        counts, and the skips are counted (:attr:`skipped_updates`) and reported with a
        :class:`NonFiniteUpdateWarning`. ``False`` applies every update.
    strategy:
        How training is spread over processes: a :class:`~neuroback.Strategy`, or a
        registry name or spec (``"mpi"``). Default: one process. Under several
        processes, batches are global (each rank trains on its share) and results do
        not depend on the number of processes (see :doc:`/distributed`).
    """

    def __init__(
        self,
        model: Layer,
        loss: Loss | str | Mapping[str, Any],
        optimizer: Optimizer | str | Mapping[str, Any],
        *,
        callbacks: Iterable[Callback] = (),
        metrics: Iterable[str | Metric] = (),
        backend: BackendLike = None,
        seed: int | None = None,
        log_every_n_steps: int = 50,
        accumulate_steps: int = 1,
        skip_nonfinite: bool = True,
        strategy: Strategy | str | Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(model, type):
            raise TypeError(
                f"Trainer needs a model instance; got the class {model.__name__}. Build it first, "
                f"e.g. nb.Sequential(nb.layers.Dense(4, 2))."
            )
        if not isinstance(model, Layer):
            raise TypeError(f"Trainer needs a neuroback Layer as its model, got {type(model)}.")
        if not isinstance(skip_nonfinite, bool):
            raise TypeError(f"skip_nonfinite must be True or False, got {skip_nonfinite!r}.")
        # The backend first: an explicit argument is final, and components built by name
        # below are built on it (the environment is not consulted when backend= is given).
        target = (
            get_backend(backend) if backend is not None else configured_backend() or model.backend
        )
        with use_backend(target):
            self.loss: Loss = loss if isinstance(loss, Loss) else build("losses", loss)
            self.optimizer: Optimizer = (
                optimizer if isinstance(optimizer, Optimizer) else build("optimizers", optimizer)
            )
        self.model = model
        #: How the work is spread over processes (see :mod:`neuroback.strategy`).
        self.strategy: Strategy = build_strategy(strategy)
        # output callbacks (progress, logs, plots) run on the main process only; every rank
        # keeps the whole list for checkpoints (written by rank 0, read by all)
        self._all_callbacks: list[Callback] = check_callbacks(callbacks)
        self.callbacks: list[Callback] = [
            cb for cb in self._all_callbacks if self.strategy.is_main or not cb.main_process_only
        ]
        self.metrics: dict[str, Metric] = dict(resolve_metric(m) for m in check_metrics(metrics))
        self.log_every_n_steps = checks.positive_int(log_every_n_steps, "log_every_n_steps")
        self.accumulate_steps = checks.positive_int(accumulate_steps, "accumulate_steps")
        self.seed = None if seed is None else checks.non_negative_int(seed, "seed")
        self.skip_nonfinite = skip_nonfinite

        self.backend: Backend = target
        check_optimizer_owner(self.optimizer, model)
        model.to(target)  # move first, then bind: optimizer state lives with the parameters
        self.loss.to(target)
        bind_optimizer(self.optimizer, model, target)
        if target.name == "numpy":
            warm_blas()  # once per process: NumPy's BLAS buffer mapped before the first step

        data_seed, forward_seed = np.random.SeedSequence(seed).spawn(2)
        forward_seed = forward_seed_for_rank(forward_seed, self.strategy.rank)
        self.data_rng = np.random.default_rng(data_seed)
        self.forward_rng = target.generator(int(forward_seed.generate_state(1)[0]))
        if self.strategy.distributed:  # every rank starts from rank 0's weights and order
            start_from_main(self)

        #: Optimizer updates applied or skipped (what schedules count).
        self.global_step = 0
        #: Micro-batches processed (equals global_step without accumulation).
        self.batch_step = 0
        #: Epochs completed over every ``fit`` call.
        self.epoch = 0
        #: Set it to True (from a callback) to end ``fit`` cleanly after the current batch.
        self.stop_training = False
        self.history = History()
        self.epochs_total = 0
        self.batches_per_epoch: int | None = None
        #: The keys each epoch's logs will have in the current ``fit`` (callbacks that
        #: monitor a value check it in ``on_train_begin``, before the first update).
        self.log_keys: tuple[str, ...] = ()
        #: The most recent training batch (on the backend), for diagnostics callbacks.
        self.last_batch: tuple[Array, Array] | None = None
        self._micro = 0
        self._window_state: StateSnapshot | None = None
        self._interrupts = InterruptGuard()
        #: The model's state arrays, listed once per ``fit`` or :meth:`loop` (else None).
        self._state: dict[str, Array] | None = None
        self._window_losses: list[Array] = []  # the losses of this update's micro-batches
        # inside an epoch of fit: its sums so far and its loader (what a checkpoint records)
        self._epoch_totals: Totals | None = None
        self._log_totals: Totals | None = None
        self._loader: ArrayLoader | None = None
        self._nonfinite = NonFiniteReporter()

    # -- the hot path -------------------------------------------------------------------
    def train_step(self, xb: Array, yb: Array) -> StepResult:
        """One micro-batch: forward, loss, backward, and (every ``accumulate_steps``) an update.

        ``xb`` and ``yb`` must already be on the Trainer's backend, in the model's dtype
        (:meth:`prepare` does that; ``fit`` prepares them). Calls ``on_after_backward``
        and, with each update, ``on_before_optimizer_step``; the per-batch hooks belong to
        ``fit``. If anything raises, the step leaves no trace (see the module docstring).
        """
        if self.optimizer.bound_model is not self.model:
            raise ValueError(
                f"This Trainer's {type(self.optimizer).__name__} was bound to another model "
                f"since the Trainer was built (optimizer.bind(...)), so this Trainer's model "
                f"would never be updated. Give each model its own optimizer, or build a new "
                f"Trainer for the model the optimizer is bound to now."
            )
        share = 1.0  # this rank's part of the global batch, n_r / N
        if self.strategy.distributed:
            n_global = int(xb.shape[0])
            part = self.strategy.shard(n_global)
            xb, yb = xb[part], yb[part]
            share = (part.stop - part.start) / max(n_global, 1)
        self.last_batch = (xb, yb)
        if self._micro == 0:  # the layer state as at the start of this update's window
            state = self._state if self._state is not None else self.model.named_state()
            self._window_state = StateSnapshot(state) if state else None
        snapshot = self._window_state
        updates_before = self.global_step
        pred: Array | None = None
        try:
            k = self.accumulate_steps
            if xb.shape[0]:
                pred, backward = self.model.forward(xb, train=True, rng=self.forward_rng)
                value, dpred = self.loss.forward(pred, yb)
                if k > 1 or share != 1.0:  # a new array: the loss's buffer is left alone
                    dpred = dpred * (share / k)
                # nobody reads the data's gradient
                run_backward(backward, dpred, input_grad=False, owner=self.model)
                # the closures hold every layer's activations: let them go before the
                # update, whose temporaries would otherwise add to the step's memory peak
                del backward, dpred
            else:  # this rank's share of a last, small batch is empty: it adds nothing
                value = self.backend.xp.zeros((), dtype=self.dtype)
                for param in self.model.named_parameters().values():
                    param.grad  # noqa: B018  (a lazily zero gradient is made real for the sum)
            self._window_losses.append(value)
            for cb in self.callbacks:
                cb.on_after_backward(self)
            if self._micro + 1 == k:
                apply_update(self)
            else:
                self._micro += 1
        except BaseException:
            if self.global_step > updates_before:  # interrupted after its update: complete
                self.batch_step += 1
                raise
            if snapshot is not None:
                snapshot.restore()
            discard_gradients(self)
            raise
        self.batch_step += 1
        return StepResult(value, pred)

    def loop(self) -> contextlib.AbstractContextManager[None]:
        """What ``fit`` does once around its epochs, for a manual loop of :meth:`train_step`.

        Inside the block the Ctrl-C deferral is installed once (not at each update, tens
        of microseconds), and the model's layer state (:meth:`Layer.named_state`, what a
        failed or skipped step restores) is listed once (not at each step, about ten
        microseconds for a three-layer model)::

            with trainer.loop():
                for xb, yb in batches:
                    trainer.train_step(xb, yb)

        As inside ``fit``, the model's structure must stay as it is within the block (no
        layer or state array added, replaced or moved); leave the block to change it. A
        loop of ``train_step`` without the block is correct, only slower. Blocks nest
        (an inner one does nothing), and ``fit`` may run inside one.
        """
        return _Loop(self)

    def interrupt_guard(self) -> contextlib.AbstractContextManager[None]:
        """Deprecated: use :meth:`loop`, which does this and also lists the layer state once.

        Removed in neuroback 0.3; until then it is :meth:`loop` with a deprecation warning.
        """
        warn_deprecated("Trainer.interrupt_guard()", "Trainer.loop()", removed_in="0.3")
        return _Loop(self)

    def save_checkpoint(self, path: str | os.PathLike[str]) -> Path:
        """Write everything needed to resume this run exactly to one file, atomically.

        The model, the optimizer state (its transforms' included), the generators (data
        order, dropout), the counters, the position inside the current epoch (with its
        shuffle order and its loss and metric sums so far), the gradients of an unfinished
        accumulation window, every callback's ``state_dict()``, and the History. Call it
        from a callback (``on_batch_end``, ``on_epoch_end``: see ``ModelCheckpoint``) or
        between ``fit`` calls; resume with ``fit(..., resume_from=path)``. The file at
        ``path`` is replaced only once the new one is complete. Returns the path.

        Under several processes, call it on every rank (``ModelCheckpoint`` does): the
        ranks' dropout generators and their parts of the epoch sums are gathered, and rank
        0 writes the file. It resumes on any number of ranks.
        """
        return save_checkpoint(self, path)

    @property
    def pending_micro_batches(self) -> int:
        """Micro-batches whose gradients wait for their update (0 right after an update)."""
        return self._micro

    @property
    def skipped_updates(self) -> int:
        """Updates skipped so far because their loss or gradients were NaN or infinite (a
        host read)."""
        return self.optimizer.skipped_steps

    # -- fit ---------------------------------------------------------------------------------
    def fit(
        self,
        x: Any,
        y: Any = None,
        *,
        epochs: int,
        batch_size: int = 32,
        shuffle: bool = True,
        validation_data: tuple[Any, Any] | None = None,
        validation_split: float | None = None,
        drop_last: bool = False,
        resume_from: str | os.PathLike[str] | None = None,
    ) -> History:
        """Train for ``epochs`` epochs and return their :class:`History`.

        ``x, y`` are arrays (host or backend), or ``x`` is a batch iterable
        (``for xb, yb in x``, re-iterable when ``epochs > 1``) and ``y`` is None.
        ``validation_split`` holds out the *last* fraction of the arrays (before
        shuffling). ``drop_last`` skips a final batch smaller than ``batch_size``.
        Everything that can be checked is checked before the first update.

        ``resume_from`` names a checkpoint (:meth:`save_checkpoint`, ``ModelCheckpoint``)
        to continue from, exactly where it was taken; ``epochs`` then counts the epochs
        *in total*, those before the checkpoint included, and the History returned holds
        them all. Pass the same data and arguments as the interrupted run.
        """
        epochs = checks.positive_int(epochs, "epochs")
        plan = plan_fit(
            self,
            self._intake(),
            x,
            y,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=shuffle,
            validation_data=validation_data,
            validation_split=validation_split,
            drop_last=drop_last,
        )
        check_global_batch(self.strategy, batch_size, plan.train)
        discard_leftover_micro_batches(self)
        resumed: ResumePoint | None = None
        if resume_from is not None:
            resumed = restore_checkpoint(self, resume_from, plan.train)
            history = self.history
            # a run that had been asked to stop (EarlyStopping) stays stopped
            to_run = 0 if resumed.stopped else max(epochs - self.epoch, 0)
            self.epochs_total = self.epoch + to_run
        else:
            self.history = history = History()
            to_run = epochs
            #: The epoch index at which this ``fit`` call will end (for progress displays).
            self.epochs_total = self.epoch + epochs
        #: Batches per epoch, or None for a batch iterable without ``len()``.
        self.batches_per_epoch = _length(plan.train)
        self.log_keys = plan.log_keys
        self.stop_training = False
        self._nonfinite.begin_fit()
        started: list[Callback] = []
        # a loop() block around this fit listed the layer state: it is put back afterwards
        outer_state = self._state
        try:
            with self._interrupts.installed():
                try:
                    for cb in self.callbacks:
                        cb.on_train_begin(self)
                        started.append(cb)
                except BaseException:
                    if resumed is not None and resumed.undo is not None:
                        resumed.undo()  # a callback refused its restored state: nothing ran
                    raise
                self._state = self.model.named_state()
                for _ in range(to_run):
                    run_epoch(self, plan, history, resumed)
                    resumed = None
                    if stop_agreed(self):
                        break
        except BaseException as exc:
            end_fit_context(self, outer_state)
            for error in end_training(self, started):
                exc.add_note(f"on_train_end also raised: {type(error).__name__}: {error}")
            raise
        end_fit_context(self, outer_state)
        errors = end_training(self, started)
        self._nonfinite.end_fit()
        if errors:
            for error in errors[1:]:
                errors[0].add_note(f"on_train_end also raised: {type(error).__name__}: {error}")
            raise errors[0]
        return history

    # -- evaluate and predict ---------------------------------------------------------------
    def evaluate(self, x: Any, y: Any, *, batch_size: int = 256) -> dict[str, float]:
        """Loss and metrics over ``x, y`` in inference mode (no gradient, no state change)."""
        batch_size = checks.positive_int(batch_size, "batch_size")
        xa, ya = self._intake().arrays(x, y, "evaluation data", purpose="evaluate")
        if ya is None:
            raise ValueError("evaluate() needs targets y; use predict(x) for outputs alone.")
        return self._evaluate_arrays(xa, ya, batch_size=batch_size)

    def _evaluate_arrays(self, x: Array, y: Array, *, batch_size: int) -> dict[str, float]:
        return evaluate_arrays(self, x, y, batch_size=batch_size)

    def predict(self, x: Any, *, batch_size: int = 256) -> np.ndarray:
        """Model outputs for ``x`` in inference mode, as a host NumPy array."""
        batch_size = checks.positive_int(batch_size, "batch_size")
        xa, _ = self._intake().arrays(x, None, "prediction input", purpose="predict")
        return predict_arrays(self, xa, batch_size=batch_size)

    # -- data ----------------------------------------------------------------------------
    def prepare(self, x: Any, y: Any = None) -> tuple[Array, Array | None]:
        """``x`` and ``y`` as ``fit`` takes them in: checked (the targets by the loss), cast
        to the model's dtype and moved to the Trainer's backend, ready for
        :meth:`train_step`."""
        return self._intake().arrays(x, y, "data")

    def _intake(self) -> DataIntake:
        """The data path of ``fit``, ``evaluate``, ``predict`` and :meth:`prepare`, after
        checking that the model is still where this Trainer put it."""
        moved_to = self.model.backend
        if moved_to is not self.backend:
            raise BackendMismatchError(
                f"The model was moved to the {moved_to.name!r} backend after this Trainer was "
                f"built on {self.backend.name!r} (model.to(...) behind the Trainer's back), so "
                f"its data and its optimizer's state are on another backend than its weights. "
                f"Move it back with model.to({self.backend.name!r}), or build a new Trainer "
                f"with backend={moved_to.name!r} (the optimizer's state is carried over)."
            )
        return DataIntake(self.model, self.loss, self.backend, self.dtype)

    @property
    def dtype(self) -> np.dtype[Any]:
        """The model's floating dtype (of its first parameter; float32 without parameters)."""
        for param in self.model.named_parameters().values():
            return np.dtype(param.dtype)
        return np.dtype(np.float32)


def _length(data: Any) -> int | None:
    try:
        return len(data)
    except TypeError:
        return None
