"""Fuzzing resume: whatever a checkpoint holds, ``fit(resume_from=)`` resumes or fails
in a documented way, and a failure changes nothing.

The contract of ``trainer.fit(x, y, epochs=E, resume_from=path)``: for any file content it
either resumes, or raises :class:`~neuroback.errors.FileFormatError`,
:class:`~neuroback.errors.StateMismatchError` or
:class:`~neuroback.errors.MissingPluginError` (never a ``KeyError``, ``TypeError``,
``ValueError``, ``IndexError`` or ``AttributeError`` from the internals); when it raises,
the Trainer is exactly as it was before the call (weights, optimizer state, counters,
generators, History, callback states), and training afterwards still works.
:func:`neuroback.load` on a checkpoint follows the model-file contract (FileFormatError or
MissingPluginError only).

One real checkpoint is written per module, mid-epoch at an odd batch step of a run with
``accumulate_steps=2`` (so it holds a pending accumulation window, the loader's position
and the epoch's sums), by a Trainer with BatchNorm, Dropout, Adam with ClipByGlobalNorm,
EarlyStopping (with its best weights) and a LearningRateScheduler. It is then cut short,
bit-flipped, overwritten, or re-encoded (valid safetensors) with its ``trainer`` and
``identity`` header entries and its tensors rewritten, and resumed into a Trainer built
the same way that has trained an epoch of its own.

Each bug the fuzzing found (12 of them: escaping errors, unchecked types and counts,
callback states taken on trust, a rollback that left a flag behind) has its own test at the
end of this file and is fixed. A new finding can be pinned as a strict xfail test, with an
entry in ``KNOWN_BUGS`` so the fuzz tests recognize it meanwhile.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fuzz_support import DELETE as _DELETE
from fuzz_support import decode as _decode
from fuzz_support import fuzz
from fuzz_support import get_at as _get
from fuzz_support import paths as _paths
from fuzz_support import replaced as _replaced
from fuzz_support import short as _short
from fuzz_support import write as _write
from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from safetensors.numpy import load_file
from safetensors.numpy import save as safetensors_save

import neuroback as nb
from neuroback.errors import FileFormatError, MissingPluginError, StateMismatchError

ALLOWED = (FileFormatError, StateMismatchError, MissingPluginError)
LOAD_ALLOWED = (FileFormatError, MissingPluginError)


# 30 samples in batches of 8: 4 batches per epoch, the last of 6; accumulate_steps=2, so
# after batch step 7 (the third batch of the second epoch) one micro-batch is pending
RNG = np.random.default_rng(0)
X = RNG.normal(size=(30, 4)).astype(np.float32)
Y = RNG.normal(size=(30, 3)).astype(np.float32)
BATCH = 8
EPOCHS = 3
SAVE_AT = 7


# -- the Trainer, built the same way for writing and resuming -------------------------------
class _SaveAt(nb.Callback):
    """Writes a checkpoint after batch step ``at`` (and lets the run go on)."""

    def __init__(self, path: Path | None = None, at: int | None = None) -> None:
        self.path, self.at = path, at

    def on_batch_end(self, trainer: Any, step: int, logs: Any) -> None:
        if self.at is not None and trainer.batch_step == self.at:
            assert self.path is not None
            trainer.save_checkpoint(self.path)


def _model(dropout: float = 0.2) -> nb.Layer:
    return nb.Sequential(
        nb.layers.Dense(4, 8),
        nb.layers.BatchNorm(8),
        nb.layers.ReLU(),
        nb.layers.Dropout(dropout),
        nb.layers.Dense(8, 3),
    )


def build_trainer(
    *,
    save_to: Path | None = None,
    at: int | None = None,
    model: Callable[[], nb.Layer] = _model,
    metrics: tuple[str, ...] = ("mae",),
    extra: tuple[nb.Callback, ...] = (),
) -> nb.Trainer:
    """The Trainer that writes the checkpoint (``save_to``, ``at``) and the ones that resume
    it (the defaults); the keywords build the ones that differ."""
    nb.seed(0)
    optimizer = nb.optimizers.Adam(lr=0.01, transforms=[nb.transforms.ClipByGlobalNorm(1.0)])
    callbacks = [
        nb.callbacks.EarlyStopping("loss", patience=5),
        nb.callbacks.LearningRateScheduler(nb.schedules.Cosine(total=40), interval="step"),
        _SaveAt(save_to, at),
        *extra,
    ]
    return nb.Trainer(
        model(),
        "MSE",
        optimizer,
        callbacks=callbacks,
        metrics=list(metrics),
        seed=1,
        log_every_n_steps=2,
        accumulate_steps=2,
    )


def trained_trainer() -> nb.Trainer:
    """A resuming Trainer whose own state (an epoch trained) differs from the checkpoint's."""
    trainer = build_trainer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(X, Y, epochs=1, batch_size=BATCH)
    return trainer


