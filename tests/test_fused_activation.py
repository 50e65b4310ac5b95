"""Dense(activation=...): the activation fused into the layer gives the numbers of Dense
followed by the activation's own layer, bit for bit, passes the layer contract, and
round-trips through its config."""

from __future__ import annotations

import numpy as np
import pytest

import neuroback as nb
from neuroback.testing import check_layer

ACTIVATIONS = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh"}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_fused_equals_dense_then_activation_bit_for_bit(activation, dtype, nb_backend) -> None:
    with nb.use_backend(nb_backend):
        backend = nb.get_backend()
        rng = np.random.default_rng(0)
        x = backend.asarray(3 * rng.normal(size=(6, 4)).astype(dtype))
        dy = backend.asarray(rng.normal(size=(6, 3)).astype(dtype))
        fused = nb.layers.Dense(4, 3, activation=activation, dtype=dtype, rng=0)
        plain = nb.Sequential(
            [nb.layers.Dense(4, 3, dtype=dtype, rng=0), nb.layers.get(ACTIVATIONS[activation])()]
        )
        y_fused, back_fused = fused.forward(x, train=True)
        y_plain, back_plain = plain.forward(x, train=True)
        dx_fused, dx_plain = back_fused(dy), back_plain(dy)
        host = backend.to_host
        assert np.array_equal(host(y_fused), host(y_plain))
        assert np.array_equal(host(dx_fused), host(dx_plain))
        for name in ("W", "b"):
            assert np.array_equal(
                host(getattr(fused, name).grad), host(getattr(plain[0], name).grad)
            )


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_fused_dense_passes_the_layer_contract(activation, nb_backend) -> None:
    # inputs kept away from ReLU's kink, where finite differences are meaningless
    rng = np.random.default_rng(1)
    x = rng.uniform(0.2, 1.0, size=(5, 4)) * rng.choice([-1.0, 1.0], size=(5, 4))
    with nb.use_backend(nb_backend):
        layer = nb.layers.Dense(4, 3, activation=activation, dtype="float64", rng=0)
        check_layer(layer, x)


def test_the_activation_is_in_the_config_only_when_set() -> None:
    assert "activation" not in nb.layers.Dense(2, 3).config()
    layer = nb.layers.Dense(2, 3, activation="tanh")
    assert layer.config()["activation"] == "tanh"
    rebuilt = nb.build("layers", nb.to_spec(layer))
    assert rebuilt.activation == "tanh"


def test_an_unknown_activation_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match=r"one of \['relu', 'sigmoid', 'tanh'\] or None.*'gelu'"):
        nb.layers.Dense(2, 3, activation="gelu")
    with pytest.raises(ValueError, match=r"or None, got \['relu'\]"):  # not a TypeError
        nb.layers.Dense(2, 3, activation=["relu"])
