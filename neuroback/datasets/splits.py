"""Seeded train / validation / test splits."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["train_val_test_split"]


def train_val_test_split(
    x: Any,
    y: Any,
    *,
    val: float = 0.1,
    test: float = 0.2,
    seed: int | None = 0,
    stratify: bool = False,
) -> tuple[tuple[Any, Any], tuple[Any, Any], tuple[Any, Any]]:
    """Shuffle with ``seed`` and cut ``(x, y)`` into train, validation and test parts.

    ``val`` and ``test`` are fractions of the whole. With ``stratify=True`` each
    class is split in the same proportions (labels must be integers).

    >>> import numpy as np
    >>> from neuroback.datasets import train_val_test_split
    >>> (xt, yt), (xv, yv), (xs, ys) = train_val_test_split(np.arange(10), np.arange(10), seed=1)
    >>> len(xt), len(xv), len(xs)
    (7, 1, 2)
    """
    x, y = np.asarray(x), np.asarray(y)
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x has {n} samples but y has {len(y)}.")
    for name, frac in (("val", val), ("test", test)):
        if isinstance(frac, bool) or not isinstance(frac, int | float) or not 0 <= frac < 1:
            raise ValueError(f"{name} must be a fraction in [0, 1), got {frac!r}.")
    if val + test >= 1:
        raise ValueError(f"val + test = {val + test} leaves no training data; keep it below 1.")
    rng = np.random.default_rng(seed)
    if stratify:
        if y.dtype.kind not in "iu":
            raise ValueError("stratify=True needs integer class labels.")
        parts: list[list[np.ndarray]] = [[], [], []]
        for label in np.unique(y):
            idx = rng.permutation(np.flatnonzero(y == label))
            n_test, n_val = round(len(idx) * test), round(len(idx) * val)
            parts[2].append(idx[:n_test])
            parts[1].append(idx[n_test : n_test + n_val])
            parts[0].append(idx[n_test + n_val :])
        train_idx, val_idx, test_idx = (rng.permutation(np.concatenate(p)) for p in parts)
    else:
        order = rng.permutation(n)
        n_test, n_val = round(n * test), round(n * val)
        test_idx, val_idx, train_idx = (
            order[:n_test],
            order[n_test : n_test + n_val],
            order[n_test + n_val :],
        )
    if len(train_idx) == 0:
        raise ValueError(f"The split leaves no training samples out of {n}.")
    return (x[train_idx], y[train_idx]), (x[val_idx], y[val_idx]), (x[test_idx], y[test_idx])
