"""3-D and 4-D activations: Dropout, GradientFlowMonitor's per-layer statistics, and the
output shapes of Layer.summary(input_shape=...)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.testing import check_layer

# -- Dropout ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 3, 5), (3, 2, 4, 5)], ids=["3-D", "4-D"])
def test_dropout_passes_the_kit_on_3d_and_4d_input(shape: tuple[int, ...], nb_backend: Any) -> None:
    check_layer(nb.layers.Dropout(0.3), np.random.default_rng(0).normal(size=shape))


@pytest.mark.parametrize("shape", [(64, 3, 20), (16, 4, 10, 10)], ids=["3-D", "4-D"])
def test_dropout_drops_single_elements_of_nd_input(shape: tuple[int, ...]) -> None:
    p = 0.25
    x = np.random.default_rng(1).uniform(1.0, 2.0, size=shape)  # never 0 by itself
    layer = nb.layers.Dropout(p)
    y, backward = layer.forward(x, train=True, rng=nb.get_backend().generator(2))
    kept = y != 0
    assert y.shape == shape
    np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=1e-15)
    n = kept.size
    assert abs((1 - kept.mean()) - p) < 5 * math.sqrt(p * (1 - p) / n)  # 5 sigma
    # element-wise, not whole channels: every channel keeps some and drops some
    per_channel = kept.swapaxes(0, 1).reshape(shape[1], -1).mean(axis=1)
    assert ((per_channel > 0) & (per_channel < 1)).all()
    dy = np.random.default_rng(3).normal(size=shape)
    np.testing.assert_allclose(backward(dy), np.where(kept, dy / (1 - p), 0.0), rtol=1e-15)
    np.testing.assert_array_equal(layer(x), x)  # inference: identity


# -- GradientFlowMonitor on 4-D activations -------------------------------------------------


class _PositionScale(nb.Layer):
    """Test-only: y[n, c, h, w] = s[c, h, w] * x[n, c, h, w]; a 3-D parameter."""

    feature_axis = 1

    def __init__(self, shape: tuple[int, int, int] = (3, 4, 4), dtype: str = "float32") -> None:
        super().__init__()
        self.shape, self.dtype = tuple(shape), dtype
        rng = np.random.default_rng(0)
        self.s = self.add_parameter("s", rng.uniform(0.5, 1.5, size=self.shape).astype(dtype))

    def forward(self, x: Any, *, train: bool, rng: Any = None) -> Any:
        self.check_input(x, ndim=4, features=self.shape[0], dtype=self.s.dtype)
        s = self.s.value

        def backward(dy: Any, *, input_grad: bool = True) -> Any:
            self.check_gradient(dy, y)
            self.s.accumulate((dy * x).sum(axis=0))
            return dy * s if input_grad else None

        y = x * s
        return y, backward

    def config(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "dtype": self.dtype}


class _GradientTap(nb.Callback):
    """Keeps a host copy of every gradient just before each optimizer step."""

    def __init__(self) -> None:
        self.grads: list[dict[str, np.ndarray]] = []

    def on_before_optimizer_step(self, trainer: Any) -> None:
        self.grads.append(
            {k: np.array(p.grad, copy=True) for k, p in trainer.model.named_parameters().items()}
        )


def _image_model() -> nb.Sequential:
    """(N, 3, 4, 4) -> scale -> BatchNorm -> ReLU -> BatchNorm -> Tanh -> Flatten -> Dense."""
    nb.seed(0)
    model = nb.Sequential(
        _PositionScale((3, 4, 4)),
        nb.layers.BatchNorm(3),
        nb.layers.ReLU(),
        nb.layers.BatchNorm(3),
        nb.layers.Tanh(),
        nb.layers.Flatten(),
        nb.layers.Dense(48, 2),
    )
    # channel 0 is a dead filter: gamma 0, beta -1 after the first BatchNorm, so the ReLU
    # outputs 0 there for every sample and position (and no gradient revives it)
    model[1].gamma.value[0] = 0.0
    model[1].beta.value[0] = -1.0
    # channel 2 of the Tanh saturates: a large gamma after the second BatchNorm
    model[3].gamma.value[2] = 50.0
    return model


def _eval_batchnorm(bn: nb.layers.BatchNorm, x: np.ndarray) -> np.ndarray:
    """Inference BatchNorm on (N, C, H, W), written out per channel (independent of the layer)."""
    out = np.empty_like(x, dtype=np.float64)
    for c in range(x.shape[1]):
        mean, var = bn.state("running_mean")[c], bn.state("running_var")[c]
        out[:, c] = (x[:, c] - mean) / np.sqrt(var + bn.eps) * bn.gamma.value[c] + bn.beta.value[c]
    return out


def test_gradient_flow_monitor_measures_4d_activations_during_a_fit() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 3, 4, 4)).astype(np.float32)
    x[:, 1, 0, 0] = -5.0  # one position of a live channel is dead for every sample
    y = rng.integers(0, 2, size=48)
    model = _image_model()
    monitor = nb.callbacks.GradientFlowMonitor(every_n_steps=1, warn=False)
    tap = _GradientTap()
    trainer = nb.Trainer(
        model, "SoftmaxCrossEntropy", nb.optimizers.SGD(lr=0.05), callbacks=[tap, monitor], seed=0
    )
    trainer.fit(x, y, epochs=1, batch_size=16)  # three steps, each sampled

    last = max(r["step"] for r in monitor.records)
    rows = {r["layer"]: r for r in monitor.records if r["step"] == last}
    assert set(rows) == {"0", "1", "2", "3", "4", "6"}  # parameters and activations

    # Gradient statistics of a layer whose parameter is 3-D: over every element.
    g = tap.grads[-1]["0.s"].astype(np.float64)
    assert rows["0"]["grad_norm"] == pytest.approx(np.linalg.norm(g), rel=1e-6)
    assert rows["0"]["grad_rms"] == pytest.approx(np.linalg.norm(g) / math.sqrt(g.size), rel=1e-6)
    assert rows["0"]["weight_norm"] > 0 and math.isfinite(rows["0"]["update_ratio"])

    # Activation statistics, recomputed here from the last batch and the final weights.
    xb = np.asarray(trainer.last_batch[0], dtype=np.float64)
    relu = np.maximum(_eval_batchnorm(model[1], xb * model[0].s.value), 0.0)
    tanh = np.tanh(_eval_batchnorm(model[3], relu))
    units = 3 * 4 * 4  # a unit is one channel at one position
    dead = 1.0 - (relu > 0).any(axis=0).sum() / units
    saturated = (np.abs(tanh) > 0.99).mean()
    assert rows["2"]["dead_fraction"] == pytest.approx(dead, abs=1e-12)
    # all 16 positions of the dead channel, and the one dead position of channel 1
    assert rows["2"]["dead_fraction"] >= 17 / units - 1e-12
    assert rows["4"]["saturated_fraction"] == pytest.approx(saturated, abs=1e-12)
    assert rows["4"]["saturated_fraction"] > 0.2  # channel 2 saturates almost everywhere
    assert "dead" in monitor.summary()


def test_gradient_flow_monitor_on_4d_activations_on_the_strict_backend() -> None:
    """The activation statistics run on the backend: no array reaches NumPy implicitly."""
    import neuroback.testing.strict  # noqa: F401  (registers the "strict" backend)

    rng = np.random.default_rng(1)
    x = rng.normal(size=(32, 3, 4, 4)).astype(np.float32)
    y = rng.integers(0, 2, size=32)
    monitor = nb.callbacks.GradientFlowMonitor(every_n_steps=1, warn=False)
    trainer = nb.Trainer(
        _image_model(),
        "SoftmaxCrossEntropy",
        nb.optimizers.SGD(lr=0.05),
        callbacks=[monitor],
        backend="strict",
        seed=0,
    )
    trainer.fit(x, y, epochs=1, batch_size=16)
    relu = [r for r in monitor.records if r["layer"] == "2"]
    assert len(relu) == 2 and all(r["dead_fraction"] >= 16 / 48 - 1e-12 for r in relu)
    assert all(isinstance(r["dead_fraction"], float) for r in relu)


# -- summary(input_shape=...) ---------------------------------------------------------------


def _output_column(table: str) -> dict[str, str]:
    """{row name: output shape cell} read from a summary table."""
    lines = table.splitlines()
    start = lines[0].index("output shape")
    width = len(lines[1].split("  ")[2])  # the dashes under the column
    return {line.split()[0]: line[start : start + width].strip() for line in lines[2:-1]}


def test_summary_shows_output_shapes_for_4d_input() -> None:
    model = nb.Sequential(
        nb.layers.BatchNorm(1), nb.layers.Flatten(), nb.layers.Dense(64, 10), nb.layers.ReLU()
    )
    table = model.summary(input_shape=(1, 8, 8))
    assert table.splitlines()[0].split() == ["name", "layer", "output", "shape", "params"]
    assert _output_column(table) == {
        "0": "(-1, 1, 8, 8)",
        "1": "(-1, 64)",
        "2": "(-1, 10)",
        "3": "(-1, 10)",
    }
    assert table.splitlines()[-1] == model.summary().splitlines()[-1]  # the same totals


def test_summary_sees_inside_nested_containers() -> None:
    block = nb.Sequential(nb.layers.Dense(6, 6), nb.layers.Tanh())
    model = nb.Sequential(nb.layers.Dense(4, 6), nb.layers.Residual(block), nb.layers.Dense(6, 2))
    shapes = _output_column(model.summary(input_shape=(5, 4)))  # Dense on (N, 5, 4)
    assert shapes == {
        "0": "(-1, 5, 6)",
        "1.block.0": "(-1, 5, 6)",
        "1.block.1": "(-1, 5, 6)",
        "2": "(-1, 5, 2)",
    }


def test_summary_of_a_single_layer_and_an_int_shape() -> None:
    table = nb.layers.Dense(4, 3).summary(input_shape=4)
    assert _output_column(table) == {"Dense": "(-1, 3)"}


def test_summary_without_input_shape_is_unchanged() -> None:
    model = nb.Sequential(nb.layers.Dense(2, 3), nb.layers.ReLU())
    assert "output shape" not in model.summary()
    assert model.summary().splitlines()[0].split() == ["name", "layer", "params"]


def test_summary_runs_in_inference_and_leaves_the_state_alone() -> None:
    model = nb.Sequential(nb.layers.BatchNorm(2, dtype="float64"), nb.layers.Dropout(0.5))
    before = model.state_dict()
    assert _output_column(model.summary(input_shape=(2, 3, 3))) == {
        "0": "(-1, 2, 3, 3)",
        "1": "(-1, 2, 3, 3)",
    }
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_summary_propagates_the_rejecting_layers_error() -> None:
    model = nb.Sequential(nb.layers.BatchNorm(3), nb.layers.Flatten(), nb.layers.Dense(12, 2))
    with pytest.raises(nb.errors.ShapeError, match=r"BatchNorm\(num_features=3.*axis 1"):
        model.summary(input_shape=(2, 2, 2))
    with pytest.raises(nb.errors.ShapeError, match=r"Dense\(in_features=12.*got input of shape"):
        model.summary(input_shape=(3, 2, 3))  # flattens to 18 features


@pytest.mark.parametrize("bad", [(1, -8), (0, 3), "1, 8, 8", (2.0, 3), 3.0, (True,)])
def test_summary_rejects_a_malformed_input_shape(bad: Any) -> None:
    with pytest.raises(TypeError, match=r"Sequential.summary\(input_shape=...\) takes the shape"):
        nb.Sequential(nb.layers.Dense(2, 3)).summary(input_shape=bad)


# -- ReLU's NumPy fast path ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "shape", [(64, 32, 8, 8), (3, 5000), (9, 1023), (7,)], ids=["4-D", "rows", "odd", "small"]
)
def test_relu_equals_maximum_with_zero_bit_for_bit(shape: tuple[int, ...], dtype: str) -> None:
    """Large contiguous NumPy input goes through rows compared with a row of zeros (faster
    than a scalar 0 on NumPy): the result is maximum(x, 0) exactly, NaN, infinities and -0.0
    included, and for non-contiguous input too."""
    x = np.random.default_rng(0).normal(size=shape).astype(dtype)
    flat = x.reshape(-1)
    flat[::7], flat[::11], flat[::13], flat[::17] = np.nan, -np.inf, np.inf, -0.0
    relu = nb.layers.ReLU()
    for given in (x, x.T, x[::2]):
        y, want = relu(given), np.maximum(given, 0)
        assert y.dtype == want.dtype and y.shape == want.shape
        np.testing.assert_array_equal(y, want)  # NaN where NaN
        np.testing.assert_array_equal(np.signbit(y), np.signbit(want))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dense_with_relu_equals_maximum_with_zero_on_a_large_batch(dtype: str) -> None:
    x = np.random.default_rng(1).normal(size=(1000, 16)).astype(dtype)
    dense = nb.layers.Dense(16, 65, activation="relu", dtype=dtype, rng=0)  # 65,000 outputs
    want = np.maximum(x @ dense.W.value + dense.b.value, 0)
    np.testing.assert_array_equal(dense(x), want)


@pytest.mark.parametrize("size", [0, 7, 4096, (1 << 15) + 3, 3 << 15, 1 << 19])
def test_relu_matches_maximum_with_zero_bit_for_bit_at_every_size(size: int) -> None:
    """ReLU compares with a shared read-only array of zeros, chunk by chunk past its
    length: NaN kept, the sign of a zero as ``maximum(x, 0)`` gives it, the zeros never
    written and never longer than their cap."""
    from neuroback_builtins import activations

    rng = np.random.default_rng(size)
    x = rng.normal(size=size).astype(np.float32)
    x[::11] = np.nan
    x[1::13] = -0.0
    y = nb.layers.ReLU()(x.reshape(1, -1)).reshape(-1)
    expected = np.maximum(x, 0)
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(np.signbit(y), np.signbit(expected))
    zeros = activations._ZEROS[np.dtype(np.float32)]
    assert zeros.size <= activations._ZEROS_MAX and not zeros.any()
    assert not zeros.flags.writeable


def test_relu_remembers_a_bounded_number_of_shapes_of_read_only_zeros() -> None:
    """The zeros ReLU compares with are kept per shape (no reshape per call), at most
    ``_ZEROS_SHAPES_MAX`` of them, each read-only and zero; every result stays exact."""
    from neuroback_builtins import activations

    relu = nb.layers.ReLU()
    rng = np.random.default_rng(5)
    for rows in range(1, activations._ZEROS_SHAPES_MAX + 40):
        x = rng.normal(size=(rows, 3)).astype(np.float32)
        np.testing.assert_array_equal(relu(x), np.maximum(x, 0))
        assert len(activations._ZEROS_BY_SHAPE) <= activations._ZEROS_SHAPES_MAX
    for (shape, dtype), zeros in activations._ZEROS_BY_SHAPE.items():
        assert zeros.shape == shape and zeros.dtype == dtype
        assert not zeros.flags.writeable and not zeros.any()
