"""The compatibility promise in code: the plugin API version a plugin declares is checked
when it loads, and a deprecation warns with the replacement and the removing release."""

from __future__ import annotations

import types
import warnings

import pytest

import neuroback as nb
from neuroback.deprecation import NeurobackDeprecationWarning, warn_deprecated
from neuroback.errors import PluginError
from neuroback.plugin_api import PLUGIN_API_VERSION, parse, supports

MAJOR, MINOR = parse(PLUGIN_API_VERSION)


def _plugin(declared: object, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.NEUROBACK_PLUGIN_API = declared

    class Doubler(nb.Layer):
        def forward(self, x, *, train, rng=None):
            return 2 * x, lambda dy, input_grad=True: 2 * dy

    Doubler.__name__ = f"Doubler{name.title().replace('_', '')}"

    @nb.hookimpl
    def neuroback_register_layers(register):
        register(Doubler)

    module.neuroback_register_layers = neuroback_register_layers
    return module


def test_the_version_is_exported_and_well_formed() -> None:
    assert nb.PLUGIN_API_VERSION == PLUGIN_API_VERSION
    assert MAJOR >= 1
    assert supports(PLUGIN_API_VERSION) and supports(f"{MAJOR}.0")


def test_a_plugin_for_this_api_or_an_older_minor_loads() -> None:
    info = nb.load_plugin(_plugin(f"{MAJOR}.0", "api_same"), distribution="nb-api-same")
    assert info.error is None and [c.name for c in info.components] == ["DoublerApiSame"]


@pytest.mark.parametrize(
    ("declared", "fix"),
    [
        (f"{MAJOR}.{MINOR + 1}", r"upgrade neuroback to a release with plugin API"),
        (f"{MAJOR + 1}.0", r"upgrade neuroback to a release with plugin API"),
        (f"{MAJOR - 1}.5", r"upgrade nb-api-refused to a release written for plugin API"),
    ],
)
def test_a_plugin_this_neuroback_cannot_serve_is_refused_with_the_side_to_upgrade(
    declared: str, fix: str
) -> None:
    with pytest.raises(PluginError, match=rf"written for neuroback's plugin API {declared}.*{fix}"):
        nb.load_plugin(_plugin(declared, "api_refused"), distribution="nb-api-refused")
    with pytest.raises(nb.errors.ComponentNotFoundError):
        nb.layers.get("DoublerApiRefused")  # nothing of it was registered


@pytest.mark.parametrize("declared", ["1", "v1.0", 1.0, "1.0.0"])
def test_a_malformed_declaration_is_refused(declared: object) -> None:
    with pytest.raises(PluginError, match=r"is not a version: .*'MAJOR\.MINOR'"):
        nb.load_plugin(_plugin(declared, "api_bad"), distribution="nb-api-bad")


def test_a_deprecation_names_the_replacement_and_points_at_the_caller() -> None:
    def old_api() -> None:
        warn_deprecated("old_api()", "new_api()", removed_in="0.3")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old_api()  # the warning points here
    (warning,) = caught
    assert issubclass(warning.category, NeurobackDeprecationWarning)
    assert issubclass(warning.category, DeprecationWarning)
    assert str(warning.message) == (
        "old_api() is deprecated and will be removed in neuroback 0.3; use new_api() instead."
    )
    assert warning.filename == __file__
