"""BatchNorm on (N, C, L) and (N, C, H, W) input: statistics per channel over the batch and
every position (PyTorch's BatchNorm1d-on-3-D and BatchNorm2d conventions).

The PyTorch oracle for these shapes is in tests/test_oracle_torch.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.testing import check_layer, check_layer_gradients

SHAPES = {"3-D": (5, 3, 4), "4-D": (3, 3, 4, 5)}


def _bn(affine: bool = True, *, seed: int = 0, channels: int = 3) -> nb.layers.BatchNorm:
    layer = nb.layers.BatchNorm(channels, affine=affine, dtype="float64")
    if affine:
        rng = np.random.default_rng(seed)
        layer.gamma.assign(rng.uniform(0.5, 1.5, size=channels))
        layer.beta.assign(rng.normal(size=channels))
    return layer


def _data(shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # each channel its own offset and scale, so per-channel statistics matter
    offsets = np.array([2.0, -1.0, 5.0]).reshape((1, 3) + (1,) * (len(shape) - 2))
    scales = np.array([3.0, 0.5, 1.5]).reshape((1, 3) + (1,) * (len(shape) - 2))
    return offsets + scales * rng.normal(size=shape)


def _as_rows(x: np.ndarray) -> np.ndarray:
    """(N, C, ...) -> (N * prod(spatial), C): every position of every sample is a row."""
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _from_rows(rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    moved = (shape[0], *shape[2:], shape[1])
    return np.moveaxis(rows.reshape(moved), -1, 1)


def test_batchnorm_declares_its_features_on_axis_1() -> None:
    assert nb.layers.BatchNorm.feature_axis == 1


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("rank", list(SHAPES))
def test_the_conformance_kit_passes_on_channel_input(
    rank: str, affine: bool, nb_backend: Any
) -> None:
    # Gradients against finite differences, two forwards before a backward, float32 kept,
    # wrong backend / dtype / channel count / gradient shape rejected, config round trip.
    check_layer(_bn(affine), _data(SHAPES[rank]))


@pytest.mark.parametrize("rank", list(SHAPES))
def test_inference_gradients_match_finite_differences(rank: str, nb_backend: Any) -> None:
    layer = _bn()
    layer.load_state({"running_mean": [0.5, -1.0, 2.0], "running_var": [4.0, 0.25, 1.5]})
    check_layer_gradients(layer, _data(SHAPES[rank]), mode="exact", train=False)


@pytest.mark.parametrize("rank", list(SHAPES))
def test_channel_input_is_the_2d_layer_with_every_position_a_row(rank: str) -> None:
    """The defining identity: (N, C, ...) input behaves as (N * positions, C) rows."""
    shape = SHAPES[rank]
    x = _data(shape)
    dy = np.random.default_rng(2).normal(size=shape)
    nd, flat = _bn(), _bn()
    for step in range(2):  # two training steps move the running statistics
        nd.zero_grad()
        flat.zero_grad()
        y, back = nd.forward(x + step, train=True)
        y2, back2 = flat.forward(_as_rows(x + step), train=True)
        np.testing.assert_allclose(y, _from_rows(y2, shape), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            back(dy), _from_rows(back2(_as_rows(dy)), shape), rtol=1e-10, atol=1e-12
        )
        np.testing.assert_allclose(nd.gamma.grad, flat.gamma.grad, rtol=1e-12)
        np.testing.assert_allclose(nd.beta.grad, flat.beta.grad, rtol=1e-12)
        for name in ("running_mean", "running_var"):
            np.testing.assert_allclose(nd.state(name), flat.state(name), rtol=1e-12)
    y, back = nd.forward(x, train=False)
    y2, back2 = flat.forward(_as_rows(x), train=False)
    np.testing.assert_allclose(y, _from_rows(y2, shape), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(back(dy), _from_rows(back2(_as_rows(dy)), shape), rtol=1e-12)


@pytest.mark.parametrize("rank", list(SHAPES))
def test_statistics_are_per_channel_over_batch_and_positions(rank: str) -> None:
    shape = SHAPES[rank]
    x = _data(shape)
    layer = nb.layers.BatchNorm(3, dtype="float64", momentum=0.25)
    y, _ = layer.forward(x, train=True)
    axes = (0, *range(2, len(shape)))
    np.testing.assert_allclose(y.mean(axis=axes), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=axes), 1.0, rtol=1e-4)  # eps = 1e-5 in the divisor
    # running estimates: unbiased variance with m = N * prod(spatial) values per channel
    m = x.size // 3
    mean = np.array([x[:, c].mean() for c in range(3)])
    var = np.array([x[:, c].var() for c in range(3)])
    np.testing.assert_allclose(layer.state("running_mean"), 0.25 * mean, rtol=1e-12)
    np.testing.assert_allclose(
        layer.state("running_var"), 0.75 + 0.25 * var * m / (m - 1), rtol=1e-12
    )


def test_a_3d_input_of_length_one_matches_2d_input() -> None:
    x = _data((6, 3, 1))
    dy = np.random.default_rng(3).normal(size=x.shape)
    a, b = _bn(), _bn()
    y3, back3 = a.forward(x, train=True)
    y2, back2 = b.forward(x[:, :, 0], train=True)
    np.testing.assert_allclose(y3[:, :, 0], y2, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(back3(dy)[:, :, 0], back2(dy[:, :, 0]), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(a.state("running_var"), b.state("running_var"), rtol=1e-13)


def test_float32_channel_input_keeps_float32_statistics() -> None:
    layer = nb.layers.BatchNorm(3)
    x = _data((4, 3, 5, 5)).astype(np.float32)
    y, back = layer.forward(x, train=True)
    dx = back(np.ones_like(y))
    assert y.dtype == dx.dtype == np.float32
    assert layer.state("running_mean").dtype == layer.state("running_var").dtype == np.float32
    assert layer.gamma.grad.dtype == np.float32


# -- the "at least 2 values per channel" rule -----------------------------------------------


@pytest.mark.parametrize("shape", [(1, 3, 1), (1, 3, 1, 1)])
def test_one_value_per_channel_is_rejected_in_training(shape: tuple[int, ...]) -> None:
    layer = nb.layers.BatchNorm(3)
    x = np.ones(shape, np.float32)
    with pytest.raises(nb.errors.ShapeError) as info:
        layer.forward(x, train=True)
    message = str(info.value)
    assert message.startswith("BatchNorm(num_features=3")
    assert "at least 2 values per channel" in message
    assert f"got input of shape {shape}: 1 value per channel" in message
    assert "train=False" in message
    assert layer.state("running_mean").tolist() == [0.0, 0.0, 0.0]  # nothing moved
    assert layer(x).shape == shape  # inference needs no batch statistics


@pytest.mark.parametrize("shape", [(1, 3, 2), (1, 3, 2, 1), (2, 3, 1, 1)])
def test_two_values_per_channel_are_enough(shape: tuple[int, ...]) -> None:
    # one sample with two positions is enough: the rule counts values, not samples
    layer = nb.layers.BatchNorm(3, dtype="float64")
    x = np.arange(6, dtype=np.float64).reshape(shape)
    y, _ = layer.forward(x, train=True)
    np.testing.assert_allclose(np.abs(y), 1.0, rtol=1e-4)  # +-1 per channel, eps aside
    assert np.isfinite(layer.state("running_var")).all()


def test_the_2d_rule_and_message_are_unchanged() -> None:
    with pytest.raises(nb.errors.ShapeError, match="needs at least 2 samples per batch"):
        nb.layers.BatchNorm(3).forward(np.ones((1, 3), np.float32), train=True)


# -- other bad input ----------------------------------------------------------------------


def test_a_wrong_channel_count_names_axis_1() -> None:
    with pytest.raises(nb.errors.ShapeError, match=r"expects 3 features on axis 1 \(channels\)"):
        nb.layers.BatchNorm(3)(np.ones((2, 4, 3, 3), np.float32))
    # the last axis may be anything, even 3
    assert nb.layers.BatchNorm(3)(np.ones((2, 3, 5, 3), np.float32)).shape == (2, 3, 5, 3)


@pytest.mark.parametrize("shape", [(4,), (2, 3, 2, 2, 2)])
def test_an_unsupported_rank_names_the_accepted_layouts(shape: tuple[int, ...]) -> None:
    with pytest.raises(nb.errors.ShapeError) as info:
        nb.layers.BatchNorm(3)(np.ones(shape, np.float32))
    message = str(info.value)
    assert message.startswith("BatchNorm(num_features=3")
    assert "(batch, features) or (batch, channels, length) or " in message
    assert "(batch, channels, height, width)" in message
    assert f"got shape {shape}" in message


def test_a_gradient_of_the_wrong_shape_is_rejected_on_channel_input() -> None:
    layer = nb.layers.BatchNorm(3)
    _, back = layer.forward(np.ones((2, 3, 4, 4), np.float32), train=True)
    with pytest.raises(nb.errors.ShapeError, match="BatchNorm"):
        back(np.ones((2, 3, 16), np.float32))


def test_channel_batchnorm_trains_inside_a_model() -> None:
    """(N, C, H, W) data through BatchNorm, Flatten and Dense: the loss goes down."""
    rng = np.random.default_rng(0)
    x = (3.0 + 2.0 * rng.normal(size=(64, 2, 3, 3))).astype(np.float32)
    labels = (x[:, 0].mean(axis=(1, 2)) > x[:, 1].mean(axis=(1, 2))).astype(np.int64)
    nb.seed(0)
    model = nb.Sequential(nb.layers.BatchNorm(2), nb.layers.Flatten(), nb.layers.Dense(18, 2))
    trainer = nb.Trainer(model, "SoftmaxCrossEntropy", nb.optimizers.Adam(lr=0.01), seed=0)
    history = trainer.fit(x, labels, epochs=15, batch_size=16)
    losses = history["loss"]
    assert losses[-1] < 0.6 * losses[0]
    assert not np.allclose(model[0].state("running_mean"), 0.0)


def _grads(layer: nb.layers.BatchNorm) -> dict[str, np.ndarray]:
    return {k: p.grad.copy() for k, p in layer.named_parameters().items()}


@pytest.mark.parametrize("rank", list(SHAPES))
def test_x_minus_mean_is_lent_to_one_training_call_at_a_time(rank: str, lent_arrays: Any) -> None:
    # x - mu lives in a workspace reused across steps: lent to a training forward and
    # given back by its backward. A second forward while the first holds it gets its own;
    # the next forward after a backward gets the same array again.
    lent = lent_arrays("x_c")
    layer, x, x2 = _bn(), _data(SHAPES[rank]), _data(SHAPES[rank], seed=7)
    dy = np.random.default_rng(3).normal(size=x.shape)
    _, back_alone = layer.forward(x2, train=True)
    dx2_alone, grads2_alone = back_alone(dy), _grads(layer)
    layer.zero_grad()
    lent.clear()
    _, back1 = layer.forward(x, train=True)
    _, back2 = layer.forward(x2, train=True)  # while the first holds its array
    assert len(lent) == 2 and not np.shares_memory(lent[0], lent[1])
    back1(dy)
    layer.forward(x, train=True)  # after a backward: that array again
    assert lent[2] is lent[0]
    layer.zero_grad()
    np.testing.assert_array_equal(back2(dy), dx2_alone)  # untouched by the third call
    for name, grad in _grads(layer).items():
        np.testing.assert_array_equal(grad, grads2_alone[name])


@pytest.mark.parametrize("input_grad", [True, False])
@pytest.mark.parametrize("rank", list(SHAPES))
def test_a_second_backward_of_one_call_computes_x_minus_mean_again(
    rank: str, input_grad: bool
) -> None:
    layer, x = _bn(), _data(SHAPES[rank])
    dy = np.random.default_rng(4).normal(size=x.shape)
    _, back = layer.forward(x, train=True)
    dx = back(dy, input_grad=input_grad)
    once = _grads(layer)
    # another call takes the array the first backward gave back, and overwrites it
    layer.forward(_data(SHAPES[rank], seed=9) * 10.0, train=True)[1](dy)
    layer.zero_grad()
    dx_again = back(dy, input_grad=input_grad)
    if input_grad:
        np.testing.assert_array_equal(dx_again, dx)
    else:
        assert dx is None and dx_again is None
    for name, grad in _grads(layer).items():
        np.testing.assert_array_equal(grad, once[name])


def test_an_inference_call_keeps_its_own_x_minus_mean_between_backwards() -> None:
    # train=False centres with the running mean, which a later training call moves in
    # place: a second backward of the inference call must still use the first centring
    layer, x = _bn(), _data(SHAPES["4-D"])
    layer.forward(x, train=True)  # running statistics away from their start
    dy = np.random.default_rng(5).normal(size=x.shape)
    _, back = layer.forward(x, train=False)
    dx = back(dy)
    once = _grads(layer)
    layer.forward(_data(SHAPES["4-D"], seed=11) + 3.0, train=True)  # moves running_mean
    layer.zero_grad()
    np.testing.assert_array_equal(back(dy), dx)
    for name, grad in _grads(layer).items():
        np.testing.assert_array_equal(grad, once[name])
