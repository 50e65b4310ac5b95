"""Draw the gradient-flow plots shown in ``docs/gradient-flow.rst``.

``docs/conf.py`` calls :func:`main` at every documentation build (when matplotlib is
installed), so the pictures always show what the current code does. Run it by hand with
``python docs/_scripts/gradient_flow_plot.py [folder]``; the default folder is
``docs/_static``.

Two ten-hidden-layer networks, as on the page (and in ``tests/training/test_gradient_flow.py``),
are trained on the two spirals for ten epochs with a GradientFlowMonitor sampling every
second step; each monitor's own :meth:`plot` draws its picture.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import neuroback as nb

DEPTH, WIDTH = 10, 32

#: The file names written, one per network variant.
PLOTS = {
    "sigmoid": "gradient-flow-sigmoid.png",
    "relu+batchnorm": "gradient-flow-relu-batchnorm.png",
}


def deep(kind: str, seed: int = 0) -> nb.Sequential:
    """Ten hidden layers of 32 units on 2-D input: Dense+Sigmoid, or Dense+BatchNorm+ReLU."""
    nb.seed(seed)
    layers: list[nb.Layer] = []
    n_in = 2
    for _ in range(DEPTH):
        if kind == "sigmoid":
            layers += [nb.layers.Dense(n_in, WIDTH, init="xavier"), nb.layers.Sigmoid()]
        else:
            layers += [
                nb.layers.Dense(n_in, WIDTH, init="he"),
                nb.layers.BatchNorm(WIDTH),
                nb.layers.ReLU(),
            ]
        n_in = WIDTH
    layers.append(nb.layers.Dense(n_in, 2))
    return nb.Sequential(*layers)


def monitored_run(kind: str, *, epochs: int = 10, seed: int = 0) -> nb.Callback:
    """Train one variant with SGD(lr=0.01) and return its GradientFlowMonitor."""
    x, y = nb.datasets.two_spirals(256, seed=seed)
    monitor = nb.callbacks.GradientFlowMonitor(every_n_steps=2, warn=False)
    trainer = nb.Trainer(
        deep(kind, seed),
        "SoftmaxCrossEntropy",
        nb.optimizers.SGD(lr=0.01),
        callbacks=[monitor],
        seed=seed,
    )
    trainer.fit(x, y, epochs=epochs, batch_size=32)
    return monitor


def main(folder: str | Path) -> list[Path]:
    """Write the plots into ``folder``; a file whose bytes would not change is left alone."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, name in PLOTS.items():
            fresh = monitored_run(kind).plot(Path(tmp) / name)
            target = folder / name
            data = fresh.read_bytes()
            if not target.exists() or target.read_bytes() != data:
                target.write_bytes(data)  # unchanged bytes keep the mtime: no needless rebuild
            written.append(target)
    return written


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "_static"
    for path in main(out):
        print(path)
