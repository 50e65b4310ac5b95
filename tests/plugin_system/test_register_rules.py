"""What ``neuroback.register`` files where, and when a run-time name may shadow an installed one.

Rules: a class is filed by its base class (Layer, Loss, Optimizer, GradientTransform,
Callback, Schedule); a class of none of them is an error; metrics are non-class callables
(functions, callable instances). A run-time (``local``) name that an installed component of
the same kind already uses is refused unless ``shadow=True``; re-registering a local name
replaces the earlier local component.
"""

from __future__ import annotations

import numpy as np
import pytest

import neuroback
from neuroback.errors import AmbiguousComponentError, PluginError
from neuroback.plugin_system import PluginRegistry


def _layer(name: str, factor: float = 2.0) -> type[neuroback.Layer]:
    def forward(self, x, *, train, rng=None):
        return factor * x, lambda dy, *, input_grad=True: factor * dy

    def config(self):
        return {}

    return type(name, (neuroback.Layer,), {"forward": forward, "config": config})


@pytest.fixture
def registry() -> PluginRegistry:
    """Built-ins only (no third-party plugin), never the process-wide registry."""
    return PluginRegistry(env={"NEUROBACK_DISABLE_PLUGIN_AUTOLOAD": "1"})


def _local(registry: PluginRegistry) -> list[str]:
    infos = [p for p in registry.plugins() if p.distribution == "local"]
    return [c.qualified_name for p in infos for c in p.components]


# -- classification ---------------------------------------------------------------------


class _Loss(neuroback.Loss):
    def forward(self, pred, target):
        return np.asarray(0.0), np.zeros_like(pred)


class _Opt(neuroback.Optimizer):
    def hyperparameters(self):
        return {"lr": self.lr}

    def init_slots(self, param):
        return {}

    def update(self, value, grad, slots, *, step, hp=None):
        value -= self.lr * grad


class _Transform(neuroback.GradientTransform):
    def init(self, params, *, backend):
        return None

    def update(self, grads, state, params, *, backend):
        return grads, state


class _Callback(neuroback.Callback):
    pass


class _Schedule(neuroback.Schedule):
    def __call__(self, t):
        return 1.0


class _CallableMetric:
    """An instance of this is a metric; the class itself is not."""

    def __call__(self, pred, target):
        return np.mean(pred == target)


def _metric_function(pred, target):
    return np.mean(pred == target)


@pytest.mark.parametrize(
    ("component", "kind"),
    [
        (_layer("_Layer"), "layers"),
        (_Loss, "losses"),
        (_Opt, "optimizers"),
        (_Transform, "transforms"),
        (_Callback, "callbacks"),
        (_Schedule, "schedules"),
        (_metric_function, "metrics"),
        (_CallableMetric(), "metrics"),
    ],
    ids=["layer", "loss", "optimizer", "transform", "callback", "schedule", "function", "instance"],
)
def test_components_are_filed_by_base_class(registry, component, kind):
    name = "Thing"
    assert registry.register(component, name=name) is component
    comp = registry.get(kind, name)
    assert comp.obj is component
    assert comp.kind == kind
    assert _local(registry) == ["local:Thing"]


def test_a_callable_class_of_no_kind_is_an_error_not_a_metric(registry):
    class Scorer:  # callable instances, but the class subclasses no base
        def __call__(self, pred, target):
            return 0.0

    with pytest.raises(TypeError) as excinfo:
        registry.register(Scorer)
    message = str(excinfo.value)
    assert "Scorer" in message
    for base in (
        "neuroback.Layer",
        "neuroback.Loss",
        "neuroback.Optimizer",
        "neuroback.GradientTransform",
        "neuroback.Callback",
        "neuroback.Schedule",
    ):
        assert base in message
    assert "Metrics are plain functions" in message
    assert "never classes" in message
    assert _local(registry) == []
    assert "Scorer" not in registry.names("metrics")


def test_a_class_is_never_a_metric_even_when_asked(registry):
    with pytest.raises(PluginError, match=r"as a metric, but it is a class.*plain function"):
        registry.register(_CallableMetric, kind="metrics")
    assert "_CallableMetric" not in registry.names("metrics")


def test_an_instance_of_a_component_class_is_not_a_metric(registry):
    dense = registry.get("layers", "Dense").obj(2, 3)  # callable: layer(x) is inference
    with pytest.raises(TypeError, match=r"instance of the layer class Dense.*register the class"):
        registry.register(dense, name="dense_instance")
    with pytest.raises(PluginError, match=r"instance of the layer class Dense"):
        registry.register(dense, name="dense_instance", kind="metrics")
    assert "dense_instance" not in registry.names("metrics")


def test_a_class_of_two_kinds_needs_kind(registry):
    class Both(neuroback.Callback, neuroback.Schedule):
        def __call__(self, t):
            return 1.0

    with pytest.raises(TypeError, match=r"Both.*callbacks, schedules.*kind="):
        registry.register(Both)
    registry.register(Both, kind="schedules")
    assert registry.get("schedules", "Both").obj is Both


def test_a_plugin_cannot_register_a_class_as_a_metric(registry):
    class ClassMetricPlugin:
        @neuroback.hookimpl
        def neuroback_register_metrics(self, register):
            register(_CallableMetric)

    with pytest.raises(PluginError, match=r"'my-metrics'.*as a metric, but it is a class"):
        registry.load_plugin(ClassMetricPlugin(), distribution="my-metrics")
    assert "_CallableMetric" not in registry.names("metrics")


