"""The Optimizer contract through SGD: binding, transforms, state, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.errors import NotBoundError


def _model() -> nb.Sequential:
    nb.seed(1)
    return nb.Sequential(
        nb.layers.Dense(3, 4, dtype="float64"),
        nb.layers.Sigmoid(),
        nb.layers.Dense(4, 2, dtype="float64"),
    )


def _train(model: nb.Layer, opt: nb.Optimizer, steps: int, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 2))
    loss = nb.losses.MSE()
    history = []
    for _ in range(steps):
        pred, backward = model.forward(x, train=True)
        value, dpred = loss.forward(pred, y)
        backward(dpred)
        opt.step()
        opt.zero_grad()
        history.append(float(value))
    return history


def test_sgd_lowers_a_quadratic() -> None:
    layer = nb.layers.Dense(1, 1, bias=False, dtype="float64", init="zeros")
    opt = nb.optimizers.SGD(lr=0.1).bind(layer)
    for _ in range(100):  # minimize (w - 3)^2
        layer.W.grad[...] = 2 * (layer.W.value - 3.0)
        opt.step()
    assert abs(layer.W.value.item() - 3.0) < 1e-6


def test_optimizer_is_built_from_hyperparameters_then_bound() -> None:
    opt = nb.optimizers.SGD(lr=0.1, momentum=0.9)
    assert not opt.bound
    with pytest.raises(NotBoundError, match=r"before bind\(\).*optimizer\.bind\(model\)"):
        opt.step()
    model = _model()
    assert opt.bind(model) is opt
    assert list(opt.params) == list(model.named_parameters())


def test_step_does_not_zero_gradients_and_zero_grad_does() -> None:
    model = _model()
    opt = nb.optimizers.SGD(lr=0.1).bind(model)
    _, backward = model.forward(np.ones((2, 3)), train=True)
    backward(np.ones((2, 2)))
    opt.step()
    assert any(np.any(p.grad != 0) for p in model.parameters())
    opt.zero_grad()
    assert all(not np.any(p.grad) for p in model.parameters())


def test_learning_rate_is_mutable_and_validated() -> None:
    opt = nb.optimizers.SGD(lr=0.1)
    opt.lr = 0.05
    assert opt.lr == 0.05 and isinstance(opt.lr, float)
    for bad in (-1.0, float("nan"), "0.1", True):
        with pytest.raises(ValueError, match="lr must be a non-negative number"):
            opt.lr = bad  # type: ignore[assignment]


def test_invalid_hyperparameters() -> None:
    with pytest.raises(ValueError, match="momentum must be a non-negative"):
        nb.optimizers.SGD(lr=0.1, momentum=-0.5)
    with pytest.raises(ValueError, match="Nesterov momentum needs momentum > 0"):
        nb.optimizers.SGD(lr=0.1, nesterov=True)


class Scale(nb.GradientTransform):
    """Multiply every gradient by ``factor``, counting calls in its state."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def init(self, params: Any, *, backend: Any) -> dict[str, Any]:
        return {"calls": np.zeros(())}

    def update(self, grads: Any, state: Any, params: Any, *, backend: Any) -> Any:
        return {k: g * self.factor for k, g in grads.items()}, {"calls": state["calls"] + 1}

    def config(self) -> dict[str, Any]:
        return {"factor": self.factor}


def test_transforms_run_on_raw_gradients_before_the_rule() -> None:
    scaled, plain = _model(), _model()
    opt_scaled = nb.optimizers.SGD(lr=0.1, transforms=[Scale(0.5)]).bind(scaled)
    opt_plain = nb.optimizers.SGD(lr=0.05).bind(plain)
    _train(scaled, opt_scaled, 5)
    _train(plain, opt_plain, 5)
    for a, b in zip(scaled.parameters(), plain.parameters(), strict=True):
        np.testing.assert_allclose(a.value, b.value, rtol=1e-12)
    assert opt_scaled.state_dict()["transform_state"][0] == 5


def test_transforms_compose_in_order() -> None:
    class AddOne(Scale):
        def update(self, grads: Any, state: Any, params: Any, *, backend: Any) -> Any:
            return {k: g + 1.0 for k, g in grads.items()}, state

    grads = {"w": np.array([1.0])}
    out, _ = nb.chain(AddOne(1.0), Scale(2.0)).update(
        grads, ({}, {"calls": 0}), {}, backend=nb.get_backend("numpy")
    )
    assert out["w"].item() == 4.0  # (1 + 1) * 2, not 1 * 2 + 1
    with pytest.raises(TypeError, match="GradientTransform objects"):
        nb.chain("clip")  # type: ignore[arg-type]


