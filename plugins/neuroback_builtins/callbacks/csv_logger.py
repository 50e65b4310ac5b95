"""CSVLogger: one row per epoch in a CSV file, flushed as each epoch ends."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, ClassVar, final

from neuroback import Callback

__all__ = ["CSVLogger"]


@final
class CSVLogger(Callback):
    """Write the epoch logs (``epoch``, ``loss``, metrics, ``val_*``, ``lr``) to ``path``.

    Each row is written and flushed when its epoch ends, so an interrupted run
    keeps every finished epoch. ``append=True`` continues an existing file
    (a resumed run) instead of replacing it.
    """

    #: Output: written by the main process only under several processes.
    main_process_only: ClassVar[bool] = True

    def __init__(self, path: str | os.PathLike[str], *, append: bool = False) -> None:
        self.path = Path(path)
        self.append = bool(append)
        self._file: IO[str] | None = None
        self._writer: Any = None
        self._fields: list[str] | None = None

    def on_train_begin(self, trainer: Any) -> None:
        if not self.path.parent.exists():
            raise FileNotFoundError(
                f"CSVLogger cannot write {self.path}: the folder {self.path.parent} does not exist."
            )
        existing = self.append and self.path.exists() and self.path.stat().st_size > 0
        self._fields = None
        if existing:
            with self.path.open(newline="") as f:
                header = next(csv.reader(f), None)
            self._fields = header
        self._file = self.path.open("a" if self.append else "w", newline="")
        if self._fields is not None:
            self._writer = csv.DictWriter(
                self._file, fieldnames=self._fields, extrasaction="ignore"
            )

    def on_epoch_end(self, trainer: Any, epoch: int, logs: Mapping[str, float]) -> None:
        if self._file is None:
            self.on_train_begin(trainer)
        file = self._file
        if file is None:  # pragma: no cover - on_train_begin opened it or raised
            return
        row = {**logs, "lr": trainer.optimizer.lr}
        if self._writer is None:
            self._fields = list(row)
            self._writer = csv.DictWriter(file, fieldnames=self._fields, extrasaction="ignore")
            self._writer.writeheader()
        self._writer.writerow(row)
        file.flush()

    def on_train_end(self, trainer: Any) -> None:
        if self._file is not None:
            self._file.close()
        self._file = None
        self._writer = None

    def config(self) -> dict[str, Any]:
        return {"path": str(self.path), "append": self.append}

    @classmethod
    def example(cls) -> CSVLogger:
        import tempfile

        return cls(Path(tempfile.gettempdir()) / "neuroback-csvlogger-example.csv")
