"""The child processes of test_resume_fresh_process.py (a plain script, not a test module).

Every mode runs in a fresh interpreter started by the tests, with the BLAS threads pinned
by the environment they pass:

``full``
    Trains each case given with ``--case dtype:optimizer:accumulate`` uninterrupted and
    writes its final state to ``OUT_DIR/<dtype>-<optimizer>-<accumulate>.npz``.
``die``
    Trains one case and, after batch step ``--at-step`` (or at the end of epoch
    ``--at-epoch``), writes a checkpoint and ends the process with ``os._exit(0)``: no
    cleanup, no ``on_train_end``, nothing flushed. It prints one JSON line with the
    counters first. If it ever gets past ``fit``, it writes ``--out`` (which the test
    then finds, and fails on).
``resume``
    Builds the same Trainer, ``fit(..., resume_from=CHECKPOINT)``, writes the final state.
``kill-child``
    The big run of the SIGKILL test: writes checkpoint A (and a copy of it, and the model's
    state at A), says so on stdout, trains on and writes checkpoint B to the same path,
    during which the test kills it.
``big-resume``
    Resumes the big run from a checkpoint and writes its final state.
``disk-full``
    Writes checkpoint A of a small Trainer, lowers the file size limit between the sizes
    of A and of a big Trainer's checkpoint, and tries to write that one to the same path.

The final state is a ``.npz`` of arrays (the model's ``state_dict()``, the optimizer's
slots and array transform state) plus ``meta``, a 0-d string array holding JSON: the
optimizer's hyperparameters, step counts and other transform state, the Trainer's
counters and generator states, the callbacks' states and the History rows.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import json
import os
import resource
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np

import neuroback as nb

EPOCHS = 3
BATCH_SIZE = 8  # 50 samples: six batches of 8 and a last one of 2
#: Updates of the whole run with accumulate_steps=2 (4 per epoch); the cosine reaches its
#: end after it, so the learning rate changes at every update and never reaches 0.
COSINE_TOTAL = 16

BIG_FEATURES = 2048  # Dense(2048, 2048) with Adam: 16 MiB of weights, 32 MiB of slots
BIG_SAMPLES = 16


# -- the matrix's run ------------------------------------------------------------------------
class DieAt(nb.Callback):
    """Writes a checkpoint at a given point and ends the process at once (``os._exit``).

    Every Trainer of the matrix has one (inactive in ``full`` and ``resume``), so that the
    Trainers that write and resume a checkpoint are built alike.
    """

    def __init__(
        self, path: str | None = None, *, step: int | None = None, epoch: int | None = None
    ) -> None:
        self.path, self.step, self.epoch = path, step, epoch

    def on_batch_end(self, trainer: Any, step: int, logs: Any) -> None:
        if self.step is not None and trainer.batch_step == self.step:
            self._die(trainer)

    def on_epoch_end(self, trainer: Any, epoch: int, logs: Any) -> None:
        if self.epoch is not None and epoch == self.epoch:
            self._die(trainer)

    def _die(self, trainer: Any) -> None:
        where = {
            "epoch": trainer.epoch,
            "batch_step": trainer.batch_step,
            "global_step": trainer.global_step,
            "pending": trainer.pending_micro_batches,
            "history_rows": len(trainer.history.epochs),
        }
        print(json.dumps(where), flush=True)
        assert self.path is not None
        trainer.save_checkpoint(self.path)
        os._exit(0)


def data(dtype: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20240611)
    x = rng.normal(size=(60, 6)).astype(dtype)
    y = (np.tanh(x @ rng.normal(size=(6, 3))) + 0.1 * rng.normal(size=(60, 3))).astype(dtype)
    return x[:50], y[:50], x[50:], y[50:]


def optimizer(name: str) -> nb.Optimizer:
    if name == "sgd":
        return nb.optimizers.SGD(lr=0.05, momentum=0.9)
    if name == "adam":
        return nb.optimizers.Adam(lr=0.01, transforms=[nb.transforms.ClipByGlobalNorm(1.0)])
    raise ValueError(f"unknown optimizer {name!r}")


def trainer(dtype: str, opt: str, accumulate: int, die: DieAt | None = None) -> nb.Trainer:
    nb.seed(7)  # the initial weights (a resumed run overwrites them)
    model = nb.Sequential(
        nb.layers.Dense(6, 16, dtype=dtype),
        nb.layers.BatchNorm(16, dtype=dtype),
        nb.layers.ReLU(),
        nb.layers.Dropout(0.3),
        nb.layers.Dense(16, 3, dtype=dtype),
    )
    schedule = nb.callbacks.LearningRateScheduler(
        nb.schedules.Cosine(total=COSINE_TOTAL), interval="step"
    )
    return nb.Trainer(
        model,
        "MSE",
        optimizer(opt),
        callbacks=[schedule, die or DieAt()],
        metrics=["mae"],
        backend="numpy",
        seed=11,
        log_every_n_steps=3,
        accumulate_steps=accumulate,
    )


def fit(t: nb.Trainer, dtype: str, resume_from: str | None = None) -> nb.History:
    x, y, vx, vy = data(dtype)
    return t.fit(
        x,
        y,
        epochs=EPOCHS,
        batch_size=BATCH_SIZE,
        shuffle=True,
        validation_data=(vx, vy),
        resume_from=resume_from,
    )


# -- the final state -----------------------------------------------------------------------
def final_state(t: nb.Trainer, history: nb.History) -> tuple[dict[str, np.ndarray], dict]:
    arrays: dict[str, np.ndarray] = {}
    for name, value in t.model.state_dict().items():
        arrays[f"model/{name}"] = np.asarray(value)
    opt = t.optimizer.state_dict()
    for pname, slots in opt["slots"].items():
        for slot, value in slots.items():
            arrays[f"slots/{pname}/{slot}"] = np.asarray(value)
    transform_leaves: list[Any] = []
    for i, leaf in enumerate(opt["transform_state"]):
        if isinstance(leaf, np.ndarray):
            arrays[f"transform/{i}"] = leaf
            transform_leaves.append({"array": f"transform/{i}"})
        else:
            transform_leaves.append(leaf)
    meta = {
        "optimizer": {
            "type": opt["type"],
            "hyperparameters": opt["hyperparameters"],
            "step_count": opt["step_count"],
            "param_steps": opt["param_steps"],
            "transform_state": transform_leaves,
            "skipped": t.optimizer.skipped_steps,
            "lr": t.optimizer.lr,
        },
        "trainer": {
            "epoch": t.epoch,
            "global_step": t.global_step,
            "batch_step": t.batch_step,
            "pending": t.pending_micro_batches,
            "data_rng": t.data_rng.bit_generator.state,
            "forward_rng": t.backend.generator_state(t.forward_rng),
        },
        "callbacks": [cb.state_dict() for cb in t.callbacks],
        "history": history.epochs,
        "trainer_history": t.history.epochs,
    }
    return arrays, meta


def write_state(path: str | Path, t: nb.Trainer, history: nb.History) -> None:
    arrays, meta = final_state(t, history)
    text = json.dumps(meta, sort_keys=True, allow_nan=True)
    tmp = Path(f"{path}.partial.npz")  # complete or absent: the test reads only `path`
    np.savez(tmp, meta=np.array(text), **arrays)
    os.replace(tmp, path)


def parse_case(text: str) -> tuple[str, str, int]:
    dtype, opt, accumulate = text.split(":")
    return dtype, opt, int(accumulate)


def case_name(dtype: str, opt: str, accumulate: int) -> str:
    return f"{dtype}-{opt}-{accumulate}"


# -- the big run of the SIGKILL test ---------------------------------------------------------
def big_trainer() -> tuple[nb.Trainer, np.ndarray, np.ndarray]:
    nb.seed(5)
    model = nb.Sequential(nb.layers.Dense(BIG_FEATURES, BIG_FEATURES, dtype="float32"))
    t = nb.Trainer(model, "MSE", nb.optimizers.Adam(lr=1e-3), backend="numpy", seed=13)
    rng = np.random.default_rng(99)
    x = rng.normal(size=(BIG_SAMPLES, BIG_FEATURES)).astype("float32")
    y = rng.normal(size=(BIG_SAMPLES, BIG_FEATURES)).astype("float32")
    return t, x, y


def kill_child(folder: Path) -> None:
    path = folder / "run.ckpt"
    t, x, y = big_trainer()
    t.fit(x, y, epochs=1, batch_size=8, shuffle=True)
    t.save_checkpoint(path)  # checkpoint A
    shutil.copyfile(path, folder / "a-copy.ckpt")
    np.savez(folder / "a-state.npz", **t.model.state_dict())
    print("A written", flush=True)
    t.fit(x, y, epochs=1, batch_size=8, shuffle=True)
    print("writing B", flush=True)
    t.save_checkpoint(path)  # checkpoint B: the test kills the process in the middle
    print("B written", flush=True)


def big_resume(checkpoint: str, out: str) -> None:
    t, x, y = big_trainer()
    history = t.fit(x, y, epochs=2, batch_size=8, shuffle=True, resume_from=checkpoint)
    write_state(out, t, history)


# -- the disk-full child ---------------------------------------------------------------------
def small_trainer() -> nb.Trainer:
    nb.seed(1)
    return nb.Trainer(
        nb.Sequential(nb.layers.Dense(4, 8), nb.layers.ReLU(), nb.layers.Dense(8, 2)),
        "MSE",
        nb.optimizers.Adam(lr=0.01),
        backend="numpy",
        seed=2,
    )


def small_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return rng.normal(size=(20, 4)), rng.normal(size=(20, 2))


def disk_full(folder: Path, side: Path) -> None:
    path = folder / "run.ckpt"
    small = small_trainer()
    small.fit(*small_data(), epochs=1, batch_size=8)
    small.save_checkpoint(path)  # checkpoint A: a few KiB
    size_a = path.stat().st_size
    np.savez(side / "a-state.npz", **small.model.state_dict())
    big = nb.Trainer(
        nb.Sequential(nb.layers.Dense(512, 512)),
        "MSE",
        nb.optimizers.Adam(lr=0.01),
        backend="numpy",
        seed=2,
    )
    rng = np.random.default_rng(4)
    big.fit(rng.normal(size=(8, 512)), rng.normal(size=(8, 512)), epochs=1, batch_size=8)
    # the big checkpoint holds 512*512 weights and two Adam slots in float32: 3 MiB
    limit = 1 << 20
    report: dict[str, Any] = {
        "size_a": size_a,
        "limit": limit,
        "sha256_a": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        big.save_checkpoint(path)
    except BaseException as exc:
        report["error"] = type(exc).__name__
        report["is_save_error"] = isinstance(exc, nb.errors.SaveError)
        code = getattr(exc, "errno", None)
        report["errno"] = errno.errorcode.get(code, code) if isinstance(code, int) else code
        report["message"] = str(exc)
    else:
        report["error"] = None
    # what the failed write left at the path resumes the small run (it only reads files)
    again = small_trainer()
    history = again.fit(*small_data(), epochs=2, batch_size=8, resume_from=path)
    report["resumed_epochs"] = [row["epoch"] for row in history.epochs]
    print(json.dumps(report), flush=True)


# -- the command line ------------------------------------------------------------------------
def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "mode", choices=["full", "die", "resume", "kill-child", "big-resume", "disk-full"]
    )
    parser.add_argument("--case", action="append", default=[])
    parser.add_argument("--out")
    parser.add_argument("--out-dir")
    parser.add_argument("--checkpoint")
    parser.add_argument("--at-step", type=int)
    parser.add_argument("--at-epoch", type=int)
    parser.add_argument("--dir")
    parser.add_argument("--side")
    args = parser.parse_args(argv)

    if args.mode == "full":
        for text in args.case:
            dtype, opt, accumulate = parse_case(text)
            t = trainer(dtype, opt, accumulate)
            history = fit(t, dtype)
            write_state(Path(args.out_dir) / f"{case_name(dtype, opt, accumulate)}.npz", t, history)
    elif args.mode == "die":
        (text,) = args.case
        dtype, opt, accumulate = parse_case(text)
        die = DieAt(args.checkpoint, step=args.at_step, epoch=args.at_epoch)
        t = trainer(dtype, opt, accumulate, die)
        history = fit(t, dtype)
        write_state(args.out, t, history)  # only reached if the process did not die
    elif args.mode == "resume":
        (text,) = args.case
        dtype, opt, accumulate = parse_case(text)
        t = trainer(dtype, opt, accumulate)
        history = fit(t, dtype, resume_from=args.checkpoint)
        write_state(args.out, t, history)
    elif args.mode == "kill-child":
        kill_child(Path(args.dir))
    elif args.mode == "big-resume":
        big_resume(args.checkpoint, args.out)
    else:
        disk_full(Path(args.dir), Path(args.side))


if __name__ == "__main__":
    main(sys.argv[1:])
