"""warm_blas: one product through NumPy's BLAS, once per process, before the first
training step; a Trainer on the NumPy backend runs it when built; NEUROBACK_WARM_BLAS=0
turns it off; it changes no result.

Each case runs in a fresh interpreter: "once per process" is the contract, and this test
process has long since warmed its BLAS."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import neuroback as nb


def run(code: str, switch: str | None = None) -> str:
    env = dict(os.environ)
    env.pop("NEUROBACK_WARM_BLAS", None)
    if switch is not None:
        env["NEUROBACK_WARM_BLAS"] = switch
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_it_runs_once_per_process() -> None:
    code = """
        import neuroback as nb
        from neuroback import blas_warmup
        print(blas_warmup.warmed(), nb.warm_blas(), blas_warmup.warmed(), nb.warm_blas())
    """
    assert run(code) == "False True True False"


@pytest.mark.parametrize("off", ["0", "off", "No"])
def test_the_switch_turns_it_off(off: str) -> None:
    code = """
        import neuroback as nb
        from neuroback import blas_warmup
        print(nb.warm_blas(), blas_warmup.warmed())
    """
    assert run(code, switch=off) == "False False"


def test_a_switch_value_that_is_neither_on_nor_off_is_an_error() -> None:
    code = """
        import neuroback as nb
        try:
            nb.warm_blas()
        except nb.errors.ConfigError as exc:
            print(exc)
    """
    message = run(code, switch="later")
    assert "NEUROBACK_WARM_BLAS='later'" in message and "on/off" in message


@pytest.mark.parametrize("size", [0, -3, 2.5, True, "768"])
def test_a_size_that_is_not_a_positive_integer_is_refused(size: object) -> None:
    with pytest.raises(ValueError, match="size must be a positive integer"):
        nb.warm_blas(size=size)  # type: ignore[arg-type]


TRAINER = """
    import numpy as np
    import neuroback as nb
    from neuroback import blas_warmup
    nb.seed(0)
    model = nb.Sequential(nb.layers.Dense(16, 32), nb.layers.ReLU(), nb.layers.Dense(32, 4))
    assert not blas_warmup.warmed()
    trainer = nb.Trainer(model, nb.losses.MSE(), nb.optimizers.Adam(lr=1e-2), seed=0)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 16), dtype=np.float32)
    y = rng.standard_normal((64, 4), dtype=np.float32)
    for _ in range(5):
        trainer.train_step(x, y)
    weights = np.concatenate([p.value.ravel() for p in model.parameters()])
    print(blas_warmup.warmed(), weights.astype(np.float32).tobytes().hex())
"""


def test_a_trainer_on_numpy_warms_the_blas_when_built_and_changes_no_result() -> None:
    warmed, weights = run(TRAINER).split()
    cold, cold_weights = run(TRAINER, switch="0").split()
    assert (warmed, cold) == ("True", "False")
    assert weights == cold_weights  # bit for bit: only which buffer pages are mapped differs
