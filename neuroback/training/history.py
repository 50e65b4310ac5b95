"""History: what ``Trainer.fit`` returns, one row of logs per epoch."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["History"]


class History:
    """Per-epoch training and validation metrics.

    ``history.epochs`` is a list of dicts (``{"epoch": 0, "loss": ..., "val_loss": ...}``);
    ``history["loss"]`` is that column as a list.

    >>> from neuroback.training import History
    >>> h = History()
    >>> h.append({"epoch": 0, "loss": 0.5})
    >>> h.append({"epoch": 1, "loss": 0.25})
    >>> h["loss"], len(h)
    ([0.5, 0.25], 2)
    """

    def __init__(self, epochs: list[dict[str, float]] | None = None) -> None:
        self.epochs: list[dict[str, float]] = list(epochs or [])

    def append(self, logs: Mapping[str, Any]) -> None:
        """Add one epoch's row (copied)."""
        self.epochs.append(dict(logs))

    def keys(self) -> list[str]:
        """Column names, in first-seen order."""
        seen: dict[str, None] = {}
        for row in self.epochs:
            seen.update(dict.fromkeys(row))
        return list(seen)

    def __getitem__(self, key: str) -> list[float]:
        if not any(key in row for row in self.epochs):
            raise KeyError(f"History has no {key!r}; it has {self.keys()}.")
        return [row[key] for row in self.epochs if key in row]

    def __len__(self) -> int:
        return len(self.epochs)

    def __iter__(self) -> Iterator[dict[str, float]]:
        return iter(self.epochs)

    def to_dict(self) -> dict[str, list[float]]:
        """Columns as lists (JSON-friendly)."""
        return {key: self[key] for key in self.keys()}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, History) and self.epochs == other.epochs

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        last = self.epochs[-1] if self.epochs else {}
        shown = ", ".join(f"{k}={v:.4g}" for k, v in last.items() if isinstance(v, float))
        return f"History({len(self)} epochs{': ' + shown if shown else ''})"
