"""Draw the figures of the tutorial "Backpropagation, step by step" (``docs/tutorial/``).

``docs/conf.py`` calls :func:`main` at every documentation build (when matplotlib is
installed), so the pictures always show what the current code does. Run it by hand with
``python docs/_scripts/tutorial_figures.py [folder]``; the default folder is
``docs/_static``.

The networks are the tutorial's own: the XOR network of pages 1-4 and 6 (2-4-1, sigmoid,
float64, ``nb.seed(0)``), trained on the mean squared error, and the three ten-layer
networks of page 5, trained on the two spirals for ten epochs with SGD(lr=0.01) and a
GradientFlowMonitor sampling every second step, whose own :meth:`plot` draws each picture.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

import neuroback as nb

#: The XOR problem, as on the tutorial's pages.
XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=np.float64)

#: Learning rates of the plain gradient-descent curves (page 4) and the steps drawn.
SGD_RATES = (1.0, 2.0, 5.0)
XOR_STEPS = 1000

#: The deep-network variants of page 5, each with the file its gradient-flow plot goes to.
FLOW_PLOTS = {
    "sigmoid": "tutorial-flow-sigmoid.png",
    "relu+batchnorm": "tutorial-flow-relu-batchnorm.png",
    "residual": "tutorial-flow-residual.png",
}


def xor_network(seed: int = 0) -> nb.Sequential:
    """The tutorial's 2-4-1 sigmoid network for XOR."""
    nb.seed(seed)
    return nb.Sequential(
        nb.layers.Dense(2, 4, init="xavier", dtype="float64"),
        nb.layers.Sigmoid(),
        nb.layers.Dense(4, 1, init="xavier", dtype="float64"),
        nb.layers.Sigmoid(),
    )


def xor_losses(optimizer: nb.Optimizer, steps: int = XOR_STEPS) -> list[float]:
    """The MSE loss at every step of full-batch training of a fresh XOR network."""
    model = xor_network()
    optimizer.bind(model)
    loss_fn = nb.losses.MSE()
    losses = []
    for _ in range(steps):
        pred, backward = model.forward(XOR_X, train=True)
        value, dpred = loss_fn.forward(pred, XOR_Y)
        backward(dpred)
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(value))
    return losses


def deep(kind: str, depth: int = 10, width: int = 32, seed: int = 0) -> nb.Sequential:
    """Page 5's deep network: "sigmoid", "relu", "relu+batchnorm" or "residual"."""
    nb.seed(seed)

    def dense(n_in: int, init: str) -> nb.Layer:
        return nb.layers.Dense(n_in, width, init=init, dtype="float64")

    layers: list[nb.Layer] = []
    for i in range(depth):
        n_in = 2 if i == 0 else width
        if kind == "relu":
            layers += [dense(n_in, "he"), nb.layers.ReLU()]
        elif kind == "relu+batchnorm":
            layers += [
                dense(n_in, "he"),
                nb.layers.BatchNorm(width, dtype="float64"),
                nb.layers.ReLU(),
            ]
        elif kind == "residual" and i > 0:
            block = nb.Sequential(dense(n_in, "xavier"), nb.layers.Sigmoid())
            layers.append(nb.layers.Residual(block))
        else:
            layers += [dense(n_in, "xavier"), nb.layers.Sigmoid()]
    layers.append(nb.layers.Dense(width, 2, init="xavier", dtype="float64"))
    return nb.Sequential(*layers)


def monitored_run(kind: str, *, epochs: int = 10, seed: int = 0) -> nb.Callback:
    """Train one deep variant on the two spirals; return its GradientFlowMonitor."""
    x, y = nb.datasets.two_spirals(256, seed=seed)
    monitor = nb.callbacks.GradientFlowMonitor(every_n_steps=2, warn=False)
    trainer = nb.Trainer(
        deep(kind, seed=seed),
        "SoftmaxCrossEntropy",
        nb.optimizers.SGD(lr=0.01),
        callbacks=[monitor],
        seed=seed,
    )
    trainer.fit(x.astype(np.float64), y, epochs=epochs, batch_size=32)
    return monitor


def plot_losses(path: Path, curves: dict[str, list[float]], title: str) -> Path:
    """One training-loss curve per entry, on a logarithmic axis."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label, losses in curves.items():
        ax.plot(np.arange(len(losses)), losses, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("mean squared error")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
    return path


def _drawings() -> dict[str, Callable[[Path], Path]]:
    """Each file name with the function that draws it into a given path."""
    drawings: dict[str, Callable[[Path], Path]] = {
        "tutorial-xor-loss-sgd.png": lambda path: plot_losses(
            path,
            {f"SGD(lr={lr:g})": xor_losses(nb.optimizers.SGD(lr=lr)) for lr in SGD_RATES},
            "XOR, plain gradient descent",
        ),
        "tutorial-xor-loss-adam.png": lambda path: plot_losses(
            path,
            {
                "SGD(lr=5)": xor_losses(nb.optimizers.SGD(lr=5.0)),
                "Adam(lr=0.1)": xor_losses(nb.optimizers.Adam(lr=0.1)),
            },
            "XOR, gradient descent and Adam",
        ),
    }
    for kind, name in FLOW_PLOTS.items():
        drawings[name] = lambda path, kind=kind: monitored_run(kind).plot(path)
    return drawings


def main(folder: str | Path) -> list[Path]:
    """Write the figures into ``folder``; a file whose bytes would not change is left alone."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, draw in _drawings().items():
            data = draw(Path(tmp) / name).read_bytes()
            target = folder / name
            if not target.exists() or target.read_bytes() != data:
                target.write_bytes(data)  # unchanged bytes keep the mtime: no needless rebuild
            written.append(target)
    return written


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "_static"
    for path in main(out):
        print(path)