# -- the Trainer's whole state, to compare ----------------------------------------------------
def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=lambda a: [str(a.dtype), a.tolist()])


def snapshot(trainer: nb.Trainer) -> dict[str, Any]:
    """Everything a refused resume must leave as it was (arrays exactly, by their bytes)."""
    return {
        "weights": {
            k: (v.dtype.str, v.shape, v.tobytes()) for k, v in trainer.model.state_dict().items()
        },
        "optimizer": _json(trainer.optimizer.state_dict()),
        "skipped": trainer.optimizer.skipped_steps,
        "counters": (trainer.epoch, trainer.global_step, trainer.batch_step),
        "data_rng": _json(trainer.data_rng.bit_generator.state),
        "forward_rng": _json(trainer.backend.generator_state(trainer.forward_rng)),
        "history": _json(trainer.history.epochs),
        "callbacks": [_json(cb.state_dict()) for cb in trainer.callbacks],
        "pending": trainer.pending_micro_batches,
    }


def _differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    out = []
    for key, value in before.items():
        if key == "weights":
            out += [f"weights[{k!r}]" for k in value if after[key].get(k) != value[k]]
        elif after[key] != value:
            out.append(key)
    return out


# -- the documented-errors check --------------------------------------------------------------
def _frames(exc: BaseException) -> list[tuple[str, str]]:
    """(file name, function) of every frame the exception went through, outermost first."""
    return [(Path(f.filename).name, f.name) for f in traceback.extract_tb(exc.__traceback__)]


@dataclass(frozen=True)
class KnownBug:
    """A failure the fuzzing found and an xfail test below pins (see the module docstring)."""

    name: str
    matches: Callable[[BaseException, list[tuple[str, str]]], bool]


def _in(frames: list[tuple[str, str]], file: str, function: str | None = None) -> bool:
    return any(f == file and (function is None or n == function) for f, n in frames)


KNOWN_BUGS: list[KnownBug] = []  # every bug the fuzzing found is fixed; add new ones here


def known_bug(exc: BaseException) -> KnownBug | None:
    frames = _frames(exc)
    for bug in KNOWN_BUGS:
        if bug.matches(exc, frames):
            return bug
    return None


def _note(text: str) -> None:
    if currently_in_test_context():  # --hypothesis-show-statistics: how far inputs got
        event(text)


def _escaped(exc: BaseException, what: Any, allowed: tuple[type[BaseException], ...]) -> str:
    kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
    names = " or ".join(t.__name__ for t in allowed)
    where = " <- ".join(f"{f}:{n}" for f, n in reversed(_frames(exc)[-4:]))
    return (
        f"{kind} escaped (only {names} may): {_short(str(exc), 600)}\n"
        f"raised at: {where}\ninput: {_short(what)}"
    )


