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


@pytest.mark.skipif(not jit.available(), reason="numba is not installed")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "settings",
    [
        {"momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
        {"momentum": 0.0, "dampening": 0.0, "weight_decay": 1e-2, "nesterov": False},
        {"momentum": 0.9, "dampening": 0.1, "weight_decay": 1e-2, "nesterov": False},
        {"momentum": 0.9, "dampening": 0.0, "weight_decay": 1e-3, "nesterov": True},
    ],
)
@pytest.mark.parametrize("first_step", [True, False])
def test_the_compiled_sgd_step_gives_the_numpy_versions_bits(
    dtype: type, settings: dict, first_step: bool
) -> None:
    """The compiled loop is SGD's NumPy kernel for NumPy arrays of float32/64: one pass, no
    temporary, the same roundings (values and velocity bitwise equal); other arrays (a
    non-contiguous view) take the NumPy version."""
    import neuroback as nb
    from neuroback_builtins import sgd

    backend = nb.get_backend("numpy")
    assert sgd.sgd_step.implementation_for(backend) is sgd._sgd_compiled
    rng = np.random.default_rng(7)
    for shape, view in [((33, 7), False), ((8, 12), True)]:
        value, grad, velocity = (rng.normal(size=shape).astype(dtype) for _ in "vgm")
        if view:  # every other column: not contiguous
            value, grad, velocity = value[:, ::2], grad[:, ::2], velocity[:, ::2]
        kwargs = {"lr": 0.05, **settings, "first_step": first_step}
        moving = velocity if settings["momentum"] else None
        expected_value, expected_velocity = value.copy(), velocity.copy()
        expected_moving = expected_velocity if moving is not None else None
        sgd._sgd_reference(backend, expected_value, grad, expected_moving, **kwargs)
        sgd._sgd_compiled(backend, value, grad, moving, **kwargs)
        np.testing.assert_array_equal(value, expected_value)
        np.testing.assert_array_equal(velocity, expected_velocity)


@pytest.mark.skipif(not jit.available(), reason="numba is not installed")
def test_a_weight_decay_that_rounds_to_zero_still_multiplies_as_numpy_does() -> None:
    """1e-50 is 0 in float32, but NumPy's version tests the Python value and adds
    0 * value, which is NaN for an infinite value: the compiled loop does the same."""
    import neuroback as nb
    from neuroback_builtins import sgd

    backend = nb.get_backend("numpy")
    kwargs = {"lr": 0.1, "momentum": 0.9, "dampening": 0.0, "weight_decay": 1e-50}
    for first_step in (True, False):
        value = np.array([np.inf, 0.5], np.float32)
        velocity = np.ones(2, np.float32)
        grad = np.ones(2, np.float32)
        expected, expected_velocity = value.copy(), velocity.copy()
        settings = {**kwargs, "nesterov": False, "first_step": first_step}
        with np.errstate(invalid="ignore"):
            sgd._sgd_numpy(backend, expected, grad, expected_velocity, **settings)
            sgd._sgd_compiled(backend, value, grad, velocity, **settings)
        np.testing.assert_array_equal(value, expected)
        np.testing.assert_array_equal(velocity, expected_velocity)


def test_after_numba_gives_up_compiled_loops_defer_to_numpy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once numba could not compile (it does not import, or refuses types), a compiled
    loop raises Unavailable, so its kernel runs the NumPy version: never the loop as
    interpreted Python, hundreds of times slower."""
    monkeypatch.setattr(jit, "_gave_up", "numba refused a loop (simulated)")
    loop = jit.compiled(_summed)
    with pytest.raises(jit.Unavailable, match="simulated"):
        loop(np.ones(3))
    import neuroback as nb
    from neuroback_builtins import sgd

    backend = nb.get_backend("numpy")
    value, grad = np.ones(4, np.float32), np.ones(4, np.float32)
    sgd.sgd_step(
        backend,
        value,
        grad,
        None,
        lr=0.5,
        momentum=0.0,
        dampening=0.0,
        weight_decay=0.0,
        nesterov=False,
        first_step=True,
    )
    np.testing.assert_array_equal(value, np.full(4, 0.5, np.float32))


@pytest.mark.skipif(not jit.available(), reason="numba is not installed")
def test_the_compiled_plain_sgd_step_follows_each_learning_rate_and_dtype() -> None:
    """The plain loop takes ``lr`` cast to the arrays' dtype, remembered between calls:
    a new rate (a schedule's), the same rate in another dtype, or an int rate each give
    the NumPy version's bits, on a flat buffer and on a 2-D parameter."""
    import neuroback as nb
    from neuroback_builtins import sgd

    backend = nb.get_backend("numpy")
    rng = np.random.default_rng(3)
    plain = {"momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False}
    for lr, dtype, shape in [
        (0.1, np.float32, (50,)),
        (0.1, np.float32, (50,)),
        (0.3, np.float32, (5, 10)),
        (0.3, np.float64, (50,)),
        (1, np.float64, (50,)),
        (0.1, np.float32, (7, 3)),
    ]:
        value, grad = (rng.normal(size=shape).astype(dtype) for _ in "vg")
        expected = value.copy()
        sgd._sgd_numpy(backend, expected, grad, None, lr=lr, **plain, first_step=True)
        sgd._sgd_compiled(backend, value, grad, None, lr=lr, **plain, first_step=True)
        np.testing.assert_array_equal(value, expected)
        assert value.dtype == dtype


@pytest.mark.skipif(not jit.available(), reason="numba is not installed")
def test_the_remembered_learning_rate_keeps_the_sign_of_zero() -> None:
    """-0.0 == 0.0, but they are different scalars: the cast is not reused across them."""
    from neuroback_builtins import sgd

    f32 = np.dtype(np.float32)
    assert not np.signbit(sgd._lr_scalar(0.0, f32))
    assert np.signbit(sgd._lr_scalar(-0.0, f32))
    assert not np.signbit(sgd._lr_scalar(0.0, f32))


@pytest.mark.skipif(not jit.available(), reason="numba is not installed")
def test_the_module_level_loops_are_kept_in_numbas_disk_cache(tmp_path) -> None:
    """A training step compiles the bias add, ReLU's backward, the column sums and SGD's
    loop (about a second each); numba keeps them on disk, so the next process loads them.
    Run in a fresh process with its own cache directory: the cache files appear there."""
    import os
    import subprocess
    import sys

    script = (
        "import numpy as np, neuroback as nb\n"
        "model = nb.Sequential(nb.layers.Dense(4, 8), nb.layers.ReLU(), nb.layers.Dense(8, 2))\n"
        "trainer = nb.Trainer(model, 'MSE', nb.optimizers.SGD(lr=0.1), seed=0)\n"
        "x = np.ones((16, 4), np.float32)\n"
        "trainer.fit(x, np.zeros((16, 2), np.float32), epochs=1, batch_size=8)\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=300)
    cached = {p.name.split(".")[0] for p in tmp_path.rglob("*.nbi")}
    for module in ("dense_kernels", "activations", "parameter", "sgd"):
        assert module in cached, (module, sorted(cached))
