"""The Layer, Parameter and Sequential contracts, exercised through the built-ins."""

from __future__ import annotations

import json

import numpy as np
import pytest

import neuroback as nb
from neuroback.errors import ShapeError


def _mlp() -> nb.Sequential:
    nb.seed(0)
    return nb.Sequential(
        nb.layers.Dense(3, 4), nb.layers.ReLU(), nb.layers.Dense(4, 2), nb.layers.Sigmoid()
    )


def test_named_parameters_are_dotted_and_stable() -> None:
    model = nb.Sequential(_mlp(), nb.layers.Dense(2, 1))
    assert list(model.named_parameters()) == [
        "0.0.W",
        "0.0.b",
        "0.2.W",
        "0.2.b",
        "1.W",
        "1.b",
    ]
    assert model.num_parameters() == 3 * 4 + 4 + 4 * 2 + 2 + 2 + 1


def test_shared_parameter_is_listed_once_and_accumulates() -> None:
    dense = nb.layers.Dense(2, 2, bias=False, dtype="float64", rng=0)
    model = nb.Sequential(dense, nb.layers.ReLU(), dense)
    assert list(model.named_parameters()) == ["0.W"]
    assert model.num_parameters() == 4
    x = np.abs(np.random.default_rng(1).normal(size=(3, 2))) + 0.1
    _, backward = model.forward(x, train=True)
    backward(np.ones((3, 2)))
    # gradient from both uses: numerically, along W
    from neuroback.testing import check_layer_gradients

    model.zero_grad()
    assert check_layer_gradients(model, x, mode="exact").worst < 1e-6


def test_parameter_value_is_updated_in_place() -> None:
    layer = nb.layers.Dense(2, 2)
    storage = layer.W.value
    layer.W.assign(np.ones((2, 2)))
    assert layer.W.value is storage
    np.testing.assert_array_equal(storage, np.ones((2, 2), np.float32))
    with pytest.raises(ShapeError, match=r"shape \(3, 2\).*shape \(2, 2\)"):
        layer.W.assign(np.ones((3, 2)))
    with pytest.raises(AttributeError):
        layer.W.value = np.zeros((2, 2))  # type: ignore[misc]


def test_float32_stays_float32() -> None:
    model = _mlp()
    x = np.ones((5, 3), np.float32)
    y, backward = model.forward(x, train=True)
    assert y.dtype == np.float32
    dx = backward(np.ones_like(y))
    assert dx.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())


def test_wrong_input_shape_and_dtype_are_clear_errors() -> None:
    model = _mlp()
    with pytest.raises(ShapeError, match=r"Dense\(in_features=3.*expects 3 features.*\(5, 4\)"):
        model(np.ones((5, 4), np.float32))
    with pytest.raises(ShapeError, match=r"x\.reshape\(1, -1\)"):
        model(np.ones(3, np.float32))
    with pytest.raises(ShapeError, match=r"float32 parameters but got float64 input.*astype"):
        model(np.ones((5, 3)))
    with pytest.raises(ShapeError, match="floating-point input"):
        nb.layers.ReLU()(np.ones((2, 2), dtype=np.int64))


def test_backward_with_wrong_gradient_shape_is_a_clear_error() -> None:
    layer = nb.layers.Dense(3, 2)
    _, backward = layer.forward(np.ones((4, 3), np.float32), train=True)
    with pytest.raises(ShapeError, match=r"gradient of shape \(4, 2\), got \(4, 3\)"):
        backward(np.ones((4, 3), np.float32))


def test_two_forwards_before_backward_do_not_interfere() -> None:
    model = _mlp()
    rng = np.random.default_rng(2)
    xa, xb = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(4, 3)).astype(np.float32)
    dy = rng.normal(size=(4, 2)).astype(np.float32)

    def grads_of(x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        model.zero_grad()
        _, backward = model.forward(x, train=True)
        dx = backward(dy)
        return dx, [p.grad.copy() for p in model.parameters()]

    dx_a, g_a = grads_of(xa)
    model.zero_grad()
    _, back_a = model.forward(xa, train=True)
    _, back_b = model.forward(xb, train=True)  # a second call before the first backward
    dx_interleaved = back_a(dy)
    np.testing.assert_array_equal(dx_interleaved, dx_a)
    for p, g in zip(model.parameters(), g_a, strict=True):
        np.testing.assert_array_equal(p.grad, g)
    back_b(dy)  # and the second still works


def test_config_round_trip_through_json() -> None:
    model = _mlp()
    spec = nb.to_spec(model)
    assert spec["type"] == "neuroback:Sequential"
    rebuilt = nb.build("layers", json.loads(json.dumps(spec)))
    assert isinstance(rebuilt, nb.Sequential)
    assert nb.to_spec(rebuilt) == spec
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in model.parameters()]


