"""A NaN or infinite gradient never reaches the weights: the update is skipped, counted
and reported, on the host for NumPy and on the device (here the strict backend) otherwise."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import neuroback as nb
import neuroback.testing.strict
from neuroback.training import NonFiniteUpdateWarning

BACKENDS = ["numpy", "strict"]


def _model() -> nb.Sequential:
    nb.seed(0)
    return nb.Sequential(
        nb.layers.Dense(3, 4, dtype="float64"),
        nb.layers.Tanh(),
        nb.layers.Dense(4, 2, dtype="float64"),
    )


def _snapshot(trainer: nb.Trainer) -> tuple[dict, dict]:
    backend = trainer.backend
    values = {
        k: backend.to_host(p.value).copy() for k, p in trainer.model.named_parameters().items()
    }
    return values, trainer.optimizer.state_dict()


def _assert_same_state(a: dict, b: dict) -> None:
    assert a["step_count"] + 1 == b["step_count"]  # a skipped update still counts as a step
    for name, slots in a["slots"].items():
        for key, value in slots.items():
            np.testing.assert_array_equal(value, b["slots"][name][key])
    for old, new in zip(a["transform_state"], b["transform_state"], strict=True):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: nb.optimizers.Adam(lr=0.01, transforms=[nb.transforms.ClipByGlobalNorm(1.0)]),
        lambda: nb.optimizers.SGD(lr=0.1, momentum=0.9),
    ],
    ids=["adam-clip", "sgd-momentum"],
)
def test_a_nan_batch_through_train_step_changes_nothing_but_the_counts(backend, optimizer) -> None:
    trainer = nb.Trainer(_model(), "MSE", optimizer(), backend=backend, seed=0)
    rng = np.random.default_rng(0)
    x, y = trainer.prepare(rng.normal(size=(8, 3)), rng.normal(size=(8, 2)))
    trainer.train_step(x, y)  # a good step first, so slots and transform state are not zero
    values, opt_state = _snapshot(trainer)
    x_bad, _ = trainer.prepare(np.full((8, 3), 1.0), None)
    x_bad[0, 0] = np.nan  # through train_step, past the intake's check
    trainer.train_step(x_bad, y)
    values_after, opt_after = _snapshot(trainer)
    for name, value in values.items():
        np.testing.assert_array_equal(value, values_after[name])
    _assert_same_state(opt_state, opt_after)
    assert trainer.skipped_updates == 1 and trainer.global_step == 2
    trainer.train_step(x, y)  # and training goes on
    assert all(np.isfinite(v).all() for v in _snapshot(trainer)[0].values())
    assert trainer.skipped_updates == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_batches_from_an_iterable_are_skipped_and_reported(backend) -> None:
    rng = np.random.default_rng(1)
    batches = [(rng.normal(size=(4, 3)), rng.normal(size=(4, 2))) for _ in range(6)]
    bad = batches[2][0].copy()
    bad[1, 2] = np.inf
    batches[2] = (bad, batches[2][1])
    trainer = nb.Trainer(_model(), "MSE", nb.optimizers.Adam(lr=0.01), backend=backend, seed=0)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", nb.training.NonFiniteLossWarning)
        with pytest.warns(NonFiniteUpdateWarning) as caught:
            trainer.fit(batches, epochs=2)
    messages = [str(w.message) for w in caught if w.category is NonFiniteUpdateWarning]
    assert len(messages) == 2  # the first skip, then the total of the fit
    assert "1 update(s) skipped by step 6" in messages[0]  # read at the end of epoch 1
    assert "In all, 2 update(s) of this fit" in messages[1]
    assert trainer.skipped_updates == 2  # once per epoch
    for p in trainer.model.parameters():
        assert np.isfinite(trainer.backend.to_host(p.value)).all()


def test_the_guard_can_be_switched_off() -> None:
    trainer = nb.Trainer(_model(), "MSE", nb.optimizers.SGD(lr=0.1), skip_nonfinite=False)
    x = np.ones((4, 3))
    x[0, 0] = np.nan
    with np.errstate(invalid="ignore"):
        trainer.train_step(x, np.zeros((4, 2)))
    assert not np.isfinite(trainer.model[0].W.value).all()
    assert trainer.skipped_updates == 0


def test_a_manual_loop_is_guarded_too() -> None:
    model = _model()
    opt = nb.optimizers.SGD(lr=0.1).bind(model)
    before = model[0].W.value.copy()
    model[0].W.grad[...] = np.nan
    opt.step()
    np.testing.assert_array_equal(model[0].W.value, before)
    assert opt.skipped_steps == 1 and opt.step_count == 1


def test_finite_gradients_whose_sum_overflows_are_not_skipped() -> None:
    layer = nb.layers.Dense(2, 1, bias=False, dtype="float32")
    opt = nb.optimizers.SGD(lr=0.0).bind(layer)
    layer.W.grad[...] = np.float32(3e38)  # finite, but the sum overflows float32
    opt.step()
    assert opt.skipped_steps == 0


def test_terminate_on_nan_still_stops_the_run() -> None:
    x = np.ones((16, 3))
    x[3] = np.nan
    stop = nb.callbacks.TerminateOnNaN()
    trainer = nb.Trainer(
        _model(), "MSE", nb.optimizers.SGD(lr=0.1), callbacks=[stop], log_every_n_steps=1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = trainer.fit(
            iter([(x[:8], np.zeros((8, 2))), (x[8:], np.zeros((8, 2)))]), epochs=1
        )
    assert stop.triggered_at is not None and len(history) == 1
    assert all(np.isfinite(p.value).all() for p in trainer.model.parameters())
