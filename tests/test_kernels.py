"""Kernels beside their rules: the built-in update rules' kernels live in their modules,
their references run on every backend, their fast versions agree with them, and the
reference switch reaches every call."""

from __future__ import annotations

import numpy as np
import pytest

import neuroback as nb
from neuroback import jit
from neuroback.kernels import Kernel, kernels, reference_kernels
from neuroback.testing import ConformanceError, check_kernel

nb.optimizers.SGD  # loads the built-ins, whose modules define their kernels


def _builtin_kernels() -> list[Kernel]:
    return [k for k in kernels() if k.name in {"SGD.step", "Adam.step"}]


def test_the_update_rules_kernels_sit_beside_their_rules() -> None:
    found = {k.name: k for k in _builtin_kernels()}
    assert set(found) == {"SGD.step", "Adam.step"}
    assert found["SGD.step"].reference.__module__ == "neuroback_builtins.sgd"
    assert found["Adam.step"].reference.__module__ == "neuroback_builtins.adam"
    for kernel in found.values():
        # fused on the GPU; on the CPU the same operations without temporaries
        assert sorted(kernel.implementations) == ["cupy", "numpy"]
    backend_methods = set(vars(nb.Backend))
    assert not {"sgd_update", "adam_update"} & backend_methods  # no rule math in the core


@pytest.mark.parametrize("kernel", _builtin_kernels(), ids=lambda k: k.name)
def test_each_kernel_passes_the_kit_on_every_backend(kernel: Kernel, nb_backend) -> None:
    check_kernel(kernel, backend=nb_backend)


@pytest.mark.parametrize("kernel", _builtin_kernels(), ids=lambda k: k.name)
def test_the_numpy_versions_give_the_references_bits(kernel: Kernel) -> None:
    """Same operations in the same order, only without temporaries: bitwise equal, so a
    run gives the same numbers with NEUROBACK_REFERENCE_KERNELS=1."""
    numpy = nb.get_backend("numpy")
    for args, kwargs in kernel.example():
        ref = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        fast = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        kernel.reference(numpy, *ref, **kwargs)
        kernel.implementations["numpy"](numpy, *fast, **kwargs)
        for r, f in zip(ref, fast, strict=True):
            if isinstance(r, np.ndarray):
                assert np.array_equal(r, f), kwargs
        assert np.array_equal(args[1], fast[1])  # the gradient is left alone


def test_the_scratch_array_is_reused_within_a_session_and_released_after() -> None:
    from neuroback.kernels import SMALL_SCRATCH, scratch_like, scratch_session

    numpy = nb.get_backend("numpy")
    n = SMALL_SCRATCH  # at least this many elements share a buffer
    with scratch_session():
        first = scratch_like(numpy, np.zeros((n, 2), np.float32))
        again = scratch_like(numpy, np.zeros((2, n), np.float32))
        assert again.shape == (2, n) and np.shares_memory(first, again)
        big = scratch_like(numpy, np.zeros((n, 4), np.float32))
        assert big.shape == (n, 4) and big.dtype == np.float32
        assert scratch_like(numpy, np.zeros(n)).dtype == np.float64  # one buffer per dtype
        with scratch_session():  # nested: the same buffers
            assert np.shares_memory(scratch_like(numpy, np.zeros((n, 4), np.float32)), big)
        assert np.shares_memory(scratch_like(numpy, np.zeros((n, 4), np.float32)), big)
        tiny = scratch_like(numpy, np.zeros((3, 4), np.float32))  # small: a new array
        assert tiny.shape == (3, 4) and not np.shares_memory(tiny, big)
    outside = scratch_like(numpy, np.zeros((n, 4), np.float32))  # a new array each time
    assert not np.shares_memory(outside, big)
    assert not np.shares_memory(outside, scratch_like(numpy, np.zeros((n, 4), np.float32)))


