"""nb-example-plugin under neuroback's conformance kit (gradients against finite
differences, each kind's contract, config round trips, on every backend the run asks for
with --nb-backends), and each component against the math in its docstring."""

import math

import numpy as np
import pytest
from nb_example_plugin.callbacks import WeightNormHistory
from nb_example_plugin.layers import Swish
from nb_example_plugin.optimizers import Lion, lion_step
from nb_example_plugin.schedules import InverseSqrt

import neuroback as nb

COMPONENTS = [Swish, Lion, InverseSqrt, WeightNormHistory]


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_it_passes_the_kit(component, nb_backend):
    with nb.use_backend(nb_backend):
        nb.testing.check_component(component)


def test_lions_kernel_passes_the_kit(nb_backend):
    """The reference runs on every backend; on CuPy the fused kernel must agree with it."""
    nb.testing.check_kernel(lion_step, backend=nb_backend)


def test_everything_is_registered_under_the_distribution():
    assert nb.layers.get("nb-example-plugin:Swish") is Swish
    assert nb.optimizers.get("nb-example-plugin:Lion") is Lion
    assert nb.schedules.get("nb-example-plugin:InverseSqrt") is InverseSqrt
    assert nb.callbacks.get("nb-example-plugin:WeightNormHistory") is WeightNormHistory


def test_lion_follows_the_paper_step_by_step():
    rng = np.random.default_rng(0)
    start, grads = rng.normal(size=(3, 4)), rng.normal(size=(5, 3, 4))
    w = nb.Parameter(start.copy(), name="w", backend=nb.get_backend("numpy"))
    opt = Lion(lr=0.1, beta1=0.8, beta2=0.95, weight_decay=0.3).bind({"w": w})
    theta, m = start.copy(), np.zeros_like(start)
    for g in grads:
        w.grad[...] = g
        opt.step()
        c = 0.8 * m + 0.2 * g
        theta = theta - 0.1 * (np.sign(c) + 0.3 * theta)
        m = 0.95 * m + 0.05 * g
        np.testing.assert_allclose(w.value, theta, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(opt.state_dict()["slots"]["w"]["exp_avg"], m, rtol=1e-14)


def test_inverse_sqrt_climbs_to_one_then_decays_as_one_over_sqrt_t():
    s = InverseSqrt(warmup=4)
    assert [s(t) for t in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert s(15) == pytest.approx(0.5)  # sqrt(4 / 16)
    assert s(99) == pytest.approx(math.sqrt(4 / 100))
    with pytest.raises(ValueError, match="warmup"):
        InverseSqrt(warmup=0)


def test_weight_norm_history_records_each_parameter_and_resumes():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 3))
    y = (x.sum(axis=1, keepdims=True) > 0).astype(float)
    model = nb.Sequential([nb.layers.Dense(3, 4, rng=0), Swish(4), nb.layers.Dense(4, 1, rng=1)])
    history = WeightNormHistory()
    trainer = nb.Trainer(model, nb.losses.MSE(), Lion(lr=0.01), callbacks=[history])
    trainer.fit(x.astype("float32"), y.astype("float32"), epochs=3, batch_size=16)
    assert [e["epoch"] for e in history.history] == [0, 1, 2]
    last = history.history[-1]["norms"]
    assert set(last) == set(model.named_parameters())
    for name, p in model.named_parameters().items():
        assert last[name] == pytest.approx(float(np.linalg.norm(p.value)), rel=1e-6)
    again = WeightNormHistory()
    again.load_state_dict(history.state_dict())
    assert again.history == history.history
    with pytest.raises(ValueError, match="what state_dict"):
        again.load_state_dict({"history": [{"epoch": 0}]})