def _plain_fit_works(trainer: nb.Trainer, what: Any, *, strict: bool = False) -> None:
    """A plain fit after the resume (refused or not) trains, raising nothing."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer.fit(X, Y, epochs=1, batch_size=BATCH)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        bug = None if strict else known_bug(exc)
        if bug is not None:
            _note(f"known bug: {bug.name}")
            return
        raise AssertionError(
            "a plain fit after the resume failed: " + _escaped(exc, what, ())
        ) from exc


def check_resume(
    path: Path, what: Any, trainer: nb.Trainer | None = None, *, strict: bool = False
) -> BaseException | None:
    """Resume a trained Trainer from ``path``: it resumes, or raises a documented error and
    is left exactly as it was; either way a plain fit afterwards works. Returns the error.

    A failure of a known bug (``KNOWN_BUGS``) is let through unless ``strict``."""
    trainer = trainer if trainer is not None else trained_trainer()
    before = snapshot(trainer)
    error: BaseException | None = None
    try:
        with warnings.catch_warnings():  # damaged numbers overflow: not what is tested here
            warnings.simplefilter("ignore")
            trainer.fit(X, Y, epochs=EPOCHS, batch_size=BATCH, resume_from=path)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        bug = None if strict else known_bug(exc)
        if bug is not None:  # pinned below; the Trainer may have changed
            _note(f"known bug: {bug.name}")
            return exc
        if not isinstance(exc, ALLOWED):
            # (a RecursionError's thousand frames are left out of the report)
            cause = None if isinstance(exc, RecursionError) else exc
            raise AssertionError(_escaped(exc, what, ALLOWED)) from cause
        error = exc
    if error is not None:
        changed = _differences(before, snapshot(trainer))
        assert not changed, (
            f"a refused resume ({type(error).__name__}: {_short(str(error), 300)}) changed "
            f"the Trainer's {changed}; input: {_short(what)}"
        )
    _note(f"resume: {type(error).__name__ if error is not None else 'resumed'}")
    _plain_fit_works(trainer, what, strict=strict)
    return error


def check_load(path: Path, what: Any) -> BaseException | None:
    """neuroback.load reads the model out of ``path`` or raises a documented error."""
    try:
        model = nb.load(path)
    except LOAD_ALLOWED as exc:
        return exc
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        raise AssertionError(_escaped(exc, what, LOAD_ALLOWED)) from exc
    assert isinstance(model, nb.Layer), f"load returned {type(model).__name__}"
    for name, value in model.state_dict().items():
        if value.dtype.kind in "fc":
            assert np.isfinite(value).all(), f"load accepted non-finite weights in {name}"
    return None


# -- the checkpoint everything starts from ----------------------------------------------------
@dataclass(frozen=True)
class Checkpoint:
    path: Path
    data: bytes  # the whole file
    header_end: int  # 8 + the safetensors header's length: the data region starts here
    raw: dict[str, Any]  # the safetensors header (tensor entries and __metadata__)
    header: dict[str, Any]  # neuroback's header (the JSON string under __metadata__)
    tensors: dict[str, np.ndarray]  # the file's tensors, as safetensors reads them

    def tensor_at(self, position: int) -> str | None:
        """The tensor whose bytes hold ``position`` of the file (None: in the header)."""
        for name, entry in self.raw.items():
            if name == "__metadata__":
                continue
            start, stop = entry["data_offsets"]
            if self.header_end + start <= position < self.header_end + stop:
                return name
        return None


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Checkpoint:
    folder = tmp_path_factory.mktemp("checkpoint")
    path = folder / "mid-epoch.safetensors"
    writer = build_trainer(save_to=path, at=SAVE_AT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        writer.fit(X, Y, epochs=EPOCHS, batch_size=BATCH)
    data = path.read_bytes()
    header_end, raw = _decode(data)
    header = json.loads(raw["__metadata__"]["neuroback"])
    state = header["trainer"]
    # what the fuzzing needs to reach: a pending window, a position and sums in the epoch
    assert state["in_epoch"] is True and state["batch_step"] == SAVE_AT
    assert state["pending"]["micro"] == 1 and state["loader"]["offset"] == 24
    assert state["totals"] is not None and state["callbacks"][0]["best_weights"]
    # the starting point itself resumes the run exactly, or none of the fuzzing means much
    resumed = build_trainer()
    resumed.fit(X, Y, epochs=EPOCHS, batch_size=BATCH, resume_from=path)
    for name, value in writer.model.state_dict().items():
        np.testing.assert_array_equal(resumed.model.state_dict()[name], value, err_msg=name)
    assert resumed.history.epochs == writer.history.epochs
    assert (resumed.epoch, resumed.global_step, resumed.batch_step) == (
        writer.epoch,
        writer.global_step,
        writer.batch_step,
    )
    assert check_load(path, "the original") is None
    return Checkpoint(path, data, header_end, raw, header, load_file(path))


def _rewrite(
    folder: Path, header: Any, tensors: dict[str, np.ndarray], *, text: str | None = None
) -> Path:
    """``tensors`` with ``header`` as neuroback's header, as a valid safetensors file."""
    text = json.dumps(header) if text is None else text
    return _write(folder, safetensors_save(tensors, metadata={"neuroback": text}))


# -- 1. truncation ---------------------------------------------------------------------------
def test_no_strict_prefix_of_a_checkpoint_resumes(tmp_path: Path, checkpoint: Checkpoint) -> None:
    data = checkpoint.data
    rng = random.Random("truncate")
    # every prefix of the header region, a sample of the data region, and one byte short
    lengths = {*range(checkpoint.header_end + 1), len(data) - 1}
    lengths |= set(rng.sample(range(checkpoint.header_end + 1, len(data)), 150))
    trainer = trained_trainer()
    before = snapshot(trainer)
    path = _write(tmp_path, data)
    for length in sorted(lengths, reverse=True):  # the file cut shorter and shorter
        os.truncate(path, length)
        what = f"cut to {length} of {len(data)} bytes"
        for call in (
            lambda: trainer.fit(X, Y, epochs=EPOCHS, batch_size=BATCH, resume_from=path),
            lambda: nb.load(path),
        ):
            try:
                call()
            except FileFormatError:
                continue
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:
                raise AssertionError(_escaped(exc, what, (FileFormatError,))) from exc
            raise AssertionError(f"a truncated checkpoint was accepted: {what}")
    changed = _differences(before, snapshot(trainer))
    assert not changed, f"refused truncated checkpoints changed the Trainer's {changed}"
    _plain_fit_works(trainer, "after the truncations")
    # the whole file still resumes
    assert check_resume(_write(tmp_path, data), "the whole file") is None


