"""Dense on input of any rank >= 2: (N, ..., in_features) -> (N, ..., out_features), as
torch.nn.Linear (the PyTorch oracle for 3-D input is in tests/test_oracle_torch.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.testing import check_layer

SHAPES = {"3-D": (3, 4, 5), "4-D": (2, 3, 2, 5)}


def _dense(**options: Any) -> nb.layers.Dense:
    layer = nb.layers.Dense(5, 3, dtype="float64", rng=0, **options)
    if layer.b is not None:
        layer.b.assign(np.random.default_rng(1).normal(size=3))
    return layer


@pytest.mark.parametrize(
    "options", [{}, {"bias": False}, {"activation": "tanh"}, {"activation": "relu"}]
)
@pytest.mark.parametrize("rank", list(SHAPES))
def test_the_conformance_kit_passes_on_any_rank(
    rank: str, options: dict[str, Any], nb_backend: Any
) -> None:
    # Gradients against finite differences, input_grad=False, float32 kept, wrong
    # backend / dtype / feature count / gradient shape rejected, config round trip.
    check_layer(_dense(**options), np.random.default_rng(2).normal(size=SHAPES[rank]))


@pytest.mark.parametrize("activation", [None, "relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("rank", list(SHAPES))
def test_any_rank_is_the_2d_layer_on_the_rows(rank: str, activation: str | None) -> None:
    """The defining identity: y = reshape(x2d W + b); dW = x2d^T dz2d; db sums every
    leading axis; dx = reshape(dz2d W^T). Same products, so the same bits."""
    shape = SHAPES[rank]
    rng = np.random.default_rng(3)
    x = rng.normal(size=shape)
    dy = rng.normal(size=(*shape[:-1], 3))
    nd, flat = _dense(activation=activation), _dense(activation=activation)
    y, back = nd.forward(x, train=True)
    dx = back(dy)
    y2, back2 = flat.forward(x.reshape(-1, 5), train=True)
    dx2 = back2(dy.reshape(-1, 3))
    assert y.shape == (*shape[:-1], 3) and dx.shape == shape
    np.testing.assert_array_equal(y, y2.reshape(y.shape))
    np.testing.assert_array_equal(dx, dx2.reshape(shape))
    np.testing.assert_array_equal(nd.W.grad, flat.W.grad)
    np.testing.assert_array_equal(nd.b.grad, flat.b.grad)


def test_the_products_written_out() -> None:
    x = np.random.default_rng(4).normal(size=(2, 3, 5))
    dy = np.random.default_rng(5).normal(size=(2, 3, 3))
    layer = _dense()
    W, b = layer.W.value.copy(), layer.b.value.copy()
    y, back = layer.forward(x, train=True)
    dx = back(dy)
    expected_y = np.einsum("nti,io->nto", x, W) + b
    np.testing.assert_allclose(y, expected_y, rtol=1e-13)
    np.testing.assert_allclose(layer.W.grad, np.einsum("nti,nto->io", x, dy), rtol=1e-12)
    np.testing.assert_allclose(layer.b.grad, dy.sum(axis=(0, 1)), rtol=1e-12)
    np.testing.assert_allclose(dx, np.einsum("nto,io->nti", dy, W), rtol=1e-12)


def test_gradients_accumulate_across_calls_of_different_rank() -> None:
    layer = _dense()
    x3 = np.random.default_rng(6).normal(size=(2, 4, 5))
    _, back3 = layer.forward(x3, train=True)
    back3(np.ones((2, 4, 3)))
    _, back2 = layer.forward(x3.reshape(-1, 5), train=True)
    back2(np.ones((8, 3)))
    np.testing.assert_allclose(layer.W.grad, 2 * x3.reshape(-1, 5).T @ np.ones((8, 3)))
    np.testing.assert_allclose(layer.b.grad, [16.0, 16.0, 16.0])


def test_a_non_contiguous_input_works() -> None:
    base = np.random.default_rng(7).normal(size=(4, 5, 3))
    x = base.transpose(0, 2, 1)  # (4, 3, 5), not contiguous: the reshape copies
    layer = _dense()
    y, back = layer.forward(x, train=True)
    np.testing.assert_allclose(y, np.ascontiguousarray(x) @ layer.W.value + layer.b.value)
    assert back(np.ones(y.shape)).shape == x.shape


def test_input_grad_false_skips_dx_on_any_rank() -> None:
    layer = _dense()
    _, back = layer.forward(np.ones((2, 3, 5)), train=True)
    assert back(np.ones((2, 3, 3)), input_grad=False) is None
    np.testing.assert_allclose(layer.b.grad, [6.0, 6.0, 6.0])


def test_dense_acts_per_time_step_in_a_model() -> None:
    """(batch, time, features) through Dense, ReLU, Dense: each step mapped independently."""
    nb.seed(0)
    model = nb.Sequential(
        nb.layers.Dense(4, 6, dtype="float64"),
        nb.layers.ReLU(),
        nb.layers.Dense(6, 2, dtype="float64"),
    )
    x = np.random.default_rng(8).normal(size=(3, 7, 4))
    y = model(x)
    assert y.shape == (3, 7, 2)
    for t in range(7):
        np.testing.assert_allclose(y[:, t], model(x[:, t]), rtol=1e-13)


# -- errors name the layer --------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5,), ()])
def test_a_rank_below_2_is_rejected_with_the_fix(shape: tuple[int, ...]) -> None:
    with pytest.raises(nb.errors.ShapeError) as info:
        nb.layers.Dense(5, 3)(np.ones(shape, np.float32))
    message = str(info.value)
    assert message.startswith("Dense(in_features=5, out_features=3")
    assert "(batch, ..., 5)" in message and "any rank >= 2" in message
    assert f"got shape {shape}" in message and "x.reshape(1, -1)" in message


def test_a_wrong_feature_count_on_3d_input_names_the_last_axis() -> None:
    with pytest.raises(nb.errors.ShapeError) as info:
        nb.layers.Dense(5, 3)(np.ones((2, 5, 4), np.float32))  # 5 on axis 1 does not count
    message = str(info.value)
    assert message.startswith("Dense(in_features=5")
    assert "expects 5 features on the last axis, got input of shape (2, 5, 4)" in message


def test_a_wrong_dtype_on_3d_input_is_rejected() -> None:
    with pytest.raises(nb.errors.DTypeError, match=r"Dense\(in_features=5.*float64 input"):
        nb.layers.Dense(5, 3)(np.ones((2, 3, 5)))


def test_another_backends_3d_array_is_rejected(nb_backend: Any) -> None:
    layer = nb.layers.Dense(5, 3)
    if nb_backend.name == "numpy":
        pytest.skip("a host array is this backend's own")
    with pytest.raises(nb.errors.BackendMismatchError, match=r"Dense\(in_features=5"):
        layer(np.ones((2, 3, 5), np.float32))


def test_a_gradient_of_the_wrong_shape_is_rejected_on_3d_input() -> None:
    layer = nb.layers.Dense(5, 3)
    _, back = layer.forward(np.ones((2, 4, 5), np.float32), train=True)
    with pytest.raises(nb.errors.ShapeError, match=r"Dense\(in_features=5"):
        back(np.ones((8, 3), np.float32))  # right size, wrong shape: not silently reshaped


def test_2d_input_outside_the_one_test_fast_path_gets_the_full_check() -> None:
    """2-D input passes Dense's fast path only as a plain ndarray of the layer's own dtype
    object with the right feature count; anything else meets check_input, which accepts
    an ndarray subclass and rejects the rest (another byte order included) with its
    usual errors."""

    class Tagged(np.ndarray):
        pass

    layer = nb.layers.Dense(4, 2, rng=0)
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    want = x @ layer.W.value + layer.b.value
    np.testing.assert_array_equal(layer(x.view(Tagged)), want)  # a subclass: checked, run
    swapped = x.astype(np.dtype(np.float32).newbyteorder())
    with pytest.raises(nb.errors.DTypeError, match=r"Dense\(in_features=4.*>f4"):
        layer(swapped)
    with pytest.raises(nb.errors.ShapeError, match="expects 4 features on the last axis"):
        layer(np.ones((3, 5), np.float32))
    with pytest.raises(nb.errors.DTypeError, match="float64 input"):
        layer(x.astype(np.float64))
