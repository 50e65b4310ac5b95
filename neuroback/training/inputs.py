"""What the Trainer does with data before training: move, cast, validate, dry-run.

Everything here runs once per ``fit`` (or per user batch for batch iterables),
never inside the per-step hot path, so it may read values on the host.
"""

from __future__ import annotations

import difflib
import inspect
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..backend import Array, Backend
from ..callback import Callback
from ..checks import positive_int
from ..errors import NeurobackError, ShapeError
from ..layer import Layer
from ..loss import Loss
from ..plugin_system import get_registry
from .data import BatchIterable

__all__ = [
    "CallbackHookWarning",
    "check_callbacks",
    "check_iterable",
    "check_metrics",
    "dry_run",
    "length",
    "positive_int",
    "prepare_arrays",
    "resolve_metric",
    "split_off_validation",
]

Metric = Callable[[Array, Array], Array]


def prepare_arrays(
    backend: Backend, dtype: np.dtype[Any], x: Any, y: Any, what: str, *, check_finite: bool = True
) -> tuple[Array, Array | None]:
    """Move ``x`` (and ``y``) to the backend, cast floating data to ``dtype`` once, validate."""
    xa = _to_backend(backend, dtype, x, f"{what} x", check_finite)
    ya = None if y is None else _to_backend(backend, dtype, y, f"{what} y", check_finite)
    if xa.ndim == 0:
        raise ShapeError(f"The {what} x is a scalar; expected a batch of samples.")
    n = int(xa.shape[0])
    if n == 0:
        raise ValueError(f"The {what} is empty (0 samples); there is nothing to train on.")
    if ya is not None and (ya.ndim == 0 or int(ya.shape[0]) != n):
        got = "a scalar" if ya.ndim == 0 else f"{int(ya.shape[0])} targets"
        raise ShapeError(
            f"The {what} has {n} samples in x but {got} in y; x and y must have the same "
            f"length along the first axis."
        )
    return xa, ya


def _to_backend(
    backend: Backend, dtype: np.dtype[Any], data: Any, what: str, check_finite: bool
) -> Array:
    if backend.is_native(data):
        array = data
    else:
        try:
            array = np.asarray(data)
        except Exception as exc:
            raise TypeError(f"The {what} cannot be read as an array: {exc}") from exc
        if array.dtype == object:
            raise TypeError(f"The {what} holds Python objects; expected numbers.")
    kind = array.dtype.kind
    if kind in "fb":
        if check_finite and kind == "f":
            native = backend.is_native(array)
            finite = (
                backend.to_host(backend.xp.isfinite(array).all())
                if native
                else np.isfinite(array).all()
            )
            if not bool(finite):
                host = backend.to_host(array) if native else array
                bad = ~np.isfinite(host)
                rows = np.unique(np.nonzero(bad)[0])
                raise ValueError(
                    f"The {what} contains {int(bad.sum())} NaN or infinite values (first in "
                    f"sample {int(rows[0])}). Clean or impute them before training."
                )
        array = array.astype(dtype, copy=False)
    elif kind not in "iu":
        raise TypeError(f"The {what} has dtype {array.dtype}; expected numbers.")
    return array if backend.is_native(array) else backend.asarray(array)


def dry_run(
    model: Layer,
    loss: Loss,
    x: Array,
    y: Array | None,
    *,
    batch_size: int,
    drop_last: bool,
    rng: Any,
    what: str = "training data",
) -> None:
    """Fail before training when the model's output does not fit the targets, or when
    the last batch (of one sample) is one the model cannot train on."""
    probe = x[: min(2, int(x.shape[0]))]
    try:
        pred = model(probe)
    except NeurobackError as exc:
        raise type(exc)(f"Before training, the model rejected the {what}: {exc}") from exc
    if y is not None:
        try:
            loss.check_targets(y, tuple(pred.shape))
            loss.forward(pred, y[: probe.shape[0]])
        except NeurobackError as exc:
            raise type(exc)(
                f"Before training: the model's output (shape {tuple(pred.shape)} for "
                f"{probe.shape[0]} samples) does not fit the {what} targets for {loss!r}: {exc}"
            ) from exc
    n = int(x.shape[0])
    if not drop_last and n % batch_size == 1 and n > 1:
        _check_single_sample_batch(model, x[:1], rng, n, batch_size)


