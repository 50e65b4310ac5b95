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

from .config import to_spec
from .model_file import save
from .run_config import RunConfig
from .training import History, Trainer

__all__ = ["RunResult", "plot_history", "run_config"]

log = logging.getLogger("neuroback.run")


@dataclass(frozen=True)
class RunResult:
    """What a run produced."""

    history: History
    #: ``Trainer.evaluate`` on the test split (or the validation split when there is no test).
    test: dict[str, float]
    model_path: Path
    config_path: Path
    #: ``None`` when matplotlib is not installed.
    plot_path: Path | None
    epochs: int


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
    """
    import tomli_w

    from .datasets.spec import load_split

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = config.trainer
    chosen_backend = backend or settings["backend"] or None
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_split(config.data, base=base)
    log.info(
        "data: %d training, %d validation, %d test samples", len(x_train), len(x_val), len(x_test)
    )
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
        backend=chosen_backend,
        seed=settings["seed"],
        log_every_n_steps=settings["log_every_n_steps"],
        accumulate_steps=settings["accumulate_steps"],
        skip_nonfinite=settings["skip_nonfinite"],
    )
    history = trainer.fit(
        x_train,
        y_train,
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        shuffle=settings["shuffle"],
        drop_last=settings["drop_last"],
        validation_data=(x_val, y_val) if len(x_val) else None,
    )
    held_out = (x_test, y_test) if len(x_test) else (x_val, y_val)
    test = trainer.evaluate(*held_out) if len(held_out[0]) else {}
    log.info("trained %d epochs; held-out results %s", len(history), test)

    resolved = dict(config.resolved)
    if chosen_backend:
        resolved["trainer"] = {**resolved["trainer"], "backend": chosen_backend}
    metadata = {
        "loss": to_spec(config.loss),
        "metrics": list(settings["metrics"]),
        "data": config.data,
        "test": test,
        "epochs_trained": len(history),
        "history": history.to_dict(),
    }
    model_path = save(config.model, out / "model.safetensors", metadata=_jsonable(metadata))
    config_path = out / "config.toml"
    config_path.write_text(tomli_w.dumps(resolved))
    plot_path = plot_history(history, out / "training.png")
    return RunResult(history, test, model_path, config_path, plot_path, len(history))


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
