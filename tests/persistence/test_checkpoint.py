"""Checkpoints in one process: exact resume from anywhere in a run, what a resume checks,
that a refused resume changes nothing, ModelCheckpoint, and Optimizer.to."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import neuroback as nb
import neuroback.testing.strict
from neuroback.errors import FileFormatError, StateMismatchError

RNG = np.random.default_rng(0)
X, Y = RNG.normal(size=(50, 4)), RNG.normal(size=(50, 3))


class _Stop(Exception):
    """Ends a run where a test wants it to die."""


class _SaveAt(nb.Callback):
    """Writes a checkpoint after batch step ``at`` (or at the end of epoch ``epoch``), then
    stops the run with an exception, as a crash would."""

    def __init__(self, path: Path, *, at: int | None = None, epoch: int | None = None) -> None:
        self.path, self.at, self.epoch = path, at, epoch

    def on_batch_end(self, trainer: Any, step: int, logs: Any) -> None:
        if trainer.batch_step == self.at:
            trainer.save_checkpoint(self.path)
            raise _Stop

    def on_epoch_end(self, trainer: Any, epoch: int, logs: Any) -> None:
        if epoch == self.epoch:
            trainer.save_checkpoint(self.path)
            raise _Stop


def _trainer(*extra: nb.Callback, accumulate: int = 2, metrics=("mae",)) -> nb.Trainer:
    nb.seed(0)
    model = nb.Sequential(
        nb.layers.Dense(4, 16, dtype="float64"),
        nb.layers.BatchNorm(16, dtype="float64"),
        nb.layers.ReLU(),
        nb.layers.Dropout(0.3),
        nb.layers.Dense(16, 3, dtype="float64"),
    )
    opt = _adam()
    schedule = nb.callbacks.LearningRateScheduler(nb.schedules.Cosine(total=40), interval="step")
    stopper = nb.callbacks.EarlyStopping("loss", patience=10)
    return nb.Trainer(
        model,
        "MSE",
        opt,
        callbacks=[schedule, stopper, *extra],
        metrics=list(metrics),
        seed=3,
        log_every_n_steps=3,
        accumulate_steps=accumulate,
    )


def _adam() -> nb.Optimizer:
    return nb.optimizers.Adam(lr=0.01, transforms=[nb.transforms.ClipByGlobalNorm(1.0)])


def _fit(trainer: nb.Trainer, **kwargs: Any) -> nb.History:
    return trainer.fit(X, Y, epochs=4, batch_size=8, **kwargs)


def _assert_same_run(a: nb.Trainer, b: nb.Trainer) -> None:
    for name, value in a.model.state_dict().items():
        np.testing.assert_array_equal(b.model.state_dict()[name], value, err_msg=name)
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sa["step_count"] == sb["step_count"] and sa["hyperparameters"] == sb["hyperparameters"]
    for name, slots in sa["slots"].items():
        for key, value in slots.items():
            np.testing.assert_array_equal(sb["slots"][name][key], value)
    for x, y in zip(sa["transform_state"], sb["transform_state"], strict=True):
        np.testing.assert_array_equal(x, y)
    assert (a.epoch, a.global_step, a.batch_step) == (b.epoch, b.global_step, b.batch_step)
    assert a.history.epochs == b.history.epochs


@pytest.fixture(scope="module")
def reference() -> nb.Trainer:
    trainer = _trainer()
    _fit(trainer)
    return trainer


# 50 samples in batches of 8: 7 batches per epoch, the last of 2 samples; accumulate_steps=2,
# so after an odd batch step an accumulation window is pending
@pytest.mark.parametrize("at", [3, 5, 7, 12, 20])
def test_resuming_from_any_batch_gives_the_uninterrupted_run(tmp_path, reference, at) -> None:
    path = tmp_path / "c.safetensors"
    with pytest.raises(_Stop):
        _fit(_trainer(_SaveAt(path, at=at)))
    resumed = _trainer(_SaveAt(path))
    history = _fit(resumed, resume_from=path)
    _assert_same_run(reference, resumed)
    assert history is resumed.history and len(history) == 4


@pytest.mark.parametrize("epoch", [0, 2])
def test_resuming_from_an_epoch_end_gives_the_uninterrupted_run(tmp_path, reference, epoch):
    path = tmp_path / "c.safetensors"
    with pytest.raises(_Stop):
        _fit(_trainer(_SaveAt(path, epoch=epoch)))
    resumed = _trainer(_SaveAt(path))
    _fit(resumed, resume_from=path)
    _assert_same_run(reference, resumed)


def test_a_checkpoint_between_fit_calls_resumes_the_next_one(tmp_path) -> None:
    first = _trainer(_SaveAt(tmp_path / "unused"))
    first.fit(X, Y, epochs=2, batch_size=8)
    path = first.save_checkpoint(tmp_path / "c.safetensors")
    first.fit(X, Y, epochs=2, batch_size=8)  # "this many" more
    second = _trainer(_SaveAt(tmp_path / "unused"))
    history = second.fit(X, Y, epochs=4, batch_size=8, resume_from=path)  # in total
    assert [row["epoch"] for row in history] == [0, 1, 2, 3]
    for name, value in first.model.state_dict().items():
        np.testing.assert_array_equal(second.model.state_dict()[name], value)
    assert first.history.epochs == history.epochs[2:]


def test_a_run_that_is_already_done_trains_no_further(tmp_path) -> None:
    trainer = _trainer()
    trainer.fit(X, Y, epochs=3, batch_size=8)
    path = trainer.save_checkpoint(tmp_path / "c.safetensors")
    again = _trainer()
    history = again.fit(X, Y, epochs=2, batch_size=8, resume_from=path)
    assert len(history) == 3 and again.epoch == 3 and again.global_step == trainer.global_step


def test_a_run_stopped_by_early_stopping_stays_stopped(tmp_path) -> None:
    class SaveWhenStopped(nb.Callback):
        def on_epoch_end(self, trainer: Any, epoch: int, logs: Any) -> None:
            if trainer.stop_training:
                trainer.save_checkpoint(tmp_path / "c.safetensors")

    def build() -> nb.Trainer:
        nb.seed(0)
        stopper = nb.callbacks.EarlyStopping("loss", patience=1, min_delta=10.0)
        model = nb.Sequential(nb.layers.Dense(4, 3))
        return nb.Trainer(model, "MSE", "SGD", callbacks=[stopper, SaveWhenStopped()])

    stopped = build()
    history = stopped.fit(X, Y, epochs=5, batch_size=10)
    assert len(history) == 2  # the second epoch does not improve by 10: it stops there
    resumed = build()
    again = resumed.fit(X, Y, epochs=5, batch_size=10, resume_from=tmp_path / "c.safetensors")
    assert again.epochs == history.epochs and resumed.global_step == stopped.global_step


def test_the_model_loads_out_of_a_checkpoint(tmp_path, reference) -> None:
    path = reference.save_checkpoint(tmp_path / "c.safetensors")
    model = nb.load(path)
    for name, value in reference.model.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[name], value)
    with pytest.raises(FileFormatError, match="is a model file, not a checkpoint"):
        _fit(_trainer(), resume_from=nb.save(model, tmp_path / "m.safetensors"))


def _snapshot(trainer: nb.Trainer) -> dict[str, Any]:
    return {
        "weights": trainer.model.state_dict(),
        "optimizer": json.dumps(trainer.optimizer.state_dict(), default=lambda a: a.tolist()),
        "counters": (trainer.epoch, trainer.global_step, trainer.batch_step),
        "rng": json.dumps(trainer.data_rng.bit_generator.state),
        "history": list(trainer.history.epochs),
    }


def _assert_unchanged(trainer: nb.Trainer, before: dict[str, Any]) -> None:
    after = _snapshot(trainer)
    for name, value in before["weights"].items():
        np.testing.assert_array_equal(after["weights"][name], value)
    assert {k: v for k, v in after.items() if k != "weights"} == {
        k: v for k, v in before.items() if k != "weights"
    }


def _saved(tmp_path: Path) -> Path:
    """A checkpoint taken inside the second epoch of a run that then died."""
    path = tmp_path / "c.safetensors"
    with pytest.raises(_Stop):
        _fit(_trainer(_SaveAt(path, at=9)))
    return path


def _other_architecture() -> nb.Trainer:
    nb.seed(0)
    model = nb.Sequential(
        nb.layers.Dense(4, 8, dtype="float64"),
        nb.layers.BatchNorm(8, dtype="float64"),
        nb.layers.ReLU(),
        nb.layers.Dense(8, 3, dtype="float64"),
    )
    return _with(model=model)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (
            _other_architecture,
            r"(?s)another architecture .*\n  3\.W: missing from the checkpoint\n"
            r".*4\.W: not in this "
            r"model\n.*0\.W: expected shape \(4, 8\) float64, got shape \(4, 16\)",
        ),
        (
            lambda: _with(optimizer=nb.optimizers.SGD(lr=0.1, momentum=0.9)),
            r"built differently:\n  the optimizer: the checkpoint has 'neuroback:Adam', this "
            r"Trainer has 'neuroback:SGD'",
        ),
        (
            lambda: _with(optimizer=nb.optimizers.Adam(lr=0.01)),
            r"the optimizer's gradient transforms: the checkpoint has \['neuroback:ClipByGlobal"
            r"Norm'\], this Trainer has \[\]",
        ),
        (lambda: _with(callbacks=()), r"the callbacks: the checkpoint has \['neuroback:Learning"),
        (lambda: _with(metrics=()), r"the metrics: the checkpoint has \['mae'\], this Trainer has"),
        (
            lambda: _with(accumulate=1),
            r"accumulate_steps: the checkpoint has 2, this Trainer has 1",
        ),
    ],
    ids=["architecture", "optimizer", "transforms", "callbacks", "metrics", "accumulate"],
)
def test_a_resume_into_another_trainer_says_what_differs_and_changes_nothing(
    tmp_path, build: Callable[[], nb.Trainer], match: str
) -> None:
    path = _saved(tmp_path)
    trainer = build()
    trainer.fit(X, Y, epochs=1, batch_size=8)
    before = _snapshot(trainer)
    with pytest.raises(StateMismatchError, match=match):
        _fit(trainer, resume_from=path)
    _assert_unchanged(trainer, before)


def _with(
    *,
    model: nb.Layer | None = None,
    optimizer: nb.Optimizer | None = None,
    callbacks: Any = None,
    metrics: Any = ("mae",),
    accumulate: int = 2,
) -> nb.Trainer:
    """A Trainer like the one that wrote the checkpoint, but for what is given."""
    base = _trainer(_SaveAt(Path("unused")), accumulate=accumulate, metrics=metrics)
    return nb.Trainer(
        base.model if model is None else model,
        "MSE",
        _adam() if optimizer is None else optimizer,
        callbacks=base.callbacks if callbacks is None else list(callbacks),
        metrics=list(metrics),
        accumulate_steps=accumulate,
        seed=3,
    )


def test_a_resume_that_fails_part_way_puts_everything_back(tmp_path) -> None:
    """The data differs (48 samples instead of 50): the loader refuses the saved order
    only after the weights and the optimizer were applied; all of it is undone."""
    path = _saved(tmp_path)
    trainer = _trainer(_SaveAt(tmp_path / "unused"))
    trainer.fit(X, Y, epochs=1, batch_size=8)
    before = _snapshot(trainer)
    with pytest.raises(ValueError, match="order"):
        trainer.fit(X[:48], Y[:48], epochs=4, batch_size=8, resume_from=path)
    _assert_unchanged(trainer, before)


def test_a_batch_iterable_resumes_only_at_an_epoch_boundary(tmp_path) -> None:
    batches = [(X[i : i + 10], Y[i : i + 10]) for i in range(0, 50, 10)]
    mid = tmp_path / "mid.safetensors"
    with pytest.raises(_Stop):
        _trainer(_SaveAt(mid, at=4)).fit(batches, epochs=3)
    with pytest.raises(
        StateMismatchError, match=r"inside epoch 0 .*batch iterable can resume only"
    ):
        _trainer(_SaveAt(mid)).fit(batches, epochs=3, resume_from=mid)
    boundary = tmp_path / "end.safetensors"
    with pytest.raises(_Stop):
        _trainer(_SaveAt(boundary, epoch=0)).fit(batches, epochs=3)
    reference = _trainer(_SaveAt(tmp_path / "unused"))
    reference.fit(batches, epochs=3)
    resumed = _trainer(_SaveAt(tmp_path / "unused"))
    resumed.fit(batches, epochs=3, resume_from=boundary)
    _assert_same_run(reference, resumed)


def test_callback_state_with_arrays_and_infinities_survives(tmp_path) -> None:
    stopper = nb.callbacks.EarlyStopping("loss", patience=10)  # best starts at +inf
    trainer = nb.Trainer(_trainer().model, "MSE", "Adam", callbacks=[stopper], seed=1)
    path = trainer.save_checkpoint(tmp_path / "fresh.safetensors")  # best == inf, no weights
    trainer.fit(X, Y, epochs=2, batch_size=8)
    path = trainer.save_checkpoint(tmp_path / "c.safetensors")
    again = nb.callbacks.EarlyStopping("loss", patience=10)
    other = nb.Trainer(_trainer().model, "MSE", "Adam", callbacks=[again], seed=1)
    other.fit(X, Y, epochs=2, batch_size=8, resume_from=path)
    assert again.best == stopper.best and again.best_epoch == stopper.best_epoch
    for name, value in stopper.state_dict()["best_weights"].items():
        np.testing.assert_array_equal(again.state_dict()["best_weights"][name], value)
    fresh = nb.callbacks.EarlyStopping("loss", patience=10)
    nb.Trainer(_trainer().model, "MSE", "Adam", callbacks=[fresh], seed=1).fit(
        X, Y, epochs=1, batch_size=8, resume_from=tmp_path / "fresh.safetensors"
    )


def test_a_checkpoint_file_records_what_a_reader_needs(tmp_path, reference) -> None:
    data = reference.save_checkpoint(tmp_path / "c.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    raw = json.loads(data[8 : 8 + n])
    header = json.loads(raw["__metadata__"]["neuroback"])
    assert header["kind"] == "checkpoint" and header["format_version"] == 1
    assert header["identity"]["optimizer"] == "neuroback:Adam"
    assert {"neuroback:Adam", "neuroback:ClipByGlobalNorm", "neuroback:MSE"} <= set(
        header["provenance"]
    )
    names = set(raw) - {"__metadata__"}
    assert "model/0.W" in names and "trainer/optimizer/slots/0.W/exp_avg" in names


# -- ModelCheckpoint ------------------------------------------------------------------------
def _small(callback: nb.Callback, **kwargs: Any) -> nb.Trainer:
    nb.seed(0)
    trainer = nb.Trainer(nb.Sequential(nb.layers.Dense(4, 3)), "MSE", "SGD", callbacks=[callback])
    trainer.fit(X, Y, batch_size=10, **{"epochs": 4, **kwargs})
    return trainer


def test_model_checkpoint_writes_each_epoch_and_keeps_the_last_ones(tmp_path) -> None:
    keep = nb.callbacks.ModelCheckpoint(tmp_path / "e{epoch}-s{step}.safetensors", keep_last=2)
    trainer = _small(keep)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "e2-s15.safetensors",
        "e3-s20.safetensors",
    ]
    resumed = nb.Trainer(
        nb.Sequential(nb.layers.Dense(4, 3)),
        "MSE",
        "SGD",
        callbacks=[
            nb.callbacks.ModelCheckpoint(tmp_path / "e{epoch}-s{step}.safetensors", keep_last=2)
        ],
    )
    resumed.fit(X, Y, epochs=4, batch_size=10, resume_from=tmp_path / "e3-s20.safetensors")
    np.testing.assert_array_equal(resumed.model[0].W.value, trainer.model[0].W.value)


def test_model_checkpoint_every_n_steps(tmp_path) -> None:
    steps = nb.callbacks.ModelCheckpoint(
        tmp_path / "s{step}.safetensors", every_n_epochs=None, every_n_steps=6, keep_last=None
    )
    _small(steps)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "s12.safetensors",
        "s18.safetensors",
        "s6.safetensors",
    ]


def test_model_checkpoint_save_best_only(tmp_path) -> None:
    best = nb.callbacks.ModelCheckpoint(
        tmp_path / "best-{epoch}-{loss:.3f}.safetensors",
        monitor="loss",
        save_best_only=True,
        keep_last=None,
    )
    trainer = _small(best, epochs=4)
    losses = trainer.history["loss"]
    improved = [i for i, v in enumerate(losses) if v == min(losses[: i + 1])]
    expected = sorted(f"best-{i}-{losses[i]:.3f}.safetensors" for i in improved)
    assert sorted(p.name for p in tmp_path.iterdir()) == expected
    assert best.best == min(losses)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"every_n_epochs": None}, ValueError, "would never write"),
        ({"save_best_only": True}, ValueError, "needs monitor"),
        ({"path": "x-{}.safetensors"}, nb.errors.ConfigError, "has a field ''"),
        ({"path": "x-{val_loss}.safetensors", "every_n_steps": 5}, nb.errors.ConfigError, "step"),
        ({"keep_last": -1}, ValueError, "keep_last"),
    ],
)
def test_model_checkpoint_refuses_what_cannot_work(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        nb.callbacks.ModelCheckpoint(**{"path": "c.safetensors", **kwargs})


def test_model_checkpoint_checks_its_folder_and_keys_before_training(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _small(nb.callbacks.ModelCheckpoint(tmp_path / "missing" / "c.safetensors"))
    with pytest.raises(KeyError, match=r"val_acc"):
        _small(nb.callbacks.ModelCheckpoint(tmp_path / "c-{val_acc}.safetensors"))
    assert list(tmp_path.iterdir()) == []


# -- Optimizer.to -----------------------------------------------------------------------------
def test_optimizer_to_moves_its_state_and_refuses_before_the_model_moves() -> None:
    trainer = _trainer()
    trainer.fit(X, Y, epochs=1, batch_size=8)
    opt = trainer.optimizer
    before = opt.state_dict()
    with pytest.raises(ValueError, match=r"Move the model first: model.to\('strict'\)"):
        opt.to("strict")
    trainer.model.to("strict")
    opt.to("strict")
    assert opt.backend.name == "strict"
    state = opt.state_dict()  # host copies, read back through the strict backend
    assert all(opt.backend.is_native(p.value) for p in opt.params.values())
    assert state["step_count"] == before["step_count"]
    after = opt.state_dict()
    for name, slots in before["slots"].items():
        for key, value in slots.items():
            np.testing.assert_array_equal(after["slots"][name][key], value)
