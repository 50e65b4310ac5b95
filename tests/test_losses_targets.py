"""Targets the cross-entropy losses accept and refuse, and the float16 / eps refusals.

SoftmaxCrossEntropy takes probability rows (one-hot, soft labels, label smoothing): its
gradient is the general ``(p * t.sum(1) - t) / m``, checked against float64 finite
differences and against PyTorch's ``cross_entropy`` with probability targets. Its
``check_targets`` refuses what is not a probability row, and a one-output model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.errors import ShapeError
from neuroback.testing import check_loss_gradients


def _logits(m: int = 6, classes: int = 4, seed: int = 0) -> np.ndarray:
    return 2 * np.random.default_rng(seed).normal(size=(m, classes))


def _soft(m: int = 6, classes: int = 4, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.ones(classes), size=m)


def _smoothed(labels: np.ndarray, classes: int, a: float) -> np.ndarray:
    return (1 - a) * np.eye(classes)[labels] + a / classes


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


CE = nb.losses.SoftmaxCrossEntropy
BCE = nb.losses.BinaryCrossEntropy


# -- the gradient of -sum t log p, for any target rows -------------------------------------


@pytest.mark.parametrize(
    "targets",
    [
        _soft(),
        _smoothed(np.array([0, 3, 1, 2, 2, 0]), 4, 0.1),
        0.5 * _soft(),  # rows summing to 0.5: refused by check_targets, still exact here
        np.array([[2.0, 0.0, 1.0, 0.0]] * 6),  # rows summing to 3
    ],
    ids=["dirichlet", "label-smoothing", "rows-sum-0.5", "rows-sum-3"],
)
def test_soft_target_gradient_matches_finite_differences(targets: np.ndarray) -> None:
    report = check_loss_gradients(CE(), _logits(), targets, mode="exact")
    assert report.worst < 1e-6


def test_gradient_is_p_times_row_sum_minus_t_not_p_minus_t() -> None:
    # p - t is the gradient only when every row sums to 1. For rows summing to 0.5 it is
    # wrong by p/2 per row: the old gradient fails this test.
    z, t = _logits(), 0.5 * _soft()
    m = z.shape[0]
    with pytest.raises(ShapeError, match=r"row 0 summing to 0\.5"):
        CE().check_targets(t, z.shape)
    value, grad = CE().forward(z, t)
    p = _softmax(z)
    np.testing.assert_allclose(float(value), -(t * np.log(p)).sum() / m, rtol=1e-12)
    np.testing.assert_allclose(grad, (p * t.sum(axis=1, keepdims=True) - t) / m, atol=1e-15)
    assert not np.allclose(grad, (p - t) / m)


def test_probability_rows_equal_labels_when_one_hot() -> None:
    z, labels = _logits(), np.array([0, 3, 1, 2, 2, 0])
    value, grad = CE().forward(z, labels)
    value1, grad1 = CE().forward(z, np.eye(4)[labels])
    assert float(value1) == pytest.approx(float(value), rel=1e-14)
    np.testing.assert_allclose(grad1, grad, atol=1e-16)


def test_soft_targets_in_float32_stay_float32() -> None:
    z, t = _logits().astype(np.float32), _soft().astype(np.float32)
    CE().check_targets(t, z.shape)
    value, grad = CE().forward(z, t)
    assert value.dtype == np.float32 and grad.dtype == np.float32


def test_soft_targets_on_every_backend(nb_backend: Any) -> None:
    # numpy, the strict CPU backend (arrays refuse implicit NumPy conversion, as CuPy's
    # do) and CuPy where a GPU is present: the same value and gradient as on the host.
    z, t = _logits(), 0.5 * _soft()
    loss = CE()
    value, grad = loss.forward(nb_backend.asarray(z), nb_backend.asarray(t))
    host_value, host_grad = CE(backend="numpy").forward(z, t)
    np.testing.assert_allclose(float(nb_backend.to_host(value)), float(host_value), rtol=1e-12)
    np.testing.assert_allclose(nb_backend.to_host(grad), host_grad, rtol=1e-12, atol=1e-15)
    loss.check_targets(nb_backend.asarray(_soft()), z.shape)
    with pytest.raises(ShapeError, match=r"row 0 summing to 0\.5"):
        loss.check_targets(nb_backend.asarray(t), z.shape)
    with pytest.raises(ShapeError, match=r"targets must be in \[0, 1\]"):
        BCE().check_targets(nb_backend.asarray(np.array([[0.0], [5.0]])), (2, 1))


def test_label_smoothing_trains_under_the_trainer() -> None:
    x, y = nb.datasets.two_moons(128, noise=0.1, seed=1)
    nb.seed(0)
    model = nb.Sequential(nb.layers.Dense(2, 16), nb.layers.ReLU(), nb.layers.Dense(16, 2))
    trainer = nb.Trainer(model, "SoftmaxCrossEntropy", nb.optimizers.Adam(lr=0.02), seed=0)
    soft = _smoothed(y, 2, 0.1).astype(np.float32)
    history = trainer.fit(x, soft, epochs=30, batch_size=32)
    assert history["loss"][-1] < history["loss"][0]
    assert (trainer.predict(x).argmax(axis=1) == y).mean() > 0.9
    # The smoothed loss is bounded below by the targets' entropy, not by 0.
    entropy = -(soft * np.log(soft)).sum(axis=1).mean()
    assert history["loss"][-1] > entropy


# -- PyTorch as the oracle ------------------------------------------------------------------


@pytest.mark.oracle
@pytest.mark.parametrize(
    "targets",
    [_soft(), 0.5 * _soft(), np.array([[2.0, 0.0, 1.0, 0.0]] * 6)],
    ids=["probability-rows", "rows-sum-0.5", "rows-sum-3"],
)
def test_soft_targets_match_torch_cross_entropy(targets: np.ndarray, torch: Any) -> None:
    # torch's cross_entropy with class probabilities is -sum t log p averaged over rows,
    # for any non-negative rows: it is the reference for the general gradient too.
    z = _logits()
    value, grad = CE().forward(z, targets)
    tz = torch.tensor(z, requires_grad=True)
    tv = torch.nn.functional.cross_entropy(tz, torch.tensor(targets))
    tv.backward()
    np.testing.assert_allclose(float(value), tv.item(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad, tz.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.oracle
def test_label_smoothing_matches_torch(torch: Any) -> None:
    z, labels, a = _logits(), np.array([0, 3, 1, 2, 2, 0]), 0.1
    value, grad = CE().forward(z, _smoothed(labels, 4, a))
    tz = torch.tensor(z, requires_grad=True)
    tv = torch.nn.functional.cross_entropy(tz, torch.tensor(labels), label_smoothing=a)
    tv.backward()
    np.testing.assert_allclose(float(value), tv.item(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad, tz.grad.numpy(), rtol=1e-12, atol=1e-12)


# -- what SoftmaxCrossEntropy.check_targets refuses ------------------------------------------


def test_negative_entries_are_refused() -> None:
    t = np.array([[0.5, 0.5, 0.0], [5.0, -4.0, 0.0]])  # row 1 sums to 1: loss -55 before
    with pytest.raises(
        ShapeError, match=r"must be probabilities.*negative entry -4 in row 1.*label smoothing"
    ):
        CE().check_targets(t, (2, 3))


def test_rows_not_summing_to_one_are_refused() -> None:
    t = np.array([[0.5, 0.5, 0.0], [0.2, 0.2, 0.2], [0.3, 0.3, 0.3]])
    with pytest.raises(
        ShapeError,
        match=r"summing to 1 \(within 0\.001\), got row 1 summing to 0\.6 \(2 of 3 rows.*"
        r"y / y\.sum\(axis=1, keepdims=True\)",
    ):
        CE().check_targets(t, (3, 3))


def test_rows_within_the_tolerance_are_accepted() -> None:
    t = np.array([[0.5, 0.5004, 0.0], [1.0, 0.0, 0.0]])  # off by 4e-4
    CE().check_targets(t, (2, 3))
    CE().check_targets(np.eye(3, dtype=np.int64), (3, 3))  # integer one-hot rows


def test_non_finite_rows_are_refused() -> None:
    t = np.array([[0.5, 0.5], [np.nan, 1.0]])
    with pytest.raises(ShapeError, match=r"must be finite probabilities, got nan in row 1"):
        CE().check_targets(t, (2, 2))


@pytest.mark.parametrize(
    "targets",
    [np.ones((4, 1)), np.array([[0], [1], [1], [0]])],
    ids=["one-hot-(n,1)", "integer-labels-(n,1)"],
)
def test_a_one_output_model_is_refused_with_a_pointer_to_bce(targets: np.ndarray) -> None:
    with pytest.raises(ShapeError, match=r"at least 2 outputs.*constantly 0.*BinaryCrossEntropy"):
        CE().check_targets(targets, (4, 1))


def test_one_output_logits_are_refused_by_forward() -> None:
    with pytest.raises(ShapeError, match=r"at least 2 outputs.*BinaryCrossEntropy"):
        CE().forward(np.zeros((4, 1)), np.array([[0], [1], [1], [0]]))


def test_the_trainer_refuses_integer_n_by_1_labels_on_a_one_output_model() -> None:
    x, y = nb.datasets.two_moons(32, noise=0.1, seed=1)
    nb.seed(0)
    model = nb.Sequential(nb.layers.Dense(2, 4), nb.layers.Tanh(), nb.layers.Dense(4, 1))
    before = {k: p.value.copy() for k, p in model.named_parameters().items()}
    trainer = nb.Trainer(model, "SoftmaxCrossEntropy", "SGD", seed=0)
    with pytest.raises(ShapeError, match=r"at least 2 outputs.*BinaryCrossEntropy"):
        trainer.fit(x, y.reshape(-1, 1), epochs=1, batch_size=8)
    for name, p in model.named_parameters().items():
        np.testing.assert_array_equal(p.value, before[name])


def test_the_trainer_refuses_negative_soft_targets_before_the_first_update() -> None:
    x, y = nb.datasets.two_moons(32, noise=0.1, seed=1)
    t = np.eye(2)[y] * 5.0 - np.eye(2)[1 - y] * 4.0  # rows hold 5 and -4: loss -55 before
    nb.seed(0)
    model = nb.Sequential(nb.layers.Dense(2, 4), nb.layers.Tanh(), nb.layers.Dense(4, 2))
    before = {k: p.value.copy() for k, p in model.named_parameters().items()}
    trainer = nb.Trainer(model, "SoftmaxCrossEntropy", "SGD", seed=0)
    with pytest.raises(ShapeError, match=r"negative entry -4"):
        trainer.fit(x, t, epochs=1, batch_size=8)
    for name, p in model.named_parameters().items():
        np.testing.assert_array_equal(p.value, before[name])


def test_existing_label_checks_are_kept() -> None:
    with pytest.raises(ShapeError, match=r"labels must be in \[0, 3\).*from 0 to 3"):
        CE().check_targets(np.array([0, 3]), (2, 3))
    with pytest.raises(ShapeError, match=r"integer class labels, got dtype float64"):
        CE().check_targets(np.array([0.0, 1.0]), (2, 3))
    with pytest.raises(ShapeError, match=r"one-hot targets of shape \(n, 3\), got \(2, 4\)"):
        CE().check_targets(np.eye(4)[:2], (2, 3))
    with pytest.raises(ShapeError, match=r"got \(2, 1\)\. Flatten integer labels"):
        CE().check_targets(np.array([[0], [2]]), (2, 3))


# -- BinaryCrossEntropy.check_targets --------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "shown"), [(5.0, r"from 0 to 5"), (-1.0, r"from -1 to 1")], ids=["5", "-1"]
)
def test_bce_refuses_targets_outside_0_1(bad: float, shown: str) -> None:
    y = np.array([[0.0], [1.0], [bad]])
    with pytest.raises(
        ShapeError, match=rf"targets must be in \[0, 1\].*{shown}.*no\s+lower bound"
    ):
        BCE().check_targets(y, (3, 1))


def test_bce_loss_is_unbounded_below_for_such_targets() -> None:
    # Why they are refused: with y = 5 the loss falls without limit as the logit grows.
    values = [float(BCE()(np.array([[z]]), np.array([[5.0]]))) for z in (10.0, 100.0, 1000.0)]
    assert values[0] > values[1] > values[2] and values[2] < -3000


def test_bce_refuses_non_finite_targets_and_accepts_probabilities() -> None:
    with pytest.raises(ShapeError, match=r"finite numbers in \[0, 1\], got nan"):
        BCE().check_targets(np.array([[0.0], [np.nan]]), (2, 1))
    BCE().check_targets(np.array([[0.0], [0.25], [1.0]]), (3, 1))
    BCE().check_targets(np.array([[0], [1]]), (2, 1))  # integer 0/1 labels


def test_bce_refuses_targets_not_shaped_like_the_output() -> None:
    with pytest.raises(ShapeError, match=r"shaped like the model's output.*y\.reshape\(-1, 1\)"):
        BCE().check_targets(np.array([0.0, 1.0]), (2, 1))


def test_the_trainer_refuses_bce_label_5_before_the_first_update() -> None:
    x, y = nb.datasets.two_moons(32, noise=0.1, seed=1)
    nb.seed(0)
    model = nb.Sequential(nb.layers.Dense(2, 4), nb.layers.Tanh(), nb.layers.Dense(4, 1))
    trainer = nb.Trainer(model, "BinaryCrossEntropy", "SGD", seed=0)
    with pytest.raises(ShapeError, match=r"targets must be in \[0, 1\].*from 0 to 5"):
        trainer.fit(x, (5.0 * y).reshape(-1, 1), epochs=1, batch_size=8)


# -- float16 parameters and eps <= 0 ---------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float16", np.float16, "half"])
@pytest.mark.parametrize(
    "make",
    [
        lambda dtype: nb.layers.Dense(3, 2, dtype=dtype),
        lambda dtype: nb.layers.BatchNorm(3, dtype=dtype),
    ],
    ids=["Dense", "BatchNorm"],
)
def test_float16_layers_are_refused(make: Any, dtype: Any) -> None:
    with pytest.raises(
        ValueError, match=r"float16 parameters are not supported yet.*Use dtype='float32'"
    ):
        make(dtype)


def test_float32_and_float64_layers_are_still_built() -> None:
    assert nb.layers.Dense(3, 2, dtype="float32").W.value.dtype == np.float32
    assert nb.layers.BatchNorm(3, dtype=np.float64).config()["dtype"] == "float64"


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@pytest.mark.parametrize("eps", [0, 0.0, -1e-8])
def test_adam_refuses_eps_that_is_not_positive(name: str, eps: float) -> None:
    with pytest.raises(
        ValueError, match=rf"{name} eps must be a positive number.*divides by sqrt\(v\) \+ eps"
    ):
        nb.optimizers.get(name)(eps=eps)


def test_adam_eps_0_would_give_nan() -> None:
    # Why eps = 0 is refused: a parameter whose gradient is 0 gets 0 / (0 + 0).
    m, v = np.zeros(1), np.zeros(1)
    with np.errstate(invalid="ignore"):
        assert np.isnan(m / (np.sqrt(v) + 0.0)).all()
    assert nb.optimizers.Adam(eps=1e-12).eps == 1e-12


@pytest.mark.parametrize("eps", [0, -1.0])
def test_clip_by_global_norm_refuses_eps_that_is_not_positive(eps: float) -> None:
    with pytest.raises(ValueError, match=r"ClipByGlobalNorm eps must be a positive number"):
        nb.transforms.ClipByGlobalNorm(1.0, eps=eps)
