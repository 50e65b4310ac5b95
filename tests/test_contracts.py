"""Contract tests over every registered built-in component, driven by the registry.

Each component declares a small example of itself (``example()``); the conformance
kit runs its kind's contract on it. A test checks that the number of cases equals
the number of registered components, so nothing is skipped silently.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.plugin_system import get_registry
from neuroback.testing import (
    ConformanceError,
    GradientCheckError,
    check_component,
    check_layer,
    check_optimizer,
    check_transform,
)

BUILTINS = [c for c in get_registry().components() if c.distribution == "neuroback"]
CHECKED_KINDS = ("layers", "losses", "optimizers", "transforms", "callbacks", "metrics")
CASES = [c for c in BUILTINS if c.kind in CHECKED_KINDS]


def test_every_registered_component_has_a_contract_case() -> None:
    unchecked = [c.qualified_name for c in BUILTINS if c not in CASES]
    assert unchecked == [], f"components without a contract case: {unchecked}"
    assert len(CASES) == len(BUILTINS)
    assert len(CASES) >= 28  # the built-ins this suite was written against


@pytest.mark.parametrize("component", CASES, ids=[c.qualified_name for c in CASES])
def test_component_contract(component: Any, nb_backend: Any) -> None:
    # nb_backend runs this on NumPy, on the strict CPU backend whose arrays refuse
    # implicit NumPy conversion as CuPy's do, and on CuPy where a GPU is present.
    check_component(component.obj)


# -- the kit catches broken components --------------------------------------------------


class _BiasGradTwice(nb.Layer):
    """A Dense-like layer whose bias gradient is doubled: a classic backward bug."""

    def __init__(self, n: int = 3, dtype: str = "float64") -> None:
        super().__init__()
        self.n, self.dtype = n, dtype
        rng = np.random.default_rng(0)
        self.W = self.add_parameter("W", rng.normal(size=(n, n)).astype(dtype))
        self.b = self.add_parameter("b", np.zeros(n, dtype))

    def forward(self, x, *, train, rng=None):  # type: ignore[no-untyped-def]
        self.check_input(x, ndim=2, features=self.n, dtype=self.W.dtype)
        W = self.W.value

        def backward(dy, *, input_grad=True):  # type: ignore[no-untyped-def]
            self.W.accumulate(x.T @ dy)
            self.b.accumulate(2 * dy.sum(axis=0))
            return dy @ W.T

        return x @ W + self.b.value, backward

    def config(self):  # type: ignore[no-untyped-def]
        return {"n": self.n, "dtype": self.dtype}


class _Float64Leak(nb.Layer):
    """Scales by a float64 array: right gradients, but float32 input comes out float64."""

    def forward(self, x, *, train, rng=None):  # type: ignore[no-untyped-def]
        self.check_input(x)
        scale = np.full(x.shape[-1], 2.0)  # float64 whatever x is

        def backward(dy, *, input_grad=True):  # type: ignore[no-untyped-def]
            if dy.shape != x.shape:
                raise nb.errors.ShapeError(f"expected gradient shape {x.shape}, got {dy.shape}")
            return dy * scale

        return x * scale, backward

    def config(self):  # type: ignore[no-untyped-def]
        return {}


def test_kit_catches_a_wrong_bias_gradient() -> None:
    layer = _BiasGradTwice()
    with pytest.raises(GradientCheckError, match="parameter 'b'"):
        check_layer(layer, np.random.default_rng(1).normal(size=(4, 3)))


def test_kit_catches_a_float32_input_that_comes_out_float64() -> None:
    nb.register(_Float64Leak, name="Float64LeakForKitTest")
    with pytest.raises(ConformanceError, match="float32 stays float32"):
        check_layer(_Float64Leak(), np.random.default_rng(1).normal(size=(4, 3)))


def test_kit_catches_an_optimizer_that_does_not_descend() -> None:
    class Ascent(nb.Optimizer):
        def __init__(self, lr: float = 0.1) -> None:
            super().__init__(lr=lr)

        def hyperparameters(self):  # type: ignore[no-untyped-def]
            return {"lr": self.lr}

        def init_slots(self, param):  # type: ignore[no-untyped-def]
            return {}

        def update(self, value, grad, slots, *, step, hp):  # type: ignore[no-untyped-def]
            value += hp["lr"] * grad  # the sign is wrong

    with pytest.raises(ConformanceError, match="it lowers a quadratic"):
        check_optimizer(Ascent())


def test_kit_catches_a_transform_that_changes_dtype() -> None:
    class ToFloat64(nb.GradientTransform):
        def init(self, params):  # type: ignore[no-untyped-def]
            return None

        def update(self, grads, state, params):  # type: ignore[no-untyped-def]
            return {k: g.astype(np.float64) for k, g in grads.items()}, state

    with pytest.raises(ConformanceError, match="shapes and dtypes are kept"):
        check_transform(ToFloat64())


def test_kit_names_a_layer_without_an_example() -> None:
    with pytest.raises(NotImplementedError, match="declares no example"):
        check_component(_Float64Leak)
