r"""Undoing, on a device, an optimizer step whose gradients were not finite.

Where host reads are free (NumPy) the optimizer reads its non-finite guard on the host and
does not run a rejected update at all. On a device, reading the guard's flag ``ok`` (a 0-d
boolean array) would make Python wait for the step, so
:meth:`Optimizer.try_step <neuroback.Optimizer.try_step>` runs the update whatever the flag
and then selects, on the device, between what the step made and what was there before:

.. math::

    x \leftarrow \begin{cases} x_\text{after} & \text{if ok} \\
    x_\text{before} & \text{otherwise} \end{cases}

for every value, slot and array leaf of the transform state, and the count of skipped
steps grows by :math:`1 - \mathrm{ok}`, on the device too. :class:`StepSnapshot` holds
the ``before`` copies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .backend import Array, Backend
from .parameter import Parameter
from .tree import is_array, leaves, replace_leaves

__all__ = ["StepSnapshot"]


class StepSnapshot:
    """Copies of what an optimizer step may change, taken before the step.

    Values, slots and the transform state's arrays are copied (a transform may change its
    state in place); :meth:`restore_unless` writes them back where the step is rejected.
    """

    __slots__ = ("_active", "_slots", "_transform_leaves", "_values", "dropped_slots")

    def __init__(
        self,
        active: Mapping[str, Parameter],
        slots: Mapping[str, Mapping[str, Array]],
        transform_state: Any,
    ) -> None:
        self._active = active
        self._values = {n: p.value.copy() for n, p in active.items()}
        self._slots = {n: {k: v.copy() for k, v in slots[n].items()} for n in active}
        self._transform_leaves = [
            leaf.copy() if is_array(leaf) else leaf for leaf in leaves(transform_state)
        ]
        #: Whether :meth:`restore_unless` removed slots the step had created.
        self.dropped_slots = False

    def restore_unless(
        self,
        ok: Array,
        slots: Mapping[str, dict[str, Array]],
        transform_state: Any,
        skipped: Any,
        backend: Backend,
    ) -> tuple[Any, Any]:
        """Put back on the device, where ``ok`` is false, what the step changed.

        ``slots`` (the optimizer's, after the step) are restored in place. Returns the
        transform state to keep and the skip count (``skipped``, a host int or a 0-d
        device count) plus one where ``ok`` is false, as a 0-d device array.

        A slot this step created (SGD's velocity, at its first momentum step) cannot be
        un-created on the device, so such a step reads ``ok`` once and, if the step was
        skipped, removes the new slot: the next step is then a first step on every
        backend, as on the host. Non-array transform state cannot be selected on the
        device and takes the new value.
        """
        xp = backend.xp
        bad = ~ok
        created = {n: set(slots[n]) - set(self._slots[n]) for n in self._active}
        drop_created = any(created.values()) and not bool(backend.to_host(ok))
        self.dropped_slots = drop_created
        for name, param in self._active.items():
            xp.copyto(param.value, self._values[name], where=bad)
            saved = self._slots[name]
            for key in created[name] if drop_created else ():
                del slots[name][key]
            for key, slot in slots[name].items():
                if key in saved:
                    xp.copyto(slot, saved[key], where=bad)
        old_leaves = self._transform_leaves
        new_leaves = leaves(transform_state)
        if len(new_leaves) == len(old_leaves):
            merged = [
                xp.where(ok, new, old) if is_array(new) and is_array(old) else new
                for new, old in zip(new_leaves, old_leaves, strict=True)
            ]
            transform_state = replace_leaves(transform_state, iter(merged))
        count = xp.asarray(skipped) if isinstance(skipped, int) else skipped
        return transform_state, count + bad.astype(np.int64)
