"""The Trainer's callbacks and metrics: checked once, when the Trainer is built."""

from __future__ import annotations

import difflib
import inspect
import warnings
from collections.abc import Callable
from typing import Any

from ..backend import Array
from ..callback import Callback
from ..plugin_system import get_registry

__all__ = ["CallbackHookWarning", "Metric", "check_callbacks", "check_metrics", "resolve_metric"]

Metric = Callable[[Array, Array], Array]


def resolve_metric(metric: str | Metric) -> tuple[str, Metric]:
    if isinstance(metric, str):
        return metric.rpartition(":")[2], get_registry().get("metrics", metric).obj
    if callable(metric):
        return getattr(metric, "__name__", type(metric).__name__), metric
    raise TypeError(f"A metric is a registered name or a callable, got {metric!r}.")


class CallbackHookWarning(UserWarning):
    """A callback defines an ``on_*`` method that is not a Trainer hook (a likely typo)."""


_HOOKS = tuple(name for name in dir(Callback) if name.startswith("on_"))


def check_callbacks(callbacks: Any) -> list[Callback]:
    """The callbacks as a list, each an instance whose hooks have the right signatures."""
    if isinstance(callbacks, Callback | type):
        raise TypeError(
            f"callbacks must be a list, e.g. callbacks=[{_describe(callbacks)}], got "
            f"{_describe(callbacks)} on its own."
        )
    out = list(callbacks)
    for cb in out:
        if isinstance(cb, type) and issubclass(cb, Callback):
            raise TypeError(
                f"callbacks must be instances; got the class {cb.__name__}: pass {cb.__name__}()."
            )
        if not isinstance(cb, Callback):
            raise TypeError(
                f"callbacks must be neuroback.Callback instances, got {type(cb).__name__}: {cb!r}."
            )
        _check_hooks(cb)
    return out


def _describe(obj: Any) -> str:
    return f"{obj.__name__}()" if isinstance(obj, type) else f"{type(obj).__name__}(...)"


def _check_hooks(cb: Callback) -> None:
    cls = type(cb)
    for name in dir(cls):
        if not name.startswith("on_") or not callable(getattr(cls, name, None)):
            continue
        if name not in _HOOKS:
            close = difflib.get_close_matches(name, _HOOKS, n=1, cutoff=0.8)
            if close:  # a likely misspelled hook; other on_* helpers are the author's business
                warnings.warn(
                    f"{cls.__name__}.{name} is not a Trainer hook and will never be called. "
                    f"Did you mean {close[0]!r}? The hooks are {', '.join(_HOOKS)}.",
                    CallbackHookWarning,
                    stacklevel=4,
                )
            continue
        if getattr(cls, name) is getattr(Callback, name):
            continue
        expected = inspect.signature(getattr(Callback, name))
        arity = len(expected.parameters) - 1  # without self
        try:
            inspect.signature(getattr(cb, name)).bind(*range(arity))
        except TypeError:
            wanted = ", ".join(list(expected.parameters)[1:])
            raise TypeError(
                f"{cls.__name__}.{name} must accept ({wanted}), as Callback.{name} does; it is "
                f"defined as {name}{inspect.signature(getattr(cb, name))}. (neuroback hooks "
                f"receive the trainer first.)"
            ) from None


def check_metrics(metrics: Any) -> Any:
    if isinstance(metrics, str) or callable(metrics):
        shown = repr(metrics) if isinstance(metrics, str) else getattr(metrics, "__name__", "m")
        raise TypeError(f"metrics must be a list, e.g. metrics=[{shown}], got {shown} on its own.")
    return metrics
