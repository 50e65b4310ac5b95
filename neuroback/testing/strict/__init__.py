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
from collections.abc import Iterator
from types import ModuleType
from typing import Any, Final, cast, final

import numpy as np

from ...backend import Array, Backend, register_backend, use_backend
from ...errors import BackendMismatchError
from ._array import (
    StrictArray,
    StrictArrayError,
    StrictAssignmentError,
    _call_ufunc,
    _describe,
    _strict_function,
)

__all__ = [
    "StrictArray",
    "StrictArrayError",
    "StrictAssignmentError",
    "StrictBackend",
    "StrictGenerator",
    "strict_numpy",
    "use_strict_backend",
]


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
