"""Checkpoints: one file that resumes a run exactly, and the restore that checks it first.

A checkpoint is a neuroback file (:mod:`neuroback.file_format`) of kind
``"checkpoint"``: the model exactly as in a model file (so :func:`neuroback.load`
reads the model out of it), plus, under the header key ``trainer``, everything else a
run needs to go on as if it had never stopped:

* the optimizer's :meth:`~neuroback.Optimizer.state_dict` (slots, step counts,
  hyperparameters as a schedule left them, the transforms' state) and its skip count;
* the generators: the data order's and the one handed to ``forward`` (dropout);
* the counters (``epoch``, ``global_step``, ``batch_step``) and, inside an epoch, the
  loader's position (its shuffle order and offset) and the epoch's loss and metric sums
  so far, and the log window's;
* an unfinished accumulation window: the micro-batch count, the gradients waiting in
  the parameters, the window's losses and the layer state at the window's start;
* each callback's ``state_dict()``, and the History of the fit so far.

Under a strategy with several processes every rank calls :func:`save_checkpoint` and rank
0 writes: the state is the whole run's, not a rank's. Each rank's dropout generator is
kept (``rank_forward_rngs``), and the parts that differ by rank are stored as their sums
over the ranks: the epoch's loss and metric sums, and the gradients and losses of an
unfinished accumulation window (each rank's gradient is already scaled by its share of
the batch, so the sum is the window's gradient so far). On resume, rank 0 takes those
sums and every other rank starts them from zero, so the run goes on with the same
global numbers on any number of ranks.

Arrays anywhere in that state are stored as tensors of the file (named by where they
belong: ``optimizer/slots/0.W/exp_avg``, ``callbacks/1/3``); the JSON holds a
``{"__tensor__": name}`` in their place, and non-finite floats as
``{"__float__": "inf"}`` (JSON has no infinity).

Restoring is a transaction: the file is checked against the Trainer (the architecture
and weights, the optimizer and its transforms, the metrics, the callbacks, the data),
the Trainer's current state is captured, and if applying any part fails, the captured
state is put back before the error is raised.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..backend import Backend
from ..errors import ConfigError, FileFormatError, MissingPluginError, StateMismatchError
from ..file_format import read_file, write_file
from ..model_file import MODEL_PREFIX, check_plugins, model_header, model_tensors, provenance
from ..plugin_system import get_registry
from ..tree import is_array
from .atomic import StateSnapshot
from .checkpoint_state import check_training_state
from .data import ArrayLoader, BatchIterable
from .history import History
from .totals import Totals

if TYPE_CHECKING:
    from .trainer import Trainer

__all__ = ["ResumePoint", "restore_checkpoint", "save_checkpoint"]


@dataclass(frozen=True)
class ResumePoint:
    """Where a restored run goes on: inside an epoch (with its sums so far) or at its start."""

    #: The epoch's totals and the log window's, if the checkpoint was taken inside an epoch.
    totals: tuple[Totals, Totals] | None
    #: Whether the run had been asked to stop (``trainer.stop_training``) when it was saved.
    stopped: bool = False
    #: Puts the Trainer back as it was before the restore (``fit`` calls it when a
    #: callback's ``on_train_begin`` refuses the restored state, before any update).
    undo: Callable[[], None] | None = None


# -- writing --------------------------------------------------------------------------------
def save_checkpoint(trainer: Trainer, path: str | os.PathLike[str]) -> Path:
    """Write ``trainer``'s whole state to ``path`` (see the module docstring)."""
    state = capture(trainer)
    strategy = trainer.strategy
    if strategy.distributed:
        state = _whole_run(trainer, state)  # a collective: every rank gets here
        if not strategy.is_main:
            strategy.barrier()  # rank 0 has written the file when this returns
            return Path(path).resolve()
    packer = _Packer(trainer.backend)
    packed = packer.pack(state, "trainer")
    header = {
        **model_header(trainer.model),
        "trainer": packed,
        "identity": identity(trainer),
    }
    ident = header["identity"]
    names = [ident["optimizer"], ident["loss"], *ident["transforms"], *ident["callbacks"]]
    header["provenance"] = {**provenance(None, names=names), **header["provenance"]}
    tensors = {**model_tensors(trainer.model), **packer.tensors}
    written = write_file(path, "checkpoint", header, tensors)
    if strategy.distributed:
        strategy.barrier()
    return written


