"""Callbacks registered by plugins, as attributes: ``neuroback.callbacks.ProgressBar``.

Every installed plugin's callbacks appear here (``dir(neuroback.callbacks)`` lists
them); ``get("distribution:Name")`` resolves a qualified name. Nothing is
loaded until the first lookup.

For type checkers, the built-ins are the classes themselves (``nb.layers.Dense(2, 3)`` is
checked against ``Dense``'s signature), and any other name is the kind's base class (a
plugin's layer is a ``type[Layer]``): the built-in modules are imported for type checking
only, never at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroback.callback import Callback
from neuroback.plugin_system.namespace import Namespace as _Namespace

if TYPE_CHECKING:  # the built-ins' own signatures, for type checkers only
    from neuroback_builtins.callbacks.csv_logger import CSVLogger as CSVLogger
    from neuroback_builtins.callbacks.early_stopping import EarlyStopping as EarlyStopping
    from neuroback_builtins.callbacks.gradient_flow import (
        GradientFlowMonitor as GradientFlowMonitor,
    )
    from neuroback_builtins.callbacks.lr_schedule import (
        LearningRateScheduler as LearningRateScheduler,
    )
    from neuroback_builtins.callbacks.lr_schedule import ReduceLROnPlateau as ReduceLROnPlateau
    from neuroback_builtins.callbacks.model_checkpoint import ModelCheckpoint as ModelCheckpoint
    from neuroback_builtins.callbacks.progress import ProgressBar as ProgressBar
    from neuroback_builtins.callbacks.terminate_on_nan import TerminateOnNaN as TerminateOnNaN

__all__: list[str] = []

_namespace = _Namespace("callbacks", lambda: ["get", "names"])
__dir__ = _namespace.dir


def __getattr__(name: str) -> type[Callback]:
    return _namespace.getattr(name)  # type: ignore[no-any-return]


def get(name: str) -> type[Callback]:
    """The callback called ``name`` (plain, or ``distribution:Name``)."""
    return _namespace.get(name)  # type: ignore[no-any-return]


def names() -> list[str]:
    """The plain names of every registered callback."""
    return _namespace.names()
