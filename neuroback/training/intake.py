"""Data intake: the one place where user data becomes checked arrays on the Trainer's backend.

Data flows one way. :class:`DataIntake` takes what the user passed (host or
backend arrays, or a batch iterable), and in a single pass per array

1. reads it as an array (rejecting objects, strings, scalars and empty data),
2. checks floating data for NaN and infinity (on the host for host data; one
   device reduction for device data),
3. casts floating data to the model's dtype and moves it to the backend, once,
4. checks the targets with the loss's own :meth:`~neuroback.Loss.check_targets`
   (the only label check the Trainer makes) against the model's output shape,
   found by one inference call on the first samples.

Everything here runs before the first update of a ``fit`` (or once per batch of
a batch iterable), never inside the per-step hot path, so it may read values on
the host.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, cast

import numpy as np

from ..backend import Array, Backend
from ..errors import NeurobackError, ShapeError
from ..layer import Layer
from ..loss import Loss

__all__ = ["DataIntake"]

#: What each purpose says when the data holds no sample.
_EMPTY = {
    "train": "there is nothing to train on",
    "evaluate": "there is nothing to evaluate",
    "predict": "there is nothing to predict",
}


#: How a message about each purpose begins.
_BEFORE = {
    "train": "Before training",
    "evaluate": "Before evaluating",
    "predict": "Before predicting",
}


class DataIntake:
    """Turns user data into checked arrays on ``backend`` in the model's ``dtype``.

    One instance serves one ``fit``/``evaluate``/``predict`` call: it remembers the
    model's output shape after the first probe, so a batch iterable is probed once.
    """

    def __init__(self, model: Layer, loss: Loss, backend: Backend, dtype: np.dtype[Any]) -> None:
        self.model = model
        self.loss = loss
        self.backend = backend
        self.dtype = dtype
        self._output_shape: tuple[int, ...] | None = None
        #: (the array probed, the model's output on its first samples): the output-shape
        #: probe's, which the loss probe reuses for the same array (one model call, not two)
        self._probe: tuple[Array, Array] | None = None
        self._probed_loss = False

    # -- arrays ------------------------------------------------------------------------
    def arrays(
        self,
        x: Any,
        y: Any,
        what: str,
        *,
        purpose: str = "train",
        check_finite: bool = True,
    ) -> tuple[Array, Array | None]:
        """``x`` (and ``y``) checked, cast and on the backend; targets checked by the loss."""
        xa = self._array(x, f"{what} x", check_finite)
        if xa.ndim == 0:
            raise ShapeError(f"The {what} x is a scalar; expected a batch of samples.")
        n = int(xa.shape[0])
        if n == 0:
            raise ValueError(f"The {what} is empty (0 samples); {_EMPTY[purpose]}.")
        if y is None:
            return xa, None
        ya = self._array(y, f"{what} y", check_finite)
        if ya.ndim == 0 or int(ya.shape[0]) != n:
            got = "a scalar" if ya.ndim == 0 else f"{int(ya.shape[0])} targets"
            raise ShapeError(
                f"The {what} has {n} samples in x but {got} in y; x and y must have the same "
                f"length along the first axis."
            )
        self.check_targets(xa, y, ya, what, purpose)
        return xa, ya

    def _array(self, data: Any, what: str, check_finite: bool) -> Array:
        backend = self.backend
        native = backend.is_native(data)
        if native:
            array = data
        else:
            try:
                array = np.asarray(data)
            except Exception as exc:
                raise TypeError(f"The {what} cannot be read as an array: {exc}") from exc
            if array.dtype == object:
                raise TypeError(f"The {what} holds Python objects; expected numbers.")
        kind = array.dtype.kind
        if kind not in "fbiu":
            raise TypeError(f"The {what} has dtype {array.dtype}; expected numbers.")
        if kind == "f":
            if check_finite:
                self._check_finite(array, native, what)
            array = array.astype(self.dtype, copy=False)
        return array if backend.is_native(array) else backend.asarray(array)

    def _check_finite(self, array: Any, native: bool, what: str) -> None:
        backend = self.backend
        if native:
            finite = bool(backend.to_host(backend.xp.isfinite(array).all()))
        else:
            finite = bool(np.isfinite(array).all())
        if finite:
            return
        host = backend.to_host(array) if native else array
        bad = ~np.isfinite(host)
        rows = np.unique(np.nonzero(bad)[0])
        raise ValueError(
            f"The {what} contains {int(bad.sum())} NaN or infinite values (first in sample "
            f"{int(rows[0])}). Clean or impute them before training."
        )

    # -- the model and the targets --------------------------------------------------------
    def output_shape(self, xa: Array, what: str, purpose: str = "train") -> tuple[int, ...]:
        """The model's output shape for a batch (found once, on the first two samples)."""
        if self._output_shape is None:
            probe = xa[: min(2, int(xa.shape[0]))]
            try:
                pred = self.model(probe)
            except NeurobackError as exc:
                raise type(exc)(
                    f"{_BEFORE[purpose]}, the model rejected the {what}: {exc}"
                ) from exc
            self._output_shape = tuple(pred.shape)
            self._probe = (xa, pred)
        return self._output_shape

    def check_targets(
        self, xa: Array, y: Any, ya: Array, what: str, purpose: str = "train"
    ) -> None:
        """The loss checks the whole target array on the host (the only label check), and
        the first time, the loss runs once on a probe batch.

        Device targets of a batch iterable are checked on its first batch only: reading
        each batch back to the host would stall the device every step.
        """
        shape = self.output_shape(xa, what, purpose)
        on_device = self.backend.is_native(y) and self.backend.xp is not np
        if on_device and self._probed_loss:
            return
        host = self.backend.to_host(ya) if self.backend.is_native(y) else np.asarray(y)
        seen, self._probe = self._probe, None  # not kept past this check, passed or not
        try:
            self.loss.check_targets(host, shape)
            if not self._probed_loss:
                probe = min(2, int(xa.shape[0]))
                pred = seen[1] if seen is not None and seen[0] is xa else self.model(xa[:probe])
                self.loss.forward(pred, ya[:probe])
                self._probed_loss = True
        except NeurobackError as exc:
            raise type(exc)(
                f"{_BEFORE[purpose]}: the model's output (shape {shape} for {shape[0]} samples) "
                f"does not fit the {what} targets for {self.loss!r}: {exc}"
            ) from exc

    # -- batch iterables ---------------------------------------------------------------
    def batches(self, data: Iterable[Any]) -> Iterator[tuple[Array, Array]]:
        """Each ``(x, y)`` pair of a batch iterable, through the same intake as arrays."""
        for item in data:
            if not isinstance(item, tuple | list) or len(item) != 2:
                raise ValueError(
                    f"A batch iterable must yield (x_batch, y_batch) pairs, got "
                    f"{type(item).__name__}."
                )
            xb, yb = self.arrays(item[0], item[1], "batch", check_finite=False)
            yield xb, cast(Array, yb)  # arrays() returns targets when given targets


def split_off_validation(
    x: Array, y: Array | None, fraction: Any
) -> tuple[Array, Array | None, tuple[Array, Array | None]]:
    """Hold out the *last* ``fraction`` of the samples (before any shuffling)."""
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
        raise ValueError(f"validation_split must be a fraction in (0, 1), got {fraction!r}.")
    n = int(x.shape[0])
    n_val = round(n * fraction)
    if n_val < 1 or n_val >= n:
        raise ValueError(
            f"validation_split={fraction} leaves {n - n_val} training and {n_val} validation "
            f"samples out of {n}; choose a fraction that keeps both non-empty."
        )
    cut = n - n_val
    y_train = None if y is None else y[:cut]
    return x[:cut], y_train, (x[cut:], None if y is None else y[cut:])
