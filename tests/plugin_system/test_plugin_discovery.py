"""Discovery: the built-ins and installed plugin distributions, and the load switches."""

from __future__ import annotations

import importlib.metadata
import warnings

import pytest

import neuroback
from neuroback.plugin_system import KINDS, PluginLoadWarning, PluginRegistry

ALL_DEMOS = {
    "nb-demo-good",
    "nb-demo-other",
    "nb-demo-broken-import",
    "nb-demo-broken-runtime",
    "nb-demo-raising-hook",
    "nb-demo-invalid",
}
FAILING_DEMOS = {
    "nb-demo-broken-import",
    "nb-demo-broken-runtime",
    "nb-demo-raising-hook",
    "nb-demo-invalid",
}


def _by_dist(registry: PluginRegistry) -> dict:
    return {p.distribution: p for p in registry.plugins()}


def _names(info, kind: str) -> set[str]:
    return {c.name for c in info.components if c.kind == kind}


def test_scanning_waits_for_the_first_lookup(make_registry):
    registry = make_registry(NEUROBACK_LOAD_PLUGINS="nb-demo-good")
    assert registry.loaded is False
    registry.get("layers", "Swish")
    assert registry.loaded is True


def test_finds_builtins_and_installed_plugins(make_registry):
    registry = make_registry()  # every installed plugin, the failing ones included
    with pytest.warns(PluginLoadWarning):
        plugins = _by_dist(registry)

    assert set(plugins) >= ALL_DEMOS
    builtins = plugins["neuroback"]
    assert builtins.builtin is True
    assert builtins.error is None
    assert builtins.version == importlib.metadata.version("neuroback") == neuroback.__version__
    assert builtins.entry_point == "builtins = neuroback_builtins"
    for kind, names in {
        "layers": {"Dense", "ReLU", "Sigmoid", "Sequential"},
        "losses": {"MSE"},
        "optimizers": {"SGD"},
        "schedules": {"Constant", "StepDecay", "Exponential", "Cosine", "LinearWarmup"},
    }.items():
        assert names <= _names(builtins, kind), kind
    assert all(c.distribution == "neuroback" for c in builtins.components)

    good = plugins["nb-demo-good"]
    assert (good.version, good.entry_point, good.builtin, good.error) == (
        "1.2.3",
        "good = nb_demo_good",
        False,
        None,
    )
    import nb_demo_good

    assert {kind: _names(good, kind) for kind in KINDS} == {
        "layers": {"Swish", "SiLU"},
        "losses": {"MAE"},
        "optimizers": {"SignSGD"},
        "transforms": {"ScaleGrads"},
        "callbacks": {"CountEpochs"},
        "metrics": {"mean_abs_error"},
        "schedules": {"Halving"},
        "strategies": {"loopback"},
        "commands": {"demo-hello"},
    }
    for comp in good.components:
        assert (comp.distribution, comp.version) == ("nb-demo-good", "1.2.3")
        assert comp.qualified_name == f"nb-demo-good:{comp.name}"
        attribute = comp.obj.callback.__name__ if comp.kind == "commands" else comp.obj.__name__
        assert comp.obj is getattr(nb_demo_good, attribute)

    other = plugins["nb-demo-other"]
    assert (other.version, other.entry_point) == ("0.4.0", "other = nb_demo_other.hooks")
    assert _names(other, "layers") == {"Swish", "Mish"}

    for dist in FAILING_DEMOS:
        assert plugins[dist].error, dist
        assert plugins[dist].components == [], dist

    # Registry-wide views agree with the per-plugin records.
    assert {"Dense", "Swish", "SiLU", "Mish"} <= set(registry.names("layers"))
    assert registry.get("metrics", "mean_abs_error").obj is nb_demo_good.mean_abs_error
    assert registry.get("callbacks", "CountEpochs").obj is nb_demo_good.CountEpochs
    assert registry.get("transforms", "ScaleGrads").obj is nb_demo_good.ScaleGrads


def test_loads_once_and_warns_once(make_registry):
    registry = make_registry(NEUROBACK_LOAD_PLUGINS="nb-demo-good,nb-demo-broken-import")
    with pytest.warns(PluginLoadWarning):
        registry.get("layers", "Swish")
    first = registry.plugins()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        registry.get("layers", "Dense")
        registry.names("losses")
        assert registry.plugins() == first


