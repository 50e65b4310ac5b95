"""Conv1D, Conv2D and the sliding-window helpers they share (neuroback_builtins.windows).

The windows are checked against direct loops over positions (an independent
reference), fold against the adjoint identity and ``np.add.at``; the layers against
float64 finite differences on a grid of strides, dilations, groups and paddings, a
Dense layer (a 1x1 convolution is one), and each other (Conv1D is Conv2D of height 1).
PyTorch as an oracle is in test_conv_oracle.py.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import numpy as np
import pytest

import neuroback as nb
import neuroback.testing.strict  # registers the "strict" backend
from neuroback.errors import DTypeError, ShapeError
from neuroback.testing import check_layer, check_layer_gradients
from neuroback_builtins import windows
from neuroback_builtins.conv import Conv1D, Conv2D

STRICT = nb.get_backend("strict")


def _rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


# -- windows ----------------------------------------------------------------------------


def _unfold_by_loops(x: np.ndarray, kernel: tuple, stride: tuple, dilation: tuple) -> np.ndarray:
    """The window tensor U(x)[n, c, p, q] = x[n, c, s*p + d*q], one position at a time."""
    dims = len(kernel)
    spatial = x.shape[2:]
    out = [
        windows.output_size(n, k, s, 0, 0, d)
        for n, k, s, d in zip(spatial, kernel, stride, dilation, strict=True)
    ]
    result = np.empty((*x.shape[:2], *out, *kernel))
    for p in itertools.product(*(range(o) for o in out)):
        for q in itertools.product(*(range(k) for k in kernel)):
            at = tuple(s * pi + d * qi for s, pi, d, qi in zip(stride, p, dilation, q, strict=True))
            result[(Ellipsis, *p, *q)] = x[(slice(None), slice(None), *at)]
    assert dims == len(stride) == len(dilation)
    return result


WINDOW_CASES = [
    # (spatial, kernel, stride, dilation)
    ((9,), (3,), (1,), (1,)),
    ((10,), (2,), (3,), (2,)),
    ((7, 9), (3, 3), (1, 1), (1, 1)),
    ((7, 9), (2, 5), (2, 1), (1, 2)),
    ((8, 6), (1, 3), (3, 2), (2, 1)),
]


@pytest.mark.parametrize(("spatial", "kernel", "stride", "dilation"), WINDOW_CASES)
def test_unfold_is_a_view_equal_to_a_loop_over_positions(
    spatial: tuple, kernel: tuple, stride: tuple, dilation: tuple
) -> None:
    x = _rand(2, 3, *spatial)
    view = windows.unfold(np, x, kernel, stride, dilation)
    np.testing.assert_array_equal(view, _unfold_by_loops(x, kernel, stride, dilation))
    assert np.shares_memory(view, x)  # no copy


@pytest.mark.parametrize(("spatial", "kernel", "stride", "dilation"), WINDOW_CASES)
def test_fold_is_the_adjoint_of_unfold_and_equals_add_at(
    spatial: tuple, kernel: tuple, stride: tuple, dilation: tuple
) -> None:
    x = _rand(2, 3, *spatial, seed=1)
    u = windows.unfold(np, x, kernel, stride, dilation)
    g = _rand(*u.shape, seed=2)
    folded = windows.fold(np, g, x.shape, kernel, stride, dilation)
    # <U x, G> = <x, U^T G>
    np.testing.assert_allclose(np.sum(u * g), np.sum(x * folded), rtol=1e-12)
    # the same sum, scattered element by element with np.add.at through an index map
    index = np.arange(x.size).reshape(x.shape).astype(float)
    targets = windows.unfold(np, index, kernel, stride, dilation).astype(np.int64)
    reference = np.zeros(x.size)
    np.add.at(reference, targets.ravel(), g.ravel())
    np.testing.assert_allclose(folded.ravel(), reference, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("spatial", "kernel", "stride", "dilation"), WINDOW_CASES)
@pytest.mark.parametrize("pads", [(0, 0), (1, 1), (2, 0), (0, 3)])
def test_fold_unpadded_is_fold_then_unpad(
    spatial: tuple, kernel: tuple, stride: tuple, dilation: tuple, pads: tuple
) -> None:
    padding = tuple((pads[0], pads[1]) for _ in spatial)
    x = _rand(2, 3, *spatial, seed=5)
    padded = windows.pad(np, x, padding)
    g = _rand(*windows.unfold(np, padded, kernel, stride, dilation).shape, seed=6)
    expected = windows.unpad(windows.fold(np, g, padded.shape, kernel, stride, dilation), padding)
    got = windows.fold_unpadded(np, g, x.shape, kernel, stride, dilation, padding)
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)
    # into a given buffer (zeroed first), with the spatial axes in the middle, on strict
    out = STRICT.asarray(np.full((3, *spatial, 2), 7.0))
    moved = np.moveaxis(g, 0, 1 + len(spatial))  # (C, *out, N, *kernel)
    got_t = windows.fold_unpadded(
        STRICT.xp,
        STRICT.asarray(moved),
        out.shape,
        kernel,
        stride,
        dilation,
        padding,
        axis=1,
        out=out,
    )
    np.testing.assert_allclose(STRICT.to_host(got_t), np.moveaxis(expected, 0, -1), rtol=1e-14)


def test_windows_with_the_spatial_axes_in_the_middle_match_the_default_layout() -> None:
    x = _rand(2, 3, 7, 9)  # (N, C, H, W)
    kernel, stride, dilation, padding = (2, 3), (2, 1), (1, 2), ((1, 0), (2, 2))
    xt = np.ascontiguousarray(x.transpose(1, 2, 3, 0))  # (C, H, W, N)
    padded = windows.pad(np, x, padding)
    padded_t = windows.pad(np, xt, padding, axis=1)
    np.testing.assert_array_equal(padded_t, padded.transpose(1, 2, 3, 0))
    u = windows.unfold(np, padded, kernel, stride, dilation)  # (N, C, oh, ow, kh, kw)
    ut = windows.unfold(np, padded_t, kernel, stride, dilation, axis=1)  # (C, oh, ow, N, kh, kw)
    np.testing.assert_array_equal(ut, u.transpose(1, 2, 3, 0, 4, 5))
    g = _rand(*u.shape, seed=3)
    folded = windows.fold(np, g, padded.shape, kernel, stride, dilation)
    folded_t = windows.fold(
        np, g.transpose(1, 2, 3, 0, 4, 5), padded_t.shape, kernel, stride, dilation, axis=1
    )
    np.testing.assert_allclose(folded_t, folded.transpose(1, 2, 3, 0), rtol=1e-14)
    np.testing.assert_array_equal(
        windows.unpad(folded_t, padding, axis=1),
        windows.unpad(folded, padding).transpose(1, 2, 3, 0),
    )


def test_pad_fills_the_border_and_unpad_removes_it() -> None:
    x = _rand(2, 1, 3, 4)
    padded = windows.pad(np, x, ((1, 2), (0, 3)), value=-7.0)
    assert padded.shape == (2, 1, 6, 7)
    np.testing.assert_array_equal(padded[:, :, 1:4, 0:4], x)
    inside = np.zeros(padded.shape, bool)
    inside[:, :, 1:4, 0:4] = True
    assert np.all(padded[~inside] == -7.0)
    np.testing.assert_array_equal(windows.unpad(padded, ((1, 2), (0, 3))), x)
    assert windows.pad(np, x, ((0, 0), (0, 0))) is x
    assert windows.unpad(x, ((0, 0), (0, 0))) is x


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "lo", "hi", "dilation"),
    [
        (7, 3, 1, 0, 0, 1),
        (7, 3, 2, 1, 1, 1),
        (9, 2, 3, 0, 1, 2),
        (5, 5, 1, 0, 0, 1),
        (8, 1, 3, 0, 0, 1),
    ],
)
def test_output_size_counts_the_windows_unfold_makes(
    size: int, kernel: int, stride: int, lo: int, hi: int, dilation: int
) -> None:
    x = windows.pad(np, _rand(1, 1, size), ((lo, hi),))
    view = windows.unfold(np, x, (kernel,), (stride,), (dilation,))
    assert view.shape[2] == windows.output_size(size, kernel, stride, lo, hi, dilation)
    assert windows.output_size(2, 4, 1, 0, 0, 1) < 1  # the kernel does not fit


@pytest.mark.parametrize(
    ("value", "minimum", "words"),
    [
        ([3], 1, "a positive integer or a list of 2, got [3]"),
        (0, 1, "a positive integer"),
        (True, 1, "got True"),
        ([2, True], 1, "got [2, True]"),
        ((1, 2, 3), 1, "a list of 2"),
        (-1, 0, "a non-negative integer"),
        (2.0, 1, "got 2.0"),
        ("3", 1, "got '3'"),
    ],
)
def test_as_tuple_refuses_what_is_not_an_int_per_axis(value: Any, minimum: int, words: str) -> None:
    with pytest.raises(ValueError, match="Conv2D kernel_size must be") as info:
        windows.as_tuple(value, 2, "Conv2D kernel_size", minimum=minimum)
    assert words in str(info.value)


def test_as_tuple_accepts_ints_lists_tuples_and_numpy_ints() -> None:
    assert windows.as_tuple(3, 2, "k") == (3, 3)
    assert windows.as_tuple([1, 4], 2, "k") == (1, 4)
    assert windows.as_tuple((np.int64(2),), 1, "k") == (2,)
    assert windows.as_tuple(0, 1, "p", minimum=0) == (0,)


def test_windows_run_on_the_strict_backend_with_the_same_numbers() -> None:
    xp = STRICT.xp
    x = _rand(2, 3, 7, 9)
    kernel, stride, dilation, padding = (2, 3), (2, 1), (2, 1), ((1, 1), (0, 2))
    padded = windows.pad(xp, STRICT.asarray(x), padding)
    u = windows.unfold(xp, padded, kernel, stride, dilation)
    assert isinstance(u, xp.ndarray)
    expected = windows.unfold(np, windows.pad(np, x, padding), kernel, stride, dilation)
    np.testing.assert_array_equal(STRICT.to_host(u), expected)
    g = _rand(*expected.shape, seed=4)
    folded = windows.fold(xp, STRICT.asarray(g), padded.shape, kernel, stride, dilation)
    np.testing.assert_array_equal(
        STRICT.to_host(windows.unpad(folded, padding)),
        windows.unpad(windows.fold(np, g, padded.shape, kernel, stride, dilation), padding),
    )


# -- gradients against finite differences ---------------------------------------------------

GRID_2D = [
    # (in, out, kernel, keyword arguments, input shape)
    (2, 3, 3, {}, (2, 2, 5, 4)),
    (2, 3, 3, {"stride": 2, "padding": 1}, (2, 2, 5, 6)),
    (2, 2, 2, {"dilation": 2}, (1, 2, 6, 5)),
    (4, 2, 3, {"groups": 2, "padding": [1, 0]}, (1, 4, 4, 5)),
    (3, 3, 3, {"groups": 3, "padding": 1}, (2, 3, 4, 4)),  # depthwise
    (3, 6, 2, {"groups": 3, "stride": [1, 2]}, (1, 3, 4, 5)),  # depthwise, multiplier 2
    (2, 2, [2, 3], {"padding": "same"}, (1, 2, 4, 5)),  # even kernel: extra pad high
    (2, 2, 3, {"padding": "same", "dilation": [1, 2]}, (1, 2, 4, 5)),
    (2, 3, [1, 3], {"stride": [2, 1], "dilation": [1, 2], "bias": False}, (2, 2, 5, 6)),
    (1, 2, [3, 1], {"stride": 3, "padding": [2, 0]}, (2, 1, 7, 3)),
]
GRID_1D = [
    (2, 3, 3, {}, (2, 2, 7)),
    (2, 3, 2, {"stride": 2, "dilation": 2, "padding": 1}, (2, 2, 9)),
    (4, 4, 3, {"groups": 4, "padding": "same"}, (2, 4, 6)),
    (4, 2, 4, {"groups": 2, "padding": "same", "dilation": 2}, (1, 4, 8)),
]


def _grid_ids(grid: list) -> list[str]:
    return [f"k{k}-{kw}-x{shape}".replace(" ", "") for _, _, k, kw, shape in grid]


def _build(cls: type, case: tuple, *, dtype: str = "float64", seed: int = 0) -> tuple[Any, Any]:
    c_in, c_out, kernel, kwargs, shape = case
    layer = cls(c_in, c_out, kernel, dtype=dtype, rng=seed, **kwargs)
    if layer.b is not None:
        layer.b.assign(_rand(c_out, seed=seed + 1))
    return layer, _rand(*shape, seed=seed + 2).astype(dtype)


@pytest.mark.parametrize("case", GRID_2D, ids=_grid_ids(GRID_2D))
def test_conv2d_gradients_match_finite_differences(case: tuple) -> None:
    layer, x = _build(Conv2D, case)
    report = check_layer_gradients(layer, x, mode="exact")  # raises past rtol 1e-5
    assert set(report.errors) == {"input", *layer.named_parameters()}


@pytest.mark.parametrize("case", GRID_1D, ids=_grid_ids(GRID_1D))
def test_conv1d_gradients_match_finite_differences(case: tuple) -> None:
    layer, x = _build(Conv1D, case)
    report = check_layer_gradients(layer, x, mode="exact")  # raises past rtol 1e-5
    assert set(report.errors) == {"input", *layer.named_parameters()}


@pytest.mark.parametrize("case", [GRID_2D[3], GRID_2D[5], GRID_2D[8]], ids=["groups", "dw", "mix"])
def test_the_whole_layer_contract_holds_beyond_the_example(case: tuple) -> None:
    layer, x = _build(Conv2D, case)
    check_layer(layer, x)


@pytest.mark.parametrize("case", [GRID_2D[1], GRID_2D[5], GRID_2D[7]], ids=["s2", "dw", "same"])
def test_the_strict_backend_gives_the_numbers_numpy_gives(case: tuple) -> None:
    layer, x = _build(Conv2D, case)
    with nb.use_backend("strict"):
        strict_layer, _ = _build(Conv2D, case)
    assert isinstance(strict_layer.W.value, STRICT.xp.ndarray)
    dy = _rand(*layer(x).shape, seed=5)
    y, back = layer.forward(x, train=True)
    dx = back(dy)
    ys, back_s = strict_layer.forward(STRICT.asarray(x), train=True)
    dxs = back_s(STRICT.asarray(dy))
    np.testing.assert_array_equal(STRICT.to_host(ys), y)
    np.testing.assert_array_equal(STRICT.to_host(dxs), dx)
    for name, p in layer.named_parameters().items():
        strict_grad = STRICT.to_host(strict_layer.named_parameters()[name].grad)
        np.testing.assert_array_equal(strict_grad, p.grad)


# -- independent checks ---------------------------------------------------------------------


def test_a_1x1_conv2d_is_a_dense_layer_on_the_channel_axis() -> None:
    conv = Conv2D(4, 3, 1, dtype="float64", rng=0)
    conv.b.assign(_rand(3, seed=1))
    dense = nb.layers.Dense(4, 3, dtype="float64", rng=1)
    dense.W.assign(conv.W.value[:, :, 0, 0].T)
    dense.b.assign(conv.b.value)
    x = _rand(2, 4, 3, 5, seed=2)
    dy = _rand(2, 3, 3, 5, seed=3)
    y, back = conv.forward(x, train=True)
    dx = back(dy)
    rows = x.transpose(0, 2, 3, 1).reshape(-1, 4)  # one row per (sample, pixel)
    y_dense, back_dense = dense.forward(rows, train=True)
    dx_dense = back_dense(dy.transpose(0, 2, 3, 1).reshape(-1, 3))
    np.testing.assert_allclose(y, y_dense.reshape(2, 3, 5, 3).transpose(0, 3, 1, 2), rtol=1e-12)
    np.testing.assert_allclose(dx, dx_dense.reshape(2, 3, 5, 4).transpose(0, 3, 1, 2), rtol=1e-12)
    np.testing.assert_allclose(conv.W.grad[:, :, 0, 0], dense.W.grad.T, rtol=1e-12)
    np.testing.assert_allclose(conv.b.grad, dense.b.grad, rtol=1e-12)


@pytest.mark.parametrize("case", GRID_1D, ids=_grid_ids(GRID_1D))
def test_conv1d_is_conv2d_of_height_one(case: tuple) -> None:
    c_in, c_out, kernel, kwargs, _ = case
    conv1, x = _build(Conv1D, case)
    pad = kwargs.get("padding", 0)
    kwargs2 = {
        **{k: [1, v] for k, v in kwargs.items() if k in ("stride", "dilation")},
        "padding": pad if isinstance(pad, str) else [0, pad],
        "groups": kwargs.get("groups", 1),
    }
    conv2 = Conv2D(c_in, c_out, [1, kernel], dtype="float64", **kwargs2)
    conv2.W.assign(conv1.W.value[:, :, None, :])
    conv2.b.assign(conv1.b.value)
    dy = _rand(*conv1(x).shape, seed=7)
    y1, back1 = conv1.forward(x, train=True)
    y2, back2 = conv2.forward(x[:, :, None, :], train=True)
    np.testing.assert_allclose(y2[:, :, 0, :], y1, rtol=1e-12)
    np.testing.assert_allclose(back2(dy[:, :, None, :])[:, :, 0, :], back1(dy), rtol=1e-12)
    np.testing.assert_allclose(conv2.W.grad[:, :, 0, :], conv1.W.grad, rtol=1e-12)


@pytest.mark.parametrize(("kernel", "dilation"), [(1, 1), (2, 1), (3, 1), (4, 2), (5, 3), (2, 2)])
def test_same_padding_keeps_the_size_and_puts_the_extra_zero_high(
    kernel: int, dilation: int
) -> None:
    layer = Conv1D(1, 1, kernel, padding="same", dilation=dilation, bias=False, dtype="float64")
    total = dilation * (kernel - 1)
    assert layer.padding == ((total // 2, total - total // 2),)
    x = _rand(1, 1, 9)
    explicit = Conv1D(1, 1, kernel, dilation=dilation, bias=False, dtype="float64")
    explicit.W.assign(layer.W.value)
    expected = explicit(np.pad(x, ((0, 0), (0, 0), (total // 2, total - total // 2))))
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12)
    assert layer(x).shape == x.shape


def test_a_second_forward_before_the_first_backward_leaves_it_intact() -> None:
    layer, x = _build(Conv2D, GRID_2D[3])
    dy = _rand(*layer(x).shape, seed=8)
    _, back = layer.forward(x, train=True)
    dx_alone = back(dy)
    grads_alone = {k: p.grad.copy() for k, p in layer.named_parameters().items()}
    layer.zero_grad()
    _, back_first = layer.forward(x, train=True)
    layer.forward(_rand(*x.shape, seed=9), train=True)  # a second call, never back-propagated
    np.testing.assert_array_equal(back_first(dy), dx_alone)
    for name, p in layer.named_parameters().items():
        np.testing.assert_array_equal(p.grad, grads_alone[name])


def test_the_patch_buffer_is_lent_to_one_call_at_a_time(lent_arrays: Any) -> None:
    # The patch matrices live in a workspace reused across steps: lent to a training
    # forward, given back by its backward. A second forward while the first still holds
    # its buffer gets another one; the next forward after a backward gets the same one.
    lent = lent_arrays("cols")
    layer, x = _build(Conv2D, GRID_2D[1])
    x2 = _rand(*x.shape, seed=12)
    dy = _rand(*layer(x).shape, seed=13)
    _, back_alone = layer.forward(x2, train=True)
    dx2_alone = back_alone(dy)
    layer.zero_grad()
    lent.clear()
    _, back1 = layer.forward(x, train=True)
    _, back2 = layer.forward(x2, train=True)  # while the first holds its buffer
    assert len(lent) == 2 and not np.shares_memory(lent[0], lent[1])
    back1(dy)
    layer.forward(x, train=True)  # after a backward: that buffer again
    assert lent[2] is lent[0]
    layer.zero_grad()
    np.testing.assert_array_equal(back2(dy), dx2_alone)  # untouched by the third call


def test_a_second_backward_of_one_call_rebuilds_what_its_first_gave_back() -> None:
    layer, x = _build(Conv2D, GRID_2D[3])
    dy = _rand(*layer(x).shape, seed=14)
    _, back = layer.forward(x, train=True)
    dx = back(dy)
    once = {k: p.grad.copy() for k, p in layer.named_parameters().items()}
    layer.forward(_rand(*x.shape, seed=15), train=True)[1](dy)  # reuses the buffer
    layer.zero_grad()
    np.testing.assert_array_equal(back(dy), dx)
    for name, p in layer.named_parameters().items():
        np.testing.assert_array_equal(p.grad, once[name])


@pytest.mark.parametrize("backend", ["numpy", "strict"])
def test_batches_whose_samples_span_4_kib_give_the_per_sample_numbers(backend: str) -> None:
    # 2 x 16 x 16 float64 per sample (input and output): exactly 4 KiB, so moving the
    # sample axis goes in blocks of samples; the numbers must be those of one sample at a time
    be = nb.get_backend(backend)
    with nb.use_backend(backend):
        layer = Conv2D(2, 2, 3, padding=1, dtype="float64", rng=0)
    x, dy = _rand(12, 2, 16, 16, seed=16), _rand(12, 2, 16, 16, seed=17)
    y, back = layer.forward(be.asarray(x), train=True)
    dx = be.to_host(back(be.asarray(dy)))
    grads = {k: be.to_host(p.grad).copy() for k, p in layer.named_parameters().items()}
    layer.zero_grad()
    for i in range(len(x)):
        y_i, back_i = layer.forward(be.asarray(x[i : i + 1]), train=True)
        np.testing.assert_allclose(be.to_host(y)[i], be.to_host(y_i)[0], rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(dx[i], be.to_host(back_i(be.asarray(dy[i : i + 1])))[0])
    for name, p in layer.named_parameters().items():
        np.testing.assert_allclose(be.to_host(p.grad), grads[name], rtol=1e-12)


def test_input_grad_false_returns_none_with_the_same_parameter_gradients() -> None:
    layer, x = _build(Conv2D, GRID_2D[1])
    dy = _rand(*layer(x).shape, seed=10)
    _, back = layer.forward(x, train=True)
    assert back(dy) is not None
    full = {k: p.grad.copy() for k, p in layer.named_parameters().items()}
    layer.zero_grad()
    _, back = layer.forward(x, train=True)
    assert back(dy, input_grad=False) is None
    for name, p in layer.named_parameters().items():
        np.testing.assert_array_equal(p.grad, full[name])


def test_gradients_accumulate_across_backward_calls() -> None:
    layer, x = _build(Conv2D, GRID_2D[4])
    dy = _rand(*layer(x).shape, seed=11)
    _, back = layer.forward(x, train=True)
    back(dy)
    once = {k: p.grad.copy() for k, p in layer.named_parameters().items()}
    _, back = layer.forward(x, train=True)
    back(dy)
    for name, p in layer.named_parameters().items():
        np.testing.assert_allclose(p.grad, 2 * once[name], rtol=1e-12)


@pytest.mark.parametrize("cls", [Conv1D, Conv2D])
def test_float32_stays_float32(cls: type) -> None:
    case = GRID_1D[3] if cls is Conv1D else GRID_2D[6]
    layer, x = _build(cls, case, dtype="float32")
    y, back = layer.forward(x, train=True)
    dx = back(np.ones_like(y))
    assert (y.dtype, dx.dtype) == (np.float32, np.float32)
    assert {p.grad.dtype for p in layer.parameters()} == {np.dtype(np.float32)}
    layer64, x64 = _build(cls, case)  # the same numbers in float64, to float32 accuracy
    np.testing.assert_allclose(y, layer64(x64), rtol=1e-4, atol=1e-5)


# -- construction, config, errors ------------------------------------------------------------


def test_shapes_and_config_use_pytorch_names_and_layouts() -> None:
    layer = Conv2D(4, 6, (2, 3), stride=[1, 2], padding=1, dilation=2, groups=2, bias=False)
    assert layer.W.shape == (6, 2, 2, 3)
    assert layer.b is None and list(layer.named_parameters()) == ["W"]
    assert layer.config() == {
        "in_channels": 4,
        "out_channels": 6,
        "kernel_size": [2, 3],
        "stride": [1, 2],
        "padding": 1,
        "dilation": 2,
        "groups": 2,
        "bias": False,
        "init": "he",
        "dtype": "float32",
    }
    assert Conv1D(2, 2, 3, padding="same").config()["padding"] == "same"
    assert Conv1D(2, 2, 3, padding="valid").padding == ((0, 0),)


@pytest.mark.parametrize(
    "layer",
    [
        Conv2D(4, 6, (2, 3), stride=[1, 2], padding=[1, 0], groups=2, init="xavier"),
        Conv1D(3, 3, 5, padding="same", dilation=2, groups=3, dtype="float64"),
        Conv2D(2, 2, 3, padding="valid", bias=False),
    ],
    ids=["2d", "1d-same", "valid"],
)
def test_config_round_trips_through_json_and_the_registry(layer: Any) -> None:
    spec = json.loads(json.dumps(nb.to_spec(layer)))
    rebuilt = nb.build("layers", spec)
    assert type(rebuilt) is type(layer)
    assert rebuilt.config() == layer.config()
    for name, p in rebuilt.named_parameters().items():
        p.assign(layer.named_parameters()[name].value)
    x = _rand(2, layer.in_channels, *(6,) * layer.dims).astype(layer.dtype)
    np.testing.assert_array_equal(rebuilt(x), layer(x))


def test_init_uses_the_convolution_fans_and_the_seed() -> None:
    big = Conv2D(16, 32, 3, rng=0, dtype="float64")  # fan_in 144
    assert abs(big.W.value.std() / np.sqrt(2 / 144) - 1) < 0.05
    xavier = Conv2D(16, 32, 3, init="xavier", rng=0, dtype="float64")  # fan_out 288
    limit = np.sqrt(6 / (144 + 288))
    assert np.abs(xavier.W.value).max() <= limit
    assert np.abs(xavier.W.value).max() > 0.95 * limit
    grouped = Conv2D(16, 32, 3, groups=4, rng=0, dtype="float64")  # fan_in 36
    assert abs(grouped.W.value.std() / np.sqrt(2 / 36) - 1) < 0.1
    depthwise = Conv2D(64, 64, 1, groups=64, rng=0, dtype="float64")  # more weights than a draw
    assert len(np.unique(depthwise.W.value)) == 64
    np.testing.assert_array_equal(Conv1D(3, 4, 5, rng=7).W.value, Conv1D(3, 4, 5, rng=7).W.value)
    assert not np.any(Conv1D(3, 4, 5, init="zeros").W.value)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: Conv2D(6, 4, 3, groups=4), ["in_channels (6)", "divisible by groups (4)"]),
        (lambda: Conv2D(4, 6, 3, groups=4), ["out_channels (6)", "divisible by groups (4)"]),
        (lambda: Conv2D(4, 4, 3, stride=2, padding="same"), ["padding='same'", "stride 1"]),
        (lambda: Conv2D(4, 4, 3, init="uniform"), ["init must be one of", "'he'", "'uniform'"]),
        (lambda: Conv2D(4, 4, [3]), ["Conv2D kernel_size", "list of 2", "[3]"]),
        (lambda: Conv2D(4, 4, 0), ["Conv2D kernel_size", "positive integer"]),
        (lambda: Conv1D(4, 4, True), ["Conv1D kernel_size", "got True"]),
        (lambda: Conv2D(4, 4, 3, stride=0), ["Conv2D stride", "positive integer"]),
        (lambda: Conv2D(4, 4, 3, dilation=[1, 0]), ["Conv2D dilation", "[1, 0]"]),
        (lambda: Conv2D(4, 4, 3, padding=-1), ["Conv2D padding", "'same'", "got -1"]),
        (lambda: Conv2D(4, 4, 3, padding="full"), ["Conv2D padding", "'valid'", "'full'"]),
        (lambda: Conv1D(4, 4, 3, padding=[1, 1]), ["Conv1D padding", "list of 1", "[1, 1]"]),
        (lambda: Conv2D(0, 4, 3), ["Conv2D in_channels"]),
        (lambda: Conv2D(4, 4, 3, groups=0), ["Conv2D groups"]),
        (lambda: Conv2D(4, 4, 3, bias=None), ["Conv2D bias", "True or False"]),
    ],
)
def test_invalid_arguments_are_refused_at_construction(make: Any, words: list[str]) -> None:
    with pytest.raises(ValueError, match=re.escape(words[0])) as info:
        make()
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_a_kernel_larger_than_the_padded_input_is_a_shape_error() -> None:
    layer = Conv2D(1, 1, [3, 5], padding=[0, 1], dilation=[1, 2])
    with pytest.raises(ShapeError) as info:
        layer(np.zeros((1, 1, 4, 6), np.float32))  # width 6 + 1 + 1 = 8 < 2 * (5 - 1) + 1 = 9
    message = str(info.value)
    for word in ["Conv2D(", "axis 3 (width)", "size 8", "effective kernel size 9", "dilation 2"]:
        assert word in message, (word, message)
    assert layer(np.zeros((1, 1, 3, 7), np.float32)).shape == (1, 1, 1, 1)  # just fits
    with pytest.raises(ShapeError, match=r"axis 2 \(length\).*size 2"):
        Conv1D(1, 1, 3)(np.zeros((1, 1, 2), np.float32))


def test_bad_input_is_refused_with_the_layer_named() -> None:
    layer = Conv2D(3, 2, 3)
    with pytest.raises(ShapeError, match=r"Conv2D\(.*\(batch, channels, height, width\)"):
        layer(np.zeros((3, 8, 8), np.float32))
    with pytest.raises(ShapeError, match=r"Conv2D\(.*3 features on axis 1 \(channels\)"):
        layer(np.zeros((1, 4, 8, 8), np.float32))
    with pytest.raises(DTypeError, match="float32 parameters but got float64"):
        layer(np.zeros((1, 3, 8, 8)))
    with pytest.raises(ShapeError, match=r"Conv1D\(.*\(batch, channels, length\)"):
        Conv1D(3, 2, 3)(np.zeros((1, 3, 8, 8), np.float32))
    _, back = layer.forward(np.zeros((1, 3, 8, 8), np.float32), train=True)
    with pytest.raises(ShapeError):
        back(np.zeros((1, 2, 6, 7), np.float32))


@pytest.mark.parametrize("cls", [Conv1D, Conv2D])
def test_a_padded_layer_reused_on_other_input_equals_a_fresh_one(cls: type) -> None:
    # the padded input buffer is reused across calls with its border never rewritten: a
    # large first input must leave nothing behind in the border for the second
    dims = 1 if cls is Conv1D else 2
    spatial = (5,) * dims
    used = cls(2, 3, 3, padding=2, dilation=2, dtype="float64", rng=0)
    fresh = cls(2, 3, 3, padding=2, dilation=2, dtype="float64", rng=0)
    big, x = 1e6 * _rand(2, 2, *spatial, seed=1), _rand(2, 2, *spatial, seed=2)
    dy = _rand(*fresh(x).shape, seed=3)
    for _ in range(2):
        _, back = used.forward(big, train=True)
        back(dy)
    y_used, back_used = used.forward(x, train=True)
    y_fresh, back_fresh = fresh.forward(x, train=True)
    np.testing.assert_array_equal(y_used, y_fresh)
    np.testing.assert_array_equal(back_used(dy), back_fresh(dy))
