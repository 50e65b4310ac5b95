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


def _twin_models(torch: Any) -> tuple[nb.Sequential, Any]:
    """The same 4-8-2 sigmoid network in neuroback and in torch, with equal weights."""
    nb.seed(0)
    model = nb.Sequential(
        nb.layers.Dense(4, 8, dtype="float64"),
        nb.layers.Sigmoid(),
        nb.layers.Dense(8, 2, dtype="float64"),
    )
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Sigmoid(), torch.nn.Linear(8, 2))
    with torch.no_grad():
        for (name, p), tparam in zip(
            model.named_parameters().items(),
            [tmodel[0].weight, tmodel[0].bias, tmodel[2].weight, tmodel[2].bias],
            strict=True,
        ):
            tparam.copy_(torch.tensor(p.value.T if name.endswith("W") else p.value))
    return model, tmodel


def _patterns(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _torch_groups(tmodel: Any, groups: list[dict[str, Any]], base: dict[str, Any]) -> Any:
    """torch param groups equivalent to neuroback name-pattern groups on the twin model."""
    import fnmatch

    names = {
        "0.W": tmodel[0].weight,
        "0.b": tmodel[0].bias,
        "2.W": tmodel[2].weight,
        "2.b": tmodel[2].bias,
    }
    buckets: list[list[Any]] = [[] for _ in groups] + [[]]
    for name, param in names.items():
        index = next(
            (
                i
                for i, g in enumerate(groups)
                if any(fnmatch.fnmatchcase(name, pat) for pat in _patterns(g["params"]))
            ),
            len(groups),
        )
        buckets[index].append(param)
    out = []
    for group, params in zip([*groups, {}], buckets, strict=True):
        options = {k: v for k, v in group.items() if k not in ("params", "lr_scale")}
        options["lr"] = base["lr"] * group.get("lr_scale", 1.0)
        if "betas" in options:
            options["betas"] = tuple(options["betas"])
        if params:
            out.append({"params": params, **options})
    return out


def _run_trajectory(
    torch: Any,
    name: str,
    options: dict[str, Any],
    *,
    clip: float | None = None,
    groups: list[dict[str, Any]] | None = None,
    steps: int = 200,
) -> None:
    model, tmodel = _twin_models(torch)
    transforms = [nb.transforms.ClipByGlobalNorm(clip)] if clip else []
    opt = nb.optimizers.get(name)(**options, transforms=transforms, groups=groups or []).bind(model)
    torch_cls = getattr(torch.optim, name)
    topt = torch_cls(_torch_groups(tmodel, groups or [], options), **options)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(32, 4)), 3 * rng.normal(size=(32, 2))
    loss = nb.losses.MSE()
    norms, tnorms = [], []
    for _ in range(steps):
        pred, backward = model.forward(x, train=True)
        _, dpred = loss.forward(pred, y)
        backward(dpred)
        opt.step()
        opt.zero_grad()
        topt.zero_grad()
        torch.nn.functional.mse_loss(tmodel(torch.tensor(x)), torch.tensor(y)).backward()
        if clip:
            tnorms.append(torch.nn.utils.clip_grad_norm_(tmodel.parameters(), clip).item())
            norms.append(float(opt.transform_state[0].global_norm))
        topt.step()
    pairs = [
        (model[0].W.value, tmodel[0].weight.detach().numpy().T),
        (model[0].b.value, tmodel[0].bias.detach().numpy()),
        (model[2].W.value, tmodel[2].weight.detach().numpy().T),
        (model[2].b.value, tmodel[2].bias.detach().numpy()),
    ]
    for ours, theirs in pairs:
        assert np.max(np.abs(ours - theirs)) < 1e-6
    if clip:
        np.testing.assert_allclose(norms, tnorms, rtol=1e-9)
        assert min(norms) < clip < max(norms), "the run should exercise both clipped and not"


