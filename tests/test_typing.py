"""The public API is typed: mypy accepts the typed example and rejects a wrong call."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _mypy(target: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """mypy --strict over ``target`` as a user's project sees neuroback: imported, not
    checked itself (``--follow-imports=silent``, as for any installed library), found from
    this tree (an editable install's import hook is invisible to mypy)."""
    pytest.importorskip("mypy", reason="mypy comes with the test extra")
    env = {**os.environ, "MYPYPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")])}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",
            "--no-error-summary",
            "--cache-dir",
            str(cache),
            str(target),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=target.parent,
        env=env,
    )


def test_the_typed_example_passes_mypy_strict(tmp_path) -> None:
    example = tmp_path / "typed_usage.py"
    example.write_text((ROOT / "examples" / "typed_usage.py").read_text())
    proc = _mypy(example, tmp_path / "cache")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_wrong_call_through_a_namespace_is_a_type_error(tmp_path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import neuroback as nb\n"
        "layer = nb.layers.Dense('four', 8)\n"  # in_features is an int
        "opt = nb.optimizers.SGD(lr=0.1, momentun=0.9)\n"  # a misspelt keyword
        "other: type[nb.Loss] = nb.layers.get('Swish')\n"  # a layer is not a loss
    )
    proc = _mypy(bad, tmp_path / "cache")
    out = proc.stdout
    assert proc.returncode == 1, out
    assert 'Argument 1 to "Dense" has incompatible type "str"; expected "int"' in out
    assert 'Unexpected keyword argument "momentun" for "SGD"' in out
    assert 'Incompatible types in assignment (expression has type "type[Layer]"' in out


@pytest.mark.parametrize(
    "kind", ["layers", "losses", "optimizers", "transforms", "callbacks", "schedules", "metrics"]
)
def test_every_builtin_is_typed_in_its_namespace(kind: str) -> None:
    """A built-in added without its type-checking import would be a bare type[Base]."""
    import ast

    from neuroback.plugin_system import get_registry

    tree = ast.parse((ROOT / "neuroback" / f"{kind}.py").read_text())
    typed = {
        (node.module, alias.name)
        for block in tree.body
        if isinstance(block, ast.If) and getattr(block.test, "id", "") == "TYPE_CHECKING"
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    builtins = {
        (c.obj.__module__, c.name)
        for c in get_registry().components(kind)
        if c.distribution == "neuroback"
    }
    assert typed == builtins
