"""An optimizer's step plan (neuroback.step_plan) is reused while it holds, and remade
after every change it depends on: each test makes that change between two steps of a
packed optimizer that has already planned, and compares with what the change means
(the same numbers as a fresh optimizer, a frozen parameter left alone)."""

from __future__ import annotations

import numpy as np
import pytest

import neuroback as nb
from neuroback import Parameter


def _model(seed: int = 0) -> nb.Sequential:
    nb.seed(seed)
    return nb.Sequential(
        nb.layers.Dense(3, 4, dtype="float64"),
        nb.layers.ReLU(),
        nb.layers.Dense(4, 2, dtype="float64"),
    )


def _batch(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(6, 3)), rng.normal(size=(6, 2))


def _backward(model: nb.Layer) -> None:
    x, y = _batch()
    pred, backward = model.forward(x, train=True)
    _, dpred = nb.losses.MSE().forward(pred, y)
    backward(dpred, input_grad=False)


def _step(model: nb.Layer, opt: nb.Optimizer) -> None:
    _backward(model)
    opt.step()
    opt.zero_grad()


def test_the_plan_is_reused_until_a_parameter_changes() -> None:
    model = _model()
    opt = nb.optimizers.SGD(lr=0.1).bind(model)
    _step(model, opt)
    plan = opt._plan
    assert plan is not None and plan.current()
    _step(model, opt)
    assert opt._plan is plan  # nothing changed: the same plan
    before = Parameter.generation()
    model[0].W.trainable = True  # already trainable: not a change
    assert Parameter.generation() == before and plan.current()
    model[0].W.trainable = False
    assert Parameter.generation() > before and not plan.current()


def test_freezing_between_steps_leaves_the_frozen_parameter_alone() -> None:
    model = _model()
    opt = nb.optimizers.SGD(lr=0.1).bind(model)
    _step(model, opt)  # planned with every parameter active
    model.freeze("0.*")
    frozen = model[0].W.value.copy()
    moving = model[2].W.value.copy()
    _step(model, opt)
    np.testing.assert_array_equal(model[0].W.value, frozen)
    assert not np.array_equal(model[2].W.value, moving)
    assert list(opt._plan.active) == ["2.W", "2.b"]
    model.unfreeze("0.*")
    _step(model, opt)
    assert not np.array_equal(model[0].W.value, frozen)


def test_a_second_optimizer_packing_the_same_parameters_is_seen_by_the_first() -> None:
    model, twin = _model(), _model()
    first = nb.optimizers.Adam(lr=0.01).bind(model)
    reference = nb.optimizers.Adam(lr=0.01).bind(twin)
    _step(model, first)
    _step(twin, reference)
    nb.optimizers.Adam(lr=0.01).bind(model)  # moves the parameters into its own buffers
    _step(model, first)  # must update the parameters where they live now
    _step(twin, reference)
    for name, param in model.named_parameters().items():
        np.testing.assert_array_equal(param.value, twin.named_parameters()[name].value)


def test_loading_a_state_without_a_lazy_slot_replans_the_first_step() -> None:
    """SGD's velocity is created at the first momentum step: a state saved before it
    removes the velocity, and the next step is a first step again (velocity = gradient)."""
    model, twin = _model(), _model()
    opt = nb.optimizers.SGD(lr=0.1, momentum=0.9).bind(model)
    # bound first: binding packs parameters, which would make every plan stale
    reference = nb.optimizers.SGD(lr=0.1, momentum=0.9).bind(twin)
    fresh_state, fresh_weights = opt.state_dict(), model.state_dict()
    for _ in range(3):
        _step(model, opt)  # planned, with the velocity in the packed buffers
    opt.load_state_dict(fresh_state)
    model.load_state_dict(fresh_weights)
    _step(model, opt)
    _step(twin, reference)
    for name, param in model.named_parameters().items():
        np.testing.assert_array_equal(param.value, twin.named_parameters()[name].value)


def test_moving_the_model_away_and_back_is_seen_by_the_optimizer() -> None:
    """``model.to`` gives the parameters new storage even when it comes back to NumPy:
    the optimizer, not moved, must update them there and not its old buffers."""
    import neuroback.testing.strict  # noqa: F401  (registers the "strict" backend)

    model, twin = _model(), _model()
    opt = nb.optimizers.SGD(lr=0.1).bind(model)
    reference = nb.optimizers.SGD(lr=0.1).bind(twin)
    _step(model, opt)
    _step(twin, reference)
    model.to("strict")
    model.to("numpy")
    _step(model, opt)
    _step(twin, reference)
    for name, param in model.named_parameters().items():
        np.testing.assert_array_equal(param.value, twin.named_parameters()[name].value)


def test_a_learning_rate_change_between_steps_is_used() -> None:
    model, twin = _model(), _model()
    opt = nb.optimizers.SGD(lr=0.1).bind(model)
    reference = nb.optimizers.SGD(lr=0.1).bind(twin)
    _step(model, opt)
    _step(twin, reference)
    opt.lr = 0.5  # a schedule's change: the cached per-group hyperparameters must follow
    reference.lr = 0.5
    before = model[0].W.value.copy()
    _step(model, opt)
    _step(twin, reference)
    np.testing.assert_array_equal(model[0].W.value, twin[0].W.value)
    assert not np.array_equal(model[0].W.value, before)


