"""Strategies registered by plugins, as attributes: ``neuroback.strategies.get("mpi")``.

Every installed plugin's strategies appear here (``dir(neuroback.strategies)`` lists
them); ``get("distribution:name")`` resolves a qualified name. Nothing is loaded until
the first lookup. The base class is :class:`neuroback.Strategy`.
"""

from __future__ import annotations

from neuroback.plugin_system.namespace import Namespace as _Namespace
from neuroback.strategy import Strategy

__all__: list[str] = []

_namespace = _Namespace("strategies", lambda: ["get", "names"])
__dir__ = _namespace.dir


def __getattr__(name: str) -> type[Strategy]:
    return _namespace.getattr(name)  # type: ignore[no-any-return]


def get(name: str) -> type[Strategy]:
    """The strategy called ``name`` (plain, or ``distribution:name``)."""
    return _namespace.get(name)  # type: ignore[no-any-return]


def names() -> list[str]:
    """The plain names of every registered strategy."""
    return _namespace.names()
