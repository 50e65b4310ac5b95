"""The README example and the main job train XOR through the public API."""

from __future__ import annotations

import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _readme_python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_readme_example_trains_xor_below_0_01(capsys) -> None:  # type: ignore[no-untyped-def]
    blocks = _readme_python_blocks()
    assert len(blocks) == 1, "the README should hold exactly one Python example"
    assert len(blocks[0].strip().splitlines()) <= 25
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    printed = float(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed < 0.01
    assert float(namespace["loss"]) == printed  # type: ignore[arg-type]


def test_xor_example_main_reaches_low_loss() -> None:
    module = runpy.run_path(str(ROOT / "examples" / "xor.py"))
    assert module["main"](steps=1000) < 0.01


def test_xor_example_runs_as_a_script_and_the_loss_falls() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "xor.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    losses = [float(v) for v in re.findall(r"^step\s+\d+\s+loss ([0-9.]+)$", out, flags=re.M)]
    assert len(losses) >= 5
    assert losses[-1] < losses[0] / 10
    assert float(re.search(r"final loss ([0-9.]+)", out).group(1)) < 0.01  # type: ignore[union-attr]


EXAMPLE_SCRIPTS = sorted((ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLE_SCRIPTS, ids=lambda p: p.name)
def test_every_example_script_explains_itself(script: Path) -> None:
    """Each example opens with a docstring saying what it does and how to run it."""
    import ast

    docstring = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8")))
    assert docstring and len(docstring.splitlines()) >= 3, f"{script.name} lacks a docstring"


@pytest.mark.parametrize(
    ("script", "options"),
    [
        ("train_digits.py", ["--epochs", "--seed", "--backend", "--gradient-plot"]),
        ("train_digits_cnn.py", ["--epochs", "--seed", "--backend", "--gradient-plot", "--quiet"]),
    ],
)
def test_the_digits_examples_answer_help(script: str, options: list[str]) -> None:
    """``--help`` describes the example (its docstring's first line) and trains nothing."""
    path = ROOT / "examples" / script
    out = subprocess.run(
        [sys.executable, str(path), "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    first_line = path.read_text(encoding="utf-8").split('"""')[1].splitlines()[0]
    assert "".join(first_line.split()) in "".join(out.split())  # however argparse wraps it
    for option in options:
        assert option in out, f"{script} --help does not list {option}"
    assert "epoch 1/" not in out
