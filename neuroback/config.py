"""Component specs: ``{"type": "distribution:Name", "config": {...}}``.

A spec is what configuration files and saved models record for a component:
its qualified registry name and the arguments its ``config()`` returns. Both
are plain JSON/TOML values, so nothing is ever pickled.

>>> import neuroback as nb
>>> spec = nb.to_spec(nb.layers.ReLU())
>>> spec
{'type': 'neuroback:ReLU', 'config': {}}
>>> nb.build("layers", spec)
ReLU()
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ConfigError
from .plugin_system import KINDS, get_registry

__all__ = ["build", "to_spec"]


def to_spec(component: Any) -> dict[str, Any]:
    """The spec that rebuilds ``component`` from the registry."""
    qualified = get_registry().qualified_name(type(component))
    return {"type": qualified, "config": component.config()}


def build(kind: str, spec: str | Mapping[str, Any]) -> Any:
    """Build a component of ``kind`` (``"layers"``, ``"optimizers"``, ...) from a spec or a name."""
    if kind not in KINDS:
        raise ConfigError(f"Unknown component kind {kind!r}; expected one of {sorted(KINDS)}.")
    singular = KINDS[kind].singular
    article = "an" if singular[0] in "aeiou" else "a"
    if isinstance(spec, type):
        raise ConfigError(
            f"Got the class {spec.__name__} where {article} {singular} was expected; pass an "
            f"instance, e.g. {spec.__name__}(), or its name {spec.__name__!r}."
        )
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise ConfigError(
            f"{article.capitalize()} {singular} spec is a name or a mapping with a 'type' key "
            f"(and optionally 'config'), got {spec!r}."
        )
    unknown = set(spec) - {"type", "config"}
    if unknown:
        raise ConfigError(
            f"Unexpected keys {sorted(unknown)} in spec {dict(spec)!r}; "
            "put arguments under 'config'."
        )
    cls = get_registry().get(kind, spec["type"]).obj
    config = spec.get("config") or {}
    try:
        return cls.from_config(config)
    except TypeError as exc:
        raise ConfigError(f"Cannot build {spec['type']} from config {config!r}: {exc}") from exc
