"""The seed tutorial's network, trained twice: by hand in NumPy and with neuroback.

The tutorial ("How Backpropagation Works in Neural Networks") trains one hidden
sigmoid layer and a sigmoid output with the mean squared error
``np.mean((a2 - y)**2)`` by plain gradient descent. Its gradient code starts
from ``dz2 = a2 - y``, which is *not* the gradient of that loss: the true one is

    dL/dz2 = 2 (a2 - y) * a2 (1 - a2) / (m k)      (m samples, k outputs)

``a2 - y`` (divided by m) is the gradient of the *binary cross-entropy* through a
sigmoid output. Here the hand-written trainer uses the true MSE gradient, and
neuroback (Dense, Sigmoid, MSE, SGD) reproduces it step for step. Run it with
``python examples/seed_network.py``.
"""

from __future__ import annotations

import numpy as np

import neuroback as nb

N_IN, N_HIDDEN, N_OUT = 10, 20, 1  # the sizes of the tutorial's SimpleNet(10, 20, 1)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def make_data(m: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and 0/1 targets of a noisy linear rule (float64)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, N_IN))
    y = (x @ rng.normal(size=(N_IN, N_OUT)) + 0.3 * rng.normal(size=(m, N_OUT)) > 0) * 1.0
    return x, y


def initial_weights(seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.normal(scale=0.5, size=(N_IN, N_HIDDEN)),
        "b1": np.zeros(N_HIDDEN),
        "W2": rng.normal(scale=0.5, size=(N_HIDDEN, N_OUT)),
        "b2": np.zeros(N_OUT),
    }


# -- by hand ---------------------------------------------------------------------------


def forward_pass(x: np.ndarray, w: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    z1 = x @ w["W1"] + w["b1"]
    a1 = sigmoid(z1)
    z2 = a1 @ w["W2"] + w["b2"]
    a2 = sigmoid(z2)
    return z1, a1, z2, a2


def mse_gradients(x: np.ndarray, y: np.ndarray, w: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The true gradient of mean((a2 - y)^2), by the chain rule."""
    _, a1, _, a2 = forward_pass(x, w)
    m, k = y.shape
    dz2 = 2 * (a2 - y) * a2 * (1 - a2) / (m * k)  # dL/da2 * sigma'(z2)
    dz1 = (dz2 @ w["W2"].T) * a1 * (1 - a1)  # back through W2, then sigma'(z1)
    return {"W1": x.T @ dz1, "b1": dz1.sum(axis=0), "W2": a1.T @ dz2, "b2": dz2.sum(axis=0)}


def tutorial_shortcut_gradients(
    x: np.ndarray, y: np.ndarray, w: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The tutorial's ``compute_gradients`` as printed, starting from ``dz2 = a2 - y``."""
    _, a1, _, a2 = forward_pass(x, w)
    m = x.shape[0]
    dz2 = a2 - y
    dz1 = (dz2 @ w["W2"].T) * a1 * (1 - a1)
    return {
        "W1": (1 / m) * x.T @ dz1,
        "b1": (1 / m) * dz1.sum(axis=0),
        "W2": (1 / m) * a1.T @ dz2,
        "b2": (1 / m) * dz2.sum(axis=0),
    }


def train_by_hand(
    x: np.ndarray, y: np.ndarray, w: dict[str, np.ndarray], *, lr: float, steps: int
) -> tuple[dict[str, np.ndarray], list[float]]:
    w = {k: v.copy() for k, v in w.items()}
    losses = []
    for _ in range(steps):
        a2 = forward_pass(x, w)[3]
        losses.append(float(np.mean((a2 - y) ** 2)))
        for name, g in mse_gradients(x, y, w).items():
            w[name] -= lr * g
    return w, losses


# -- with neuroback ----------------------------------------------------------------------


def build_model(w: dict[str, np.ndarray]) -> nb.Sequential:
    model = nb.Sequential(
        nb.layers.Dense(N_IN, N_HIDDEN, dtype="float64"),
        nb.layers.Sigmoid(),
        nb.layers.Dense(N_HIDDEN, N_OUT, dtype="float64"),
        nb.layers.Sigmoid(),
    )
    params = model.named_parameters()
    for ours, theirs in (("0.W", "W1"), ("0.b", "b1"), ("2.W", "W2"), ("2.b", "b2")):
        params[ours].assign(w[theirs])
    return model


def neuroback_gradients(x: np.ndarray, y: np.ndarray, model: nb.Layer) -> dict[str, np.ndarray]:
    model.zero_grad()
    pred, backward = model.forward(x, train=True)
    _, dpred = nb.losses.MSE().forward(pred, y)
    backward(dpred)
    names = {"0.W": "W1", "0.b": "b1", "2.W": "W2", "2.b": "b2"}
    return {names[k]: p.grad.copy() for k, p in model.named_parameters().items()}


def train_with_neuroback(
    x: np.ndarray, y: np.ndarray, w: dict[str, np.ndarray], *, lr: float, steps: int
) -> tuple[nb.Sequential, list[float]]:
    model = build_model(w)
    loss_fn = nb.losses.MSE()
    optimizer = nb.optimizers.SGD(lr=lr).bind(model)
    losses = []
    for _ in range(steps):
        pred, backward = model.forward(x, train=True)
        value, dpred = loss_fn.forward(pred, y)
        backward(dpred)
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(value))
    return model, losses


def main(steps: int = 500, lr: float = 2.0) -> None:
    x, y = make_data()
    w0 = initial_weights()
    w_hand, hand = train_by_hand(x, y, w0, lr=lr, steps=steps)
    model, ours = train_with_neuroback(x, y, w0, lr=lr, steps=steps)
    print(f"{'step':>5}  {'by hand':>12}  {'neuroback':>12}")
    for step in sorted({s for s in (0, 1, 10, 100, steps - 1) if s < steps}):
        print(f"{step:5d}  {hand[step]:12.8f}  {ours[step]:12.8f}")
    diff = max(
        float(np.max(np.abs(model.named_parameters()[k].value - w_hand[v])))
        for k, v in (("0.W", "W1"), ("0.b", "b1"), ("2.W", "W2"), ("2.b", "b2"))
    )
    print(f"largest weight difference after {steps} steps: {diff:.2e}")

    true = np.concatenate([g.ravel() for g in mse_gradients(x, y, w0).values()])
    short = np.concatenate([g.ravel() for g in tutorial_shortcut_gradients(x, y, w0).values()])
    cosine = float(true @ short / (np.linalg.norm(true) * np.linalg.norm(short)))
    print(
        "the tutorial's dz2 = a2 - y gives a gradient "
        f"{np.linalg.norm(short) / np.linalg.norm(true):.2f}x "
        f"as long as the true MSE gradient (cosine similarity {cosine:.3f}); it is exactly the "
        "gradient of the binary cross-entropy through the sigmoid output."
    )


if __name__ == "__main__":
    main()