def test_no_scratch_memory_outlives_an_optimizer_step() -> None:
    """Between steps (forward and backward, where memory peaks) the update kernels hold
    no scratch buffer: tracemalloc sees nothing left beyond what the step keeps."""
    import tracemalloc

    layer = nb.layers.Dense(256, 256, rng=0)  # one 256 KiB weight
    opt = nb.optimizers.Adam(lr=1e-3).bind(layer)
    layer.W.grad[...] = 1.0
    layer.b.grad[...] = 1.0  # the slots were made by bind()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        opt.step()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < 16 * 1024, after - before  # a scratch buffer would be 256 KiB


def _axpy() -> Kernel:
    def reference(backend, y, x, *, a):
        y += a * x

    return Kernel(
        "test.axpy", reference, example=lambda: [((np.ones(4), np.arange(4.0)), {"a": 2.0})]
    )


def test_a_fast_version_that_differs_from_the_reference_is_caught() -> None:
    axpy = _axpy()

    @axpy.implement("numpy")
    def wrong(backend, y, x, *, a):
        y += a * x + 1e-9  # off by a little: above float64's tolerance

    with pytest.raises(ConformanceError, match=r"computes what the reference computes.*argument 0"):
        check_kernel(axpy, backend="numpy")
    check_kernel(axpy, backend="strict")  # no fast version there: the reference alone


def test_a_reference_that_leaves_the_array_api_is_caught_on_the_strict_backend() -> None:
    def reference(backend, y, x, *, a):
        y += np.asarray(x) * a  # NumPy by name: CuPy would refuse this

    kernel = Kernel("test.leaky", reference, example=_axpy().example)
    check_kernel(kernel, backend="numpy")
    with pytest.raises(ConformanceError, match="the reference runs on every backend"):
        check_kernel(kernel, backend="strict")


def test_the_reference_switch_reaches_every_call(monkeypatch) -> None:
    axpy, calls = _axpy(), []

    @axpy.implement("numpy")
    def fast(backend, y, x, *, a):
        calls.append("fast")
        y += a * x

    numpy = nb.get_backend("numpy")
    y = np.zeros(2)
    axpy(numpy, y, np.ones(2), a=1.0)
    with reference_kernels():
        axpy(numpy, y, np.ones(2), a=1.0)
    assert calls == ["fast"] and y.tolist() == [2.0, 2.0]
    assert "fast on numpy" in repr(axpy)


def test_an_optimizer_step_goes_through_its_kernel() -> None:
    adam = next(k for k in _builtin_kernels() if k.name == "Adam.step")
    calls = []
    real = adam.implementations["numpy"]

    def spy(backend, *args, **kwargs):  # records the step, then runs the real version
        calls.append(kwargs["step"])
        real(backend, *args, **kwargs)

    adam.implementations["numpy"] = spy
    try:
        layer = nb.layers.Dense(2, 1, dtype="float64")
        opt = nb.optimizers.Adam(lr=0.1).bind(layer)
        for _ in range(2):
            layer.zero_grad()
            layer.W.grad[...] = 1.0
            opt.step()
    finally:
        adam.implementations["numpy"] = real
    assert calls == [1, 2]  # W and b packed into one flat buffer: one call per step


@pytest.mark.parametrize(("value", "runs"), [("1", "_sgd_reference"), ("0", "_sgd_cupy")])
def test_the_environment_switch_is_read_once_per_process(value: str, runs: str) -> None:
    """NEUROBACK_REFERENCE_KERNELS=1 makes every kernel run its reference, on any backend
    (a stand-in backend named 'cupy' shows which function a call would run)."""
    import os
    import subprocess
    import sys

    code = (
        "import types, neuroback as nb; nb.optimizers.SGD\n"
        "from neuroback.kernels import kernels\n"
        "sgd = next(k for k in kernels() if k.name == 'SGD.step')\n"
        "print(sgd.implementation_for(types.SimpleNamespace(name='cupy')).__name__)\n"
    )
    env = {**os.environ, "NEUROBACK_REFERENCE_KERNELS": value}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == runs


# -- the convolution's fold, compiled with numba where it is installed --------------------


def _fold() -> Kernel:
    from neuroback_builtins.windows import fold_columns

    return fold_columns