# -- 2. flipped and overwritten bytes ----------------------------------------------------------
@dataclass(frozen=True)
class Edited:
    """Damaged bytes, a rewritten header or tensors; shown (in a failure) as the edits alone."""

    value: Any
    done: list[Any]

    def __repr__(self) -> str:
        return f"Edited({self.done!r})"


@st.composite
def _byte_damage(draw: st.DrawFn, original: Checkpoint) -> Edited:
    data = bytearray(original.data)
    done = []
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "flip", "overwrite", "extreme"]))
        # half the time in the data region, where the weights and the training state are
        low = draw(st.sampled_from([0, original.header_end]))
        pos = draw(st.integers(low, len(data) - 1))
        if op == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[pos : pos + len(chunk)] = chunk
        else:  # a float32 or float64 that is NaN, infinite, huge, tiny or negative
            chunk = draw(
                st.sampled_from(
                    [
                        np.float32(np.nan).tobytes(),
                        np.float32(np.inf).tobytes(),
                        np.float32(-3e38).tobytes(),
                        np.float32(1e-45).tobytes(),
                        np.float32(-1.0).tobytes(),
                        np.float64(np.nan).tobytes(),
                        np.float64(1e300).tobytes(),
                    ]
                )
            )
            pos -= (pos - original.header_end) % 4 if pos >= original.header_end else 0
            data[pos : pos + len(chunk)] = chunk
        where = original.tensor_at(pos) or "header"
        done.append(f"{op}@{pos} ({where})")
    return Edited(bytes(data[: len(original.data)]), done)


@fuzz(80)
@given(data=st.data())
def test_damaged_bytes_resume_or_raise_documented_errors_and_change_nothing(
    tmp_path: Path, checkpoint: Checkpoint, data: st.DataObject
) -> None:
    content = data.draw(_byte_damage(checkpoint))
    path = _write(tmp_path, content.value)
    check_load(path, content)
    check_resume(path, content)


# -- 3. rewritten training state (valid safetensors, altered JSON and tensors) ---------------
JSON_INTS = st.integers(-3, 40) | st.sampled_from(
    [2**31, 2**53 + 1, 2**63, 2**64, 2**128, -(2**63), 10**30]
)
FLOAT_TAGS = st.sampled_from(
    [{"__float__": "nan"}, {"__float__": "inf"}, {"__float__": "-inf"}, {"__float__": "x"}]
) | st.fixed_dictionaries({"__float__": st.none() | st.integers() | st.text(max_size=4)})
WORDS = ["Adam", "SGD", "PCG64", "MT19937", "loss", "mae", "exp_avg", "exp_avg_sq", "0.W"]
WORDS += ["neuroback:Adam", "neuroback:EarlyStopping", "__tensor__", "__float__", ""]
KEY_NAMES = ["epoch", "global_step", "batch_step", "optimizer", "loader", "totals", "pending"]
KEY_NAMES += ["callbacks", "history", "data_rng", "forward_rng", "in_epoch", "stop_training"]
KEY_NAMES += ["micro", "grads", "losses", "window_state", "sums", "count", "order", "offset"]
KEY_NAMES += ["rng", "state", "inc", "best", "wait", "base", "lr", "type", "slots", "0.W"]
KEY_NAMES += ["__tensor__", "__float__"]
KEYS = st.sampled_from(KEY_NAMES) | st.text(max_size=6)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | JSON_INTS
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([math.nan, math.inf, -math.inf])  # as JSON's NaN/Infinity, read anyway
    | st.sampled_from(WORDS)
    | st.text(max_size=8)
)


def _tensor_refs(tensors: dict[str, np.ndarray]) -> st.SearchStrategy[Any]:
    """``{"__tensor__": name}``: one of the file's tensors, a missing one, or not a name."""
    names = sorted(tensors)
    return st.fixed_dictionaries(
        {
            "__tensor__": st.sampled_from(names)
            | st.sampled_from(["missing", "", "model/0.W/x"])
            | JSON_SCALARS
            | st.lists(st.sampled_from(names), max_size=2)
        }
    )


