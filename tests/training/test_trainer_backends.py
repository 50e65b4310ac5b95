"""The whole fit on a non-NumPy backend: the strict CPU backend stands in for CuPy in CI.

Its arrays refuse implicit conversion to NumPy and mixing with host arrays, as CuPy's
do, so a host round trip hidden in the training loop fails here instead of on a GPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.testing import strict


def _fit(backend: str | None, **kwargs: Any) -> tuple[nb.Trainer, nb.History]:
    x, y = nb.datasets.two_moons(192, noise=0.15, seed=2)
    nb.seed(4)
    model = nb.Sequential(
        nb.layers.Dense(2, 16),
        nb.layers.BatchNorm(16),
        nb.layers.ReLU(),
        nb.layers.Dropout(0.1),
        nb.layers.Dense(16, 2),
    )
    trainer = nb.Trainer(
        model,
        "SoftmaxCrossEntropy",
        nb.optimizers.AdamW(lr=0.01, transforms=[nb.transforms.ClipByGlobalNorm(1.0)]),
        metrics=["accuracy"],
        backend=backend,
        seed=3,
        **kwargs,
    )
    history = trainer.fit(x, y, epochs=4, batch_size=32, validation_split=0.25)
    return trainer, history


def test_fit_on_the_strict_backend_matches_numpy_exactly() -> None:
    cpu_trainer, cpu_history = _fit("numpy")
    dev_trainer, dev_history = _fit("strict")
    assert dev_trainer.backend.name == "strict"
    assert dev_history == cpu_history
    for name, param in dev_trainer.model.named_parameters().items():
        assert isinstance(param.value, strict.StrictArray)
        np.testing.assert_array_equal(
            dev_trainer.backend.to_host(param.value),
            cpu_trainer.model.named_parameters()[name].value,
        )
    slots = dev_trainer.optimizer.state_dict()["slots"]
    assert all(isinstance(v, np.ndarray) for s in slots.values() for v in s.values())
    x, _ = nb.datasets.two_moons(8, seed=9)
    np.testing.assert_array_equal(dev_trainer.predict(x), cpu_trainer.predict(x))


def test_the_environment_variable_moves_the_whole_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUROBACK_BACKEND", "strict")
    trainer, _ = _fit(None)
    assert trainer.backend.name == "strict"
    assert isinstance(trainer.model[0].W.value, strict.StrictArray)


def test_loss_and_metrics_reach_the_host_only_at_logging_steps_and_epoch_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[tuple[int, ...]] = []
    original = strict.StrictBackend.to_host

    def counting_to_host(self: Any, array: Any) -> np.ndarray:
        reads.append(tuple(array.shape))
        return original(self, array)

    monkeypatch.setattr(strict.StrictBackend, "to_host", counting_to_host)
    # Reading a device value into Python (int(), float(), bool(), .item()) is a sync too.
    for method in ("__int__", "__float__", "__bool__", "__index__"):
        original_method = getattr(strict.StrictArray, method)

        def counting(self: Any, *args: Any, _f: Any = original_method) -> Any:
            reads.append((-1,))
            return _f(self, *args)

        monkeypatch.setattr(strict.StrictArray, method, counting)
    original_getattr = strict.StrictArray.__getattr__

    def counting_getattr(self: Any, name: str) -> Any:
        if name in ("item", "tolist", "get"):
            reads.append((-1,))
        return original_getattr(self, name)

    monkeypatch.setattr(strict.StrictArray, "__getattr__", counting_getattr)
    x, y = nb.datasets.two_moons(640, seed=1)
    nb.seed(0)
    model = nb.Sequential(nb.layers.Dense(2, 8), nb.layers.ReLU(), nb.layers.Dense(8, 2))
    trainer = nb.Trainer(
        model,
        "SoftmaxCrossEntropy",
        "SGD",
        metrics=["accuracy"],
        backend="strict",
        log_every_n_steps=1000,
    )
    reads.clear()
    trainer.fit(x, y, epochs=3, batch_size=16)  # 40 steps per epoch, 120 in all
    # per epoch: one read of the loss, the metric and the count of skipped updates together
    assert reads == [(3,)] * 3  # and nothing per batch (120 batches), not even int() or bool()


def test_the_epoch_sums_are_float64_products_on_the_host_and_on_a_device() -> None:
    """The loss sums are Python floats on the host and 0-d float64 arrays on a device; on
    both, each batch adds its float32 mean times its size formed in float64, so the means
    are the same bits, and equal to that sum written out in Python."""
    from neuroback.training.totals import Totals

    rng = np.random.default_rng(0)
    sizes = [32] * 8 + [7]
    batches = [(np.float32(v), n) for v, n in zip(rng.uniform(0, 3, 9), sizes, strict=True)]
    means = {}
    for name in ("numpy", "strict"):
        backend = nb.get_backend(name)
        totals = Totals(backend, {})
        for value, n in batches:
            totals.add(backend.asarray(np.asarray(value)), None, None, n)
        means[name] = totals.means()[0]["loss"]
    expected = 0.0
    for value, n in batches:
        expected += float(value) * n
    expected /= sum(n for _, n in batches)
    assert means["numpy"] == means["strict"] == expected


def test_fit_probes_the_model_once_for_its_output_shape_and_the_loss() -> None:
    """Before the first update fit runs the model once on two samples: the probe that
    finds the output shape also feeds the loss's probe."""

    class CountingIdentity(nb.Layer):
        calls = 0

        def forward(self, x: Any, *, train: bool, rng: Any = None) -> Any:
            if not train:
                CountingIdentity.calls += 1
            return x, lambda dy, *, input_grad=True: dy

        def config(self) -> dict[str, Any]:
            return {}

    x, y = nb.datasets.two_moons(64, seed=1)
    model = nb.Sequential(CountingIdentity(), nb.layers.Dense(2, 2, rng=0))
    trainer = nb.Trainer(model, "SoftmaxCrossEntropy", nb.optimizers.SGD(lr=0.1), seed=0)
    trainer.fit(x, y, epochs=1, batch_size=16)
    assert CountingIdentity.calls == 1


def test_a_rejected_target_check_keeps_no_probe_alive() -> None:
    """The output-shape probe (the whole converted array and a prediction) is let go
    when the loss refuses the targets, not kept on the intake."""
    model = nb.Sequential(nb.layers.Dense(2, 3, rng=0))
    trainer = nb.Trainer(model, "SoftmaxCrossEntropy", nb.optimizers.SGD(lr=0.1), seed=0)
    intake = trainer._intake()
    x = np.ones((4, 2), np.float32)
    with pytest.raises(nb.errors.NeurobackError):
        intake.arrays(x, np.full(4, 7), "training data")  # class 7 of 3 outputs
    assert intake._probe is None


def test_device_epoch_sums_take_a_python_float_metric() -> None:
    """On a device a metric may return a Python number, summed as a float64 there."""
    from neuroback.training.totals import Totals

    backend = nb.get_backend("strict")
    value = backend.asarray(np.float32(0.5))
    totals = Totals(backend, {"half": lambda pred, target: 0.5})
    totals.add(value, None, None, 4)
    totals.add(value, None, None, 2)
    assert totals.means()[0] == {"loss": 0.5, "half": 0.5}
