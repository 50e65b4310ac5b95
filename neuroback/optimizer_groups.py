r"""Parameter groups: other hyperparameters for the parameters that name patterns select.

A group is a mapping with ``params`` (a dotted-name pattern, ``fnmatch`` style, or a list
of them) and hyperparameter overrides. Each parameter takes the first group that matches
it, the rest use the optimizer's own values::

    Adam(lr=1e-3, weight_decay=1e-4, groups=[
        {"params": ["*.b", "*.gamma", "*.beta"], "weight_decay": 0.0},
        {"params": "0.*", "lr_scale": 0.1},   # the first layer learns 10x slower
    ])

A group scales the learning rate with ``lr_scale`` rather than fixing its own ``lr``, so a
schedule that changes :attr:`Optimizer.lr <neuroback.Optimizer.lr>` moves every group: a
group with scale :math:`s_g` updates with

.. math::

    \eta_g = s_g \, \eta

where :math:`\eta` is the optimizer's ``lr`` (:math:`s_g = 1` when the group does not
set ``lr_scale``). The optimizer checks each group's form when it is built
(:func:`check_group`), and its values with its own constructor when it is bound
(:func:`assign_groups`); a group that takes no parameter is an error.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import checks
from .parameter import Parameter

if TYPE_CHECKING:
    from .optimizer import Optimizer

__all__ = ["assign_groups", "check_group", "group_hyperparameters"]


def check_group(group: Mapping[str, Any]) -> dict[str, Any]:
    """A group as the optimizer keeps it: its patterns as a list, plain numbers, and a
    non-negative ``lr_scale``. Raises ``ValueError`` for anything that is not a group."""
    if not isinstance(group, Mapping) or "params" not in group:
        raise ValueError(
            f"A parameter group is a mapping with a 'params' pattern (or list of patterns) and "
            f"hyperparameter overrides, e.g. {{'params': '*.b', 'weight_decay': 0.0}}; "
            f"got {group!r}."
        )
    out = dict(group)
    patterns = out["params"]
    if isinstance(patterns, str):
        patterns = [patterns]
    if not patterns or not all(isinstance(p, str) and p for p in patterns):
        raise ValueError(f"A group's 'params' must be name patterns, got {out['params']!r}.")
    out["params"] = list(patterns)
    for key, value in out.items():  # NumPy scalars become plain numbers (JSON and TOML)
        if isinstance(value, np.generic):
            out[key] = value.item()
    if "lr_scale" in out:
        out["lr_scale"] = checks.non_negative(out["lr_scale"], "lr_scale")
    return out


def assign_groups(optimizer: Optimizer, params: Mapping[str, Parameter]) -> dict[str, int]:
    """The index of the group each parameter takes (``-1``: the optimizer's own values).

    Checks every group of ``optimizer`` first: its keys must be hyperparameters of the
    optimizer (or ``lr_scale``), its values must pass the optimizer's constructor (the
    coerced values replace them in ``optimizer.groups``), and it must take at least one
    parameter that an earlier group did not.
    """
    known = set(optimizer.hyperparameters()) - {"lr"}
    for i, group in enumerate(optimizer.groups):
        unknown = set(group) - known - {"params", "lr_scale"}
        if unknown:
            hint = " (use lr_scale, a multiple of the optimizer's lr)" if "lr" in unknown else ""
            raise ValueError(
                f"Parameter group {i} sets {sorted(unknown)}, which {type(optimizer).__name__} "
                f"does not have{hint}. Allowed: {sorted(known | {'lr_scale'})}."
            )
        _validate_overrides(optimizer, i, group)
    assignment: dict[str, int] = {}
    used = [False] * len(optimizer.groups)
    for name in params:
        assignment[name] = -1
        for i, group in enumerate(optimizer.groups):
            if any(fnmatch.fnmatchcase(name, pat) for pat in group["params"]):
                assignment[name] = i
                used[i] = True
                break
    for i, was_used in enumerate(used):
        if not was_used:
            raise ValueError(
                f"Parameter group {i} (params={optimizer.groups[i]['params']}) matches no "
                f"parameter that an earlier group did not take. Names are {list(params)}."
            )
    return assignment


def _validate_overrides(optimizer: Optimizer, index: int, group: Mapping[str, Any]) -> None:
    """Check a group's values with the constructor's own rules, and keep the coerced ones."""
    overrides = {k: v for k, v in group.items() if k not in ("params", "lr_scale")}
    if not overrides:
        return
    try:
        probe = type(optimizer).from_config({**optimizer.hyperparameters(), **overrides})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Parameter group {index} has an invalid value: {exc}") from exc
    coerced = probe.hyperparameters()
    for key in overrides:
        optimizer.groups[index][key] = coerced[key]


def group_hyperparameters(
    defaults: dict[str, Any], groups: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Hyperparameters for each group, then the defaults last (index -1).

    ``defaults`` are the optimizer's own (:meth:`~neuroback.Optimizer.hyperparameters`);
    a group's overrides replace them, and its ``lr`` is ``defaults["lr"]`` times its
    ``lr_scale``. The last entry is ``defaults`` itself.
    """
    out = []
    for group in groups:
        hp = {**defaults, **{k: v for k, v in group.items() if k not in ("params", "lr_scale")}}
        hp["lr"] = defaults["lr"] * float(group.get("lr_scale", 1.0))
        out.append(hp)
    out.append(defaults)
    return out