def _check_single_sample_batch(model: Layer, x1: Array, rng: Any, n: int, batch_size: int) -> None:
    """Some layers (BatchNorm) cannot train on one sample; find out now, not mid-epoch."""
    backend = model.backend
    saved = {k: backend.to_host(v).copy() for k, v in model.named_state().items()}
    try:
        model.forward(x1, train=True, rng=rng)
    except ShapeError as exc:
        raise ShapeError(
            f"With {n} samples and batch_size={batch_size} the last batch holds 1 sample, "
            f"which the model cannot train on: {exc} Pass fit(..., drop_last=True) or choose "
            f"another batch_size."
        ) from exc
    finally:
        if saved:
            model.load_state(saved)


def length(data: Any) -> int | None:
    try:
        return len(data)
    except TypeError:
        return None


def check_iterable(data: Any) -> BatchIterable:
    if not isinstance(data, BatchIterable):
        raise TypeError(
            f"fit() takes arrays x and y, or a batch iterable yielding (x, y) pairs; got "
            f"{type(data).__name__} with y=None."
        )
    return data


def split_off_validation(
    x: Array, y: Array | None, fraction: float
) -> tuple[Array, Array | None, tuple[Array, Array | None]]:
    """Hold out the *last* ``fraction`` of the samples (before any shuffling)."""
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
        raise ValueError(f"validation_split must be a fraction in (0, 1), got {fraction!r}.")
    n = int(x.shape[0])
    n_val = round(n * fraction)
    if n_val < 1 or n_val >= n:
        raise ValueError(
            f"validation_split={fraction} leaves {n - n_val} training and {n_val} validation "
            f"samples out of {n}; choose a fraction that keeps both non-empty."
        )
    cut = n - n_val
    y_train = None if y is None else y[:cut]
    return x[:cut], y_train, (x[cut:], None if y is None else y[cut:])


def resolve_metric(metric: str | Metric) -> tuple[str, Metric]:
    if isinstance(metric, str):
        return metric.rpartition(":")[2], get_registry().get("metrics", metric).obj
    if callable(metric):
        return getattr(metric, "__name__", type(metric).__name__), metric
    raise TypeError(f"A metric is a registered name or a callable, got {metric!r}.")


class CallbackHookWarning(UserWarning):
    """A callback defines an ``on_*`` method that is not a Trainer hook (a likely typo)."""


_HOOKS = tuple(name for name in dir(Callback) if name.startswith("on_"))


def check_callbacks(callbacks: Any) -> list[Callback]:
    """The callbacks as a list, each an instance whose hooks have the right signatures."""
    if isinstance(callbacks, Callback | type):
        raise TypeError(
            f"callbacks must be a list, e.g. callbacks=[{_describe(callbacks)}], got "
            f"{_describe(callbacks)} on its own."
        )
    out = list(callbacks)
    for cb in out:
        if isinstance(cb, type) and issubclass(cb, Callback):
            raise TypeError(
                f"callbacks must be instances; got the class {cb.__name__}: pass {cb.__name__}()."
            )
        if not isinstance(cb, Callback):
            raise TypeError(
                f"callbacks must be neuroback.Callback instances, got {type(cb).__name__}: {cb!r}."
            )
        _check_hooks(cb)
    return out


def _describe(obj: Any) -> str:
    return f"{obj.__name__}()" if isinstance(obj, type) else f"{type(obj).__name__}(...)"


def _check_hooks(cb: Callback) -> None:
    cls = type(cb)
    for name in dir(cls):
        if not name.startswith("on_") or not callable(getattr(cls, name, None)):
            continue
        if name not in _HOOKS:
            close = difflib.get_close_matches(name, _HOOKS, n=1, cutoff=0.8)
            if close:  # a likely misspelled hook; other on_* helpers are the author's business
                warnings.warn(
                    f"{cls.__name__}.{name} is not a Trainer hook and will never be called. "
                    f"Did you mean {close[0]!r}? The hooks are {', '.join(_HOOKS)}.",
                    CallbackHookWarning,
                    stacklevel=4,
                )
            continue
        if getattr(cls, name) is getattr(Callback, name):
            continue
        expected = inspect.signature(getattr(Callback, name))
        arity = len(expected.parameters) - 1  # without self
        try:
            inspect.signature(getattr(cb, name)).bind(*range(arity))
        except TypeError:
            wanted = ", ".join(list(expected.parameters)[1:])
            raise TypeError(
                f"{cls.__name__}.{name} must accept ({wanted}), as Callback.{name} does; it is "
                f"defined as {name}{inspect.signature(getattr(cb, name))}. (neuroback hooks "
                f"receive the trainer first.)"
            ) from None


def check_metrics(metrics: Any) -> Any:
    if isinstance(metrics, str) or callable(metrics):
        shown = repr(metrics) if isinstance(metrics, str) else getattr(metrics, "__name__", "m")
        raise TypeError(f"metrics must be a list, e.g. metrics=[{shown}], got {shown} on its own.")
    return metrics
