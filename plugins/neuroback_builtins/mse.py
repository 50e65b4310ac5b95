r"""Mean squared error.

For a prediction :math:`\hat y` and target :math:`y` with :math:`N` elements
in all (batch times outputs):

.. math::

    L = \frac1N \sum_{j} (\hat y_j - y_j)^2, \qquad
    \frac{\partial L}{\partial \hat y} = \frac{2}{N} (\hat y - y)

This is the seed tutorial's ``np.mean((a2 - y)**2)``. Note the factor
:math:`2/N`: the tutorial's ``dz2 = a2 - y`` is *not* this gradient (it is the
gradient of cross-entropy through a sigmoid output).
"""

from __future__ import annotations

from typing import Any, final

import numpy as np

from neuroback import Array, Loss
from neuroback.errors import ShapeError

__all__ = ["MSE"]


@final
class MSE(Loss):
    """Mean squared error over all elements.

    >>> import numpy as np, neuroback as nb
    >>> value, grad = nb.losses.MSE().forward(np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]]))
    >>> float(value), grad
    (2.5, array([[1., 2.]]))
    """

    @classmethod
    def example(cls) -> tuple[MSE, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(0)
        return cls(), rng.normal(size=(4, 3)), rng.normal(size=(4, 3))

    def forward(self, pred: Array, target: Array) -> tuple[Array, Array]:
        backend = self._backend
        array_type = backend.array_type
        if type(pred) is not array_type or type(target) is not array_type:
            backend.check_native(pred, "MSE (prediction)")
            backend.check_native(target, "MSE (target)")
        if pred.shape != target.shape:
            raise ShapeError(
                f"MSE needs prediction and target of the same shape, got {tuple(pred.shape)} and "
                f"{tuple(target.shape)}. "
                + (
                    "Reshape the target with y.reshape(-1, 1)."
                    if target.ndim == 1 and pred.ndim == 2 and pred.shape[1] == 1
                    else "Check the model's output size against the targets."
                )
            )
        if target.dtype != pred.dtype:
            target = target.astype(pred.dtype)
        diff = pred - target
        xp = backend.xp
        value = xp.asarray(_sum_of_squares(xp, diff) / diff.size)
        diff *= 2.0 / diff.size
        return value, diff


#: Up to this many elements the sum of squares is one dot product: a small model's step
#: saves a temporary and a pass. Above it, NumPy's pairwise sum, whose rounding error grows
#: with the log of the size, not the size (10**7 float32 values: a relative error of 3e-8
#: pairwise, 9e-5 through a BLAS dot).
DOT_MAX = 1 << 14


def _sum_of_squares(xp: Any, diff: Array) -> Array:
    r""":math:`\sum_j d_j^2`, as a 0-d array or scalar of ``diff``'s dtype."""
    if diff.size <= DOT_MAX:
        if type(diff) is np.ndarray:  # vdot flattens in C: the same BLAS dot, no reshape
            return np.vdot(diff, diff)
        flat = diff.reshape(-1)  # a view where diff is C-ordered (pred - target is, usually)
        return xp.dot(flat, flat)
    return (diff * diff).sum()
