"""The kinds of component a plugin can register, and what each must be."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KINDS", "Kind", "kind_of"]


@dataclass(frozen=True)
class Kind:
    """One namespace of components (``layers``, ``losses``, ...)."""

    #: Plural name: the namespace (``neuroback.layers``) and config key.
    name: str
    #: Singular, for messages ("no layer named ...").
    singular: str
    #: The hook that registers this kind.
    hook: str
    #: Dotted path of the required base class, or "" for any callable.
    base: str

    def base_class(self) -> type | None:
        if not self.base:
            return None
        import importlib

        module, _, attr = self.base.rpartition(".")
        return getattr(importlib.import_module(module), attr)


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
    )
}


def kind_of(obj: object) -> Kind:
    """The kind whose base class ``obj`` subclasses (metrics: any other callable)."""
    if isinstance(obj, type):
        for kind in KINDS.values():
            base = kind.base_class()
            if base is not None and issubclass(obj, base):
                return kind
    if callable(obj):
        return KINDS["metrics"]
    raise TypeError(
        f"Cannot tell what kind of component {obj!r} is: subclass neuroback.Layer, Loss, "
        f"Optimizer, GradientTransform or Callback, or pass a metric function."
    )
