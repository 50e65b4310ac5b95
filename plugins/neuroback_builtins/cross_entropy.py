r"""Cross-entropy losses computed from logits, stable for any input.

**SoftmaxCrossEntropy** for logits :math:`z \in \mathbb R^{m\times C}` (:math:`C \ge 2`)
and targets given as class indices :math:`c_i` or as probability rows :math:`t_i`
(one-hot rows, or soft labels such as label smoothing):

.. math::

    \log p_{ik} = z_{ik} - \max_j z_{ij} - \log \sum_j e^{z_{ij} - \max_j z_{ij}}, \qquad
    L = -\frac1m \sum_i \sum_k t_{ik} \log p_{ik}

Since :math:`\partial \log p_{ik} / \partial z_{ij} = \delta_{kj} - p_{ij}`,

.. math::

    \frac{\partial L}{\partial z_{ij}}
    = -\frac1m \sum_k t_{ik} (\delta_{kj} - p_{ij})
    = \frac{p_{ij} \sum_k t_{ik} - t_{ij}}{m}

which is the familiar :math:`(p - t)/m` only when every target row sums to 1.
``forward`` computes the general form (``p * t.sum(axis=1, keepdims=True) - t``), so
its gradient is exact for whatever rows it is given; ``check_targets`` (run by the
Trainer once, on the host, before the first update) requires probability rows:
entries :math:`\ge 0` and rows summing to 1 within :math:`10^{-3}`. Class indices
are the one-hot rows :math:`t_{ik} = [k = c_i]`, for which the gradient is
:math:`p` with 1 subtracted at the label. A model with one output is refused: the
softmax of a single logit is always 1 and the loss is constantly 0, so a yes/no
target belongs to **BinaryCrossEntropy**.

**Label smoothing** with :math:`\alpha \in [0, 1)` is a probability target,
:math:`t = (1-\alpha)\,\mathrm{onehot}(c) + \alpha / C`: build it and pass it as the
targets (``(1 - a) * np.eye(C)[y] + a / C``); it is PyTorch's
``cross_entropy(z, c, label_smoothing=a)``.

**BinaryCrossEntropy** for logits :math:`z` and targets :math:`y \in [0, 1]`
of the same shape, :math:`N` elements in all:

.. math::

    L = \frac1N \sum_j \big(\max(z_j, 0) - z_j y_j + \log(1 + e^{-|z_j|})\big), \qquad
    \frac{\partial L}{\partial z} = \frac{\sigma(z) - y}{N}

Targets outside :math:`[0, 1]` are refused by ``check_targets``: for :math:`y > 1` the
loss falls without bound as :math:`z \to \infty` (and for :math:`y < 0` as
:math:`z \to -\infty`).

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

#: How far a probability row's sum may be from 1 (float32 smoothing rows are within 1e-6).
ROW_SUM_TOLERANCE = 1e-3


def _check_logits(loss: Loss, pred: Array, target: Array) -> None:
    loss.backend.check_native(pred, f"{type(loss).__name__} (logits)")
    loss.backend.check_native(target, f"{type(loss).__name__} (target)")
    if pred.dtype.kind != "f":
        raise ShapeError(f"{type(loss).__name__} expects floating-point logits, got {pred.dtype}.")


def _host(loss: Loss, target: Any) -> np.ndarray:
    """The whole target array on the host (read once, before training)."""
    if loss.backend.is_native(target):
        return np.asarray(loss.backend.to_host(target))
    return np.asarray(target)


def _one_output_error(what: str) -> ShapeError:
    return ShapeError(
        f"SoftmaxCrossEntropy needs a model with at least 2 outputs, got {what} with 1 output: "
        "the softmax of a single logit is always 1, so the loss is constantly 0 and nothing "
        "is learned. For a yes/no target use BinaryCrossEntropy (one logit per sample, "
        "targets of shape (n, 1) in [0, 1]); for C classes make the last layer output C "
        "logits."
    )


def _first_row(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1))[0])


@final
class SoftmaxCrossEntropy(Loss):
    r"""Mean cross-entropy of softmax(logits) against integer labels or probability rows.

    With targets :math:`t` (one-hot rows for labels), :math:`L = -\frac1m\sum_{ik}
    t_{ik}\log p_{ik}` and :math:`\partial L/\partial z = (p \sum_k t_{ik} - t)/m`, which
    is :math:`(p - t)/m` for probability rows. Soft labels are probability rows; label
    smoothing is one:

    >>> import numpy as np, neuroback as nb
    >>> loss = nb.losses.SoftmaxCrossEntropy()
    >>> value, grad = loss.forward(np.array([[0.0, 0.0]]), np.array([1]))
    >>> round(float(value), 6), grad
    (0.693147, array([[ 0.5, -0.5]]))
    >>> a, labels = 0.1, np.array([1])
    >>> smoothed = (1 - a) * np.eye(2)[labels] + a / 2            # [[0.05, 0.95]]
    >>> loss.check_targets(smoothed, (1, 2))                        # probability rows: fine
    >>> loss.forward(np.array([[0.0, 0.0]]), smoothed)[1]
    array([[ 0.45, -0.45]])
    """

    @classmethod
    def example(cls) -> tuple[SoftmaxCrossEntropy, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(0)
        return cls(), 2 * rng.normal(size=(5, 4)), rng.integers(0, 4, size=5)

    def check_targets(self, target: Any, output_shape: tuple[int, ...]) -> None:
        """Check the whole target array once, on the host, before training.

        Labels of shape ``(n,)`` must be integers in ``[0, classes)``; rows of shape
        ``(n, classes)`` must be probabilities: finite, non-negative, each summing to 1
        within 1e-3. A model with a single output is refused (use BinaryCrossEntropy).
        """
        host = _host(self, target)
        classes = output_shape[-1]
        if classes == 1:
            raise _one_output_error(f"targets of shape {host.shape} for a model")
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
            return
        if host.ndim != 2 or host.shape[1] != classes:
            hint = (
                " Flatten integer labels with y.reshape(-1)."
                if host.ndim == 2 and host.shape[1] == 1 and host.dtype.kind in "iu"
                else ""
            )
            raise ShapeError(
                f"SoftmaxCrossEntropy expects labels of shape (n,) or one-hot targets of shape "
                f"(n, {classes}), got {host.shape}.{hint}"
            )
        if host.dtype.kind not in "biuf":
            raise ShapeError(
                f"SoftmaxCrossEntropy expects numeric probability rows, got dtype {host.dtype}. "
                "Pass one-hot or probability rows as float32 or float64."
            )
        if host.size == 0:
            return
        rows = host.astype(np.float64, copy=False)
        bad = ~np.isfinite(rows)
        if bad.any():
            i = _first_row(bad)
            raise ShapeError(
                f"SoftmaxCrossEntropy targets must be finite probabilities, got "
                f"{rows[i][bad[i]][0]} in row {i}. Fix or drop the rows holding NaN or inf."
            )
        if rows.min() < 0:
            i = _first_row(rows < 0)
            raise ShapeError(
                f"SoftmaxCrossEntropy targets must be probabilities (entries >= 0, each row "
                f"summing to 1), got a negative entry {rows[i].min():g} in row {i}: with "
                "negative targets the loss has no lower bound. Pass class labels of shape "
                f"(n,), one-hot rows, or soft labels such as label smoothing "
                f"(1 - a) * np.eye({classes})[y] + a / {classes}."
            )
        sums = rows.sum(axis=1)
        off = np.abs(sums - 1.0) > ROW_SUM_TOLERANCE
        if off.any():
            i = int(np.flatnonzero(off)[0])
            raise ShapeError(
                f"SoftmaxCrossEntropy target rows must be probabilities summing to 1 (within "
                f"{ROW_SUM_TOLERANCE:g}), got row {i} summing to {sums[i]:.6g} "
                f"({int(off.sum())} of {len(sums)} rows are off). Normalize them with "
                "y / y.sum(axis=1, keepdims=True), or pass class labels of shape (n,)."
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
        if classes == 1:  # a shape check: free on any backend
            raise _one_output_error(f"logits of shape {tuple(pred.shape)}")
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
            grad = xp.exp(log_p)  # p - onehot(c): the general form with rows summing to 1
            grad[rows, target] -= 1.0
        elif target.shape == pred.shape:
            # Any rows t: dL/dz = (p * sum_k t_k - t) / m, exact even where a row does not
            # sum to 1 (check_targets refuses such rows before training; forward stays exact).
            target = target.astype(pred.dtype, copy=False)
            value = -(target * log_p).sum() / m
            grad = xp.exp(log_p)
            grad *= target.sum(axis=1, keepdims=True)
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

    def check_targets(self, target: Any, output_shape: tuple[int, ...]) -> None:
        """Check the whole target array once, on the host, before training: numeric,
        finite, within ``[0, 1]`` and shaped like the model's output."""
        host = _host(self, target)
        if host.dtype.kind not in "biuf":
            raise ShapeError(
                f"BinaryCrossEntropy expects numeric targets in [0, 1], got dtype {host.dtype}. "
                "Pass 0/1 labels or probabilities as float32 or float64."
            )
        if tuple(host.shape[1:]) != tuple(output_shape[1:]):
            raise ShapeError(
                f"BinaryCrossEntropy needs targets shaped like the model's output, "
                f"(n, {', '.join(map(str, output_shape[1:]))}), got {host.shape}."
                + (
                    " Reshape the targets with y.reshape(-1, 1)."
                    if host.ndim == 1 and tuple(output_shape[1:]) == (1,)
                    else ""
                )
            )
        if host.size == 0:
            return
        values = host.astype(np.float64, copy=False)
        if not np.isfinite(values).all():
            bad = values[~np.isfinite(values)][0]
            raise ShapeError(
                f"BinaryCrossEntropy targets must be finite numbers in [0, 1], got {bad}. Fix "
                "or drop the samples holding NaN or inf."
            )
        low, high = float(values.min()), float(values.max())
        if low < 0 or high > 1:
            raise ShapeError(
                f"BinaryCrossEntropy targets must be in [0, 1] (the probability of the positive "
                f"class), got targets from {low:g} to {high:g}: outside [0, 1] the loss has no "
                "lower bound. Map the labels to 0/1 (e.g. y == positive_label), rescale "
                "probabilities to [0, 1], or use SoftmaxCrossEntropy for class indices."
            )

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