def test_the_fold_passes_the_kit_on_every_backend(nb_backend) -> None:
    check_kernel(_fold(), backend=nb_backend)


@pytest.mark.skipif(not jit.available(), reason="numba is not installed")
def test_the_compiled_fold_gives_the_references_bits() -> None:
    """One compiled loop adding the kernel offsets in the reference's order: bitwise equal
    on every example case and on a convolution's shapes (strides, dilation, 1-D), and
    the conv layers' input gradients equal with and without it."""
    fold = _fold()
    assert "numpy" in fold.implementations
    numpy = nb.get_backend("numpy")
    rng = np.random.default_rng(3)
    cases = [
        *fold.example(),
        (
            (
                rng.normal(size=(16, 3, 3, 8, 8, 64)).astype(np.float32),
                np.empty((16, 8, 8, 64), np.float32),
            ),
            {"kernel": (3, 3), "stride": (1, 1), "dilation": (1, 1), "padding": ((1, 1), (1, 1))},
        ),
        (
            (rng.normal(size=(4, 2, 3, 3, 2, 5)), np.empty((4, 7, 5, 5))),
            {"kernel": (2, 3), "stride": (3, 2), "dilation": (2, 1), "padding": ((1, 0), (1, 1))},
        ),
    ]
    for (columns, target), settings in cases:
        columns.reshape(-1)[::5] = -0.0
        ref, fast = np.array(target), np.array(target)
        fold.reference(numpy, columns, ref, **settings)
        fold.implementations["numpy"](numpy, columns, fast, **settings)
        assert np.array_equal(ref.view(np.uint8), fast.view(np.uint8)), settings  # bits
    layer = nb.layers.Conv2D(3, 4, 3, stride=2, padding=1, dilation=2, rng=0)
    x = rng.normal(size=(5, 3, 9, 8)).astype(np.float32)
    dy = rng.normal(size=layer(x).shape).astype(np.float32)
    _, back = layer.forward(x, train=True)
    with reference_kernels():
        _, back_ref = layer.forward(x, train=True)
        dx_ref = back_ref(dy)
    assert np.array_equal(back(dy), dx_ref)


# -- max pooling's kernels, compiled with numba where it is installed ---------------------


def _pooling_kernels() -> list[Kernel]:
    from neuroback_builtins.pooling import max_first, route_to_first

    return [max_first, route_to_first]


@pytest.mark.parametrize("name", ["MaxPool.first", "MaxPool.route"])
def test_the_pooling_kernels_pass_the_kit_on_every_backend(name: str, nb_backend) -> None:
    kernel = next(k for k in _pooling_kernels() if k.name == name)
    check_kernel(kernel, backend=nb_backend)


@pytest.mark.skipif(not jit.available(), reason="numba is not installed")
@pytest.mark.parametrize(
    ("cls", "kernel", "stride", "padding", "shape"),
    [
        (nb.layers.MaxPool2D, 2, None, 0, (4, 3, 8, 8)),
        (nb.layers.MaxPool2D, 3, 1, 1, (2, 3, 7, 6)),  # overlapping, padded
        (nb.layers.MaxPool2D, [3, 2], [2, 1], [1, 0], (2, 2, 9, 7)),
        (nb.layers.MaxPool1D, 3, 2, 1, (3, 4, 11)),
    ],
)
def test_compiled_max_pooling_gives_the_references_bits(
    cls, kernel, stride, padding, shape
) -> None:
    """Ties, NaN, -inf windows and overlapping windows: the compiled loops give the
    output, the argmax and the input gradient of the reference exactly."""
    for k in _pooling_kernels():
        assert "numpy" in k.implementations
    rng = np.random.default_rng(5)
    x = rng.integers(-2, 2, size=shape).astype(np.float32)  # many ties
    flat = x.reshape(-1)
    flat[::13], flat[1::17] = np.nan, -np.inf
    layer = cls(kernel, stride, padding)
    y, back = layer.forward(x, train=True)
    dy = rng.normal(size=y.shape).astype(np.float32)
    dy.reshape(-1)[::7] = -0.0  # the sign of a zero gradient is kept
    dy.reshape(-1)[3] = np.inf  # reaches its window's maximum only, as in PyTorch
    with reference_kernels():
        y_ref, back_ref = layer.forward(x, train=True)
        dx_ref = back_ref(dy)
    dx = back(dy)
    for got, want in ((y, y_ref), (dx, dx_ref)):
        np.testing.assert_array_equal(got, want)  # NaN where NaN
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    assert np.isposinf(dx).sum() == 1 and np.isnan(dx).sum() == np.isnan(dy).sum()


