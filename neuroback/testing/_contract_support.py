"""Helpers shared by the conformance checks: failures, specs, a quadratic problem.

Private to :mod:`neuroback.testing`; the checks themselves are in ``conformance.py``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..config import build, to_spec
from ..errors import NeurobackError
from ..layer import Layer
from ..optimizer import Optimizer
from ..parameter import Parameter

__all__ = ["ConformanceError"]


class ConformanceError(NeurobackError, AssertionError):
    """A component broke one of the contracts of its kind."""


def _fail(component: Any, rule: str, detail: str) -> ConformanceError:
    return ConformanceError(f"{component!r} breaks the rule '{rule}': {detail}")


def _with_dtype(spec: Any, dtype: str) -> Any:
    """A copy of a spec with every ``dtype`` entry, at any depth, set to ``dtype``."""
    if isinstance(spec, Mapping):
        return {k: (dtype if k == "dtype" else _with_dtype(v, dtype)) for k, v in spec.items()}
    if isinstance(spec, list):
        return [_with_dtype(v, dtype) for v in spec]
    return spec


def _changed(default: Any) -> Any:
    """A value other than ``default`` of the same plain type, or ``None`` when there is none."""
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + 1
    if isinstance(default, float):
        return default * 0.5 if default else 0.5
    return None


def _check_config_keeps_arguments(component: Any) -> None:
    """Every constructor argument reaches ``config()``.

    A required argument must be in ``config()`` as it is. An argument with a plain
    (bool, int or float) default may be left out while it is at its default, but a
    component built with another value must report it, or a saved model or a resumed
    run would silently rebuild it with the default. Arguments whose default is ``None``
    or an object (a backend, a generator, a file) are not probed.
    """
    cls = type(component)
    config = dict(component.config())
    try:
        signature = inspect.signature(cls.__init__)
    except (TypeError, ValueError):  # a builtin or C-level constructor: nothing to read
        return
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    for name, param in list(signature.parameters.items())[1:]:
        if param.kind not in named or name in config:
            continue
        if param.default is inspect.Parameter.empty:
            raise _fail(
                component,
                "config() keeps every constructor argument",
                f"the required argument {name!r} is missing from config() {config}",
            )
        other = _changed(param.default)
        if other is None:
            continue
        try:
            probe = cls.from_config({**config, name: other})
        except Exception:  # the changed value is not valid here: nothing to learn
            continue
        if name not in probe.config():
            raise _fail(
                component,
                "config() keeps every constructor argument",
                f"built with {name}={other!r}, config() is {probe.config()} without "
                f"{name!r}, so a saved or resumed copy would get {name}={param.default!r}",
            )


def _json_round_trip(component: Any, kind: str) -> Any:
    _check_config_keeps_arguments(component)
    spec = to_spec(component)
    try:
        text = json.dumps(spec)
    except TypeError as exc:
        raise _fail(component, "config() is JSON-serializable", str(exc)) from exc
    rebuilt = build(kind, json.loads(text))
    if to_spec(rebuilt) != spec:
        raise _fail(
            component,
            "config() rebuilds the component",
            f"{spec} rebuilt as {to_spec(rebuilt)}",
        )
    return rebuilt


def _copy_weights(source: Layer, target: Layer) -> None:
    src = source.named_parameters()
    dst = target.named_parameters()
    if list(src) != list(dst):
        raise _fail(source, "config() rebuilds the same parameters", f"{list(src)} vs {list(dst)}")
    target.load_state_dict(source.state_dict())


def _expect(component: Any, error: type[Exception], rule: str, call: Any) -> None:
    try:
        call()
    except error as exc:
        if len(str(exc)) < 20:
            raise _fail(component, rule, f"the error message is too terse: {exc!r}") from exc
        return
    except Exception as exc:
        raise _fail(
            component, rule, f"raised {type(exc).__name__} instead of {error.__name__}: {exc}"
        ) from exc
    raise _fail(component, rule, f"no {error.__name__} was raised")


def _quadratic_params(backend: Any, dtype: Any, seed: int) -> tuple[dict[str, Parameter], Any]:
    rng = np.random.default_rng(seed)
    params = {
        "w": Parameter(
            backend.asarray(rng.normal(size=(3, 2)).astype(dtype)), name="w", backend=backend
        ),
        "b": Parameter(
            backend.asarray(rng.normal(size=(2,)).astype(dtype)), name="b", backend=backend
        ),
    }
    targets = {
        k: backend.asarray(rng.normal(size=p.shape).astype(dtype)) for k, p in params.items()
    }
    return params, targets


def _quadratic_steps(
    opt: Optimizer, params: Mapping[str, Parameter], targets: Any, n: int
) -> float:
    """``n`` steps on f = 0.5 * sum((p - t)^2); returns f before the last step."""
    backend = next(iter(params.values())).backend
    value = 0.0
    for _ in range(n):
        value = 0.0
        for name, p in params.items():
            diff = p.value - targets[name]
            value += float(backend.to_host((diff * diff).sum())) / 2
            p.zero_grad()
            p.accumulate(diff)
        opt.step()
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON-serializable: {type(value).__name__}")


class _PlainDescent(Optimizer):
    """theta <- theta - lr * g: the rule the transform contract runs transforms under."""

    def __init__(self, lr: float = 0.1, *, transforms: Any = ()) -> None:
        super().__init__(lr=lr, transforms=transforms)

    def hyperparameters(self) -> dict[str, Any]:
        return {"lr": self.lr}

    def init_slots(self, param: Parameter) -> dict[str, Any]:
        return {}

    def update(self, value: Any, grad: Any, slots: Any, *, step: int, hp: Any) -> None:
        value -= hp["lr"] * grad


# Raised and documented under the module that exports it.
ConformanceError.__module__ = "neuroback.testing.conformance"
