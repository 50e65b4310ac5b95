"""The kinds of component a plugin can register, and what each must be.

Most kinds are class hierarchies: a layer is a subclass of :class:`neuroback.Layer`, a
schedule a subclass of :class:`neuroback.Schedule`, and so on. Two are not: a metric is a
plain function (or a callable instance) ``metric(pred, target) -> 0-d array``, never a
class, and a command (a ``neuroback`` subcommand) is a click command *instance*.
:func:`kind_of` applies these rules to whatever :func:`neuroback.register` is given.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

__all__ = ["KINDS", "Kind", "class_bases_text", "instance_kind", "kind_of"]


@dataclass(frozen=True)
class Kind:
    """One namespace of components (``layers``, ``losses``, ...)."""

    #: Plural name: the namespace (``neuroback.layers``) and config key.
    name: str
    #: Singular, for messages ("no layer named ...").
    singular: str
    #: The hook that registers this kind.
    hook: str
    #: Dotted path of the required base class, or "" for metrics (non-class callables).
    base: str
    #: Whether the registered objects are *instances* of ``base`` (command-line commands,
    #: click commands) rather than subclasses of it.
    instances: bool = False

    def base_class(self) -> type | None:
        if not self.base:
            return None
        module, _, attr = self.base.rpartition(".")
        base: type = getattr(importlib.import_module(module), attr)
        return base


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("layers", "layer", "neuroback_register_layers", "neuroback.layer.Layer"),
        Kind("losses", "loss", "neuroback_register_losses", "neuroback.loss.Loss"),
        Kind(
            "optimizers",
            "optimizer",
            "neuroback_register_optimizers",
            "neuroback.optimizer.Optimizer",
        ),
        Kind(
            "transforms",
            "gradient transform",
            "neuroback_register_transforms",
            "neuroback.transform.GradientTransform",
        ),
        Kind(
            "callbacks", "callback", "neuroback_register_callbacks", "neuroback.callback.Callback"
        ),
        Kind("metrics", "metric", "neuroback_register_metrics", ""),
        Kind(
            "schedules", "schedule", "neuroback_register_schedules", "neuroback.schedule.Schedule"
        ),
        Kind(
            "strategies",
            "strategy",
            "neuroback_register_strategies",
            "neuroback.strategy.Strategy",
        ),
        Kind(
            "commands",
            "command",
            "neuroback_register_commands",
            "click.core.Command",
            instances=True,
        ),
    )
}


def _public_name(base: type) -> str:
    return f"{base.__module__.split('.')[0]}.{base.__name__}"


def class_bases_text() -> str:
    """``neuroback.Layer (layers), neuroback.Loss (losses), ...``: for error messages."""
    return ", ".join(
        f"{_public_name(base)} ({kind.name})"
        for kind in KINDS.values()
        if not kind.instances and (base := kind.base_class()) is not None
    )


def instance_kind(obj: object) -> Kind | None:
    """The kind whose base class ``obj`` is an *instance* of (``None`` for classes and others)."""
    if isinstance(obj, type):
        return None
    for kind in KINDS.values():
        base = kind.base_class()
        if not kind.instances and base is not None and isinstance(obj, base):
            return kind
    return None


def instance_message(obj: object, kind: Kind) -> str:
    cls = type(obj).__name__
    return (
        f"{obj!r} is an instance of the {kind.singular} class {cls}, not a component: "
        f"register the class itself (neuroback.register({cls})); instances are built from "
        f"it by name or spec."
    )


def kind_of(obj: object) -> Kind:
    """The kind ``obj`` belongs to, by its base class.

    A class belongs to the kind whose base class it subclasses; a class that subclasses
    none of them (or more than one) is a :class:`TypeError`. A callable that is not a
    class (a function, a callable instance) is a metric, unless it is an instance of a
    component class (a ``Dense(2, 3)`` is callable, but the class is what is registered).
    Anything else is a :class:`TypeError`.
    """
    for kind in KINDS.values():  # kinds of instances: a click command is registered as is
        if kind.instances and isinstance(obj, kind.base_class() or ()):
            return kind
    if isinstance(obj, type):
        matches = [
            kind
            for kind in KINDS.values()
            if not kind.instances
            and (base := kind.base_class()) is not None
            and issubclass(obj, base)
        ]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise TypeError(
                f"Cannot tell what kind of component the class {obj.__qualname__} is: it "
                f"subclasses the bases of {', '.join(k.name for k in matches)}. Pass kind=... "
                f"to say which, or (better) keep one base per class."
            )
        raise TypeError(
            f"Cannot tell what kind of component the class {obj.__qualname__} is: a component "
            f"class subclasses one of {class_bases_text()}. Metrics are plain functions "
            f"metric(pred, target) -> 0-d array (or callable instances), never classes."
        )
    instance_of = instance_kind(obj)
    if instance_of is not None:
        raise TypeError(instance_message(obj, instance_of))
    if callable(obj):
        return KINDS["metrics"]
    raise TypeError(
        f"Cannot tell what kind of component {obj!r} is: register a class that subclasses one "
        f"of {class_bases_text()}, or a metric function metric(pred, target) -> 0-d array."
    )
