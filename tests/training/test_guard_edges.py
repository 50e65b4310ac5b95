"""The edges of the non-finite guard and of fit's up-front checks: a loss that is
infinite while its gradients are finite, SGD's first momentum step after a skipped one
(the same on the host and on the device), a one-sample batch in a list of batches, and a
model moved behind the Trainer's back."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import neuroback as nb
import neuroback.testing.strict
from neuroback.errors import BackendMismatchError, ShapeError


class _BarrierMSE(nb.Loss):
    r"""MSE plus a barrier :math:`\infty \cdot [\max|y| > 10]` whose gradient is 0: an
    infinite loss with finite gradients (a target outside the loss's domain)."""

    def forward(self, pred, target):
        xp = self.backend.xp
        diff = pred - target
        value = (diff * diff).mean()
        outside = xp.abs(target).max() > 10
        value = xp.where(outside, xp.asarray(np.inf, dtype=value.dtype), value)
        return value, diff * (2.0 / diff.size)


def _model() -> nb.Sequential:
    nb.seed(0)
    return nb.Sequential(nb.layers.Dense(2, 1, dtype="float64"))


@pytest.mark.parametrize("backend", ["numpy", "strict"])
def test_an_infinite_loss_with_finite_gradients_is_not_applied(backend: str) -> None:
    trainer = nb.Trainer(_model(), _BarrierMSE(), nb.optimizers.SGD(lr=0.1), backend=backend)
    x, y = trainer.prepare(np.array([[1.0, 2.0]]), np.array([[100.0]]))
    before = {
        k: trainer.backend.to_host(p.value).copy()
        for k, p in trainer.model.named_parameters().items()
    }
    result = trainer.train_step(x, y)
    assert not np.isfinite(float(trainer.backend.to_host(result.loss)))
    for name, param in trainer.model.named_parameters().items():
        np.testing.assert_array_equal(trainer.backend.to_host(param.value), before[name])
    assert trainer.skipped_updates == 1
    # a finite loss is applied
    _, y_ok = trainer.prepare(x, np.array([[1.0]]))
    trainer.train_step(x, y_ok)
    assert trainer.skipped_updates == 1
    moved = trainer.backend.to_host(trainer.model.named_parameters()["0.W"].value)
    assert not np.array_equal(moved, before["0.W"])


def test_the_loss_of_any_micro_batch_of_a_window_skips_its_update() -> None:
    trainer = nb.Trainer(
        _model(), _BarrierMSE(), nb.optimizers.SGD(lr=0.1), accumulate_steps=2, backend="numpy"
    )
    x, y_bad = trainer.prepare(np.array([[1.0, 2.0]]), np.array([[100.0]]))
    _, y = trainer.prepare(x, np.array([[1.0]]))
    before = trainer.model.named_parameters()["0.W"].value.copy()
    trainer.train_step(x, y_bad)  # infinite loss, first of the window
    trainer.train_step(x, y)  # finite loss: the update is still skipped
    np.testing.assert_array_equal(trainer.model.named_parameters()["0.W"].value, before)
    assert trainer.skipped_updates == 1
    trainer.train_step(x, y)
    trainer.train_step(x, y)  # a clean window is applied
    assert trainer.skipped_updates == 1
    assert not np.array_equal(trainer.model.named_parameters()["0.W"].value, before)


def _sgd_run(backend: str) -> tuple[np.ndarray, nb.Optimizer]:
    nb.seed(3)
    layer = nb.layers.Dense(2, 2, dtype="float64").to(backend)
    opt = nb.optimizers.SGD(lr=0.1, momentum=0.9, dampening=0.5).bind(layer)
    b = layer.backend
    layer.W.grad[...] = b.asarray(np.array([[np.nan, 1.0], [2.0, 3.0]]))
    layer.b.grad[...] = b.asarray(np.ones(2))
    opt.step()  # skipped: its first momentum step never happened
    for g in (1.0, -2.0):
        layer.W.grad[...] = b.asarray(np.full((2, 2), g))
        layer.b.grad[...] = b.asarray(np.full(2, g))
        opt.step()
    return b.to_host(layer.W.value).copy(), opt


def test_sgd_first_momentum_step_after_a_skipped_one_is_the_same_on_host_and_device() -> None:
    host, host_opt = _sgd_run("numpy")
    device, device_opt = _sgd_run("strict")
    np.testing.assert_array_equal(host, device)
    assert host_opt.skipped_steps == device_opt.skipped_steps == 1
    # and it is PyTorch's first step: v1 = g (no dampening), then v2 = 0.9 v1 + 0.5 g2
    nb.seed(3)
    w0 = nb.layers.Dense(2, 2, dtype="float64").W.value.copy()
    v1 = np.full((2, 2), 1.0)
    v2 = 0.9 * v1 + 0.5 * np.full((2, 2), -2.0)
    np.testing.assert_allclose(host, w0 - 0.1 * v1 - 0.1 * v2, rtol=0, atol=1e-15)


def test_a_one_sample_batch_in_a_list_of_batches_is_refused_before_any_update() -> None:
    nb.seed(0)
    model = nb.Sequential(nb.layers.Dense(3, 4), nb.layers.BatchNorm(4), nb.layers.Dense(4, 1))
    rng = np.random.default_rng(0)
    batches = [(rng.normal(size=(4, 3)), rng.normal(size=(4, 1))) for _ in range(3)]
    batches.append((rng.normal(size=(1, 3)), rng.normal(size=(1, 1))))
    trainer = nb.Trainer(model, "MSE", nb.optimizers.SGD(lr=0.1))
    before = {k: p.value.copy() for k, p in model.named_parameters().items()}
    with pytest.raises(
        ShapeError, match=r"Batch 3 of the 4 batches holds 1 sample.*Drop that batch"
    ):
        trainer.fit(batches, epochs=1)
    for name, param in model.named_parameters().items():
        np.testing.assert_array_equal(param.value, before[name])
    assert trainer.global_step == 0


def test_a_model_moved_behind_the_trainers_back_is_named_not_the_data() -> None:
    model = _model()
    trainer = nb.Trainer(model, "MSE", nb.optimizers.SGD(lr=0.1), backend="numpy")
    model.to("strict")
    x = np.ones((4, 2))
    y = np.zeros((4, 1))
    for call in (
        lambda: trainer.fit(x, y, epochs=1),
        lambda: trainer.evaluate(x, y),
        lambda: trainer.predict(x),
    ):
        with pytest.raises(
            BackendMismatchError,
            match=r"model was moved to the 'strict' backend after this Trainer was built on "
            r"'numpy'.*model.to\('numpy'\)",
        ):
            call()
    model.to("numpy")  # moved back: training works again
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trainer.fit(x, y, epochs=1, batch_size=2)
    assert trainer.global_step == 2
