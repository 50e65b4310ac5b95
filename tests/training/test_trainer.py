"""The Trainer: the loop, its determinism, gradient accumulation, early stop, and bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import neuroback as nb
import neuroback.testing.strict
from neuroback.errors import ShapeError


def _classifier(seed: int = 0, hidden: int = 16, dropout: bool = False) -> nb.Sequential:
    nb.seed(seed)
    layers: list[nb.Layer] = [nb.layers.Dense(2, hidden), nb.layers.ReLU()]
    if dropout:
        layers.append(nb.layers.Dropout(0.2))
    layers.append(nb.layers.Dense(hidden, 2))
    return nb.Sequential(*layers)


def _moons(n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    return nb.datasets.two_moons(n, noise=0.1, seed=1)


def _trainer(model: nb.Layer, **kwargs: Any) -> nb.Trainer:
    kwargs.setdefault("seed", 0)
    return nb.Trainer(
        model, "SoftmaxCrossEntropy", nb.optimizers.Adam(lr=0.01), metrics=["accuracy"], **kwargs
    )


def test_fit_learns_and_reports_history() -> None:
    x, y = _moons()
    trainer = _trainer(_classifier())
    history = trainer.fit(x, y, epochs=30, batch_size=32, validation_split=0.25)
    assert len(history) == 30
    assert history.keys() == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    assert history["loss"][-1] < history["loss"][0] / 3
    assert history["val_accuracy"][-1] > 0.95
    assert trainer.epoch == 30
    assert trainer.global_step == 30 * 6  # 192 training samples / 32
    result = trainer.evaluate(x, y)
    assert set(result) == {"loss", "accuracy"} and result["accuracy"] > 0.95
    probabilities = trainer.predict(x)
    assert isinstance(probabilities, np.ndarray) and probabilities.shape == (256, 2)
    assert (probabilities.argmax(1) == y).mean() == pytest.approx(result["accuracy"])


def test_epoch_loss_is_the_exact_mean_over_the_epoch() -> None:
    x, y = _moons(64)
    trainer = _trainer(_classifier(), log_every_n_steps=1000)
    model = trainer.model
    # Recompute by hand with the same steps: loss of each batch before its update.
    model2 = _classifier()
    opt2 = nb.optimizers.Adam(lr=0.01).bind(model2)
    loss_fn = nb.losses.SoftmaxCrossEntropy()
    by_hand = []
    for start in range(0, 64, 16):
        pred, backward = model2.forward(x[start : start + 16], train=True)
        value, dpred = loss_fn.forward(pred, y[start : start + 16])
        backward(dpred)
        opt2.step()
        opt2.zero_grad()
        by_hand.append(float(value))
    history = trainer.fit(x, y, epochs=1, batch_size=16, shuffle=False)
    assert history["loss"][0] == pytest.approx(float(np.mean(by_hand)), rel=1e-6)
    for name, p in model.named_parameters().items():
        np.testing.assert_allclose(p.value, model2.named_parameters()[name].value, rtol=1e-6)


def _run(seed: int) -> tuple[nb.History, dict[str, np.ndarray]]:
    x, y = _moons()
    trainer = _trainer(_classifier(seed=5, dropout=True), seed=seed)
    history = trainer.fit(x, y, epochs=5, batch_size=32, validation_split=0.2)
    return history, {k: p.value.copy() for k, p in trainer.model.named_parameters().items()}


def test_same_seeds_give_bitwise_identical_runs() -> None:
    h1, w1 = _run(seed=7)
    h2, w2 = _run(seed=7)
    assert h1 == h2
    for name in w1:
        np.testing.assert_array_equal(w1[name], w2[name])
    h3, w3 = _run(seed=8)  # another data order and dropout stream
    assert h3 != h1
    assert any(not np.array_equal(w1[k], w3[k]) for k in w1)


def test_gradient_accumulation_equals_one_large_batch() -> None:
    x, y = _moons(128)
    x, y = x.astype(np.float64), y

    def weights_after(batch_size: int, accumulate: int) -> dict[str, np.ndarray]:
        nb.seed(3)
        model = nb.Sequential(
            nb.layers.Dense(2, 8, dtype="float64"),
            nb.layers.Tanh(),
            nb.layers.Dense(8, 2, dtype="float64"),
        )
        trainer = nb.Trainer(
            model,
            "SoftmaxCrossEntropy",
            nb.optimizers.SGD(lr=0.5, momentum=0.9),
            seed=0,
            accumulate_steps=accumulate,
        )
        trainer.fit(x, y, epochs=3, batch_size=batch_size, shuffle=False)
        assert trainer.global_step == 3 * (128 // (batch_size * accumulate))
        return {k: p.value.copy() for k, p in model.named_parameters().items()}

    big = weights_after(batch_size=32, accumulate=1)
    small = weights_after(batch_size=8, accumulate=4)
    for name in big:
        np.testing.assert_allclose(small[name], big[name], rtol=1e-10, atol=1e-12)


def test_accumulation_hooks_fire_per_micro_batch_and_per_update() -> None:
    x, y = _moons(64)
    counts = {"after_backward": 0, "before_step": 0}

    class Count(nb.Callback):
        def on_after_backward(self, trainer: Any) -> None:
            counts["after_backward"] += 1
            assert any(np.any(p.grad != 0) for p in trainer.model.parameters())

        def on_before_optimizer_step(self, trainer: Any) -> None:
            counts["before_step"] += 1

    trainer = _trainer(_classifier(), callbacks=[Count()], accumulate_steps=4)
    trainer.fit(x, y, epochs=1, batch_size=8)
    assert counts == {"after_backward": 8, "before_step": 2}


def test_a_partial_accumulation_group_still_updates_at_epoch_end() -> None:
    x, y = _moons(40)  # 5 batches of 8 with k=2: two full groups and one left over
    trainer = _trainer(_classifier(), accumulate_steps=2)
    trainer.fit(x, y, epochs=1, batch_size=8)
    assert trainer.global_step == 3


def test_callback_hooks_run_in_order_and_stop_training_ends_cleanly() -> None:
    x, y = _moons(64)
    events: list[str] = []

    class Recorder(nb.Callback):
        def on_train_begin(self, trainer: Any) -> None:
            events.append("train_begin")

        def on_epoch_begin(self, trainer: Any, epoch: int) -> None:
            events.append(f"epoch_begin {epoch}")

        def on_batch_end(self, trainer: Any, step: int, logs: Any) -> None:
            events.append("batch")
            if step == 5:  # the sixth batch of the run (steps count from 0)
                trainer.stop_training = True

        def on_validation_end(self, trainer: Any, logs: Any) -> None:
            events.append(f"validation {sorted(logs)}")

        def on_epoch_end(self, trainer: Any, epoch: int, logs: Any) -> None:
            events.append(f"epoch_end {epoch}")

        def on_train_end(self, trainer: Any) -> None:
            events.append("train_end")

    trainer = _trainer(_classifier(), callbacks=[Recorder()])
    history = trainer.fit(x, y, epochs=10, batch_size=16, validation_data=(x, y))
    assert events == [
        "train_begin",
        "epoch_begin 0",
        "batch",
        "batch",
        "batch",
        "batch",
        "validation ['val_accuracy', 'val_loss']",
        "epoch_end 0",
        "epoch_begin 1",
        "batch",
        "batch",
        "validation ['val_accuracy', 'val_loss']",
        "epoch_end 1",
        "train_end",
    ]
    assert len(history) == 2


def test_on_train_end_runs_when_a_callback_raises() -> None:
    ended = []

    class Boom(nb.Callback):
        def on_batch_end(self, trainer: Any, step: int, logs: Any) -> None:
            raise RuntimeError("boom")

        def on_train_end(self, trainer: Any) -> None:
            ended.append(True)

    x, y = _moons(32)
    with pytest.raises(RuntimeError, match="boom"):
        _trainer(_classifier(), callbacks=[Boom()]).fit(x, y, epochs=1)
    assert ended == [True]


def test_logging_reads_the_loss_every_n_steps() -> None:
    seen: list[Any] = []

    class Logs(nb.Callback):
        def on_batch_end(self, trainer: Any, step: int, logs: Any) -> None:
            seen.append(logs.get("loss"))

    x, y = _moons(64)
    _trainer(_classifier(), callbacks=[Logs()], log_every_n_steps=3).fit(
        x, y, epochs=1, batch_size=8
    )
    assert [v is not None for v in seen] == [False, False, True] * 2 + [False, False]
    assert all(isinstance(v, float) for v in seen if v is not None)


def test_batch_iterable_protocol() -> None:
    x, y = _moons(64)

    class Batches:
        def __iter__(self):  # type: ignore[no-untyped-def]
            for start in range(0, 64, 16):
                yield x[start : start + 16], y[start : start + 16]

        def __len__(self) -> int:
            return 4

    trainer = _trainer(_classifier())
    history = trainer.fit(Batches(), epochs=3)
    assert len(history) == 3 and trainer.global_step == 12


def test_data_is_cast_to_the_model_dtype_once() -> None:
    x, y = _moons(32)
    trainer = _trainer(_classifier())
    xa, ya = trainer.prepare(x.astype(np.float64), y)
    assert xa.dtype == np.float32 and ya.dtype == np.int64
    history = trainer.fit(x.astype(np.float64), y, epochs=1)
    assert np.isfinite(history["loss"][0])


def test_trainer_moves_the_model_then_binds_the_optimizer() -> None:
    model = _classifier()
    opt = nb.optimizers.Adam(lr=0.01)
    trainer = nb.Trainer(model, "SoftmaxCrossEntropy", opt, backend="numpy")
    assert opt.bound and opt.params == model.named_parameters()
    assert trainer.backend.name == "numpy"


def test_losses_and_optimizers_by_name_and_spec() -> None:
    trainer = nb.Trainer(
        _classifier(),
        {"type": "neuroback:SoftmaxCrossEntropy"},
        {"type": "SGD", "config": {"lr": 0.1, "momentum": 0.9}},
    )
    assert isinstance(trainer.loss, nb.losses.SoftmaxCrossEntropy)
    assert trainer.optimizer.hyperparameters()["momentum"] == 0.9


# -- bad input: each a clear error before training starts --------------------------------


def _untouched(trainer: nb.Trainer) -> dict[str, np.ndarray]:
    return {k: p.value.copy() for k, p in trainer.model.named_parameters().items()}


def _assert_unchanged(trainer: nb.Trainer, before: dict[str, np.ndarray]) -> None:
    assert trainer.global_step == 0
    for k, p in trainer.model.named_parameters().items():
        np.testing.assert_array_equal(p.value, before[k])


@pytest.mark.parametrize(
    ("make_data", "kwargs", "error", "message"),
    [
        (lambda x, y: (x, y[:-1]), {}, ShapeError, r"64 samples in x but 63 targets in y"),
        (lambda x, y: (x[:0], y[:0]), {}, ValueError, r"is empty \(0 samples\)"),
        (lambda x, y: (x, y), {"batch_size": 0}, ValueError, r"batch_size must be a positive"),
        (lambda x, y: (x, y), {"epochs": 0}, ValueError, r"epochs must be a positive integer"),
        (lambda x, y: (x, y + 5), {}, ShapeError, r"labels must be in \[0, 2\).*from 5 to 6"),
        (lambda x, y: (x, y.astype(np.float32)), {}, ShapeError, r"integer class labels"),
        (
            lambda x, y: (np.where(np.arange(64)[:, None] == 9, np.nan, x), y),
            {},
            ValueError,
            r"2 NaN or infinite values \(first in sample 9\)",
        ),
        (
            lambda x, y: (x, np.eye(3)[y]),
            {},
            ShapeError,
            r"one-hot targets of shape \(n, 2\), got \(64, 3\)",
        ),
        (lambda x, y: (x[:, :1], y), {}, ShapeError, r"expects 2 features.*\(2, 1\)"),
        (lambda x, y: (x, y), {"validation_split": 1.5}, ValueError, r"fraction in \(0, 1\)"),
    ],
    ids=[
        "length-mismatch",
        "empty",
        "batch-size-0",
        "epochs-0",
        "labels-out-of-range",
        "float-labels",
        "nan-in-data",
        "targets-do-not-fit-output",
        "wrong-feature-count",
        "bad-validation-split",
    ],
)
def test_bad_input_is_rejected_before_training(
    make_data: Any, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    x, y = _moons(64)
    trainer = _trainer(_classifier())
    before = _untouched(trainer)
    data = make_data(x, y)
    with pytest.raises(error, match=message):
        trainer.fit(*data, **{"epochs": 1, "batch_size": 16, **kwargs})
    _assert_unchanged(trainer, before)


def test_regression_output_shape_must_fit_targets() -> None:
    x, y = nb.datasets.noisy_sine(32)
    nb.seed(0)
    model = nb.Sequential(nb.layers.Dense(1, 8), nb.layers.Tanh(), nb.layers.Dense(8, 2))
    trainer = nb.Trainer(model, "MSE", "SGD")
    with pytest.raises(ShapeError, match=r"Before training.*\(2, 2\).*same shape"):
        trainer.fit(x, y, epochs=1)


def test_infinite_targets_are_rejected() -> None:
    x, y = nb.datasets.noisy_sine(32)
    y[3, 0] = np.inf
    trainer = nb.Trainer(nb.Sequential(nb.layers.Dense(1, 1)), "MSE", "SGD")
    with pytest.raises(ValueError, match=r"training data y contains 1 NaN or infinite"):
        trainer.fit(x, y, epochs=1)


def test_x_without_y_and_odd_arguments() -> None:
    x, y = _moons(32)
    trainer = _trainer(_classifier())
    with pytest.raises(ValueError, match="no targets y"):
        trainer.fit(x, epochs=1)
    with pytest.raises(TypeError, match="batch iterable"):
        trainer.fit(42, epochs=1)
    with pytest.raises(ValueError, match="not both"):
        trainer.fit(x, y, epochs=1, validation_split=0.2, validation_data=(x, y))
    with pytest.raises(TypeError, match="Callback instances"):
        nb.Trainer(_classifier(), "MSE", "SGD", callbacks=["ProgressBar"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="log_every_n_steps must be a positive"):
        nb.Trainer(_classifier(), "MSE", "SGD", log_every_n_steps=0)


def test_user_metrics_by_callable_and_by_registered_name() -> None:
    def doc_error_rate(pred: Any, target: Any) -> Any:
        return 1.0 - nb.metrics.accuracy(pred, target)

    nb.register(doc_error_rate, kind="metrics", name="error_rate_for_trainer_test")
    x, y = _moons(64)
    trainer = nb.Trainer(
        _classifier(),
        "SoftmaxCrossEntropy",
        nb.optimizers.Adam(lr=0.01),
        metrics=["accuracy", "local:error_rate_for_trainer_test", doc_error_rate],
        seed=0,
    )
    history = trainer.fit(x, y, epochs=2, batch_size=16)
    assert history.keys() == [
        "epoch",
        "loss",
        "accuracy",
        "error_rate_for_trainer_test",
        "doc_error_rate",
    ]
    for a, e in zip(history["accuracy"], history["doc_error_rate"], strict=True):
        assert a + e == pytest.approx(1.0)
    with pytest.raises(nb.errors.ComponentNotFoundError, match="No metric named 'accuracyy'"):
        nb.Trainer(_classifier(), "MSE", "SGD", metrics=["accuracyy"])


def test_a_last_batch_of_one_sample_that_batchnorm_cannot_train_on_is_caught_up_front() -> None:
    x, y = _moons(33)
    nb.seed(0)
    model = nb.Sequential(
        nb.layers.Dense(2, 8), nb.layers.BatchNorm(8), nb.layers.ReLU(), nb.layers.Dense(8, 2)
    )
    trainer = _trainer(model)
    before = _untouched(trainer)
    with pytest.raises(ShapeError, match=r"last batch holds 1 sample.*drop_last=True"):
        trainer.fit(x, y, epochs=1, batch_size=32)
    _assert_unchanged(trainer, before)
    assert model[1].state("running_mean").tolist() == [0.0] * 8  # the probe left no trace
    trainer.fit(x, y, epochs=2, batch_size=32, drop_last=True)
    assert trainer.global_step == 2


def test_validation_data_is_checked_before_training_too() -> None:
    x, y = _moons(64)
    trainer = _trainer(_classifier())
    with pytest.raises(ShapeError, match=r"labels must be in \[0, 2\)"):
        trainer.fit(x, y, epochs=1, validation_data=(x, y + 3))
    assert trainer.global_step == 0


def test_partial_accumulation_group_is_rescaled_to_a_mean() -> None:
    x, y = _moons(40)
    x = x.astype(np.float64)

    def weights(batch_size: int, accumulate: int) -> list[np.ndarray]:
        nb.seed(1)
        model = nb.Sequential(
            nb.layers.Dense(2, 4, dtype="float64"),
            nb.layers.Tanh(),
            nb.layers.Dense(4, 2, dtype="float64"),
        )
        trainer = nb.Trainer(
            model, "SoftmaxCrossEntropy", nb.optimizers.SGD(lr=0.3), accumulate_steps=accumulate
        )
        trainer.fit(x, y, epochs=2, batch_size=batch_size, shuffle=False)
        return [p.value.copy() for p in model.parameters()]

    # 40 samples: micro-batches of 8 in groups of 2 -> 16, 16 and a lone 8 (rescaled by 2),
    # which is the update of plain batches of 16, 16 and 8.
    for a, b in zip(weights(8, 2), weights(16, 1), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_leftover_micro_batches_do_not_leak_into_the_next_fit() -> None:
    x, y = _moons(64)

    def final(pre_step: bool) -> np.ndarray:
        trainer = _trainer(_classifier(), accumulate_steps=2)
        if pre_step:
            xb, yb = trainer.prepare(x[:8], y[:8])
            trainer.train_step(xb, yb)  # half a group, never applied
            with pytest.warns(UserWarning, match=r"Discarding the gradients of 1 micro-batch"):
                trainer.fit(x, y, epochs=1, batch_size=16, shuffle=False)
        else:
            trainer.fit(x, y, epochs=1, batch_size=16, shuffle=False)
        return trainer.model[0].W.value.copy()

    np.testing.assert_array_equal(final(pre_step=True), final(pre_step=False))


def test_an_optimizer_with_state_keeps_it_when_the_trainer_moves_the_model() -> None:
    model = _classifier()
    opt = nb.optimizers.Adam(lr=0.01).bind(model)
    x, y = _moons(32)
    nb.Trainer(model, "SoftmaxCrossEntropy", opt).fit(x, y, epochs=1, batch_size=16)
    before = opt.state_dict()
    nb.Trainer(model, "SoftmaxCrossEntropy", opt, backend="strict")
    after = opt.state_dict()
    assert after["step_count"] == before["step_count"] == 2
    np.testing.assert_array_equal(
        after["slots"]["0.W"]["exp_avg"], before["slots"]["0.W"]["exp_avg"]
    )


def test_on_train_end_runs_when_on_train_begin_raises() -> None:
    ended = []

    class Fails(nb.Callback):
        def on_train_begin(self, trainer: Any) -> None:
            raise RuntimeError("cannot start")

    class Cleanup(nb.Callback):
        def on_train_end(self, trainer: Any) -> None:
            ended.append(True)

    x, y = _moons(32)
    with pytest.raises(RuntimeError, match="cannot start"):
        _trainer(_classifier(), callbacks=[Cleanup(), Fails()]).fit(x, y, epochs=1)
    assert ended == [True]


def test_binary_classification_with_logits_and_accuracy_from_logits() -> None:
    x, y = _moons(128)
    nb.seed(0)
    model = nb.Sequential(nb.layers.Dense(2, 16), nb.layers.ReLU(), nb.layers.Dense(16, 1))
    trainer = nb.Trainer(
        model,
        "BinaryCrossEntropy",
        nb.optimizers.Adam(lr=0.02),
        metrics=["accuracy_from_logits"],
        seed=0,
    )
    targets = y.reshape(-1, 1).astype(np.float32)
    history = trainer.fit(x, targets, epochs=40, batch_size=32)
    logits = trainer.predict(x)
    by_hand = float(((logits[:, 0] > 0) == (y == 1)).mean())
    assert trainer.evaluate(x, targets)["accuracy_from_logits"] == pytest.approx(by_hand)
    assert history["accuracy_from_logits"][-1] > 0.9


# -- mistakes a new user makes: each a clear error -----------------------------------------


def test_common_construction_mistakes_are_explained() -> None:
    model = _classifier()
    with pytest.raises(TypeError, match=r"metrics must be a list, e.g. metrics=\['accuracy'\]"):
        nb.Trainer(model, "MSE", "SGD", metrics="accuracy")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"callbacks must be a list, e.g. callbacks=\[ProgressBar"):
        nb.Trainer(model, "MSE", "SGD", callbacks=nb.callbacks.ProgressBar())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"got the class ProgressBar: pass ProgressBar\(\)"):
        nb.Trainer(model, "MSE", "SGD", callbacks=[nb.callbacks.ProgressBar])  # type: ignore[list-item]
    with pytest.raises(nb.errors.ConfigError, match=r"class MSE where a loss.*MSE\(\)"):
        nb.Trainer(model, nb.losses.MSE, "SGD")  # type: ignore[arg-type]
    with pytest.raises(nb.errors.ConfigError, match=r"where an optimizer was expected"):
        nb.Trainer(model, "MSE", nb.optimizers.Adam)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"got the class Sequential"):
        nb.Trainer(nb.Sequential, "MSE", "SGD")  # type: ignore[arg-type]


def test_callback_hooks_are_checked_when_the_trainer_is_built() -> None:
    class KerasStyle(nb.Callback):
        def on_epoch_end(self, epoch, logs=None):  # type: ignore[no-untyped-def, override]
            pass

    with pytest.raises(TypeError, match=r"on_epoch_end must accept \(trainer, epoch, logs\)"):
        nb.Trainer(_classifier(), "MSE", "SGD", callbacks=[KerasStyle()])

    class Typo(nb.Callback):
        def on_epoch_ends(self, trainer: Any, epoch: int, logs: Any) -> None:
            pass

    from neuroback.training.components import CallbackHookWarning

    with pytest.warns(
        CallbackHookWarning, match=r"on_epoch_ends is not a Trainer hook.*on_epoch_end"
    ):
        nb.Trainer(_classifier(), "MSE", "SGD", callbacks=[Typo()])


def test_bad_validation_data_is_named_as_such() -> None:
    x, y = _moons(64)
    with pytest.raises(ShapeError, match=r"does not fit the validation data targets"):
        _trainer(_classifier()).fit(x, y, epochs=1, validation_data=(x, y + 3))


def test_negative_labels_get_advice_that_fits() -> None:
    x, y = _moons(64)
    with pytest.raises(ShapeError, match=r"from -1 to 0\. Labels are class indices counted from 0"):
        _trainer(_classifier()).fit(x, y - 1, epochs=1)


def test_dtype_errors_are_also_type_errors() -> None:
    layer = nb.layers.Dense(2, 2)
    with pytest.raises(
        TypeError, match=r"got int64 input\. Cast the data once with x\.astype\('float32'\)\.$"
    ):
        layer(np.ones((1, 2), dtype=np.int64))


def test_dropout_rejects_something_that_is_not_a_generator() -> None:
    with pytest.raises(ValueError, match=r"got int 0\).*nb\.get_backend\(\)\.generator\(seed\)"):
        nb.layers.Dropout(0.5).forward(np.ones((2, 2), np.float32), train=True, rng=0)


def test_drop_last_is_checked() -> None:
    x, y = _moons(20)
    trainer = _trainer(_classifier())
    with pytest.raises(ValueError, match=r"20 training samples make no full batch"):
        trainer.fit(x, y, epochs=1, batch_size=32, drop_last=True)
    with pytest.raises(TypeError, match="drop_last must be True or False"):
        trainer.fit(x, y, epochs=1, drop_last="no")  # type: ignore[arg-type]
    assert trainer.global_step == 0


def test_labels_are_checked_on_a_device_backend_too() -> None:
    x, y = _moons(64)
    trainer = _trainer(_classifier(), backend="strict")
    with pytest.raises(ShapeError, match=r"evaluation data targets.*from -1 to 0"):
        trainer.evaluate(x, y - 1)

    class Batches:
        def __iter__(self):  # type: ignore[no-untyped-def]
            yield x[:32], y[:32]
            yield x[32:], y[32:] - 1  # host labels: checked batch by batch

    with pytest.raises(ShapeError, match=r"from -1 to 0"):
        trainer.fit(Batches(), epochs=1)


def test_numpy_scalars_are_accepted_where_numbers_are() -> None:
    opt = nb.optimizers.SGD(
        lr=np.float32(0.1), groups=[{"params": "*.b", "lr_scale": np.float64(0.5)}]
    )
    trainer = nb.Trainer(_classifier(), "SoftmaxCrossEntropy", opt, seed=np.int64(3))
    assert trainer.seed == 3 and isinstance(opt.lr, float)
    assert opt.param_hyperparameters("0.b")["lr"] == pytest.approx(0.05)
    clip = nb.transforms.ClipByGlobalNorm(float("inf"))  # infinity: no clipping
    assert clip.max_norm == float("inf")
    with pytest.raises(ValueError, match=r"eps must be a finite number, got inf"):
        nb.transforms.ClipByGlobalNorm(1.0, eps=float("inf"))
