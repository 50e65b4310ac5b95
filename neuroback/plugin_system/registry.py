"""The component registry: every layer, loss, optimizer, ... by name and by origin.

A component is reachable by its plain name (``"Dense"``) and by its qualified
name (``"neuroback:Dense"``, distribution then name), which always resolves and is
what configuration files record. A plain name claimed by two distributions is
ambiguous: looking it up raises an error naming both, while every other name
keeps working. The one exception is a run-time component registered with
``neuroback.register(obj, shadow=True)``: it *shadows* the installed ones, so the
plain name means it (the installed ones keep their qualified names).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import (
    AmbiguousComponentError,
    ComponentNotFoundError,
    MissingPluginError,
    PluginError,
)
from .kinds import KINDS, Kind

__all__ = [
    "RUNTIME_DISTRIBUTION",
    "Component",
    "ComponentTable",
    "PluginInfo",
    "install_hint",
    "normalize",
]

#: The distribution name of components registered at run time with ``neuroback.register``.
RUNTIME_DISTRIBUTION = "local"


def normalize(distribution: str) -> str:
    """PEP 503 normalization, so ``My_Plugin`` and ``my-plugin`` name the same distribution."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def install_hint(distribution: str, version: str | None = None) -> str:
    """What to do about a component of ``distribution`` that is not registered here."""
    if normalize(distribution) == RUNTIME_DISTRIBUTION:
        return (
            "it was registered at run time (neuroback.register) by the program that made "
            "it; register the same class first"
        )
    pinned = f"=={version}" if version and version != "0" else ""
    return f"install it with: pip install {distribution}{pinned}"


@dataclass(frozen=True)
class Component:
    """A registered component and where it came from."""

    kind: str
    name: str
    obj: Any
    distribution: str
    version: str
    #: A run-time component registered with ``shadow=True``: its plain name wins over
    #: installed components of the same name.
    shadow: bool = False

    @property
    def qualified_name(self) -> str:
        """``distribution:name``, the form that always resolves."""
        return f"{self.distribution}:{self.name}"


@dataclass
class PluginInfo:
    """One loaded (or failed) plugin: a distribution's entry point or a run-time plugin."""

    distribution: str
    version: str
    entry_point: str
    components: list[Component] = field(default_factory=list)
    error: str | None = None
    builtin: bool = False


class ComponentTable:
    """Components of every kind, indexed by plain name; the lookup rules live here."""

    def __init__(self) -> None:
        self._by_kind: dict[str, dict[str, list[Component]]] = {k: {} for k in KINDS}

    def add(self, component: Component, *, replace: bool = False) -> None:
        """Add ``component``; a second one with the same name from the same distribution
        raises :class:`PluginError` unless ``replace`` (run-time re-registration)."""
        entries = self._by_kind[component.kind].setdefault(component.name, [])
        same = [
            c for c in entries if normalize(c.distribution) == normalize(component.distribution)
        ]
        if same:
            if not replace:
                raise PluginError(
                    f"{component.distribution} registers the {KINDS[component.kind].singular} "
                    f"name {component.name!r} twice; give one of them another name."
                )
            entries.remove(same[0])
        entries.append(component)

    def remove(self, component: Component) -> None:
        table = self._by_kind[component.kind]
        entries = [c for c in table.get(component.name, []) if c is not component]
        if entries:
            table[component.name] = entries
        else:
            table.pop(component.name, None)

    def components(self, kind: str | None = None) -> list[Component]:
        kinds = [kind] if kind else list(KINDS)
        return [c for k in kinds for entries in self._by_kind[k].values() for c in entries]

    def entries(self, kind: str, name: str) -> list[Component]:
        """Every component of ``kind`` registered under the plain ``name``."""
        return list(self._by_kind[kind].get(name, []))

    def names(self, kind: str) -> list[str]:
        """Plain names of ``kind``, sorted (ambiguous ones included)."""
        return sorted(self._by_kind[kind])

    def get(self, kind: str, name: str) -> Component:
        """Resolve ``name`` (plain or ``distribution:Name``) to one component."""
        info = KINDS[kind]
        if not isinstance(name, str):
            raise TypeError(f"A {info.singular} name must be a string, got {type(name).__name__}.")
        table = self._by_kind[kind]
        if ":" in name and name.rpartition(":")[0] and name.rpartition(":")[2]:
            dist, _, plain = name.rpartition(":")
            for comp in table.get(plain, []):
                if normalize(comp.distribution) == normalize(dist):
                    return comp
            installed = {normalize(c.distribution) for c in self.components()}
            if normalize(dist) not in installed:
                raise MissingPluginError(
                    f"No {info.singular} named {name!r}: it comes from the distribution "
                    f"{dist!r}, which provides no neuroback plugin here; {install_hint(dist)}. "
                    + self._not_found(info, name, qualified=True).partition(". ")[2]
                )
            raise ComponentNotFoundError(self._not_found(info, name, qualified=True))
        entries = table.get(name, [])
        if not entries:
            raise ComponentNotFoundError(self._not_found(info, name, qualified=False))
        if len(entries) > 1:
            shadowing = [c for c in entries if c.shadow]
            if len(shadowing) == 1:
                return shadowing[0]
            owners = ", ".join(sorted(c.distribution for c in entries))
            options = " or ".join(repr(c.qualified_name) for c in entries)
            raise AmbiguousComponentError(
                f"The {info.singular} name {name!r} is registered by more than one "
                f"distribution ({owners}). Use a qualified name: {options}."
            )
        return entries[0]

    def find_object(self, obj: Any) -> Component | None:
        """The registration of ``obj`` (by identity), preferring its canonical name."""
        matches = [c for c in self.components() if c.obj is obj]
        if not matches:
            return None
        for comp in matches:
            if comp.name == getattr(obj, "__name__", None):
                return comp
        return matches[0]

    def _not_found(self, kind: Kind, name: str, *, qualified: bool) -> str:
        table = self._by_kind[kind.name]
        if qualified:
            pool = sorted(c.qualified_name for entries in table.values() for c in entries)
        else:
            pool = sorted(table)
        hint = _closest(name, pool)
        available = ", ".join(pool) if pool else "(none: is neuroback installed? pip install -e .)"
        message = f"No {kind.singular} named {name!r}."
        if hint:
            message += f" Did you mean {hint!r}?"
        message += f" Available {kind.name}: {available}."
        if not qualified:
            message += " Third-party components appear once their package is pip-installed."
        return message


def _closest(name: str, pool: Iterable[str]) -> str | None:
    pool = list(pool)
    lowered = {p.lower(): p for p in pool}
    if name.lower() in lowered:
        return lowered[name.lower()]
    prefixed = sorted(
        (p for low, p in lowered.items() if name and low.startswith(name.lower())), key=len
    )
    if prefixed and all(p.lower().startswith(prefixed[0].lower()) for p in prefixed):
        return prefixed[0]  # "acc" -> "accuracy" (also when "accuracy_from_logits" exists)
    matches = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[matches[0]] if matches else None
