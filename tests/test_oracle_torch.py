"""PyTorch (CPU, float64) as an independent oracle for the built-ins."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import neuroback as nb

pytestmark = pytest.mark.oracle

TOL = {"rtol": 1e-12, "atol": 1e-12}


def _layer_vs_torch(layer: nb.Layer, torch_fn: Any, x: np.ndarray, torch: Any) -> None:
    dy = np.random.default_rng(9).normal(size=layer(x).shape)
    y, backward = layer.forward(x, train=True)
    dx = backward(dy)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch_fn(tx)
    ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), **TOL)
    np.testing.assert_allclose(dx, tx.grad.numpy(), **TOL)


def test_dense_matches_torch_linear(torch: Any) -> None:
    layer = nb.layers.Dense(5, 3, dtype="float64", rng=0)
    weight = torch.tensor(layer.W.value.T.copy(), requires_grad=True)  # torch stores (out, in)
    bias = torch.tensor(layer.b.value.copy(), requires_grad=True)
    x = np.random.default_rng(1).normal(size=(4, 5))
    _layer_vs_torch(layer, lambda t: torch.nn.functional.linear(t, weight, bias), x, torch)
    np.testing.assert_allclose(layer.W.grad, weight.grad.numpy().T, **TOL)
    np.testing.assert_allclose(layer.b.grad, bias.grad.numpy(), **TOL)


def test_relu_matches_torch(torch: Any) -> None:
    x = np.random.default_rng(2).normal(size=(6, 4))
    x[0, 0] = 0.0  # the kink: both take the derivative as 0
    _layer_vs_torch(nb.layers.ReLU(), torch.relu, x, torch)


def test_sigmoid_matches_torch_including_extremes(torch: Any) -> None:
    x = np.concatenate(
        [np.random.default_rng(3).normal(scale=5, size=(3, 4)), [[-1000.0, -40.0, 40.0, 1000.0]]]
    )
    _layer_vs_torch(nb.layers.Sigmoid(), torch.sigmoid, x, torch)


def test_mse_matches_torch(torch: Any) -> None:
    rng = np.random.default_rng(4)
    pred, target = rng.normal(size=(8, 3)), rng.normal(size=(8, 3))
    value, dpred = nb.losses.MSE().forward(pred, target)
    tp = torch.tensor(pred, requires_grad=True)
    tv = torch.nn.functional.mse_loss(tp, torch.tensor(target))
    tv.backward()
    np.testing.assert_allclose(float(value), tv.item(), **TOL)
    np.testing.assert_allclose(dpred, tp.grad.numpy(), **TOL)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"momentum": 0.9},
        {"momentum": 0.9, "nesterov": True},
        {"momentum": 0.8, "dampening": 0.1, "weight_decay": 0.01},
        {"weight_decay": 0.05},
    ],
    ids=["plain", "momentum", "nesterov", "dampening+wd", "wd"],
)
def test_sgd_follows_torch_for_200_steps(torch: Any, options: dict[str, Any]) -> None:
    nb.seed(0)
    model = nb.Sequential(
        nb.layers.Dense(4, 8, dtype="float64"),
        nb.layers.Sigmoid(),
        nb.layers.Dense(8, 2, dtype="float64"),
    )
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Sigmoid(), torch.nn.Linear(8, 2))
    with torch.no_grad():
        for (name, p), tlayer in zip(
            [(n, p) for n, p in model.named_parameters().items()],
            [tmodel[0].weight, tmodel[0].bias, tmodel[2].weight, tmodel[2].bias],
            strict=True,
        ):
            tlayer.copy_(torch.tensor(p.value.T if name.endswith("W") else p.value))
    opt = nb.optimizers.SGD(lr=0.05, **options).bind(model)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.05, **options)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(32, 4)), rng.normal(size=(32, 2))
    loss = nb.losses.MSE()
    for _ in range(200):
        pred, backward = model.forward(x, train=True)
        _, dpred = loss.forward(pred, y)
        backward(dpred)
        opt.step()
        opt.zero_grad()
        topt.zero_grad()
        torch.nn.functional.mse_loss(tmodel(torch.tensor(x)), torch.tensor(y)).backward()
        topt.step()
    np.testing.assert_allclose(model[0].W.value, tmodel[0].weight.detach().numpy().T, atol=1e-10)
    np.testing.assert_allclose(model[2].b.value, tmodel[2].bias.detach().numpy(), atol=1e-10)
