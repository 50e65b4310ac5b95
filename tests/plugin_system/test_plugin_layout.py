"""Wiring of the built-ins: lazy, through the entry-point group, never imported by the core."""

from __future__ import annotations

import ast
import importlib.metadata
import tomllib
from pathlib import Path

import pytest

import neuroback
from neuroback.plugin_system import ENTRY_POINT_GROUP, PluginRegistry

PACKAGE_DIR = Path(neuroback.__file__).resolve().parent
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
REINSTALL = (
    "The installed neuroback metadata does not match pyproject.toml: editable installs freeze "
    "entry points and scripts at install time. Reinstall with `pip install -e .` "
    "(or `pip install -e '.[test]'`)."
)

LAZY_PROBE = """
import importlib.metadata
import json
import sys

scans = []
real_entry_points = importlib.metadata.entry_points


def spy(*args, **kwargs):
    scans.append(kwargs.get("group"))
    return real_entry_points(*args, **kwargs)


importlib.metadata.entry_points = spy

import neuroback
import neuroback.callbacks, neuroback.cli, neuroback.layers, neuroback.losses
import neuroback.metrics, neuroback.optimizers, neuroback.transforms

after_import = {
    "builtins_imported": "neuroback_builtins" in sys.modules,
    "plugin_imported": "nb_demo_good" in sys.modules,
    "loaded": neuroback.get_registry().loaded,
    "scans": list(scans),
}
neuroback.layers.Dense  # the first lookup
after_lookup = {
    "builtins_imported": "neuroback_builtins" in sys.modules,
    "plugin_imported": "nb_demo_good" in sys.modules,
    "loaded": neuroback.get_registry().loaded,
    "scans": list(scans),
}
print(json.dumps({"after_import": after_import, "after_lookup": after_lookup}))
"""


def test_importing_neuroback_scans_nothing(plugin_site, run_python):
    out = run_python(LAZY_PROBE, site=plugin_site, env={"NEUROBACK_LOAD_PLUGINS": "nb-demo-good"})
    assert out["after_import"] == {
        "builtins_imported": False,
        "plugin_imported": False,
        "loaded": False,
        "scans": [],
    }
    # The probe itself works: the first lookup scans the group once and imports the plugins.
    assert out["after_lookup"] == {
        "builtins_imported": True,
        "plugin_imported": True,
        "loaded": True,
        "scans": [ENTRY_POINT_GROUP],
    }


def test_simplest_import_does_not_load_builtins(run_python):
    out = run_python(
        "import neuroback, sys, json; "
        "print(json.dumps(['neuroback_builtins' in sys.modules, neuroback.get_registry().loaded]))"
    )
    assert out == [False, False]


def _imports_of_builtins(source: str, filename: str) -> list[str]:
    """Every place in ``source`` that imports neuroback_builtins at run time (as
    ``file:line``). Imports under ``if TYPE_CHECKING:`` never run: the typed namespaces
    name the built-in classes there, for type checkers only."""

    def is_builtins(module: str | None) -> bool:
        return module is not None and module.split(".")[0] == "neuroback_builtins"

    tree = ast.parse(source, filename)
    type_only = {
        id(inner)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and getattr(block.test, "id", "") == "TYPE_CHECKING"
        for stmt in block.body
        for inner in ast.walk(stmt)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            hit = any(is_builtins(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            hit = node.level == 0 and is_builtins(node.module)
        elif isinstance(node, ast.Call):  # importlib.import_module("...") / __import__("...")
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            hit = (
                name in {"import_module", "__import__"}
                and bool(node.args)
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and is_builtins(node.args[0].value)
            )
        else:
            hit = False
        if hit:
            found.append(f"{filename}:{node.lineno}")
    return found


@pytest.mark.parametrize(
    "snippet",
    [
        "import neuroback_builtins",
        "import numpy, neuroback_builtins.dense as d",
        "from neuroback_builtins import Dense",
        "from neuroback_builtins.sgd import SGD",
        "import importlib\nimportlib.import_module('neuroback_builtins')",
        "def f():\n    return __import__('neuroback_builtins.mse')",
    ],
)
def test_the_import_checker_catches(snippet):
    assert _imports_of_builtins(snippet, "snippet.py")


def test_the_import_checker_ignores_lookalikes():
    source = "import neuroback\nfrom . import builtins_x\nimport neuroback_builtins_extra\n"
    assert _imports_of_builtins(source, "ok.py") == []


def test_the_import_checker_ignores_type_checking_imports_only():
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from neuroback_builtins.dense import Dense\n"
        "else:\n    import neuroback_builtins\n"
    )
    assert _imports_of_builtins(source, "x.py") == ["x.py:5"]


def test_core_never_imports_the_builtins():
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    assert PACKAGE_DIR / "plugin_system" / "manager.py" in files  # scanning the right tree
    offenders = [
        hit
        for path in files
        for hit in _imports_of_builtins(
            path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE_DIR.parent))
        )
    ]
    assert offenders == [], (
        "neuroback/ must not import neuroback_builtins (the built-ins arrive through the "
        f"'{ENTRY_POINT_GROUP}' entry-point group like any plugin): {offenders}"
    )


def _pyproject() -> dict:
    with PYPROJECT.open("rb") as f:
        return tomllib.load(f)


def test_installed_entry_points_match_pyproject():
    declared = _pyproject()["project"]["entry-points"][ENTRY_POINT_GROUP]
    dist = importlib.metadata.distribution("neuroback")
    installed = {ep.name: ep.value for ep in dist.entry_points.select(group=ENTRY_POINT_GROUP)}
    assert installed == declared, (
        f"{REINSTALL}\n  pyproject.toml [project.entry-points.{ENTRY_POINT_GROUP}]: {declared}"
        f"\n  installed: {installed}"
    )


def test_installed_scripts_match_pyproject():
    declared = _pyproject()["project"]["scripts"]
    dist = importlib.metadata.distribution("neuroback")
    installed = {ep.name: ep.value for ep in dist.entry_points.select(group="console_scripts")}
    assert installed == declared, f"{REINSTALL}\n  declared: {declared}\n  installed: {installed}"


def test_builtins_are_found_through_the_entry_point_group():
    declared = _pyproject()["project"]["entry-points"][ENTRY_POINT_GROUP]
    assert declared == {"builtins": "neuroback_builtins"}
    (ep,) = [
        ep
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        if ep.dist is not None and ep.dist.name == "neuroback"
    ]
    assert (ep.name, ep.value) == ("builtins", "neuroback_builtins"), REINSTALL
    registry = PluginRegistry(env={"NEUROBACK_DISABLE_PLUGIN_AUTOLOAD": "1"})
    (builtins,) = [p for p in registry.plugins() if p.builtin]
    assert builtins.entry_point == "builtins = neuroback_builtins"
    dense = registry.get("layers", "Dense")
    assert dense.obj.__module__.startswith("neuroback_builtins.")
    assert dense.obj is ep.load().Dense
