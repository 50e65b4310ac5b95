"""ProgressBar: a tqdm bar per epoch on a terminal, one plain line per epoch otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import IO, Any, ClassVar, final

from neuroback import Callback

__all__ = ["ProgressBar"]


def _format(logs: Mapping[str, Any]) -> str:
    parts = []
    for key, value in logs.items():
        if key in ("epoch", "batch_size") or not isinstance(value, int | float):
            continue
        parts.append(f"{key} {value:.4g}")
    return " - ".join(parts)


@final
class ProgressBar(Callback):
    """Show epoch and batch progress, the loss, the metrics and samples per second.

    On a terminal this is a `tqdm <https://tqdm.github.io>`_ bar per epoch
    whose postfix shows the loss at each logging step; when the output is not a
    terminal (a log file, CI) it prints one line per epoch instead. ``plain``
    forces either mode.
    """

    #: Output: written by the main process only under several processes.
    main_process_only: ClassVar[bool] = True

    def __init__(self, *, file: IO[str] | None = None, plain: bool | None = None) -> None:
        self.file = file
        self.plain = plain
        self._bar: Any = None
        self._start = 0.0
        self._samples = 0

    def _out(self) -> IO[str]:
        return self.file if self.file is not None else sys.stderr

    def _is_plain(self) -> bool:
        if self.plain is not None:
            return self.plain
        isatty = getattr(self._out(), "isatty", None)
        return not (callable(isatty) and isatty())

    def on_epoch_begin(self, trainer: Any, epoch: int) -> None:
        self._start = time.perf_counter()
        self._samples = 0
        if self._is_plain():
            return
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=trainer.batches_per_epoch,
            desc=f"epoch {epoch + 1}/{trainer.epochs_total}",
            unit="batch",
            file=self._out(),
            leave=True,
            dynamic_ncols=True,
        )

    def on_batch_end(self, trainer: Any, step: int, logs: Mapping[str, Any]) -> None:
        self._samples += int(logs.get("batch_size", 0))
        if self._bar is None:
            return
        self._bar.update(1)
        if "loss" in logs:
            rate = self._samples / max(time.perf_counter() - self._start, 1e-9)
            self._bar.set_postfix_str(
                f"loss {logs['loss']:.4g} - {rate:,.0f} samples/s", refresh=False
            )

    def on_epoch_end(self, trainer: Any, epoch: int, logs: Mapping[str, float]) -> None:
        elapsed = time.perf_counter() - self._start
        rate = self._samples / max(elapsed, 1e-9)
        summary = f"{_format(logs)} - {rate:,.0f} samples/s - {elapsed:.1f}s"
        if self._bar is not None:
            self._bar.set_postfix_str(summary, refresh=True)
            self._bar.close()
            self._bar = None
        else:
            print(
                f"epoch {epoch + 1}/{trainer.epochs_total} - {summary}",
                file=self._out(),
                flush=True,
            )

    def on_train_end(self, trainer: Any) -> None:
        if self._bar is not None:  # stopped mid-epoch
            self._bar.close()
            self._bar = None

    def config(self) -> dict[str, Any]:
        return {} if self.plain is None else {"plain": self.plain}
