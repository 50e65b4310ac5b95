"""The README example and the main job train XOR through the public API."""

from __future__ import annotations

import re
import runpy
import subprocess
import sys
from pathlib import Path

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
