r"""Cross-entropy losses computed from logits, stable for any input.

**SoftmaxCrossEntropy** for logits :math:`z \in \mathbb R^{m\times C}` and
targets as class indices :math:`c_i` or probability rows :math:`t_i` (one-hot):

.. math::

    \log p_{ik} = z_{ik} - \max_j z_{ij} - \log \sum_j e^{z_{ij} - \max_j z_{ij}}, \qquad
    L = -\frac1m \sum_i \sum_k t_{ik} \log p_{ik}, \qquad
    \frac{\partial L}{\partial z} = \frac{p - t}{m}

**BinaryCrossEntropy** for logits :math:`z` and targets :math:`y \in [0, 1]`
of the same shape, :math:`N` elements in all:

.. math::

    L = \frac1N \sum_j \big(\max(z_j, 0) - z_j y_j + \log(1 + e^{-|z_j|})\big), \qquad
    \frac{\partial L}{\partial z} = \frac{\sigma(z) - y}{N}

The gradient :math:`\sigma(z) - y` (up to the mean) is the seed tutorial's
``dz2 = a2 - y``: that shortcut is the gradient of cross-entropy through a
sigmoid output, not of the mean squared error it was written for.
"""

from __future__ import annotations

from typing import Any, final

import numpy as np

from neuroback import Array, Loss
from neuroback.errors import ShapeError

__all__ = ["BinaryCrossEntropy", "SoftmaxCrossEntropy"]


def _check_logits(loss: Loss, pred: Array, target: Array) -> None:
    loss.backend.check_native(pred, f"{type(loss).__name__} (logits)")
    loss.backend.check_native(target, f"{type(loss).__name__} (target)")
    if pred.dtype.kind != "f":
        raise ShapeError(f"{type(loss).__name__} expects floating-point logits, got {pred.dtype}.")


@final
class SoftmaxCrossEntropy(Loss):
    """Mean cross-entropy of softmax(logits) against integer labels or one-hot rows.

    >>> import numpy as np, neuroback as nb
    >>> loss = nb.losses.SoftmaxCrossEntropy()
    >>> value, grad = loss.forward(np.array([[0.0, 0.0]]), np.array([1]))
    >>> round(float(value), 6), grad
    (0.693147, array([[ 0.5, -0.5]]))
    """

    @classmethod
    def example(cls) -> tuple[SoftmaxCrossEntropy, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(0)
        return cls(), 2 * rng.normal(size=(5, 4)), rng.integers(0, 4, size=5)

    def check_targets(self, target: Any, output_shape: tuple[int, ...]) -> None:
        """Labels must be integers in ``[0, classes)``; one-hot rows must match the output."""
        host = (
            np.asarray(self.backend.to_host(target))
            if self.backend.is_native(target)
            else (np.asarray(target))
        )
        classes = output_shape[-1]
        if host.ndim == 1:
            if host.dtype.kind not in "iu":
                raise ShapeError(
                    f"SoftmaxCrossEntropy expects integer class labels, got dtype {host.dtype}. "
                    "Cast them with y.astype('int64') (or pass one-hot rows)."
                )
            if host.size and (host.min() < 0 or host.max() >= classes):
                raise ShapeError(
                    f"SoftmaxCrossEntropy labels must be in [0, {classes}) for a model with "
                    f"{classes} outputs, got labels from {host.min()} to {host.max()}. "
                    + (
                        "Labels are class indices counted from 0; remap the negative ones."
                        if host.min() < 0
                        else f"Make the last layer output {int(host.max()) + 1} classes, or fix "
                        f"the labels."
                    )
                )
        elif host.ndim != 2 or host.shape[1] != classes:
            raise ShapeError(
                f"SoftmaxCrossEntropy expects labels of shape (n,) or one-hot targets of shape "
                f"(n, {classes}), got {host.shape}."
            )

    def forward(self, pred: Array, target: Array) -> tuple[Array, Array]:
        _check_logits(self, pred, target)
        xp = self.backend.xp
        if pred.ndim != 2:
            raise ShapeError(
                f"SoftmaxCrossEntropy expects logits of shape (batch, classes), got "
                f"{tuple(pred.shape)}."
            )
        m, classes = pred.shape
        shifted = pred - pred.max(axis=1, keepdims=True)
        log_norm = xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        log_p = shifted - log_norm
        if target.ndim == 1:
            if target.shape[0] != m:
                raise ShapeError(
                    f"SoftmaxCrossEntropy got {m} rows of logits but {target.shape[0]} labels."
                )
            if target.dtype.kind not in "iu":
                raise ShapeError(
                    f"SoftmaxCrossEntropy expects integer class labels (or one-hot rows), got "
                    f"labels of dtype {target.dtype}. Cast them with y.astype('int64')."
                )
            if isinstance(target, np.ndarray):
                # Host labels are checked here for free. Device labels are not: reading
                # them would stall the GPU every step. The Trainer checks labels with
                # check_targets() before fit and evaluate, and per batch for host batches
                # of a batch iterable; a manual loop on a GPU should call it once itself.
                low, high = int(target.min()), int(target.max())
                if low < 0 or high >= classes:
                    raise ShapeError(
                        f"SoftmaxCrossEntropy labels must be in [0, {classes}) for {classes} "
                        f"classes, got labels from {low} to {high}. Check the model's output size."
                    )
            rows = xp.arange(m)
            value = -log_p[rows, target].mean()
            grad = xp.exp(log_p)
            grad[rows, target] -= 1.0
        elif target.shape == pred.shape:
            target = target.astype(pred.dtype, copy=False)
            value = -(target * log_p).sum() / m
            grad = xp.exp(log_p)
            grad -= target
        else:
            raise ShapeError(
                f"SoftmaxCrossEntropy expects labels of shape ({m},) or one-hot targets of shape "
                f"{tuple(pred.shape)}, got {tuple(target.shape)}."
            )
        grad /= m
        return xp.asarray(value), grad


@final
class BinaryCrossEntropy(Loss):
    """Mean binary cross-entropy of sigmoid(logits) against targets in [0, 1].

    >>> import numpy as np, neuroback as nb
    >>> loss = nb.losses.BinaryCrossEntropy()
    >>> value, grad = loss.forward(np.array([[0.0], [1000.0]]), np.array([[1.0], [1.0]]))
    >>> round(float(value), 6), grad.ravel().tolist()
    (0.346574, [-0.25, 0.0])
    """

    @classmethod
    def example(cls) -> tuple[BinaryCrossEntropy, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(0)
        return cls(), 2 * rng.normal(size=(6, 2)), rng.uniform(size=(6, 2))

    def forward(self, pred: Array, target: Array) -> tuple[Array, Array]:
        _check_logits(self, pred, target)
        xp = self.backend.xp
        if pred.shape != target.shape:
            raise ShapeError(
                f"BinaryCrossEntropy needs logits and targets of the same shape, got "
                f"{tuple(pred.shape)} and {tuple(target.shape)}."
                + (" Reshape the targets with y.reshape(-1, 1)." if target.ndim == 1 else "")
            )
        target = target.astype(pred.dtype, copy=False)
        e = xp.exp(-xp.abs(pred))  # in (0, 1]: never overflows
        value = (xp.maximum(pred, 0) - pred * target + xp.log1p(e)).mean()
        sigmoid = xp.where(pred >= 0, 1.0, e) / (1.0 + e)
        grad = sigmoid - target
        grad /= np.prod(pred.shape, dtype=np.int64).item()
        return xp.asarray(value), grad
