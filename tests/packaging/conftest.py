"""A fresh virtual environment holding neuroback's wheel, built once per test session."""

from __future__ import annotations

import os
import venv
from pathlib import Path

import pytest
from packaging_support import ROOT, build_wheel, run


@pytest.fixture(scope="session")
def wheel_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a fresh environment holding the wheel with the examples extra
    (its dependencies come from the package index)."""
    base = tmp_path_factory.mktemp("wheel")
    wheels = base / "wheels"
    wheels.mkdir()
    wheel = build_wheel(ROOT, wheels)
    env_dir = base / "env"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    run([str(bin_dir / "python"), "-m", "pip", "install", "-q", f"{wheel}[examples]"], cwd=base)
    return bin_dir
