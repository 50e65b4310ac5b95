"""The seed tutorial reproduced: its network, its MSE, its clipping rule and its Adam."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest

import neuroback as nb

SEED = runpy.run_path(str(Path(__file__).resolve().parent.parent / "examples" / "seed_network.py"))


def test_neuroback_gradients_equal_the_hand_written_mse_gradients() -> None:
    x, y = SEED["make_data"]()
    w0 = SEED["initial_weights"]()
    by_hand = SEED["mse_gradients"](x, y, w0)
    ours = SEED["neuroback_gradients"](x, y, SEED["build_model"](w0))
    for name in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(ours[name], by_hand[name], rtol=1e-12, atol=1e-15)


def test_hand_written_gradients_are_the_true_mse_gradients() -> None:
    # Guard the reference itself: compare with central differences of mean((a2 - y)^2).
    x, y = SEED["make_data"](m=8)
    w = SEED["initial_weights"]()
    grads = SEED["mse_gradients"](x, y, w)
    eps = 1e-6
    rng = np.random.default_rng(0)
    for name in ("W1", "b1", "W2", "b2"):
        direction = rng.normal(size=w[name].shape)

        def loss_at(step: float, name: str = name, direction: np.ndarray = direction) -> float:
            moved = {k: v + step * direction if k == name else v for k, v in w.items()}
            return float(np.mean((SEED["forward_pass"](x, moved)[3] - y) ** 2))

        numeric = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
        assert numeric == pytest.approx(float(np.sum(grads[name] * direction)), rel=1e-6)


def test_training_runs_are_identical() -> None:
    x, y = SEED["make_data"]()
    w0 = SEED["initial_weights"]()
    w_hand, hand_losses = SEED["train_by_hand"](x, y, w0, lr=2.0, steps=300)
    model, our_losses = SEED["train_with_neuroback"](x, y, w0, lr=2.0, steps=300)
    np.testing.assert_allclose(our_losses, hand_losses, rtol=1e-12)
    assert our_losses[-1] < our_losses[0] / 10  # and it did learn
    params = model.named_parameters()
    for ours, theirs in (("0.W", "W1"), ("0.b", "b1"), ("2.W", "W2"), ("2.b", "b2")):
        np.testing.assert_allclose(params[ours].value, w_hand[theirs], rtol=1e-10, atol=1e-12)


def test_the_tutorial_shortcut_is_the_cross_entropy_gradient_not_the_mse_one() -> None:
    x, y = SEED["make_data"]()
    w0 = SEED["initial_weights"]()
    shortcut = SEED["tutorial_shortcut_gradients"](x, y, w0)
    true_mse = SEED["mse_gradients"](x, y, w0)
    assert not np.allclose(shortcut["W2"], true_mse["W2"], rtol=0.1)

    # The same network with a linear output and BinaryCrossEntropy on the logits z2
    model = SEED["build_model"](w0)
    logits_model = nb.Sequential(model[0], model[1], model[2])
    logits, backward = logits_model.forward(x, train=True)
    _, dlogits = nb.losses.BinaryCrossEntropy().forward(logits, y)
    backward(dlogits)
    params = logits_model.named_parameters()
    for ours, theirs in (("0.W", "W1"), ("0.b", "b1"), ("2.W", "W2"), ("2.b", "b2")):
        np.testing.assert_allclose(params[ours].grad, shortcut[theirs], rtol=1e-12, atol=1e-15)


def _tutorial_clip_gradients(gradients: list[np.ndarray], max_norm: float = 1.0) -> list:
    """The tutorial's clip_gradients, verbatim in behaviour."""
    total_norm = 0.0
    for grad in gradients:
        total_norm += np.sum(grad**2)
    total_norm = np.sqrt(total_norm)
    clip_coef = max_norm / (total_norm + 1e-6)
    if clip_coef < 1:
        for i, grad in enumerate(gradients):
            gradients[i] = grad * clip_coef
    return gradients


@pytest.mark.parametrize("scale", [0.01, 0.5, 10.0])
def test_global_norm_clipping_is_the_tutorial_rule(scale: float) -> None:
    rng = np.random.default_rng(1)
    grads = [scale * rng.normal(size=(4, 3)), scale * rng.normal(size=(3,))]
    expected = _tutorial_clip_gradients([g.copy() for g in grads], max_norm=1.0)
    clip = nb.transforms.ClipByGlobalNorm(1.0)
    numpy = nb.get_backend("numpy")
    out, state = clip.update(
        {"a": grads[0].copy(), "b": grads[1].copy()},
        clip.init({}, backend=numpy),
        {},
        backend=numpy,
    )
    np.testing.assert_allclose(out["a"], expected[0], rtol=1e-14)
    np.testing.assert_allclose(out["b"], expected[1], rtol=1e-14)
    true_norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    assert float(state.global_norm) == pytest.approx(true_norm, rel=1e-14)


class _TutorialAdam:
    """The tutorial's AdamOptimizer, as printed."""

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999):
        self.lr, self.beta1, self.beta2 = learning_rate, beta1, beta2
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}
        self.t = 0

    def update(self, params: dict[str, np.ndarray], gradients: dict[str, np.ndarray]) -> None:
        self.t += 1
        for key in params:
            if key not in self.m:
                self.m[key] = np.zeros_like(params[key])
                self.v[key] = np.zeros_like(params[key])
            self.m[key] = self.beta1 * self.m[key] + (1 - self.beta1) * gradients[key]
            self.v[key] = self.beta2 * self.v[key] + (1 - self.beta2) * gradients[key] ** 2
            m_hat = self.m[key] / (1 - self.beta1**self.t)
            v_hat = self.v[key] / (1 - self.beta2**self.t)
            params[key] -= self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)


def test_adam_is_the_tutorial_adam() -> None:
    x, y = SEED["make_data"]()
    w = SEED["initial_weights"]()
    model = SEED["build_model"](w)
    optimizer = nb.optimizers.Adam(lr=0.01).bind(model)
    reference = _TutorialAdam(learning_rate=0.01)
    names = {"0.W": "W1", "0.b": "b1", "2.W": "W2", "2.b": "b2"}
    for _ in range(100):
        grads = SEED["mse_gradients"](x, y, w)
        reference.update(w, grads)
        SEED["neuroback_gradients"](x, y, model)
        optimizer.step()
    for ours, theirs in names.items():
        np.testing.assert_allclose(
            model.named_parameters()[ours].value, w[theirs], rtol=1e-9, atol=1e-12
        )


def test_seed_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    SEED["main"](steps=50)
    out = capsys.readouterr().out
    assert "largest weight difference after 50 steps" in out
    assert "binary cross-entropy" in out
