"""An optimizer's saved state: written as host copies, validated and staged before any
of it is applied.

:meth:`Optimizer.state_dict <neuroback.Optimizer.state_dict>` returns
:func:`capture_state`: host copies of everything needed to resume exactly.
:meth:`Optimizer.load_state_dict <neuroback.Optimizer.load_state_dict>` hands the
saved dictionary to :func:`stage_state`, which checks every entry against the bound
optimizer and returns the values to apply (a :class:`StagedState`): coerced
hyperparameters, step counts, and host arrays already cast to their slots' dtypes.
Staging changes nothing, so a state that fails any check leaves the optimizer exactly as
it was. Every rejection is a ``ValueError`` (a :class:`~neuroback.errors.ShapeError` for
a wrong shape) naming the key, what was expected and what was found.

What a state must hold (exactly these keys, as :meth:`~neuroback.Optimizer.state_dict`
writes them):

``type``
    the optimizer's class name, the same as the bound optimizer's;
``hyperparameters``
    every hyperparameter by name, each accepted by the optimizer's own constructor;
``step_count``
    a non-negative integer;
``param_steps``
    a non-negative integer per bound parameter, at most ``step_count``;
``slots``
    per bound parameter, a mapping of slot name to a finite real array of the slot's
    shape, accepted by the optimizer's :meth:`~neuroback.Optimizer.check_slot` (Adam:
    ``exp_avg_sq >= 0``). The slots :meth:`~neuroback.Optimizer.bind` created
    (:meth:`~neuroback.Optimizer.init_slots`) must be present; the slots an update rule
    creates later (:attr:`~neuroback.Optimizer.lazy_slots`, parameter-shaped) may be;
    any other name is refused;
``transform_state``
    the leaves of the transform chain's state, as many as this optimizer's transforms
    hold, each array of the same shape and a compatible dtype, each plain value of the
    same kind. Finiteness is not required here: a transform may record a non-finite
    measurement (the last global norm), and it is the transform's to interpret.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .backend import Array, Backend
from .errors import ShapeError
from .tree import is_array, leaves, replace_leaves

if TYPE_CHECKING:
    from .optimizer import Optimizer

__all__ = ["STATE_KEYS", "StagedState", "capture_state", "stage_state"]

#: The keys of an optimizer state, in the order they are checked.
STATE_KEYS = ("type", "hyperparameters", "slots", "step_count", "param_steps", "transform_state")

_SAME_TRANSFORMS = "Resume with the same transforms, in the same order."

# the array kinds a numeric slot may be read from: floating, signed and unsigned integers
_NUMERIC_KINDS = "fiu"


@dataclass(frozen=True)
class StagedState:
    """A validated state, ready to apply: nothing here refers to the saved objects."""

    #: Hyperparameters as the optimizer's constructor coerced them.
    hyperparameters: dict[str, Any]
    step_count: int
    param_steps: dict[str, int]
    #: Host arrays by parameter name and slot name, in the slot's dtype.
    slots: dict[str, dict[str, np.ndarray]]
    #: The transform state's leaves: host arrays for array leaves, plain values otherwise.
    transform_leaves: list[Any]

    def write_slots(self, slots: Mapping[str, dict[str, Array]], backend: Backend) -> None:
        """Write the staged slots into the optimizer's ``slots`` (by parameter name), in
        place: each array keeps its storage, and the lazy slots become those the state has."""
        for pname, saved in self.slots.items():
            current = slots[pname]
            for key, host in saved.items():
                if key in current:
                    current[key][...] = backend.asarray(host)
                else:  # a lazily created slot (SGD's velocity after its first step)
                    current[key] = backend.asarray(host)
            for key in set(current) - set(saved):
                del current[key]  # a lazy slot the saved state does not have yet

    def restored_transform_state(self, like: Any, backend: Backend) -> Any:
        """The staged transform state, structured as ``like`` (the current one), its
        arrays on ``backend``."""
        restored = [
            backend.asarray(v) if isinstance(v, np.ndarray) else v for v in self.transform_leaves
        ]
        return replace_leaves(like, iter(restored))


def capture_state(
    optimizer: Optimizer,
    backend: Backend,
    *,
    param_steps: Mapping[str, int],
    slots: Mapping[str, Mapping[str, Array]],
) -> dict[str, Any]:
    """What :meth:`Optimizer.state_dict <neuroback.Optimizer.state_dict>` returns: the
    bound ``optimizer``'s state under the keys of :data:`STATE_KEYS`, every array a host
    copy. ``param_steps`` and ``slots`` are the optimizer's, by parameter name."""
    return {
        "type": type(optimizer).__name__,
        "hyperparameters": dict(optimizer.hyperparameters()),
        "step_count": optimizer.step_count,
        "param_steps": dict(param_steps),
        "slots": {
            name: {k: np.array(backend.to_host(v), copy=True) for k, v in per_param.items()}
            for name, per_param in slots.items()
        },
        "transform_state": [
            np.array(backend.to_host(leaf), copy=True) if is_array(leaf) else leaf
            for leaf in leaves(optimizer.transform_state)
        ],
    }