def test_build_rejects_bad_specs() -> None:
    with pytest.raises(nb.errors.ConfigError, match="'type' key"):
        nb.build("layers", {"config": {}})
    with pytest.raises(nb.errors.ConfigError, match="under 'config'"):
        nb.build("layers", {"type": "Dense", "in_features": 2})
    with pytest.raises(nb.errors.ConfigError, match="Cannot build Dense"):
        nb.build("layers", {"type": "Dense", "config": {"in_features": 2, "nope": 1}})
    with pytest.raises(nb.errors.ConfigError, match="Unknown component kind"):
        nb.build("layer", "Dense")


def test_unregistered_class_cannot_be_written_to_a_config() -> None:
    class Unregistered(nb.Layer):
        def forward(self, x, *, train, rng=None):  # type: ignore[no-untyped-def]
            return x, lambda dy: dy

        def config(self):  # type: ignore[no-untyped-def]
            return {}

    with pytest.raises(nb.errors.ConfigError, match=r"neuroback\.register\(Unregistered\)"):
        nb.to_spec(Unregistered())


def test_freeze_excludes_parameters_from_updates() -> None:
    model = _mlp()
    model.freeze("0.*")
    assert model.num_parameters(trainable_only=True) == 4 * 2 + 2
    frozen_before = model[0].W.value.copy()
    opt = nb.optimizers.SGD(lr=0.1).bind(model)
    _, backward = model.forward(np.ones((2, 3), np.float32), train=True)
    backward(np.ones((2, 2), np.float32))
    trained_before = model[2].W.value.copy()
    opt.step()
    np.testing.assert_array_equal(model[0].W.value, frozen_before)
    assert np.any(model[2].W.value != trained_before)
    model.unfreeze()
    assert model.num_parameters(trainable_only=True) == model.num_parameters()
    with pytest.raises(KeyError, match="No parameter name matches"):
        model.freeze("9.*")


def test_repr_and_summary() -> None:
    model = _mlp()
    text = repr(model)
    assert text.startswith("Sequential(\n  (0): Dense(in_features=3, out_features=4")
    summary = model.summary()
    assert "Total parameters: 26 (trainable: 26)" in summary
    assert summary.splitlines()[2].split()[-1] == "16"


def test_sequential_rejects_non_layers() -> None:
    with pytest.raises(TypeError, match="Did you pass the class"):
        nb.Sequential(nb.layers.Dense)  # type: ignore[arg-type]


def test_dense_argument_errors() -> None:
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        nb.layers.Dense(0, 3)
    with pytest.raises(ValueError, match="init must be one of"):
        nb.layers.Dense(2, 3, init="uniform")
    with pytest.raises(ValueError, match="floating-point type"):
        nb.layers.Dense(2, 3, dtype="int32")


def test_seed_makes_initialization_reproducible() -> None:
    nb.seed(11)
    a = nb.layers.Dense(5, 5).W.value.copy()
    nb.seed(11)
    b = nb.layers.Dense(5, 5).W.value.copy()
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="non-negative integer"):
        nb.seed(-1)


@pytest.mark.parametrize(
    ("init", "check"),
    [
        ("he", lambda w, fi, fo: abs(w.std() - np.sqrt(2 / fi)) < 0.1 * np.sqrt(2 / fi)),
        ("xavier", lambda w, fi, fo: np.abs(w).max() <= np.sqrt(6 / (fi + fo))),
        ("zeros", lambda w, fi, fo: not w.any()),
    ],
)
def test_initializers(init: str, check) -> None:  # type: ignore[no-untyped-def]
    w = nb.layers.Dense(400, 300, init=init, rng=0, dtype="float64").W.value
    assert check(w, 400, 300)


def test_sigmoid_is_finite_and_silent_at_extremes() -> None:
    x = np.array([[-1000.0, -50.0, 0.0, 50.0, 1000.0]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y, backward = nb.layers.Sigmoid().forward(x, train=True)
        dx = backward(np.ones_like(y))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
    assert y[0, 0] == 0.0 and y[0, -1] == 1.0 and y[0, 2] == 0.5
    assert y.dtype == np.float32


def test_mse_shape_mismatch_suggests_reshape() -> None:
    with pytest.raises(ShapeError, match=r"y\.reshape\(-1, 1\)"):
        nb.losses.MSE().forward(np.ones((4, 1)), np.ones(4))


def test_unknown_state_name_lists_what_exists() -> None:
    bn = nb.layers.BatchNorm(3)
    with pytest.raises(KeyError, match=r"no state named 'running_means'.*'running_mean'"):
        bn.state("running_means")
