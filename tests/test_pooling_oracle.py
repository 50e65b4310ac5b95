"""PyTorch (CPU, float64) as the oracle for the pooling layers.

Forward values and input gradients of MaxPool1D/2D and AvgPool1D/2D against
``torch.nn.functional.max_pool1d/2d`` and ``avg_pool1d/2d`` (whose defaults,
``ceil_mode=False`` and ``count_include_pad=True``, are the layers' semantics) over a
grid of kernels, strides, paddings, odd sizes and batch sizes; max pooling also on
integer-valued inputs full of ties, where both must route each window's gradient to
its first maximum. GlobalAvgPool against a spatial mean.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.errors import ShapeError

pytestmark = pytest.mark.oracle

TOL = {"rtol": 1e-10, "atol": 1e-10}
STRIDES = (None, 1, 2, 3)
#: Ties only matter to max pooling: its gradient picks one element of the window.
MODES = [("max", False), ("max", True), ("avg", False)]
MODE_IDS = ["max", "max-ties", "avg"]


@pytest.fixture(autouse=True)
def _one_torch_thread(torch: Any) -> Iterator[None]:
    """These tensors are tiny: torch's thread pool only adds overhead (on a busy 2-core
    machine, 16 ms per call instead of 0.4 ms). Restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _cases_1d() -> Iterator[tuple[int, int | None, int, int, int]]:
    for k, s, n, batch in itertools.product((1, 2, 3, 4), STRIDES, (3, 5, 8), (1, 3)):
        for p in range(k // 2 + 1):
            yield k, s, p, n, batch


def _cases_2d() -> Iterator[tuple[Any, Any, Any, tuple[int, int], int]]:
    kernels = [(1, 1), (2, 2), (3, 3), (4, 4), (2, 3), (3, 1), (1, 4), (4, 2)]
    strides = [None, 1, 2, 3, (1, 2), (3, 1)]
    sizes = [(5, 7), (4, 3), (6, 6)]
    for (kh, kw), s, hw, batch in itertools.product(kernels, strides, sizes, (1, 3)):
        paddings = {(0, 0), (kh // 2, kw // 2), (kh // 2, 0)}
        for p in sorted(paddings):
            yield (kh, kw), s, p, hw, batch


def _inputs(shape: tuple[int, ...], rng: np.random.Generator, *, ties: bool) -> np.ndarray:
    if ties:  # few distinct integers: most windows hold their maximum more than once
        return rng.integers(-2, 3, size=shape).astype(np.float64)
    return rng.normal(size=shape)


def _listed(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _compare(
    torch: Any,
    layer: nb.Layer,
    torch_fn: Any,
    x: np.ndarray,
    rng: np.random.Generator,
    where: str,
) -> bool:
    """Forward and input gradient of ``layer`` against ``torch_fn``; False when the
    kernel does not fit the padded input (both must refuse it)."""
    tx = torch.tensor(x, requires_grad=True)
    try:
        ty = torch_fn(tx)
    except RuntimeError:
        with pytest.raises(ShapeError, match="at least as long as the kernel"):
            layer.forward(x, train=True)
        return False
    y, backward = layer.forward(x, train=True)
    dy = rng.normal(size=y.shape)
    ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), **TOL, err_msg=f"forward, {where}")
    np.testing.assert_allclose(backward(dy), tx.grad.numpy(), **TOL, err_msg=f"dx, {where}")
    return True


@pytest.mark.parametrize(("mode", "ties"), MODES, ids=MODE_IDS)
def test_pool1d_matches_torch(torch: Any, mode: str, ties: bool) -> None:
    functional = torch.nn.functional
    torch_pool = functional.max_pool1d if mode == "max" else functional.avg_pool1d
    layer_cls = nb.layers.MaxPool1D if mode == "max" else nb.layers.AvgPool1D
    rng = np.random.default_rng(0)
    compared = 0
    for k, s, p, n, batch in _cases_1d():
        layer = layer_cls(k, stride=s, padding=p)
        x = _inputs((batch, 2, n), rng, ties=ties)
        where = f"kernel {k}, stride {s}, padding {p}, input {x.shape}"
        compared += _compare(
            torch, layer, lambda t, k=k, s=s, p=p: torch_pool(t, k, s, p), x, rng, where
        )
    assert compared >= 100  # most of the grid fits; the rest checked the shared refusal


@pytest.mark.parametrize(("mode", "ties"), MODES, ids=MODE_IDS)
def test_pool2d_matches_torch(torch: Any, mode: str, ties: bool) -> None:
    functional = torch.nn.functional
    torch_pool = functional.max_pool2d if mode == "max" else functional.avg_pool2d
    layer_cls = nb.layers.MaxPool2D if mode == "max" else nb.layers.AvgPool2D
    rng = np.random.default_rng(1)
    compared = 0
    for k, s, p, hw, batch in _cases_2d():
        layer = layer_cls(list(k), stride=_listed(s), padding=list(p))
        x = _inputs((batch, 2, *hw), rng, ties=ties)
        where = f"kernel {k}, stride {s}, padding {p}, input {x.shape}"
        compared += _compare(
            torch, layer, lambda t, k=k, s=s, p=p: torch_pool(t, k, s, p), x, rng, where
        )
    assert compared >= 250


def test_tie_inputs_really_tie(torch: Any) -> None:
    """The tie grid is only a test of the first-maximum rule if windows do tie, and if
    routing to another maximum (the last) would disagree with torch."""
    x = np.random.default_rng(2).integers(-2, 3, size=(3, 2, 6, 6)).astype(np.float64)
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(tx, 3, 1, 1).sum().backward()
    flipped = torch.tensor(x[..., ::-1, ::-1].copy(), requires_grad=True)  # ties pick the last
    torch.nn.functional.max_pool2d(flipped, 3, 1, 1).sum().backward()
    last_rule = flipped.grad.numpy()[..., ::-1, ::-1]
    assert not np.array_equal(tx.grad.numpy(), last_rule)
    layer_dx = nb.layers.MaxPool2D(3, stride=1, padding=1).forward(x, train=True)[1](
        np.ones((3, 2, 6, 6))
    )
    np.testing.assert_array_equal(layer_dx, tx.grad.numpy())


def test_windows_of_minus_inf_match_torch(torch: Any) -> None:
    """All-(-inf) windows next to the padding: torch sends the gradient to the first
    input element, never to the padding, and so must the layers."""
    rng = np.random.default_rng(4)
    functional = torch.nn.functional
    for pool, layer_cls, spatial in (
        (functional.max_pool1d, nb.layers.MaxPool1D, (7,)),
        (functional.max_pool2d, nb.layers.MaxPool2D, (5, 6)),
    ):
        x = np.where(rng.random((3, 2, *spatial)) < 0.7, -np.inf, rng.normal(size=(3, 2, *spatial)))
        for k, s in ((2, 1), (3, 2), (4, 3)):
            layer = layer_cls(k, stride=s, padding=k // 2)
            _compare(
                torch, layer, lambda t, k=k, s=s, pool=pool: pool(t, k, s, k // 2), x, rng, f"k={k}"
            )


@pytest.mark.parametrize("shape", [(1, 3, 7), (3, 2, 5, 4), (2, 2, 3, 2, 3)])
def test_global_avg_pool_matches_a_torch_spatial_mean(torch: Any, shape: tuple) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=shape)
    dims = tuple(range(2, len(shape)))
    layer = nb.layers.GlobalAvgPool()
    y, backward = layer.forward(x, train=True)
    dy = rng.normal(size=y.shape)
    tx = torch.tensor(x, requires_grad=True)
    ty = tx.mean(dim=dims)
    ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), **TOL)
    np.testing.assert_allclose(backward(dy), tx.grad.numpy(), **TOL)
