r"""An optimizer's step plan: what one update needs that stays the same from step to step.

Every :meth:`~neuroback.Optimizer.try_step` needs the trainable parameters, their packed
layout (:mod:`neuroback.flat_buffers`) after checking that every parameter and slot
still lives in it, the arrays the non-finite guard reduces, and whether the update's
kernels need a scratch session. Recomputing them costs a small model a tenth of its step
(about 7 microseconds of checks for four parameters), yet they change only when

* a parameter gets new storage or its ``trainable`` flag changes: any of these advances
  :meth:`Parameter.generation() <neuroback.Parameter.generation>`, a counter shared by
  every parameter, which the plan records when it is made;
* the optimizer's own slots are replaced or given new keys from outside the update
  (:meth:`~neuroback.Optimizer.bind`, :meth:`~neuroback.Optimizer.to`,
  :meth:`~neuroback.Optimizer.load_state_dict`, an undone first step on a device): the
  optimizer drops its plan there.

So a step compares one integer and reuses the plan; anything else makes a new one. A
plan that must be re-checked at every step (an element-wise rule that could not pack its
parameters this time, and may at the next step) is made with ``generation=None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .backend import Array
from .flat_buffers import FlatLayout
from .kernels import SMALL_SCRATCH
from .parameter import Parameter

__all__ = ["StepPlan", "make_plan"]


@dataclass(frozen=True, slots=True)
class StepPlan:
    """One optimizer's plan for its next steps (see the module docstring)."""

    #: :meth:`Parameter.generation` when the plan was made; ``None``: good for one step.
    generation: int | None
    #: The trainable bound parameters by name, in binding order.
    active: Mapping[str, Parameter]
    #: ``active``'s parameters, in the same order.
    params: tuple[Parameter, ...]
    #: The packed layout the update runs on, or ``None`` for the per-parameter path.
    flat: FlatLayout | None
    #: What the non-finite guard reduces: one flat gradient buffer per group and dtype,
    #: else each trainable parameter's gradient.
    checked: tuple[Array, ...]
    #: Whether any array the update sees is large enough for
    #: :func:`~neuroback.kernels.scratch_like` to lend scratch (else no session is opened).
    needs_scratch: bool

    def current(self) -> bool:
        """Whether the plan still holds for the next step."""
        return self.generation is not None and self.generation == Parameter._generation


def make_plan(
    active: Mapping[str, Parameter], flat: FlatLayout | None, *, cacheable: bool
) -> StepPlan:
    """The plan for ``active`` on ``flat`` (``None``: per parameter), recording the
    parameters' generation now (after any packing) when ``cacheable``."""
    params = tuple(active.values())
    if flat is not None:
        checked: tuple[Array, ...] = tuple(g.grads for g in flat.groups)
        largest = max((int(g.values.size) for g in flat.groups), default=0)
    else:
        checked = tuple(p.grad for p in params)
        largest = max((p.size for p in params), default=0)
    return StepPlan(
        generation=Parameter.generation() if cacheable else None,
        active=active,
        params=params,
        flat=flat,
        checked=checked,
        needs_scratch=largest >= SMALL_SCRATCH,
    )
