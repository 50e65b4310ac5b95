"""The neuroback rows (``nb-trainer``, ``nb-trainer-adam``): ``Trainer.train_step`` as
``train_step.py`` builds it, with SGD or Adam; ``build_trainer`` hands out the Trainer
itself (for the per-phase profile)."""

from __future__ import annotations

from typing import Any

from .sizes import ADAM_LR, SGD_LR


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
