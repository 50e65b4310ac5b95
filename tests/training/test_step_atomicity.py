"""Every way out of a training step leaves the model and optimizer fully before or after it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import neuroback as nb


def _one_weight() -> nb.Layer:
    layer = nb.layers.Dense(1, 1, bias=False, init="zeros", dtype="float64")
    layer.W.assign(np.array([[1.0]]))
    return layer


X = np.array([[1.0]])
Y = np.array([[0.0]])  # MSE gradient 2 * (w - 0) * 1 = 2w; SGD(lr=0.1): w <- 0.8 w


class RaiseOnce(nb.Callback):
    def __init__(self, hook: str, error: BaseException) -> None:
        self.hook, self.error, self.fired = hook, error, False

    def _maybe(self) -> None:
        if not self.fired:
            self.fired = True
            raise self.error

    def on_after_backward(self, trainer: Any) -> None:
        if self.hook == "on_after_backward":
            self._maybe()

    def on_before_optimizer_step(self, trainer: Any) -> None:
        if self.hook == "on_before_optimizer_step":
            self._maybe()


@pytest.mark.parametrize("hook", ["on_after_backward", "on_before_optimizer_step"])
@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_a_step_that_raises_leaves_no_gradient_for_the_next_fit(
    hook: str, error: BaseException
) -> None:
    layer = _one_weight()
    trainer = nb.Trainer(
        layer, "MSE", nb.optimizers.SGD(lr=0.1), callbacks=[RaiseOnce(hook, error)], seed=0
    )
    with pytest.raises(type(error)):
        trainer.fit(X, Y, epochs=1, batch_size=1)
    assert float(layer.W.value[0, 0]) == 1.0  # fully before: nothing applied
    assert float(np.abs(layer.W.grad).max()) == 0.0
    trainer.fit(X, Y, epochs=1, batch_size=1)
    # one clean step from 1.0: 0.8 (the leaked gradient used to give 0.6)
    assert float(layer.W.value[0, 0]) == pytest.approx(0.8, abs=1e-12)


class Exploding(nb.Layer):
    """A layer whose backward fails part-way, after the layer below added its gradient."""

    def forward(self, x: Any, *, train: bool, rng: Any = None) -> Any:
        def backward(dy: Any, *, input_grad: bool = True) -> Any:
            raise RuntimeError("backward failed part-way")

        return x, backward

    def config(self) -> dict[str, Any]:
        return {}


def test_a_backward_that_raises_part_way_leaves_the_gradients_clear() -> None:
    first = _one_weight()
    model = nb.Sequential(first, Exploding())
    trainer = nb.Trainer(model, "MSE", nb.optimizers.SGD(lr=0.1), seed=0)
    with pytest.raises(RuntimeError, match="part-way"):
        trainer.train_step(X, Y)
    assert float(np.abs(first.W.grad).max()) == 0.0 and trainer.batch_step == 0


def test_a_failed_step_restores_the_batchnorm_statistics_it_changed() -> None:
    bn = nb.layers.BatchNorm(2, dtype="float64")
    model = nb.Sequential(bn, Exploding())
    trainer = nb.Trainer(model, "MSE", nb.optimizers.SGD(lr=0.1), seed=0)
    before = bn.state("running_mean").copy()
    with pytest.raises(RuntimeError):
        trainer.train_step(np.array([[1.0, 2.0], [3.0, 5.0]]), np.zeros((2, 2)))
    np.testing.assert_array_equal(bn.state("running_mean"), before)


def test_an_accumulation_window_cut_by_an_error_is_discarded() -> None:
    layer = _one_weight()
    callback = RaiseOnce("on_after_backward", RuntimeError("second micro-batch"))
    trainer = nb.Trainer(
        layer, "MSE", nb.optimizers.SGD(lr=0.1), accumulate_steps=2, callbacks=[], seed=0
    )
    trainer.train_step(X, Y)  # first micro-batch: gradient pending
    trainer.callbacks.append(callback)
    with pytest.raises(RuntimeError):
        trainer.train_step(X, Y)
    assert float(np.abs(layer.W.grad).max()) == 0.0 and trainer._micro == 0
    assert float(layer.W.value[0, 0]) == 1.0


def test_ctrl_c_during_the_update_lands_after_it_so_the_step_is_complete(
    ctrl_c_during_update: Any,
) -> None:
    a, b = _one_weight(), _one_weight()
    model = nb.Sequential(a, b)
    opt = nb.optimizers.SGD(lr=0.1, transforms=[ctrl_c_during_update()])
    trainer = nb.Trainer(model, "MSE", opt, seed=0)
    with pytest.raises(KeyboardInterrupt):
        trainer.train_step(X, Y)
    # both weights were updated (fully after), and the step is counted
    assert float(a.W.value[0, 0]) < 1.0 and float(b.W.value[0, 0]) < 1.0
    assert trainer.global_step == 1 and trainer.batch_step == 1
    assert float(np.abs(a.W.grad).max()) == 0.0


def test_on_train_end_runs_for_every_callback_even_after_one_raises() -> None:
    calls: list[str] = []

    class Fails(nb.Callback):
        def on_train_end(self, trainer: Any) -> None:
            calls.append("fails")
            raise RuntimeError("first failure")

    class Records(nb.Callback):
        def on_train_end(self, trainer: Any) -> None:
            calls.append("records")

    stopper = nb.callbacks.EarlyStopping(monitor="loss", patience=1)
    trainer = nb.Trainer(
        _one_weight(), "MSE", nb.optimizers.SGD(lr=0.1), callbacks=[Fails(), Records(), stopper]
    )
    with pytest.raises(RuntimeError, match="first failure"):
        trainer.fit(X, Y, epochs=2, batch_size=1)
    assert calls == ["fails", "records"]
    assert stopper._best_weights is not None  # and it ran too (it restores the best weights)