def _json_values(tensors: dict[str, np.ndarray], subtrees: list[Any]) -> st.SearchStrategy[Any]:
    """Generated JSON values, tagged ones, and copies of the checkpoint's own subtrees."""
    leaves = JSON_SCALARS | FLOAT_TAGS | _tensor_refs(tensors)
    generated = st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4)
        ),
        max_leaves=10,
    )
    return generated | st.sampled_from(subtrees)


#: the parts a rewrite aims at, each drawn equally often (then a path inside it)
_PARTS = [
    ("trainer",),
    ("trainer", "epoch"),
    ("trainer", "global_step"),
    ("trainer", "batch_step"),
    ("trainer", "skipped"),
    ("trainer", "optimizer"),
    ("trainer", "loader"),
    ("trainer", "totals"),
    ("trainer", "pending"),
    ("trainer", "callbacks"),
    ("trainer", "history"),
    ("trainer", "data_rng"),
    ("trainer", "forward_rng"),
    ("trainer", "in_epoch"),
    ("trainer", "stop_training"),
    ("identity",),
]


@st.composite
def _state_edits(draw: st.DrawFn, original: Checkpoint, subtrees: list[Any]) -> Edited:
    header = original.header
    values = _json_values(original.tensors, subtrees)
    edited: Any = header
    done: list[Any] = []
    for _ in range(draw(st.integers(1, 3))):
        part = draw(st.sampled_from(_PARTS))
        path = draw(st.sampled_from(list(_paths(_get(header, part), part))))
        target = _get(edited, path)
        if target is _DELETE:  # an earlier edit removed it
            continue
        action = draw(st.sampled_from(["replace", "replace", "delete", "add", "nudge", "tag"]))
        if action == "delete" and len(path) > 1:
            edited = _replaced(edited, path, _DELETE)
        elif action == "add" and isinstance(target, dict | list):
            key = len(target) if isinstance(target, list) else draw(KEYS)
            path = (*path, key)
            edited = _replaced(edited, path, draw(values))
        elif action == "nudge" and isinstance(target, int) and not isinstance(target, bool):
            # a count that is plausible but wrong: one off, negative, or too large
            delta = draw(st.sampled_from([-1, 1, 2, -target - 1, 2**64]))
            edited = _replaced(edited, path, target + delta)
        elif action == "tag":  # a tensor reference or a float tag in place of the value
            edited = _replaced(edited, path, draw(FLOAT_TAGS | _tensor_refs(original.tensors)))
        else:
            action = "replace"
            edited = _replaced(edited, path, draw(values))
        done.append((action, path, _short(_get(edited, path), 120)))
    return Edited(edited, done)


_DTYPES = ["float32", "float64", "float16", "int64", "int32", "uint8", "bool"]


@st.composite
def _tensor_edits(draw: st.DrawFn, original: Checkpoint) -> Edited:
    tensors = dict(original.tensors)
    names = sorted(tensors)
    done: list[Any] = []
    for _ in range(draw(st.integers(1, 2))):
        name = draw(st.sampled_from(names))
        if name not in tensors:
            continue
        action = draw(st.sampled_from(["remove", "rename", "reshape", "retype", "values"]))
        old = tensors[name]
        if action == "remove":
            del tensors[name]
        elif action == "rename":
            new = draw(st.sampled_from([name + "x", name.upper(), "model/9.W", "trainer/x"]))
            tensors[new] = tensors.pop(name)
            action = f"rename to {new}"
        elif action == "reshape":
            shape = draw(
                st.sampled_from([(), (1,), (0,), (2, 2), (old.size,), old.shape[::-1]])
                | st.lists(st.integers(0, 9), max_size=3).map(tuple)
            )
            tensors[name] = np.resize(old, shape).astype(old.dtype)
            action = f"reshape to {shape}"
        elif action == "retype":
            dtype = draw(st.sampled_from(_DTYPES))
            with np.errstate(all="ignore"):
                tensors[name] = old.astype(dtype)
            action = f"retype to {dtype}"
        else:
            value = draw(st.sampled_from([np.nan, np.inf, -np.inf, -1.0, 0.0, 1e30, 2.0**64]))
            with np.errstate(all="ignore"):
                tensors[name] = np.full(old.shape, value).astype(old.dtype)
            action = f"fill with {value}"
        done.append((action, name))
    return Edited(tensors, done)


