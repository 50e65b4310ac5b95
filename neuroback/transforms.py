"""Gradient transforms registered by plugins: ``neuroback.transforms.ClipByGlobalNorm``.

Every installed plugin's transforms appear here (``dir(neuroback.transforms)`` lists
them); ``get("distribution:Name")`` resolves a qualified name. Nothing is
loaded until the first lookup.

For type checkers, the built-ins are the classes themselves (``nb.layers.Dense(2, 3)`` is
checked against ``Dense``'s signature), and any other name is the kind's base class (a
plugin's layer is a ``type[Layer]``): the built-in modules are imported for type checking
only, never at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroback.plugin_system.namespace import Namespace as _Namespace
from neuroback.transform import GradientTransform

if TYPE_CHECKING:  # the built-ins' own signatures, for type checkers only
    from neuroback_builtins.clipping import ClipByGlobalNorm as ClipByGlobalNorm
    from neuroback_builtins.clipping import ClipByValue as ClipByValue
    from neuroback_builtins.weight_decay import WeightDecay as WeightDecay

__all__: list[str] = []

_namespace = _Namespace("transforms", lambda: ["get", "names"])
__dir__ = _namespace.dir


def __getattr__(name: str) -> type[GradientTransform]:
    return _namespace.getattr(name)  # type: ignore[no-any-return]


def get(name: str) -> type[GradientTransform]:
    """The transform called ``name`` (plain, or ``distribution:Name``)."""
    return _namespace.get(name)  # type: ignore[no-any-return]


def names() -> list[str]:
    """The plain names of every registered transform."""
    return _namespace.names()
