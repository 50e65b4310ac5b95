"""The Trainer's contracts: one optimizer per model, an explicit backend wins, and what can
be checked is checked before the first update."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.errors import BackendError


def _model(seed: int = 0) -> nb.Sequential:
    nb.seed(seed)
    return nb.Sequential(nb.layers.Dense(2, 8), nb.layers.ReLU(), nb.layers.Dense(8, 2))


def _data(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    return nb.datasets.two_moons(n, noise=0.1, seed=1)


def test_one_optimizer_for_two_trainers_is_refused_naming_both_models() -> None:
    shared = nb.optimizers.Adam(lr=0.01)
    first, second = _model(0), nb.Sequential(nb.layers.Dense(2, 3), nb.layers.Dense(3, 2))
    nb.Trainer(first, "SoftmaxCrossEntropy", shared)
    pattern = (
        r"already bound to another model:(.|\n)*Dense\(in_features=2, out_features=8"
        r"(.|\n)*this Trainer's model is:(.|\n)*out_features=3"
    )
    with pytest.raises(ValueError, match=pattern):
        nb.Trainer(second, "SoftmaxCrossEntropy", shared)


def test_an_optimizer_bound_by_hand_to_another_model_is_refused() -> None:
    opt = nb.optimizers.SGD(lr=0.1).bind(_model(0))
    with pytest.raises(ValueError, match="One optimizer can train only one model"):
        nb.Trainer(_model(1), "SoftmaxCrossEntropy", opt)


def test_bind_rebinds_when_called_directly_and_the_trainer_then_accepts_it() -> None:
    first, second = _model(0), _model(1)
    opt = nb.optimizers.SGD(lr=0.1).bind(first)
    opt.bind(second)  # documented: bind() moves the optimizer on purpose
    assert opt.bound_model is second
    trainer = nb.Trainer(second, "SoftmaxCrossEntropy", opt, seed=0)
    before = second[0].W.value.copy()
    trainer.fit(*_data(), epochs=1)
    assert not np.array_equal(before, second[0].W.value)


def test_an_explicit_backend_wins_over_a_broken_environment(monkeypatch: Any) -> None:
    monkeypatch.setenv("NEUROBACK_BACKEND", "garbage")
    model = nb.Sequential(nb.layers.Dense(2, 2, backend="numpy"))
    trainer = nb.Trainer(model, "SoftmaxCrossEntropy", "SGD", backend="numpy")
    assert trainer.loss.backend.name == "numpy"
    with pytest.raises(BackendError, match="garbage"):  # without backend=, it is read
        nb.Trainer(model, "SoftmaxCrossEntropy", "SGD")


def test_a_one_shot_generator_for_several_epochs_fails_before_the_first_update() -> None:
    x, y = _data()
    model = _model()
    before = model[0].W.value.copy()
    trainer = nb.Trainer(model, "SoftmaxCrossEntropy", "SGD", seed=0)
    batches = ((x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16))
    with pytest.raises(TypeError, match=r"one-shot iterator \(generator\).*exhausted"):
        trainer.fit(batches, epochs=3)
    np.testing.assert_array_equal(before, model[0].W.value)
    trainer.fit(batches, epochs=1)  # one pass is fine
    assert trainer.global_step == 4


def test_early_stopping_on_a_missing_key_fails_before_the_first_update() -> None:
    x, y = _data()
    model = _model()
    before = model[0].W.value.copy()
    trainer = nb.Trainer(
        model,
        "SoftmaxCrossEntropy",
        "SGD",
        callbacks=[nb.callbacks.EarlyStopping(monitor="val_accuracy")],
        metrics=["accuracy"],
    )
    with pytest.raises(KeyError, match="Pass validation_data or validation_split"):
        trainer.fit(x, y, epochs=3)
    np.testing.assert_array_equal(before, model[0].W.value)
    assert trainer.global_step == 0


def test_predict_on_empty_input_says_there_is_nothing_to_predict() -> None:
    trainer = nb.Trainer(_model(), "SoftmaxCrossEntropy", "SGD")
    with pytest.raises(ValueError, match="nothing to predict"):
        trainer.predict(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="nothing to evaluate"):
        trainer.evaluate(np.zeros((0, 2)), np.zeros(0, dtype=int))


def test_labels_are_checked_by_the_loss_once_before_training() -> None:
    calls: list[tuple[int, ...]] = []

    class Counting(nb.Loss):
        def forward(self, pred: Any, target: Any) -> Any:
            return nb.losses.MSE().forward(pred, target)

        def check_targets(self, target: Any, output_shape: tuple[int, ...]) -> None:
            calls.append(tuple(target.shape))

    rng = np.random.default_rng(0)
    trainer = nb.Trainer(nb.Sequential(nb.layers.Dense(2, 1)), Counting(), "SGD")
    trainer.fit(rng.normal(size=(40, 2)), rng.normal(size=(40, 1)), epochs=3, validation_split=0.25)
    assert calls == [(40, 1)]  # all targets once, the validation split included
