r"""The Schedule base class: a learning-rate factor as a function of time.

A schedule is a function :math:`s: \{0, 1, 2, \dots\} \to [0, \infty)`. The
``LearningRateScheduler`` callback sets, at the start of every epoch or step :math:`t`
(counted from 0),

.. math::

   \eta_t = \eta_\text{base} \cdot s(t),

so :math:`s(t) = 1` keeps the base rate. Schedules are a registered kind like layers and
losses: plugins ship them through the hook ``neuroback_register_schedules(register)``,
they appear in :mod:`neuroback.schedules`, and a config names them with the standard spec
``{"type": "Cosine", "config": {"total": 50}}`` (:func:`neuroback.build`,
:func:`neuroback.to_spec`).

>>> import neuroback as nb
>>> class Halving(nb.Schedule):     # s(t) = 2^-t
...     def __call__(self, t):
...         return 0.5**t
>>> [Halving()(t) for t in range(4)]
[1.0, 0.5, 0.25, 0.125]
>>> Halving()
Halving()
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError

__all__ = ["Schedule", "as_schedule"]


class Schedule(ABC):
    r"""Base class of learning-rate schedules: ``schedule(t) -> factor``.

    Subclasses implement :meth:`__call__`, returning a real number :math:`s(t) \ge 0` for
    every integer :math:`t \ge 0` (the same value every time for the same :math:`t`:
    a schedule keeps no state between calls, so a resumed run gets the same rates), and
    :meth:`config` returning the constructor arguments (JSON/TOML values only; a nested
    schedule is written as its spec, see :func:`neuroback.to_spec`).
    """

    @abstractmethod
    def __call__(self, t: int) -> float:
        """The factor :math:`s(t) \\ge 0` that multiplies the base learning rate at ``t``."""

    def config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this schedule (JSON/TOML-friendly values)."""
        return {}

    @classmethod
    def example(cls) -> Schedule:
        """An instance for the conformance kit (default: every argument at its default).

        Override it when the constructor has required arguments.
        """
        try:
            return cls()
        except TypeError as exc:
            raise NotImplementedError(
                f"{cls.__name__} declares no example() and cannot be built without arguments "
                f"({exc}). Define a classmethod example() returning an instance, so the "
                f"conformance kit (neuroback.testing) can check it."
            ) from exc

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Schedule:
        """Rebuild a schedule from :meth:`config`."""
        return cls(**dict(config))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


def as_schedule(spec: Any, *, what: str = "schedule") -> Schedule:
    """A :class:`Schedule` from an instance, a registered name, or a spec.

    ``spec`` is a :class:`Schedule` (returned as is), a name (``"Constant"``,
    ``"neuroback:Cosine"``: built with no arguments), or the standard spec
    ``{"type": ..., "config": {...}}``. The spec form ``{"name": ...}`` of neuroback
    0.1 is refused with an error that shows the new form. ``what`` names the argument
    in error messages.

    >>> as_schedule({"type": "StepDecay", "config": {"step_size": 2, "gamma": 0.5}})
    StepDecay(step_size=2, gamma=0.5)
    >>> as_schedule({"name": "Cosine", "config": {"total": 10}})
    Traceback (most recent call last):
        ...
    neuroback.errors.ConfigError: The schedule spec {'name': 'Cosine', 'config': {'total': 10}}
    uses the old form {"name": ...}; schedules are now built from the standard spec
    {"type": ..., "config": {...}}, like every other component: write {'type': 'Cosine',
    'config': {'total': 10}}.
    """
    from .config import build

    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, type):
        raise ConfigError(
            f"The {what} must be a schedule instance, a name or a spec, got the class "
            f"{spec.__name__}; call it with its arguments, e.g. {spec.__name__}(...)."
        )
    if isinstance(spec, Mapping) and "name" in spec and "type" not in spec:
        new = {"type": spec["name"], **{k: v for k, v in spec.items() if k != "name"}}
        raise ConfigError(
            f'The {what} spec {dict(spec)!r} uses the old form {{"name": ...}}; schedules '
            f'are now built from the standard spec {{"type": ..., "config": {{...}}}}, '
            f"like every other component: write {new!r}."
        )
    if isinstance(spec, str | Mapping):
        schedule = build("schedules", spec)
        if not isinstance(schedule, Schedule):  # pragma: no cover - the registry checks bases
            raise ConfigError(f"The {what} {spec!r} did not build a Schedule: {schedule!r}.")
        return schedule
    raise ConfigError(
        f"The {what} must be a Schedule instance, a registered name (e.g. 'Constant') or a "
        f"spec {{'type': ..., 'config': {{...}}}}, got {spec!r}."
    )
