"""Optimizers registered by plugins, as attributes: ``neuroback.optimizers.SGD``.

Every installed plugin's optimizers appear here (``dir(neuroback.optimizers)`` lists
them); ``get("distribution:Name")`` resolves a qualified name. Nothing is
loaded until the first lookup.

For type checkers, the built-ins are the classes themselves (``nb.layers.Dense(2, 3)`` is
checked against ``Dense``'s signature), and any other name is the kind's base class (a
plugin's layer is a ``type[Layer]``): the built-in modules are imported for type checking
only, never at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroback.optimizer import Optimizer
from neuroback.plugin_system.namespace import Namespace as _Namespace

if TYPE_CHECKING:  # the built-ins' own signatures, for type checkers only
    from neuroback_builtins.adam import Adam as Adam
    from neuroback_builtins.adam import AdamW as AdamW
    from neuroback_builtins.sgd import SGD as SGD

__all__: list[str] = []

_namespace = _Namespace("optimizers", lambda: ["get", "names"])
__dir__ = _namespace.dir


def __getattr__(name: str) -> type[Optimizer]:
    return _namespace.getattr(name)  # type: ignore[no-any-return]


def get(name: str) -> type[Optimizer]:
    """The optimizer called ``name`` (plain, or ``distribution:Name``)."""
    return _namespace.get(name)  # type: ignore[no-any-return]


def names() -> list[str]:
    """The plain names of every registered optimizer."""
    return _namespace.names()