SGD_OPTIONS = {
    "plain": {"lr": 0.05},
    "momentum": {"lr": 0.05, "momentum": 0.9},
    "nesterov": {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    "dampening+wd": {"lr": 0.05, "momentum": 0.8, "dampening": 0.1, "weight_decay": 0.01},
}
ADAM_OPTIONS = {
    "default": {"lr": 0.01},
    "betas+eps+wd": {"lr": 0.02, "betas": [0.8, 0.99], "eps": 1e-6, "weight_decay": 0.05},
}
CASES = [("SGD", k, v) for k, v in SGD_OPTIONS.items()] + [
    (n, k, v) for n in ("Adam", "AdamW") for k, v in ADAM_OPTIONS.items()
]
GROUPS = [{"params": ["*.b"], "weight_decay": 0.0}, {"params": "0.*", "lr_scale": 0.1}]


@pytest.mark.parametrize("clip", [None, 1.0], ids=["noclip", "clip"])
@pytest.mark.parametrize(
    ("name", "options"), [(n, o) for n, _, o in CASES], ids=[f"{n}-{k}" for n, k, _ in CASES]
)
def test_optimizer_follows_torch_for_200_steps(
    torch: Any, name: str, options: dict[str, Any], clip: float | None
) -> None:
    _run_trajectory(torch, name, options, clip=clip)


@pytest.mark.parametrize("clip", [None, 1.0], ids=["noclip", "clip"])
@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_parameter_groups_follow_torch_param_groups(
    torch: Any, name: str, clip: float | None
) -> None:
    options = {"lr": 0.05, "weight_decay": 0.02}
    if name == "SGD":
        options["momentum"] = 0.9
    _run_trajectory(torch, name, options, clip=clip, groups=GROUPS)


# -- the rest of the layers and losses ----------------------------------------------------


def test_leaky_relu_matches_torch(torch: Any) -> None:
    x = np.random.default_rng(5).normal(size=(6, 4))
    _layer_vs_torch(
        nb.layers.LeakyReLU(0.2), lambda t: torch.nn.functional.leaky_relu(t, 0.2), x, torch
    )


def test_tanh_matches_torch(torch: Any) -> None:
    x = np.random.default_rng(6).normal(scale=3, size=(6, 4))
    _layer_vs_torch(nb.layers.Tanh(), torch.tanh, x, torch)


def test_softmax_matches_torch(torch: Any) -> None:
    x = np.random.default_rng(7).normal(scale=4, size=(5, 6))
    x[0] += 800.0  # a row that would overflow without the max shift
    _layer_vs_torch(nb.layers.Softmax(), lambda t: torch.softmax(t, dim=-1), x, torch)


def test_flatten_matches_torch(torch: Any) -> None:
    x = np.random.default_rng(8).normal(size=(3, 2, 4))
    _layer_vs_torch(nb.layers.Flatten(), torch.nn.Flatten(), x, torch)


def test_dropout_matches_torch_given_the_same_mask(torch: Any) -> None:
    x = np.random.default_rng(9).normal(size=(6, 5))
    layer = nb.layers.Dropout(0.4)
    y, backward = layer.forward(x, train=True, rng=nb.get_backend().generator(3))
    mask = y != 0
    dy = np.random.default_rng(10).normal(size=x.shape)
    dx = backward(dy)
    tx = torch.tensor(x, requires_grad=True)
    ty = tx * torch.tensor(mask) / (1 - 0.4)  # torch's inverted dropout with this mask
    ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), **TOL)
    np.testing.assert_allclose(dx, tx.grad.numpy(), **TOL)
    assert 0.3 < 1 - mask.mean() < 0.5


@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_matches_torch_in_training_and_eval(torch: Any, affine: bool) -> None:
    rng = np.random.default_rng(11)
    layer = nb.layers.BatchNorm(4, affine=affine, dtype="float64")
    tbn = torch.nn.BatchNorm1d(4, affine=affine)
    if affine:
        gamma, beta = rng.uniform(0.5, 1.5, 4), rng.normal(size=4)
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
        with torch.no_grad():
            tbn.weight.copy_(torch.tensor(gamma))
            tbn.bias.copy_(torch.tensor(beta))
    for _ in range(3):  # three training batches move the running statistics
        x = 2 + 3 * rng.normal(size=(8, 4))
        dy = rng.normal(size=(8, 4))
        tbn.train()
        if affine:
            tbn.zero_grad()
        layer.zero_grad()
        _layer_vs_torch_with_grad_output(layer, tbn, x, dy, torch, train=True)
        np.testing.assert_allclose(layer.state("running_mean"), tbn.running_mean.numpy(), **TOL)
        np.testing.assert_allclose(layer.state("running_var"), tbn.running_var.numpy(), **TOL)
        if affine:
            np.testing.assert_allclose(layer.gamma.grad, tbn.weight.grad.numpy(), **TOL)
            np.testing.assert_allclose(layer.beta.grad, tbn.bias.grad.numpy(), **TOL)
    tbn.eval()
    x = rng.normal(size=(5, 4))
    _layer_vs_torch_with_grad_output(layer, tbn, x, rng.normal(size=(5, 4)), torch, train=False)