def _whole_run(trainer: Trainer, state: dict[str, Any]) -> dict[str, Any]:
    """The state of every rank as one: rank generators gathered, sums summed."""
    strategy = trainer.strategy
    state = dict(state)
    state["rank_forward_rngs"] = strategy.allgather(state["forward_rng"])
    if state["totals"] is not None:
        summed = []
        for totals in state["totals"]:
            names = sorted(totals["sums"])
            vector = [float(totals["sums"][k]) for k in names] + [float(totals["count"])]
            total = strategy.allreduce_sum(np.array(vector, dtype=np.float64))
            summed.append(
                {
                    "sums": {k: np.array(total[i]) for i, k in enumerate(names)},
                    "count": int(total[-1]),
                }
            )
        state["totals"] = summed
    pending = state["pending"]
    if pending is not None:
        pending = dict(pending)
        pending["grads"] = {k: strategy.allreduce_sum(g) for k, g in pending["grads"].items()}
        pending["losses"] = [strategy.allreduce_sum(np.asarray(v)) for v in pending["losses"]]
        state["pending"] = pending
    return state


def capture(trainer: Trainer) -> dict[str, Any]:
    """Host copies of everything but the model's weights (those go in as a model file's)."""
    backend = trainer.backend
    params = trainer.model.named_parameters()
    pending: dict[str, Any] | None = None
    if trainer._micro:
        window = trainer._window_state
        pending = {
            "micro": trainer._micro,
            "grads": {k: np.array(backend.to_host(p.grad)) for k, p in params.items()},
            "losses": [np.array(backend.to_host(v)) for v in trainer._window_losses],
            "window_state": None if window is None else window.host_copies(backend),
        }
    inside = trainer._epoch_totals is not None and trainer._log_totals is not None
    loader = trainer._loader
    return {
        "epoch": trainer.epoch,
        "global_step": trainer.global_step,
        "batch_step": trainer.batch_step,
        "optimizer": trainer.optimizer.state_dict(),
        "skipped": trainer.optimizer.skipped_steps,
        "data_rng": trainer.data_rng.bit_generator.state,
        "forward_rng": backend.generator_state(trainer.forward_rng),
        "in_epoch": inside,
        "loader": loader.state_dict() if inside and loader is not None else None,
        "totals": (
            [trainer._epoch_totals.state(), trainer._log_totals.state()]  # type: ignore[union-attr]
            if inside
            else None
        ),
        "pending": pending,
        "stop_training": bool(trainer.stop_training),
        "callbacks": [cb.state_dict() for cb in trainer._all_callbacks],
        "history": [dict(row) for row in trainer.history.epochs],
    }


def identity(trainer: Trainer) -> dict[str, Any]:
    """What must be the same in the Trainer that resumes: its parts, by registry name."""
    opt = trainer.optimizer
    return {
        "optimizer": _name(opt),
        "transforms": [_name(t) for t in opt.transforms],
        "loss": _name(trainer.loss),
        "metrics": list(trainer.metrics),
        "callbacks": [_name(cb) for cb in trainer._all_callbacks],
        "accumulate_steps": trainer.accumulate_steps,
    }


def _name(component: Any) -> str:
    """The qualified registry name, or the class path of an unregistered class."""
    cls = type(component)
    try:
        return get_registry().qualified_name(cls)
    except ConfigError:
        return f"{cls.__module__}.{cls.__qualname__}"


