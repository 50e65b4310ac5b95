"""``neuroback check DISTRIBUTION``: the conformance kit over an installed distribution."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import neuroback as nb
import neuroback.cli
from neuroback.plugin_system import PluginRegistry, manager


class LeakyTwice(nb.Layer):
    """y = max(x, 0.5 x); its backward forgets the 0.5 on the negative side (a planted bug)."""

    def __init__(self, *, backend=None) -> None:
        super().__init__(backend=backend)

    def forward(self, x, *, train, rng=None):
        xp = self.backend.xp
        y = xp.maximum(x, 0.5 * x)

        def backward(dy, *, input_grad=True):
            return dy if input_grad else None  # wrong where x < 0: the slope is 0.5

        return y, backward

    def config(self):
        return {}

    @classmethod
    def example(cls):
        return cls(), np.linspace(-1.0, 1.0, 12).reshape(3, 4)


def test_the_builtins_pass_on_numpy_and_strict() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "neuroback", "check", "neuroback"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert all(line.startswith("pass  ") for line in lines[:-1])
    assert "neuroback:Dense" in proc.stdout and "neuroback:Adam" in proc.stdout
    total = len(lines) - 1
    assert lines[-1].startswith(f"{total} of {total} checks passed")


def test_a_planted_gradient_bug_fails_with_exit_1(monkeypatch, capsys) -> None:
    registry = PluginRegistry(env={"NEUROBACK_LOAD_PLUGINS": "neuroback"})
    monkeypatch.setattr(manager, "_default", registry)
    registry.register(LeakyTwice)
    assert neuroback.cli.main(["check", "local", "--backends", "numpy"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  local:LeakyTwice  layers      numpy" in out
    assert "GradientCheckError" in out or "ConformanceError" in out
    assert out.strip().splitlines()[-1].startswith("0 of 1 checks passed")


def test_an_unknown_distribution_is_one_line_with_the_installed_ones(capsys) -> None:
    assert neuroback.cli.main(["check", "nb-nothing"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("neuroback: error: No components of a distribution named 'nb-nothing'")
    assert "'neuroback'" in err
    with pytest.raises(AssertionError):
        assert "\n" in err.strip()
