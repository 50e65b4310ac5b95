"""MaxPool1D/2D, AvgPool1D/2D, GlobalAvgPool and Reshape: contract, numerics, errors.

The numerics are checked three ways: float64 central differences (the conformance
kit's gradient checker), a slow reference written with Python loops over output
positions (below, independent of the layers' window views), and PyTorch in
``test_pooling_oracle.py``.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.errors import DTypeError, ShapeError
from neuroback.testing import check_layer, check_layer_gradients

POOLS = {
    "MaxPool1D": (1, "max"),
    "MaxPool2D": (2, "max"),
    "AvgPool1D": (1, "avg"),
    "AvgPool2D": (2, "avg"),
}


def _pool(name: str, *args: Any, **kwargs: Any) -> nb.Layer:
    return getattr(nb.layers, name)(*args, **kwargs)


def _distinct(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Values at least 0.05 apart: no window has two maxima within a finite-difference step."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(math.prod(shape)).reshape(shape) - math.prod(shape) / 2) * 0.05


def _reference(
    x: np.ndarray, dy: np.ndarray, mode: str, kernel: tuple, stride: tuple, padding: tuple
) -> tuple[np.ndarray, np.ndarray]:
    """Pooling forward and input gradient with loops over every output position."""
    fill = -np.inf if mode == "max" else 0.0
    xp_ = np.pad(x, [(0, 0), (0, 0), *[(p, p) for p in padding]], constant_values=fill)
    out = tuple(
        (n + 2 * p - k) // s + 1
        for n, k, s, p in zip(x.shape[2:], kernel, stride, padding, strict=True)
    )
    y = np.zeros(x.shape[:2] + out)
    dxp = np.zeros_like(xp_)
    for n, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        for q in itertools.product(*(range(o) for o in out)):
            cells = [
                tuple(qi * si + oi for qi, si, oi in zip(q, stride, o, strict=True))
                for o in itertools.product(*(range(k) for k in kernel))
            ]  # row-major window order
            values = [xp_[(n, c, *cell)] for cell in cells]
            g = dy[(n, c, *q)]
            if mode == "max":  # over the window's input cells: padding never wins
                inputs = [
                    i
                    for i, cell in enumerate(cells)
                    if all(
                        p <= ci < p + m for ci, p, m in zip(cell, padding, x.shape[2:], strict=True)
                    )
                ]
                best = inputs[0]
                for i in inputs:
                    if values[i] > values[best]:  # strictly greater: the first maximum wins
                        best = i
                y[(n, c, *q)] = values[best]
                dxp[(n, c, *cells[best])] += g
            else:  # padding counts in the divisor
                y[(n, c, *q)] = sum(values) / len(values)
                for cell in cells:
                    dxp[(n, c, *cell)] += g / len(values)
    inner = (
        slice(None),
        slice(None),
        *(slice(p, p + m) for p, m in zip(padding, x.shape[2:], strict=True)),
    )
    return y, dxp[inner]


# -- the contract on more geometries than the examples -------------------------------------

KIT_CASES = [
    ("MaxPool1D", (4,), {"stride": 3, "padding": 2}, (2, 3, 9)),
    ("MaxPool1D", (1,), {}, (1, 2, 5)),
    ("MaxPool2D", ([2, 3],), {"stride": [1, 2], "padding": [1, 1]}, (2, 1, 5, 7)),
    ("MaxPool2D", (3,), {"stride": 1}, (1, 2, 4, 5)),
    ("AvgPool1D", (4,), {"stride": 3, "padding": 2}, (2, 3, 9)),
    ("AvgPool2D", ([2, 3],), {"stride": [1, 2], "padding": [1, 1]}, (2, 1, 5, 7)),
    ("AvgPool2D", (3,), {"stride": 2, "padding": 1}, (1, 2, 5, 5)),
]


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "shape"), KIT_CASES, ids=[f"{c[0]}-{c[3]}" for c in KIT_CASES]
)
def test_kit_passes_on_other_geometries(
    name: str, args: tuple, kwargs: dict, shape: tuple, nb_backend: Any
) -> None:
    check_layer(_pool(name, *args, **kwargs), _distinct(shape))


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (nb.layers.GlobalAvgPool(), (2, 3, 5)),
        (nb.layers.GlobalAvgPool(), (1, 2, 2, 3, 2)),
        (nb.layers.Reshape([-1]), (3, 2, 2)),
        (nb.layers.Reshape([3, 2, 1]), (2, 6)),
    ],
    ids=["global-3d", "global-5d", "reshape-flat", "reshape-up"],
)
def test_kit_passes_for_global_pool_and_reshape_variants(
    layer: nb.Layer, shape: tuple, nb_backend: Any
) -> None:
    check_layer(type(layer).from_config(layer.config()), _distinct(shape))


# -- finite differences in float64 on a grid ----------------------------------------------

GRID_1D = [
    (k, s, p, n) for k in (2, 3) for s in (1, 2, 3) for p in range(k // 2 + 1) for n in (5, 6)
]
GRID_2D = [
    ((2, 3), (1, 2), (1, 1), (5, 4)),
    ((3, 3), (2, 2), (1, 1), (5, 5)),
    ((3, 2), (3, 1), (0, 1), (7, 3)),
    ((1, 2), (1, 3), (0, 1), (3, 5)),
]


@pytest.mark.parametrize("mode", ["Max", "Avg"])
def test_input_gradient_matches_finite_differences_1d(mode: str) -> None:
    for k, s, p, n in GRID_1D:
        layer = _pool(f"{mode}Pool1D", k, stride=s, padding=p)
        report = check_layer_gradients(layer, _distinct((2, 2, n), seed=n), mode="exact")
        assert report.worst < 1e-6, (k, s, p, n)


@pytest.mark.parametrize("mode", ["Max", "Avg"])
def test_input_gradient_matches_finite_differences_2d(mode: str) -> None:
    for k, s, p, hw in GRID_2D:
        layer = _pool(f"{mode}Pool2D", list(k), stride=list(s), padding=list(p))
        report = check_layer_gradients(layer, _distinct((2, 1, *hw), seed=sum(hw)), mode="exact")
        assert report.worst < 1e-6, (k, s, p, hw)


def test_finite_difference_check_catches_a_wrong_pool_gradient() -> None:
    """The checker used above sees a gradient sent to the wrong element of a window."""
    from neuroback.testing import GradientCheckError

    class Misrouted(nb.Layer):
        def forward(self, x, *, train, rng=None):  # type: ignore[no-untyped-def]
            y, back = nb.layers.MaxPool1D(2).forward(x, train=train)
            return y, lambda dy, *, input_grad=True: np.roll(back(dy), 1, axis=-1)

        def config(self):  # type: ignore[no-untyped-def]
            return {}

    with pytest.raises(GradientCheckError):
        check_layer_gradients(Misrouted(), _distinct((1, 1, 6)), mode="exact")


@pytest.mark.parametrize("name", list(POOLS))
def test_forward_and_gradient_match_a_loop_reference(name: str, nb_backend: Any) -> None:
    dims, mode = POOLS[name]
    rng = np.random.default_rng(5)
    for kernel in itertools.product((1, 2, 3), repeat=dims):
        for stride in itertools.product((1, 2), repeat=dims):
            padding = tuple(k // 2 for k in kernel)
            x = rng.integers(-2, 3, size=(2, 2, *(5 + i for i in range(dims)))).astype(float)
            layer = _pool(name, list(kernel), stride=list(stride), padding=list(padding))
            y, backward = layer.forward(nb_backend.asarray(x), train=True)
            dy = rng.normal(size=tuple(y.shape))
            dx = backward(nb_backend.asarray(dy))
            y_ref, dx_ref = _reference(x, dy, mode, kernel, stride, padding)
            where = f"{name} kernel {kernel} stride {stride} padding {padding}"
            np.testing.assert_allclose(nb_backend.to_host(y), y_ref, atol=1e-12, err_msg=where)
            np.testing.assert_allclose(nb_backend.to_host(dx), dx_ref, atol=1e-12, err_msg=where)


# -- the tie rule and the divisor ---------------------------------------------------------


def test_max_pool_sends_a_tied_windows_gradient_to_its_first_element(nb_backend: Any) -> None:
    x = np.full((1, 1, 4, 4), 2.0)
    x[0, 0, 2:, 2:] = [[1.0, 3.0], [3.0, 3.0]]  # last window: a tie between 3 of 4
    y, backward = nb.layers.MaxPool2D(2).forward(nb_backend.asarray(x), train=True)
    dx = nb_backend.to_host(backward(nb_backend.asarray(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))))
    expected = np.zeros((4, 4))
    expected[0, 0], expected[0, 2], expected[2, 0] = 1.0, 2.0, 3.0  # first of each window
    expected[2, 3] = 4.0  # the first 3.0 in row-major order, not the later two
    np.testing.assert_array_equal(dx[0, 0], expected)
    np.testing.assert_array_equal(nb_backend.to_host(y)[0, 0], [[2.0, 2.0], [2.0, 3.0]])


def test_max_pool_1d_tie_in_overlapping_windows(nb_backend: Any) -> None:
    x = nb_backend.asarray(np.array([[[0.0, 5.0, 5.0, 5.0, 1.0]]]))
    _, backward = nb.layers.MaxPool1D(3, stride=1).forward(x, train=True)
    dx = backward(nb_backend.asarray(np.array([[[1.0, 10.0, 100.0]]])))
    # windows [0,5,5], [5,5,5], [5,5,1] pick positions 1, 1 and 2
    np.testing.assert_array_equal(nb_backend.to_host(dx), [[[0.0, 11.0, 100.0, 0.0, 0.0]]])


def test_max_pool_with_nan_outputs_nan_and_sends_the_gradient_to_the_first_nan(
    nb_backend: Any,
) -> None:
    nan = np.nan
    x = np.array([[[[1.0, 9.0, 1.0, 2.0], [nan, nan, 3.0, nan]]]])  # windows 2x2, stride 2
    y, backward = nb.layers.MaxPool2D(2).forward(nb_backend.asarray(x), train=True)
    np.testing.assert_array_equal(nb_backend.to_host(y), [[[[nan, nan]]]])
    dx = nb_backend.to_host(backward(nb_backend.asarray(np.array([[[[5.0, 7.0]]]]))))
    expected = np.zeros((2, 4))
    expected[1, 0], expected[1, 3] = 5.0, 7.0  # the first NaN in row-major window order
    np.testing.assert_array_equal(dx[0, 0], expected)
    # overlapping windows, 1-D (kernel 3, stride 1): [nan, 2, nan], [2, nan, 4], [nan, 4, 5]
    x1 = nb_backend.asarray(np.array([[[nan, 2.0, nan, 4.0, 5.0]]]))
    y1, back1 = nb.layers.MaxPool1D(3, stride=1).forward(x1, train=True)
    assert np.isnan(nb_backend.to_host(y1)).all()
    dx1 = back1(nb_backend.asarray(np.array([[[1.0, 10.0, 100.0]]])))
    np.testing.assert_array_equal(nb_backend.to_host(dx1), [[[1.0, 0.0, 110.0, 0.0, 0.0]]])


def test_max_pool_never_sends_gradient_into_the_padding() -> None:
    x = -1.0 - np.random.default_rng(0).random((2, 3, 5, 6))  # all negative, below the pad's 0
    layer = nb.layers.MaxPool2D(3, stride=2, padding=1)
    y, backward = layer.forward(x, train=True)
    assert np.all(y < 0)  # padded with -inf, not 0
    dy = np.random.default_rng(1).random(y.shape)
    np.testing.assert_allclose(backward(dy).sum(), dy.sum(), rtol=1e-12)


@pytest.mark.parametrize("name", ["MaxPool1D", "MaxPool2D"])
def test_a_window_of_minus_inf_sends_its_gradient_to_its_first_input(
    name: str, nb_backend: Any
) -> None:
    dims, _ = POOLS[name]
    shape = (2, 1, *(5 + i for i in range(dims)))
    x = np.full(shape, -np.inf)
    x[0, 0, 2:] = 1.0  # one sample with finite values too
    layer = _pool(name, 3, stride=2, padding=1)
    y, backward = layer.forward(nb_backend.asarray(x), train=True)
    dy = np.random.default_rng(0).normal(size=tuple(y.shape))
    dx = nb_backend.to_host(backward(nb_backend.asarray(dy)))
    kernel, stride, padding = (3,) * dims, (2,) * dims, (1,) * dims
    y_ref, dx_ref = _reference(x, dy, "max", kernel, stride, padding)
    np.testing.assert_array_equal(nb_backend.to_host(y), y_ref)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-15)
    np.testing.assert_allclose(dx.sum(), dy.sum(), rtol=1e-12)  # none lost in the padding


def test_avg_pool_counts_the_padding_in_the_divisor(nb_backend: Any) -> None:
    layer = nb.layers.AvgPool2D(3, stride=1, padding=1)
    y, backward = layer.forward(nb_backend.asarray(np.ones((1, 1, 4, 5))), train=True)
    real = np.array([2, 3, 3, 2])[:, None] * np.array([2, 3, 3, 3, 2])[None, :]  # real cells
    np.testing.assert_allclose(nb_backend.to_host(y)[0, 0], real / 9, rtol=1e-15)
    dx = nb_backend.to_host(backward(nb_backend.asarray(np.ones((1, 1, 4, 5)))))
    # every input cell is in as many windows as it has real neighbours (itself included)
    np.testing.assert_allclose(dx[0, 0], real / 9, rtol=1e-15)


def test_avg_pool_1d_divisor_with_padding() -> None:
    y = nb.layers.AvgPool1D(3, stride=2, padding=1)(np.full((1, 1, 5), 6.0))
    np.testing.assert_allclose(y, [[[4.0, 6.0, 4.0]]])  # windows [pad,6,6],[6,6,6],[6,6,pad]


# -- GlobalAvgPool ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 4, 5), (1, 2, 2, 3, 2)])
def test_global_avg_pool_means_over_every_spatial_axis(shape: tuple, nb_backend: Any) -> None:
    x = np.random.default_rng(0).normal(size=shape)
    y, backward = nb.layers.GlobalAvgPool().forward(nb_backend.asarray(x), train=True)
    spatial = tuple(range(2, len(shape)))
    np.testing.assert_allclose(nb_backend.to_host(y), x.mean(axis=spatial), rtol=1e-13)
    dy = np.random.default_rng(1).normal(size=shape[:2])
    dx = nb_backend.to_host(backward(nb_backend.asarray(dy)))
    count = math.prod(shape[2:])
    np.testing.assert_allclose(
        dx, np.broadcast_to(dy.reshape(*shape[:2], *[1] * len(spatial)) / count, shape)
    )
    assert backward(nb_backend.asarray(dy), input_grad=False) is None


def test_global_avg_pool_refuses_input_without_spatial_axes() -> None:
    with pytest.raises(
        ShapeError, match=r"GlobalAvgPool\(\).*\(batch, channels, \*spatial\).*\(4, 3\)"
    ):
        nb.layers.GlobalAvgPool()(np.zeros((4, 3)))


# -- Reshape ------------------------------------------------------------------------------


def test_reshape_keeps_the_batch_axis_and_inverts_in_backward(nb_backend: Any) -> None:
    x = np.random.default_rng(0).normal(size=(3, 64))
    y, backward = nb.layers.Reshape([1, 8, 8]).forward(nb_backend.asarray(x), train=True)
    np.testing.assert_array_equal(nb_backend.to_host(y), x.reshape(3, 1, 8, 8))
    dy = np.random.default_rng(1).normal(size=(3, 1, 8, 8))
    np.testing.assert_array_equal(
        nb_backend.to_host(backward(nb_backend.asarray(dy))), dy.reshape(3, 64)
    )


@pytest.mark.parametrize(
    ("shape", "x_shape", "out"),
    [([-1, 4], (2, 3, 8), (2, 6, 4)), ([2, -1], (5, 6), (5, 2, 3)), ([-1], (2, 2, 3), (2, 6))],
)
def test_reshape_infers_one_minus_one(shape: list, x_shape: tuple, out: tuple) -> None:
    layer = nb.layers.Reshape(shape)
    assert layer(np.zeros(x_shape)).shape == out
    assert layer.config() == {"shape": shape}


def test_reshape_works_on_an_empty_batch() -> None:
    assert nb.layers.Reshape([-1, 2])(np.zeros((0, 6))).shape == (0, 3, 2)


def test_reshape_size_mismatch_names_both_shapes() -> None:
    with pytest.raises(
        ShapeError, match=r"Reshape\(shape=\[1, 8, 8\]\).*\(4, 63\).*\(63,\).*\[1, 8, 8\].*64"
    ):
        nb.layers.Reshape([1, 8, 8])(np.zeros((4, 63)))
    with pytest.raises(ShapeError, match=r"\(2, 7\).*\[-1, 2\].*multiple of 2"):
        nb.layers.Reshape([-1, 2])(np.zeros((2, 7)))


@pytest.mark.parametrize("bad", [[2, -1, -1], [0, 4], [2, -3], [2.0, 3], "abc", None, [True, 2]])
def test_reshape_refuses_bad_shapes(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"Reshape shape") as info:
        nb.layers.Reshape(bad)
    assert "-1" in str(info.value)


def test_reshape_config_is_a_list_and_rebuilds() -> None:
    layer = nb.layers.Reshape((2, 3))
    assert layer.config() == {"shape": [2, 3]}
    rebuilt = nb.build("layers", nb.to_spec(layer))
    assert rebuilt.config() == {"shape": [2, 3]}


# -- arguments and input errors -----------------------------------------------------------


@pytest.mark.parametrize("name", list(POOLS))
@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"kernel_size": 0}, ["kernel_size", "positive integer"]),
        ({"kernel_size": True}, ["kernel_size", "positive integer"]),
        ({"kernel_size": 2.0}, ["kernel_size", "positive integer"]),
        ({"kernel_size": [2, 2, 2]}, ["kernel_size", "list of"]),
        ({"kernel_size": 2, "stride": 0}, ["stride", "positive integer"]),
        ({"kernel_size": 2, "padding": -1}, ["padding", "non-negative integer"]),
        ({"kernel_size": 3, "padding": 2}, ["padding", "half the kernel", "kernel_size // 2"]),
        ({"kernel_size": 1, "padding": 1}, ["padding", "half the kernel"]),
    ],
)
def test_invalid_arguments_say_what_is_expected(name: str, kwargs: dict, words: list) -> None:
    with pytest.raises(ValueError, match=words[0]) as info:
        _pool(name, **kwargs)
    message = str(info.value)
    assert name in message
    for word in words:
        assert word in message, message


def test_padding_limit_is_per_axis() -> None:
    nb.layers.MaxPool2D([3, 2], padding=[1, 1])  # 1 <= 3//2 and 1 <= 2//2
    with pytest.raises(
        ValueError, match=r"padding \[0, 2\] for kernel_size \[3, 2\].*padding <= 1"
    ):
        nb.layers.AvgPool2D([3, 2], padding=[0, 2])


@pytest.mark.parametrize("name", list(POOLS))
def test_a_kernel_larger_than_the_padded_input_is_a_shape_error(name: str) -> None:
    dims, _ = POOLS[name]
    layer = _pool(name, 4, padding=1)
    x = np.zeros((1, 2, *([1] * dims)))  # 1 + 2*1 = 3 < 4
    with pytest.raises(ShapeError) as info:
        layer(x)
    message = str(info.value)
    for word in (name, "kernel 4", str(x.shape), "3 < kernel"):
        assert word in message, message


@pytest.mark.parametrize("name", list(POOLS))
def test_wrong_rank_and_integer_input_are_refused(name: str) -> None:
    dims, _ = POOLS[name]
    layer = _pool(name, 2)
    layout = "(batch, channels, length)" if dims == 1 else "(batch, channels, height, width)"
    with pytest.raises(ShapeError, match=rf"{name}.*{re.escape(layout)}"):
        layer(np.zeros((2, 3, 4, 5, 6)[: dims + 1]))
    with pytest.raises(DTypeError, match="floating-point"):
        layer(np.zeros((1, 1, *([4] * dims)), dtype=np.int64))


@pytest.mark.parametrize("name", list(POOLS))
def test_a_wrong_gradient_shape_is_refused(name: str) -> None:
    dims, _ = POOLS[name]
    _, backward = _pool(name, 2).forward(np.zeros((1, 1, *([4] * dims))), train=True)
    with pytest.raises(ShapeError, match="expected a gradient of shape"):
        backward(np.zeros((1, 1, *([3] * dims))))


# -- config, dtype, input_grad ------------------------------------------------------------


def test_config_resolves_stride_and_uses_lists_only_when_axes_differ() -> None:
    assert nb.layers.MaxPool2D(2).config() == {"kernel_size": 2, "stride": 2, "padding": 0}
    assert nb.layers.AvgPool2D([2, 3], padding=[1, 0]).config() == {
        "kernel_size": [2, 3],
        "stride": [2, 3],
        "padding": [1, 0],
    }
    assert nb.layers.MaxPool1D(3, stride=1).config() == {
        "kernel_size": 3,
        "stride": 1,
        "padding": 0,
    }


@pytest.mark.parametrize("name", list(POOLS))
def test_config_rebuilds_the_same_pooling(name: str) -> None:
    dims, _ = POOLS[name]
    layer = _pool(name, [3, 2][:dims], stride=[2, 1][:dims], padding=1)
    rebuilt = nb.build("layers", nb.to_spec(layer))
    x = _distinct((2, 2, *([6] * dims)))
    np.testing.assert_array_equal(rebuilt(x), layer(x))


LAYERS_32 = [
    (nb.layers.MaxPool1D(3, stride=2, padding=1), (2, 3, 7)),
    (nb.layers.MaxPool2D([3, 2], stride=1, padding=1), (2, 3, 5, 4)),
    (nb.layers.AvgPool1D(3, stride=2, padding=1), (2, 3, 7)),
    (nb.layers.AvgPool2D([3, 2], stride=1, padding=1), (2, 3, 5, 4)),
    (nb.layers.GlobalAvgPool(), (2, 3, 5, 4)),
    (nb.layers.Reshape([-1, 2]), (2, 3, 4)),
]


@pytest.mark.parametrize(("layer", "shape"), LAYERS_32, ids=[repr(c[0]) for c in LAYERS_32])
def test_float32_stays_float32(layer: nb.Layer, shape: tuple, nb_backend: Any) -> None:
    layer = type(layer).from_config(layer.config())  # on this test's backend
    x = nb_backend.asarray(np.random.default_rng(0).normal(size=shape).astype(np.float32))
    y, backward = layer.forward(x, train=True)
    dx = backward(nb_backend.xp.ones_like(y))
    assert y.dtype == np.float32 and dx.dtype == np.float32
    assert tuple(dx.shape) == shape


@pytest.mark.parametrize("name", list(POOLS))
def test_input_grad_false_returns_none(name: str) -> None:
    dims, _ = POOLS[name]
    y, backward = _pool(name, 2).forward(np.ones((1, 1, *([4] * dims))), train=True)
    assert backward(np.ones(y.shape), input_grad=False) is None
