"""The Layer interface: a forward pass that returns its own backward pass.

.. math::

    y = f(x;\\theta), \\qquad
    \\frac{\\partial L}{\\partial x} = J_f(x)^\\top \\frac{\\partial L}{\\partial y}, \\qquad
    \\frac{\\partial L}{\\partial \\theta} \\mathrel{+}=
    J_\\theta(x)^\\top \\frac{\\partial L}{\\partial y}

``forward(x, train=..., rng=...)`` returns ``(y, backward)``. ``backward`` is a
closure over exactly what this call saved, so a layer can run twice before
either backward, and a backward can never read a stale cache.
``backward(dy, *, input_grad=True)`` returns ``dx`` and *adds* the parameter
gradients into each :attr:`Parameter.grad <neuroback.Parameter.grad>`. With
``input_grad=False`` the caller says nobody reads ``dx``: the layer may skip
computing it and return ``None`` (the parameter gradients are the same). The
request travels with the call, never on the layer object, so one layer may be
used twice in a model, or by two models.

A container (a layer with :meth:`Layer.children`) also accepts
``observer=`` in ``forward`` and runs each child through :func:`forward_child`,
which reports the child's output to the observer under its dotted name: that is
how diagnostics see inside any container, a plugin's included.
"""

from __future__ import annotations

import fnmatch
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

import numpy as np

from . import checks
from .backend import Array, Backend, BackendLike, get_backend
from .errors import DTypeError, ShapeError
from .parameter import Parameter

if TYPE_CHECKING:
    from .weights import LoadResult

__all__ = ["Backward", "Layer", "Observer", "forward_child", "run_backward"]

#: ``backward(dy, *, input_grad=True) -> dx``: the closure a forward pass returns.
#: It may return ``None`` when called with ``input_grad=False``.
Backward = Callable[..., Array | None]


class Observer:
    """Sees the output of every sub-layer during one ``forward`` call of a container.

    ``Observer(report)`` calls ``report(name, layer, y)`` for each child a container
    runs, with the child's dotted name inside the model (``"2"``, ``"1.block.0"``).
    It is passed down the call (``model.forward(x, train=False, observer=obs)``),
    never stored on a layer, so it cannot leak into another call.

    >>> import numpy as np, neuroback as nb
    >>> model = nb.Sequential(nb.layers.Dense(2, 3), nb.layers.ReLU())
    >>> seen = []
    >>> _ = model.forward(np.ones((4, 2), np.float32), train=False,
    ...                   observer=nb.Observer(lambda name, layer, y: seen.append((name, y.shape))))
    >>> seen
    [('0', (4, 3)), ('1', (4, 3))]
    """

    __slots__ = ("_prefix", "_report")

    def __init__(self, report: Callable[[str, Layer, Array], None], *, prefix: str = "") -> None:
        if not callable(report):
            raise TypeError(
                f"Observer needs a function report(name, layer, y), got {type(report).__name__}."
            )
        self._report = report
        self._prefix = prefix

    def name_of(self, child_name: str) -> str:
        """The dotted name of a child of the container this observer was handed to."""
        return f"{self._prefix}.{child_name}" if self._prefix else child_name

    def scoped(self, child_name: str) -> Observer:
        """The observer to hand to a child container named ``child_name``."""
        return Observer(self._report, prefix=self.name_of(child_name))

    def report(self, child_name: str, layer: Layer, y: Array) -> None:
        self._report(self.name_of(child_name), layer, y)


def forward_child(
    child: Layer,
    x: Array,
    *,
    name: str,
    train: bool,
    rng: Any = None,
    observer: Observer | None = None,
) -> tuple[Array, Backward]:
    """Run ``child.forward`` from inside a container, reporting its output to ``observer``.

    A container calls this for each child it runs. Without an observer it is
    ``child.forward(x, train=train, rng=rng)``; with one, a child that is itself a
    container receives a scoped observer, and the child's output is reported
    under ``name``.
    """
    if observer is None:
        return child.forward(x, train=train, rng=rng)
    if child.children():
        y, backward = child.forward(x, train=train, rng=rng, observer=observer.scoped(name))
    else:
        y, backward = child.forward(x, train=train, rng=rng)
    observer.report(name, child, y)
    return y, backward