class _Checker:
    """Builds the messages: what was wrong (the key), what was expected, what was found."""

    def __init__(self, optimizer: Optimizer) -> None:
        self.name = type(optimizer).__name__
        self.fix = f"Pass the dictionary {self.name}.state_dict() returned, unchanged."

    def fail(
        self,
        key: str,
        expected: str,
        found: Any,
        *,
        fix: str | None = None,
        error: type[ValueError] = ValueError,
        shown: str | None = None,
    ) -> ValueError:
        """``found`` is described briefly, unless ``shown`` says what was found."""
        return error(
            f"Cannot load this state into {self.name}: {key} must be {expected}, got "
            f"{shown or _describe(found)}. {fix or self.fix}"
        )

    def mapping(self, value: Any, key: str, expected: str) -> Mapping[Any, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(key, expected, value)
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise self.fail(
                key, f"{expected} with string keys", bad[0], shown=f"the key {bad[0]!r}"
            )
        return value

    def names(self, value: Mapping[Any, Any], what: str, expected: list[str], fix: str) -> None:
        """Refuse a mapping whose keys are not exactly ``expected`` (``what`` says whose)."""
        missing = [k for k in expected if k not in value]
        unexpected = sorted(repr(k) for k in value if k not in expected)
        if missing or unexpected:
            raise ValueError(
                f"Cannot load this state into {self.name}: {what}: missing {missing}, "
                f"unexpected [{', '.join(unexpected)}]. {fix}"
            )

    def count(self, value: Any, key: str, *, most: int | None = None) -> int:
        integral = isinstance(value, int | np.integer) and not isinstance(value, bool)
        if not integral or value < 0:
            raise self.fail(key, "a non-negative integer", value)
        if most is not None and value > most:
            raise self.fail(
                key,
                f"at most state['step_count'] ({most}): a parameter cannot have had more "
                f"updates than the optimizer",
                value,
            )
        return int(value)


def stage_state(
    optimizer: Optimizer, state: Any, *, current_slots: Mapping[str, Mapping[str, Any]]
) -> StagedState:
    """Check ``state`` against the bound ``optimizer`` and return what to apply.

    ``current_slots`` are the optimizer's slots as they are now (by parameter name):
    the non-lazy ones give the required slot names, shapes and dtypes. Raises
    ``ValueError`` on the first problem found; changes nothing.
    """
    check = _Checker(optimizer)
    name = check.name
    if not isinstance(state, Mapping):
        raise ValueError(
            f"Cannot load this state into {name}: an optimizer state is a mapping with the keys "
            f"{list(STATE_KEYS)}, got {_describe(state)}. {check.fix}"
        )
    check.names(
        state,
        f"its keys are not those of an optimizer state {list(STATE_KEYS)}",
        list(STATE_KEYS),
        check.fix,
    )
    saved_type = state["type"]
    if not isinstance(saved_type, str):
        raise check.fail("state['type']", f"the optimizer's class name {name!r}", saved_type)
    if saved_type != name:
        raise ValueError(
            f"Cannot load this state into {name}: state['type'] must be {name!r}, got "
            f"{saved_type!r}: the state was saved from another kind of optimizer. Build "
            f"{saved_type}(...) and bind it to resume it."
        )
    hyperparameters = _hyperparameters(optimizer, check, state["hyperparameters"])
    params = optimizer.params
    slots = check.mapping(
        state["slots"], "state['slots']", "a mapping of parameter name to its slots"
    )
    check.names(
        slots,
        "the parameter names in state['slots'] differ from the bound parameters",
        list(params),
        "Was it saved from a different model? Load it into an optimizer bound to that model.",
    )
    step_count = check.count(state["step_count"], "state['step_count']")
    saved_steps = check.mapping(
        state["param_steps"], "state['param_steps']", "a mapping of parameter name to a count"
    )
    check.names(
        saved_steps,
        "the parameter names in state['param_steps'] differ from the bound parameters",
        list(params),
        check.fix,
    )
    param_steps = {
        p: check.count(saved_steps[p], f"state['param_steps'][{p!r}]", most=step_count)
        for p in params
    }
    lazy = frozenset(type(optimizer).lazy_slots)
    staged_slots: dict[str, dict[str, np.ndarray]] = {}
    for pname, param in params.items():
        key = f"state['slots'][{pname!r}]"
        saved = check.mapping(slots[pname], key, "a mapping of slot name to array")
        expected = {
            k: (tuple(v.shape), np.dtype(v.dtype))
            for k, v in current_slots[pname].items()
            if k not in lazy
        }
        for k in sorted(lazy):
            expected.setdefault(k, (tuple(param.shape), np.dtype(param.dtype)))
        required = [k for k in expected if k not in lazy]
        missing = [k for k in required if k not in saved]
        if missing:
            raise ValueError(
                f"Cannot load this state into {name}: {key} lacks the slot {missing[0]!r}, which "
                f"{name} keeps for every parameter (its slots: {sorted(expected)}). {check.fix}"
            )
        unknown = sorted(set(saved) - set(expected))
        if unknown:
            raise ValueError(
                f"Cannot load this state into {name}: {key} has the slot {unknown[0]!r}, which "
                f"{name} does not keep (its slots: {sorted(expected)}; an optimizer whose "
                f"update creates slots declares them in lazy_slots). {check.fix}"
            )
        staged_slots[pname] = {
            k: _slot_array(optimizer, check, f"{key}[{k!r}]", k, saved[k], *expected[k])
            for k in saved
        }
    transform_leaves = _transform_leaves(optimizer, check, state["transform_state"])
    return StagedState(hyperparameters, step_count, param_steps, staged_slots, transform_leaves)


def _settable(optimizer: Optimizer, key: str) -> bool:
    """Whether ``optimizer.<key> = value`` sets what :meth:`hyperparameters` reads: an
    instance attribute of that name, or a class attribute with a setter (a property)."""
    declared = inspect.getattr_static(type(optimizer), key, None)
    if isinstance(declared, property):
        return declared.fset is not None
    if hasattr(type(declared), "__set__"):  # another data descriptor
        return True
    return key in getattr(optimizer, "__dict__", {})


def _hyperparameters(optimizer: Optimizer, check: _Checker, saved: Any) -> dict[str, Any]:
    name = check.name
    saved = check.mapping(
        saved, "state['hyperparameters']", "a mapping of hyperparameter name to value"
    )
    current = optimizer.hyperparameters()
    hidden = [k for k in current if not _settable(optimizer, k)]
    if hidden:
        raise TypeError(
            f"Cannot load a state into {name}: its hyperparameters {hidden} are not attributes "
            f"of that name, so they cannot be restored (the state sets optimizer.<name> = "
            f"value). Keep each hyperparameter in an attribute named as its constructor "
            f"argument (self.{hidden[0]} = {hidden[0]}), or give it a property with a setter, "
            f"as Optimizer.lr has."
        )
    unknown = sorted(set(saved) - set(current))
    if unknown:
        raise ValueError(
            f"Cannot load this state into {name}: state['hyperparameters'] names {unknown}, "
            f"which are not hyperparameters of {name} ({sorted(current)}). Was it saved from "
            f"another optimizer?"
        )
    missing = [k for k in current if k not in saved]
    if missing:
        raise ValueError(
            f"Cannot load this state into {name}: state['hyperparameters'] lacks {missing} "
            f"(expected all of {sorted(current)}). {check.fix}"
        )
    try:  # the constructor's own checks, without touching this optimizer
        probe = type(optimizer).from_config({**current, **saved})
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"Cannot load this state into {name}: state['hyperparameters'] holds a value "
            f"{name} does not accept: {exc} {check.fix}"
        ) from exc
    coerced = probe.hyperparameters()
    return {k: coerced[k] for k in current}


