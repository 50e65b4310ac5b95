"""Train a small float64 model and save what every rank ends with (run by test_mpi.py).

    python mpi_driver.py OUT --strategy single
    mpiexec -n 2 python mpi_driver.py OUT --strategy mpi

Each rank writes ``OUT/rank<r>.npz``: its final weights, its optimizer's slots, the
History, evaluate() and predict() on held-out data.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
from pathlib import Path

import numpy as np

import neuroback as nb


def optimizer(name: str) -> nb.Optimizer:
    if name == "sgd-momentum":
        return nb.optimizers.SGD(lr=0.05, momentum=0.9)
    if name == "adam-clip":
        return nb.optimizers.Adam(lr=0.01, transforms=[nb.transforms.ClipByGlobalNorm(0.5)])
    raise SystemExit(f"unknown optimizer {name}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--strategy", default="single")
    parser.add_argument("--optimizer", default="sgd-momentum")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--samples", type=int, default=45)  # a last, partial batch
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--accumulate", type=int, default=1)
    parser.add_argument("--seed-model", type=int, default=0)  # ranks may build other weights
    parser.add_argument("--raise-on-rank", type=int, default=-1)
    parser.add_argument("--kill-on-rank", type=int, default=-1)
    parser.add_argument("--batchnorm", action="store_true")
    parser.add_argument("--fail-step", type=int, default=3)
    parser.add_argument("--save-at-step", type=int, default=-1)  # mid-epoch, every rank
    parser.add_argument("--checkpoint", default=None)  # ModelCheckpoint, every epoch
    parser.add_argument("--resume", default=None)
    parser.add_argument("--stop-on-rank", type=int, default=-1)
    parser.add_argument("--nan-on-rank", type=int, default=-1)
    args = parser.parse_args()

    rng = np.random.default_rng(42)
    x = rng.normal(size=(args.samples, 5))
    y = np.stack([np.sin(x[:, 0]) + x[:, 1] * x[:, 2], np.cos(x[:, 3]) - x[:, 4]], axis=1)
    x_test = rng.normal(size=(13, 5))
    y_test = rng.normal(size=(13, 2))

    strategy = nb.build("strategies", args.strategy)
    nb.seed(args.seed_model + 1000 * strategy.rank * (args.seed_model != 0))
    layers = [nb.layers.Dense(5, 16, dtype="float64"), nb.layers.Tanh()]
    if args.batchnorm:
        layers.insert(1, nb.layers.BatchNorm(16, dtype="float64"))
    model = nb.Sequential(*layers, nb.layers.Dense(16, 2, dtype="float64"))

    class RaiseOnRank(nb.Callback):
        def on_after_backward(self, trainer):  # type: ignore[no-untyped-def]
            if trainer.strategy.rank == args.nan_on_rank and trainer.batch_step == args.fail_step:
                first = next(iter(trainer.model.parameters()))
                first.grad[0, 0] = np.nan  # one rank's gradient: every rank must skip

        def on_batch_end(self, trainer, step, logs):  # type: ignore[no-untyped-def]
            if trainer.strategy.rank == args.raise_on_rank and step == args.fail_step:
                raise RuntimeError(f"planted failure on rank {args.raise_on_rank}")
            if trainer.strategy.rank == args.kill_on_rank and step == args.fail_step:
                os.kill(os.getpid(), signal.SIGKILL)
            if trainer.strategy.rank == args.stop_on_rank and step == args.fail_step:
                trainer.stop_training = True  # asked on one rank only
            if step == args.save_at_step:
                trainer.save_checkpoint(Path(args.out) / "mid.safetensors")

    trainer = nb.Trainer(
        model,
        "MSE",
        optimizer(args.optimizer),
        metrics=["mae"],
        seed=7,
        strategy=strategy,
        accumulate_steps=args.accumulate,
        callbacks=[RaiseOnRank()]
        + ([nb.callbacks.ModelCheckpoint(args.checkpoint)] if args.checkpoint else []),
        log_every_n_steps=2,
    )
    Path(args.out).mkdir(parents=True, exist_ok=True)
    history = trainer.fit(
        x,
        y,
        epochs=args.epochs,
        batch_size=args.batch,
        validation_data=(x_test, y_test),
        resume_from=args.resume,
    )
    evaluated = trainer.evaluate(x_test, y_test, batch_size=4)
    predicted = trainer.predict(x_test, batch_size=4)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {f"w:{k}": v for k, v in model.state_dict().items()}
    for name, slots in trainer.optimizer.state_dict()["slots"].items():
        arrays.update({f"s:{name}:{k}": v for k, v in slots.items()})
    arrays["predict"] = predicted
    np.savez(out / f"rank{strategy.rank}.npz", **arrays)
    facts = {
        "history": history.epochs,
        "evaluate": evaluated,
        "world": strategy.world_size,
        "global_step": trainer.global_step,
        "skipped": trainer.skipped_updates,
    }
    (out / f"rank{strategy.rank}.json").write_text(json.dumps(facts, default=float))


if __name__ == "__main__":
    main()
