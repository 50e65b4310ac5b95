"""The backend shim: resolution order, errors, and moving models."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import neuroback as nb
from neuroback.errors import BackendError, BackendMismatchError

HAS_CUPY = importlib.util.find_spec("cupy") is not None


def test_numpy_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEUROBACK_BACKEND", raising=False)
    backend = nb.get_backend()
    assert backend.name == "numpy"
    assert backend.xp is np
    assert nb.layers.Dense(2, 2).backend is backend


def test_environment_variable_selects_the_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUROBACK_BACKEND", "no-such-backend")
    with pytest.raises(BackendError, match=r"Unknown backend 'no-such-backend'.*NEUROBACK_BACKEND"):
        nb.layers.Dense(2, 2)
    monkeypatch.setenv("NEUROBACK_BACKEND", "numpy")
    assert nb.layers.Dense(2, 2).backend.name == "numpy"


def test_explicit_argument_and_context_win_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEUROBACK_BACKEND", "no-such-backend")
    assert nb.layers.Dense(2, 2, backend="numpy").backend.name == "numpy"
    with nb.use_backend("numpy") as backend:
        assert nb.layers.ReLU().backend is backend
    with pytest.raises(BackendError):
        nb.get_backend()  # outside the context the environment applies again


def test_unknown_backend_lists_the_choices() -> None:
    with pytest.raises(BackendError, match=r"Expected one of \['cupy', 'numpy'"):
        nb.get_backend("tpu")


@pytest.mark.skipif(HAS_CUPY, reason="CuPy is installed here; this checks the message without it")
def test_cupy_missing_names_the_extra_to_install() -> None:
    with pytest.raises(BackendError, match=r"neuroback\[cuda12\].*neuroback\[cuda13\]"):
        nb.get_backend("cupy")


def test_backend_mismatch_names_the_layer_and_the_fix() -> None:
    layer = nb.layers.Dense(3, 2)
    with pytest.raises(BackendMismatchError, match=r"Dense\(in_features=3.*list.*model\.to"):
        layer.forward([[1.0, 2.0, 3.0]], train=False)


def test_backend_round_trip_and_generator() -> None:
    backend = nb.get_backend("numpy")
    host = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(backend.to_host(backend.asarray(host)), host)
    a = backend.generator(3).standard_normal(4)
    b = backend.generator(3).standard_normal(4)
    np.testing.assert_array_equal(a, b)


def test_model_to_keeps_parameter_identity() -> None:
    model = nb.Sequential(nb.layers.Dense(2, 3), nb.layers.ReLU())
    params_before = list(model.parameters())
    values_before = [p.value.copy() for p in params_before]
    assert model.to("numpy") is model
    assert list(model.parameters()) == params_before
    for p, v in zip(model.parameters(), values_before, strict=True):
        np.testing.assert_array_equal(p.value, v)


def test_register_backend_makes_a_new_name_selectable() -> None:
    class Tagged(type(nb.get_backend("numpy"))):  # type: ignore[misc]
        name = "tagged-numpy"

    nb.register_backend("tagged-numpy", Tagged)
    assert "tagged-numpy" in nb.available_backends()
    layer = nb.layers.Dense(2, 2, backend="tagged-numpy")
    assert layer.backend.name == "tagged-numpy"
    assert layer.W.backend is layer.backend


def test_all_finite_on_the_host_handles_0d_values_and_overflowing_squares() -> None:
    import warnings

    be = nb.get_backend("numpy")
    grads = np.ones(5, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no floating-point warning on the way
        assert bool(be.all_finite([grads, np.array(1e200)]))  # its square overflows: finite
        assert bool(be.all_finite([np.float32([3e38, 3e38]), np.array(0.5, np.float32)]))
        assert not bool(be.all_finite([grads, np.array(np.inf)]))
        assert not bool(be.all_finite([grads, np.array(np.nan, np.float32)]))
        assert not bool(be.all_finite([np.float32([1.0, np.nan]), np.array(0.5)]))


def test_all_finite_on_the_host_answers_with_arrays_nobody_can_change() -> None:
    """The host's answers are shared 0-d arrays: read-only, so a caller that combines
    them in place gets an error instead of changing every later answer."""
    be = nb.get_backend("numpy")
    yes, no = be.all_finite([np.ones(3)]), be.all_finite([np.array([np.inf])])
    assert yes.shape == () and yes.dtype == bool and bool(yes) and not bool(no)
    with pytest.raises(ValueError, match="read-only"):
        yes &= no
    assert bool(be.all_finite([np.ones(3)])) and not bool(be.all_finite([np.array(np.nan)]))