def _slot_array(
    optimizer: Optimizer,
    check: _Checker,
    key: str,
    slot: str,
    raw: Any,
    shape: tuple[int, ...],
    dtype: np.dtype[Any],
) -> np.ndarray:
    """A saved slot as a host array of ``dtype``: real, of ``shape``, finite, and accepted
    by the optimizer's own :meth:`~neuroback.Optimizer.check_slot`."""
    expected = f"a finite real array of shape {shape}"
    host = _host_array(optimizer, raw)
    if host is None or host.dtype.kind not in _NUMERIC_KINDS:
        raise check.fail(key, expected, raw)
    if tuple(host.shape) != shape:
        raise check.fail(
            key, expected, host, fix="Was it saved from a different model?", error=ShapeError
        )
    with np.errstate(over="ignore", invalid="ignore"):
        cast = host.astype(dtype, copy=True)
    bad = ~np.isfinite(cast)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        value = host[index].item()
        as_dtype = "" if not math.isfinite(value) else f" (not finite as {dtype.name})"
        raise ValueError(
            f"Cannot load this state into {check.name}: {key} must hold finite numbers, got "
            f"{value!r}{as_dtype} at index {index}. A state that went non-finite cannot "
            f"resume; load an earlier one."
        )
    problem = optimizer.check_slot(slot, cast)
    if problem is not None:
        raise ValueError(
            f"Cannot load this state into {check.name}: {key} must {problem}. Was the state "
            f"edited? {check.fix}"
        )
    return cast