# -- reading --------------------------------------------------------------------------------
def restore_checkpoint(
    trainer: Trainer, path: str | os.PathLike[str], data: ArrayLoader | BatchIterable
) -> ResumePoint:
    """Check the checkpoint at ``path`` against ``trainer`` and ``data``, then apply it.

    Raises :class:`~neuroback.errors.StateMismatchError` naming what differs (nothing is
    changed then), :class:`~neuroback.errors.FileFormatError` for a damaged file.
    """
    header, tensors = read_file(path, kind="checkpoint")
    check_plugins(header, path)
    packed = header.get("trainer")
    if not isinstance(packed, dict):
        raise FileFormatError(f"{path} is damaged: it holds no training state.")
    try:
        state = _unpack(packed, tensors)
    except (KeyError, TypeError, ValueError, RecursionError) as exc:
        raise FileFormatError(
            f"{path} is damaged: its training state is malformed ({type(exc).__name__}: {exc})."
        ) from None
    weights = {k[len(MODEL_PREFIX) :]: v for k, v in tensors.items() if k.startswith(MODEL_PREFIX)}
    _check_architecture(trainer, header.get("architecture"), weights, path)
    _check_identity(trainer, header.get("identity"), path)
    inside = isinstance(state, Mapping) and state.get("in_epoch") is True
    if inside and not isinstance(data, ArrayLoader):
        raise StateMismatchError(
            f"{path} was written inside epoch {state.get('epoch')} (after batch step "
            f"{state.get('batch_step')}), and a batch iterable can resume only at the start of "
            f"an epoch: it cannot be told where to start. Pass the data as arrays "
            f"(fit(x, y, ...)), or resume from a checkpoint written at an epoch's end "
            f"(ModelCheckpoint(every_n_epochs=1))."
        )
    check_training_state(trainer, state, path)
    before = capture(trainer)
    before_weights = trainer.model.state_dict()
    # the callbacks' attributes as they are: load_state_dict may set more than it restores
    # (EarlyStopping's "just resumed" flag), and an undo must leave those as they were
    bindings = [dict(vars(cb)) for cb in trainer._all_callbacks]

    def undo() -> None:
        _apply(trainer, before, before_weights, data, restoring=True)
        for cb, attributes in zip(trainer._all_callbacks, bindings, strict=True):
            vars(cb).clear()
            vars(cb).update(attributes)

    try:
        point = _apply(trainer, state, weights, data)
    except BaseException as exc:
        undo()
        documented = (StateMismatchError, FileFormatError, MissingPluginError)
        if isinstance(exc, documented) or not isinstance(exc, Exception):
            raise
        # a part of the training state that its owner refused: the file is damaged
        raise FileFormatError(
            f"{path} is damaged: its training state cannot be applied ({type(exc).__name__}: "
            f"{exc}). Nothing was changed."
        ) from exc
    return ResumePoint(point.totals, point.stopped, undo)


def _apply(
    trainer: Trainer,
    state: Mapping[str, Any],
    weights: Mapping[str, np.ndarray],
    data: ArrayLoader | BatchIterable,
    *,
    restoring: bool = False,
) -> ResumePoint:
    backend = trainer.backend
    model = trainer.model
    model.load_state_dict(weights)
    opt = trainer.optimizer
    opt.load_state_dict(state["optimizer"])
    opt._skipped = _count(state["skipped"], "skipped")
    trainer.data_rng.bit_generator.state = state["data_rng"]
    # rank r takes its own dropout stream; a rank the run did not have keeps its new one
    rank = trainer.strategy.rank
    ranks = state.get("rank_forward_rngs")
    forward = state["forward_rng"] if rank == 0 else None
    if isinstance(ranks, list) and rank < len(ranks):
        forward = ranks[rank]
    if forward is not None:
        backend.set_generator_state(trainer.forward_rng, forward)
    # sums over the ranks (see the module docstring): rank 0 carries them, others start at 0
    carries_sums = rank == 0 or restoring
    trainer.epoch = _count(state["epoch"], "epoch")
    trainer.global_step = _count(state["global_step"], "global_step")
    trainer.batch_step = _count(state["batch_step"], "batch_step")
    callbacks = state["callbacks"]
    for cb, cb_state in zip(trainer._all_callbacks, callbacks, strict=True):
        cb.load_state_dict(cb_state)
    trainer.history = History([dict(row) for row in state["history"]])
    model.zero_grad()
    trainer._micro, trainer._window_losses, trainer._window_state = 0, [], None
    pending = state["pending"]
    if pending is not None:
        params = model.named_parameters()
        if carries_sums:
            for name, grad in pending["grads"].items():
                params[name].grad[...] = backend.asarray(grad)
        for param in params.values():
            param.grad  # noqa: B018  (zero, not lazily zero: the window's sum reads it)
        trainer._window_losses = [
            backend.asarray(v if carries_sums else np.zeros_like(v)) for v in pending["losses"]
        ]
        copies = pending["window_state"]
        if copies is not None:
            trainer._window_state = StateSnapshot.from_copies(model.named_state(), copies, backend)
        trainer._micro = _count(pending["micro"], "micro")
    if restoring:
        return ResumePoint(None)
    stopped = state.get("stop_training") is True
    if state["in_epoch"]:
        loader = cast(ArrayLoader, data)  # checked by restore_checkpoint
        try:
            loader.load_state_dict(state["loader"])
        except ValueError as exc:
            raise StateMismatchError(
                f"The checkpoint's position in the data does not fit the data given: {exc} "
                f"Resume with the data (and batch_size, shuffle, drop_last) of the interrupted "
                f"run."
            ) from None
        strategy = trainer.strategy
        epoch_totals = Totals(backend, trainer.metrics, strategy)
        log_totals = Totals(backend, {}, strategy)
        saved_epoch, saved_log = state["totals"]
        for totals, saved in ((epoch_totals, saved_epoch), (log_totals, saved_log)):
            if sorted(saved["sums"]) != sorted(totals.names()):
                raise StateMismatchError(
                    f"The checkpoint's epoch sums are for {sorted(saved['sums'])}, this Trainer "
                    f"logs {sorted(totals.names())}."
                )
            if carries_sums:
                totals.load(saved)
        return ResumePoint((epoch_totals, log_totals), stopped)
    return ResumePoint(None, stopped)


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FileFormatError(
            f"The checkpoint's {what} must be a non-negative integer, got {value!r}."
        )
    return value


