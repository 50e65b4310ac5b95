"""Contract tests over every registered built-in component, driven by the registry.

Each component declares a small example of itself (``example()``); the conformance
kit runs its kind's contract on it. A test checks that the number of cases equals
the number of registered components, so nothing is skipped silently.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w

import neuroback as nb
from neuroback.plugin_system import KINDS, get_registry
from neuroback.testing import (
    ConformanceError,
    GradientCheckError,
    check_component,
    check_layer,
    check_optimizer,
    check_transform,
)

BUILTINS = [c for c in get_registry().components() if c.distribution == "neuroback"]
CHECKED_KINDS = (
    "layers",
    "losses",
    "optimizers",
    "transforms",
    "callbacks",
    "metrics",
    "schedules",
    "strategies",
)
CASES = [c for c in BUILTINS if c.kind in CHECKED_KINDS]


def test_every_registered_component_has_a_contract_case() -> None:
    unchecked = [c.qualified_name for c in BUILTINS if c not in CASES]
    assert unchecked == [], f"components without a contract case: {unchecked}"
    assert len(CASES) == len(BUILTINS)
    assert len(CASES) >= 33  # the built-ins this suite was written against


@pytest.mark.parametrize("component", CASES, ids=[c.qualified_name for c in CASES])
def test_component_contract(component: Any, nb_backend: Any) -> None:
    # nb_backend runs this on NumPy, on the strict CPU backend whose arrays refuse
    # implicit NumPy conversion as CuPy's do, and on CuPy where a GPU is present.
    check_component(component.obj)


# -- every config() survives TOML as well as JSON -----------------------------------------
#
# A config file may be TOML, which has no null: a config() holding None (or a NumPy
# scalar, or any other non-TOML value) cannot be written there. Every kind is covered,
# generically over KINDS, so a kind added later is checked without touching this list;
# only a kind named here with its reason is left out.

NO_CONFIG_KINDS = {"metrics": "metrics are plain functions: they have no config() to write"}
CONFIG_KINDS = [kind for kind in KINDS if kind not in NO_CONFIG_KINDS]
CONFIG_CASES = [c for c in BUILTINS if c.kind in CONFIG_KINDS]


def _plain(value: Any) -> Any:
    """``value`` as a config reader returns it: tuples are lists, mappings plain dicts."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _none_paths(value: Any, path: str = "config") -> list[str]:
    if value is None:
        return [path]
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in _none_paths(v, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in _none_paths(v, f"{path}[{i}]")]
    return []


def toml_round_trip(kind: str, component: Any) -> Any:
    """Write ``component``'s spec as TOML, read it back with ``tomllib``, rebuild it from
    the registry and check that the rebuilt component has the same config()."""
    spec = nb.to_spec(component)
    try:
        text = tomli_w.dumps({"component": spec})  # TOML's top level is a table
    except TypeError as exc:
        nulls = _none_paths(spec["config"])
        raise AssertionError(
            f"{spec['type']}.config() cannot be written as TOML ({exc})"
            + (f"; TOML has no null, and {', '.join(nulls)} is None" if nulls else "")
            + ". Leave a key out (or use a non-null default) instead of writing None."
        ) from exc
    read = tomllib.loads(text)["component"]
    assert read == _plain(spec), f"TOML changed the spec:\n{spec}\nread back as\n{read}"
    rebuilt = nb.build(kind, read)
    assert type(rebuilt) is type(component)
    assert _plain(rebuilt.config()) == _plain(spec["config"]), (
        f"{spec['type']} rebuilt from TOML has config {rebuilt.config()}, expected {spec['config']}"
    )
    return rebuilt


def _example_instance(component: Any) -> Any:
    example = component.obj.example()  # layers and losses: (instance, inputs...)
    instance = example[0] if isinstance(example, tuple) else example
    assert isinstance(instance, component.obj), (
        f"{component.qualified_name}.example() gave {instance!r}, not an instance"
    )
    return instance


def test_every_kind_is_checked_for_toml_or_skipped_with_a_reason() -> None:
    assert set(CONFIG_KINDS) | set(NO_CONFIG_KINDS) == set(KINDS)
    assert all(kind in KINDS for kind in NO_CONFIG_KINDS)
    assert all(
        callable(c.obj) and not isinstance(c.obj, type)
        for c in BUILTINS
        if c.kind in NO_CONFIG_KINDS
    )
    assert len(CONFIG_CASES) + sum(c.kind in NO_CONFIG_KINDS for c in BUILTINS) == len(BUILTINS)
    assert len(CONFIG_CASES) >= 27  # the configurable built-ins this test was written against


@pytest.mark.parametrize("component", CONFIG_CASES, ids=[c.qualified_name for c in CONFIG_CASES])
def test_config_survives_a_toml_round_trip(component: Any) -> None:
    toml_round_trip(component.kind, _example_instance(component))


def _richer_instances(tmp_path: Path) -> list[tuple[str, Any]]:
    """Components with their optional arguments set: nested specs, lists, paths."""
    return [
        ("layers", nb.Sequential(nb.layers.Residual(nb.layers.Dense(3, 3)), nb.layers.Tanh())),
        ("layers", nb.layers.Dense(2, 3, bias=False, init="zeros", dtype="float64")),
        (
            "optimizers",
            nb.optimizers.Adam(
                lr=0.01,
                betas=(0.8, 0.99),
                transforms=[nb.transforms.ClipByGlobalNorm(float("inf"))],
                groups=[{"params": ["*.b", "0.*"], "lr_scale": 0.5, "weight_decay": 0.0}],
            ),
        ),
        ("callbacks", nb.callbacks.ProgressBar(plain=True)),
        ("callbacks", nb.callbacks.GradientFlowMonitor(plot_path=tmp_path / "flow.png")),
    ]


def test_configs_with_optional_arguments_survive_a_toml_round_trip(tmp_path: Path) -> None:
    for kind, component in _richer_instances(tmp_path):
        toml_round_trip(kind, component)


def test_toml_round_trip_names_a_none_in_a_config() -> None:
    class WritesNone(nb.Loss):
        def forward(self, pred, target):  # type: ignore[no-untyped-def]
            raise NotImplementedError

        def config(self):  # type: ignore[no-untyped-def]
            return {"weights": None}

    nb.register(WritesNone, name="WritesNoneForTomlTest")
    with pytest.raises(AssertionError, match=r"TOML has no null, and config\.weights is None"):
        toml_round_trip("losses", WritesNone())


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
        def init(self, params, *, backend):  # type: ignore[no-untyped-def]
            return None

        def update(self, grads, state, params, *, backend):  # type: ignore[no-untyped-def]
            return {k: g.astype(np.float64) for k, g in grads.items()}, state

    with pytest.raises(ConformanceError, match="shapes and dtypes are kept"):
        check_transform(ToFloat64())


def test_kit_names_a_layer_without_an_example() -> None:
    with pytest.raises(NotImplementedError, match="declares no example"):
        check_component(_Float64Leak)