def _transform_leaves(optimizer: Optimizer, check: _Checker, saved: Any) -> list[Any]:
    key = "state['transform_state']"
    current = leaves(optimizer.transform_state)
    if not isinstance(saved, list | tuple):
        raise check.fail(key, "a list of the transform state's leaves", saved)
    if len(saved) != len(current):
        raise ValueError(
            f"Cannot load this state into {check.name}: {key} has {len(saved)} entries but "
            f"this optimizer's transforms {list(optimizer.transforms)} hold {len(current)}. "
            f"{_SAME_TRANSFORMS}"
        )
    return [
        _transform_leaf(optimizer, check, f"{key}[{i}]", cur, raw)
        for i, (cur, raw) in enumerate(zip(current, saved, strict=True))
    ]


def _transform_leaf(optimizer: Optimizer, check: _Checker, key: str, cur: Any, raw: Any) -> Any:
    if is_array(cur):
        dtype = np.dtype(cur.dtype)
        shape = tuple(cur.shape)
        kinds = {"f": "fiu", "i": "iu", "u": "iu", "b": "b"}.get(dtype.kind, dtype.kind)
        host = _host_array(optimizer, raw)
        if host is None or host.dtype.kind not in kinds or tuple(host.shape) != shape:
            raise check.fail(
                key,
                f"an array of shape {shape} holding {dtype.name} values",
                raw if host is None or host.dtype.kind not in kinds else host,
                fix=_SAME_TRANSFORMS,
            )
        with np.errstate(over="ignore", invalid="ignore"):
            return host.astype(dtype, copy=True)
    if isinstance(cur, bool):
        ok, expected = isinstance(raw, bool | np.bool_), "True or False"
        value = bool(raw) if ok else None
    elif isinstance(cur, int):
        ok = isinstance(raw, int | np.integer) and not isinstance(raw, bool)
        expected, value = "an integer", int(raw) if ok else None
    elif isinstance(cur, float):
        ok = isinstance(raw, int | float | np.integer | np.floating) and not isinstance(raw, bool)
        expected, value = "a number", float(raw) if ok else None
    else:
        ok, expected, value = type(raw) is type(cur), f"a {type(cur).__name__}", raw
    if not ok:
        raise check.fail(key, expected, raw, fix=_SAME_TRANSFORMS)
    return value


def _host_array(optimizer: Optimizer, raw: Any) -> np.ndarray | None:
    """``raw`` as a NumPy array (a host copy of a backend array), or None if it is not
    array-like (a string, a mapping, None, ragged lists)."""
    if raw is None or isinstance(raw, str | bytes | Mapping):
        return None
    backend = optimizer.backend
    try:
        if backend.is_native(raw) and not isinstance(raw, np.ndarray):
            return np.asarray(backend.to_host(raw))
        return np.asarray(raw)
    except (TypeError, ValueError):
        return None


def _describe(value: Any) -> str:
    """What was found, briefly: an array by shape and dtype, anything else by a short repr."""
    if is_array(value) and not isinstance(value, np.generic):
        return f"an array of shape {tuple(value.shape)} and dtype {value.dtype}"
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"
