"""The schedule contract of the conformance kit: :func:`check_schedule`.

A :class:`~neuroback.Schedule` passes when

1. every factor :math:`s(t)` for :math:`t = 0, \\dots, T-1` is a real number (not a bool,
   a string, ``None`` or an array), finite and :math:`\\ge 0`;
2. it is deterministic: the same ``t`` gives the same factor, whether the times are
   visited forwards, backwards or again (a schedule keeps no state between calls, so a
   resumed run gets the same rates);
3. its ``config()`` holds only values that JSON and TOML both keep (no ``None``, string
   keys), and the spec ``to_spec(schedule)`` survives JSON and rebuilds, through the
   registry, a schedule of the same class with the same config and the same factors.

The round trip needs the class registered (by a plugin, or at run time with
:func:`neuroback.register`), as for every other kind.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from typing import Any

from ..config import build, to_spec
from ..schedule import Schedule
from ._contract_support import ConformanceError

__all__ = ["check_schedule"]


def _fail(schedule: Any, rule: str, detail: str) -> ConformanceError:
    return ConformanceError(f"{schedule!r} breaks the schedule rule '{rule}': {detail}")


def _factor(schedule: Schedule, t: int) -> float:
    value = schedule(t)
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise _fail(
            schedule,
            "a factor is a real number",
            f"s({t}) returned {value!r} ({type(value).__name__}); return a float",
        )
    factor = float(value)
    if not math.isfinite(factor) or factor < 0:
        raise _fail(schedule, "a factor is finite and >= 0", f"s({t}) = {value!r}")
    return factor


def _toml_problem(value: Any, where: str) -> str | None:
    """Why ``value`` cannot live in both JSON and TOML, or ``None`` if it can."""
    if value is None:
        return f"{where} is None (TOML has no null; leave the key out or use a value)"
    if isinstance(value, bool | int | float | str):
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{where} has the non-string key {key!r}"
            problem = _toml_problem(item, f"{where}[{key!r}]")
            if problem:
                return problem
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            problem = _toml_problem(item, f"{where}[{i}]")
            if problem:
                return problem
        return None
    return f"{where} is a {type(value).__name__}, which neither JSON nor TOML holds"


def check_schedule(schedule: type[Schedule] | Schedule, *, steps: int = 100) -> None:
    """Run the schedule contract on an instance, or on a class's ``example()``.

    Checks the factors for ``t`` in ``0 .. steps - 1`` (real, finite, >= 0), that they
    are deterministic, and that the config survives JSON (and holds nothing TOML lacks)
    and rebuilds an equal schedule through the registry. Raises
    :class:`~neuroback.testing.ConformanceError` naming the broken rule.
    """
    if isinstance(schedule, type):
        if not issubclass(schedule, Schedule):
            raise TypeError(
                f"check_schedule takes a neuroback.Schedule subclass or instance, "
                f"got the class {schedule.__name__}."
            )
        cls = schedule
        schedule = cls.example()
        if type(schedule) is not cls:
            raise _fail(
                cls.__name__,
                "example() returns an instance of its class",
                f"{cls.__name__}.example() returned {schedule!r}",
            )
    if not isinstance(schedule, Schedule):
        raise TypeError(
            f"check_schedule takes a neuroback.Schedule subclass or instance, got {schedule!r}."
        )
    times = range(steps)

    # 1. factors: real, finite, >= 0
    forward = [_factor(schedule, t) for t in times]

    # 2. deterministic: backwards and again give the same factors
    backward = [_factor(schedule, t) for t in reversed(times)][::-1]
    again = [_factor(schedule, t) for t in times]
    for t, (a, b, c) in enumerate(zip(forward, backward, again, strict=True)):
        if not a == b == c:
            raise _fail(
                schedule,
                "the same t gives the same factor",
                f"s({t}) was {a!r} forwards, {b!r} backwards and {c!r} the second time",
            )

    # 3. config: JSON and TOML values, and a round trip through the registry
    config = schedule.config()
    problem = _toml_problem(config, "config()")
    if problem:
        raise _fail(schedule, "config() holds JSON and TOML values only", problem)
    spec = to_spec(schedule)
    try:
        text = json.dumps(spec)
    except TypeError as exc:
        raise _fail(schedule, "config() is JSON-serializable", str(exc)) from exc
    rebuilt = build("schedules", json.loads(text))
    if type(rebuilt) is not type(schedule) or to_spec(rebuilt) != spec:
        raise _fail(schedule, "config() rebuilds the schedule", f"{spec} rebuilt as {rebuilt!r}")
    for t in times:
        mine, theirs = forward[t], _factor(rebuilt, t)
        if mine != theirs:
            raise _fail(
                schedule,
                "config() rebuilds an equal schedule",
                f"s({t}) = {mine!r}, but the rebuilt {rebuilt!r} gives {theirs!r}",
            )
