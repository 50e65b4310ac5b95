"""Boolean NEUROBACK_* switches: one reader, and an unknown value is an error, never "off"."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

import neuroback
import neuroback.cli
from neuroback.errors import ConfigError
from neuroback.plugin_system import PluginRegistry, manager
from neuroback.switches import env_flag

ACCEPTED = r"1, true, yes, on \(on\) or 0, false, no, off \(off\)"
GOOD_ON = ["1", "true", "TRUE", "Yes", " on ", "On\n"]
GOOD_OFF = ["0", "false", "No", " OFF "]
BAD = ["yes-please", "2", "enable", "tru", "y", "-1", "none"]
#: Every boolean switch neuroback reads (NEUROBACK_BACKEND and NEUROBACK_LOAD_PLUGINS take names).
REGISTRY_SWITCHES = ["NEUROBACK_STRICT_PLUGINS", "NEUROBACK_DISABLE_PLUGIN_AUTOLOAD"]
CONFTEST = Path(__file__).parent / "conftest.py"


@pytest.mark.parametrize("value", GOOD_ON)
def test_on_values(value):
    assert env_flag("NEUROBACK_X", env={"NEUROBACK_X": value}) is True


@pytest.mark.parametrize("value", GOOD_OFF)
def test_off_values(value):
    assert env_flag("NEUROBACK_X", env={"NEUROBACK_X": value}, default=True) is False


@pytest.mark.parametrize("env", [{}, {"NEUROBACK_X": ""}, {"NEUROBACK_X": "   "}])
def test_unset_or_empty_is_the_default(env):
    assert env_flag("NEUROBACK_X", env=env) is False
    assert env_flag("NEUROBACK_X", env=env, default=True) is True


def test_reads_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("NEUROBACK_X", "yes")
    assert env_flag("NEUROBACK_X") is True
    monkeypatch.setenv("NEUROBACK_X", "maybe")
    with pytest.raises(ConfigError, match="NEUROBACK_X='maybe'"):
        env_flag("NEUROBACK_X")


@pytest.mark.parametrize("value", BAD)
def test_unknown_values_are_errors(value):
    with pytest.raises(ConfigError) as excinfo:
        env_flag("NEUROBACK_X", env={"NEUROBACK_X": value})
    message = str(excinfo.value)
    assert f"NEUROBACK_X={value!r}" in message  # the variable and the value
    assert re.search(ACCEPTED, message)  # the accepted values
    assert "empty or unset" in message


# -- the registry's switches ---------------------------------------------------------------


@pytest.mark.parametrize("switch", REGISTRY_SWITCHES)
@pytest.mark.parametrize("value", ["yes-please", "2"])
def test_a_bad_registry_switch_fails_the_first_lookup_and_loads_nothing(switch, value):
    env = {switch: value}
    registry = PluginRegistry(env=env)  # constructing reads nothing
    with pytest.raises(ConfigError, match=rf"{switch}='{value}'.*{ACCEPTED}"):
        registry.get("layers", "Dense")
    assert registry.loaded is False  # not half-loaded: not loaded at all
    with pytest.raises(ConfigError, match=switch):  # every lookup says it again
        registry.names("layers")
    with pytest.raises(ConfigError, match=switch):
        registry.register(lambda pred, target: 0.0, name="zero")
    env[switch] = "0"  # fixed: the registry loads normally now
    assert registry.get("layers", "Dense").distribution == "neuroback"
    assert "zero" not in registry.names("metrics")  # the refused registration left no trace


@pytest.mark.parametrize("switch", REGISTRY_SWITCHES)
@pytest.mark.parametrize("value", GOOD_ON + GOOD_OFF + [""])
def test_good_registry_switch_values_load(switch, value):
    # Only the built-ins load either way (the allow-list names no installed distribution).
    registry = PluginRegistry(env={switch: value, "NEUROBACK_LOAD_PLUGINS": "no-such-dist"})
    assert registry.get("layers", "Dense").distribution == "neuroback"


def test_the_namespaces_and_the_cli_report_a_bad_switch(monkeypatch, capsys):
    monkeypatch.setattr(manager, "_default", PluginRegistry())
    monkeypatch.setenv("NEUROBACK_STRICT_PLUGINS", "yes-please")
    with pytest.raises(ConfigError, match="NEUROBACK_STRICT_PLUGINS='yes-please'"):
        neuroback.layers.Dense
    assert neuroback.cli.main(["plugins"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("neuroback: error: NEUROBACK_STRICT_PLUGINS='yes-please'")
    monkeypatch.setenv("NEUROBACK_STRICT_PLUGINS", "no")
    assert neuroback.layers.Dense is neuroback.layers.get("neuroback:Dense")


# -- the oracle switch of the test suite -----------------------------------------------------


def _load_conftest():
    spec = importlib.util.spec_from_file_location("_conftest_probe", CONFTEST)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop("_conftest_probe", None)
    return module


@pytest.mark.parametrize("value", BAD)
def test_require_oracle_rejects_unknown_values(monkeypatch, value):
    monkeypatch.setenv("NEUROBACK_REQUIRE_ORACLE", value)
    with pytest.raises(ConfigError, match=rf"NEUROBACK_REQUIRE_ORACLE='{value}'.*{ACCEPTED}"):
        _load_conftest()


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("on", True), ("off", False)])
def test_require_oracle_good_values(monkeypatch, value, expected):
    monkeypatch.setenv("NEUROBACK_REQUIRE_ORACLE", value)
    assert _load_conftest().REQUIRE_ORACLE is expected
    monkeypatch.delenv("NEUROBACK_REQUIRE_ORACLE")
    assert _load_conftest().REQUIRE_ORACLE is False