def _layer_vs_torch_with_grad_output(
    layer: nb.Layer, module: Any, x: np.ndarray, dy: np.ndarray, torch: Any, *, train: bool
) -> None:
    y, backward = layer.forward(x, train=train)
    dx = backward(dy)
    tx = torch.tensor(x, requires_grad=True)
    ty = module(tx)
    ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), **TOL)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_residual_matches_torch(torch: Any) -> None:
    block = nb.Sequential(nb.layers.Dense(4, 4, dtype="float64", rng=0), nb.layers.Tanh())
    layer = nb.layers.Residual(block)
    weight = torch.tensor(block[0].W.value.T.copy(), requires_grad=True)
    bias = torch.tensor(block[0].b.value.copy(), requires_grad=True)
    x = np.random.default_rng(12).normal(size=(5, 4))
    _layer_vs_torch(
        layer, lambda t: t + torch.tanh(torch.nn.functional.linear(t, weight, bias)), x, torch
    )
    np.testing.assert_allclose(block[0].W.grad, weight.grad.numpy().T, **TOL)
    assert list(layer.named_parameters()) == ["block.0.W", "block.0.b"]


@pytest.mark.parametrize("targets", ["labels", "one-hot", "soft"])
def test_softmax_cross_entropy_matches_torch(torch: Any, targets: str) -> None:
    rng = np.random.default_rng(13)
    logits = rng.normal(scale=3, size=(6, 4))
    logits[0, 1] = 900.0  # extreme logits stay finite
    labels = rng.integers(0, 4, size=6)
    if targets == "labels":
        target = labels
    elif targets == "one-hot":
        target = np.eye(4)[labels]
    else:
        target = rng.dirichlet(np.ones(4), size=6)
    value, grad = nb.losses.SoftmaxCrossEntropy().forward(logits, target)
    tl = torch.tensor(logits, requires_grad=True)
    tt = torch.tensor(target)
    tv = torch.nn.functional.cross_entropy(tl, tt)
    tv.backward()
    np.testing.assert_allclose(float(value), tv.item(), **TOL)
    np.testing.assert_allclose(grad, tl.grad.numpy(), **TOL)


def test_binary_cross_entropy_matches_torch(torch: Any) -> None:
    rng = np.random.default_rng(14)
    logits = rng.normal(scale=4, size=(8, 2))
    logits[0, 0], logits[1, 1] = 1000.0, -1000.0
    target = rng.uniform(size=(8, 2))
    value, grad = nb.losses.BinaryCrossEntropy().forward(logits, target)
    tl = torch.tensor(logits, requires_grad=True)
    tv = torch.nn.functional.binary_cross_entropy_with_logits(tl, torch.tensor(target))
    tv.backward()
    np.testing.assert_allclose(float(value), tv.item(), **TOL)
    np.testing.assert_allclose(grad, tl.grad.numpy(), **TOL)


# -- BatchNorm on (N, C, L) and (N, C, H, W) input; Dense on (N, T, F) input ---------------

