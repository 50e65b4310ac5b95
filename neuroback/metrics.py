"""Metrics registered by plugins, as attributes: ``neuroback.metrics.accuracy``.

Every installed plugin's metrics appear here (``dir(neuroback.metrics)`` lists
them); ``get("distribution:Name")`` resolves a qualified name. Nothing is
loaded until the first lookup.

For type checkers, the built-in metrics are the functions themselves and any other name is
a callable; the built-in modules are imported for type checking only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from neuroback.plugin_system.namespace import Namespace as _Namespace

if TYPE_CHECKING:  # the built-ins' own signatures, for type checkers only
    from neuroback_builtins.metrics import accuracy as accuracy
    from neuroback_builtins.metrics import accuracy_from_logits as accuracy_from_logits
    from neuroback_builtins.metrics import mae as mae
    from neuroback_builtins.metrics import mse as mse

__all__: list[str] = []

_namespace = _Namespace("metrics", lambda: ["get", "names"])
__dir__ = _namespace.dir


def __getattr__(name: str) -> Callable[..., Any]:
    return _namespace.getattr(name)  # type: ignore[no-any-return]


def get(name: str) -> Callable[..., Any]:
    """The metric called ``name`` (plain, or ``distribution:Name``)."""
    return _namespace.get(name)  # type: ignore[no-any-return]


def names() -> list[str]:
    """The plain names of every registered metric."""
    return _namespace.names()
