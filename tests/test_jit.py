"""neuroback.jit: compiled loops where numba is installed, switched off by NEUROBACK_JIT=0,
plain Python otherwise; the kernels that use them register only where they run."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from neuroback import jit


def _summed(values: np.ndarray) -> float:
    total = 0.0
    for v in values:
        total += v
    return total


def test_a_compiled_loop_computes_what_its_python_does() -> None:
    loop = jit.compiled(_summed)
    values = np.random.default_rng(0).normal(size=1000)
    assert loop(values) == _summed(values)  # same additions in the same order
    assert loop.__wrapped__ is _summed


def _registered(env_jit: str) -> str:
    code = (
        "import neuroback as nb; from neuroback import jit; nb.layers.Conv2D\n"
        "from neuroback_builtins import windows, pooling\n"
        "print(jit.available(), sorted(windows.fold_columns.implementations),"
        " sorted(pooling.max_first.implementations),"
        " sorted(pooling.route_to_first.implementations))"
    )
    env = {**os.environ, "NEUROBACK_JIT": env_jit}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_neuroback_jit_0_leaves_the_numpy_references() -> None:
    assert _registered("0") == "False [] [] []"


@pytest.mark.skipif(not jit.available(), reason="numba is not installed")
def test_with_numba_the_fold_and_max_pooling_run_compiled() -> None:
    assert _registered("1") == "True ['numpy'] ['numpy'] ['numpy']"


@pytest.mark.skipif(not jit.available(), reason="numba is not installed")
def test_types_numba_refuses_run_the_reference_with_one_warning() -> None:
    """float16 windows never reach the compiled loop (the kernel checks dtypes), and a
    loop numba cannot type raises jit.Unavailable after one RuntimeWarning."""
    import neuroback as nb

    x = np.random.default_rng(0).normal(size=(2, 3, 4, 4)).astype(np.float16)
    y, back = nb.layers.MaxPool2D(2).forward(x, train=True)
    assert y.dtype == np.float16 and back(np.ones_like(y)).dtype == np.float16
    code = (
        "import warnings, numpy as np\n"
        "from neuroback import jit\n"
        "def f(a):\n    return a.no_such_attribute\n"
        "loop = jit.compiled(f)\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.simplefilter('always')\n"
        "    try:\n        loop(np.zeros(3))\n"
        "    except jit.Unavailable:\n        print('unavailable')\n"
        "print(len(seen), jit.available())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["unavailable", "1", "False"]
