"""The Trainer's components, checked once, when the Trainer is built: its callbacks and
metrics, its strategy, and its optimizer (one optimizer trains one model)."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from ..backend import Array, Backend
from ..callback import Callback
from ..caller_warnings import warn_at_caller
from ..config import build
from ..layer import Layer
from ..optimizer import Optimizer
from ..plugin_system import get_registry
from ..strategy import SingleProcess, Strategy

__all__ = [
    "CallbackHookWarning",
    "Metric",
    "bind_optimizer",
    "build_strategy",
    "check_callbacks",
    "check_metrics",
    "check_optimizer_owner",
    "resolve_metric",
]

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
                warn_at_caller(
                    f"{cls.__name__}.{name} is not a Trainer hook and will never be called. "
                    f"Did you mean {close[0]!r}? The hooks are {', '.join(_HOOKS)}.",
                    CallbackHookWarning,
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


def build_strategy(strategy: Strategy | str | Mapping[str, Any] | None) -> Strategy:
    """The Trainer's ``strategy=``: an instance as given, a name or spec built from the
    registry, ``None`` for one process."""
    if strategy is None:
        return SingleProcess()
    if isinstance(strategy, Strategy):
        return strategy
    if isinstance(strategy, type):
        raise TypeError(
            f"strategy= takes an instance or a name, got the class {strategy.__name__}: "
            f"use {strategy.__name__}() or its registered name."
        )
    built = build("strategies", strategy)
    if not isinstance(built, Strategy):  # a registry entry that is not a Strategy subclass
        raise TypeError(
            f"strategy={strategy!r} built a {type(built).__name__}, not a neuroback.Strategy; "
            f"a strategy plugin registers Strategy subclasses."
        )
    return built


def check_optimizer_owner(optimizer: Optimizer, model: Layer) -> None:
    """Refuse an optimizer already bound to another model than the Trainer's ``model``."""
    other = optimizer.bound_model
    if optimizer.bound and other is not model:
        raise ValueError(
            f"This {type(optimizer).__name__} is already bound to another model:\n{other!r}\n"
            f"and this Trainer's model is:\n{model!r}\nOne optimizer can train only "
            f"one model (the first would silently stop learning). Give each Trainer its "
            f"own optimizer, or call optimizer.bind(model) yourself to move it on purpose."
        )


def bind_optimizer(optimizer: Optimizer, model: Layer, target: Backend) -> None:
    """Bind after the move; an optimizer already holding state for this model keeps it
    (its state moves to the new backend with ``Optimizer.to``)."""
    same_params = optimizer.bound and list(optimizer.params.values()) == list(
        model.named_parameters().values()
    )
    if same_params:
        optimizer.to(target)
    else:
        optimizer.bind(model)
