"""Containers report their children's outputs to an observer passed down the forward call;
GradientFlowMonitor measures activations inside any container, a plugin's included."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.layer import Observer, forward_child, run_backward
from neuroback.testing import ConformanceError, check_layer


class Parallel(nb.Layer):
    """A plugin container: y = f(x) + g(x), with its own child names."""

    def __init__(self, left: nb.Layer, right: nb.Layer) -> None:
        super().__init__(backend=left.backend)
        self.left, self.right = left, right

    def children(self) -> Mapping[str, nb.Layer]:
        return {"left": self.left, "right": self.right}

    def forward(
        self, x: Any, *, train: bool, rng: Any = None, observer: Observer | None = None
    ) -> Any:
        a, back_a = forward_child(
            self.left, x, name="left", train=train, rng=rng, observer=observer
        )
        b, back_b = forward_child(
            self.right, x, name="right", train=train, rng=rng, observer=observer
        )

        def backward(dy: Any, *, input_grad: bool = True) -> Any:
            da = run_backward(back_a, dy, input_grad=input_grad, owner=self.left)
            db = run_backward(back_b, dy, input_grad=input_grad, owner=self.right)
            return da + db if input_grad else None

        return a + b, backward

    def config(self) -> dict[str, Any]:
        return {}


class Blind(Parallel):
    """The same container, but it runs its children without reporting them."""

    def forward(
        self, x: Any, *, train: bool, rng: Any = None, observer: Observer | None = None
    ) -> Any:
        return super().forward(x, train=train, rng=rng, observer=None)


def _model(cls: type = Parallel) -> nb.Sequential:
    nb.seed(0)
    block = cls(
        nb.Sequential(nb.layers.Dense(3, 3, dtype="float64"), nb.layers.ReLU()),
        nb.Sequential(nb.layers.Dense(3, 3, dtype="float64"), nb.layers.Sigmoid()),
    )
    return nb.Sequential(
        nb.layers.Dense(2, 3, dtype="float64"), block, nb.layers.Dense(3, 1, dtype="float64")
    )


def test_observer_sees_every_sub_layer_by_dotted_name() -> None:
    seen: list[str] = []
    _model().forward(
        np.ones((4, 2)), train=False, observer=Observer(lambda name, layer, y: seen.append(name))
    )
    assert seen == [
        "0",
        "1.left.0",
        "1.left.1",
        "1.left",
        "1.right.0",
        "1.right.1",
        "1.right",
        "1",
        "2",
    ]


def test_the_observer_changes_nothing_in_the_result() -> None:
    model = _model()
    x = np.random.default_rng(0).normal(size=(4, 2))
    plain = model(x)
    observed, _ = model.forward(x, train=False, observer=Observer(lambda *a: None))
    np.testing.assert_array_equal(plain, observed)


def test_gradient_flow_monitor_measures_activations_inside_a_plugin_container() -> None:
    model = _model()
    monitor = nb.callbacks.GradientFlowMonitor(every_n_steps=1, warn=False)
    trainer = nb.Trainer(model, "MSE", nb.optimizers.SGD(lr=0.01), callbacks=[monitor], seed=0)
    rng = np.random.default_rng(1)
    trainer.fit(rng.normal(size=(16, 2)), rng.normal(size=(16, 1)), epochs=1, batch_size=8)
    layers = {r["layer"] for r in monitor.records if "dead_fraction" in r}
    saturated = {r["layer"] for r in monitor.records if "saturated_fraction" in r}
    assert layers == {"1.left.1"} and saturated == {"1.right.1"}


def test_the_kit_requires_a_container_to_report_its_children() -> None:
    model = _model(Blind)
    block = model[1]
    with pytest.raises(ConformanceError, match="reports every child"):
        check_layer(block, np.random.default_rng(0).normal(size=(4, 3)))
