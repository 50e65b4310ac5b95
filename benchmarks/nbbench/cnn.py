"""The convolutional cases (``digits-cnn``, ``lenet5``; ``sizes.CNN_SIZES``): one
architecture built twice, in neuroback and in PyTorch, from the same weights, trained
with softmax cross-entropy on integer labels.

- ``nb_cnn_trainer``: ``Trainer(model, SoftmaxCrossEntropy(), SGD(lr=0.01) | Adam(lr=1e-3),
  seed=seed)``, the model's weights drawn after ``nb.seed(seed)``, the Ctrl-C deferral
  installed once (as ``fit`` does, and as ``train_step.trainer_step_fn`` does for the MLPs);
  its step is ``trainer.train_step(x, y).loss``.
- ``torch_cnn_step``: ``nn.Conv2d``/``nn.BatchNorm2d``/``nn.ReLU``/``nn.MaxPool2d``/
  ``nn.Flatten``/``nn.Linear`` in the same order, ``nn.CrossEntropyLoss``,
  ``torch.optim.SGD(lr=0.01)`` or ``torch.optim.Adam(lr=1e-3)`` (defaults, or fused), the
  weights (and BatchNorm's running statistics) copied from neuroback's through
  ``nb.to_torch_state_dict``; forward, loss, backward, ``step()``, ``zero_grad()``.
- ``cnn_data``: standard-normal float32 images of the case's input shape and int64 labels
  in ``[0, CNN_CLASSES)``, drawn from the seed.

Weights for the like-for-like check are the trainable tensors in PyTorch's names and
layouts (``nb.to_torch_state_dict``), sorted by name, on both sides, without the biases
right before a BatchNorm (``trainable_torch_names`` says why).
"""

from __future__ import annotations

from typing import Any

from .sizes import ADAM_LR, CNN_CLASSES, CNN_SIZES, SGD_LR


def is_cnn(size: str) -> bool:
    return size in CNN_SIZES


def cnn_data(ts: Any, size: str, seed: int) -> tuple[Any, Any]:
    """(images, integer labels) for one batch of ``size``, drawn from ``seed``."""
    np = ts.np
    shape = CNN_SIZES[size][1]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape, dtype=np.float32)
    y = rng.integers(0, CNN_CLASSES, size=shape[0]).astype(np.int64)
    return x, y


def build_nb_model(ts: Any, size: str, seed: int) -> Any:
    """The case's ``nb.Sequential``, float32, weights drawn after ``nb.seed(seed)``."""
    nb = ts.nb
    nb.seed(seed)
    return nb.Sequential(*(getattr(nb.layers, kind)(**cfg) for kind, cfg in CNN_SIZES[size][0]))


def nb_cnn_trainer(ts: Any, size: str, seed: int, adam: bool) -> Any:
    """The Trainer the ``nb-trainer``/``nb-trainer-adam`` rows time at a CNN size (its
    Ctrl-C deferral entered for the rest of the process, as ``trainer_step_fn`` does)."""
    nb = ts.nb
    opt = nb.optimizers.Adam(lr=ADAM_LR) if adam else nb.optimizers.SGD(lr=SGD_LR)
    model = build_nb_model(ts, size, seed)
    trainer = nb.Trainer(model, nb.losses.SoftmaxCrossEntropy(), opt, seed=seed)
    guard = trainer.loop()
    guard.__enter__()
    ts._ENTERED_GUARDS.append(guard)  # alive for the whole worker, whoever keeps the step
    return trainer


def nb_cnn_step(ts: Any, size: str, seed: int, adam: bool) -> tuple[Any, Any]:
    """(step, weights getter) of the neuroback row at a CNN size."""
    trainer = nb_cnn_trainer(ts, size, seed, adam)

    def step(x: Any, y: Any) -> Any:
        return trainer.train_step(x, y).loss

    step.trainer = trainer  # type: ignore[attr-defined]
    return step, lambda: nb_weights(ts, trainer.model)


#: neuroback parameter name -> PyTorch's (Conv2D and Dense: W, b; BatchNorm: gamma, beta)
TORCH_NAMES = {"W": "weight", "b": "bias", "gamma": "weight", "beta": "bias"}


def trainable_torch_names(model: Any) -> list[str]:
    """PyTorch names of the trainable tensors (``"0.weight"``, ...) the like-for-like
    check compares, sorted. A bias right before a BatchNorm is left out: its exact
    gradient is 0 (BatchNorm subtracts the channel's mean), so Adam turns each library's
    rounding noise into steps of about ``lr`` in either direction."""
    layers = list(model)
    names = []
    for key in model.named_parameters():
        layer, name = key.rsplit(".", 1)
        i = int(layer)
        before_bn = i + 1 < len(layers) and type(layers[i + 1]).__name__ == "BatchNorm"
        if not (name == "b" and before_bn):
            names.append(f"{layer}.{TORCH_NAMES[name]}")
    return sorted(names)


def nb_weights(ts: Any, model: Any) -> list[tuple[Any]]:
    state = ts.nb.to_torch_state_dict(model)
    return [(state[k],) for k in trainable_torch_names(model)]


def torch_module(torch: Any, kind: str, cfg: dict[str, int]) -> Any:
    """The PyTorch module of one neuroback layer spec of ``CNN_SIZES``."""
    nn = torch.nn
    if kind == "Conv2D":
        args = (cfg["in_channels"], cfg["out_channels"], cfg["kernel_size"])
        return nn.Conv2d(*args, padding=cfg.get("padding", 0))
    if kind == "BatchNorm":
        return nn.BatchNorm2d(cfg["num_features"])
    if kind == "MaxPool2D":
        return nn.MaxPool2d(cfg["kernel_size"])
    if kind == "Dense":
        return nn.Linear(cfg["in_features"], cfg["out_features"])
    return {"ReLU": nn.ReLU, "Flatten": nn.Flatten}[kind]()


def torch_cnn_step(ts: Any, size: str, seed: int, optimizer: str) -> tuple[Any, Any]:
    """(step, weights getter) of a PyTorch row at a CNN size: ``optimizer`` is ``"sgd"``,
    ``"adam"`` or ``"adam-fused"``; neuroback's initial weights (seed ``seed``)."""
    torch, np = ts.torch, ts.np
    model = torch.nn.Sequential(*(torch_module(torch, k, c) for k, c in CNN_SIZES[size][0]))
    nb_model = build_nb_model(ts, size, seed)
    state = ts.nb.to_torch_state_dict(nb_model)
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=SGD_LR, momentum=0.0)
    else:
        kwargs = {"fused": True} if optimizer == "adam-fused" else {}
        opt = torch.optim.Adam(model.parameters(), lr=ADAM_LR, **kwargs)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    names = trainable_torch_names(nb_model)

    def step(x: Any, y: Any) -> Any:
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()  # set_to_none=True, PyTorch's default
        return loss.detach()

    def weights() -> list[tuple[Any]]:
        params = dict(model.named_parameters())
        return [(params[k].detach().numpy().copy(),) for k in names]

    step.model = model  # type: ignore[attr-defined]
    return step, weights


def cnn_output_bytes(model: Any, x: Any) -> int:
    """Bytes of one output array per layer for the batch ``x`` (an inference pass,
    layer by layer): the activations a CNN step keeps at the least."""
    total, h = 0, x
    for layer in model:
        h = layer(h)
        total += h.nbytes
    return total
