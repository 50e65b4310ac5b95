"""The Optimizer interface: hyperparameters first, parameters bound later.

An optimizer is built from hyperparameters alone (so a config file can build
it), then :meth:`Optimizer.bind` attaches a model's named parameters. Each
:meth:`~Optimizer.step` runs the user's gradient transforms on the raw
gradients, in order, and then the optimizer's own update rule. The Trainer
calls :meth:`~Optimizer.zero_grad`; ``step`` does not.

**Parameter groups** (:mod:`neuroback.optimizer_groups`) give the parameters that
dotted-name patterns select other hyperparameters (a group scales the learning rate with
``lr_scale``, so a schedule moves every group). On a device, a step whose gradients are
not finite is undone where it ran (:mod:`neuroback.optimizer_undo`); a saved state is
checked completely before any of it is applied (:mod:`neuroback.optimizer_state`).
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from . import checks
from .backend import Array, Backend, BackendLike, get_backend
from .errors import NotBoundError
from .flat_buffers import FlatLayout, pack
from .kernels import scratch_session
from .layer import Layer
from .optimizer_groups import assign_groups, check_group, group_hyperparameters
from .optimizer_state import capture_state, stage_state
from .optimizer_undo import StepSnapshot
from .parameter import Parameter, realize_gradients
from .step_plan import StepPlan, make_plan
from .transform import GradientTransform, chain
from .tree import is_array as _is_array
from .tree import leaves as _leaves
from .tree import replace_leaves as _replace_leaves

__all__ = ["Optimizer"]


#: What ``with`` enters when an update needs no scratch session.
_NO_SESSION = contextlib.nullcontext()


def _check_lr(lr: Any) -> float:
    return checks.non_negative(lr, "lr")


class Optimizer(ABC):
    """Base class of optimizers.

    A subclass stores its hyperparameters as plain Python floats (so float32
    stays float32 under NumPy 2's promotion rules), lists them in
    :meth:`hyperparameters` under the names of its constructor arguments (the
    optimizer is rebuilt from them: for configs, and to validate group overrides
    and saved state with the constructor's own checks), and implements
    :meth:`init_slots` (per-parameter state such as momentum buffers) and
    :meth:`update` (the rule, in place).
    """

    #: Slots that :meth:`update` creates on its own after :meth:`bind` (SGD's
    #: ``velocity``, made at the first step), each shaped like its parameter. A saved
    #: state may hold them or not; its other slots must be those :meth:`init_slots` made.
    lazy_slots: ClassVar[frozenset[str]] = frozenset()

    #: Whether :meth:`update` is element-wise: each element of the result depends only
    #: on the same element of the value, gradient and slots, with one step and one set
    #: of hyperparameters per group, and every slot is shaped like its parameter. Then
    #: :meth:`bind` packs each group into flat buffers and :meth:`step` calls
    #: :meth:`update` once per group and dtype, on the flat arrays: the same numbers,
    #: bit for bit, in one call instead of one per parameter
    #: (:mod:`neuroback.flat_buffers`). Leave it ``False`` for a rule that looks across
    #: elements (a norm, a matrix factorization, per-parameter scalars).
    elementwise: ClassVar[bool] = False

    def __init__(
        self,
        *,
        lr: float,
        transforms: Iterable[GradientTransform] = (),
        groups: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self._lr = _check_lr(lr)
        self.transforms: tuple[GradientTransform, ...] = tuple(transforms)
        self._chain = chain(*self.transforms)
        self.groups: tuple[dict[str, Any], ...] = tuple(check_group(g) for g in groups)
        self._group_of: dict[str, int] = {}  # parameter name -> group index (-1: defaults)
        self._params: dict[str, Parameter] = {}
        self._slots: dict[str, dict[str, Array]] = {}
        self._param_steps: dict[str, int] = {}  # updates each parameter has received
        self._transform_state: Any = None
        self._flat: FlatLayout | None = None  # the packed layout (element-wise rules)
        self._plan: StepPlan | None = None  # what the next steps reuse (neuroback.step_plan)
        #: (hyperparameters(), a copy of the groups, the read-only per-group mappings)
        self._per_group: (
            tuple[dict[str, Any], tuple[dict[str, Any], ...], list[Mapping[str, Any]]] | None
        ) = None
        self._backend: Backend | None = None
        self._model: Layer | None = None
        self._skipped: Any = 0  # a host int, or a 0-d device count read only when asked
        #: Number of updates applied (or skipped as non-finite) since :meth:`bind`.
        self.step_count: int = 0

    # -- what a subclass writes ----------------------------------------------
    @abstractmethod
    def hyperparameters(self) -> dict[str, Any]:
        """Hyperparameters by name, ``lr`` included (plain Python values)."""

    @abstractmethod
    def init_slots(self, param: Parameter) -> dict[str, Array]:
        """Per-parameter state (e.g. ``{"velocity": zeros}``), on the parameter's backend."""

    @abstractmethod
    def update(
        self,
        value: Array,
        grad: Array,
        slots: dict[str, Array],
        *,
        step: int,
        hp: Mapping[str, Any],
    ) -> None:
        """Apply the update rule to ``value`` in place.

        ``step`` counts this parameter's updates from 1 (a frozen parameter's count
        does not advance); ``hp`` holds the hyperparameters in force for
        this parameter (its group's overrides applied, ``lr`` already scaled), read-only.
        ``grad`` is the gradient after the transforms, often the parameter's own ``.grad``
        buffer: read it, do not keep a reference to it across steps (the next backward
        writes into it), and do not rely on writing into it (a step undone on a device
        restores values and slots, not gradients).
        """

    def check_slot(self, slot: str, value: np.ndarray) -> str | None:
        """Say what is wrong with a loaded slot's values, or return ``None`` if it may resume.

        Called by :meth:`load_state_dict` for each saved slot, after the generic checks
        (name, shape, finite) and before anything is applied, with a host array in the
        slot's dtype. Override it where the rule needs more: Adam's ``exp_avg_sq`` is a
        running mean of squares and cannot be negative (its square root would be NaN).
        The returned text completes "<key> must ...", e.g. ``"be >= 0, got -1.0"``.
        """
        return None

    # -- hyperparameters -----------------------------------------------------
    @property
    def lr(self) -> float:
        """The learning rate: a plain float, mutable (schedules change it)."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _check_lr(value)

    def config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this optimizer (transforms as specs)."""
        from .config import to_spec

        out = dict(self.hyperparameters())
        if self.transforms:
            out["transforms"] = [to_spec(t) for t in self.transforms]
        if self.groups:
            out["groups"] = [dict(g) for g in self.groups]
        return out

    @classmethod
    def example(cls) -> Optimizer:
        """An instance for the conformance kit (default: every argument at its default)."""
        return cls()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Optimizer:
        from .config import build

        kwargs = dict(config)
        if "transforms" in kwargs:
            specs = kwargs["transforms"]
            if not isinstance(specs, list | tuple):
                raise TypeError(
                    f"{cls.__name__} 'transforms' must be a list of transform specs, got {specs!r}."
                )
            kwargs["transforms"] = [build("transforms", s) for s in specs]
        return cls(**kwargs)

    # -- binding and stepping ------------------------------------------------
    def bind(self, model: Layer | Mapping[str, Parameter]) -> Optimizer:
        """Attach the parameters of ``model`` (a Layer, or a mapping of name to Parameter).

        Resets the optimizer state. Bind after moving the model to its backend.
        Returns ``self`` so ``opt = SGD(lr=0.1).bind(model)`` reads naturally.
        """
        if isinstance(model, Layer):
            params = model.named_parameters()
        elif isinstance(model, Mapping):
            params = dict(model)
            bad = [k for k, v in params.items() if not isinstance(v, Parameter)]
            if bad:
                raise TypeError(f"bind() needs Parameter values; entries {bad} are not Parameters.")
        else:
            raise TypeError(
                "bind() takes a Layer or a mapping of name to Parameter, "
                f"got {type(model).__name__}."
            )
        if not params:
            raise ValueError(
                f"{type(self).__name__}.bind: the model has no parameters to optimize."
            )
        backends = {p.backend.name for p in params.values()}
        if len(backends) > 1:
            raise ValueError(
                f"Parameters live on several backends {sorted(backends)}; move the model to one "
                f"with model.to(...) before binding."
            )
        self._group_of = assign_groups(self, params)
        self._params = params
        self._backend = next(iter(params.values())).backend
        self._slots = {name: self.init_slots(p) for name, p in params.items()}
        self._param_steps = dict.fromkeys(params, 0)
        self._transform_state = self._chain.init(
            {n: p.value for n, p in params.items()}, backend=self._backend
        )
        self._model = model if isinstance(model, Layer) else None
        self._skipped = 0
        self.step_count = 0
        self._flat = None
        self._plan = None
        self._per_group = None
        if self.elementwise:
            self._flat_layout({n: p for n, p in params.items() if p.trainable})
        return self

    def _flat_layout(self, active: Mapping[str, Parameter]) -> FlatLayout | None:
        """The packed layout for ``active`` (packing it if it has gone stale), or ``None``
        where this step takes the per-parameter path (a rule that is not element-wise,
        unequal step counts within a group, slots that cannot be packed)."""
        if not self.elementwise or not active:
            return None
        flat = self._flat
        if flat is None or not flat.valid(tuple(active), self._slots):
            backend = self._backend
            if backend is None:
                return None
            flat = self._flat = pack(backend, active, self._group_of, self._slots)
            if flat is None:
                return None
        steps = self._param_steps
        for group in flat.groups:
            first = steps[group.names[0]]
            if any(steps[n] != first for n in group.names):
                return None
        return flat

    def param_hyperparameters(self, name: str) -> dict[str, Any]:
        """The hyperparameters in force for the bound parameter ``name`` (groups applied)."""
        self._require_bound("param_hyperparameters")
        if name not in self._group_of:
            raise KeyError(f"No bound parameter {name!r}; the names are {list(self._group_of)}.")
        return group_hyperparameters(self.hyperparameters(), self.groups)[self._group_of[name]]

    @property
    def transform_state(self) -> Any:
        """The state of the gradient-transform chain (a tuple, one entry per transform)."""
        return self._transform_state

    @property
    def backend(self) -> Backend:
        """The backend of the bound parameters."""
        backend = self._backend
        if backend is not None and self._params:  # bound: the common case, read per update
            return backend
        return self._require_bound("backend")

    @property
    def bound(self) -> bool:
        return bool(self._params)

    @property
    def bound_model(self) -> Layer | None:
        """The model of the last :meth:`bind` (``None`` if unbound or bound to a mapping)."""
        return self._model

    @property
    def skipped_steps_raw(self) -> Any:
        """:attr:`skipped_steps` as kept: a host int, or a 0-d device array (not read)."""
        return self._skipped

    @property
    def skipped_steps(self) -> int:
        """Steps skipped because a gradient was NaN or infinite (on a GPU: a device read)."""
        if isinstance(self._skipped, int):
            return self._skipped
        return int(self._require_bound("skipped_steps").to_host(self._skipped))

    @property
    def params(self) -> dict[str, Parameter]:
        """The bound parameters by dotted name."""
        return dict(self._params)

    def _require_bound(self, what: str) -> Backend:
        if not self._params or self._backend is None:
            raise NotBoundError(
                f"{type(self).__name__}.{what}() was called before bind(). Call "
                f"optimizer.bind(model) first (the Trainer does this for you)."
            )
        return self._backend

    def step(self, *, skip_nonfinite: bool = True, also_finite: Iterable[Array] = ()) -> None:
        """Transform the gradients, then update every trainable parameter in place.

        With ``skip_nonfinite`` (the default), a step whose gradients (or any array of
        ``also_finite``, such as the loss) hold a NaN or an infinity changes nothing (see
        :meth:`try_step`, which also says whether the update was applied).
        """
        self.try_step(skip_nonfinite=skip_nonfinite, also_finite=also_finite)

    def try_step(self, *, skip_nonfinite: bool = True, also_finite: Iterable[Array] = ()) -> Any:
        """Transform the gradients, then update every trainable parameter in place.

        With ``skip_nonfinite`` (the default), a step whose gradients hold a NaN or an
        infinity changes nothing: values, slots and transform state stay as they were.
        ``also_finite`` adds arrays that must be finite too for the update to apply (the
        Trainer passes the losses of the update's micro-batches: an infinite loss with
        finite gradients is a step on a diverged objective). A skipped step still counts
        as a step (:attr:`step_count` and the per-parameter counts advance) and is counted
        in :attr:`skipped_steps`. Where host reads are free (NumPy) the check is read on
        the host; on a device the update is computed and then undone on the device where
        the check failed, so Python never waits for it (except once, at a step that
        creates a slot, such as SGD's first momentum step).

        Returns whether the update was applied: a bool on the host, a 0-d boolean array
        on a device (read it only when a sync is acceptable).
        """
        backend = self._backend
        if backend is None or not self._params:
            backend = self._require_bound("step")  # raises
        plan = self._plan
        if plan is None or plan.generation != Parameter._generation:  # plan.current()
            plan = self._plan = self._make_plan()
        if self.transforms or plan.flat is None:  # a lazily zero gradient is filled
            grads = {n: p.grad for n, p in plan.active.items()}
        else:  # the update reads the flat buffers, not this mapping: only fill them
            grads = {}
            realize_gradients(plan.params)
        if not skip_nonfinite:
            self._apply(plan, grads, backend)
            return True
        # packed: one reduction per flat buffer, not one per parameter
        ok = backend.all_finite([*plan.checked, *also_finite])
        if backend.host_reads_are_free:
            if bool(ok):
                self._apply(plan, grads, backend)
                return True
            self._skip(plan.active)
            return False
        # on a device: update, then put back on the device what a non-finite step changed
        # (neuroback.optimizer_undo)
        before = StepSnapshot(plan.active, self._slots, self._transform_state)
        self._apply(plan, grads, backend)
        self._transform_state, self._skipped = before.restore_unless(
            ok, self._slots, self._transform_state, self._skipped, backend
        )
        if before.dropped_slots:  # the plan's layout held the slots just removed
            self._plan = None
        return ok

    def _make_plan(self) -> StepPlan:
        """A new :class:`~neuroback.step_plan.StepPlan`: the trainable parameters, packed
        first where the rule is element-wise and the layout went stale (packing gives the
        parameters new storage). An element-wise rule that could not pack this time is
        planned again at the next step, as its parameters may pack then."""
        active = {n: p for n, p in self._params.items() if p.trainable}
        flat = self._flat_layout(active) if self.elementwise else None
        return make_plan(active, flat, cacheable=flat is not None or not self.elementwise)

    def _group_hyperparameters(self) -> list[Mapping[str, Any]]:
        """The hyperparameters in force per group, read-only; remade only when
        :meth:`hyperparameters` or the groups changed since the last step (a schedule
        moved ``lr``)."""
        defaults, groups = self.hyperparameters(), self.groups
        cached = self._per_group
        if cached is not None and cached[0] == defaults and cached[1] == groups:
            return cached[2]
        per_group: list[Mapping[str, Any]] = [
            MappingProxyType(hp) for hp in group_hyperparameters(defaults, groups)
        ]
        # copies: a subclass may return the same dict every time, changed in place
        self._per_group = (dict(defaults), tuple(dict(g) for g in groups), per_group)
        return per_group

    def _apply(self, plan: StepPlan, grads: dict[str, Array], backend: Backend) -> None:
        """Transforms, then the rule: on the plan's flat buffers, or per parameter on
        ``grads`` (every active gradient; empty where the flat path needs none)."""
        active, flat = plan.active, plan.flat
        if self.transforms:
            values = {n: p.value for n, p in active.items()}
            transformed, self._transform_state = self._chain.update(
                grads, self._transform_state, values, backend=backend
            )
            if flat is not None and any(transformed[n] is not g for n, g in grads.items()):
                # a transform returned new arrays, which are not in the buffers: this step
                # runs per parameter, and may create slots outside them, so the next
                # step plans again (and packs the new slots)
                flat = None
                self._plan = None
            grads = transformed
        self.step_count += 1
        # read-only: every parameter of a group shares its mapping during a step
        per_group = self._group_hyperparameters()
        param_steps = self._param_steps
        # the update kernels share one temporary, released when the step ends (memory
        # peaks in the forward and backward passes, where it is not held); no array
        # here is large enough for a kernel's scratch to be lent: no session
        with scratch_session() if plan.needs_scratch else _NO_SESSION:
            if flat is not None:
                for group in flat.groups:  # one call per group and dtype
                    step = param_steps[group.names[0]] + 1
                    for name in group.names:
                        param_steps[name] = step
                    hp = per_group[group.group]
                    self.update(group.values, group.grads, group.slots, step=step, hp=hp)
                    if len(group.slots) != len(group.slot_views):
                        group.adopt_new_slots(self._slots)
                return
            group_of = self._group_of
            for name, param in active.items():
                param_steps[name] += 1  # a frozen parameter's count waits, as in PyTorch
                self.update(
                    param.value,
                    grads[name],
                    self._slots[name],
                    step=param_steps[name],
                    hp=per_group[group_of[name]],
                )

    def _skip(self, active: Mapping[str, Parameter]) -> None:
        self.step_count += 1
        for name in active:
            self._param_steps[name] += 1
        self._skipped += 1

    def to(self, backend: BackendLike) -> Optimizer:
        """Move the optimizer's state (slots, transform state, skip count) to ``backend``.

        Move the model first (``model.to``): the bound parameters must already live
        there. Returns ``self``.
        """
        current = self._require_bound("to")
        target = get_backend(backend)
        elsewhere = sorted(n for n, p in self._params.items() if p.backend is not target)
        if elsewhere:
            raise ValueError(
                f"{type(self).__name__}.to({target.name!r}): the bound parameters {elsewhere} "
                f"live on another backend. Move the model first: model.to({target.name!r})."
            )
        if target is current:
            return self

        def move(value: Any) -> Any:
            return target.asarray(current.to_host(value)) if _is_array(value) else value

        self._slots = {n: {k: move(v) for k, v in s.items()} for n, s in self._slots.items()}
        moved = [move(leaf) for leaf in _leaves(self._transform_state)]
        self._transform_state = _replace_leaves(self._transform_state, iter(moved))
        if not isinstance(self._skipped, int):
            self._skipped = int(current.to_host(self._skipped))
        self._backend = target
        self._flat = None  # packed again, on the new backend, at the next step
        self._plan = None
        return self

    def zero_grad(self) -> None:
        """Clear the gradients of every bound parameter."""
        self._require_bound("zero_grad")
        for param in self._params.values():
            param.zero_grad()

    # -- persistence ---------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Host copies of everything needed to resume exactly: hyperparameters, step, slots."""
        backend = self._require_bound("state_dict")
        return capture_state(self, backend, param_steps=self._param_steps, slots=self._slots)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` output into the bound optimizer.

        Every entry is validated first (:func:`neuroback.optimizer_state.stage_state`:
        type, hyperparameters, parameter names, step counts, slot names, shapes and
        finiteness, transform state), so a state that is refused changes nothing. Raises
        ``ValueError`` naming the key, what was expected and what was found.
        """
        backend = self._require_bound("load_state_dict")
        staged = stage_state(self, state, current_slots=self._slots)
        # everything checked: apply
        staged.write_slots(self._slots, backend)
        self._plan = None  # a lazy slot may have been added or removed
        for key, value in staged.hyperparameters.items():
            setattr(self, key, value)
        self.step_count = staged.step_count
        self._param_steps = dict(staged.param_steps)
        self._transform_state = staged.restored_transform_state(self._transform_state, backend)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        if self.transforms:
            args += f", transforms={list(self.transforms)!r}"
        if self.groups:
            args += f", groups={list(self.groups)!r}"
        return f"{type(self).__name__}({args})"
