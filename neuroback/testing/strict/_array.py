"""The strict array: a NumPy array that behaves like a ``cupy.ndarray`` towards NumPy.

Part of :mod:`neuroback.testing.strict`; see that module for what each rule mimics.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any, Final, cast, final

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

__all__ = ["StrictArray", "StrictArrayError", "StrictAssignmentError"]

_FIX = (
    "Move data explicitly: backend.asarray(x) copies host data to the backend, "
    "backend.to_host(a) copies a backend array to the host."
)


class StrictArrayError(TypeError):
    """A strict array met a host array, or was converted to NumPy implicitly.

    A ``TypeError``, as CuPy raises in the same situations
    (``Implicit conversion to a NumPy array is not allowed``,
    ``Unsupported type <class 'numpy.ndarray'>``).
    """


class StrictAssignmentError(StrictArrayError, ValueError):
    """``a[key] = host_array`` with a non-scalar host array.

    Also a ``ValueError``, which is what CuPy raises here
    (``non-scalar numpy.ndarray cannot be used for fill``).
    """


def _describe(obj: Any) -> str:
    if isinstance(obj, np.ndarray):
        return f"a host numpy.ndarray (shape {obj.shape}, {obj.dtype})"
    return f"a {type(obj).__module__}.{type(obj).__qualname__}"


def _is_foreign_array(obj: Any) -> bool:
    """An array of another library (CuPy, torch...) that NumPy would convert silently."""
    if isinstance(obj, np.generic):
        return False
    kind = type(obj)
    return any(
        hasattr(kind, attr)
        for attr in ("__array__", "__array_interface__", "__array_struct__", "__dlpack__")
    )


class _Call:
    """One call through the strict rule: unwrap the arguments, run NumPy, wrap the result.

    Strict arrays are unwrapped wherever they appear in lists and tuples; host
    arrays are refused (or, for an explicit transfer, accepted and never
    aliased by the result). Results that are an input's own buffer come back as
    that input's wrapper, so in-place operations keep identity.
    """

    __slots__ = ("allow_host", "hosts", "owners", "where")

    def __init__(self, where: str, *, allow_host: bool = False) -> None:
        self.where = where
        self.allow_host = allow_host
        self.owners: dict[int, StrictArray] = {}
        self.hosts: list[np.ndarray] = []

    def own(self, array: StrictArray) -> np.ndarray:
        data = array._data
        self.owners[id(data)] = array
        return data

    def unwrap(self, obj: Any) -> Any:
        if isinstance(obj, StrictArray):
            return self.own(obj)
        if isinstance(obj, np.ndarray):
            if self.allow_host:
                self.hosts.append(obj)
                return obj
            raise StrictArrayError(
                f"{self.where} got {_describe(obj)} among strict (device) arrays. CuPy refuses "
                f"to mix host and device arrays (TypeError: Unsupported type "
                f"<class 'numpy.ndarray'>), and so does the strict test backend. {_FIX}"
            )
        if isinstance(obj, list):
            return [self.unwrap(item) for item in obj]
        if isinstance(obj, tuple):
            items = [self.unwrap(item) for item in obj]
            if hasattr(obj, "_fields"):  # NamedTuple
                return type(obj)(*items)
            return tuple(items) if type(obj) is tuple else type(obj)(items)
        if not self.allow_host and _is_foreign_array(obj):
            raise StrictArrayError(
                f"{self.where} got {_describe(obj)}, an array of another library, among strict "
                f"arrays; it would be converted implicitly. {_FIX}"
            )
        return obj

    def wrap(self, obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            owner = self.owners.get(id(obj))
            if owner is not None and owner._data is obj:
                return owner
            if self.hosts and any(np.may_share_memory(obj, h) for h in self.hosts):
                obj = obj.copy()  # a transfer never aliases host memory, as on a GPU
            return StrictArray(obj)
        if isinstance(obj, np.generic):
            return StrictArray(np.asarray(obj))  # CuPy returns 0-d arrays, not scalars
        if isinstance(obj, tuple):
            items = [self.wrap(item) for item in obj]
            if hasattr(obj, "_fields"):  # NamedTuple results (np.linalg.eigh, ...)
                return type(obj)(*items)
            return tuple(items)
        if isinstance(obj, list):
            return [self.wrap(item) for item in obj]
        return obj

    def run(self, func: Callable[..., Any], args: Any, kwargs: dict[str, Any]) -> Any:
        plain_args = self.unwrap(tuple(args))
        plain_kwargs = {key: self.unwrap(value) for key, value in kwargs.items()}
        return self.wrap(func(*plain_args, **plain_kwargs))


def _call_ufunc(ufunc: np.ufunc, method: str, inputs: Any, kwargs: dict[str, Any]) -> Any:
    where = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    if method == "__call__":
        for operand in inputs:
            if isinstance(operand, list | tuple):
                raise StrictArrayError(
                    f"{where} got a {type(operand).__name__} operand. CuPy's ufuncs and operators "
                    f"take arrays and scalars only (TypeError: Unsupported type "
                    f"<class '{type(operand).__name__}'>); build an array first with "
                    f"xp.asarray(...)."
                )
    return _Call(where).run(getattr(ufunc, method), inputs, kwargs)


def _strict_function(
    func: Callable[..., Any], where: str, *, allow_host: bool = False
) -> Callable[..., Any]:
    """``func`` with the strict rule applied to its arguments and result."""

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        return _Call(where, allow_host=allow_host).run(func, args, kwargs)

    return call


def _unwrap_index(key: Any) -> Any:
    if isinstance(key, StrictArray):
        return key._data
    if isinstance(key, tuple):
        return tuple(_unwrap_index(k) for k in key)
    return key  # ints, slices, None, Ellipsis, lists and host index arrays (CuPy converts them)


#: ``cupy.ndarray`` methods that :class:`StrictArray` delegates to NumPy.
_METHODS: Final = frozenset(
    {
        "all", "any", "argmax", "argmin", "argpartition", "argsort", "astype", "choose",
        "clip", "compress", "conj", "conjugate", "copy", "cumprod", "cumsum", "diagonal",
        "dot", "fill", "flatten", "item", "max", "mean", "min", "nonzero", "partition",
        "prod", "put", "ravel", "repeat", "reshape", "round", "sort", "squeeze", "std",
        "sum", "swapaxes", "take", "tobytes", "tolist", "trace", "transpose", "var", "view",
    }
)  # fmt: skip
#: ``cupy.ndarray`` attributes that :class:`StrictArray` delegates (arrays come back wrapped).
_ATTRIBUTES: Final = frozenset({"base", "flags", "imag", "real"})


@final
class StrictArray(NDArrayOperatorsMixin):
    """A NumPy array that behaves like a ``cupy.ndarray`` where the two differ.

    Not a ``numpy.ndarray`` subclass. See the module docstring for the rules;
    in short: no implicit conversion to NumPy, no mixing with NumPy arrays,
    0-d arrays instead of NumPy scalars, explicit transfers only.
    """

    __slots__ = ("_data",)
    __hash__ = None  # type: ignore[assignment]  # mutable, like numpy and cupy arrays

    def __init__(self, data: np.ndarray) -> None:
        if not isinstance(data, np.ndarray):
            raise TypeError(
                f"StrictArray wraps a numpy.ndarray, got {type(data).__name__}; use "
                "get_backend('strict').asarray(data) to make one from any array-like."
            )
        self._data = data

    # -- the NumPy protocols -------------------------------------------------
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """Refuse implicit conversion, as ``cupy.ndarray.__array__`` does."""
        raise StrictArrayError(
            "Implicit conversion to a NumPy array is not allowed (a strict backend array, "
            "like a CuPy array, lives on the device). Use backend.to_host(a) to copy it to "
            "the host explicitly."
        )

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """Operators and ``np.<ufunc>(...)``: strict operands only (plus scalars)."""
        return _call_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: dict[str, Any]) -> Any:
        """``np.sum(a)``, ``np.concatenate([a, b])``...: run on the data, as CuPy's NEP-18 does."""
        return _Call(f"numpy.{func.__name__}").run(func, args, kwargs)

    # -- attributes ----------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def nbytes(self) -> int:
        return self._data.nbytes

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def strides(self) -> tuple[int, ...]:
        return self._data.strides

    @property
    def T(self) -> StrictArray:
        return StrictArray(self._data.T)

    def get(self) -> np.ndarray:
        """A host copy, as ``cupy.ndarray.get()`` (library code uses ``backend.to_host``)."""
        return self._data.copy()

    def __getattr__(self, name: str) -> Any:
        if name in _METHODS or name in _ATTRIBUTES:
            try:
                data = object.__getattribute__(self, "_data")
            except AttributeError:  # half-built (copy protocol): no delegation
                raise AttributeError(name) from None
            value = getattr(data, name)
            if name in _ATTRIBUTES:
                return _Call(f"StrictArray.{name}").wrap(value)

            def method(*args: Any, **kwargs: Any) -> Any:
                call = _Call(f"StrictArray.{name}")
                call.own(self)
                return call.run(value, args, kwargs)

            method.__name__ = name
            method.__doc__ = value.__doc__
            return method
        raise AttributeError(
            f"'StrictArray' object has no attribute {name!r}: strict arrays offer what "
            f"cupy.ndarray offers. For NumPy-only features copy to the host with "
            f"backend.to_host(a)."
        )

    # -- indexing ------------------------------------------------------------
    def __getitem__(self, key: Any) -> StrictArray:
        index = _unwrap_index(key)
        if not isinstance(index, tuple):
            index = (index,)
        if not any(k is Ellipsis for k in index):
            index = (*index, Ellipsis)  # a[0, 0] is then a 0-d view, as in CuPy
        call = _Call("StrictArray.__getitem__")
        call.own(self)
        return cast(StrictArray, call.wrap(self._data[index]))

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(value, StrictArray):
            plain = value._data
        elif isinstance(value, np.ndarray):
            if value.ndim:
                raise StrictAssignmentError(
                    f"Cannot assign {_describe(value)} into a strict (device) array: CuPy raises "
                    f"'ValueError: non-scalar numpy.ndarray cannot be used for fill'. {_FIX}"
                )
            plain = value  # a 0-d host array is a scalar to CuPy (it takes .item())
        elif isinstance(value, list | tuple) or _is_foreign_array(value):
            raise StrictArrayError(
                f"Cannot assign {_describe(value)} into a strict (device) array: CuPy accepts "
                f"device arrays and scalars only. {_FIX}"
            )
        else:
            plain = value
        self._data[_unwrap_index(key)] = plain

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[StrictArray]:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d array")  # at iter(), as CuPy and NumPy do
        return (self[i] for i in range(self._data.shape[0]))

    def __contains__(self, value: Any) -> bool:
        return bool((self == value).any())

    # -- explicit conversions to Python (CuPy's synchronisation points) -----
    def __float__(self) -> float:
        return float(self._data)

    def __int__(self) -> int:
        return int(self._data)

    def __complex__(self) -> complex:
        return complex(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __index__(self) -> int:
        return self._data.__index__()

    def __format__(self, spec: str) -> str:
        return format(self._data, spec)

    # -- copying and printing ------------------------------------------------
    def __copy__(self) -> StrictArray:
        return StrictArray(self._data.copy())

    def __deepcopy__(self, memo: dict[int, Any]) -> StrictArray:
        return StrictArray(self._data.copy())

    def __repr__(self) -> str:
        text = repr(self._data)
        if text.startswith("array("):
            return "strict_" + text.replace("\n", "\n" + " " * len("strict_"))
        return f"strict_array({text})"

    def __str__(self) -> str:
        return str(self._data)


# The public classes are documented and raised as neuroback.testing.strict.<Name>.
for _public in (StrictArray, StrictArrayError, StrictAssignmentError):
    _public.__module__ = "neuroback.testing.strict"