def missing_input_grad(owner: Any) -> NoReturn:
    """Raise the error for a backward that returned ``None`` where its ``dx`` is needed."""
    raise TypeError(
        f"The backward of {owner!r} returned None although its input gradient is "
        f"needed here. A backward returns dx unless it was called with "
        f"input_grad=False."
    )


def run_backward(backward: Backward, dy: Array, *, input_grad: bool, owner: Any) -> Array | None:
    """Call a child's ``backward``, passing ``input_grad=False`` only when nobody needs ``dx``.

    A backward written as ``def backward(dy)`` (before the ``input_grad`` keyword
    was part of the contract) still works wherever its input gradient is needed;
    where it is not, the error says how to fix it.
    """
    if input_grad:
        dx = backward(dy)
        if dx is None:
            missing_input_grad(owner)
        return dx
    try:
        return backward(dy, input_grad=False)
    except TypeError as exc:
        if "input_grad" not in str(exc) or "does not accept input_grad=" in str(exc):
            raise  # another error, or an inner layer's, already explained
        raise TypeError(
            f"The backward of {owner!r} does not accept input_grad=: define it as "
            f"def backward(dy, *, input_grad=True) (it may skip dx and return None when "
            f"input_grad is False)."
        ) from exc


class Layer(ABC):
    """Base class of every layer and model.

    Subclasses implement :meth:`forward` and :meth:`config`, and create their
    parameters with :meth:`add_parameter` (and non-trainable state, such as
    running statistics, with :meth:`add_state`). A container of layers
    overrides :meth:`children`; a model is itself a Layer, so models nest.
    """

    #: The axis of an input that holds the features (channels) this layer was built
    #: for: ``-1`` (the last axis) for Dense-like layers, ``1`` for layers on
    #: ``(N, C, ...)`` input such as convolutions. :meth:`check_input` checks the
    #: feature count on it, and the conformance kit widens it to test the error.
    feature_axis: int = -1

    #: How this layer's parameters and state map onto its PyTorch module's state dict:
    #: our name -> PyTorch's name, with ``".T"`` where PyTorch stores the transpose
    #: (Dense: ``{"W": "weight.T", "b": "bias"}``). ``None``: no PyTorch counterpart.
    #: See :mod:`neuroback.torch_state`.
    torch_layout: ClassVar[Mapping[str, str] | None] = None
    #: Tensors PyTorch's module keeps that this layer does not (BatchNorm's
    #: ``num_batches_tracked``): written as 0-d int64 with this value, ignored on reading.
    torch_extra: ClassVar[Mapping[str, int]] = MappingProxyType({})

    def __init__(self, *, backend: BackendLike = None) -> None:
        self._backend: Backend = get_backend(backend)
        self._parameters: dict[str, Parameter] = {}
        self._state: dict[str, Array] = {}

    @property
    def needs_input_grad(self) -> bool:
        """Removed: ask per call, ``backward(dy, input_grad=False)``."""
        raise AttributeError(_NO_FLAG)

    @needs_input_grad.setter
    def needs_input_grad(self, value: bool) -> None:
        raise AttributeError(_NO_FLAG)

    # -- the two methods a layer author writes -------------------------------
    @abstractmethod
    def forward(self, x: Array, *, train: bool, rng: Any = None) -> tuple[Array, Backward]:
        """Compute ``y`` and return it with the closure that back-propagates through this call.

        ``train`` selects training behaviour (batch statistics, dropout);
        ``rng`` is the backend generator a stochastic layer draws from.
        """

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this layer (JSON/TOML-friendly values only)."""

    # -- construction helpers ------------------------------------------------
    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Layer:
        """Rebuild a layer from :meth:`config` (parameters are freshly initialized)."""
        return cls(**dict(config))

    @classmethod
    def example(cls) -> tuple[Layer, Any]:
        """A small float64 instance and a host input, for the conformance kit.

        Override it in every concrete layer: :func:`neuroback.testing.check_component`
        and the project's contract tests run the layer contract on this example.
        """
        raise NotImplementedError(
            f"{cls.__name__} declares no example(). Define a classmethod example() returning "
            f"(layer with float64 parameters, float64 host input) so the conformance kit "
            f"(neuroback.testing) can check it."
        )

    def add_parameter(self, name: str, value: Any, *, trainable: bool = True) -> Parameter:
        """Create a :class:`Parameter` on this layer's backend and register it under ``name``."""
        if name in self._parameters or name in self._state:
            raise ValueError(f"{type(self).__name__} already has an attribute named {name!r}.")
        array = self._backend.asarray(value)
        param = Parameter(array, name=name, backend=self._backend, trainable=trainable)
        self._parameters[name] = param
        return param

    def add_state(self, name: str, value: Any) -> None:
        """Register a non-trainable array (saved and moved with the layer, never optimized)."""
        if name in self._parameters or name in self._state:
            raise ValueError(f"{type(self).__name__} already has an attribute named {name!r}.")
        self._state[name] = self._backend.asarray(value)

    def state(self, name: str) -> Array:
        """The non-trainable array registered as ``name`` (update it in place)."""
        try:
            return self._state[name]
        except KeyError:
            raise KeyError(
                f"{type(self).__name__} has no state named {name!r}; it has "
                f"{sorted(self._state) or 'none'}. (A container's state is listed, with dotted "
                f"names, by named_state().)"
            ) from None

    # -- structure -----------------------------------------------------------
    @property
    def backend(self) -> Backend:
        """The backend this layer's parameters live on."""
        return self._backend

    def children(self) -> Mapping[str, Layer]:
        """Sub-layers by local name (empty for a leaf layer)."""
        return {}

    def named_parameters(self, *, trainable_only: bool = False) -> dict[str, Parameter]:
        """Every parameter by stable dotted name (``"0.W"``); a shared one is listed once."""
        out: dict[str, Parameter] = {}
        seen: set[int] = set()
        for name, param in self._walk_parameters(""):
            if id(param) in seen or (trainable_only and not param.trainable):
                continue
            seen.add(id(param))
            out[name] = param
        return out

    def _walk_parameters(self, prefix: str) -> Iterator[tuple[str, Parameter]]:
        for name, param in self._parameters.items():
            yield prefix + name, param
        for child_name, child in self.children().items():
            yield from child._walk_parameters(f"{prefix}{child_name}.")

    def parameters(self) -> list[Parameter]:
        """The parameters of :meth:`named_parameters`, in the same order."""
        return list(self.named_parameters().values())

    def named_state(self) -> dict[str, Array]:
        """Every non-trainable array by dotted name (``"2.running_mean"``)."""
        out: dict[str, Array] = {}
        self._collect_state("", out)
        return out

    def _collect_state(self, prefix: str, out: dict[str, Array]) -> None:
        for name, value in self._state.items():
            out[prefix + name] = value
        for child_name, child in self.children().items():
            child._collect_state(f"{prefix}{child_name}.", out)

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Copy non-trainable arrays (as from :meth:`named_state`) into this model, in place."""
        current = self.named_state()
        unknown = sorted(set(state) - set(current))
        if unknown:
            raise KeyError(f"Unknown state entries {unknown}; this model has {sorted(current)}.")
        for name, value in state.items():
            target = current[name]
            arr = self._backend.asarray(value)
            if arr.shape != target.shape:
                raise ShapeError(
                    f"State {name!r} has shape {tuple(target.shape)}, got {tuple(arr.shape)}."
                )
            target[...] = arr

    def state_dict(self) -> dict[str, np.ndarray]:
        """Host NumPy copies of every parameter and state array, by dotted name (``"0.W"``).

        A parameter shared by two layers (a layer used twice) is listed once, under the
        name met first. :func:`neuroback.save` writes this with the architecture.
        """
        from .weights import state_dict

        return state_dict(self)

    def load_state_dict(self, state: Mapping[str, Any], *, strict: bool = True) -> LoadResult:
        """Copy a :meth:`state_dict` into this model, in place, after checking all of it.

        Every name (with ``strict``, the names must be exactly this model's), shape, dtype
        and value (finite) is checked first, and every mismatch is listed in one
        :class:`~neuroback.errors.StateMismatchError`; a refused state dict changes
        nothing. Returns the names left out (``missing``, ``unexpected``), which only a
        non-strict load can have.
        """
        from .weights import load_state_dict

        return load_state_dict(self, state, strict=strict)

    def num_parameters(self, *, trainable_only: bool = False) -> int:
        """How many scalars the parameters hold (shared parameters counted once)."""
        params = self.named_parameters(trainable_only=trainable_only).values()
        return sum(p.size for p in params)

    def zero_grad(self) -> None:
        """Clear every parameter's gradient."""
        for param in self.named_parameters().values():
            param.zero_grad()

    def freeze(self, pattern: str = "*") -> Layer:
        """Exclude parameters whose dotted name matches ``pattern`` (fnmatch) from updates."""
        self._set_trainable(pattern, False)
        return self

    def unfreeze(self, pattern: str = "*") -> Layer:
        """Undo :meth:`freeze` for the parameters matching ``pattern``."""
        self._set_trainable(pattern, True)
        return self

    def _set_trainable(self, pattern: str, flag: bool) -> None:
        matched = [
            p for name, p in self.named_parameters().items() if fnmatch.fnmatchcase(name, pattern)
        ]
        if not matched:
            raise KeyError(
                f"No parameter name matches {pattern!r}; names are {list(self.named_parameters())}."
            )
        for param in matched:
            param.trainable = flag

    # -- backends ------------------------------------------------------------
    def to(self, backend: BackendLike) -> Layer:
        """Move every parameter and state array to ``backend`` (in place); returns ``self``.

        Parameter objects keep their identity, so bind optimizers *after* moving
        (the Trainer does this for you).
        """
        target = get_backend(backend)
        for param in self._parameters.values():
            param._move_to(target)
        for name, value in self._state.items():
            self._state[name] = target.asarray(self._backend.to_host(value))
        self._backend = target
        for child in self.children().values():
            child.to(target)
        return self

    # -- use -----------------------------------------------------------------
    def __call__(self, x: Array) -> Array:
        """Inference: ``forward(x, train=False)`` without keeping the backward closure."""
        y, _ = self.forward(x, train=False)
        return y

    def check_input(
        self,
        x: Any,
        *,
        ndim: int | tuple[int, ...] | None = None,
        features: int | None = None,
        dtype: Any = None,
    ) -> None:
        """Validate an input array, raising an error that names this layer and the fix.

        Checks the backend always, and optionally the number of dimensions (one
        number or the allowed numbers), the size of the feature axis
        (:attr:`feature_axis`: the last axis unless the layer declares another)
        and the floating dtype.
        """
        # ordered for the passing case, which every training step takes for every layer
        if not isinstance(x, self._backend.array_type):
            self._backend.check_native(x, self._label())  # raises, naming this layer
        if ndim is not None and (x.ndim != ndim if isinstance(ndim, int) else x.ndim not in ndim):
            raise ShapeError(
                f"{self._label()} expects input of shape {_shape_words(ndim)}, got shape "
                f"{tuple(x.shape)}."
                + (" Reshape a single sample with x.reshape(1, -1)." if x.ndim == 1 else "")
            )
        if features is not None:
            shape = x.shape
            axis = self.feature_axis
            if len(shape) <= (axis if axis >= 0 else -axis - 1):
                raise ShapeError(
                    f"{self._label()} expects {features} features on axis {axis}, got input of "
                    f"shape {tuple(shape)} without that axis. Add the batch axis with x[None]."
                )
            if shape[axis] != features:
                where = "the last axis" if axis == -1 else f"axis {axis} (channels)"
                raise ShapeError(
                    f"{self._label()} expects {features} features on {where}, got input of "
                    f"shape {tuple(shape)}. Check the previous layer's output size or the data."
                )
        if dtype is not None:
            if x.dtype is not dtype and x.dtype != dtype:  # NumPy's dtypes are singletons
                other = (
                    f" (or build the layer with dtype={x.dtype.name!r})"
                    if x.dtype.kind == "f"
                    else ""
                )
                raise DTypeError(
                    f"{self._label()} holds {np.dtype(dtype).name} parameters but got "
                    f"{x.dtype} input. Cast the data once with x.astype({np.dtype(dtype).name!r})"
                    f"{other}."
                )
        elif x.dtype.kind != "f":
            raise DTypeError(
                f"{self._label()} expects floating-point input, got {x.dtype}. "
                f"Cast it with x.astype('float32')."
            )

    def check_gradient(self, dy: Array, y: Array) -> None:
        """In a backward closure: raise a clear error unless the incoming gradient ``dy``
        is an array of this backend with the shape of the forward output ``y``."""
        if not isinstance(dy, self._backend.array_type):
            if dy is None:
                raise TypeError(
                    f"The backward of {self._label()} got None as the gradient dL/dy. Pass "
                    f"the gradient of the loss with respect to this layer's output, an array "
                    f"of shape {tuple(y.shape)} (a Loss's forward returns it)."
                )
            self._backend.check_native(dy, f"The backward of {self._label()}")
        if dy.shape != y.shape:
            checks.gradient_shape(self, dy, y.shape)

    def _label(self) -> str:
        return repr(self)

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        except Exception:  # repr must never fail
            args = "..."
        return f"{type(self).__name__}({args})"

    def summary(self, input_shape: int | Sequence[int] | None = None) -> str:
        """A table of sub-layers with their parameter counts.

        >>> import neuroback as nb
        >>> print(nb.Sequential(nb.layers.Dense(2, 3), nb.layers.ReLU()).summary())
        name  layer                                                 params
        ----  ----------------------------------------------------  ------
        0     Dense(in_features=2, out_features=3, bias=True, ...)       9
        1     ReLU()                                                     0
        Total parameters: 9 (trainable: 9)

        With ``input_shape``, the shape of one sample (without the batch axis), the table
        also shows each layer's output shape, found by one inference forward pass on a
        batch of one zero sample (``-1`` stands for the batch axis). An input shape the
        model rejects raises the rejecting layer's own error.

        >>> model = nb.Sequential(
        ...     nb.layers.BatchNorm(2), nb.layers.Flatten(), nb.layers.Dense(32, 10)
        ... )
        >>> print(model.summary(input_shape=(2, 4, 4)))
        name  layer                                                   output shape   params
        ----  ------------------------------------------------------  -------------  ------
        0     BatchNorm(num_features=2, momentum=0.1, ...)            (-1, 2, 4, 4)       4
        1     Flatten()                                               (-1, 32)            0
        2     Dense(in_features=32, out_features=10, bias=True, ...)  (-1, 10)          330
        Total parameters: 334 (trainable: 334)
        """
        rows: list[tuple[str, ...]] = []
        leaves = list(_leaf_layers(self, ""))
        shapes = None if input_shape is None else _output_shapes(self, input_shape)
        for name, layer in leaves:
            text = repr(layer)
            if len(text) > 54:
                cut = text.rfind(", ", 0, 50)
                text = text[: cut if cut > 0 else 50] + ", ...)"
            row: tuple[str, ...] = (name or type(layer).__name__, text)
            if shapes is not None:
                shape = shapes.get("" if layer is self else name)
                row += ("-" if shape is None else _shape_text(shape),)
            rows.append((*row, f"{layer.num_parameters():,}"))
        shape_header = ("output shape",) if shapes is not None else ()
        headers = ("name", "layer", *shape_header, "params")
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

        def line(cells: tuple[str, ...]) -> str:
            left = [f"{c:<{w}}" for c, w in zip(cells[:-1], widths, strict=False)]
            return "  ".join([*left, f"{cells[-1]:>{widths[-1]}}"])

        lines = [line(headers), "  ".join("-" * w for w in widths)]
        lines += [line(r) for r in rows]
        total = self.num_parameters()
        trainable = self.num_parameters(trainable_only=True)
        lines.append(f"Total parameters: {total:,} (trainable: {trainable:,})")
        return "\n".join(lines)


_NO_FLAG = (
    "Layer.needs_input_grad was removed: whether the input gradient is needed is said per "
    "call, backward(dy, input_grad=False), so a layer shared by two places or two models "
    "cannot be switched by either."
)


_SHAPE_WORDS = {
    2: "(batch, features)",
    3: "(batch, channels, length)",
    4: "(batch, channels, height, width)",
}


def _shape_words(ndim: int | tuple[int, ...]) -> str:
    ranks = (ndim,) if isinstance(ndim, int) else ndim
    return " or ".join(_SHAPE_WORDS.get(n, f"{n} dimensions") for n in ranks)


def _leaf_layers(layer: Layer, prefix: str) -> Iterator[tuple[str, Layer]]:
    kids = layer.children()
    if not kids:
        yield prefix.rstrip("."), layer
        return
    if layer._parameters:
        yield prefix.rstrip(".") or type(layer).__name__, layer
    for name, child in kids.items():
        yield from _leaf_layers(child, f"{prefix}{name}.")


def _per_sample_shape(model: Layer, input_shape: Any) -> tuple[int, ...]:
    """``input_shape`` as a tuple of positive ints, or a clear error naming ``model``."""
    dims = (input_shape,) if isinstance(input_shape, int) else input_shape
    try:
        shape = tuple(dims)
    except TypeError:
        shape = None
    if shape is None or not all(
        isinstance(d, int | np.integer) and not isinstance(d, bool) and d > 0 for d in shape
    ):
        raise TypeError(
            f"{type(model).__name__}.summary(input_shape=...) takes the shape of one sample, "
            f"without the batch axis: positive integers such as (1, 8, 8) or 4; got "
            f"{input_shape!r}."
        )
    return tuple(int(d) for d in shape)


def _output_shapes(model: Layer, input_shape: Any) -> dict[str, tuple[int, ...]]:
    """Output shape of every sub-layer (by dotted name, the model's own under ``""``), from
    one inference forward on a batch of one zero sample, seen through an :class:`Observer`."""
    shape = _per_sample_shape(model, input_shape)
    params = model.parameters()
    dtype = params[0].dtype if params else np.float32
    x = model.backend.xp.zeros((1, *shape), dtype=dtype)
    seen: dict[str, tuple[int, ...]] = {}

    def report(name: str, layer: Layer, y: Array) -> None:
        seen[name] = tuple(y.shape)

    if model.children():
        try:
            y, _ = model.forward(x, train=False, observer=Observer(report))
        except TypeError as exc:
            if "observer" not in str(exc):
                raise
            seen.clear()  # a container that cannot be seen inside: only the model's output
            y, _ = model.forward(x, train=False)
    else:
        y, _ = model.forward(x, train=False)
    seen[""] = tuple(y.shape)
    return seen


def _shape_text(shape: tuple[int, ...]) -> str:
    """``(-1, 16, 8, 8)``: the batch axis as ``-1``."""
    dims = ["-1", *(str(d) for d in shape[1:])] if shape else []
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