def test_demo_components_work(make_registry):
    """The plugin's classes are real neuroback components (not just names)."""
    import numpy as np

    registry = make_registry(NEUROBACK_LOAD_PLUGINS="nb-demo-good")
    swish = registry.get("layers", "Swish").obj(beta=2.0)
    assert isinstance(swish, neuroback.Layer)
    assert swish.config() == {"beta": 2.0}
    x = np.linspace(-3.0, 3.0, 7)
    y, backward = swish.forward(x, train=False)
    np.testing.assert_allclose(y, x / (1.0 + np.exp(-2.0 * x)))
    eps = 1e-6
    numeric = swish.forward(x + eps, train=False)[0] - swish.forward(x - eps, train=False)[0]
    np.testing.assert_allclose(backward(np.ones_like(x)), numeric / (2 * eps), rtol=1e-6)
    assert registry.get("layers", "SiLU").obj is registry.get("layers", "Swish").obj
    assert issubclass(registry.get("losses", "MAE").obj, neuroback.Loss)
    assert issubclass(registry.get("optimizers", "SignSGD").obj, neuroback.Optimizer)
    assert issubclass(registry.get("transforms", "ScaleGrads").obj, neuroback.GradientTransform)
    assert issubclass(registry.get("callbacks", "CountEpochs").obj, neuroback.Callback)
    metric = registry.get("metrics", "mean_abs_error").obj
    assert float(metric(np.array([1.0, 3.0]), np.array([0.0, 0.0]))) == 2.0


def _third_party(registry: PluginRegistry) -> set[str]:
    return {p.distribution for p in registry.plugins() if not p.builtin}


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_disable_autoload_keeps_only_the_builtins(make_registry, value):
    registry = make_registry(NEUROBACK_DISABLE_PLUGIN_AUTOLOAD=value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the failing demos are not even imported
        plugins = registry.plugins()
    assert [p.distribution for p in plugins if p.builtin] == ["neuroback"]
    assert not ALL_DEMOS & {p.distribution for p in plugins}
    assert "Dense" in registry.names("layers")
    assert "Swish" not in registry.names("layers")


def test_disable_autoload_wins_over_the_allow_list(make_registry):
    registry = make_registry(
        NEUROBACK_DISABLE_PLUGIN_AUTOLOAD="1", NEUROBACK_LOAD_PLUGINS="nb-demo-good"
    )
    assert not ALL_DEMOS & _third_party(registry)
    assert registry.get("layers", "Dense").distribution == "neuroback"


@pytest.mark.parametrize("value", ["0", "", "false", "no"])
def test_autoload_stays_on_for_other_values(make_registry, value):
    registry = make_registry(
        NEUROBACK_DISABLE_PLUGIN_AUTOLOAD=value, NEUROBACK_LOAD_PLUGINS="nb-demo-good"
    )
    assert "nb-demo-good" in _third_party(registry)


@pytest.mark.parametrize(
    "allow",
    ["nb-demo-good", " nb-demo-good , ", "NB_Demo.Good", "nb-demo-good,nb-demo-not-installed"],
)
def test_allow_list_loads_only_the_named_plugins(make_registry, allow):
    registry = make_registry(NEUROBACK_LOAD_PLUGINS=allow)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no failing demo was imported
        plugins = registry.plugins()
    assert {p.distribution for p in plugins if p.builtin} == {"neuroback"}
    assert _third_party(registry) & ALL_DEMOS == {"nb-demo-good"}
    assert registry.get("layers", "Swish").distribution == "nb-demo-good"  # not ambiguous
    assert "Mish" not in registry.names("layers")
    assert registry.get("layers", "Dense").distribution == "neuroback"


@pytest.mark.parametrize("allow", ["nb-demo-good,nb-demo-other", "nb-demo-other, nb_demo_good"])
def test_allow_list_of_two(make_registry, allow):
    registry = make_registry(NEUROBACK_LOAD_PLUGINS=allow)
    assert _third_party(registry) & ALL_DEMOS == {"nb-demo-good", "nb-demo-other"}


def test_switches_come_from_the_env_mapping_not_os_environ(make_registry, monkeypatch):
    monkeypatch.setenv("NEUROBACK_DISABLE_PLUGIN_AUTOLOAD", "1")
    registry = make_registry(NEUROBACK_LOAD_PLUGINS="nb-demo-good")
    assert "nb-demo-good" in _third_party(registry)


def test_env_none_reads_os_environ(plugin_path, monkeypatch):
    monkeypatch.setenv("NEUROBACK_LOAD_PLUGINS", "nb-demo-other")
    monkeypatch.delenv("NEUROBACK_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    registry = PluginRegistry()
    assert _third_party(registry) & ALL_DEMOS == {"nb-demo-other"}