@pytest.fixture(scope="module")
def subtrees(checkpoint: Checkpoint) -> list[Any]:
    """The checkpoint's own subtrees of its training state (for plausible replacements)."""
    state = checkpoint.header["trainer"]
    return [_get(state, path) for path in _paths(state) if path]


@fuzz(160)
@given(data=st.data())
def test_rewritten_training_state_resumes_or_raises_documented_errors_and_changes_nothing(
    tmp_path: Path, checkpoint: Checkpoint, subtrees: list[Any], data: st.DataObject
) -> None:
    header = data.draw(_state_edits(checkpoint, subtrees))
    path = _rewrite(tmp_path, header.value, checkpoint.tensors)
    check_resume(path, header)


@fuzz(80)
@given(data=st.data())
def test_rewritten_tensors_resume_or_raise_documented_errors_and_change_nothing(
    tmp_path: Path, checkpoint: Checkpoint, data: st.DataObject
) -> None:
    tensors = data.draw(_tensor_edits(checkpoint))
    path = _rewrite(tmp_path, checkpoint.header, tensors.value)
    check_load(path, tensors)
    check_resume(path, tensors)


@fuzz(40)
@given(data=st.data())
def test_rewritten_state_and_tensors_together(
    tmp_path: Path, checkpoint: Checkpoint, subtrees: list[Any], data: st.DataObject
) -> None:
    header = data.draw(_state_edits(checkpoint, subtrees))
    tensors = data.draw(_tensor_edits(checkpoint))
    path = _rewrite(tmp_path, header.value, tensors.value)
    check_load(path, (header, tensors))
    check_resume(path, (header, tensors))


@pytest.mark.parametrize(
    "part", ["trainer", "identity", "trainer.optimizer", "trainer.loader", "trainer.pending"]
)
def test_each_part_of_the_training_state_deleted_is_a_file_format_error(
    tmp_path: Path, checkpoint: Checkpoint, part: str
) -> None:
    path_in_header = tuple(part.split("."))
    header = _replaced(checkpoint.header, path_in_header, _DELETE)
    path = _rewrite(tmp_path, header, checkpoint.tensors)
    error = check_resume(path, f"without {part}")
    assert isinstance(error, FileFormatError), f"without {part}: {error!r}"
    assert str(path) in str(error)


@pytest.mark.parametrize(
    "name",
    [
        "trainer/optimizer/slots/0.W/exp_avg",
        "trainer/pending/grads/4.b",
        "trainer/totals/0/sums/mae",
        "trainer/callbacks/0/best_weights/1.running_var",
    ],
)
def test_a_missing_referenced_tensor_is_a_file_format_error(
    tmp_path: Path, checkpoint: Checkpoint, name: str
) -> None:
    tensors = {k: v for k, v in checkpoint.tensors.items() if k != name}
    path = _rewrite(tmp_path, checkpoint.header, tensors)
    error = check_resume(path, f"without the tensor {name}")
    assert isinstance(error, FileFormatError), f"without {name}: {error!r}"
    assert name in str(error)


# -- 4. a checkpoint of another Trainer ------------------------------------------------------
def _other_model() -> nb.Layer:
    return nb.Sequential(nb.layers.Dense(4, 8), nb.layers.ReLU(), nb.layers.Dense(8, 3))


def _other_dropout() -> nb.Layer:
    return _model(dropout=0.5)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        pytest.param(
            lambda: build_trainer(extra=(nb.Callback(),)),
            r"the callbacks: the checkpoint has \['neuroback:EarlyStopping', "
            r"'neuroback:LearningRateScheduler', '[\w.]*_SaveAt'\], this Trainer has "
            r"\[.*'neuroback.callback.Callback'\]",
            id="one callback more",
        ),
        pytest.param(
            lambda: build_trainer(metrics=()),
            r"the metrics: the checkpoint has \['mae'\], this Trainer has \[\]",
            id="no metrics",
        ),
        pytest.param(
            lambda: build_trainer(metrics=("mae", "mse")),
            r"the metrics: the checkpoint has \['mae'\], this Trainer has \['mae', 'mse'\]",
            id="one metric more",
        ),
        pytest.param(
            lambda: build_trainer(model=_other_model),
            r"(?s)another architecture than this Trainer's model \(8 difference\(s\)\):\n"
            r"  2\.W: missing from the checkpoint\n.*  1\.gamma: not in this model\n",
            id="another model",
        ),
        pytest.param(
            lambda: build_trainer(model=_other_dropout),
            r"holds a model with the same weights but other layers than this Trainer's .*"
            r"'p': 0\.2",
            id="the same weights, another dropout rate",
        ),
    ],
)
def test_a_checkpoint_of_another_trainer_is_a_state_mismatch_naming_it(
    tmp_path: Path, checkpoint: Checkpoint, make: Callable[[], nb.Trainer], match: str
) -> None:
    trainer = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(X, Y, epochs=1, batch_size=BATCH)
    error = check_resume(checkpoint.path, match, trainer)
    assert isinstance(error, StateMismatchError), repr(error)
    assert re.search(match, str(error)), str(error)


