"""Float64 finite-difference checks of the built-in layers and losses, and of the checker."""

from __future__ import annotations

import numpy as np
import pytest

import neuroback as nb
from neuroback.testing import GradientCheckError, check_layer_gradients, check_loss_gradients


def _away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Inputs with |x| >= 0.1, so ReLU's kink is never within a probe step."""
    x = rng.uniform(0.1, 2.0, size=shape)
    return x * rng.choice([-1.0, 1.0], size=shape)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("mode", ["exact", "directions"])
def test_dense_gradients(bias: bool, mode: str) -> None:
    layer = nb.layers.Dense(4, 3, bias=bias, dtype="float64", rng=0)
    x = np.random.default_rng(1).normal(size=(5, 4))
    report = check_layer_gradients(layer, x, mode=mode)
    assert set(report.errors) == ({"input", "W", "b"} if bias else {"input", "W"})
    assert report.worst < 1e-6


@pytest.mark.parametrize("layer_name", ["ReLU", "Sigmoid"])
def test_activation_gradients_exact(layer_name: str) -> None:
    layer = nb.layers.get(layer_name)()
    x = _away_from_zero(np.random.default_rng(2), (6, 5))
    report = check_layer_gradients(layer, x, mode="exact")
    assert report.worst < 1e-6


@pytest.mark.parametrize("value", [-30.0, -12.0, -3.0])
def test_sigmoid_gradient_keeps_relative_precision_in_the_negative_tail(value: float) -> None:
    # sigma(-30) ~ 1e-13: a formula computing 1 - sigma(30) would lose every digit here.
    x = np.array([[value]])
    report = check_layer_gradients(nb.layers.Sigmoid(), x, mode="exact", atol=1e-300)
    assert report.worst < 1e-6


@pytest.mark.parametrize("value", [3.0, 12.0])
def test_sigmoid_gradient_in_the_positive_tail(value: float) -> None:
    # y is close to 1 here, so a larger step keeps the difference above rounding.
    x = np.array([[value]])
    assert check_layer_gradients(nb.layers.Sigmoid(), x, mode="exact", eps=1e-4).worst < 1e-5


def test_sequential_gradients_compose() -> None:
    nb.seed(3)
    model = nb.Sequential(
        nb.layers.Dense(3, 6, dtype="float64"),
        nb.layers.Sigmoid(),
        nb.layers.Dense(6, 4, dtype="float64"),
        nb.layers.ReLU(),
        nb.layers.Dense(4, 2, dtype="float64"),
    )
    x = np.random.default_rng(4).normal(size=(7, 3))
    report = check_layer_gradients(model, x, mode="exact", rtol=1e-4)
    assert set(report.errors) == {"input", "0.W", "0.b", "2.W", "2.b", "4.W", "4.b"}


@pytest.mark.parametrize("mode", ["exact", "directions"])
def test_mse_gradient(mode: str) -> None:
    rng = np.random.default_rng(5)
    pred, target = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    assert check_loss_gradients(nb.losses.MSE(), pred, target, mode=mode).worst < 1e-7


def test_gradient_checker_leaves_layer_untouched() -> None:
    layer = nb.layers.Dense(3, 2, dtype="float64", rng=0)
    before = layer.W.value.copy()
    layer.W.grad[...] = 7.0
    check_layer_gradients(layer, np.ones((2, 3)))
    np.testing.assert_array_equal(layer.W.value, before)
    np.testing.assert_array_equal(layer.W.grad, np.full((3, 2), 7.0))


class _SlightlyWrongDense(nb.Layer):
    """Dense whose weight gradient is off by ``factor`` (to prove the checker notices)."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor
        self.W = self.add_parameter("W", np.random.default_rng(0).normal(size=(3, 2)))

    def forward(self, x, *, train, rng=None):  # type: ignore[no-untyped-def]
        W = self.W.value

        def backward(dy, *, input_grad=True):  # type: ignore[no-untyped-def]
            self.W.accumulate(self.factor * (x.T @ dy))
            return dy @ W.T

        return x @ W, backward

    def config(self):  # type: ignore[no-untyped-def]
        return {"factor": self.factor}


@pytest.mark.parametrize("mode", ["exact", "directions"])
def test_checker_catches_a_gradient_wrong_by_a_tenth_of_a_percent(mode: str) -> None:
    x = np.random.default_rng(6).normal(size=(4, 3))
    check_layer_gradients(_SlightlyWrongDense(1.0), x, mode=mode)  # the correct one passes
    with pytest.raises(GradientCheckError, match="parameter 'W'"):
        check_layer_gradients(_SlightlyWrongDense(1.001), x, mode=mode)


def test_checker_refuses_float32() -> None:
    with pytest.raises(TypeError, match="float64"):
        check_layer_gradients(nb.layers.Dense(2, 2), np.ones((1, 2)))
