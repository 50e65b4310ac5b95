"""GradientFlowMonitor flags vanishing gradients in deep sigmoid stacks, not in ReLU+BatchNorm
or Residual versions of the same network, and flags exploding gradients."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import neuroback as nb
from neuroback_builtins.callbacks import GradientFlowWarning

DEPTH, WIDTH = 10, 32


def _deep(kind: str, seed: int) -> nb.Sequential:
    """A 10-hidden-layer network on 2-D input; ``kind`` picks the variant."""
    nb.seed(seed)
    layers: list[nb.Layer] = []
    n_in = 2
    for i in range(DEPTH):
        if kind == "residual" and i > 0:
            block = nb.Sequential(nb.layers.Dense(WIDTH, WIDTH, init="xavier"), nb.layers.Sigmoid())
            layers.append(nb.layers.Residual(block))
            continue
        if kind in ("relu+batchnorm", "exploding"):
            dense = nb.layers.Dense(n_in, WIDTH, init="he")
            if kind == "exploding":
                dense.W.value[...] *= 3.0  # each layer amplifies: 3x the He scale
            layers += [dense] + ([nb.layers.BatchNorm(WIDTH)] if kind != "exploding" else [])
            layers.append(nb.layers.ReLU())
        else:  # "sigmoid" and the first layer of "residual"
            layers += [nb.layers.Dense(n_in, WIDTH, init="xavier"), nb.layers.Sigmoid()]
        n_in = WIDTH
    layers.append(nb.layers.Dense(n_in, 2))
    return nb.Sequential(*layers)


def _monitor_run(
    kind: str, seed: int, **monitor_options: object
) -> nb.callbacks.GradientFlowMonitor:
    x, y = nb.datasets.two_spirals(256, seed=seed)
    monitor = nb.callbacks.GradientFlowMonitor(every_n_steps=4, warn=False, **monitor_options)
    trainer = nb.Trainer(
        _deep(kind, seed),
        "SoftmaxCrossEntropy",
        nb.optimizers.SGD(lr=0.01),
        callbacks=[monitor],
        seed=seed,
    )
    # An exploding network overflows float32 on purpose; that is what is being detected.
    with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", nb.training.NonFiniteLossWarning)
        warnings.simplefilter("ignore", nb.training.NonFiniteUpdateWarning)
        trainer.fit(x, y, epochs=1, batch_size=32)
    return monitor


SEEDS = [0, 1, 2]


@pytest.mark.parametrize("seed", SEEDS)
def test_vanishing_gradients_are_flagged_in_a_deep_sigmoid_network(seed: int) -> None:
    monitor = _monitor_run("sigmoid", seed)
    flagged = monitor.flagged("vanishing")
    assert "0" in flagged  # the first Dense layer, nearest the input
    assert len(flagged) >= 3
    assert "20" not in flagged  # the output layer learns fine
    assert monitor.flagged("exploding") == []


@pytest.mark.parametrize("kind", ["relu+batchnorm", "residual"])
@pytest.mark.parametrize("seed", SEEDS)
def test_the_remedies_are_not_flagged(kind: str, seed: int) -> None:
    monitor = _monitor_run(kind, seed)
    assert monitor.flagged("vanishing") == []
    assert monitor.flagged("exploding") == []
    assert monitor.records  # it did sample


@pytest.mark.parametrize("seed", SEEDS)
def test_exploding_gradients_are_flagged(seed: int) -> None:
    monitor = _monitor_run("exploding", seed)
    assert "0" in monitor.flagged("exploding")
    assert monitor.flagged("vanishing") == []


def test_records_hold_the_documented_statistics() -> None:
    monitor = _monitor_run("relu+batchnorm", 0)
    steps = sorted({r["step"] for r in monitor.records})
    assert steps == [0, 4]  # 8 steps in the epoch, sampled every 4
    first_dense = next(r for r in monitor.records if r["layer"] == "0" and r["step"] == 0)
    for key in ("grad_norm", "weight_norm", "grad_rms", "relative_grad", "update_ratio"):
        assert np.isfinite(first_dense[key]) and first_dense[key] > 0, key
    # SGD with lr 0.01: the applied update is exactly lr * |g|
    assert first_dense["update_ratio"] == pytest.approx(
        0.01 * first_dense["grad_norm"] / first_dense["weight_norm"], rel=1e-4
    )
    relu = next(r for r in monitor.records if r["layer"] == "2")  # Dense, BatchNorm, ReLU
    assert 0.0 <= relu["dead_fraction"] <= 1.0
    assert "layer" in monitor.summary() and "grad_rms" in monitor.summary()


def test_dead_relu_units_and_saturated_sigmoids_are_measured() -> None:
    nb.seed(0)
    dense = nb.layers.Dense(2, 4)
    dense.W.assign(np.array([[1.0, -1.0, 5.0, 0.0], [1.0, -1.0, 5.0, 0.0]]))
    dense.b.assign(np.array([0.0, -10.0, 0.0, -1.0]))  # units 1 and 3 never fire on x >= 0
    model = nb.Sequential(dense, nb.layers.ReLU(), nb.layers.Dense(4, 2), nb.layers.Sigmoid())
    monitor = nb.callbacks.GradientFlowMonitor(every_n_steps=1, warn=False)
    x = np.abs(np.random.default_rng(0).normal(size=(32, 2))).astype(np.float32) + 0.5
    y = np.ones((32, 2), np.float32)
    nb.Trainer(model, "MSE", nb.optimizers.SGD(lr=0.0), callbacks=[monitor]).fit(x, y, epochs=1)
    relu = next(r for r in monitor.records if r["layer"] == "1")
    assert relu["dead_fraction"] == pytest.approx(0.5)
    assert "saturated_fraction" in next(r for r in monitor.records if r["layer"] == "3")


def test_flags_warn_once_per_layer_and_kind() -> None:
    x, y = nb.datasets.two_spirals(256, seed=0)
    monitor = nb.callbacks.GradientFlowMonitor(every_n_steps=2)
    trainer = nb.Trainer(
        _deep("sigmoid", 0), "SoftmaxCrossEntropy", nb.optimizers.SGD(lr=0.01), callbacks=[monitor]
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(x, y, epochs=1, batch_size=32)
    messages = [str(w.message) for w in caught if issubclass(w.category, GradientFlowWarning)]
    assert any(m.startswith("Gradients are vanishing in layer '0'") for m in messages)
    assert "Consider ReLU, BatchNorm or Residual blocks" in messages[0]
    assert len(messages) == len(monitor.flagged("vanishing"))  # once per layer, not per step
    assert len(monitor.flags) > len(messages)
    # each names the user's fit call, not a line inside neuroback
    assert {w.filename for w in caught if issubclass(w.category, GradientFlowWarning)} == {__file__}


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the plot needs the examples extra (matplotlib)")
    path = tmp_path / "flow.png"
    monitor = _monitor_run("sigmoid", 0, plot_path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5000
    assert not list(tmp_path.glob("*.tmp"))
    again = monitor.plot(tmp_path / "again.png")
    assert again.exists()


def test_monitor_argument_errors() -> None:
    with pytest.raises(ValueError, match="every_n_steps must be a positive integer"):
        nb.callbacks.GradientFlowMonitor(0)
    with pytest.raises(ValueError, match="vanishing_ratio must be a positive number"):
        nb.callbacks.GradientFlowMonitor(vanishing_ratio=-1)
    with pytest.raises(ValueError, match="Nothing to plot yet"):
        nb.callbacks.GradientFlowMonitor().plot("unused.png")


def test_activations_inside_residual_blocks_are_measured() -> None:
    monitor = _monitor_run("residual", 0)
    layers = {r["layer"] for r in monitor.records if "saturated_fraction" in r}
    assert "1" in layers  # the first Sigmoid, directly in the Sequential
    assert "2.block.1" in layers  # the Sigmoid inside the first Residual block
