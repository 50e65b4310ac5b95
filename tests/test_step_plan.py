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
