"""Components and plugins added at run time: ``neuroback.register`` and ``load_plugin``."""

from __future__ import annotations

import numpy as np
import pytest

import neuroback
from neuroback.errors import ConfigError, PluginError
from neuroback.plugin_system import PluginRegistry


def _layer(name: str, factor: float = 2.0) -> type[neuroback.Layer]:
    def forward(self, x, *, train, rng=None):
        return factor * x, lambda dy: factor * dy

    def config(self):
        return {}

    return type(name, (neuroback.Layer,), {"forward": forward, "config": config})


@pytest.fixture
def registry() -> PluginRegistry:
    """Built-ins only; no demo distribution on the path."""
    return PluginRegistry(env={"NEUROBACK_DISABLE_PLUGIN_AUTOLOAD": "1"})


@pytest.fixture
def global_registry(registry, use_global_registry) -> PluginRegistry:
    return use_global_registry(registry)


def test_register_a_class_defined_here(registry):
    Triple = _layer("Triple", 3.0)
    assert registry.register(Triple) is Triple
    comp = registry.get("layers", "Triple")
    assert comp.obj is Triple
    assert (comp.distribution, comp.qualified_name) == ("local", "local:Triple")
    assert registry.get("layers", "local:Triple") is comp
    assert registry.qualified_name(Triple) == "local:Triple"
    (local,) = [p for p in registry.plugins() if p.distribution == "local"]
    assert [c.name for c in local.components] == ["Triple"]
    assert registry.get("layers", "Dense").distribution == "neuroback"  # built-ins still there


def test_register_every_kind_and_aliases(registry):
    class Hinge(neuroback.Loss):
        def forward(self, pred, target):
            return np.asarray(0.0), np.zeros_like(pred)

    class Noop(neuroback.GradientTransform):
        def init(self, params, *, backend):
            return None

        def update(self, grads, state, params, *, backend):
            return grads, state

    class Printer(neuroback.Callback):
        pass

    def rmse(pred, target):
        return np.sqrt(np.mean((pred - target) ** 2))

    registry.register(Hinge)
    registry.register(Noop)
    registry.register(Printer)
    registry.register(rmse)  # any other callable is a metric
    registry.register(Hinge, name="HingeAlias")
    registry.register(abs, kind="metrics", name="absolute")
    assert registry.get("losses", "Hinge").obj is Hinge
    assert registry.get("losses", "local:HingeAlias").obj is Hinge
    assert registry.get("transforms", "Noop").obj is Noop
    assert registry.get("callbacks", "Printer").obj is Printer
    assert registry.get("metrics", "rmse").obj is rmse
    assert registry.get("metrics", "absolute").obj is abs
    assert registry.qualified_name(Hinge) == "local:Hinge"  # the canonical name, not the alias


def test_reregistering_replaces(registry):
    first, second = _layer("Twice", 2.0), _layer("Twice", 4.0)
    registry.register(first)
    registry.register(second)
    assert registry.get("layers", "Twice").obj is second
    assert registry.get("layers", "local:Twice").obj is second
    assert registry.names("layers").count("Twice") == 1
    (local,) = [p for p in registry.plugins() if p.distribution == "local"]
    assert [c.obj for c in local.components] == [second]


# A run-time name that shadows an installed one: see test_register_rules.py.


@pytest.mark.parametrize(
    ("thing", "kwargs", "error", "match"),
    [
        (42, {}, TypeError, "Cannot tell what kind of component 42 is"),
        ("Dense", {}, TypeError, "Cannot tell what kind"),
        (_layer("Ok"), {"name": "a:b"}, PluginError, "invalid name 'a:b'.*without ':'"),
        (_layer("Ok"), {"name": ""}, PluginError, "invalid name ''"),
        (_layer("Ok"), {"name": " Ok"}, PluginError, "surrounding spaces"),
        (_layer("Ok"), {"kind": "losses"}, PluginError, "not a subclass of neuroback.Loss"),
        (len, {"kind": "layers"}, PluginError, "not a subclass of neuroback.Layer"),
        (42, {"kind": "metrics"}, PluginError, "as a metric, but it is not callable"),
        (_layer("Ok"), {"kind": "nope"}, ConfigError, "Unknown .*kind 'nope'.*'layers'"),
    ],
)
def test_invalid_registrations_give_clear_errors(registry, thing, kwargs, error, match):
    with pytest.raises(error, match=match):
        registry.register(thing, **kwargs)
    assert not [p for p in registry.plugins() if p.distribution == "local"]


