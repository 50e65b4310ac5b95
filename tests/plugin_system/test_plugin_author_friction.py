"""What got in a plugin author's way: loading an installed plugin again, and a hook module
whose functions lack @neuroback.hookimpl (it loaded with no components and no warning)."""

from __future__ import annotations

import types

import pytest

import neuroback_builtins
from neuroback.plugin_system import PluginLoadWarning, PluginRegistry


def _registry() -> PluginRegistry:
    return PluginRegistry(env={"NEUROBACK_LOAD_PLUGINS": "neuroback"})


def test_loading_an_installed_plugin_again_returns_it() -> None:
    registry = _registry()
    info = registry.load_plugin(neuroback_builtins, distribution="neuroback")
    assert info.builtin and info.error is None and len(info.components) > 20
    assert [p.distribution for p in registry.plugins()].count("neuroback") == 1


def test_hooks_without_the_marker_are_named_in_a_warning() -> None:
    module = types.ModuleType("my_swish")

    def neuroback_register_layers(register):  # forgot @neuroback.hookimpl
        raise AssertionError("never called")

    module.neuroback_register_layers = neuroback_register_layers
    registry = _registry()
    with pytest.warns(
        PluginLoadWarning,
        match=r"my-swish .*registered no component\. Its functions "
        r"\['neuroback_register_layers'\] are not decorated with @neuroback\.hookimpl",
    ):
        info = registry.load_plugin(module, distribution="my-swish")
    assert info.components == []


def test_a_plugin_with_no_hooks_at_all_is_warned_about() -> None:
    registry = _registry()
    with pytest.warns(PluginLoadWarning, match=r"registered no component\. Does it define hook"):
        registry.load_plugin(types.ModuleType("empty"), distribution="empty")


def test_a_plugin_pinning_the_minor_series_accepts_this_neuroback() -> None:
    """`neuroback>=0.1,<0.2` in a plugin's dependencies must admit neuroback itself (a dev
    pre-release such as 0.1.0.dev0 is excluded by ordinary pins)."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    import neuroback

    version = Version(neuroback.__version__)
    assert not version.is_prerelease, version
    series = f">={version.major}.{version.minor},<{version.major}.{version.minor + 1}"
    assert version in SpecifierSet(series)


def test_plugin_authors_have_an_extra_that_brings_the_kits_pytest() -> None:
    from importlib.metadata import metadata

    meta = metadata("neuroback")
    assert "plugin-dev" in meta.get_all("Provides-Extra")
    requirements = meta.get_all("Requires-Dist")
    assert any(r.startswith("pytest") and 'extra == "plugin-dev"' in r for r in requirements)
