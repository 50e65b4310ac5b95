"""The built-in callbacks: progress, early stopping, schedules, NaN guard, CSV log."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.errors import TrainingError
from neuroback_builtins.schedules import Constant, Cosine, Exponential, LinearWarmup, StepDecay


def _data(n: int = 128) -> tuple[np.ndarray, np.ndarray]:
    return nb.datasets.two_moons(n, noise=0.15, seed=3)


def _model(seed: int = 0, batchnorm: bool = False) -> nb.Sequential:
    nb.seed(seed)
    layers: list[nb.Layer] = [nb.layers.Dense(2, 16)]
    if batchnorm:
        layers.append(nb.layers.BatchNorm(16))
    layers += [nb.layers.ReLU(), nb.layers.Dense(16, 2)]
    return nb.Sequential(*layers)


def _fit(callbacks: list[nb.Callback], epochs: int = 5, lr: float = 0.01, **kw: Any) -> nb.Trainer:
    x, y = _data()
    trainer = nb.Trainer(
        kw.pop("model", None) or _model(),
        "SoftmaxCrossEntropy",
        nb.optimizers.Adam(lr=lr),
        callbacks=callbacks,
        metrics=["accuracy"],
        seed=0,
        **{k: v for k, v in kw.items() if k in ("log_every_n_steps",)},
    )
    trainer.fit(x, y, epochs=epochs, batch_size=32, validation_split=0.25)
    return trainer


# -- ProgressBar --------------------------------------------------------------------------


class _FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_prints_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    _fit([nb.callbacks.ProgressBar(file=out)], epochs=3)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("epoch 1/3 - loss ")
    for key in ("accuracy", "val_loss", "val_accuracy", "samples/s"):
        assert key in lines[-1]


def test_progress_bar_draws_a_tqdm_bar_on_a_terminal() -> None:
    out = _FakeTerminal()
    _fit([nb.callbacks.ProgressBar(file=out)], epochs=2, log_every_n_steps=1)
    text = out.getvalue()
    assert "epoch 1/2" in text and "epoch 2/2" in text
    assert "3/3" in text  # 96 training samples / 32 per batch, counted by tqdm
    assert "batch/s" in text or "s/batch" in text
    assert "samples/s" in text and "val_accuracy" in text


# -- EarlyStopping --------------------------------------------------------------------------


def test_early_stopping_stops_and_restores_the_best_weights_and_state() -> None:
    snapshots: dict[int, dict[str, np.ndarray]] = {}

    class Snapshot(nb.Callback):
        def on_epoch_end(self, trainer: Any, epoch: int, logs: Any) -> None:
            model = trainer.model
            snapshots[epoch] = {
                **{k: p.value.copy() for k, p in model.named_parameters().items()},
                **{k: v.copy() for k, v in model.named_state().items()},
            }

    stopper = nb.callbacks.EarlyStopping("val_loss", patience=2, min_delta=0.0)
    # A learning rate far too high makes the validation loss bounce, so it stops early.
    trainer = _fit([Snapshot(), stopper], epochs=40, lr=0.5, model=_model(batchnorm=True))
    history = trainer.history
    assert stopper.stopped_epoch is not None and len(history) < 40
    losses = history["val_loss"]
    best = int(np.argmin(losses))
    assert stopper.best_epoch == best and stopper.best == pytest.approx(losses[best])
    assert len(history) == best + 1 + stopper.patience  # stops at the patience-th bad epoch
    model = trainer.model
    restored = {
        **{k: p.value for k, p in model.named_parameters().items()},
        **model.named_state(),
    }
    assert "1.running_mean" in restored
    for name, value in snapshots[best].items():
        np.testing.assert_array_equal(restored[name], value)


def test_early_stopping_on_a_metric_to_maximize_and_its_errors() -> None:
    stopper = nb.callbacks.EarlyStopping("val_accuracy", patience=1)
    assert stopper.config()["mode"] == "max"
    with pytest.raises(KeyError, match=r"monitors 'val_acc'.*Did you mean 'val_accuracy'"):
        _fit([nb.callbacks.EarlyStopping("val_acc")], epochs=1)
    x, y = _data()
    no_validation = nb.Trainer(
        _model(), "SoftmaxCrossEntropy", "SGD", callbacks=[nb.callbacks.EarlyStopping("val_loss")]
    )
    with pytest.raises(KeyError, match=r"monitors 'val_loss'.*Pass validation_data"):
        no_validation.fit(x, y, epochs=1)
    with pytest.raises(ValueError, match="patience must be a non-negative integer"):
        nb.callbacks.EarlyStopping(patience=-1)


def test_early_stopping_state_round_trips_through_json() -> None:
    stopper = nb.callbacks.EarlyStopping(patience=3)
    _fit([stopper], epochs=3)
    state = json.loads(json.dumps(stopper.state_dict(), default=lambda a: a.tolist()))
    other = nb.callbacks.EarlyStopping(patience=3)
    other.load_state_dict(state)
    assert other.best == stopper.best and other.wait == stopper.wait
    assert set(other.state_dict()["best_weights"]) == {"0.W", "0.b", "2.W", "2.b"}


# -- learning-rate schedules ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (Constant(), [1, 1, 1, 1, 1]),
        (StepDecay(2, gamma=0.5), [1, 1, 0.5, 0.5, 0.25]),
        (Exponential(0.5), [1, 0.5, 0.25, 0.125, 0.0625]),
        (Cosine(4), [1, (1 + math.cos(math.pi / 4)) / 2, 0.5, (1 - math.cos(math.pi / 4)) / 2, 0]),
        (LinearWarmup(2, after=Exponential(0.5)), [0.5, 1, 1, 0.5, 0.25]),
    ],
    ids=["constant", "step", "exponential", "cosine", "warmup"],
)
def test_learning_rate_scheduler_sets_lr_each_epoch(schedule: Any, expected: list[float]) -> None:
    seen: list[float] = []

    class Watch(nb.Callback):
        def on_epoch_begin(self, trainer: Any, epoch: int) -> None:
            seen.append(trainer.optimizer.lr)

    _fit([nb.callbacks.LearningRateScheduler(schedule), Watch()], epochs=5, lr=0.02)
    np.testing.assert_allclose(seen, [0.02 * f for f in expected], rtol=1e-12)


def test_step_interval_schedule_and_config_round_trip() -> None:
    seen: list[float] = []

    class Watch(nb.Callback):
        def on_batch_begin(self, trainer: Any, step: int) -> None:
            seen.append(trainer.optimizer.lr)

    scheduler = nb.callbacks.LearningRateScheduler(LinearWarmup(4), interval="step")
    _fit([scheduler, Watch()], epochs=2, lr=0.04)
    np.testing.assert_allclose(seen[:6], [0.01, 0.02, 0.03, 0.04, 0.04, 0.04])
    spec = nb.to_spec(scheduler)
    assert spec["config"]["schedule"] == {  # the standard spec, nested one included
        "type": "neuroback:LinearWarmup",
        "config": {"warmup": 4, "after": {"type": "neuroback:Constant", "config": {}}},
    }
    rebuilt = nb.build("callbacks", json.loads(json.dumps(spec)))
    assert [rebuilt.schedule(t) for t in range(6)] == [scheduler.schedule(t) for t in range(6)]


def test_a_plain_callable_schedule_works_but_is_not_configurable() -> None:
    scheduler = nb.callbacks.LearningRateScheduler(lambda t: 1.0 / (1 + t))
    trainer = _fit([scheduler], epochs=3, lr=0.03)
    assert trainer.optimizer.lr == pytest.approx(0.01)
    with pytest.raises(nb.errors.ConfigError, match="plain callable"):
        scheduler.config()
    with pytest.raises(nb.errors.ComponentNotFoundError, match="Did you mean 'LinearWarmup'"):
        nb.callbacks.LearningRateScheduler("Linear")


def test_reduce_lr_on_plateau() -> None:
    plateau = nb.callbacks.ReduceLROnPlateau("loss", factor=0.5, patience=0, min_delta=10.0)
    trainer = _fit([plateau], epochs=4, lr=0.01)
    # min_delta=10 means no epoch ever "improves" after the first: every later epoch halves.
    assert trainer.optimizer.lr == pytest.approx(0.01 * 0.5**3)
    floor = nb.callbacks.ReduceLROnPlateau(
        "loss", factor=0.1, patience=0, min_delta=10, min_lr=1e-3
    )
    assert _fit([floor], epochs=4, lr=0.01).optimizer.lr == pytest.approx(1e-3)
    with pytest.raises(ValueError, match=r"factor must be a number in \(0, 1\)"):
        nb.callbacks.ReduceLROnPlateau(factor=2.0)


# -- TerminateOnNaN ----------------------------------------------------------------------------


def _diverging(action: str) -> tuple[nb.Trainer, Any]:
    x, y = nb.datasets.noisy_sine(64)
    nb.seed(0)
    model = nb.Sequential(nb.layers.Dense(1, 8), nb.layers.ReLU(), nb.layers.Dense(8, 1))
    guard = nb.callbacks.TerminateOnNaN(action)
    trainer = nb.Trainer(
        model, "MSE", nb.optimizers.SGD(lr=1e6), callbacks=[guard], log_every_n_steps=1
    )
    return trainer, (x, y, guard)


def test_terminate_on_nan_stops_the_run() -> None:
    trainer, (x, y, guard) = _diverging("stop")
    with (
        np.errstate(all="ignore"),
        pytest.warns(nb.training.NonFiniteLossWarning),
        pytest.warns(nb.training.NonFiniteUpdateWarning, match="skipped"),
    ):
        history = trainer.fit(x, y, epochs=50, batch_size=8)
    assert guard.triggered_at is not None
    assert len(history) < 50
    assert not math.isfinite(history["loss"][-1])


def test_terminate_on_nan_can_raise() -> None:
    trainer, (x, y, _) = _diverging("raise")
    with (
        np.errstate(all="ignore"),
        pytest.warns(nb.training.NonFiniteLossWarning),
        pytest.warns(nb.training.NonFiniteUpdateWarning),
        pytest.raises(TrainingError, match=r"loss became (nan|inf).*ClipByGlobalNorm"),
    ):
        trainer.fit(x, y, epochs=50, batch_size=8)


# -- CSVLogger --------------------------------------------------------------------------------


def test_csv_logger_writes_one_row_per_epoch_and_appends(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    _fit([nb.callbacks.CSVLogger(path)], epochs=3)
    rows = list(csv.DictReader(path.open()))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert set(rows[0]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert float(rows[-1]["lr"]) == 0.01
    _fit([nb.callbacks.CSVLogger(path, append=True)], epochs=2)
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 5  # the header was not repeated
    _fit([nb.callbacks.CSVLogger(path)], epochs=1)
    assert len(list(csv.DictReader(path.open()))) == 1  # without append: replaced


def test_csv_logger_needs_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _fit([nb.callbacks.CSVLogger(tmp_path / "missing" / "log.csv")], epochs=1)


def test_early_stopping_continues_across_fits_and_restarts_after_a_stop() -> None:
    x, y = _data()
    stopper = nb.callbacks.EarlyStopping("loss", patience=2, restore_best_weights=False)
    trainer = nb.Trainer(
        _model(), "SoftmaxCrossEntropy", nb.optimizers.Adam(lr=0.01), callbacks=[stopper], seed=0
    )
    for _ in range(3):  # a loop of short fits keeps one search going
        trainer.fit(x, y, epochs=1, batch_size=32)
    assert stopper.best_epoch == 2 and stopper.stopped_epoch is None
    stopper._monitor.min_delta = 1e9  # from now on no epoch counts as an improvement
    trainer.fit(x, y, epochs=10, batch_size=32)
    assert stopper.stopped_epoch == 4  # two epochs without improvement: 3 and 4
    saved = stopper.state_dict()
    trainer.fit(x, y, epochs=1, batch_size=32)  # after a stop, a new search begins
    assert stopper.best_epoch == 5
    stopper.load_state_dict(saved)
    stopper.on_train_begin(trainer)  # a resumed run keeps the restored state
    assert stopper.best_epoch == saved["best_epoch"] and stopper.wait == 2
