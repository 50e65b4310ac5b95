"""The Trainer: fit, evaluate and predict, with callbacks and metrics.

One training step (:meth:`Trainer.train_step`) is the whole of the hot path::

    pred, backward = model.forward(xb, train=True, rng=trainer_rng)
    loss, dpred    = loss_fn.forward(pred, yb)
    backward(dpred, input_grad=False)    # Parameter.grad filled (no dL/dx needed)
    callbacks.on_after_backward()        # gradients are readable here
    callbacks.on_before_optimizer_step()
    optimizer.step()                     # transforms, then the update rule
    optimizer.zero_grad()

Values stay on the backend: the loss and metrics are summed there and read on
the host only every ``log_every_n_steps`` steps and at the end of each epoch.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np

from .. import checks
from ..backend import Array, Backend, BackendLike, configured_backend, get_backend
from ..callback import Callback
from ..config import build
from ..layer import Layer
from ..loss import Loss
from ..optimizer import Optimizer
from .data import ArrayLoader, BatchIterable
from .history import History
from .inputs import (
    Metric,
    check_callbacks,
    check_iterable,
    check_metrics,
    dry_run,
    length,
    positive_int,
    prepare_arrays,
    resolve_metric,
    split_off_validation,
)

__all__ = ["NonFiniteLossWarning", "StepResult", "Trainer"]


class NonFiniteLossWarning(UserWarning):
    """The training loss became NaN or infinite (add TerminateOnNaN to stop or raise)."""


class StepResult(NamedTuple):
    """What :meth:`Trainer.train_step` returns: both stay on the backend."""

    loss: Array
    prediction: Array


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
    callbacks:
        :class:`~neuroback.Callback` instances, called in order.
    metrics:
        Metric names from the registry (``"accuracy"``) or callables
        ``metric(pred, target) -> 0-d array``; reported per epoch.
    backend:
        Where to train. Default: the ``use_backend`` context or ``NEUROBACK_BACKEND``
        if set, else where the model already lives. The model is moved there
        before the optimizer is bound.
    seed:
        Seeds the data order and the generator handed to ``forward`` (dropout).
        With :func:`neuroback.seed` for the initial weights, the same seeds, data
        and code give bitwise identical results on the CPU.
    log_every_n_steps:
        How often the running loss is read on the host (and shown, and checked
        for NaN). Epoch results are always exact.
    accumulate_steps:
        Micro-batches per optimizer update; the loss is scaled by ``1/k`` so k
        micro-batches of size b update like one batch of size k*b (BatchNorm
        aside: its statistics are per micro-batch).
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
    ) -> None:
        if isinstance(model, type):
            raise TypeError(
                f"Trainer needs a model instance; got the class {model.__name__}. Build it first, "
                f"e.g. nb.Sequential(nb.layers.Dense(4, 2))."
            )
        if not isinstance(model, Layer):
            raise TypeError(f"Trainer needs a neuroback Layer as its model, got {type(model)}.")
        self.model = model
        self.loss: Loss = loss if isinstance(loss, Loss) else build("losses", loss)
        self.optimizer: Optimizer = (
            optimizer if isinstance(optimizer, Optimizer) else build("optimizers", optimizer)
        )
        self.callbacks: list[Callback] = check_callbacks(callbacks)
        self.metrics: dict[str, Metric] = dict(resolve_metric(m) for m in check_metrics(metrics))
        self.log_every_n_steps = positive_int(log_every_n_steps, "log_every_n_steps")
        self.accumulate_steps = positive_int(accumulate_steps, "accumulate_steps")
        self.seed = None if seed is None else checks.non_negative_int(seed, "seed")

        target = (
            get_backend(backend) if backend is not None else configured_backend() or model.backend
        )
        self.backend: Backend = target
        model.to(target)  # move first, then bind: optimizer state lives with the parameters
        self.loss.to(target)
        self._bind_optimizer(model, target)

        data_seed, forward_seed = np.random.SeedSequence(seed).spawn(2)
        self.data_rng = np.random.default_rng(data_seed)
        self.forward_rng = target.generator(int(forward_seed.generate_state(1)[0]))

        #: Optimizer updates applied (what schedules count).
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
        #: The most recent training batch (on the backend), for diagnostics callbacks.
        self.last_batch: tuple[Array, Array] | None = None
        self._micro = 0
        self._warned_nonfinite = False

    def _bind_optimizer(self, model: Layer, target: Backend) -> None:
        """Bind after the move; an optimizer already holding state for these parameters
        keeps it (its slots are carried over to the new backend)."""
        opt = self.optimizer
        same_params = opt.bound and list(opt.params.values()) == list(
            model.named_parameters().values()
        )
        if same_params and opt.backend is target:
            return
        carried = opt.state_dict() if same_params and opt.step_count > 0 else None
        opt.bind(model)
        if carried is not None:
            opt.load_state_dict(carried)

    # -- the hot path -------------------------------------------------------------------
    def train_step(self, xb: Array, yb: Array) -> StepResult:
        """One micro-batch: forward, loss, backward, and (every ``accumulate_steps``) an update.

        ``xb`` and ``yb`` must already be on the Trainer's backend, in the model's dtype
        (``fit`` prepares them). Calls ``on_after_backward`` and, with each update,
        ``on_before_optimizer_step``; the per-batch hooks belong to ``fit``.
        """
        self.last_batch = (xb, yb)
        pred, backward = self.model.forward(xb, train=True, rng=self.forward_rng)
        value, dpred = self.loss.forward(pred, yb)
        k = self.accumulate_steps
        if k > 1:
            dpred = dpred * (1.0 / k)  # a new array: the loss's buffer is left alone
        backward(dpred, input_grad=False)  # nobody reads the data's gradient
        self.batch_step += 1
        for cb in self.callbacks:
            cb.on_after_backward(self)
        self._micro += 1
        if self._micro == k:
            self._apply_update()
        return StepResult(value, pred)

    def _apply_update(self) -> None:
        for cb in self.callbacks:
            cb.on_before_optimizer_step(self)
        self.optimizer.step()
        self.optimizer.zero_grad()
        self._micro = 0
        self.global_step += 1

    def _flush_partial_accumulation(self) -> None:
        """Update with the micro-batches left at the end of an epoch, rescaled to a mean."""
        if self._micro == 0:
            return
        scale = self.accumulate_steps / self._micro
        for param in self.model.named_parameters().values():
            param.grad[...] *= scale
        self._apply_update()

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
    ) -> History:
        """Train for ``epochs`` epochs and return their :class:`History`.

        ``x, y`` are arrays (host or backend), or ``x`` is a batch iterable
        (``for xb, yb in x``) and ``y`` is None. ``validation_split`` holds out
        the *last* fraction of the arrays (before shuffling). ``drop_last`` skips
        a final batch smaller than ``batch_size``.
        """
        epochs = positive_int(epochs, "epochs")
        batch_size = positive_int(batch_size, "batch_size")
        if not isinstance(drop_last, bool):
            raise TypeError(f"drop_last must be True or False, got {drop_last!r}.")
        if validation_split is not None and validation_data is not None:
            raise ValueError("Pass validation_data or validation_split, not both.")
        train_data: ArrayLoader | BatchIterable
        if y is None:
            if hasattr(x, "shape"):
                raise ValueError(
                    "fit() got inputs x but no targets y. Pass fit(x, y, ...), or a batch "
                    "iterable yielding (x_batch, y_batch) pairs as x."
                )
            train_data = check_iterable(x)
            if validation_split is not None:
                raise ValueError(
                    "validation_split needs in-memory arrays; pass validation_data for a "
                    "batch iterable."
                )
        else:
            xa, ya = self._prepare(x, y, "training data")
            if validation_split is not None:
                xa, ya, validation_data = split_off_validation(xa, ya, validation_split)
            if drop_last and int(xa.shape[0]) < batch_size:
                raise ValueError(
                    f"With drop_last=True and batch_size={batch_size}, the {int(xa.shape[0])} "
                    f"training samples make no full batch. Lower batch_size or pass "
                    f"drop_last=False."
                )
            dry_run(
                self.model,
                self.loss,
                xa,
                ya,
                batch_size=batch_size,
                drop_last=drop_last,
                rng=self.backend.generator(0),
            )
            train_data = ArrayLoader(
                xa,
                ya,
                batch_size=batch_size,
                shuffle=shuffle,
                backend=self.backend,
                rng=self.data_rng,
                drop_last=drop_last,
            )
        val_arrays = None
        if validation_data is not None:
            if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
                raise ValueError("validation_data must be a pair (x_val, y_val).")
            val_arrays = self._prepare(*validation_data, "validation data")
            dry_run(
                self.model,
                self.loss,
                *val_arrays,
                batch_size=1,
                drop_last=True,
                rng=self.backend.generator(0),
                what="validation data",
            )

        history = History()
        self.history = history
        #: The epoch index at which this ``fit`` call will end (for progress displays).
        self.epochs_total = self.epoch + epochs
        #: Batches per epoch, or None for a batch iterable without ``len()``.
        self.batches_per_epoch = length(train_data)
        self.stop_training = False
        if self._micro:  # micro-batches left by a manual train_step or an interrupted fit
            warnings.warn(
                f"Discarding the gradients of {self._micro} micro-batch(es) that never reached "
                f"an update (accumulate_steps={self.accumulate_steps}); fit() starts from "
                f"zero gradients.",
                UserWarning,
                stacklevel=2,
            )
            self.optimizer.zero_grad()
            self._micro = 0
        started: list[Callback] = []
        try:
            for cb in self.callbacks:
                cb.on_train_begin(self)
                started.append(cb)
            for _ in range(epochs):
                epoch = self.epoch
                for cb in self.callbacks:
                    cb.on_epoch_begin(self, epoch)
                logs = self._train_epoch(train_data)
                if val_arrays is not None:
                    val_logs = self._evaluate_arrays(*val_arrays, batch_size=max(batch_size, 256))
                    val_logs = {f"val_{k}": v for k, v in val_logs.items()}
                    for cb in self.callbacks:
                        cb.on_validation_end(self, val_logs)
                    logs.update(val_logs)
                row = {"epoch": epoch, **logs}
                history.append(row)
                self.epoch += 1
                for cb in self.callbacks:
                    cb.on_epoch_end(self, epoch, row)
                if self.stop_training:
                    break
        finally:
            for cb in started:  # only callbacks whose training began get its end
                cb.on_train_end(self)
        return history

    def _train_epoch(self, data: ArrayLoader | BatchIterable) -> dict[str, float]:
        xp = self.backend.xp
        loss_sum = xp.zeros(())
        metric_sums = {name: xp.zeros(()) for name in self.metrics}
        window_sum = xp.zeros(())
        window_count = 0
        seen = 0
        batches = data.epoch() if isinstance(data, ArrayLoader) else self._iterate(data)
        for xb, yb in batches:
            step = self.batch_step  # this batch's index in the run, for both batch hooks
            for cb in self.callbacks:
                cb.on_batch_begin(self, step)
            value, pred = self.train_step(xb, yb)
            n = int(xb.shape[0])
            seen += n
            loss_sum = loss_sum + value * n
            window_sum = window_sum + value * n
            window_count += n
            for name, metric in self.metrics.items():
                metric_sums[name] = metric_sums[name] + metric(pred, yb) * n
            logs: dict[str, Any] = {"batch_size": n}
            if self.batch_step % self.log_every_n_steps == 0:
                logs["loss"] = self._read_loss(window_sum, window_count)
                window_sum, window_count = xp.zeros(()), 0
            for cb in self.callbacks:
                cb.on_batch_end(self, step, logs)
            if self.stop_training:
                break
        if seen == 0:
            raise ValueError("The training data yielded no batch in this epoch.")
        self._flush_partial_accumulation()
        out = {"loss": self._read_loss(loss_sum, seen)}
        for name, total in metric_sums.items():
            out[name] = float(self.backend.to_host(total)) / seen
        return out

    def _read_loss(self, total: Array, count: int) -> float:
        value = float(self.backend.to_host(total)) / max(count, 1)
        if not math.isfinite(value) and not self._warned_nonfinite:
            self._warned_nonfinite = True
            warnings.warn(
                f"The training loss is {value} at step {self.batch_step}. Lower the learning "
                "rate, clip gradients (ClipByGlobalNorm), check the data, or add the "
                "TerminateOnNaN callback to stop the run.",
                NonFiniteLossWarning,
                stacklevel=4,
            )
        return value

    def _iterate(self, data: BatchIterable) -> Iterable[tuple[Array, Array]]:
        output_shape: tuple[int, ...] | None = None
        for item in data:
            if not isinstance(item, tuple | list) or len(item) != 2:
                raise ValueError(
                    f"A batch iterable must yield (x_batch, y_batch) pairs, got {type(item)}."
                )
            xb, yb = self._prepare(item[0], item[1], "a batch", check_finite=False)
            if not self.backend.is_native(item[1]) or self.backend.xp is np:
                # Host labels are checked batch by batch for free (device labels are not:
                # that would read them back every step).
                if output_shape is None:
                    output_shape = tuple(self.model(xb[:1]).shape)
                self.loss.check_targets(np.asarray(item[1]), output_shape)
            yield xb, yb

    # -- evaluate and predict ---------------------------------------------------------------
    def evaluate(self, x: Any, y: Any, *, batch_size: int = 256) -> dict[str, float]:
        """Loss and metrics over ``x, y`` in inference mode (no gradient, no state change)."""
        batch_size = positive_int(batch_size, "batch_size")
        xa, ya = self._prepare(x, y, "evaluation data")
        dry_run(
            self.model,
            self.loss,
            xa,
            ya,
            batch_size=1,
            drop_last=True,
            rng=self.backend.generator(0),
            what="evaluation data",
        )
        return self._evaluate_arrays(xa, ya, batch_size=batch_size)

    def _evaluate_arrays(self, x: Array, y: Array, *, batch_size: int) -> dict[str, float]:
        xp = self.backend.xp
        loss_sum = xp.zeros(())
        sums = {name: xp.zeros(()) for name in self.metrics}
        n_total = int(x.shape[0])
        for start in range(0, n_total, batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            pred = self.model(xb)
            value, _ = self.loss.forward(pred, yb)
            n = int(xb.shape[0])
            loss_sum = loss_sum + value * n
            for name, metric in self.metrics.items():
                sums[name] = sums[name] + metric(pred, yb) * n
        out = {"loss": float(self.backend.to_host(loss_sum)) / n_total}
        for name, total in sums.items():
            out[name] = float(self.backend.to_host(total)) / n_total
        return out

    def predict(self, x: Any, *, batch_size: int = 256) -> np.ndarray:
        """Model outputs for ``x`` in inference mode, as a host NumPy array."""
        batch_size = positive_int(batch_size, "batch_size")
        xa, _ = self._prepare(x, None, "prediction input")
        outs = [
            self.backend.to_host(self.model(xa[start : start + batch_size]))
            for start in range(0, int(xa.shape[0]), batch_size)
        ]
        return np.concatenate(outs, axis=0)

    # -- data checks ---------------------------------------------------------------------
    def _prepare(
        self, x: Any, y: Any, what: str, *, check_finite: bool = True
    ) -> tuple[Array, Array | None]:
        return prepare_arrays(self.backend, self.dtype, x, y, what, check_finite=check_finite)

    @property
    def dtype(self) -> np.dtype[Any]:
        """The model's floating dtype (of its first parameter; float32 without parameters)."""
        for param in self.model.named_parameters().values():
            return np.dtype(param.dtype)
        return np.dtype(np.float32)
