r"""L2 weight decay as a gradient transform: :math:`g_p \leftarrow g_p + \lambda\,\theta_p`.

Because it runs in the optimizer's transform chain, it acts on the raw
gradients before the update rule (and before any later transform in the chain,
so put it *before* clipping to clip the decayed gradient).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, final

from neuroback import Array, Backend, GradientTransform, checks

__all__ = ["WeightDecay"]


@final
class WeightDecay(GradientTransform):
    """Add ``weight_decay * value`` to every gradient.

    >>> import numpy as np, neuroback as nb
    >>> wd = nb.transforms.WeightDecay(0.1)
    >>> numpy = nb.get_backend("numpy")
    >>> wd.update({"w": np.array([1.0])}, None, {"w": np.array([2.0])}, backend=numpy)[0]["w"]
    array([1.2])
    """

    def __init__(self, weight_decay: float = 1e-4) -> None:
        self.weight_decay = checks.non_negative(weight_decay, "WeightDecay weight_decay")

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
        for name, g in grads.items():
            if name not in params:
                raise KeyError(f"WeightDecay: no parameter value for gradient {name!r}.")
            g += self.weight_decay * params[name]
        return grads, None

    def config(self) -> dict[str, Any]:
        return {"weight_decay": self.weight_decay}
