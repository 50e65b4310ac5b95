"""ModelCheckpoint: write full checkpoints while training, every so many epochs or steps."""

from __future__ import annotations

import math
import os
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any, final

from neuroback import Callback, checks
from neuroback.errors import ConfigError

from ._monitor import Monitor

__all__ = ["ModelCheckpoint"]


@final
class ModelCheckpoint(Callback):
    """Write a checkpoint (:meth:`Trainer.save_checkpoint <neuroback.Trainer.save_checkpoint>`)
    at the end of every ``every_n_epochs``-th epoch, and/or after every
    ``every_n_steps``-th optimizer update.

    ``path`` may be a template: ``{epoch}`` (0-based, the epoch just finished, or the one
    in progress for a step checkpoint), ``{step}`` (the optimizer updates so far) and any
    key of the epoch logs (``{val_loss:.4f}``; epoch checkpoints only). ``keep_last``
    keeps only the newest files this callback wrote (``None``: all). With ``monitor``, an
    epoch checkpoint is written only when the monitored value improved
    (``save_best_only=True``), or always with the best value remembered
    (``save_best_only=False``). Each write is atomic: a crash mid-write leaves the previous
    checkpoint whole. Resume with ``trainer.fit(..., resume_from=path)``.

    >>> import tempfile, pathlib, numpy as np, neuroback as nb
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> nb.seed(0)
    >>> model = nb.Sequential(nb.layers.Dense(2, 1))
    >>> keep = nb.callbacks.ModelCheckpoint(folder / "run-{epoch}.safetensors", keep_last=2)
    >>> trainer = nb.Trainer(model, "MSE", "SGD", callbacks=[keep])
    >>> _ = trainer.fit(np.ones((8, 2)), np.zeros((8, 1)), epochs=3, batch_size=4)
    >>> sorted(p.name for p in folder.iterdir())
    ['run-1.safetensors', 'run-2.safetensors']
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        every_n_epochs: int | None = 1,
        every_n_steps: int | None = None,
        keep_last: int | None = 1,
        monitor: str | None = None,
        mode: str = "auto",
        save_best_only: bool = False,
    ) -> None:
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"ModelCheckpoint path must be a path, got {type(path).__name__}.")
        self.path = str(path)
        self._fields = _template_fields(self.path)
        # None and 0 both mean "not": 0 is what config() writes (TOML has no null)
        self.every_n_epochs = checks.non_negative_int(every_n_epochs or 0, "every_n_epochs")
        self.every_n_steps = checks.non_negative_int(every_n_steps or 0, "every_n_steps")
        if not self.every_n_epochs and not self.every_n_steps:
            raise ValueError(
                "ModelCheckpoint needs every_n_epochs or every_n_steps (or both); with neither "
                "it would never write."
            )
        self.keep_last = checks.non_negative_int(keep_last or 0, "keep_last")
        if not isinstance(save_best_only, bool):
            raise TypeError(f"save_best_only must be True or False, got {save_best_only!r}.")
        if save_best_only and monitor is None:
            raise ValueError("save_best_only=True needs monitor= (the value that must improve).")
        self.save_best_only = save_best_only
        self.mode = mode
        self._monitor = None if monitor is None else Monitor("ModelCheckpoint", monitor, mode, 0.0)
        if self.every_n_steps and set(self._fields) - {"epoch", "step"}:
            raise ConfigError(
                f"ModelCheckpoint path {self.path!r} uses log keys "
                f"{sorted(set(self._fields) - {'epoch', 'step'})}, which a step checkpoint "
                f"(every_n_steps) does not have; use only {{epoch}} and {{step}} there."
            )
        self.best = math.inf if self._monitor is None else self._monitor.initial()
        #: The files written and still kept, oldest first.
        self.written: list[str] = []

    # -- hooks ---------------------------------------------------------------------------
    def on_train_begin(self, trainer: Any) -> None:
        if not Path(self.path).parent.exists():
            raise FileNotFoundError(
                f"ModelCheckpoint cannot write {self.path}: the folder "
                f"{Path(self.path).parent} does not exist. Create it first."
            )
        if self._monitor is not None:
            self._monitor.check_keys(getattr(trainer, "log_keys", ()))
        log_keys = set(getattr(trainer, "log_keys", ())) | {"epoch", "step", "loss"}
        unknown = sorted(set(self._fields) - log_keys)
        if getattr(trainer, "log_keys", ()) and unknown:
            raise KeyError(
                f"ModelCheckpoint path {self.path!r} uses {unknown}, which the epoch logs will "
                f"not have (they have {sorted(log_keys)})."
            )

    def on_batch_end(self, trainer: Any, step: int, logs: Mapping[str, Any]) -> None:
        n = self.every_n_steps
        if not n or trainer.pending_micro_batches or trainer.global_step == 0:
            return  # right after an update only (not inside an accumulation window)
        if trainer.global_step % n == 0:
            self._write(trainer, {"epoch": trainer.epoch, "step": trainer.global_step})

    def on_epoch_end(self, trainer: Any, epoch: int, logs: Mapping[str, Any]) -> None:
        n = self.every_n_epochs
        if not n or (epoch + 1) % n:
            return
        if self._monitor is not None:
            value = self._monitor.value(logs)
            improved = self._monitor.improved(value, self.best)
            if improved:
                self.best = value
            if self.save_best_only and not improved:
                return
        self._write(trainer, {**logs, "epoch": epoch, "step": trainer.global_step})

    # -- writing -------------------------------------------------------------------------
    def _write(self, trainer: Any, fields: Mapping[str, Any]) -> None:
        target = self.path.format(**fields)
        kept = [p for p in self.written if p != target] + [target]
        dropped: list[str] = []
        if self.keep_last and len(kept) > self.keep_last:
            dropped, kept = kept[: -self.keep_last], kept[-self.keep_last :]
        previous = self.written
        self.written = kept  # the checkpoint records the list as it will be after this write
        try:
            trainer.save_checkpoint(target)
        except BaseException:
            self.written = previous
            raise
        if not trainer.strategy.is_main:
            return  # under several processes, rank 0 writes and removes the files
        for old in dropped:  # only once the new one is safely written
            Path(old).unlink(missing_ok=True)

    # -- state and config ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "written": list(self.written)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.best = float(state["best"])
        self.written = [str(p) for p in state["written"]]

    def config(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path}
        if self.every_n_epochs != 1:
            out["every_n_epochs"] = self.every_n_epochs
        if self.every_n_steps:
            out["every_n_steps"] = self.every_n_steps
        if self.keep_last != 1:
            out["keep_last"] = self.keep_last
        if self._monitor is not None:
            out["monitor"] = self._monitor.name
            out["mode"] = self.mode
            out["save_best_only"] = self.save_best_only
        return out

    @classmethod
    def example(cls) -> ModelCheckpoint:
        import tempfile

        return cls(Path(tempfile.mkdtemp()) / "checkpoint-{epoch}.safetensors", keep_last=2)


def _template_fields(path: str) -> list[str]:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(path) if f is not None]
    except ValueError as exc:
        raise ConfigError(f"ModelCheckpoint path {path!r} is not a valid template: {exc}") from None
    bad = [f for f in fields if not f or not f.isidentifier()]
    if bad:
        raise ConfigError(
            f"ModelCheckpoint path {path!r} has a field {bad[0]!r}; use names such as {{epoch}}, "
            f"{{step}} or a log key like {{val_loss:.4f}}."
        )
    return fields
