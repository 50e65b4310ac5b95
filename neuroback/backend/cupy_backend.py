"""The GPU backend: CuPy, imported only when this backend is asked for."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import BackendError
from .base import Array, Backend

__all__ = ["CupyBackend"]

_INSTALL_HINT = (
    'Install the GPU extra that matches your CUDA toolkit: pip install "neuroback[cuda12]" '
    'or pip install "neuroback[cuda13]" (check yours with nvidia-smi).'
)


def _import_cupy() -> Any:
    try:
        import cupy
    except ImportError as exc:
        raise BackendError(
            f"The 'cupy' backend needs CuPy, which is not installed ({exc}). {_INSTALL_HINT} "
            "Or use the CPU: backend='numpy'."
        ) from exc
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError when no driver is present
        raise BackendError(
            f"CuPy is installed but no usable GPU was found ({type(exc).__name__}: {exc}). "
            "Check the NVIDIA driver with nvidia-smi, or use backend='numpy'."
        ) from exc
    if count < 1:
        raise BackendError(
            "CuPy is installed but sees no GPU. Use backend='numpy' on this machine."
        )
    return cupy


class CupyBackend(Backend):
    """Arrays are ``cupy.ndarray`` on the current CUDA device."""

    name = "cupy"

    def __init__(self) -> None:
        self.xp = _import_cupy()

    @property
    def array_type(self) -> type:
        return self.xp.ndarray

    def asarray(self, data: Any, dtype: Any = None) -> Array:
        return self.xp.asarray(data, dtype=dtype)

    def to_host(self, array: Array) -> np.ndarray:
        if isinstance(array, np.ndarray):
            return array
        return self.xp.asnumpy(array)

    def synchronize(self) -> None:
        self.xp.cuda.get_current_stream().synchronize()
