"""Running commands as a user would, and building wheels, for the packaging tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(
    cmd: list[str], cwd: Path, *, expect: int = 0, timeout: int = 900
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` as a user would: no NEUROBACK_ or PYTHON variables from this process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEUROBACK_", "PYTHON"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["MPLBACKEND"] = "Agg"
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == expect, (
        f"{cmd} exited with {proc.returncode}, expected {expect}:\n"
        f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


def build_wheel(project: Path, into: Path) -> Path:
    """A wheel of ``project``, built with this interpreter's setuptools (no network)."""
    cmd = [sys.executable, "-m", "pip", "wheel", str(project), "--no-deps"]
    run([*cmd, "--no-build-isolation", "-w", str(into), "-q"], cwd=into.parent)
    (wheel,) = sorted(into.glob("*.whl"), key=lambda p: p.stat().st_mtime)[-1:]
    return wheel
