"""The Trainer's warnings name the user's line (the ``fit(...)`` or ``Trainer(...)`` call),
not a line inside neuroback, however deep inside neuroback they are raised."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import neuroback as nb
from neuroback.caller_warnings import warn_at_caller
from neuroback.training.components import CallbackHookWarning

HERE = __file__
SOURCE = Path(HERE).read_text(encoding="utf-8").splitlines()


def _diverging() -> tuple[nb.Trainer, Any, Any]:
    x, y = nb.datasets.noisy_sine(64)
    nb.seed(0)
    model = nb.Sequential(nb.layers.Dense(1, 8), nb.layers.ReLU(), nb.layers.Dense(8, 1))
    trainer = nb.Trainer(model, "MSE", nb.optimizers.SGD(lr=1e6), log_every_n_steps=1)
    return trainer, x, y


def test_non_finite_warnings_point_at_the_fit_call() -> None:
    trainer, x, y = _diverging()
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        trainer.fit(x, y, epochs=3, batch_size=8)  # the line every warning must name
    kinds = (nb.training.NonFiniteLossWarning, nb.training.NonFiniteUpdateWarning)
    ours = [w for w in caught if issubclass(w.category, kinds)]
    assert {w.category for w in ours} == set(kinds)
    assert len(ours) == 3  # the first bad loss, the first skip, the fit's total
    for w in ours:
        assert w.filename == HERE, (w.category.__name__, w.filename, w.lineno)
        assert "trainer.fit(x, y, epochs=3" in SOURCE[w.lineno - 1]


def test_discarded_micro_batches_warning_points_at_the_fit_call() -> None:
    nb.seed(0)
    model = nb.Sequential(nb.layers.Dense(2, 1))
    trainer = nb.Trainer(model, "MSE", "SGD", accumulate_steps=2)
    x = np.ones((4, 2), np.float32)
    trainer.train_step(x, np.ones((4, 1), np.float32))  # half an accumulation window
    with pytest.warns(UserWarning, match="Discarding the gradients") as caught:
        trainer.fit(x, np.ones((4, 1), np.float32), epochs=1)
    assert [w.filename for w in caught if "Discarding" in str(w.message)] == [HERE]


def test_a_misspelled_hook_warning_points_at_the_trainer_call() -> None:
    class Typo(nb.Callback):
        def on_epoch_ned(self, trainer: Any, logs: Any) -> None: ...

    with pytest.warns(CallbackHookWarning) as caught:
        nb.Trainer(nb.Sequential(nb.layers.Dense(2, 1)), "MSE", "SGD", callbacks=[Typo()])
    assert [w.filename for w in caught] == [HERE]


def test_warn_at_caller_names_the_first_frame_outside_neuroback() -> None:
    with pytest.warns(UserWarning, match="from here") as caught:
        warn_at_caller("from here", UserWarning)  # called from a test: this line
    assert caught[0].filename == HERE