def _check_identity(trainer: Trainer, saved: Any, path: Any) -> None:
    if not isinstance(saved, dict):
        raise FileFormatError(f"{path} is damaged: it does not say what trained it.")
    current = identity(trainer)
    labels = {
        "optimizer": "the optimizer",
        "transforms": "the optimizer's gradient transforms",
        "loss": "the loss",
        "metrics": "the metrics",
        "callbacks": "the callbacks",
        "accumulate_steps": "accumulate_steps",
    }
    differences = [
        f"  {labels[key]}: the checkpoint has {saved.get(key)!r}, this Trainer has {value!r}"
        for key, value in current.items()
        if saved.get(key) != value
    ]
    if differences:
        raise StateMismatchError(
            f"{path} was written by a Trainer built differently:\n"
            + "\n".join(differences)
            + "\nBuild the Trainer as the interrupted run did (same components, in the same "
            "order) to resume it."
        )


def _check_architecture(
    trainer: Trainer, saved: Any, weights: Mapping[str, np.ndarray], path: Any
) -> None:
    from ..weights import check_state_dict

    problems = check_state_dict(trainer.model, weights, source="the checkpoint")
    if problems:
        raise StateMismatchError(
            f"{path} holds another architecture than this Trainer's model "
            f"({len(problems)} difference(s)):\n" + "\n".join(problems) + "\nBuild the "
            f"model the checkpoint was written from (neuroback.load({str(path)!r}) rebuilds it)."
        )
    from ..config import to_spec

    if saved != to_spec(trainer.model):
        raise StateMismatchError(
            f"{path} holds a model with the same weights but other layers than this Trainer's "
            f"(the architecture recorded is {saved!r}). Build the model it was written from "
            f"(neuroback.load({str(path)!r}) rebuilds it)."
        )


# -- arrays inside JSON ------------------------------------------------------------------------
class _Packer:
    """Replaces arrays in a nested state by tensor references, and non-finite floats by tags."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend  # arrays of the Trainer's backend are copied to the host
        self.tensors: dict[str, np.ndarray] = {}

    def pack(self, value: Any, where: str) -> Any:
        if is_array(value) and not isinstance(value, np.generic):
            host = value if isinstance(value, np.ndarray) else self.backend.to_host(value)
            self.tensors[where] = np.asarray(host, order="C")  # keeps 0-d arrays 0-d
            return {"__tensor__": where}
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            return {"__float__": repr(value)}
        if isinstance(value, Mapping):
            bad = [k for k in value if not isinstance(k, str)]
            if bad:
                raise TypeError(f"{where} has a key {bad[0]!r} that is not a string.")
            return {k: self.pack(v, f"{where}/{k}") for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.pack(v, f"{where}/{i}") for i, v in enumerate(value)]
        if value is None or isinstance(value, bool | int | float | str):
            return value
        raise TypeError(
            f"{where} holds a {type(value).__name__}, which a checkpoint cannot store: a state "
            f"must be made of JSON values (numbers, strings, lists, dicts) and arrays."
        )


def _unpack(value: Any, tensors: Mapping[str, np.ndarray]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__tensor__"}:
            return np.array(tensors[value["__tensor__"]])
        if set(value) == {"__float__"}:
            text = value["__float__"]
            if text not in ("inf", "-inf", "nan"):
                raise ValueError(f"unknown float tag {text!r}")
            return float(text)
        return {k: _unpack(v, tensors) for k, v in value.items()}
    if isinstance(value, list):
        return [_unpack(v, tensors) for v in value]
    return value
