r"""Metrics: ``metric(pred, target) -> 0-d array``, computed on the backend.

========================  =========================================================
``accuracy``              fraction of correct predictions: the arg-max class for
                          several outputs (targets as labels or one-hot rows), or
                          ``pred > 0.5`` for a single output of probabilities
``accuracy_from_logits``  the same for logits: arg-max, or ``pred > 0`` for a single
                          output (use it with ``BinaryCrossEntropy``)
``mse``                   :math:`\frac1N \sum_j (\hat y_j - y_j)^2`
``mae``                   :math:`\frac1N \sum_j |\hat y_j - y_j|`
========================  =========================================================

The Trainer weights each batch's value by its size and reads the sum on the
host once per epoch, so metrics cost no per-batch transfer.
"""

from __future__ import annotations

from typing import Any

from neuroback.backend import Array, array_namespace
from neuroback.errors import ShapeError

__all__ = ["accuracy", "accuracy_from_logits", "mae", "mse"]


def accuracy(pred: Array, target: Array) -> Array:
    """Fraction of samples whose predicted class is the target class.

    A single output is read as a probability (threshold 0.5); for logits use
    :func:`accuracy_from_logits`.

    >>> import numpy as np
    >>> from neuroback_builtins.metrics import accuracy
    >>> float(accuracy(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 1])))
    0.5
    """
    return _accuracy(pred, target, threshold=0.5)


def accuracy_from_logits(pred: Array, target: Array) -> Array:
    """:func:`accuracy` for logits: a single output counts as class 1 when it is above 0.

    >>> import numpy as np
    >>> from neuroback_builtins.metrics import accuracy_from_logits
    >>> float(accuracy_from_logits(np.array([[-0.3], [0.2]]), np.array([[0.0], [1.0]])))
    1.0
    """
    return _accuracy(pred, target, threshold=0.0)


def _accuracy(pred: Array, target: Array, *, threshold: float) -> Array:
    xp = array_namespace(pred)
    if pred.ndim == 2 and pred.shape[1] > 1:
        predicted = pred.argmax(axis=1)
        labels = target if target.ndim == 1 else target.argmax(axis=1)
    else:
        predicted = pred.reshape(-1) > threshold
        labels = target.reshape(-1) > 0.5
    if predicted.shape != labels.shape:
        raise ShapeError(
            f"accuracy: {tuple(pred.shape)} predictions do not match {tuple(target.shape)} targets."
        )
    return xp.asarray((predicted == labels).mean())


def _paired(pred: Array, target: Array, name: str) -> Any:
    if pred.shape != target.shape:
        raise ShapeError(
            f"{name}: predictions {tuple(pred.shape)} and targets {tuple(target.shape)} differ."
        )
    return pred - target.astype(pred.dtype, copy=False)


def mse(pred: Array, target: Array) -> Array:
    """Mean squared error (the metric; the loss is ``neuroback.losses.MSE``)."""
    diff = _paired(pred, target, "mse")
    return array_namespace(pred).asarray((diff * diff).mean())


def mae(pred: Array, target: Array) -> Array:
    """Mean absolute error."""
    xp = array_namespace(pred)
    return xp.asarray(xp.abs(_paired(pred, target, "mae")).mean())
