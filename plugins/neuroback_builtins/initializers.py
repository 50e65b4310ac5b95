r"""Weight initializers for layers with a fan-in and a fan-out.

=========  ==============================================  =====================
name       distribution                                    suits
=========  ==============================================  =====================
``he``     :math:`\mathcal N(0,\ 2/\text{fan\_in})`        ReLU networks
``xavier`` :math:`\mathcal U(\pm\sqrt{6/(\text{fan\_in}+\text{fan\_out})})`  sigmoid / tanh
``normal`` :math:`\mathcal N(0,\ 0.01^2)`                  small networks, demos
``zeros``  all zeros                                       biases, tests
=========  ==============================================  =====================

Values are drawn on the host from a NumPy generator, then moved to the backend,
so a seed gives the same weights on the CPU and the GPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

Shape = tuple[int, ...]

__all__ = ["INITIALIZERS", "initialize"]


def _he(rng: np.random.Generator, fan_in: int, fan_out: int, shape: Shape) -> np.ndarray:
    return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)


def _xavier(rng: np.random.Generator, fan_in: int, fan_out: int, shape: Shape) -> np.ndarray:
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


def _normal(rng: np.random.Generator, fan_in: int, fan_out: int, shape: Shape) -> np.ndarray:
    return rng.normal(0.0, 0.01, size=shape)


def _zeros(rng: np.random.Generator, fan_in: int, fan_out: int, shape: Shape) -> np.ndarray:
    return np.zeros(shape)


INITIALIZERS: dict[str, Callable[[np.random.Generator, int, int, Shape], np.ndarray]] = {
    "he": _he,
    "kaiming": _he,
    "xavier": _xavier,
    "glorot": _xavier,
    "normal": _normal,
    "zeros": _zeros,
}


def initialize(
    name: str,
    rng: np.random.Generator,
    fan_in: int,
    fan_out: int,
    dtype: np.dtype,
    *,
    shape: Shape | None = None,
) -> np.ndarray:
    """A host array drawn by the initializer ``name`` with the given fans, of ``shape``
    (default ``(fan_in, fan_out)``, a Dense weight; a convolution passes its kernel's
    shape, whose fans count the kernel's positions). Entries are independent, so the
    shape changes the layout of the draws, never their law."""
    try:
        fn = INITIALIZERS[name]
    except KeyError:
        raise ValueError(
            f"Unknown initializer {name!r}; expected one of {sorted(INITIALIZERS)}."
        ) from None
    return fn(rng, fan_in, fan_out, (fan_in, fan_out) if shape is None else shape).astype(dtype)
