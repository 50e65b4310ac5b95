"""Defects a hostile review found in the step contracts, each pinned by a test."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

import neuroback as nb
import neuroback.testing.strict


def test_adam_eps_that_is_zero_in_the_parameter_dtype_is_refused_before_any_write() -> None:
    layer = nb.layers.Dense(3, 2)
    opt = nb.optimizers.Adam(1e-3, eps=1e-50).bind(layer)
    before = layer.W.value.copy()
    with pytest.raises(ValueError, match=r"eps=1e-50 is 0 in float32"):
        opt.step()
    np.testing.assert_array_equal(layer.W.value, before)


@pytest.mark.parametrize("backend", ["numpy", "strict"])
def test_a_skipped_update_also_keeps_the_batchnorm_statistics(backend: str) -> None:
    nb.seed(0)
    model = nb.Sequential(nb.layers.Dense(4, 3), nb.layers.BatchNorm(3), nb.layers.Dense(3, 2))
    trainer = nb.Trainer(model, "MSE", "SGD", backend=backend, seed=0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)), rng.normal(size=(16, 2))
    trainer.fit(x, y, epochs=1, batch_size=16)
    state = {k: trainer.backend.to_host(v).copy() for k, v in model.named_state().items()}
    bad = x.copy()
    bad[0, 0] = np.nan
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        trainer.fit([(bad, y)], epochs=1)
    assert trainer.skipped_updates == 1
    for name, value in model.named_state().items():
        np.testing.assert_array_equal(trainer.backend.to_host(value), state[name])
    assert np.isfinite(trainer.predict(x)).all()


def test_an_optimizer_rebound_after_the_trainer_was_built_is_refused_at_the_next_step() -> None:
    first, second = nb.Sequential(nb.layers.Dense(2, 2)), nb.Sequential(nb.layers.Dense(2, 2))
    opt = nb.optimizers.SGD(lr=0.1)
    trainer = nb.Trainer(first, "MSE", opt)
    opt.bind(second)
    with pytest.raises(ValueError, match="bound to another model since the Trainer was built"):
        trainer.fit(np.ones((4, 2)), np.zeros((4, 2)), epochs=1)


def test_ctrl_c_in_on_train_end_still_lets_the_other_callbacks_end() -> None:
    ran: list[int] = []

    class End(nb.Callback):
        def __init__(self, index: int, error: BaseException | None = None) -> None:
            self.index, self.error = index, error

        def on_train_end(self, trainer: Any) -> None:
            ran.append(self.index)
            if self.error is not None:
                raise self.error

    trainer = nb.Trainer(
        nb.Sequential(nb.layers.Dense(2, 2)),
        "MSE",
        "SGD",
        callbacks=[End(0, KeyboardInterrupt()), End(1)],
    )
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(np.ones((4, 2)), np.zeros((4, 2)), epochs=1)
    assert ran == [0, 1]


class OldAct(nb.Layer):
    def forward(self, x: Any, *, train: bool, rng: Any = None) -> Any:
        return x, lambda dy: dy

    def config(self) -> dict[str, Any]:
        return {}


def test_the_missing_keyword_is_blamed_on_the_layer_that_lacks_it() -> None:
    model = nb.Sequential(nb.layers.Residual(OldAct()), nb.layers.Dense(3, 3))
    trainer = nb.Trainer(model, "MSE", "SGD")
    with pytest.raises(TypeError, match=r"The backward of OldAct\(\) does not accept input_grad"):
        trainer.train_step(np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32))


class OldBlock(nb.Layer):
    """A container written before observers: forward has no observer= keyword."""

    def __init__(self, inner: nb.Layer) -> None:
        super().__init__()
        self.inner = inner

    def children(self) -> Mapping[str, nb.Layer]:
        return {"inner": self.inner}

    def forward(self, x: Any, *, train: bool, rng: Any = None) -> Any:
        return self.inner.forward(x, train=train, rng=rng)

    def config(self) -> dict[str, Any]:
        return {}


def test_gradient_flow_monitor_warns_about_a_container_without_observer_and_goes_on() -> None:
    model = nb.Sequential(nb.layers.Dense(2, 3), OldBlock(nb.layers.ReLU()), nb.layers.Dense(3, 1))
    monitor = nb.callbacks.GradientFlowMonitor(every_n_steps=1)
    trainer = nb.Trainer(model, "MSE", "SGD", callbacks=[monitor])
    with pytest.warns(UserWarning, match="does not accept observer="):
        trainer.fit(np.ones((8, 2)), np.zeros((8, 1)), epochs=1, batch_size=4)
    assert any("grad_norm" in r for r in monitor.records)
