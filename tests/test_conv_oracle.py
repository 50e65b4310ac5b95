"""Conv1D and Conv2D against torch.nn.functional.conv1d / conv2d in float64.

The grid (kernel sizes, strides, paddings, dilations, groups, input sizes, batch
sizes) is too large to run whole, so a seeded sample of it runs; a test checks that
every value of every axis appears in the sample several times, with several
partners. A sampled case whose kernel does not fit the padded input is checked as
an error: neuroback raises ShapeError exactly where PyTorch raises too.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import numpy as np
import pytest

from neuroback.errors import ShapeError
from neuroback_builtins.conv import Conv1D, Conv2D

pytestmark = pytest.mark.oracle

TOL = {"rtol": 1e-10, "atol": 1e-10}

#: groups: name -> (in_channels, out_channels, groups)
GROUPS = {"1": (3, 4, 1), "2": (4, 6, 2), "depthwise": (3, 6, 3)}

AXES_2D: dict[str, list[Any]] = {
    "kernel": [1, 2, 3, 4, 5, (1, 3), (2, 5), (3, 1)],
    "stride": [1, 2, 3, (1, 2)],
    "padding": [0, 1, "same", (2, 0)],
    "dilation": [1, 2, (2, 1)],
    "groups": list(GROUPS),
    "spatial": [(7, 9), (5, 4), (3, 8)],
    "batch": [1, 3],
}
AXES_1D: dict[str, list[Any]] = {
    "kernel": [1, 2, 3, 4, 5],
    "stride": [1, 2, 3],
    "padding": [0, 1, "same"],
    "dilation": [1, 2],
    "groups": list(GROUPS),
    "spatial": [(7,), (9,), (4,)],
    "batch": [1, 3],
}


def _sample(axes: dict[str, list[Any]], count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` distinct points of the grid ("same" only with stride 1, as PyTorch)."""
    names = list(axes)
    grid = [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*axes.values())
        if not (values[names.index("padding")] == "same" and values[names.index("stride")] != 1)
    ]
    picks = np.random.default_rng(seed).choice(len(grid), size=count, replace=False)
    return [grid[i] for i in sorted(picks)]


CASES_2D = _sample(AXES_2D, 120, seed=0)
CASES_1D = _sample(AXES_1D, 60, seed=1)


def _fits(case: dict[str, Any], dims: int) -> bool:
    """Whether the dilated kernel fits the padded input on every spatial axis."""

    def per_axis(value: Any) -> tuple[int, ...]:
        return tuple(value) if isinstance(value, tuple) else (value,) * dims

    if case["padding"] == "same":
        return True
    sizes = case["spatial"]
    kernel, dilation, pad = (per_axis(case[k]) for k in ("kernel", "dilation", "padding"))
    return all(
        n + 2 * p >= d * (k - 1) + 1
        for n, k, d, p in zip(sizes, kernel, dilation, pad, strict=True)
    )


@pytest.mark.parametrize(("cases", "axes"), [(CASES_2D, AXES_2D), (CASES_1D, AXES_1D)])
def test_the_sample_covers_every_value_of_every_axis(cases: list, axes: dict) -> None:
    for name, values in axes.items():
        seen = Counter(repr(case[name]) for case in cases)
        for value in values:
            assert seen[repr(value)] >= 4, (name, value, seen)
            partners = {
                repr(case[other]) for case in cases if case[name] == value for other in axes
            }
            assert len(partners) >= 8, (name, value)  # met alongside several other values
    dims = len(axes["spatial"][0])
    assert sum(not _fits(c, dims) for c in cases) >= 3  # some errors are checked too
    assert sum(_fits(c, dims) for c in cases) >= 0.6 * len(cases)


def _as_torch(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _check_case(cls: type, case: dict[str, Any], torch: Any, seed: int) -> None:
    dims = cls.dims
    c_in, c_out, groups = GROUPS[case["groups"]]
    args = {k: _as_torch(case[k]) for k in ("stride", "padding", "dilation")}
    kernel = _as_torch(case["kernel"])
    layer = cls(c_in, c_out, kernel, groups=groups, dtype="float64", rng=seed, **args)
    rng = np.random.default_rng(seed)
    layer.b.assign(rng.normal(size=c_out))
    x = rng.normal(size=(case["batch"], c_in, *case["spatial"]))
    conv = torch.nn.functional.conv1d if dims == 1 else torch.nn.functional.conv2d
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(layer.W.value.copy(), requires_grad=True)
    tb = torch.tensor(layer.b.value.copy(), requires_grad=True)
    if not _fits(case, dims):
        with pytest.raises(RuntimeError):
            conv(tx, tw, tb, groups=groups, **args)
        with pytest.raises(ShapeError, match="effective kernel size"):
            layer.forward(x, train=True)
        return
    y, backward = layer.forward(x, train=True)
    ty = conv(tx, tw, tb, groups=groups, **args)
    dy = rng.normal(size=y.shape)
    ty.backward(torch.tensor(dy))
    dx = backward(dy)
    np.testing.assert_allclose(y, ty.detach().numpy(), **TOL)
    np.testing.assert_allclose(dx, tx.grad.numpy(), **TOL)
    np.testing.assert_allclose(layer.W.grad, tw.grad.numpy(), **TOL)
    np.testing.assert_allclose(layer.b.grad, tb.grad.numpy(), **TOL)


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # PyTorch's note on even kernels
def test_conv2d_matches_torch_over_the_sampled_grid(torch: Any) -> None:
    for i, case in enumerate(CASES_2D):
        try:
            _check_case(Conv2D, case, torch, seed=i)
        except AssertionError as exc:
            raise AssertionError(f"Conv2D case {case}: {exc}") from exc


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_conv1d_matches_torch_over_the_sampled_grid(torch: Any) -> None:
    for i, case in enumerate(CASES_1D):
        try:
            _check_case(Conv1D, case, torch, seed=i)
        except AssertionError as exc:
            raise AssertionError(f"Conv1D case {case}: {exc}") from exc


def test_conv2d_without_bias_and_float32_against_torch(torch: Any) -> None:
    layer = Conv2D(4, 8, (3, 2), stride=(2, 1), padding=(1, 1), groups=2, bias=False, rng=0)
    x = np.random.default_rng(1).normal(size=(2, 4, 9, 7)).astype(np.float32)
    y, backward = layer.forward(x, train=True)
    dx = backward(np.ones_like(y))
    tx = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    tw = torch.tensor(layer.W.value, dtype=torch.float32, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, None, stride=(2, 1), padding=(1, 1), groups=2)
    ty.backward(torch.ones_like(ty))
    assert y.dtype == dx.dtype == layer.W.grad.dtype == np.float32
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.W.grad, tw.grad.numpy(), rtol=1e-4, atol=1e-4)
