"""The neuroback rows (``nb-trainer``, ``nb-trainer-adam``): ``Trainer.train_step`` as
``train_step.py`` builds it, with SGD or Adam; ``build_trainer`` hands out the Trainer
itself (for the per-phase profile), ``trainer_and_batch`` the Trainer and the batch of
any size (the MLPs' or a convolutional case's, from ``cnn``)."""

from __future__ import annotations

from typing import Any

from .cnn import cnn_data, is_cnn, nb_cnn_trainer
from .sizes import ADAM_LR, SGD_LR, SIZES


def nb_trainer(ts: Any, sizes: list[int], seed: int, adam: bool) -> tuple[Any, Any]:
    """``Trainer(model, MSE(), SGD(lr=0.01) | Adam(lr=1e-3)).train_step`` as train_step.py's
    ``trainer_step_fn`` builds it (its model, its seed, the Ctrl-C deferral installed
    once, as ``fit`` does). Returns (step, model)."""
    nb = ts.nb
    opt = nb.optimizers.Adam(lr=ADAM_LR) if adam else nb.optimizers.SGD(lr=SGD_LR)
    step = ts.trainer_step_fn(sizes, seed, optimizer=opt)
    return step, step.model


def build_trainer(ts: Any, sizes: list[int], seed: int, adam: bool) -> Any:
    """The Trainer ``nb_trainer`` times, built by the same ``trainer_step_fn`` call (so the
    phase profile's ``train_step`` is exactly the ``nb-trainer`` rows' step)."""
    nb = ts.nb
    opt = nb.optimizers.Adam(lr=ADAM_LR) if adam else nb.optimizers.SGD(lr=SGD_LR)
    return ts.trainer_step_fn(sizes, seed, optimizer=opt).trainer


def trainer_and_batch(ts: Any, size: str, seed: int, adam: bool) -> tuple[Any, Any, Any]:
    """(Trainer, x, y) of the ``nb-trainer``/``nb-trainer-adam`` rows at ``size``: the
    MLP's from ``build_trainer`` and ``random_data``, a CNN case's from ``cnn``."""
    if is_cnn(size):
        return (nb_cnn_trainer(ts, size, seed, adam), *cnn_data(ts, size, seed))
    sizes, batch = SIZES[size]
    return (build_trainer(ts, sizes, seed, adam), *ts.random_data(sizes, batch, seed))
