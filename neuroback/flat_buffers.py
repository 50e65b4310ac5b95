r"""One flat buffer per parameter group: an element-wise update rule in one call.

An element-wise rule (SGD, Adam, ...) computes every element of a parameter from the
same element of its gradient and slots, with the same hyperparameters and step for a
whole group:

.. math::

    \theta_i \leftarrow u(\theta_i, g_i, s_i;\ \eta, t) \quad \text{for every element } i

so running :math:`u` once over the concatenation of a group's parameters gives the same
numbers, bit for bit, as running it parameter by parameter, at the cost of one call
instead of one per parameter (for a small model, most of an update's time is the
Python around each call, not the arithmetic).

:class:`FlatLayout` makes that concatenation free: each group's parameter values,
gradients and slots move into one contiguous 1-d buffer each, and every
:class:`~neuroback.Parameter` keeps its identity, its array now a view of its slice
(:meth:`Parameter._adopt_storage`, the one sanctioned rebinding besides moving
backends). Backward passes write into the views, so the buffers are always current.

The layout is checked before each use (:meth:`FlatLayout.valid`): a parameter moved to
another backend or bound by another optimizer, a slot replaced by
``load_state_dict``, or step counts that differ within a group (after a freeze)
send that step down the per-parameter path, and the optimizer packs again when it can.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .backend import Array, Backend
from .parameter import Parameter

__all__ = ["FlatGroup", "FlatLayout", "pack"]


@dataclass
class FlatGroup:
    """The parameters of one hyperparameter group and dtype, packed into flat buffers."""

    #: Index of the optimizer's hyperparameter group (``-1``: the defaults).
    group: int
    names: tuple[str, ...]
    params: tuple[Parameter, ...]
    #: ``(offset, size, shape)`` of each parameter's slice, in ``names`` order.
    slices: tuple[tuple[int, int, tuple[int, ...]], ...]
    values: Array
    grads: Array
    value_views: tuple[Array, ...]
    grad_views: tuple[Array, ...]
    #: Flat slot buffers by slot name, and each parameter's view of them.
    slots: dict[str, Array] = field(default_factory=dict)
    slot_views: dict[str, tuple[Array, ...]] = field(default_factory=dict)

    def views_of(self, flat: Array) -> tuple[Array, ...]:
        """Each parameter's view of a flat array laid out like :attr:`values`."""
        return tuple(flat[o : o + n].reshape(shape) for o, n, shape in self.slices)

    def adopt_new_slots(self, per_param_slots: Mapping[str, dict[str, Array]]) -> None:
        """After an update created slots in :attr:`slots` (SGD's velocity at its first
        step), hand each parameter its view of them."""
        for key, flat in self.slots.items():
            if key not in self.slot_views:
                views = self.views_of(flat)
                self.slot_views[key] = views
                for name, view in zip(self.names, views, strict=True):
                    per_param_slots[name][key] = view

    def valid(self, slots: Mapping[str, Mapping[str, Array]]) -> bool:
        """Whether every parameter and slot still lives in this group's buffers."""
        for i, param in enumerate(self.params):
            if param._value is not self.value_views[i] or param._grad is not self.grad_views[i]:
                return False
            mine = slots[self.names[i]]
            if len(mine) != len(self.slot_views):
                return False
            for key, views in self.slot_views.items():
                if mine.get(key) is not views[i]:
                    return False
        return True


@dataclass
class FlatLayout:
    """The flat groups of one optimizer, for one set of trainable parameters."""

    active: tuple[str, ...]
    groups: tuple[FlatGroup, ...]

    def valid(self, active: Sequence[str], slots: Mapping[str, Mapping[str, Array]]) -> bool:
        return tuple(active) == self.active and all(g.valid(slots) for g in self.groups)


def pack(
    backend: Backend,
    active: Mapping[str, Parameter],
    group_of: Mapping[str, int],
    slots: dict[str, dict[str, Array]],
) -> FlatLayout | None:
    """Move the active parameters (and their slots) into flat buffers, one per group
    and dtype; returns ``None`` (nothing moved) where the rule's slots are not all
    parameter-shaped arrays with one set of names per group."""
    xp = backend.xp
    by_key: dict[tuple[int, Any], list[str]] = {}
    for name, param in active.items():
        by_key.setdefault((group_of[name], param.dtype), []).append(name)
    plans = []
    for (group, dtype), names in by_key.items():
        slot_names = set(slots[names[0]])
        for name in names:
            param = active[name]
            mine = slots[name]
            if set(mine) != slot_names or param.backend is not backend:
                return None
            for value in mine.values():
                if not backend.is_native(value) or value.shape != param._value.shape:
                    return None
                if value.dtype != dtype:
                    return None
        plans.append((group, dtype, names, sorted(slot_names)))
    groups = []
    for group, dtype, names, keys in plans:
        params = tuple(active[n] for n in names)
        slices = []
        offset = 0
        for param in params:
            slices.append((offset, param.size, param.shape))
            offset += param.size
        values = xp.empty(offset, dtype=dtype)
        grads = xp.empty(offset, dtype=dtype)
        flat = FlatGroup(group, tuple(names), params, tuple(slices), values, grads, (), ())
        flat.value_views = flat.views_of(values)
        flat.grad_views = flat.views_of(grads)
        for key in keys:
            flat.slots[key] = xp.empty(offset, dtype=dtype)
            flat.slot_views[key] = flat.views_of(flat.slots[key])
        for i, (name, param) in enumerate(zip(names, params, strict=True)):
            flat.value_views[i][...] = param._value
            flat.grad_views[i][...] = param._grad  # a lazily zero gradient stays lazy
            param._adopt_storage(flat.value_views[i], flat.grad_views[i])
            for key in keys:
                flat.slot_views[key][i][...] = slots[name][key]
                slots[name][key] = flat.slot_views[key][i]
        groups.append(flat)
    return FlatLayout(tuple(active), tuple(groups))
