r"""Dense's bias add as a kernel: :math:`y_{ij} \leftarrow y_{ij} + b_j`, in place.

NumPy adds a broadcast row with one inner loop per row, whose start-up costs more than
the row's arithmetic on a small model's batch (64 rows of 128: 5.3 us, against 1.9 us
as one loop). Where numba is installed the NumPy backend runs the compiled loop over
float32/float64 arrays (:mod:`neuroback.jit`); each element gets the same
single addition, so the result is NumPy's, bit for bit. Anything else runs the reference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuroback import Array, jit
from neuroback.kernels import Kernel

__all__ = ["add_bias"]


def _add_bias_reference(backend: Any, y: Array, b: Array) -> None:
    """``y += b`` for ``y`` of shape ``(rows, k)`` and ``b`` of shape ``(k,)``."""
    y += b


def _add_bias_cases() -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    rng = np.random.default_rng(0)
    cases: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for dtype in (np.float32, np.float64):
        for rows, k in ((5, 3), (1, 7), (33, 1), (64, 10)):
            y, b = rng.normal(size=(rows, k)).astype(dtype), rng.normal(size=k).astype(dtype)
            y.reshape(-1)[::5] = np.nan
            cases.append(((y, b), {}))
    return cases


#: ``y += b`` per row: the reference above; a compiled loop on NumPy where numba is.
add_bias = Kernel("Dense.add_bias", _add_bias_reference, example=_add_bias_cases)


def add_bias_loop(y: Array, b: Array) -> None:
    """Each row of ``y`` plus ``b``, element by element."""
    rows, k = y.shape
    for i in range(rows):
        for j in range(k):
            y[i, j] += b[j]


_add_bias_loop = jit.compiled(add_bias_loop, cache=True)
_COMPILED_DTYPES = frozenset({np.dtype(np.float32), np.dtype(np.float64)})


if jit.available():

    @add_bias.implement("numpy")
    def _add_bias_compiled(backend: Any, y: Array, b: Array) -> None:
        """The compiled loop for a 2-D ``y`` and 1-D ``b`` of one float dtype (what Dense's
        2-D pass holds; numba follows any strides); the reference for anything else."""
        if (
            type(y) is np.ndarray
            and type(b) is np.ndarray
            and y.dtype in _COMPILED_DTYPES
            and b.dtype is y.dtype
            and y.ndim == 2
            and b.shape == y.shape[1:]
            and y.flags.writeable  # else NumPy's own error, not numba's typing error
        ):
            try:
                _add_bias_loop(y, b)
                return
            except jit.Unavailable:
                pass
        y += b
