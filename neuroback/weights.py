"""A model's weights as plain host arrays: :meth:`Layer.state_dict` and its inverse.

A *state dict* maps each dotted name (``"0.W"``, ``"2.running_mean"``) to a NumPy copy
of that parameter or non-trainable state array. A parameter or state array reached by
two names (a layer used twice in one model) is listed once, under the name met first
in the model's walk; :func:`shared_names` gives the other names, which a model file
records so that loading ties them again.

:func:`load_state_dict` checks everything before it writes anything: every name
(missing and unexpected), every shape, every dtype and every value (finite), and lists
all the mismatches in one :class:`~neuroback.errors.StateMismatchError`. A state dict
that is refused leaves the model exactly as it was.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .errors import StateMismatchError
from .parameter import Parameter

if TYPE_CHECKING:
    from .backend import Array
    from .layer import Layer

__all__ = [
    "LoadResult",
    "check_state_dict",
    "load_state_dict",
    "shared_names",
    "state_dict",
    "tie_shared",
]


class LoadResult(NamedTuple):
    """What a non-strict :meth:`~neuroback.Layer.load_state_dict` left out."""

    #: Names the model has that the state dict did not give (they kept their values).
    missing: list[str]
    #: Names the state dict gave that the model does not have (ignored).
    unexpected: list[str]


def _walk(model: Layer, prefix: str = "") -> Iterator[tuple[str, Layer, str, bool]]:
    """Every (dotted name, owning layer, local name, is_parameter), duplicates included."""
    for local in model._parameters:
        yield prefix + local, model, local, True
    for local in model._state:
        yield prefix + local, model, local, False
    for child_name, child in model.children().items():
        yield from _walk(child, f"{prefix}{child_name}.")


def _entries(model: Layer) -> tuple[dict[str, Any], dict[str, str]]:
    """The arrays by first name (Parameters or state arrays), and each alias's first name."""
    first: dict[int, str] = {}
    objects: dict[str, Any] = {}
    aliases: dict[str, str] = {}
    for name, layer, local, is_param in _walk(model):
        obj = layer._parameters[local] if is_param else layer._state[local]
        key = id(obj)
        if key in first:
            aliases[name] = first[key]
        else:
            first[key] = name
            objects[name] = obj
    return objects, aliases


def _array(obj: Any) -> Array:
    """The array of a Parameter, or a state array itself."""
    return obj.value if isinstance(obj, Parameter) else obj


def state_dict(model: Layer) -> dict[str, np.ndarray]:
    """Host copies of every parameter and state array, by dotted name (shared ones once)."""
    objects, _ = _entries(model)
    backend = model.backend
    return {
        name: np.array(backend.to_host(_array(obj)), copy=True) for name, obj in objects.items()
    }


def shared_names(model: Layer) -> dict[str, str]:
    """Each name under which an already-listed parameter or state array is met again,
    mapped to the name :func:`state_dict` lists it under (``{"2.W": "0.block.W"}``)."""
    return _entries(model)[1]


def load_state_dict(model: Layer, state: Any, *, strict: bool = True) -> LoadResult:
    """Copy ``state`` (as :func:`state_dict` returns it) into ``model``, in place.

    With ``strict`` the names must be exactly the model's; otherwise the common names
    are loaded and the others reported in the returned :class:`LoadResult`. Shapes,
    dtypes and finiteness are checked either way. Nothing is written unless everything
    passes.
    """
    problems, staged, missing, unexpected = _stage(model, state, strict=strict)
    if problems:
        raise StateMismatchError(
            f"Cannot load this state dict into {type(model).__name__} ({len(problems)} "
            f"problem(s)):\n" + "\n".join(problems) + "\nWas it saved from another "
            "architecture or dtype? Rebuild the model it came from, or cast the arrays "
            "(state[name].astype(...)) before loading."
        )
    backend = model.backend
    for obj, host in staged:
        _array(obj)[...] = backend.asarray(host)
    return LoadResult(missing, unexpected)


