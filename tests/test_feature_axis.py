"""A layer declares which input axis holds its features; the input check and the kit use it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.testing import ConformanceError, check_layer


class _ChannelScale(nb.Layer):
    """y[n, c, ...] = s[c] * x[n, c, ...]: features on axis 1, as in (N, C, H, W) input."""

    feature_axis = 1

    def __init__(
        self, channels: int = 3, *, dtype: str = "float64", checked_axis: int | None = None
    ) -> None:
        super().__init__()
        self.channels, self.dtype = channels, dtype
        self._checked_axis = checked_axis  # a deliberately wrong check, for the kit test
        rng = np.random.default_rng(0)
        self.s = self.add_parameter("s", rng.uniform(0.5, 1.5, size=channels).astype(dtype))

    def forward(self, x: Any, *, train: bool, rng: Any = None) -> Any:
        if self._checked_axis is None:
            self.check_input(x, ndim=(3, 4), features=self.channels, dtype=self.s.dtype)
        else:
            self.check_input(x)
            if x.shape[self._checked_axis] != self.channels:
                raise nb.errors.ShapeError("wrong width")
        shape = (1, -1) + (1,) * (x.ndim - 2)
        s = self.s.value.reshape(shape)

        def backward(dy: Any, *, input_grad: bool = True) -> Any:
            self.check_gradient(dy, y)
            axes = (0, *range(2, dy.ndim))
            self.s.accumulate((dy * x).sum(axis=axes))
            return dy * s

        y = x * s
        return y, backward

    def config(self) -> dict[str, Any]:
        return {"channels": self.channels, "dtype": self.dtype}


def test_the_feature_count_is_checked_on_the_declared_axis() -> None:
    layer = _ChannelScale(3)
    layer(np.ones((2, 3, 5, 7)))  # width 7 is not a feature count: accepted
    with pytest.raises(nb.errors.ShapeError, match=r"expects 3 features on axis 1 \(channels\)"):
        layer(np.ones((2, 4, 5, 3)))


def test_a_wrong_rank_names_the_accepted_layouts() -> None:
    with pytest.raises(nb.errors.ShapeError) as info:
        _ChannelScale(3)(np.ones((2, 3)))
    message = str(info.value)
    assert "(batch, channels, length) or (batch, channels, height, width)" in message
    assert "got shape (2, 3)" in message


def test_dense_still_checks_the_last_axis() -> None:
    dense = nb.layers.Dense(4, 2)
    assert dense.feature_axis == -1
    with pytest.raises(nb.errors.ShapeError, match="expects 4 features on the last axis"):
        dense(np.ones((2, 3), np.float32))


def test_the_kit_passes_a_layer_checking_its_declared_axis() -> None:
    nb.register(_ChannelScale, name="ChannelScaleForFeatureAxisTest")
    check_layer(_ChannelScale(3), np.random.default_rng(1).normal(size=(2, 3, 4, 5)))


def test_the_kit_catches_a_layer_checking_the_wrong_axis() -> None:
    # Checks the last axis although it declares axis 1: a wider channel axis slips through.
    layer = _ChannelScale(3, checked_axis=-1)
    with pytest.raises(ConformanceError, match="a wrong feature count is rejected"):
        check_layer(layer, np.random.default_rng(1).normal(size=(2, 3, 4, 3)))
