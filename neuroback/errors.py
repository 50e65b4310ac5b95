"""The exceptions neuroback raises.

Every message says what was wrong, what was expected and how to fix it. Catch
:class:`NeurobackError` to handle any of them.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousComponentError",
    "BackendError",
    "BackendMismatchError",
    "ComponentNotFoundError",
    "ConfigError",
    "DTypeError",
    "NeurobackError",
    "NotBoundError",
    "PluginError",
    "ShapeError",
    "TrainingError",
]


class NeurobackError(Exception):
    """Base class of every error neuroback raises on purpose."""


class ShapeError(NeurobackError, ValueError):
    """An array's shape or dtype does not fit the component it was given to."""


class DTypeError(ShapeError, TypeError):
    """An array's dtype does not fit (a :class:`ShapeError` and a ``TypeError`` alike)."""


class BackendError(NeurobackError, RuntimeError):
    """A backend was asked for that cannot be used here (unknown, or CuPy missing)."""


class BackendMismatchError(NeurobackError, TypeError):
    """An array from one backend was given to a component living on another."""


class PluginError(NeurobackError, RuntimeError):
    """A plugin failed to load or registered something invalid."""


class ComponentNotFoundError(NeurobackError, LookupError):
    """No registered component has the requested name."""


class AmbiguousComponentError(NeurobackError, LookupError):
    """A plain component name is registered by more than one distribution."""


class ConfigError(NeurobackError, ValueError):
    """A configuration cannot rebuild the component it describes."""


class NotBoundError(NeurobackError, RuntimeError):
    """An optimizer was used before :meth:`~neuroback.Optimizer.bind` attached a model."""


class TrainingError(NeurobackError, RuntimeError):
    """Training cannot go on (for example the loss became NaN under ``TerminateOnNaN``)."""
