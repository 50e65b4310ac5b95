"""The installed pytest plugin: the nb_backend fixture, as a plugin author's suite sees it."""

from __future__ import annotations

import importlib.util

import pytest

pytest_plugins = ["pytester"]

HAS_CUPY = importlib.util.find_spec("cupy") is not None

AUTHOR_TEST = """
import numpy as np
import neuroback as nb

def test_runs_on_the_active_backend(nb_backend):
    layer = nb.layers.Dense(2, 2)
    assert layer.backend is nb_backend
    x = nb_backend.asarray(np.ones((1, 2), np.float32))
    assert layer(x).shape == (1, 2)
"""


def test_nb_backend_defaults_to_numpy_and_cupy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_author=AUTHOR_TEST)
    result = pytester.runpytest_subprocess("-v", "-rs", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*test_runs_on_the_active_backend?numpy? PASSED*"])
    if not HAS_CUPY:
        result.stdout.fnmatch_lines(
            ["*test_runs_on_the_active_backend?cupy? SKIPPED*", "*cupy backend unavailable*"]
        )
    result.assert_outcomes(passed=1, skipped=0 if HAS_CUPY else 1)


def test_nb_backends_option_selects_the_strict_backend(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_author=AUTHOR_TEST)
    result = pytester.runpytest_subprocess("-v", "--nb-backends=numpy,strict")
    result.stdout.fnmatch_lines(["*?numpy? PASSED*", "*?strict? PASSED*"], consecutive=False)
    result.assert_outcomes(passed=2)


def test_gpu_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.gpu: needs CuPy and a CUDA GPU*"])
