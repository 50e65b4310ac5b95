"""Train a 2-4-1 network on XOR with neuroback's public API and print the loss falling.

Run it with ``python examples/xor.py``; it needs nothing beyond ``pip install .``.
Each step is written out (forward, loss, backward, update) so the backpropagation
is visible; the Trainer wraps the same steps.
"""

from __future__ import annotations

import numpy as np

import neuroback as nb


def main(steps: int = 2000, seed: int = 0) -> float:
    nb.seed(seed)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)

    model = nb.Sequential(
        nb.layers.Dense(2, 8, init="xavier"),
        nb.layers.Sigmoid(),
        nb.layers.Dense(8, 1, init="xavier"),
        nb.layers.Sigmoid(),
    )
    loss_fn = nb.losses.MSE()
    optimizer = nb.optimizers.SGD(lr=2.0, momentum=0.9).bind(model)
    print(model.summary())

    loss = float("nan")
    for step in range(1, steps + 1):
        pred, backward = model.forward(x, train=True)  # forward pass, keeping its backward
        value, dpred = loss_fn.forward(pred, y)  # loss and dL/dpred
        backward(dpred)  # backpropagation: fills every Parameter.grad
        optimizer.step()  # theta <- theta - lr * update
        optimizer.zero_grad()
        loss = float(value)
        if step == 1 or step % 200 == 0:
            print(f"step {step:5d}  loss {loss:.6f}")

    print(
        "predictions:",
        [round(float(v), 3) for v in model(x).ravel()],
        "targets:",
        y.ravel().tolist(),
    )
    return loss


if __name__ == "__main__":
    final = main()
    print(f"final loss {final:.6f}")
