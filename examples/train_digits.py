"""Train an MLP on the 8x8 handwritten digits that ship with scikit-learn.

The main job, ``neuroback train``, written out in Python (the command line builds the
same run from ``neuroback/configs/digits.toml``)::

    pip install ".[examples]" && python examples/train_digits.py

It splits the 1,797 digits into train / validation / test (stratified,
seeded), trains a 64-256-10 network (BatchNorm, ReLU, dropout) with AdamW, a cosine learning-rate
schedule, early stopping on the validation loss and a progress bar, and
prints the test accuracy (about 97%). ``--gradient-plot flow.png`` also
writes the gradient-flow plot; ``--backend cupy`` trains on the GPU.
"""

from __future__ import annotations

import argparse

import neuroback as nb


def main(
    *,
    epochs: int = 60,
    seed: int = 0,
    backend: str | None = None,
    gradient_plot: str | None = None,
    progress: bool = True,
) -> float:
    x, y = nb.datasets.load_digits()
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = nb.datasets.train_val_test_split(
        x, y, val=0.1, test=0.2, seed=seed, stratify=True
    )

    nb.seed(seed)
    model = nb.Sequential(
        nb.layers.Dense(64, 256),
        nb.layers.BatchNorm(256),
        nb.layers.ReLU(),
        nb.layers.Dropout(0.2),
        nb.layers.Dense(256, 10),
    )
    callbacks: list[nb.Callback] = [
        nb.callbacks.EarlyStopping("val_loss", patience=10),
        nb.callbacks.LearningRateScheduler({"type": "Cosine", "config": {"total": epochs}}),
    ]
    if progress:
        callbacks.insert(0, nb.callbacks.ProgressBar())
    if gradient_plot:
        monitor = nb.callbacks.GradientFlowMonitor(every_n_steps=20, plot_path=gradient_plot)
        callbacks.append(monitor)
    trainer = nb.Trainer(
        model,
        nb.losses.SoftmaxCrossEntropy(),
        nb.optimizers.AdamW(lr=3e-3, weight_decay=0.01),
        callbacks=callbacks,
        metrics=["accuracy"],
        backend=backend,
        seed=seed,
    )
    print(model.summary())
    history = trainer.fit(
        x_train, y_train, epochs=epochs, batch_size=32, validation_data=(x_val, y_val)
    )
    result = trainer.evaluate(x_test, y_test)
    print(
        f"trained {len(history)} epochs on {len(x_train)} digits; "
        f"test loss {result['loss']:.4f}, test accuracy {result['accuracy']:.4f}"
    )
    return result["accuracy"]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default=None, help="numpy (default) or cupy")
    parser.add_argument("--gradient-plot", default=None, metavar="PNG")
    args = parser.parse_args()
    main(epochs=args.epochs, seed=args.seed, backend=args.backend, gradient_plot=args.gradient_plot)
