"""The default random generator that initializers draw from.

Initial weights are drawn on the host with NumPy's ``Generator`` and then moved
to the backend, so a seed gives the same initial model on the CPU and the GPU.
Stochastic layers (Dropout) do *not* use this generator: they draw from the
``rng`` the caller passes to ``forward`` (the Trainer passes its own, seeded by
``Trainer(seed=...)``).

>>> import neuroback as nb
>>> nb.seed(0)
>>> a = nb.default_rng().normal()
>>> nb.seed(0)
>>> a == nb.default_rng().normal()
True
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

__all__ = ["default_rng", "resolve_rng", "seed", "seeded_default_rng", "untouched_default_rng"]

_default = np.random.default_rng()


def seed(n: int) -> None:
    """Reseed the default generator used by initializers when no ``rng=`` is given."""
    global _default
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"seed expects a non-negative integer, got {n!r}.")
    _default = np.random.default_rng(int(n))


def default_rng() -> np.random.Generator:
    """The generator :func:`seed` controls."""
    return _default


def resolve_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """``rng`` as a generator: itself, a new one seeded with it, or the default."""
    if rng is None:
        return _default
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}."
    )


@contextmanager
def untouched_default_rng() -> Iterator[None]:
    """Leave the default generator's stream as it was, whatever the block draws from it.

    Loading a model builds its layers, whose initializers draw weights that the file's
    weights then replace; the caller's seeded stream must not move because of that.
    """
    state = _default.bit_generator.state
    try:
        yield
    finally:
        _default.bit_generator.state = state


@contextmanager
def seeded_default_rng(n: int) -> Iterator[None]:
    """Within the block, the default generator is a fresh one seeded with ``n``; after it,
    the caller's generator is back, where it was."""
    global _default
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"seed expects a non-negative integer, got {n!r}.")
    saved = _default
    _default = np.random.default_rng(int(n))
    try:
        yield
    finally:
        _default = saved