def test_neuroback_register_uses_the_process_wide_registry(global_registry):
    @neuroback.register
    class Halve(neuroback.Layer):
        def forward(self, x, *, train, rng=None):
            return x / 2, lambda dy: dy / 2

        def config(self):
            return {}

    assert isinstance(Halve, type)  # the decorator returns the class itself
    assert neuroback.layers.Halve is Halve
    assert "Halve" in dir(neuroback.layers)
    assert neuroback.layers.get("local:Halve") is Halve
    assert global_registry.get("layers", "Halve").obj is Halve
    assert neuroback.to_spec(Halve())["type"] == "local:Halve"

    neuroback.register(Halve, name="Half")
    assert neuroback.layers.Half is Halve

    def f1(pred, target):
        return np.mean(pred == target)

    assert neuroback.register(kind="metrics", name="hits")(f1) is f1
    assert neuroback.metrics.hits is f1


class _NotebookPlugin:
    """A plugin object with hook methods, as one would write in a notebook."""

    def __init__(self, layer: type, fail: bool = False) -> None:
        self.layer = layer
        self.fail = fail

    @neuroback.hookimpl
    def neuroback_register_layers(self, register):
        register(self.layer)
        if self.fail:
            raise ValueError("notebook plugin failed on purpose")


def test_load_plugin_registers_an_in_memory_plugin(registry):
    Cube = _layer("Cube")
    info = registry.load_plugin(_NotebookPlugin(Cube), distribution="my-notebook", version="0.3")
    assert (info.distribution, info.version, info.error) == ("my-notebook", "0.3", None)
    assert [c.qualified_name for c in info.components] == ["my-notebook:Cube"]
    assert registry.get("layers", "Cube").obj is Cube
    assert registry.get("layers", "my_notebook:Cube").obj is Cube
    assert info in registry.plugins()
    assert registry.get("layers", "Dense").distribution == "neuroback"


def test_neuroback_load_plugin_uses_the_process_wide_registry(global_registry):
    Square = _layer("Square")
    neuroback.load_plugin(_NotebookPlugin(Square), distribution="nb-notebook")
    assert neuroback.layers.Square is Square
    assert neuroback.layers.get("nb-notebook:Square") is Square


def test_load_plugin_errors_raise_and_leave_nothing_behind(registry):
    Broken = _layer("BrokenLayer")
    with pytest.raises(PluginError, match=r"'my-broken'.*ValueError: notebook plugin failed"):
        registry.load_plugin(_NotebookPlugin(Broken, fail=True), distribution="my-broken")
    assert "BrokenLayer" not in registry.names("layers")
    # The failed plugin's hooks are not called again when another plugin loads.
    Fine = _layer("FineAfterBroken")
    registry.load_plugin(_NotebookPlugin(Fine), distribution="my-fine")
    assert "BrokenLayer" not in registry.names("layers")
    assert registry.get("layers", "FineAfterBroken").obj is Fine


def test_load_plugin_validates_what_it_registers(registry):
    class BadPlugin:
        @neuroback.hookimpl
        def neuroback_register_layers(self, register):
            register(_layer("GoodFirst"))
            register(neuroback.Loss)  # a Loss is not a Layer

    with pytest.raises(PluginError, match=r"my-bad registered .*Loss.* as a layer.*\.Layer"):
        registry.load_plugin(BadPlugin(), distribution="my-bad")
    assert "GoodFirst" not in registry.names("layers")


def test_load_plugin_rejects_the_same_name_twice(registry):
    class Twice:
        @neuroback.hookimpl
        def neuroback_register_layers(self, register):
            register(_layer("Dup"))
            register(_layer("Dup"))

    with pytest.raises(PluginError, match=r"my-twice registers the layer name 'Dup' twice"):
        registry.load_plugin(Twice(), distribution="my-twice")
    assert "Dup" not in registry.names("layers")


def test_load_plugin_rejects_invalid_hooks(registry):
    class UnknownHook:
        @neuroback.hookimpl
        def neuroback_register_widgets(self, register):
            raise AssertionError("never called")

    class WrongArguments:
        @neuroback.hookimpl
        def neuroback_register_layers(self, register, extra):
            raise AssertionError("never called")

    with pytest.raises(PluginError, match=r"(?s)'my-unknown'.*invalid hooks.*register_widgets"):
        registry.load_plugin(UnknownHook(), distribution="my-unknown")
    with pytest.raises(PluginError, match=r"(?s)'my-wrong'.*invalid hooks.*extra"):
        registry.load_plugin(WrongArguments(), distribution="my-wrong")
    # Neither is left registered: a later plugin loads and only its own hooks run.
    Later = _layer("Later")
    registry.load_plugin(_NotebookPlugin(Later), distribution="my-later")
    assert registry.get("layers", "Later").obj is Later