# -- shadowing an installed name ------------------------------------------------------------


def test_a_local_name_shadowing_an_installed_one_is_refused(registry):
    Dense = _layer("Dense")
    with pytest.raises(PluginError) as excinfo:
        registry.register(Dense)
    message = str(excinfo.value)
    assert "'neuroback:Dense'" in message  # names the installed component
    assert "another name" in message and "shadow=True" in message
    # Nothing changed: the plain name still resolves, to the built-in.
    assert registry.get("layers", "Dense").distribution == "neuroback"
    assert registry.names("layers").count("Dense") == 1
    assert _local(registry) == []


def test_refused_even_before_the_first_lookup(registry):
    assert registry.loaded is False  # register() loads the installed names first
    with pytest.raises(PluginError, match="neuroback:Dense"):
        registry.register(_layer("Dense"))
    assert registry.get("layers", "Dense").distribution == "neuroback"


def test_shadow_true_makes_the_plain_name_local(registry):
    Dense = _layer("Dense")
    builtin = registry.get("layers", "Dense").obj
    assert registry.register(Dense, shadow=True) is Dense
    assert registry.get("layers", "Dense").obj is Dense
    assert registry.get("layers", "local:Dense").obj is Dense
    assert registry.get("layers", "neuroback:Dense").obj is builtin  # still reachable
    assert registry.qualified_name(Dense) == "local:Dense"
    assert registry.qualified_name(builtin) == "neuroback:Dense"
    assert registry.names("layers").count("Dense") == 1
    assert _local(registry) == ["local:Dense"]


def test_shadowing_is_per_kind(registry):
    # "MSE" is a built-in loss; a layer of that name shadows nothing.
    registry.register(_layer("MSE"))
    assert registry.get("layers", "MSE").distribution == "local"
    assert registry.get("losses", "MSE").distribution == "neuroback"

    # "mse" is a built-in metric: a local metric function of that name is refused.
    def mse(pred, target):
        return np.mean((pred - target) ** 2)

    with pytest.raises(PluginError, match="'neuroback:mse'"):
        registry.register(mse)


def test_a_component_of_a_runtime_plugin_is_installed_too(registry):
    class SwishPlugin:
        @neuroback.hookimpl
        def neuroback_register_layers(self, register):
            register(_layer("Swish"))

    registry.load_plugin(SwishPlugin(), distribution="my-swish")
    with pytest.raises(PluginError, match="'my-swish:Swish'"):
        registry.register(_layer("Swish"))
    mine = _layer("Swish")
    registry.register(mine, shadow=True)
    assert registry.get("layers", "Swish").obj is mine


def test_shadow_resolves_a_name_two_plugins_share(registry):
    for dist in ("dist-a", "dist-b"):

        class Plugin:
            @neuroback.hookimpl
            def neuroback_register_layers(self, register):
                register(_layer("Shared"))

        registry.load_plugin(Plugin(), distribution=dist)
    with pytest.raises(AmbiguousComponentError):
        registry.get("layers", "Shared")
    with pytest.raises(PluginError, match=r"'dist-a:Shared' and 'dist-b:Shared'"):
        registry.register(_layer("Shared"))
    mine = _layer("Shared")
    registry.register(mine, shadow=True)
    assert registry.get("layers", "Shared").obj is mine


def test_reregistering_a_local_name_replaces_it_without_shadow(registry):
    first, second = _layer("Cell", 2.0), _layer("Cell", 4.0)
    registry.register(first)
    registry.register(second)  # a notebook cell run again
    assert registry.get("layers", "Cell").obj is second
    assert registry.names("layers").count("Cell") == 1
    assert _local(registry) == ["local:Cell"]


def test_reregistering_a_shadowing_name_needs_shadow_each_time(registry):
    first, second, third = _layer("Dense", 2.0), _layer("Dense", 3.0), _layer("Dense", 4.0)
    registry.register(first, shadow=True)
    registry.register(second, shadow=True)  # the same cell, run again
    assert registry.get("layers", "Dense").obj is second
    with pytest.raises(PluginError, match="shadow=True"):
        registry.register(third)
    assert registry.get("layers", "Dense").obj is second  # the refused one changed nothing
    assert _local(registry) == ["local:Dense"]


def test_shadow_must_be_a_bool(registry):
    with pytest.raises(TypeError, match="shadow"):
        registry.register(_layer("Dense"), shadow="yes")


def test_neuroback_register_passes_shadow(use_global_registry, registry):
    use_global_registry(registry)
    Dense = _layer("Dense")
    with pytest.raises(PluginError, match=r"neuroback:Dense.*shadow=True"):
        neuroback.register(Dense)
    assert neuroback.layers.Dense is not Dense

    @neuroback.register(shadow=True)
    class Dense(neuroback.Layer):
        def forward(self, x, *, train, rng=None):
            return x, lambda dy, *, input_grad=True: dy

        def config(self):
            return {}

    assert neuroback.layers.Dense is Dense
    assert neuroback.layers.get("neuroback:Dense") is not Dense
    assert neuroback.to_spec(Dense())["type"] == "local:Dense"
    assert neuroback.build("layers", {"type": "local:Dense"}).__class__ is Dense