def test_state_dict_round_trip_resumes_exactly() -> None:
    model_a = _model()
    opt_a = nb.optimizers.SGD(lr=0.1, momentum=0.9, nesterov=True).bind(model_a)
    _train(model_a, opt_a, 3)
    saved_weights = {k: p.value.copy() for k, p in model_a.named_parameters().items()}
    saved_state = opt_a.state_dict()
    assert set(saved_state["slots"]["0.W"]) == {"velocity"}
    continued = _train(model_a, opt_a, 4, seed=1)

    model_b = _model()
    for k, p in model_b.named_parameters().items():
        p.assign(saved_weights[k])
    opt_b = nb.optimizers.SGD(lr=0.5).bind(model_b)  # different lr: restored from the state
    opt_b.load_state_dict(saved_state)
    assert opt_b.lr == 0.1 and opt_b.step_count == 3
    resumed = _train(model_b, opt_b, 4, seed=1)
    assert resumed == continued


def test_load_state_dict_rejects_another_model() -> None:
    opt = nb.optimizers.SGD(lr=0.1).bind(_model())
    other = nb.optimizers.SGD(lr=0.1).bind(nb.layers.Dense(2, 2))
    with pytest.raises(ValueError, match=r"missing.*unexpected"):
        opt.load_state_dict(other.state_dict())


def test_sgd_config_round_trip() -> None:
    opt = nb.optimizers.SGD(lr=0.3, momentum=0.8, weight_decay=1e-4)
    spec = nb.to_spec(opt)
    assert spec == {"type": "neuroback:SGD", "config": opt.hyperparameters()}
    assert nb.build("optimizers", spec).hyperparameters() == opt.hyperparameters()


def test_bind_errors() -> None:
    with pytest.raises(ValueError, match="no parameters"):
        nb.optimizers.SGD(lr=0.1).bind(nb.layers.ReLU())
    with pytest.raises(TypeError, match="takes a Layer"):
        nb.optimizers.SGD(lr=0.1).bind([1, 2])  # type: ignore[arg-type]


def test_each_parameter_counts_its_own_steps_so_unfreezing_is_clean() -> None:
    # Adam's bias correction must use the steps a parameter was actually updated,
    # as torch.optim.Adam keeps state["step"] per parameter.
    layer = nb.layers.Dense(1, 1, dtype="float64", init="zeros")
    opt = nb.optimizers.Adam(lr=0.1).bind(layer)
    layer.freeze("b")
    for _ in range(50):
        layer.W.grad[...] = 1.0
        layer.b.grad[...] = 1.0
        opt.step()
    layer.unfreeze("b")
    layer.b.grad[...] = 1.0
    opt.step()
    assert layer.b.value.item() == pytest.approx(-0.1, rel=1e-6)  # a first Adam step: exactly lr
    state = opt.state_dict()
    assert state["param_steps"] == {"W": 51, "b": 1}


def test_load_state_dict_refuses_another_optimizer_type_and_changes_nothing() -> None:
    model = _model()
    adam = nb.optimizers.Adam(lr=0.01).bind(model)
    sgd = nb.optimizers.SGD(lr=0.1, momentum=0.9).bind(model)
    _train(model, sgd, 2)
    before = adam.state_dict()
    with pytest.raises(
        ValueError, match=r"state\['type'\] must be 'Adam', got 'SGD'.*Build SGD\(\.\.\.\)"
    ):
        adam.load_state_dict(sgd.state_dict())
    forged = {**sgd.state_dict(), "type": "Adam"}
    with pytest.raises(ValueError, match=r"\['dampening', 'momentum', 'nesterov'\], which are not"):
        adam.load_state_dict(forged)
    after = adam.state_dict()
    assert after["hyperparameters"] == before["hyperparameters"]
    assert after["step_count"] == before["step_count"]


def test_a_bad_transform_state_leaves_the_optimizer_untouched() -> None:
    model = _model()
    clipped = nb.optimizers.SGD(lr=0.1, transforms=[nb.transforms.ClipByGlobalNorm(1.0)])
    clipped.bind(model)
    plain = nb.optimizers.SGD(lr=0.3).bind(model)
    _train(model, clipped, 2)
    with pytest.raises(ValueError, match="same transforms, in the same order"):
        plain.load_state_dict(clipped.state_dict())
    assert plain.lr == 0.3 and plain.step_count == 0


