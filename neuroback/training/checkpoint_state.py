"""Checking a checkpoint's training state before any of it is applied.

:func:`check_training_state` holds the unpacked ``trainer`` entry of a checkpoint (see
:mod:`neuroback.training.checkpoint`) against the Trainer that resumes: every counter a
non-negative integer, the flags booleans, the History a list of rows of numbers, the
epoch sums 0-d float arrays of the logged names, a pending accumulation window of fewer
micro-batches than ``accumulate_steps`` with a gradient of the right shape for every
parameter, and so on. A problem is a :class:`~neuroback.errors.FileFormatError` naming
the key. The optimizer's, the loader's and each callback's own state are checked by
their owners' ``load_state_dict`` (inside the restore's transaction).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import FileFormatError

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["check_training_state"]

_KEYS = (
    "epoch",
    "global_step",
    "batch_step",
    "optimizer",
    "skipped",
    "data_rng",
    "forward_rng",
    "in_epoch",
    "loader",
    "totals",
    "pending",
    "callbacks",
    "history",
)


class _Bad(Exception):
    """One problem: the key and what was wrong (turned into a FileFormatError)."""


def check_training_state(trainer: Trainer, state: Any, path: Any) -> None:
    """Raise :class:`FileFormatError` unless ``state`` can be applied to ``trainer``."""
    try:
        _check(trainer, state)
    except _Bad as exc:
        raise FileFormatError(
            f"{path} is damaged: its training state {exc} Nothing was changed."
        ) from None


def _check(trainer: Trainer, state: Any) -> None:
    if not isinstance(state, Mapping):
        raise _Bad(f"is not a table of values (found {type(state).__name__}).")
    missing = [k for k in _KEYS if k not in state]
    if missing:
        raise _Bad(f"lacks {missing}.")
    for key in ("epoch", "global_step", "batch_step", "skipped"):
        _count(state[key], key)
    for key in ("in_epoch", "stop_training"):
        if key in state and not isinstance(state[key], bool):
            raise _Bad(f"{key} must be true or false, found {_show(state[key])}.")
    for key in ("optimizer", "data_rng"):
        if not isinstance(state[key], Mapping):
            raise _Bad(f"{key} must be a table, found {_show(state[key])}.")
    if state["forward_rng"] is not None and not isinstance(state["forward_rng"], Mapping):
        raise _Bad(f"forward_rng must be a table or null, found {_show(state['forward_rng'])}.")
    callbacks = state["callbacks"]
    expected = len(trainer._all_callbacks)
    if not isinstance(callbacks, list) or len(callbacks) != expected:
        raise _Bad(f"callbacks must hold {expected} states, found {_show(callbacks)}.")
    ranks = state.get("rank_forward_rngs")
    if ranks is not None and not (
        isinstance(ranks, list) and all(r is None or isinstance(r, Mapping) for r in ranks)
    ):
        raise _Bad(f"rank_forward_rngs must be a list of tables, found {_show(ranks)}.")
    if not all(isinstance(c, Mapping) for c in callbacks):
        raise _Bad("callbacks must be tables.")
    _history(state["history"])
    if state["in_epoch"]:
        if not isinstance(state["loader"], Mapping):
            why = (
                " (the run it saved trained on a batch iterable, which resumes only from an "
                "epoch's end)"
                if state["loader"] is None
                else ""
            )
            raise _Bad(
                f"loader must be a table inside an epoch, found {_show(state['loader'])}{why}."
            )
        _totals(trainer, state["totals"])
    _pending(trainer, state["pending"])


def _count(value: Any, key: str, *, low: int = 0, high: int | None = None) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
    if not ok or (high is not None and value > high):
        bound = f" at most {high}" if high is not None else ""
        raise _Bad(f"{key} must be an integer >= {low}{bound}, found {_show(value)}.")
    return int(value)


def _history(history: Any) -> None:
    if not isinstance(history, list):
        raise _Bad(f"history must be a list of epoch rows, found {_show(history)}.")
    for i, row in enumerate(history):
        if not isinstance(row, Mapping) or not all(isinstance(k, str) for k in row):
            raise _Bad(f"history[{i}] must be a table of logged values, found {_show(row)}.")
        for key, value in row.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _Bad(f"history[{i}][{key!r}] must be a number, found {_show(value)}.")
        if "epoch" in row and not isinstance(row["epoch"], int):
            raise _Bad(f"history[{i}]['epoch'] must be an integer.")


def _totals(trainer: Trainer, totals: Any) -> None:
    if not isinstance(totals, list) or len(totals) != 2:
        raise _Bad(f"totals must be [epoch sums, log-window sums], found {_show(totals)}.")
    names = (["loss", *trainer.metrics], ["loss"])
    for which, (saved, expected) in enumerate(zip(totals, names, strict=True)):
        key = f"totals[{which}]"
        if not isinstance(saved, Mapping) or set(saved) != {"sums", "count"}:
            raise _Bad(f"{key} must be a table of sums and count, found {_show(saved)}.")
        _count(saved["count"], f"{key}.count")
        sums = saved["sums"]
        if not isinstance(sums, Mapping) or sorted(sums) != sorted(expected):
            raise _Bad(f"{key}.sums must hold {sorted(expected)}, found {_show(sums)}.")
        for name, value in sums.items():
            if not _finite_array(value, shape=()):
                raise _Bad(f"{key}.sums[{name!r}] must be a finite number, found {_show(value)}.")


def _pending(trainer: Trainer, pending: Any) -> None:
    if pending is None:
        return
    if not isinstance(pending, Mapping) or set(pending) != {
        "micro",
        "grads",
        "losses",
        "window_state",
    }:
        raise _Bad(
            f"pending must be a table of micro, grads, losses and window_state, found "
            f"{_show(pending)}."
        )
    micro = _count(pending["micro"], "pending.micro", low=1, high=trainer.accumulate_steps - 1)
    params = trainer.model.named_parameters()
    grads = pending["grads"]
    if not isinstance(grads, Mapping) or sorted(grads) != sorted(params):
        raise _Bad(f"pending.grads must hold a gradient for each of {sorted(params)}.")
    for name, grad in grads.items():
        shape = tuple(params[name].shape)
        if not _finite_array(grad, shape=shape, allow_nonfinite=True):
            raise _Bad(f"pending.grads[{name!r}] must be an array of shape {shape}.")
    losses = pending["losses"]
    if not isinstance(losses, list) or len(losses) != micro:
        raise _Bad(f"pending.losses must hold {micro} losses, found {_show(losses)}.")
    if not all(_finite_array(v, shape=(), allow_nonfinite=True) for v in losses):
        raise _Bad("pending.losses must be numbers (0-d arrays).")
    window = pending["window_state"]
    if window is None:
        return
    state = trainer.model.named_state()
    if not isinstance(window, Mapping) or sorted(window) != sorted(state):
        raise _Bad(f"pending.window_state must hold {sorted(state)}.")
    for name, value in window.items():
        shape = tuple(state[name].shape)
        if not _finite_array(value, shape=shape):
            raise _Bad(f"pending.window_state[{name!r}] must be a finite array of shape {shape}.")


def _finite_array(value: Any, *, shape: tuple[int, ...], allow_nonfinite: bool = False) -> bool:
    """A real numeric host array of ``shape`` (finite unless ``allow_nonfinite``: a pending
    gradient or loss may be what the guard will skip)."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
        return False
    if tuple(value.shape) != shape:
        return False
    return allow_nonfinite or bool(np.isfinite(value).all())


def _show(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
