"""A plugin that fails is skipped with a warning naming it (or raises in strict mode);
nothing it registered is left behind, and every other plugin keeps working."""

from __future__ import annotations

import threading
import time
import warnings

import pytest

from neuroback.errors import ComponentNotFoundError, PluginError
from neuroback.plugin_system import PluginLoadWarning

#: distribution -> (a regex the warning must match after the distribution's name,
#:                  names (kind, name) the plugin tried to register)
FAILURES = {
    "nb-demo-broken-import": (
        r"failed to import 'nb_demo_broken_import': ModuleNotFoundError: "
        r"No module named 'nb_demo_missing_dependency'",
        [],
    ),
    "nb-demo-broken-runtime": (
        r"failed to import 'nb_demo_broken_runtime': RuntimeError: "
        r"nb-demo-broken-runtime refuses to start",
        [],
    ),
    "nb-demo-raising-hook": (
        r"a hook raised RuntimeError: nb-demo-raising-hook exploded inside its hook",
        [("layers", "GhostLayer"), ("losses", "GhostLoss")],
    ),
    "nb-demo-invalid": (
        r"nb-demo-invalid registered <function not_a_layer at .*> as a layer, but it is not a "
        r"subclass of neuroback\.Layer",
        [("layers", "FineLayer"), ("layers", "not_a_layer")],
    ),
}
FAILING = sorted(FAILURES)


@pytest.mark.parametrize("dist", FAILING)
def test_failing_plugin_is_skipped_with_a_warning_naming_it(make_registry, dist):
    reason, attempted = FAILURES[dist]
    registry = make_registry(NEUROBACK_LOAD_PLUGINS=f"nb-demo-good,{dist}")
    with pytest.warns(PluginLoadWarning, match=rf"distribution '{dist}' .* skipped: .*{reason}"):
        registry.get("layers", "Dense")

    # The rest still works.
    assert registry.get("layers", "Swish").distribution == "nb-demo-good"
    assert registry.get("losses", "MSE").distribution == "neuroback"
    # Nothing of the failed plugin is registered, not even what a hook registered before raising.
    for kind, name in attempted:
        with pytest.raises(ComponentNotFoundError):
            registry.get(kind, name)
        with pytest.raises(ComponentNotFoundError):
            registry.get(kind, f"{dist}:{name}")
    assert not [c for c in registry.components() if c.distribution == dist]
    # It is listed, with its error, so `neuroback plugins` can show it.
    (info,) = [p for p in registry.plugins() if p.distribution == dist]
    assert info.error
    assert info.components == []
    assert info.builtin is False


def test_warning_message_says_how_to_fix_it(make_registry):
    registry = make_registry(NEUROBACK_LOAD_PLUGINS="nb-demo-broken-import")
    with pytest.warns(PluginLoadWarning) as record:
        registry.plugins()
    (warning,) = [w for w in record if issubclass(w.category, PluginLoadWarning)]
    message = str(warning.message)
    assert "pip uninstall nb-demo-broken-import" in message
    assert "NEUROBACK_LOAD_PLUGINS" in message


def test_all_failing_plugins_warn_and_the_good_ones_load(make_registry):
    registry = make_registry()
    with pytest.warns(PluginLoadWarning) as record:
        registry.plugins()
    messages = [str(w.message) for w in record if issubclass(w.category, PluginLoadWarning)]
    for dist in FAILING:
        assert sum(f"'{dist}'" in m for m in messages) == 1, (dist, messages)
    assert registry.get("layers", "Mish").distribution == "nb-demo-other"
    assert registry.get("layers", "nb-demo-good:Swish").distribution == "nb-demo-good"


@pytest.mark.parametrize("dist", FAILING)
def test_strict_mode_turns_the_warning_into_an_error(make_registry, dist):
    reason, _ = FAILURES[dist]
    registry = make_registry(
        NEUROBACK_STRICT_PLUGINS="1", NEUROBACK_LOAD_PLUGINS=f"nb-demo-good,{dist}"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginLoadWarning)  # raised, not warned
        with pytest.raises(PluginError, match=rf"'{dist}'.*{reason}.*NEUROBACK_STRICT_PLUGINS"):
            registry.get("layers", "Dense")
        # A later lookup must not quietly use a half-loaded registry.
        with pytest.raises(PluginError, match=rf"'{dist}'"):
            registry.get("layers", "Dense")


def test_strict_mode_without_failures_loads_normally(make_registry):
    registry = make_registry(
        NEUROBACK_STRICT_PLUGINS="1", NEUROBACK_LOAD_PLUGINS="nb-demo-good,nb-demo-other"
    )
    assert registry.get("layers", "Mish").distribution == "nb-demo-other"
    assert registry.get("layers", "Dense").distribution == "neuroback"


def test_strict_mode_ignores_plugins_that_are_not_loaded(make_registry):
    registry = make_registry(NEUROBACK_STRICT_PLUGINS="1", NEUROBACK_DISABLE_PLUGIN_AUTOLOAD="1")
    assert registry.get("layers", "Dense").distribution == "neuroback"


def test_concurrent_first_lookups_wait_for_the_scan(make_registry, monkeypatch):
    """A second thread must not see a half-filled registry while the first one scans."""
    import importlib.metadata

    registry = make_registry(NEUROBACK_DISABLE_PLUGIN_AUTOLOAD="1")
    scanning = threading.Event()
    release = threading.Event()
    real_entry_points = importlib.metadata.entry_points

    def slow_entry_points(**kwargs):
        scanning.set()
        release.wait(10)
        return real_entry_points(**kwargs)

    monkeypatch.setattr(importlib.metadata, "entry_points", slow_entry_points)
    results: dict[str, object] = {}

    def lookup(key: str) -> None:
        try:
            results[key] = registry.get("layers", "Dense").distribution
        except Exception as exc:  # recorded and checked below
            results[key] = exc

    first = threading.Thread(target=lookup, args=("first",))
    first.start()
    assert scanning.wait(10)
    second = threading.Thread(target=lookup, args=("second",))
    second.start()
    time.sleep(0.2)  # give the second lookup time to (wrongly) run on the empty table
    release.set()
    first.join(10)
    second.join(10)
    assert results == {"first": "neuroback", "second": "neuroback"}