def test_a_group_changed_in_place_between_steps_is_used() -> None:
    model = _model()
    opt = nb.optimizers.SGD(lr=0.1, groups=[{"params": "0.*", "lr_scale": 1.0}]).bind(model)
    _step(model, opt)
    opt.groups[0]["lr_scale"] = 0.0  # the first layer stops moving
    frozen = model[0].W.value.copy()
    _step(model, opt)
    np.testing.assert_array_equal(model[0].W.value, frozen)


@pytest.mark.parametrize("rule", ["SGD", "Adam"])
def test_a_rule_that_is_not_elementwise_plans_once_too(rule: str) -> None:
    base = getattr(nb.optimizers, rule)
    per_parameter = type(f"PerParameter{rule}", (base,), {"elementwise": False})
    model = _model()
    opt = per_parameter(lr=0.01).bind(model)
    _step(model, opt)
    plan = opt._plan
    assert plan.flat is None and plan.current()
    _step(model, opt)
    assert opt._plan is plan


def test_a_parameter_without_a_gradient_this_step_is_not_moved_by_last_steps() -> None:
    """After ``zero_grad`` a gradient is zero lazily: its buffer still holds the last
    step's numbers. A packed update reads the buffers, so the step must clear them first."""
    model = _model()
    opt = nb.optimizers.SGD(lr=0.1).bind(model)
    _step(model, opt)  # every gradient buffer now holds that step's numbers
    kept = model[0].W.value.copy()
    model[2].W.accumulate(np.ones_like(model[2].W.value))  # only the last layer this time
    opt.step()
    np.testing.assert_array_equal(model[0].W.value, kept)
    np.testing.assert_array_equal(model[0].W.grad, 0.0)


class _SometimesNew(nb.GradientTransform):
    """Returns new arrays (copies) at every other step, the gradients themselves between."""

    def init(self, params: object, *, backend: object) -> int:
        return 0

    def update(self, grads: dict, state: int, params: object, *, backend: object) -> tuple:
        if state % 2 == 0:
            return {n: g * 1.0 for n, g in grads.items()}, state + 1
        return grads, state + 1


def test_momentum_survives_a_transform_that_returns_new_arrays_at_some_steps() -> None:
    """A step whose transform returns new arrays runs per parameter and creates the
    velocity outside the packed buffers; the next step must pack it, not start over."""
    model, twin = _model(), _model()
    opt = nb.optimizers.SGD(lr=0.1, momentum=0.9, transforms=[_SometimesNew()]).bind(model)
    per_parameter = type("PerParameterSGD", (nb.optimizers.SGD,), {"elementwise": False})
    reference = per_parameter(lr=0.1, momentum=0.9, transforms=[_SometimesNew()]).bind(twin)
    for _ in range(4):
        _step(model, opt)
        _step(twin, reference)
        for name, param in model.named_parameters().items():
            np.testing.assert_array_equal(param.value, twin.named_parameters()[name].value)


def test_hyperparameters_changed_in_a_dict_the_optimizer_returns_again_are_used() -> None:
    class OneDict(nb.optimizers.SGD):
        """Returns the same dict every time, updated in place (allowed by the contract)."""

        def hyperparameters(self) -> dict:
            hp = self.__dict__.setdefault("_hp", {})
            hp.update(super().hyperparameters())
            return hp

    model = _model()
    opt = OneDict(lr=1.0, groups=[{"params": "0.*", "lr_scale": 1.0}]).bind(model)
    _step(model, opt)
    opt.lr = 0.0
    kept = {k: p.value.copy() for k, p in model.named_parameters().items()}
    _step(model, opt)
    for name, param in model.named_parameters().items():
        np.testing.assert_array_equal(param.value, kept[name], err_msg=name)


@pytest.mark.parametrize("elementwise", [True, False])
def test_rebinding_to_another_model_with_the_same_names_updates_the_new_one(
    elementwise: bool,
) -> None:
    rule = type("Rule", (nb.optimizers.SGD,), {"elementwise": elementwise})
    old, new = _model(seed=0), _model(seed=1)
    opt = rule(lr=0.1).bind(old)
    _step(old, opt)
    old_values = {k: p.value.copy() for k, p in old.named_parameters().items()}
    new_values = {k: p.value.copy() for k, p in new.named_parameters().items()}
    opt.bind(new)
    _step(new, opt)
    for name, param in old.named_parameters().items():
        np.testing.assert_array_equal(param.value, old_values[name], err_msg=name)
    assert all(
        not np.array_equal(p.value, new_values[k]) for k, p in new.named_parameters().items()
    )


@pytest.mark.parametrize("size", [100, 1 << 20])
def test_mse_keeps_its_accuracy_at_every_size(size: int) -> None:
    """Small outputs sum the squares with one dot product, large ones pairwise: both
    within a few float32 roundings of the float64 value."""
    rng = np.random.default_rng(0)
    pred = rng.normal(size=(size // 4, 4)).astype(np.float32)
    target = rng.normal(size=(size // 4, 4)).astype(np.float32)
    value, _ = nb.losses.MSE().forward(pred, target)
    exact = np.mean((pred.astype(np.float64) - target.astype(np.float64)) ** 2)
    assert value.dtype == np.float32 and value.shape == ()
    assert abs(float(value) - exact) <= 1e-6 * exact
