"""``neuroback plugins``: the command that lists installed plugins and their components."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import sys
import sysconfig
from pathlib import Path

import pytest

import neuroback.cli
from neuroback.plugin_system import PluginLoadWarning, PluginRegistry

BUILTIN_COMPONENTS = {
    "layers": {"Dense", "ReLU", "Sigmoid", "Sequential"},
    "losses": {"MSE"},
    "optimizers": {"SGD"},
    "schedules": {"Constant", "Cosine", "Exponential", "LinearWarmup", "StepDecay"},
}
GOOD_COMPONENTS = {
    "layers": ["SiLU", "Swish"],
    "losses": ["MAE"],
    "optimizers": ["SignSGD"],
    "transforms": ["ScaleGrads"],
    "callbacks": ["CountEpochs"],
    "metrics": ["mean_abs_error"],
    "schedules": ["Halving"],
    "strategies": ["loopback"],
    "commands": ["demo-hello"],
}
VERSION = importlib.metadata.version("neuroback")


def _console_script() -> str:
    """The ``neuroback`` script pip generated, next to this interpreter."""
    for directory in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        found = shutil.which("neuroback", path=str(directory))
        if found:
            return found
    pytest.fail(
        f"The 'neuroback' console script is not installed next to {sys.executable}; "
        f"reinstall the project with: pip install -e ."
    )


def _by_dist(payload: list[dict]) -> dict[str, dict]:
    return {entry["distribution"]: entry for entry in payload}


def _check_builtins(entry: dict) -> None:
    assert entry["builtin"] is True
    assert entry["error"] is None
    assert entry["version"] == VERSION
    assert entry["entry_point"] == "builtins = neuroback_builtins"
    for kind, names in BUILTIN_COMPONENTS.items():
        assert names <= set(entry["components"][kind]), kind


def test_json_lists_the_builtins(run_subprocess):
    proc = run_subprocess([sys.executable, "-m", "neuroback.cli", "plugins", "--json"])
    plugins = _by_dist(json.loads(proc.stdout))
    _check_builtins(plugins["neuroback"])
    assert not any(name.startswith("nb-demo-") for name in plugins)


@pytest.mark.parametrize("how", ["module", "console-script"])
def test_json_lists_installed_plugins_and_failures(plugin_site, run_subprocess, how):
    cmd = [sys.executable, "-m", "neuroback.cli"] if how == "module" else [_console_script()]
    proc = run_subprocess([*cmd, "plugins", "--json"], site=plugin_site)
    plugins = _by_dist(json.loads(proc.stdout))
    _check_builtins(plugins["neuroback"])

    good = plugins["nb-demo-good"]
    assert good == {
        "distribution": "nb-demo-good",
        "version": "1.2.3",
        "entry_point": "good = nb_demo_good",
        "builtin": False,
        "error": None,
        "components": GOOD_COMPONENTS,
    }
    assert plugins["nb-demo-other"]["components"] == {"layers": ["Mish", "Swish"]}

    broken = plugins["nb-demo-broken-import"]
    assert "ModuleNotFoundError" in broken["error"]
    assert "nb_demo_missing_dependency" in broken["error"]
    assert broken["components"] == {}
    assert "RuntimeError" in plugins["nb-demo-raising-hook"]["error"]
    assert plugins["nb-demo-raising-hook"]["components"] == {}
    assert "not a subclass" in plugins["nb-demo-invalid"]["error"]
    # The warnings went to stderr, and stdout stayed valid JSON.
    assert "PluginLoadWarning" in proc.stderr
    assert "nb-demo-broken-import" in proc.stderr


def _parse_text(out: str) -> dict[str, dict]:
    """``{distribution: {"header": line, "failed": line or None, kind: [names]}}``."""
    blocks: dict[str, dict] = {}
    current: dict = {}
    for line in out.splitlines():
        if not line.startswith(" "):
            current = blocks.setdefault(line.split()[0], {"header": line, "failed": None})
        elif line.strip().startswith("FAILED:"):
            current["failed"] = line.strip()
        else:
            kind, _, names = line.strip().partition(":")
            current[kind] = names.strip().split(", ")
    return blocks


def test_text_output(plugin_site, run_subprocess):
    proc = run_subprocess([_console_script(), "plugins"], site=plugin_site)
    blocks = _parse_text(proc.stdout)

    builtins = blocks["neuroback"]
    assert builtins["header"] == f"neuroback {VERSION} [built-in]  (builtins = neuroback_builtins)"
    assert builtins["failed"] is None
    for kind, names in BUILTIN_COMPONENTS.items():
        assert names <= set(builtins[kind]), kind

    good = blocks["nb-demo-good"]
    assert good.pop("header") == "nb-demo-good 1.2.3  (good = nb_demo_good)"
    assert good == {"failed": None, **GOOD_COMPONENTS}

    broken = blocks["nb-demo-broken-import"]
    assert broken == {
        "header": "nb-demo-broken-import 0.0.1  (broken = nb_demo_broken_import)",
        "failed": broken["failed"],
    }
    assert broken["failed"].startswith(
        "FAILED: failed to import 'nb_demo_broken_import': ModuleNotFoundError"
    )


def test_strict_mode_fails_and_names_the_plugin(plugin_site, run_subprocess):
    proc = run_subprocess(
        [sys.executable, "-m", "neuroback.cli", "plugins"],
        site=plugin_site,
        env={"NEUROBACK_STRICT_PLUGINS": "1", "NEUROBACK_LOAD_PLUGINS": "nb-demo-broken-runtime"},
        check=False,
    )
    assert proc.returncode != 0
    assert "nb-demo-broken-runtime" in proc.stderr
    assert proc.stderr.startswith("neuroback: error: ")  # one line, no traceback
    assert "Traceback" not in proc.stderr
    assert "NEUROBACK_STRICT_PLUGINS" in proc.stderr


def test_main_in_process(make_registry, use_global_registry, capsys):
    use_global_registry(make_registry(NEUROBACK_LOAD_PLUGINS="nb-demo-good,nb-demo-raising-hook"))
    with pytest.warns(PluginLoadWarning, match="nb-demo-raising-hook"):
        assert neuroback.cli.main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "nb-demo-good 1.2.3" in out
    assert "  FAILED: a hook raised RuntimeError: nb-demo-raising-hook exploded" in out
    assert "GhostLayer" not in out

    assert neuroback.cli.main(["plugins", "--json"]) == 0
    payload = _by_dist(json.loads(capsys.readouterr().out))
    assert set(payload) >= {"neuroback", "nb-demo-good", "nb-demo-raising-hook"}
    assert "nb-demo-other" not in payload
    assert payload["nb-demo-good"]["components"] == GOOD_COMPONENTS


def test_main_lists_runtime_components(use_global_registry, capsys):
    registry = use_global_registry(PluginRegistry(env={"NEUROBACK_DISABLE_PLUGIN_AUTOLOAD": "1"}))
    registry.register(lambda pred, target: 0.0, name="zero")
    assert neuroback.cli.main(["plugins", "--json"]) == 0
    payload = _by_dist(json.loads(capsys.readouterr().out))
    assert payload["local"]["components"] == {"metrics": ["zero"]}


def test_no_command_prints_help(capsys):
    assert neuroback.cli.main([]) == 2
    assert "plugins" in capsys.readouterr().out


def test_a_plugin_adds_a_subcommand(plugin_site, run_subprocess):
    proc = run_subprocess(
        [sys.executable, "-m", "neuroback", "demo-hello", "--name", "Ada"], site=plugin_site
    )
    assert proc.stdout.strip() == "hello Ada from nb-demo-good"
    listing = run_subprocess([sys.executable, "-m", "neuroback", "--help"], site=plugin_site)
    assert "demo-hello" in listing.stdout and "Greet, to show" in listing.stdout