def test_group_values_are_checked_like_constructor_arguments() -> None:
    model = _model()
    bad = nb.optimizers.SGD(lr=0.1, groups=[{"params": "*.b", "momentum": -1}])
    with pytest.raises(ValueError, match="group 0 has an invalid value: SGD momentum must be"):
        bad.bind(model)
    with pytest.raises(ValueError, match="use lr_scale"):
        nb.optimizers.SGD(lr=0.1, groups=[{"params": "*.b", "lr": 0.5}]).bind(model)
    coerced = nb.optimizers.SGD(lr=0.1, groups=[{"params": "*.b", "weight_decay": 1}]).bind(model)
    assert isinstance(coerced.param_hyperparameters("0.b")["weight_decay"], float)
    with pytest.raises(KeyError, match="No bound parameter 'nope'"):
        coerced.param_hyperparameters("nope")


def test_group_values_given_as_numpy_scalars_are_stored_as_plain_numbers() -> None:
    import json
    import tomllib

    import tomli_w

    opt = nb.optimizers.Adam(groups=[{"params": "*.b", "weight_decay": np.float32(0.5)}])
    config = opt.config()  # before bind: the value must already be writable
    assert type(config["groups"][0]["weight_decay"]) is float
    assert tomllib.loads(tomli_w.dumps({"c": config}))["c"] == json.loads(json.dumps(config))


def test_update_gets_a_read_only_view_of_its_hyperparameters() -> None:
    """Every parameter of a group shares one mapping in a step: a write would leak."""

    class Meddling(nb.Optimizer):
        def hyperparameters(self):
            return {"lr": self.lr}

        def init_slots(self, param):
            return {}

        def update(self, value, grad, slots, *, step, hp):
            hp["lr"] = 0.0

    layer = nb.layers.Dense(2, 2)
    opt = Meddling(lr=0.1).bind(layer)
    with pytest.raises(TypeError, match="does not support item assignment"):
        opt.step()


@pytest.mark.parametrize(
    ("shape", "dtype", "order"),
    [
        ((32, 64), "float32", "C"),  # a Dense bias gradient: the compiled loop
        ((5000, 3), "float64", "C"),
        ((1, 7), "float32", "C"),
        ((100, 1), "float32", "C"),  # one column: NumPy sums it pairwise, and runs
        ((64, 10), "float32", "F"),  # columns in memory: pairwise too, NumPy runs
        ((0, 4), "float32", "C"),  # no rows: zeros
        ((8, 3), "float16", "C"),
    ],
)
def test_a_bias_gradient_sum_gives_numpys_bits(shape: tuple, dtype: str, order: str) -> None:
    """Parameter.accumulate_sum(a, axis=0) into a zero gradient equals a.sum(axis=0) bit
    for bit, whichever way it runs (the compiled row loop takes NumPy's order), and adds
    on top of a gradient that is not zero."""
    from neuroback.parameter import Parameter

    rng = np.random.default_rng(0)
    # magnitudes over seven decades: another summation order gives other bits
    a = (rng.normal(size=shape) * 10.0 ** rng.integers(-3, 4, size=shape)).astype(dtype)
    if shape[1] > 2:
        a[:, 1] = -0.0  # NumPy starts from +0: this column sums to +0.0
        a[::3, 2] = np.nan
    a = np.asarray(a, order=order)
    param = Parameter(np.ones(shape[1], dtype), name="b", backend=nb.get_backend("numpy"))
    param.zero_grad()  # lazily zero, as after an update: the sum is written, not added
    param.accumulate_sum(a, axis=0)
    expected = a.sum(axis=0)
    assert param.grad.dtype == expected.dtype and param.grad.tobytes() == expected.tobytes()
    if shape[1] > 2 and shape[0]:
        assert not np.signbit(param.grad[1]) and np.isnan(param.grad[2])
    param.accumulate_sum(a, axis=0)
    np.testing.assert_array_equal(param.grad, expected + a.sum(axis=0))


def test_a_bias_gradient_of_the_wrong_length_is_refused_not_written_past() -> None:
    from neuroback.parameter import Parameter

    param = Parameter(np.zeros(3, np.float32), name="b", backend=nb.get_backend("numpy"))
    param.zero_grad()
    with pytest.raises(ValueError, match="could not be broadcast"):  # NumPy's own check
        param.accumulate_sum(np.ones((4, 5), np.float32), axis=0)