def check_state_dict(model: Layer, state: Any, *, source: str = "the state dict") -> list[str]:
    """The problems a strict :func:`load_state_dict` of ``state`` would report, one per
    line (an empty list: it would load); ``source`` names where ``state`` came from."""
    return _stage(model, state, strict=True, source=source)[0]


def _stage(
    model: Layer, state: Any, *, strict: bool, source: str = "the state dict"
) -> tuple[list[str], list[tuple[Any, np.ndarray]], list[str], list[str]]:
    if not isinstance(state, Mapping):
        raise StateMismatchError(
            f"A state dict is a mapping of dotted name to array (what model.state_dict() "
            f"returns), got {type(state).__name__}."
        )
    objects, aliases = _entries(model)
    given = {aliases.get(k, k) if isinstance(k, str) else k: k for k in state}
    missing = [name for name in objects if name not in given]
    unexpected = sorted(str(k) for k in given if k not in objects)
    problems: list[str] = []
    if strict:
        problems += [f"  {name}: missing from {source}" for name in missing]
        problems += [f"  {name}: not in this model" for name in unexpected]
    staged: list[tuple[Any, np.ndarray]] = []
    for name, obj in objects.items():
        if name not in given:
            continue
        raw = state[given[name]]
        target = _array(obj)
        expected = f"shape {tuple(target.shape)} {np.dtype(target.dtype).name}"
        host = _host(model, raw)
        if host is None:
            problems.append(f"  {name}: expected an array of {expected}, got {type(raw).__name__}")
            continue
        if tuple(host.shape) != tuple(target.shape) or host.dtype != np.dtype(target.dtype):
            problems.append(
                f"  {name}: expected {expected}, got shape {tuple(host.shape)} {host.dtype.name}"
            )
            continue
        if host.dtype.kind in "fc" and not np.isfinite(host).all():
            bad = int((~np.isfinite(host)).sum())
            problems.append(f"  {name}: holds {bad} NaN or infinite value(s)")
            continue
        staged.append((obj, host))
    return problems, staged, missing, unexpected


def tie_shared(model: Layer, aliases: Mapping[str, str]) -> None:
    """Make each alias name refer to the same Parameter (or state array) as its target,
    as in the model that was saved (a layer used twice).

    A layer holds its parameters in the registry :meth:`~neuroback.Layer.add_parameter`
    fills and usually in an attribute too (``self.W``); both are pointed at the shared
    object.
    """
    places = {name: (layer, local, is_param) for name, layer, local, is_param in _walk(model)}
    bad = sorted(
        f"{alias} -> {target}"
        for alias, target in aliases.items()
        if alias not in places or target not in places or places[alias][2] != places[target][2]
    )
    if bad:
        raise StateMismatchError(
            f"Cannot share these names again in {type(model).__name__}: {bad}; they are not "
            f"both parameters (or both state) of this model."
        )
    for alias, target in aliases.items():
        layer, local, is_param = places[alias]
        owner, owner_local, _ = places[target]
        table = layer._parameters if is_param else layer._state
        shared = (owner._parameters if is_param else owner._state)[owner_local]
        old = table[local]
        if tuple(old.shape) != tuple(shared.shape):
            raise StateMismatchError(
                f"Cannot share {alias} with {target}: shapes {tuple(old.shape)} and "
                f"{tuple(shared.shape)} differ."
            )
        table[local] = shared
        for attr, value in list(vars(layer).items()):
            if value is old:
                setattr(layer, attr, shared)


def _host(model: Layer, raw: Any) -> np.ndarray | None:
    if raw is None or isinstance(raw, str | bytes | Mapping):
        return None
    backend = model.backend
    try:
        if backend.is_native(raw) and not isinstance(raw, np.ndarray):
            return np.asarray(backend.to_host(raw))
        host = np.asarray(raw)
    except (TypeError, ValueError):
        return None
    return None if host.dtype == object else host
