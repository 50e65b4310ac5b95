"""Planning a ``fit``: every check that can be made before the first update, made once.

:func:`plan_fit` turns ``fit``'s arguments into a :class:`FitPlan`: the training batches
(an :class:`~neuroback.training.ArrayLoader` over checked arrays, or the user's batch
iterable), the validation arrays, and the keys each epoch will log. It refuses, before
any weight changes, what would otherwise fail part-way through an epoch: a one-shot
iterator asked for several epochs, a last batch of one sample that the model cannot
train on (BatchNorm), targets the loss rejects, and so on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from .. import checks
from ..backend import Array
from ..errors import ShapeError
from .atomic import StateSnapshot
from .data import ArrayLoader, BatchIterable
from .intake import DataIntake, split_off_validation

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["FitPlan", "plan_fit"]


@dataclass(frozen=True)
class FitPlan:
    """Everything ``fit`` checked before the first update: the batches and what is logged."""

    train: ArrayLoader | BatchIterable
    validation: tuple[Array, Array] | None
    batch_size: int
    log_keys: tuple[str, ...]


def plan_fit(
    trainer: Trainer,
    intake: DataIntake,
    x: Any,
    y: Any,
    *,
    epochs: int,
    batch_size: int,
    shuffle: bool,
    validation_data: Any,
    validation_split: float | None,
    drop_last: bool,
) -> FitPlan:
    """Check and prepare everything ``trainer.fit`` needs, before the first update."""
    batch_size = checks.positive_int(batch_size, "batch_size")
    for name, flag in (("shuffle", shuffle), ("drop_last", drop_last)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}.")
    if validation_split is not None and validation_data is not None:
        raise ValueError("Pass validation_data or validation_split, not both.")
    train: ArrayLoader | BatchIterable
    validation: tuple[Array, Array] | None = None
    if y is None:
        train = _check_iterable(x, epochs=epochs, validation_split=validation_split)
        _check_listed_batches(trainer, intake, train)
    else:
        xa, ya_given = intake.arrays(x, y, "training data")
        ya = cast(Array, ya_given)  # targets were given, so targets come back
        if validation_split is not None:  # already checked with the rest: not again
            xa, ya_split, (xv, yv) = split_off_validation(xa, ya, validation_split)
            ya, validation = cast(Array, ya_split), (xv, cast(Array, yv))
        n = int(xa.shape[0])
        if drop_last and n < batch_size:
            raise ValueError(
                f"With drop_last=True and batch_size={batch_size}, the {n} training samples "
                f"make no full batch. Lower batch_size or pass drop_last=False."
            )
        if not drop_last and n % batch_size == 1 and n > 1:
            _check_single_sample_batch(
                trainer,
                xa[:1],
                f"With {n} samples and batch_size={batch_size} the last batch holds 1 sample",
                "Pass fit(..., drop_last=True) or choose another batch_size.",
            )
        train = ArrayLoader(
            xa,
            ya,
            batch_size=batch_size,
            shuffle=shuffle,
            backend=trainer.backend,
            rng=trainer.data_rng,
            drop_last=drop_last,
        )
    if validation_data is not None:
        if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (x_val, y_val).")
        xv, yv = intake.arrays(*validation_data, "validation data")
        validation = (xv, cast(Array, yv))
    keys = ("loss", *trainer.metrics)
    if validation is not None:
        keys = (*keys, *(f"val_{k}" for k in keys))
    return FitPlan(train, validation, batch_size, keys)


def _check_iterable(data: Any, *, epochs: int, validation_split: float | None) -> BatchIterable:
    if hasattr(data, "shape"):
        raise ValueError(
            "fit() got inputs x but no targets y. Pass fit(x, y, ...), or a batch "
            "iterable yielding (x_batch, y_batch) pairs as x."
        )
    if not isinstance(data, BatchIterable):
        raise TypeError(
            f"fit() takes arrays x and y, or a batch iterable yielding (x, y) pairs; got "
            f"{type(data).__name__} with y=None."
        )
    if validation_split is not None:
        raise ValueError(
            "validation_split needs in-memory arrays; pass validation_data for a batch iterable."
        )
    if epochs > 1 and isinstance(data, Iterator):
        raise TypeError(
            f"fit(epochs={epochs}) got a one-shot iterator ({type(data).__name__}), which "
            f"would be exhausted after the first epoch. Pass something that can be "
            f"iterated again (a list of batches, or an object whose __iter__ starts over), "
            f"or call fit(..., epochs=1) once per pass."
        )
    return data


def _check_listed_batches(trainer: Trainer, intake: DataIntake, data: BatchIterable) -> None:
    """Batches held in a list or tuple can be looked at before training: the first one of a
    single sample is tried now, so a model that cannot train on it (BatchNorm) fails here."""
    if not isinstance(data, Sequence):
        return
    for index, item in enumerate(data):
        xb = item[0] if isinstance(item, tuple | list) and len(item) == 2 else None
        shape = getattr(xb, "shape", None)
        if shape is not None and len(shape) > 0 and int(shape[0]) == 1:
            x1, _ = intake.arrays(xb, None, "batch", check_finite=False)
            _check_single_sample_batch(
                trainer,
                x1,
                f"Batch {index} of the {len(data)} batches holds 1 sample",
                "Drop that batch or merge it into another.",
            )
            return


def _check_single_sample_batch(trainer: Trainer, x1: Array, where: str, fix: str) -> None:
    """Some layers (BatchNorm) cannot train on one sample; find out now, not mid-epoch."""
    model = trainer.model
    snapshot = StateSnapshot.of(model)
    try:
        model.forward(x1, train=True, rng=trainer.backend.generator(0))
    except ShapeError as exc:
        raise ShapeError(f"{where}, which the model cannot train on: {exc} {fix}") from exc
    finally:
        snapshot.restore()
