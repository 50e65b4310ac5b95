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
    "FileFormatError",
    "MissingPluginError",
    "NeurobackError",
    "NotBoundError",
    "PluginError",
    "SaveError",
    "ShapeError",
    "StateMismatchError",
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


class MissingPluginError(ComponentNotFoundError):
    """A saved file or a spec needs a component whose plugin is not installed here (the
    message names the distribution to install)."""


class ConfigError(NeurobackError, ValueError):
    """A configuration cannot rebuild the component it describes."""


class NotBoundError(NeurobackError, RuntimeError):
    """An optimizer was used before :meth:`~neuroback.Optimizer.bind` attached a model."""


class StateMismatchError(NeurobackError, ValueError):
    """Saved weights or training state do not fit the model (or optimizer, or callbacks)
    they are loaded into; the message lists every difference, and nothing was loaded."""


class FileFormatError(NeurobackError, ValueError):
    """A file is not a complete neuroback file: empty, truncated, damaged, not neuroback's,
    or written by a newer format version. Nothing was loaded from it."""


class TrainingError(NeurobackError, RuntimeError):
    """Training cannot go on (for example the loss became NaN under ``TerminateOnNaN``)."""


class SaveError(NeurobackError, OSError):
    """A file could not be written; the previous file at that path is untouched."""

    def __str__(self) -> str:
        # OSError would print "[Errno N] strerror: 'filename'" once those are set; the
        # message already names the path and the reason, and says how to fix it.
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()
