"""``Trainer.loop()``: what ``fit`` does once around its epochs, for a manual loop of
``train_step`` (the Ctrl-C deferral installed once, the layer state listed once)."""

from __future__ import annotations

import signal
from typing import Any

import numpy as np
import pytest

import neuroback as nb


def _trainer(**kwargs: Any) -> nb.Trainer:
    nb.seed(0)
    model = nb.Sequential(
        nb.layers.Dense(3, 4, dtype="float64"),
        nb.layers.BatchNorm(4, dtype="float64"),
        nb.layers.ReLU(),
        nb.layers.Dense(4, 2, dtype="float64"),
    )
    return nb.Trainer(model, "MSE", nb.optimizers.SGD(lr=0.1), seed=0, **kwargs)


def _batch(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(8, 3)), rng.normal(size=(8, 2))


def test_the_block_installs_the_ctrl_c_deferral_once_and_restores_the_handler() -> None:
    trainer = _trainer()
    before = signal.getsignal(signal.SIGINT)
    with trainer.loop():
        inside = signal.getsignal(signal.SIGINT)
        assert inside is not before
        trainer.train_step(*_batch())  # an update does not remove it
        assert signal.getsignal(signal.SIGINT) is inside
    assert signal.getsignal(signal.SIGINT) is before


def test_a_ctrl_c_inside_an_update_in_the_block_lands_after_the_update(
    ctrl_c_during_update: Any,
) -> None:
    nb.seed(0)
    model = nb.layers.Dense(3, 2, dtype="float64")
    opt = nb.optimizers.SGD(lr=0.1, transforms=[ctrl_c_during_update()])
    trainer = nb.Trainer(model, "MSE", opt, seed=0)
    before = model.W.value.copy()
    with trainer.loop(), pytest.raises(KeyboardInterrupt):
        trainer.train_step(*_batch())
    assert not np.array_equal(model.W.value, before)  # the update completed
    assert trainer.global_step == 1


def test_a_failed_step_in_the_block_restores_the_layer_state() -> None:
    trainer = _trainer(callbacks=[])
    bn = trainer.model[1]
    with trainer.loop():
        trainer.train_step(*_batch(0))
        saved = {k: v.copy() for k, v in bn.named_state().items()}

        class Fails(nb.Callback):
            def on_after_backward(self, trainer: Any) -> None:
                raise RuntimeError("in the step")

        trainer.callbacks.append(Fails())
        with pytest.raises(RuntimeError, match="in the step"):
            trainer.train_step(*_batch(1))  # its forward moved the running statistics
        for name, value in bn.named_state().items():
            np.testing.assert_array_equal(value, saved[name], err_msg=name)


def test_blocks_nest_and_fit_runs_inside_one() -> None:
    trainer = _trainer()
    x, y = _batch()
    before = signal.getsignal(signal.SIGINT)
    with trainer.loop():
        inside = signal.getsignal(signal.SIGINT)
        with trainer.loop():  # does nothing
            trainer.train_step(x, y)
        assert signal.getsignal(signal.SIGINT) is inside  # the inner exit kept it
        trainer.fit(x, y, epochs=1, batch_size=4)
        assert signal.getsignal(signal.SIGINT) is inside
        trainer.train_step(x, y)
    assert signal.getsignal(signal.SIGINT) is before
    assert trainer.global_step == 4


def test_steps_in_the_block_are_the_steps_outside_it() -> None:
    a, b = _trainer(), _trainer()
    x, y = _batch()
    with a.loop():
        for _ in range(3):
            a.train_step(x, y)
    for _ in range(3):
        b.train_step(x, y)
    for name, value in a.model.state_dict().items():
        np.testing.assert_array_equal(value, b.model.state_dict()[name], err_msg=name)


def test_the_layer_state_is_listed_once_for_the_block_even_around_fit() -> None:
    trainer = _trainer()
    listed: list[int] = []
    walk = trainer.model.named_state

    def counting() -> dict:
        listed.append(1)
        return walk()

    trainer.model.named_state = counting  # type: ignore[method-assign]
    x, y = _batch()
    with trainer.loop():
        for _ in range(3):
            trainer.train_step(x, y)
        assert len(listed) == 1
        trainer.fit(x, y, epochs=1, batch_size=4)  # fit lists it again, for itself
        after_fit = len(listed)
        for _ in range(3):
            trainer.train_step(x, y)
        assert len(listed) == after_fit  # the block's listing is back in force
    trainer.train_step(x, y)
    assert len(listed) == after_fit + 1  # outside a block: listed at each step


def test_a_block_that_cannot_list_the_state_leaves_no_handler_behind() -> None:
    trainer = _trainer()

    def broken() -> dict:
        raise RuntimeError("cannot list")

    trainer.model.named_state = broken  # type: ignore[method-assign]
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(RuntimeError, match="cannot list"), trainer.loop():
        pass
    assert signal.getsignal(signal.SIGINT) is before


def test_interrupt_guard_is_a_deprecated_name_for_loop() -> None:
    trainer = _trainer()
    before = signal.getsignal(signal.SIGINT)
    with pytest.warns(nb.deprecation.NeurobackDeprecationWarning, match=r"Trainer\.loop\(\)"):
        block = trainer.interrupt_guard()
    with block:
        assert signal.getsignal(signal.SIGINT) is not before
        trainer.train_step(*_batch())
    assert signal.getsignal(signal.SIGINT) is before
