"""Layers registered by plugins, as attributes: ``neuroback.layers.Dense``.

Every installed plugin's layers appear here (``dir(neuroback.layers)`` lists
them); ``get("distribution:Name")`` resolves a qualified name. Nothing is
loaded until the first lookup.

For type checkers, the built-ins are the classes themselves (``nb.layers.Dense(2, 3)`` is
checked against ``Dense``'s signature), and any other name is the kind's base class (a
plugin's layer is a ``type[Layer]``): the built-in modules are imported for type checking
only, never at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroback.layer import Layer
from neuroback.plugin_system.namespace import Namespace as _Namespace

if TYPE_CHECKING:  # the built-ins' own signatures, for type checkers only
    from neuroback.sequential import Sequential as Sequential
    from neuroback_builtins.activations import LeakyReLU as LeakyReLU
    from neuroback_builtins.activations import ReLU as ReLU
    from neuroback_builtins.activations import Sigmoid as Sigmoid
    from neuroback_builtins.activations import Softmax as Softmax
    from neuroback_builtins.activations import Tanh as Tanh
    from neuroback_builtins.batchnorm import BatchNorm as BatchNorm
    from neuroback_builtins.conv import Conv1D as Conv1D
    from neuroback_builtins.conv import Conv2D as Conv2D
    from neuroback_builtins.dense import Dense as Dense
    from neuroback_builtins.dropout import Dropout as Dropout
    from neuroback_builtins.pooling import AvgPool1D as AvgPool1D
    from neuroback_builtins.pooling import AvgPool2D as AvgPool2D
    from neuroback_builtins.pooling import GlobalAvgPool as GlobalAvgPool
    from neuroback_builtins.pooling import MaxPool1D as MaxPool1D
    from neuroback_builtins.pooling import MaxPool2D as MaxPool2D
    from neuroback_builtins.reshape import Flatten as Flatten
    from neuroback_builtins.reshape import Reshape as Reshape
    from neuroback_builtins.residual import Residual as Residual

__all__: list[str] = []

_namespace = _Namespace("layers", lambda: ["get", "names"])
__dir__ = _namespace.dir


def __getattr__(name: str) -> type[Layer]:
    return _namespace.getattr(name)  # type: ignore[no-any-return]


def get(name: str) -> type[Layer]:
    """The layer called ``name`` (plain, or ``distribution:Name``)."""
    return _namespace.get(name)  # type: ignore[no-any-return]


def names() -> list[str]:
    """The plain names of every registered layer."""
    return _namespace.names()