CHANNEL_TOL = {"rtol": 1e-10, "atol": 1e-10}


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", [(4, 3, 5), (3, 3, 4, 5)], ids=["3-D", "4-D"])
def test_channel_batchnorm_matches_torch_batch_norm(
    torch: Any, shape: tuple[int, ...], affine: bool
) -> None:
    """torch.nn.functional.batch_norm in training (2 steps) and in eval mode: forward,
    input gradient, gamma/beta gradients and the running statistics."""
    rng = np.random.default_rng(15)
    channels = shape[1]
    layer = nb.layers.BatchNorm(channels, affine=affine, dtype="float64", momentum=0.2)
    t_mean, t_var = torch.zeros(channels), torch.ones(channels)
    gamma = beta = None
    if affine:
        layer.gamma.assign(rng.uniform(0.5, 1.5, channels))
        layer.beta.assign(rng.normal(size=channels))
    per_channel = (1, channels) + (1,) * (len(shape) - 2)

    def torch_step(x: np.ndarray, dy: np.ndarray, *, training: bool) -> tuple[Any, ...]:
        nonlocal gamma, beta
        tx = torch.tensor(x, requires_grad=True)
        if affine:
            gamma = torch.tensor(layer.gamma.value.copy(), requires_grad=True)
            beta = torch.tensor(layer.beta.value.copy(), requires_grad=True)
        ty = torch.nn.functional.batch_norm(
            tx, t_mean, t_var, gamma, beta, training=training, momentum=0.2, eps=1e-5
        )
        ty.backward(torch.tensor(dy))
        return ty.detach().numpy(), tx.grad.numpy()

    for step in range(2):  # two training steps move the running statistics
        offsets = rng.normal(scale=3, size=channels).reshape(per_channel)
        x = offsets + (1 + step) * rng.normal(size=shape)
        dy = rng.normal(size=shape)
        layer.zero_grad()
        y, backward = layer.forward(x, train=True)
        dx = backward(dy)
        ty, tdx = torch_step(x, dy, training=True)
        np.testing.assert_allclose(y, ty, **CHANNEL_TOL)
        np.testing.assert_allclose(dx, tdx, **CHANNEL_TOL)
        np.testing.assert_allclose(layer.state("running_mean"), t_mean.numpy(), **CHANNEL_TOL)
        np.testing.assert_allclose(layer.state("running_var"), t_var.numpy(), **CHANNEL_TOL)
        if affine:
            np.testing.assert_allclose(layer.gamma.grad, gamma.grad.numpy(), **CHANNEL_TOL)
            np.testing.assert_allclose(layer.beta.grad, beta.grad.numpy(), **CHANNEL_TOL)
    assert not np.allclose(t_var.numpy(), 1.0)  # the statistics did move

    x, dy = rng.normal(size=shape), rng.normal(size=shape)
    layer.zero_grad()
    y, backward = layer.forward(x, train=False)
    dx = backward(dy)
    ty, tdx = torch_step(x, dy, training=False)
    np.testing.assert_allclose(y, ty, **CHANNEL_TOL)
    np.testing.assert_allclose(dx, tdx, **CHANNEL_TOL)
    if affine:
        np.testing.assert_allclose(layer.gamma.grad, gamma.grad.numpy(), **CHANNEL_TOL)
        np.testing.assert_allclose(layer.beta.grad, beta.grad.numpy(), **CHANNEL_TOL)


def test_channel_batchnorm_matches_torch_batchnorm2d_module(torch: Any) -> None:
    """The module form: BatchNorm2d after 3 training batches, then eval."""
    rng = np.random.default_rng(16)
    layer = nb.layers.BatchNorm(2, dtype="float64")
    tbn = torch.nn.BatchNorm2d(2)
    for _ in range(3):
        x, dy = 1 + 2 * rng.normal(size=(2, 2, 3, 3)), rng.normal(size=(2, 2, 3, 3))
        tbn.train()
        _layer_vs_torch_with_grad_output(layer, tbn, x, dy, torch, train=True)
    np.testing.assert_allclose(layer.state("running_var"), tbn.running_var.numpy(), **TOL)
    tbn.eval()
    x = rng.normal(size=(2, 2, 3, 3))
    _layer_vs_torch_with_grad_output(layer, tbn, x, rng.normal(size=x.shape), torch, train=False)


@pytest.mark.parametrize("activation", [None, "relu", "tanh"])
def test_dense_on_3d_input_matches_torch_linear(torch: Any, activation: str | None) -> None:
    layer = nb.layers.Dense(5, 3, dtype="float64", rng=0, activation=activation)
    layer.b.assign(np.random.default_rng(17).normal(size=3))
    weight = torch.tensor(layer.W.value.T.copy(), requires_grad=True)  # torch stores (out, in)
    bias = torch.tensor(layer.b.value.copy(), requires_grad=True)
    after = {None: lambda t: t, "relu": torch.relu, "tanh": torch.tanh}[activation]
    x = np.random.default_rng(18).normal(size=(4, 6, 5))  # (batch, time, features)
    _layer_vs_torch(layer, lambda t: after(torch.nn.functional.linear(t, weight, bias)), x, torch)
    np.testing.assert_allclose(layer.W.grad, weight.grad.numpy().T, **TOL)
    np.testing.assert_allclose(layer.b.grad, bias.grad.numpy(), **TOL)
