"""Running a config: train, evaluate on the held-out test split, and write the run's files.

:func:`run_config` is what ``neuroback train`` does, as a library call. It writes, in the
output directory:

* ``model.safetensors``: the trained model (:func:`neuroback.save`), with metadata
  recording the loss, the metrics, the data spec (so ``neuroback evaluate`` finds the
  held-out split again), the test results and the History;
* ``training.png``: the loss and each metric per epoch, training and validation (needs
  matplotlib; without it the figure is skipped and the result says so);
* ``config.toml``: the resolved config, every default filled in, to repeat the run.

It reports through :mod:`logging` (logger ``neuroback.run``); only the command line prints.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .atomic_write import write_atomically
from .config import to_spec
from .errors import ConfigError, NeurobackError, SaveError
from .model_file import save
from .run_config import RunConfig
from .training import History, Trainer

__all__ = ["PreparedRun", "RunResult", "plot_history", "prepare_run", "run_config"]

log = logging.getLogger("neuroback.run")


@dataclass(frozen=True)
class RunResult:
    """What a run produced."""

    history: History
    #: ``Trainer.evaluate`` on the held-out split (:attr:`held_out` says which).
    test: dict[str, float]
    #: ``None`` on a process other than the main one (rank 0 writes the files).
    model_path: Path | None
    config_path: Path | None
    #: ``None`` when matplotlib is not installed, and on a process other than the main one.
    plot_path: Path | None
    epochs: int
    #: The split ``test`` was measured on: "test", "validation" (no test split), or "".
    held_out: str = "test"


def run_config(
    config: RunConfig,
    output_dir: str | Path,
    *,
    backend: str | None = None,
    progress: bool | None = None,
    base: Path | None = None,
) -> RunResult:
    """Train ``config`` and write the run's files into ``output_dir`` (created if needed).

    ``backend`` overrides ``[trainer] backend``; ``progress`` overrides ``[trainer]
    progress``; relative data paths are read from ``base`` (the config file's folder).
    Everything that can fail before training (the data, the model against the data, the
    output folder) is checked before the folder is created.
    """
    return prepare_run(config, backend=backend, progress=progress, base=base).execute(output_dir)


@dataclass
class PreparedRun:
    """A run whose data is loaded and checked against the model and the loss, ready to
    train (:func:`prepare_run`)."""

    config: RunConfig
    trainer: Trainer
    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]

    @property
    def held_out(self) -> str:
        """Which split the results are measured on: "test", "validation", or "" (none)."""
        return "test" if len(self.test[0]) else ("validation" if len(self.validation[0]) else "")

    def execute(self, output_dir: str | Path) -> RunResult:
        """Train, evaluate on the held-out split, and write the run's files."""
        import tomli_w

        settings, trainer = self.config.trainer, self.trainer
        main = trainer.strategy.is_main  # under several processes, rank 0 writes the files
        out = _output_folder(output_dir) if main else Path(output_dir)
        x_val, y_val = self.validation
        history = trainer.fit(
            *self.train,
            epochs=settings["epochs"],
            batch_size=settings["batch_size"],
            shuffle=settings["shuffle"],
            drop_last=settings["drop_last"],
            validation_data=(x_val, y_val) if len(x_val) else None,
        )
        split = self.held_out
        data = self.test if split == "test" else self.validation
        results = trainer.evaluate(*data) if split else {}
        if not main:
            return RunResult(history, results, None, None, None, len(history), split)
        log.info("trained %d epochs; %s results %s", len(history), split or "no", results)
        resolved = dict(self.config.resolved)
        resolved["trainer"] = {**resolved["trainer"], "backend": trainer.backend.name}
        metadata = {
            "loss": to_spec(self.config.loss),
            "metrics": list(settings["metrics"]),
            "data": self.config.data,
            "held_out": split,
            "test": results,
            "epochs_trained": len(history),
            "history": history.to_dict(),
        }
        model_path = save(trainer.model, out / "model.safetensors", metadata=_jsonable(metadata))
        config_path = write_atomically(out / "config.toml", [tomli_w.dumps(resolved).encode()])
        plot_path = plot_history(history, out / "training.png")
        return RunResult(history, results, model_path, config_path, plot_path, len(history), split)


def prepare_run(
    config: RunConfig,
    *,
    backend: str | None = None,
    progress: bool | None = None,
    base: Path | None = None,
    strategy: str | None = None,
) -> PreparedRun:
    """Load the data, build the Trainer and check the data against the model and the loss
    (the Trainer's own intake), without training or writing anything."""
    from .datasets.spec import load_split

    settings = config.trainer
    parts = load_split(config.data, base=base)
    log.info("data: %d training, %d validation, %d test samples", *(len(p[0]) for p in parts))
    callbacks = list(config.callbacks)
    if settings["progress"] if progress is None else progress:
        from .callbacks import ProgressBar

        callbacks.insert(0, ProgressBar())
    trainer = Trainer(
        config.model,
        config.loss,
        config.optimizer,
        callbacks=callbacks,
        metrics=settings["metrics"],
        backend=backend or settings["backend"] or None,
        seed=settings["seed"],
        log_every_n_steps=settings["log_every_n_steps"],
        accumulate_steps=settings["accumulate_steps"],
        skip_nonfinite=settings["skip_nonfinite"],
        strategy=strategy or settings["strategy"],
    )
    for (x, y), what in zip(parts, ("training", "validation", "test"), strict=True):
        if len(x):
            try:
                trainer.prepare(x, y)
            except NeurobackError as exc:
                raise ConfigError(
                    f"[data] the {what} data does not fit [model] and [loss]: {exc}"
                ) from None
    return PreparedRun(config, trainer, *parts)


def _output_folder(path: str | Path) -> Path:
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise SaveError(f"--output-dir {out} is a file; give a folder (it is created if needed).")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SaveError(f"Cannot create the output folder {out}: {exc.strerror or exc}.") from None
    return out


def plot_history(history: History, path: str | Path) -> Path | None:
    """Draw the loss and each metric per epoch (training, and validation where logged) into a
    PNG at ``path``; returns ``None`` (and logs why) when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no training.png (pip install matplotlib)")
        return None
    columns = history.keys()
    names = [k for k in columns if k != "epoch" and not k.startswith("val_")]
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.6), squeeze=False)
    epochs = history["epoch"]
    for ax, name in zip(axes[0], names, strict=True):
        ax.plot(epochs, history[name], marker="o", markersize=3, label=f"training {name}")
        if f"val_{name}" in columns:
            ax.plot(
                epochs, history[f"val_{name}"], marker="o", markersize=3, label=f"validation {name}"
            )
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    target = Path(path)
    fig.savefig(target, dpi=100)
    plt.close(fig)
    return target


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
