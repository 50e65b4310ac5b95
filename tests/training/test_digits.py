"""The main job: an MLP on the embedded digits reaches at least 95% test accuracy."""

from __future__ import annotations

import io
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import neuroback as nb

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("sklearn", reason="the digits come from scikit-learn (the examples extra)")


def test_digits_dataset_shape_and_scale() -> None:
    x, y = nb.datasets.load_digits()
    assert x.shape == (1797, 64) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert sorted(set(y.tolist())) == list(range(10)) and y.dtype == np.int64
    images, _ = nb.datasets.load_digits(flatten=False, scale=False)
    assert images.shape == (1797, 8, 8) and images.max() == 16


def test_mlp_reaches_95_percent_with_progress_bar_early_stopping_and_schedule() -> None:
    x, y = nb.datasets.load_digits()
    (xt, yt), (xv, yv), (xs, ys) = nb.datasets.train_val_test_split(
        x, y, val=0.1, test=0.2, seed=0, stratify=True
    )
    nb.seed(0)
    model = nb.Sequential(nb.layers.Dense(64, 128), nb.layers.ReLU(), nb.layers.Dense(128, 10))
    out = io.StringIO()
    stopper = nb.callbacks.EarlyStopping("val_loss", patience=8)
    trainer = nb.Trainer(
        model,
        "SoftmaxCrossEntropy",
        nb.optimizers.Adam(lr=3e-3),
        callbacks=[
            nb.callbacks.ProgressBar(file=out),
            stopper,
            nb.callbacks.LearningRateScheduler({"type": "Cosine", "config": {"total": 60}}),
        ],
        metrics=["accuracy"],
        seed=0,
    )
    history = trainer.fit(xt, yt, epochs=60, batch_size=32, validation_data=(xv, yv))
    accuracy = trainer.evaluate(xs, ys)["accuracy"]
    assert accuracy >= 0.95, f"test accuracy {accuracy:.4f}"
    assert out.getvalue().count("\n") == len(history)  # one progress line per epoch
    assert trainer.optimizer.lr < 3e-3  # the schedule moved the rate
    assert stopper.best_epoch is not None


def test_main_job_script_runs() -> None:
    module = runpy.run_path(str(ROOT / "examples" / "train_digits.py"))
    assert module["main"](epochs=60, progress=False) >= 0.95


def test_missing_scikit_learn_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['sklearn'] = None\n"
        "import neuroback as nb\n"
        "try:\n    nb.datasets.load_digits()\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "neuroback[examples]"' in out.stdout
