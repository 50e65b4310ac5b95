"""The Loss interface: a value and its gradient with respect to the prediction."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from .backend import Array, Backend, BackendLike, get_backend

__all__ = ["Loss"]


class Loss(ABC):
    r"""Base class of losses.

    :meth:`forward` returns ``(value, dpred)``: the scalar loss
    :math:`L(\hat y, y)` as a 0-d array that stays on the backend (no host
    transfer in the training step) and :math:`\partial L / \partial \hat y`,
    shaped like ``pred``. The gradient already includes the averaging over the
    batch, so ``model_backward(dpred)`` gives the gradient of ``value``.
    """

    def __init__(self, *, backend: BackendLike = None) -> None:
        self._backend: Backend = get_backend(backend)

    @abstractmethod
    def forward(self, pred: Array, target: Array) -> tuple[Array, Array]:
        """Return the loss value (0-d array) and its gradient with respect to ``pred``."""

    @classmethod
    def example(cls) -> tuple[Loss, Any, Any]:
        """A small instance with a float64 prediction and a target, for the conformance kit."""
        raise NotImplementedError(
            f"{cls.__name__} declares no example(). Define a classmethod example() returning "
            f"(loss, float64 prediction, target) so neuroback.testing can check it."
        )

    def check_targets(self, target: Any, output_shape: tuple[int, ...]) -> None:  # noqa: B027
        """Validate a whole target array before training (override to check label ranges).

        ``output_shape`` is the shape of the model's output for one batch. Raise
        :class:`~neuroback.errors.ShapeError` with a clear message; the default
        accepts anything (shape mismatches surface in a dry-run ``forward``).
        """

    def config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this loss (JSON/TOML-friendly values)."""
        return {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Loss:
        return cls(**dict(config))

    @property
    def backend(self) -> Backend:
        return self._backend

    def to(self, backend: BackendLike) -> Loss:
        """Compute on ``backend`` from now on; returns ``self``."""
        self._backend = get_backend(backend)
        return self

    def __call__(self, pred: Array, target: Array) -> Array:
        """The loss value alone."""
        value, _ = self.forward(pred, target)
        return value

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"
