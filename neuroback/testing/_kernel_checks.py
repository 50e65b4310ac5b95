"""The kernel contract of the conformance kit: :func:`check_kernel`.

A :class:`~neuroback.kernels.Kernel` passes on a backend when, on each of its
``example()`` cases,

1. its reference implementation runs there (the strict backend refuses what CuPy
   refuses, so a reference that passes there runs on a GPU) and keeps every array's
   dtype and shape;
2. the fast implementation for that backend, when there is one, leaves every array
   argument and returns a value equal to the reference's, within the tolerance of the
   dtype (a fused kernel may contract ``a * b + c`` into one rounding, so equality is
   not bitwise): ``rtol=1e-5`` for float32, ``1e-12`` for float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import BackendLike, get_backend
from ..kernels import Kernel
from ..tree import is_array
from ._contract_support import ConformanceError

__all__ = ["check_kernel"]

_RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def _fail(kernel: Kernel, rule: str, detail: str) -> ConformanceError:
    return ConformanceError(f"{kernel!r} breaks the kernel rule '{rule}': {detail}")


def _on(backend: Any, args: tuple[Any, ...]) -> list[Any]:
    return [
        backend.asarray(np.array(a, copy=True)) if isinstance(a, np.ndarray) else a for a in args
    ]


def _host(backend: Any, value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_host(backend, v) for v in value]
    return np.array(backend.to_host(value), copy=True) if is_array(value) else value


def check_kernel(kernel: Kernel, *, backend: BackendLike = None) -> None:
    """Run ``kernel``'s example cases on ``backend`` (default: the active one): the
    reference runs and keeps dtypes and shapes; a fast version agrees with it."""
    backend = get_backend(backend)
    if kernel.example is None:
        raise _fail(kernel, "it has example cases", "Kernel(..., example=...) was not given")
    fast = kernel.implementations.get(backend.name)
    for number, (args, kwargs) in enumerate(kernel.example()):
        where = f"case {number} ({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
        reference_args = _on(backend, args)
        try:
            reference_out = kernel.reference(backend, *reference_args, **kwargs)
        except Exception as exc:
            raise _fail(
                kernel,
                "the reference runs on every backend",
                f"{where} on {backend.name!r}: {type(exc).__name__}: {exc}",
            ) from exc
        for i, (before, after) in enumerate(zip(args, reference_args, strict=True)):
            if isinstance(before, np.ndarray) and (
                after.dtype != before.dtype or tuple(after.shape) != before.shape
            ):
                raise _fail(
                    kernel,
                    "dtypes and shapes are kept",
                    f"{where}: argument {i} went from {before.dtype}{before.shape} to "
                    f"{after.dtype}{tuple(after.shape)}",
                )
        if fast is None:
            continue
        fast_args = _on(backend, args)
        fast_out = fast(backend, *fast_args, **kwargs)
        pairs = [
            (f"argument {i}", r, f)
            for i, (r, f) in enumerate(zip(reference_args, fast_args, strict=True))
            if is_array(r)
        ]
        pairs.append(("the returned value", reference_out, fast_out))
        for what, ref, got in pairs:
            ref_host, got_host = _host(backend, ref), _host(backend, got)
            if isinstance(ref_host, np.ndarray):
                rtol = _RTOL.get(ref_host.dtype, 0.0)
                same = (
                    isinstance(got_host, np.ndarray)
                    and got_host.dtype == ref_host.dtype
                    and got_host.shape == ref_host.shape
                    and np.allclose(got_host, ref_host, rtol=rtol, atol=rtol, equal_nan=True)
                )
            else:
                same = type(got_host) is type(ref_host) and (
                    not isinstance(ref_host, list)
                    or all(np.allclose(a, b) for a, b in zip(ref_host, got_host, strict=True))
                )
            if not same:
                worst = (
                    float(np.max(np.abs(np.asarray(got_host) - ref_host)))
                    if isinstance(ref_host, np.ndarray) and np.shape(got_host) == ref_host.shape
                    else got_host
                )
                raise _fail(
                    kernel,
                    "the fast version computes what the reference computes",
                    f"{where} on {backend.name!r}: {what} differs (largest difference {worst})",
                )
