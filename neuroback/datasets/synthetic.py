"""Small synthetic datasets made in code: XOR, two spirals, two moons, a noisy sine.

Each returns ``(x, y)`` as host NumPy arrays: ``x`` float32 of shape
``(n, features)``; ``y`` int64 class labels of shape ``(n,)`` for the
classification sets, float32 of shape ``(n, 1)`` for the regression set.
A ``seed`` makes every draw reproducible.
"""

from __future__ import annotations

import numpy as np

__all__ = ["noisy_sine", "two_moons", "two_spirals", "xor"]


def _check_n(n: int, minimum: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < minimum:
        raise ValueError(f"n must be an integer >= {minimum}, got {n!r}.")
    return int(n)


def _check_noise(noise: float) -> float:
    if isinstance(noise, bool) or not isinstance(noise, int | float) or noise < 0:
        raise ValueError(f"noise must be a non-negative number, got {noise!r}.")
    return float(noise)


def xor(n: int = 4, *, noise: float = 0.0, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """The XOR problem: the four corners of the unit square (repeated to ``n`` points).

    Labels are 1 where exactly one coordinate is 1.

    >>> from neuroback.datasets import xor
    >>> x, y = xor()
    >>> x.tolist(), y.tolist()
    ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
    """
    n = _check_n(n)
    rng = np.random.default_rng(seed)
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    x = corners[np.arange(n) % 4] + _check_noise(noise) * rng.normal(size=(n, 2))
    y = (np.arange(n) % 4 == 1) | (np.arange(n) % 4 == 2)
    return x.astype(np.float32), y.astype(np.int64)


def two_spirals(
    n: int = 400, *, noise: float = 0.2, turns: float = 1.5, seed: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals, ``n // 2`` points each (class 0 and class 1)."""
    n = _check_n(n, 2)
    rng = np.random.default_rng(seed)
    half = n // 2
    sizes = (half, n - half)
    xs, ys = [], []
    for label, size in enumerate(sizes):
        t = np.sqrt(rng.uniform(0, 1, size)) * turns * 2 * np.pi
        r = t / (turns * 2 * np.pi) * 3
        angle = t + label * np.pi
        points = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)
        xs.append(points + _check_noise(noise) * rng.normal(size=points.shape) * 0.2)
        ys.append(np.full(size, label))
    order = rng.permutation(n)
    return np.concatenate(xs)[order].astype(np.float32), np.concatenate(ys)[order].astype(np.int64)


def two_moons(
    n: int = 400, *, noise: float = 0.1, seed: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (class 0 on top, class 1 below, shifted)."""
    n = _check_n(n, 2)
    rng = np.random.default_rng(seed)
    half = n // 2
    t0 = rng.uniform(0, np.pi, half)
    t1 = rng.uniform(0, np.pi, n - half)
    top = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    bottom = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    x = np.concatenate([top, bottom]) + _check_noise(noise) * rng.normal(size=(n, 2))
    y = np.concatenate([np.zeros(half), np.ones(n - half)])
    order = rng.permutation(n)
    return x[order].astype(np.float32), y[order].astype(np.int64)


def noisy_sine(
    n: int = 200, *, noise: float = 0.1, seed: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Regression: ``y = sin(x) + noise`` for ``x`` uniform in ``[-pi, pi]``.

    >>> from neuroback.datasets import noisy_sine
    >>> x, y = noisy_sine(5)
    >>> x.shape, y.shape, str(y.dtype)
    ((5, 1), (5, 1), 'float32')
    """
    n = _check_n(n)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-np.pi, np.pi, size=(n, 1))
    y = np.sin(x) + _check_noise(noise) * rng.normal(size=(n, 1))
    return x.astype(np.float32), y.astype(np.float32)
