"""neuroback as a type checker sees it: the CI runs mypy over this file (tests/test_typing.py).

The namespaces are typed: a built-in is its own class (``nb.layers.Dense(2, 3)`` is checked
against ``Dense.__init__``), any other name is its kind's base class (``type[nb.Layer]``).
"""

from __future__ import annotations

import numpy as np

import neuroback as nb


def build() -> nb.Sequential:
    dense: nb.layers.Dense = nb.layers.Dense(4, 8, init="xavier")
    model = nb.Sequential(dense, nb.layers.ReLU(), nb.layers.Dense(8, 2))
    any_layer: type[nb.Layer] = nb.layers.get("neuroback:Tanh")
    model.append(any_layer())
    return model


def train() -> float:
    model = build()
    optimizer: nb.Optimizer = nb.optimizers.Adam(lr=1e-3, weight_decay=1e-4)
    clip = nb.transforms.ClipByGlobalNorm(1.0)
    trainer = nb.Trainer(
        model,
        nb.losses.MSE(),
        nb.optimizers.SGD(lr=0.1, momentum=0.9, transforms=[clip]),
        callbacks=[nb.callbacks.EarlyStopping("loss", patience=2)],
    )
    del optimizer
    x = np.ones((8, 4), dtype=np.float32)
    history = trainer.fit(x, np.zeros((8, 2), dtype=np.float32), epochs=1, batch_size=4)
    loss: float = history["loss"][-1]
    return loss
