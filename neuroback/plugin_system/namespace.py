"""Module-level ``__getattr__``/``__dir__`` for the component namespaces (PEP 562)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import AmbiguousComponentError, ComponentNotFoundError
from .manager import get_registry

__all__ = ["Namespace"]


class ComponentAttributeError(ComponentNotFoundError, AttributeError):
    """A component namespace has no such attribute (``hasattr`` sees ``False``)."""


class AmbiguousComponentAttributeError(AmbiguousComponentError, AttributeError):
    """An ambiguous plain name read as an attribute (``hasattr`` sees ``False``; tools
    that walk ``dir()`` skip it, and the message still names both distributions)."""


class Namespace:
    """The lookups behind ``neuroback.layers``, ``neuroback.losses``, ..."""

    def __init__(self, kind: str, own: Callable[[], list[str]]) -> None:
        self.kind = kind
        self._own = own

    def getattr(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return get_registry().get(self.kind, name).obj
        except ComponentNotFoundError as exc:
            raise ComponentAttributeError(str(exc)) from None
        except AmbiguousComponentError as exc:
            raise AmbiguousComponentAttributeError(str(exc)) from None

    def dir(self) -> list[str]:
        return sorted(set(self._own()) | set(get_registry().names(self.kind)))

    def get(self, name: str) -> Any:
        """The component called ``name`` (plain, or ``distribution:Name``)."""
        return get_registry().get(self.kind, name).obj

    def names(self) -> list[str]:
        """The plain names of every registered component of this kind."""
        return get_registry().names(self.kind)
