"""The input-gradient request travels with the backward call; no layer object carries it.

A layer may appear twice in one model, or in two models, and a Trainer never changes
what a manual ``backward(dy)`` returns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.testing import check_layer_gradients


def _dense(seed: int) -> nb.Layer:
    return nb.layers.Dense(3, 3, dtype="float64", rng=seed)


def _shared_models() -> list[tuple[str, nb.Layer, nb.Layer]]:
    d1 = _dense(0)
    d2 = _dense(1)
    return [
        ("Sequential(Residual(d), d)", nb.Sequential(nb.layers.Residual(d1), d1), d1),
        (
            "Sequential(Sequential(d), Tanh(), d)",
            nb.Sequential(nb.Sequential(d2), nb.layers.Tanh(), d2),
            d2,
        ),
    ]


@pytest.mark.parametrize("index", [0, 1], ids=["residual-shared", "nested-shared"])
def test_a_layer_used_twice_has_gradients_equal_to_finite_differences(index: int) -> None:
    _, model, _ = _shared_models()[index]
    assert len(model.named_parameters()) == 2  # listed once: W and b of the shared layer
    x = np.random.default_rng(3).normal(size=(5, 3))
    report = check_layer_gradients(model, x, mode="exact")
    assert report.worst < 1e-6 and "input" in report.errors and len(report.errors) == 3


def _loss_of(model: nb.Layer, x: np.ndarray, y: np.ndarray) -> float:
    return float(nb.losses.MSE()(model(x), y))


@pytest.mark.parametrize("index", [0, 1], ids=["residual-shared", "nested-shared"])
def test_shared_weights_train_under_the_trainer_and_match_finite_differences(index: int) -> None:
    _, model, shared = _shared_models()[index]
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    before = shared.W.value.copy()
    # the finite-difference gradient of the loss with respect to the shared W
    eps = 1e-6
    numeric = np.zeros_like(before)
    for idx in np.ndindex(*before.shape):
        shared.W.value[idx] = before[idx] + eps
        plus = _loss_of(model, x, y)
        shared.W.value[idx] = before[idx] - eps
        minus = _loss_of(model, x, y)
        shared.W.value[idx] = before[idx]
        numeric[idx] = (plus - minus) / (2 * eps)
    trainer = nb.Trainer(model, "MSE", nb.optimizers.SGD(lr=1.0), seed=0)
    trainer.train_step(x, y)  # crashed before: the shared layer's dx was switched off
    applied = before - shared.W.value  # SGD with lr=1: the gradient itself
    np.testing.assert_allclose(applied, numeric, rtol=1e-6, atol=1e-9)


def test_a_manual_backward_after_building_a_trainer_returns_the_input_gradient() -> None:
    model = nb.Sequential(_dense(0), nb.layers.Tanh(), _dense(1))
    nb.Trainer(model, "MSE", nb.optimizers.SGD(lr=0.1), seed=0)
    x = np.random.default_rng(0).normal(size=(4, 3))
    _, backward = model.forward(x, train=True)
    dx = backward(np.ones((4, 3)))
    assert dx is not None and dx.shape == (4, 3)


def test_a_layer_shared_by_two_models_gives_each_what_it_asks_for() -> None:
    shared = _dense(0)
    first = nb.Sequential(shared, nb.layers.Tanh())
    second = nb.Sequential(_dense(1), shared)
    x = np.random.default_rng(0).normal(size=(4, 3))
    dy = np.ones((4, 3))
    _, back_first = first.forward(x, train=True)
    _, back_second = second.forward(x, train=True)
    # first asks for no dx (its caller reads none); second needs the shared layer's dx
    assert back_first(dy, input_grad=False) is None
    dx_second = back_second(dy)
    assert dx_second is not None and dx_second.shape == (4, 3)
    report = check_layer_gradients(second, x, mode="exact")
    assert report.worst < 1e-6 and "input" in report.errors


def test_input_grad_false_skips_dx_and_keeps_the_parameter_gradients() -> None:
    model = nb.Sequential(_dense(0), nb.layers.ReLU(), _dense(1))
    x = np.random.default_rng(0).normal(size=(4, 3))
    dy = np.random.default_rng(1).normal(size=(4, 3))
    _, backward = model.forward(x, train=True)
    backward(dy)
    with_dx = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    _, backward = model.forward(x, train=True)
    assert backward(dy, input_grad=False) is None
    for p, g in zip(model.parameters(), with_dx, strict=True):
        np.testing.assert_array_equal(p.grad, g)


def test_the_removed_flag_says_what_replaced_it() -> None:
    layer = _dense(0)
    with pytest.raises(AttributeError, match=r"backward\(dy, input_grad=False\)"):
        layer.needs_input_grad = False
    with pytest.raises(AttributeError, match="was removed"):
        _ = layer.needs_input_grad


def test_backward_of_none_is_a_clear_error() -> None:
    _, backward = _dense(0).forward(np.ones((2, 3)), train=True)
    with pytest.raises(TypeError, match=r"got None as the gradient dL/dy.*shape \(2, 3\)"):
        backward(None)


def test_backward_of_a_host_list_names_the_backend() -> None:
    _, backward = _dense(0).forward(np.ones((2, 3)), train=True)
    with pytest.raises(nb.errors.BackendMismatchError, match="backward of Dense"):
        backward([[1.0, 1.0, 1.0]] * 2)


class _OldStyle(nb.Layer):
    """A plugin layer whose backward predates the input_grad keyword."""

    def forward(self, x: Any, *, train: bool, rng: Any = None) -> Any:
        return 2 * x, lambda dy: 2 * dy

    def config(self) -> dict[str, Any]:
        return {}


def test_an_old_style_backward_works_where_its_input_gradient_is_needed() -> None:
    model = nb.Sequential(_dense(0), _OldStyle())
    _, backward = model.forward(np.ones((2, 3)), train=True)
    assert backward(np.ones((2, 3))).shape == (2, 3)


def test_an_old_style_backward_in_first_place_under_the_trainer_says_how_to_fix_it() -> None:
    model = nb.Sequential(_OldStyle(), _dense(0))
    trainer = nb.Trainer(model, "MSE", nb.optimizers.SGD(lr=0.1), seed=0)
    with pytest.raises(TypeError, match=r"def backward\(dy, \*, input_grad=True\)"):
        trainer.train_step(np.ones((2, 3)), np.ones((2, 3)))
