"""Losses registered by plugins, as attributes: ``neuroback.losses.MSE``.

Every installed plugin's losses appear here (``dir(neuroback.losses)`` lists
them); ``get("distribution:Name")`` resolves a qualified name. Nothing is
loaded until the first lookup.

For type checkers, the built-ins are the classes themselves (``nb.layers.Dense(2, 3)`` is
checked against ``Dense``'s signature), and any other name is the kind's base class (a
plugin's layer is a ``type[Layer]``): the built-in modules are imported for type checking
only, never at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroback.loss import Loss
from neuroback.plugin_system.namespace import Namespace as _Namespace

if TYPE_CHECKING:  # the built-ins' own signatures, for type checkers only
    from neuroback_builtins.cross_entropy import BinaryCrossEntropy as BinaryCrossEntropy
    from neuroback_builtins.cross_entropy import SoftmaxCrossEntropy as SoftmaxCrossEntropy
    from neuroback_builtins.mse import MSE as MSE

__all__: list[str] = []

_namespace = _Namespace("losses", lambda: ["get", "names"])
__dir__ = _namespace.dir


def __getattr__(name: str) -> type[Loss]:
    return _namespace.getattr(name)  # type: ignore[no-any-return]


def get(name: str) -> type[Loss]:
    """The loss called ``name`` (plain, or ``distribution:Name``)."""
    return _namespace.get(name)  # type: ignore[no-any-return]


def names() -> list[str]:
    """The plain names of every registered loss."""
    return _namespace.names()
