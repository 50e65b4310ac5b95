"""The wheel, installed the way a user installs it: built from this tree, installed in a
fresh virtual environment, and run from a folder outside the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(cmd: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEUROBACK_", "PYTHON"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["MPLBACKEND"] = "Agg"
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a fresh environment holding the wheel with the examples extra."""
    base = tmp_path_factory.mktemp("wheel")
    wheels = base / "wheels"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            "-q",
        ],
        cwd=base,
    )
    (wheel,) = wheels.glob("neuroback-*.whl")
    env_dir = base / "env"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    _run([str(bin_dir / "python"), "-m", "pip", "install", "-q", f"{wheel}[examples]"], cwd=base)
    return bin_dir


def test_the_wheel_trains_and_lists_plugins_outside_the_source_tree(installed, tmp_path) -> None:
    python = str(installed / "python")
    where = _run([python, "-c", "import neuroback; print(neuroback.__file__)"], cwd=tmp_path)
    assert str(ROOT) not in where.stdout and "site-packages" in where.stdout
    train = _run(
        [str(installed / "neuroback"), "train", "--set", "trainer.epochs=1", "--quiet"],
        cwd=tmp_path,
    )
    assert train.stdout.strip().splitlines()[-1].startswith("test accuracy 0.")
    assert sorted(p.name for p in (tmp_path / "neuroback-run").iterdir()) == [
        "config.toml",
        "model.safetensors",
        "training.png",
    ]
    plugins = _run([str(installed / "neuroback"), "plugins"], cwd=tmp_path)
    assert "[built-in]" in plugins.stdout and "Dense" in plugins.stdout
    # the embedded default config is package data of the wheel
    shown = _run([str(installed / "neuroback"), "train", "--print-config"], cwd=tmp_path)
    assert 'dataset = "digits"' in shown.stdout