def test_the_model_of_a_checkpoint_loads(checkpoint: Checkpoint) -> None:
    model = nb.load(checkpoint.path)
    for name, value in checkpoint.tensors.items():
        if name.startswith("model/"):
            np.testing.assert_array_equal(model.state_dict()[name[len("model/") :]], value)


# -- what the fuzzing found: library bugs, each pinned by a strict xfail -----------------------
def _edited(
    folder: Path,
    original: Checkpoint,
    edits: dict[tuple[Any, ...], Any],
    tensors: dict[str, np.ndarray] | None = None,
) -> Path:
    """The checkpoint with the values at the header paths of ``edits`` replaced (and its
    tensors updated with ``tensors``)."""
    header: Any = original.header
    for path, value in edits.items():
        header = _replaced(header, path, value)
    return _rewrite(folder, header, {**original.tensors, **(tensors or {})})


def _refused(path: Path, what: Any) -> BaseException:
    """The resume from ``path`` keeps the whole contract (no known bug excused) and refuses."""
    error = check_resume(path, what, strict=True)
    assert error is not None, f"a damaged checkpoint was accepted: {what}"
    return error


def test_an_optimizer_slot_of_the_wrong_shape_is_a_documented_error(
    tmp_path: Path, checkpoint: Checkpoint
) -> None:
    slot = ("trainer", "optimizer", "slots", "0.W", "exp_avg")
    path = _edited(tmp_path, checkpoint, {slot: {"__tensor__": "model/0.b"}})
    _refused(path, "slots/0.W/exp_avg is the (8,) array of model/0.b")


def test_a_deeply_nested_training_state_is_a_file_format_error(
    tmp_path: Path, checkpoint: Checkpoint
) -> None:
    # some depth the JSON parser still reads but _unpack cannot follow (where depends on
    # the Python version and the stack): every depth must give a documented error
    template = json.dumps(_replaced(checkpoint.header, ("trainer", "history"), "NESTED"))
    for depth in range(100, 3001, 100):
        text = template.replace('"NESTED"', "[" * depth + "]" * depth)
        path = _rewrite(tmp_path, None, checkpoint.tensors, text=text)
        _refused(path, f"trainer.history nested {depth} deep")


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("trainer",), {"__tensor__": "model/0.W"}),
        (("trainer",), {"__float__": "inf"}),
        (("trainer", "in_epoch"), {"__tensor__": "model/0.W"}),
    ],
    ids=["trainer a tensor", "trainer a float", "in_epoch an array"],
)
def test_a_training_state_of_the_wrong_type_is_a_file_format_error(
    tmp_path: Path, checkpoint: Checkpoint, where: tuple[str, ...], value: Any
) -> None:
    path = _edited(tmp_path, checkpoint, {where: value})
    _refused(path, f"{'.'.join(where)} = {value}")


@pytest.mark.parametrize("base", ["0.01", -0.5, {"__float__": "inf"}, [0.01]])
def test_a_learning_rate_scheduler_base_that_is_not_a_rate_is_refused(
    tmp_path: Path, checkpoint: Checkpoint, base: Any
) -> None:
    path = _edited(tmp_path, checkpoint, {("trainer", "callbacks", 1, "base"): base})
    _refused(path, f"callbacks[1].base = {base!r}")


def test_epoch_sums_of_the_wrong_shape_are_refused(tmp_path: Path, checkpoint: Checkpoint) -> None:
    where = ("trainer", "totals", 0, "sums", "loss")
    path = _edited(tmp_path, checkpoint, {where: {"__tensor__": "model/0.W"}})
    _refused(path, "the epoch's loss sum is the (4, 8) array of model/0.W")


def test_pending_losses_that_are_not_numbers_are_refused(
    tmp_path: Path, checkpoint: Checkpoint
) -> None:
    path = _edited(tmp_path, checkpoint, {("trainer", "pending", "losses", 0): "x"})
    _refused(path, "pending.losses[0] = 'x'")


