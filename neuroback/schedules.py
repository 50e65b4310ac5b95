"""Learning-rate schedules registered by plugins, as attributes: ``neuroback.schedules.Cosine``.

Every installed plugin's schedules appear here (``dir(neuroback.schedules)`` lists
them); ``get("distribution:Name")`` resolves a qualified name. Nothing is
loaded until the first lookup. The base class is :class:`neuroback.Schedule`.

For type checkers, the built-ins are the classes themselves (``nb.layers.Dense(2, 3)`` is
checked against ``Dense``'s signature), and any other name is the kind's base class (a
plugin's layer is a ``type[Layer]``): the built-in modules are imported for type checking
only, never at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroback.plugin_system.namespace import Namespace as _Namespace
from neuroback.schedule import Schedule

if TYPE_CHECKING:  # the built-ins' own signatures, for type checkers only
    from neuroback_builtins.schedules import Constant as Constant
    from neuroback_builtins.schedules import Cosine as Cosine
    from neuroback_builtins.schedules import Exponential as Exponential
    from neuroback_builtins.schedules import LinearWarmup as LinearWarmup
    from neuroback_builtins.schedules import StepDecay as StepDecay

__all__: list[str] = []

_namespace = _Namespace("schedules", lambda: ["get", "names"])
__dir__ = _namespace.dir


def __getattr__(name: str) -> type[Schedule]:
    return _namespace.getattr(name)  # type: ignore[no-any-return]


def get(name: str) -> type[Schedule]:
    """The schedule called ``name`` (plain, or ``distribution:Name``)."""
    return _namespace.get(name)  # type: ignore[no-any-return]


def names() -> list[str]:
    """The plain names of every registered schedule."""
    return _namespace.names()
