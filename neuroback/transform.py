"""Gradient transforms: composable functions of the gradients, applied before an update.

Shaped like optax's ``GradientTransformation``: a transform is ``init`` (build
its state from the parameters) and ``update`` (map gradients and state to new
gradients and state). Gradients and parameters are dicts keyed by the
parameters' dotted names. A transform may change the gradient arrays in place
(they are the model's own ``grad`` buffers, cleared by ``zero_grad`` anyway).

Both receive ``backend``, the :class:`~neuroback.Backend` the optimizer's
parameters live on (``backend.xp`` is NumPy or CuPy): the optimizer passes it,
so a transform never looks the backend up globally.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, final

from .backend import Array, Backend

__all__ = ["Chain", "GradientTransform", "chain"]

#: Gradients or parameter values by dotted parameter name.
Tree = dict[str, Array]


class GradientTransform(ABC):
    """Base class of gradient transforms (clipping, weight decay, noise, ...)."""

    @abstractmethod
    def init(self, params: Mapping[str, Array], *, backend: Backend) -> Any:
        """Return this transform's initial state (``None`` for a stateless transform).

        Arrays in the state live on ``backend`` (the parameters' backend).
        """

    @abstractmethod
    def update(
        self, grads: Tree, state: Any, params: Mapping[str, Array], *, backend: Backend
    ) -> tuple[Tree, Any]:
        """Return the transformed gradients and the new state (computed with ``backend.xp``).

        The state may be changed in place: when an update is skipped the optimizer puts
        back what it held before (it copies it first on a device, and on the host it does
        not call ``update`` at all).
        """

    def config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this transform."""
        return {}

    @classmethod
    def example(cls) -> GradientTransform:
        """An instance for the conformance kit (default: every argument at its default)."""
        return cls()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> GradientTransform:
        return cls(**dict(config))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


@final
class Chain(GradientTransform):
    """Apply transforms in order; the state is the tuple of their states."""

    def __init__(self, *transforms: GradientTransform) -> None:
        for t in transforms:
            if not isinstance(t, GradientTransform):
                raise TypeError(
                    f"chain() takes GradientTransform objects, got {type(t).__name__}: {t!r}. "
                    "Build transforms first, e.g. neuroback.transforms.ClipByGlobalNorm(1.0)."
                )
        self.transforms: tuple[GradientTransform, ...] = tuple(transforms)

    def init(self, params: Mapping[str, Array], *, backend: Backend) -> tuple[Any, ...]:
        states = []
        for t in self.transforms:
            try:
                states.append(t.init(params, backend=backend))
            except TypeError as exc:
                raise _explain_signature(t, "init", exc) from exc
        return tuple(states)

    def update(
        self, grads: Tree, state: Any, params: Mapping[str, Array], *, backend: Backend
    ) -> tuple[Tree, tuple[Any, ...]]:
        new_state = []
        for transform, sub in zip(self.transforms, state, strict=True):
            try:
                grads, sub = transform.update(grads, sub, params, backend=backend)
            except TypeError as exc:
                raise _explain_signature(transform, "update", exc) from exc
            new_state.append(sub)
        return grads, tuple(new_state)

    def config(self) -> dict[str, Any]:
        from .config import to_spec

        return {"transforms": [to_spec(t) for t in self.transforms]}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Chain:
        from .config import build

        return cls(*(build("transforms", s) for s in config.get("transforms", [])))

    def __len__(self) -> int:
        return len(self.transforms)

    def __repr__(self) -> str:
        return f"chain({', '.join(map(repr, self.transforms))})"


def _explain_signature(transform: GradientTransform, method: str, exc: TypeError) -> Exception:
    if "backend" not in str(exc):
        return exc
    signature = {
        "init": "init(self, params, *, backend)",
        "update": "update(self, grads, state, params, *, backend)",
    }[method]
    return TypeError(
        f"{type(transform).__name__}.{method} must accept the keyword backend=: define it as "
        f"{signature} (the optimizer passes the backend its parameters live on; use "
        f"backend.xp for array functions). ({exc})"
    )


def chain(*transforms: GradientTransform) -> Chain:
    """Compose transforms, applied left to right."""
    return Chain(*transforms)