def test_a_pending_window_state_of_the_wrong_shape_is_refused(
    tmp_path: Path, checkpoint: Checkpoint
) -> None:
    where = ("trainer", "pending", "window_state", "1.running_mean")
    nan_loss = {"trainer/pending/losses/0": np.array(np.nan, np.float32)}
    path = _edited(tmp_path, checkpoint, {where: {"__tensor__": "model/0.W"}}, nan_loss)
    _refused(path, "window_state 1.running_mean is (4, 8), and the pending loss is NaN")


@pytest.mark.parametrize("damage", ["a weight missing", "NaN weights"])
def test_early_stopping_best_weights_that_do_not_fit_are_refused(
    tmp_path: Path, checkpoint: Checkpoint, damage: str
) -> None:
    # a best loss of 0 is never improved on, so the saved best weights are restored at the end
    edits: dict[tuple[Any, ...], Any] = {("trainer", "callbacks", 0, "best"): 0.0}
    tensors = {}
    if damage == "a weight missing":
        edits[("trainer", "callbacks", 0, "best_weights", "4.b")] = _DELETE
    else:
        name = "trainer/callbacks/0/best_weights/0.W"
        tensors[name] = np.full_like(checkpoint.tensors[name], np.nan)
    path = _edited(tmp_path, checkpoint, edits, tensors)
    _refused(path, f"EarlyStopping best = 0.0, best weights: {damage}")


def _stopping_trainer() -> tuple[nb.Trainer, Any]:
    nb.seed(0)
    stopper = nb.callbacks.EarlyStopping("loss", patience=1, min_delta=100.0)
    trainer = nb.Trainer(
        nb.Sequential(nb.layers.Dense(4, 3)), "MSE", "SGD", callbacks=[stopper], seed=0
    )
    return trainer, stopper


def test_a_refused_resume_leaves_early_stopping_as_it_was(tmp_path: Path) -> None:
    writer, _ = _stopping_trainer()
    writer.fit(X, Y, epochs=1, batch_size=BATCH)
    path = writer.save_checkpoint(tmp_path / "c.safetensors")
    _, raw = _decode(path.read_bytes())
    header = json.loads(raw["__metadata__"]["neuroback"])
    header["trainer"]["history"] = [5]  # refused after the callbacks' states were applied
    damaged = _rewrite(tmp_path, header, load_file(path))
    histories = []
    for refuse_first in (False, True):
        trainer, stopper = _stopping_trainer()
        trainer.fit(X, Y, epochs=5, batch_size=BATCH)
        assert stopper.stopped_epoch is not None  # the search ended: the next fit starts anew
        if refuse_first:
            with pytest.raises(FileFormatError):
                trainer.fit(X, Y, epochs=5, batch_size=BATCH, resume_from=damaged)
        histories.append(trainer.fit(X, Y, epochs=5, batch_size=BATCH).epochs)
    assert len(histories[1]) == len(histories[0]), (
        f"after a refused resume the next fit ran {len(histories[1])} epoch(s), without it "
        f"{len(histories[0])}"
    )


def test_a_run_whose_batchnorm_statistics_overflow_does_not_fail_at_its_end() -> None:
    nb.seed(0)
    model = nb.Sequential(nb.layers.Dense(4, 8), nb.layers.BatchNorm(8), nb.layers.Dense(8, 3))
    state = model.state_dict()
    state["0.W"] = np.full((4, 8), 1e30, np.float32)
    model.load_state_dict(state)
    trainer = nb.Trainer(model, "MSE", "SGD", callbacks=[nb.callbacks.EarlyStopping("loss")])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer.fit(X, Y, epochs=1, batch_size=BATCH)
    except StateMismatchError as exc:
        raise AssertionError(f"fit raised from {_frames(exc)[-3:]}: {exc}") from exc


@pytest.mark.parametrize("micro", [0, 2, 5])
def test_a_pending_count_outside_the_window_is_refused(
    tmp_path: Path, checkpoint: Checkpoint, micro: int
) -> None:
    path = _edited(tmp_path, checkpoint, {("trainer", "pending", "micro"): micro})
    _refused(path, f"pending.micro = {micro} with accumulate_steps=2")


@pytest.mark.parametrize("count", [-24, "24", 23.5])
def test_an_epoch_sample_count_that_is_not_a_count_is_refused(
    tmp_path: Path, checkpoint: Checkpoint, count: Any
) -> None:
    path = _edited(tmp_path, checkpoint, {("trainer", "totals", 0, "count"): count})
    _refused(path, f"totals[0].count = {count!r}")