def _layer_kernels() -> list[Kernel]:
    from neuroback_builtins.activations import relu_backward
    from neuroback_builtins.dense_kernels import add_bias

    return [add_bias, relu_backward]


@pytest.mark.parametrize("name", ["Dense.add_bias", "ReLU.backward"])
def test_the_dense_and_relu_kernels_pass_the_kit_on_every_backend(name: str, nb_backend) -> None:
    kernel = next(k for k in _layer_kernels() if k.name == name)
    check_kernel(kernel, backend=nb_backend)


@pytest.mark.skipif(not jit.available(), reason="numba is not installed")
@pytest.mark.parametrize("name", ["Dense.add_bias", "ReLU.backward"])
def test_the_compiled_layer_kernels_give_the_references_bits(name: str) -> None:
    """One addition per element, one product per element: the compiled loops give
    NumPy's bits (NaN in the gradient or the output, signed zeros), on their cases, on
    non-contiguous views, which numba follows (add_bias) or which are copied (ReLU), and
    on Fortran-ordered arrays (ReLU's dx is then a new C-ordered array, filled)."""
    kernel = next(k for k in _layer_kernels() if k.name == name)
    numpy = nb.get_backend("numpy")
    assert kernel.implementation_for(numpy) is kernel.implementations["numpy"]
    rng = np.random.default_rng(2)
    wide = rng.normal(size=(6, 10)).astype(np.float32)
    wide.reshape(-1)[::3] = -0.0
    if name == "Dense.add_bias":
        views = (lambda a: a[:, ::2], lambda a: a[::2])
        strided = (np.asfortranarray(wide), rng.normal(size=10).astype(np.float32))
        transposed = (lambda a: a.T, lambda a: a)
        flipped = (wide.T.copy(), rng.normal(size=10).astype(np.float32))
    else:
        views = (lambda a: a[:, ::2], lambda a: a[:, ::2])
        strided = (-wide, np.maximum(wide, 0))
        transposed = (lambda a: a.T, lambda a: a.T)  # Fortran-ordered dy and y
        flipped = (np.ascontiguousarray(wide.T), np.ascontiguousarray(np.maximum(wide, 0).T))
    cases = [(args, kwargs, (lambda a: a,) * len(args)) for args, kwargs in kernel.example()]
    for args, kwargs, view in [*cases, (strided, {}, views), (flipped, {}, transposed)]:
        ref = [v(a.copy(order="K")) for v, a in zip(view, args, strict=True)]
        fast = [v(a.copy(order="K")) for v, a in zip(view, args, strict=True)]
        ref_out = kernel.reference(numpy, *ref, **kwargs)
        fast_out = kernel.implementations["numpy"](numpy, *fast, **kwargs)
        for r, f in zip(ref, fast, strict=True):
            assert r.tobytes() == f.tobytes()
        if ref_out is not None:
            assert fast_out.dtype == ref_out.dtype and fast_out.shape == ref_out.shape
            assert fast_out.tobytes() == ref_out.tobytes()


def test_the_bias_gradient_column_sums_pass_the_kit_on_every_backend(nb_backend) -> None:
    from neuroback.parameter import sum_rows

    check_kernel(sum_rows, backend=nb_backend)


def test_reference_kernels_also_turn_off_the_compiled_column_sums() -> None:
    from neuroback.parameter import sum_rows

    numpy = nb.get_backend("numpy")
    with reference_kernels():
        assert sum_rows.implementation_for(numpy) is sum_rows.reference
