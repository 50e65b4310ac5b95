r"""A strict CPU test backend whose arrays refuse what CuPy's arrays refuse.

CI has no GPU, yet the GPU path has bugs of its own that NumPy forgives: a stray
``np.`` call that quietly turns a device array into a host one, a host array
mixed into device arithmetic, an ``isinstance(x, np.ndarray)`` branch that the
GPU never takes, a reduction result treated as a NumPy scalar. The ``"strict"``
backend runs the very same NumPy kernels, but every array it hands out is a
:class:`StrictArray` that follows CuPy's rules where they differ from NumPy's:

* **No implicit conversion.** ``np.asarray(d)`` / ``np.array(d)`` raise
  :class:`StrictArrayError` (a ``TypeError``), as CuPy raises ``TypeError:
  Implicit conversion to a NumPy array is not allowed``. There is no
  ``__array_interface__``, ``__array_struct__`` or ``__dlpack__`` to sneak through.
* **No mixing with host arrays.** A ``numpy.ndarray`` of any ndim among the
  operands, ``out=`` or arguments of an operator, ufunc, ``xp`` function, method
  or NumPy function raises :class:`StrictArrayError` (CuPy: ``TypeError:
  Unsupported type <class 'numpy.ndarray'>``): ``d + h``, ``h + d``,
  ``xp.add(d, h)``, ``xp.add(h, h)``, ``xp.concatenate([d, h])``. A list or tuple
  is no ufunc operand either (``d + [1, 2]``); ``xp`` functions may take lists.
* **Assignment.** ``d[...] = h`` with a non-scalar host array raises
  :class:`StrictAssignmentError`, both a ``TypeError`` and the ``ValueError``
  CuPy raises (``non-scalar numpy.ndarray cannot be used for fill``). Strict
  arrays, Python and NumPy scalars and 0-d host arrays are accepted.
* **Not a NumPy array.** :class:`StrictArray` is no ``numpy.ndarray`` subclass,
  so ``isinstance(x, np.ndarray)`` branches go the way they go on the GPU.
* **0-d arrays, not scalars.** ``d.sum()``, ``xp.max(d)``, ``np.mean(d)`` and
  ``d[0, 0]`` return 0-d strict arrays; integer indexing returns a 0-d *view*,
  as CuPy's does.
* **Explicit synchronisation is allowed.** ``float(d)``, ``int(d)``, ``bool(d)``,
  ``operator.index(d)``, ``d.item()``, ``d.tolist()`` and ``d.get()`` work, with
  NumPy's rules on ndim and size.
* **Transfers copy.** ``xp.asarray(h)``, ``xp.array(h)`` and ``backend.asarray(h)``
  copy host data, as ``cupy.asarray`` copies it to the device: mutating ``h``
  later never changes the backend array. ``backend.to_host(d)`` returns a fresh
  copy, never a view.
* **Scalars and indices as in CuPy.** Python numbers and NumPy scalar types are
  accepted everywhere (``d * np.float32(2)``); indices may be ints, slices,
  lists, strict arrays or host index arrays (CuPy converts those itself).

How it is built
---------------
* :class:`StrictArray` holds a ``numpy.ndarray`` in ``_data``. Operators come from
  :class:`numpy.lib.mixins.NDArrayOperatorsMixin`, so every operator is a ufunc
  call that lands in :meth:`StrictArray.__array_ufunc__`; NumPy functions called
  on strict arrays (``np.sum(d)``, ``np.concatenate``) land in
  :meth:`StrictArray.__array_function__`, as CuPy's NEP-18 support does.
* One unwrap/wrap rule serves all entry points: strict arrays are unwrapped
  (also inside lists, tuples and ``out=``), host arrays are refused, NumPy runs,
  and results are wrapped: ``ndarray`` -> :class:`StrictArray`, NumPy scalar ->
  0-d :class:`StrictArray`. A result that *is* an input's buffer is returned as
  that input's wrapper, so ``a += 1``, ``xp.add(a, b, out=a)``,
  ``a.astype(a.dtype, copy=False)`` and ``xp.asarray(a)`` keep identity.
* :data:`strict_numpy` is the backend's ``xp``: a module-like proxy of ``numpy``.
  Functions and ufuncs are wrapped with the rule above (so ``xp.zeros`` returns a
  strict array and ``xp.add(h, h)`` refuses host input even with no strict
  operand), classes, dtypes and constants come back unchanged (``xp.float32 is
  np.float32``, as ``cupy.float32`` is), ``xp.ndarray`` is :class:`StrictArray`,
  submodules (``xp.linalg``, ``xp.random``...) are proxied the same way, and
  ``xp.random.default_rng(seed)`` gives a :class:`StrictGenerator` (NumPy's
  stream, so results equal the NumPy backend's bit for bit; CuPy's stream
  differs, which no test should depend on).
* Only ``xp.asarray``, ``xp.array`` and ``xp.asanyarray`` accept host arrays: they
  are the explicit host -> device transfer, as ``cupy.asarray(numpy_array)`` is.
* Methods are delegated through ``__getattr__`` from an allow-list of what
  ``cupy.ndarray`` offers, so a NumPy-only method (``a.tofile``, ``a.byteswap``)
  fails here as it would on the GPU.

Deliberate choices
------------------
* Stricter than CuPy in a few corners, for one simple rule: a 0-d host array is
  refused as an operand (CuPy may take it as a scalar), a host array of ndim >= 1
  as a ``__setitem__`` value (CuPy accepts one on a few advanced-indexing paths),
  and every ``xp`` function but the three transfers refuses host input
  (a few CuPy functions that read only shape and dtype would accept it).
* :meth:`StrictBackend.to_host` refuses anything but a strict array, where
  ``CupyBackend.to_host`` passes NumPy arrays through: handing a host array to
  ``to_host`` means the caller lost track of where its data lives.
* Functions returning Python values (``xp.allclose``, ``xp.shape``) return them
  unchanged; CuPy returns some of these as 0-d arrays. Code that needs a host
  bool should call ``bool(...)``, which works on both.
* ``NumpyBackend.asarray`` recognises a CuPy array by ``__cuda_array_interface__``
  and calls its ``.get()``; a strict array does not fake that interface (other
  libraries would read it as a device pointer), so
  ``get_backend("numpy").asarray(strict_array)`` raises. Move data between
  backends through ``to_host``, as ``Layer.to`` does.

Importing this module registers the backend under the name ``"strict"``, so
``nb.get_backend("strict")``, ``nb.use_backend("strict")`` and
``NEUROBACK_BACKEND=strict`` work once it is imported (pytest's doctest
collection imports it too).

>>> import numpy as np, neuroback as nb
>>> import neuroback.testing.strict  # registers "strict"
>>> be = nb.get_backend("strict")
>>> a = be.asarray([1.0, 2.0, 3.0])
>>> a * 2 + np.float64(1)
strict_array([3., 5., 7.])
>>> a.sum(), float(a.sum())
(strict_array(6.), 6.0)
>>> isinstance(a, np.ndarray), isinstance(a, be.xp.ndarray)
(False, True)
>>> np.asarray(a)
Traceback (most recent call last):
...
neuroback.testing.strict.StrictArrayError: Implicit conversion to a NumPy array is not allowed...
>>> a + np.ones(3)
Traceback (most recent call last):
...
neuroback.testing.strict.StrictArrayError: numpy.add got a host numpy.ndarray...
>>> be.to_host(a)
array([1., 2., 3.])
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, Final, cast, final

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

from ..backend import Array, Backend, register_backend, use_backend
from ..errors import BackendMismatchError

__all__ = [
    "StrictArray",
    "StrictArrayError",
    "StrictAssignmentError",
    "StrictBackend",
    "StrictGenerator",
    "strict_numpy",
    "use_strict_backend",
]

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


class _StrictUfunc:
    """A NumPy ufunc under the strict rule, with ``reduce``/``outer``/``at``... too."""

    _METHODS: Final = frozenset({"reduce", "accumulate", "reduceat", "outer", "at"})

    def __init__(self, ufunc: np.ufunc) -> None:
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__
        self.__doc__ = ufunc.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _call_ufunc(self._ufunc, "__call__", args, kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._METHODS:
            return lambda *args, **kwargs: _call_ufunc(self._ufunc, name, args, kwargs)
        return getattr(self._ufunc, name)  # nin, nout, identity, types...

    def __repr__(self) -> str:
        return f"<strict ufunc {self.__name__!r}>"


@final
class StrictGenerator:
    """A NumPy ``Generator`` whose draws are strict arrays (``xp.random.default_rng``).

    Uses NumPy's bit stream, so a seed gives the same numbers as on the NumPy
    backend. Methods taking ``out=`` fill strict arrays in place.
    """

    __slots__ = ("_generator",)

    def __init__(self, seed: Any = None) -> None:
        self._generator: np.random.Generator = np.random.default_rng(seed)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        value = getattr(self._generator, name)
        if callable(value):
            return _strict_function(value, f"Generator.{name}")
        return value

    def __repr__(self) -> str:
        return f"StrictGenerator({type(self._generator.bit_generator).__name__})"


_ROOT_TRANSFERS: Final = frozenset({"asarray", "array", "asanyarray"})


class _StrictNamespace(ModuleType):
    """A module-like proxy of a NumPy (sub)module under the strict rule."""

    def __init__(self, name: str, module: ModuleType, overrides: dict[str, Any]) -> None:
        super().__init__(name, f"Strict proxy of {module.__name__} (see neuroback.testing.strict).")
        self._module = module
        self._overrides = overrides

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(f"{self.__name__} has no attribute {name!r}")
        if name in self._overrides:
            value = self._overrides[name]
        else:
            value = self._convert(name, getattr(self._module, name))
        setattr(self, name, value)  # cache: the next lookup skips __getattr__
        return value

    def _convert(self, name: str, value: Any) -> Any:
        where = f"{self._module.__name__}.{name}"
        if isinstance(value, ModuleType):
            return _StrictNamespace(f"{self.__name__}.{name}", value, {})
        if isinstance(value, type):
            return value  # dtypes and classes are shared, as cupy.float32 is numpy.float32
        if isinstance(value, np.ufunc):
            return _StrictUfunc(value)
        if callable(value):
            transfer = self._module is np and name in _ROOT_TRANSFERS
            return _strict_function(value, where, allow_host=transfer)
        return value  # constants: pi, inf, newaxis, e...

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self._module)) | set(self._overrides))

    def __repr__(self) -> str:
        return f"<strict namespace {self.__name__!r} over {self._module.__name__!r}>"


def _default_rng(seed: Any = None) -> StrictGenerator:
    """``xp.random.default_rng``: a :class:`StrictGenerator`."""
    return StrictGenerator(seed)


#: The strict backend's ``xp``: ``numpy`` under the strict rule (see the module docstring).
strict_numpy: Final = _StrictNamespace(
    "strict_numpy",
    np,
    {
        "ndarray": StrictArray,
        "random": _StrictNamespace(
            "strict_numpy.random",
            np.random,
            {"default_rng": _default_rng, "Generator": StrictGenerator},
        ),
    },
)


@final
class StrictBackend(Backend):
    """The ``"strict"`` backend: NumPy kernels, CuPy's rules (see the module docstring)."""

    name = "strict"
    xp = strict_numpy

    @property
    def array_type(self) -> type:
        return StrictArray

    def asarray(self, data: Any, dtype: Any = None) -> Array:
        """``data`` as a strict array: the same one if it already is (cast if ``dtype``
        differs), else a *copy* of the host data, as ``cupy.asarray`` copies to the device."""
        if isinstance(data, StrictArray):
            if dtype is None or np.dtype(dtype) == data.dtype:
                return data
            return data.astype(dtype)
        return strict_numpy.asarray(data, dtype=dtype)

    def to_host(self, array: Array) -> np.ndarray:
        """A NumPy copy of a strict array (``cupy.asnumpy`` copies too)."""
        if not isinstance(array, StrictArray):
            raise BackendMismatchError(
                f"StrictBackend.to_host takes a strict array, got {_describe(array)}. Data that "
                f"is already on the host needs no transfer; data of another backend goes through "
                f"that backend's to_host."
            )
        return array._data.copy()

    def generator(self, seed: int | None = None) -> StrictGenerator:
        """A :class:`StrictGenerator` (NumPy's stream, strict arrays out)."""
        return StrictGenerator(seed)


@contextlib.contextmanager
def use_strict_backend() -> Iterator[StrictBackend]:
    """Build layers on the strict backend inside a ``with`` block (``use_backend("strict")``)."""
    with use_backend(StrictBackend.name) as backend:
        yield cast(StrictBackend, backend)


register_backend(StrictBackend.name, StrictBackend)
