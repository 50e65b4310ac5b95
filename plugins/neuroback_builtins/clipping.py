r"""Gradient clipping transforms: by global norm and by value.

Global-norm clipping rescales all gradients together when their joint norm is
too large, keeping their direction:

.. math::

    \|g\| = \sqrt{\textstyle\sum_p \sum_i g_{p,i}^2}, \qquad
    c = \min\!\left(1,\ \frac{\text{max\_norm}}{\|g\| + 10^{-6}}\right), \qquad
    g_p \leftarrow c\, g_p

exactly as ``torch.nn.utils.clip_grad_norm_`` and the seed tutorial's
``clip_gradients`` compute it. The factor is applied unconditionally (it is 1
when no clipping is needed), so Python never branches on a device value and
the GPU never waits for a host read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, final

from neuroback import Array, Backend, GradientTransform, checks

__all__ = ["ClipByGlobalNorm", "ClipByGlobalNormState", "ClipByValue"]


class ClipByGlobalNormState(NamedTuple):
    """The norm measured at the last update, before clipping (a 0-d backend array)."""

    global_norm: Any


@final
class ClipByGlobalNorm(GradientTransform):
    """Scale all gradients by ``min(1, max_norm / (norm + eps))``.

    The measured norm is kept in the state (``optimizer.transform_state``) as a
    0-d array on the backend: read it with ``float(...)`` at logging time only.

    >>> import numpy as np, neuroback as nb
    >>> clip = nb.transforms.ClipByGlobalNorm(1.0)
    >>> numpy = nb.get_backend("numpy")
    >>> state = clip.init({}, backend=numpy)
    >>> grads, state = clip.update({"w": np.array([3.0, 4.0])}, state, {}, backend=numpy)
    >>> grads["w"].round(6), float(state.global_norm)
    (array([0.6, 0.8]), 5.0)
    """

    def __init__(self, max_norm: float = 1.0, *, eps: float = 1e-6) -> None:
        self.max_norm = checks.positive(max_norm, "ClipByGlobalNorm max_norm", finite=False)
        self.eps = checks.positive(eps, "ClipByGlobalNorm eps")  # it divides

    def init(self, params: Mapping[str, Array], *, backend: Backend) -> ClipByGlobalNormState:
        first = next(iter(params.values()), None)
        dtype = first.dtype if first is not None else "float64"
        return ClipByGlobalNormState(global_norm=backend.xp.zeros((), dtype=dtype))

    def update(
        self,
        grads: dict[str, Array],
        state: Any,
        params: Mapping[str, Array],
        *,
        backend: Backend,
    ) -> tuple[dict[str, Array], ClipByGlobalNormState]:
        if not grads:
            return grads, state
        xp = backend.xp
        squares = [xp.vdot(g.ravel(), g.ravel()) for g in grads.values()]
        norm = xp.asarray(xp.sqrt(sum(squares[1:], squares[0])))
        factor = xp.minimum(self.max_norm / (norm + self.eps), 1.0)
        for g in grads.values():
            g *= factor.astype(g.dtype)
        return grads, ClipByGlobalNormState(global_norm=norm)

    def config(self) -> dict[str, Any]:
        return {"max_norm": self.max_norm, "eps": self.eps}


@final
class ClipByValue(GradientTransform):
    """Clamp every gradient element to ``[-max_value, max_value]``.

    >>> import numpy as np, neuroback as nb
    >>> clip = nb.transforms.ClipByValue(0.5)
    >>> clip.update({"w": np.array([-2.0, 0.1, 3.0])}, None, {}, backend=nb.get_backend())[0]["w"]
    array([-0.5,  0.1,  0.5])
    """

    def __init__(self, max_value: float = 1.0) -> None:
        self.max_value = checks.positive(max_value, "ClipByValue max_value", finite=False)

    def init(self, params: Mapping[str, Array], *, backend: Backend) -> None:
        return None

    def update(
        self,
        grads: dict[str, Array],
        state: Any,
        params: Mapping[str, Array],
        *,
        backend: Backend,
    ) -> tuple[dict[str, Array], None]:
        xp = backend.xp
        for g in grads.values():
            xp.clip(g, -self.max_value, self.max_value, out=g)
        return grads, None

    def config(self) -> dict[str, Any]:
        return {"max_value": self.max_value}
