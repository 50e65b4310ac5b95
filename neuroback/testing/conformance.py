"""The conformance kit: the contract tests every component must pass, for plugin authors too.

Each ``check_*`` function runs a component through the contract the built-ins
are held to and raises :class:`ConformanceError` (an ``AssertionError``) with a
message naming the broken rule. They need no pytest::

    from neuroback.testing import check_layer
    check_layer(MyLayer(4, dtype="float64"), x)   # x: a float64 host array

Components declare a small example of themselves (``Layer.example()`` and
friends), which :func:`check_component` uses; the project's own test suite
runs it over every registered component.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..backend import BackendLike, get_backend, use_backend
from ..callback import Callback
from ..errors import BackendMismatchError, ShapeError
from ..layer import Layer, Observer
from ..loss import Loss
from ..optimizer import Optimizer
from ..plugin_system import KINDS
from ..schedule import Schedule
from ..strategy import Strategy
from ..transform import GradientTransform
from ..tree import is_array as _is_array
from ..tree import leaves as _leaves
from ._contract_support import (
    ConformanceError,
    _changed,
    _copy_weights,
    _expect,
    _fail,
    _json_round_trip,
    _jsonable,
    _PlainDescent,
    _quadratic_params,
    _quadratic_steps,
    _with_dtype,
)
from ._schedule_checks import check_schedule
from ._strategy_checks import check_strategy
from .gradcheck import check_layer_gradients, check_loss_gradients

__all__ = [
    "ConformanceError",
    "check_callback",
    "check_component",
    "check_layer",
    "check_loss",
    "check_metric",
    "check_optimizer",
    "check_schedule",
    "check_strategy",
    "check_transform",
]

#: Above this many scalars per array, gradient checks probe random directions.
EXACT_LIMIT = 64


# -- layers -----------------------------------------------------------------------------


def check_layer(layer: Layer, x: Any, *, rtol: float = 1e-5, seed: int = 0) -> None:
    """Run the layer contract on ``layer`` (float64 parameters) with input ``x`` (float64).

    Checks: gradients of input and every parameter against finite differences;
    two forward calls before a backward do not interfere; float32 stays float32;
    input of the wrong backend, wrong dtype, wrong feature count (on the
    layer's :attr:`~neuroback.Layer.feature_axis`, for layers with parameters)
    and a gradient of the wrong shape give clear errors;
    inference matches ``forward(train=False)`` and leaves the state alone; the
    config survives a JSON round trip and rebuilds an equivalent layer.
    """
    backend = layer.backend
    xp = backend.xp
    host_x = np.asarray(x, dtype=np.float64)
    xb = backend.asarray(host_x)
    gen = backend.generator

    # 1. gradients
    sizes = [host_x.size] + [p.size for p in layer.named_parameters().values()]
    mode = "exact" if max(sizes) <= EXACT_LIMIT else "directions"
    check_layer_gradients(layer, host_x, mode=mode, rtol=rtol, seed=seed)

    # 2. two forwards before a backward
    saved = layer.state_dict()  # weights and state, put back after each probe
    y_probe, _ = layer.forward(xb, train=True, rng=gen(seed))
    dy = backend.asarray(np.random.default_rng(seed).standard_normal(tuple(y_probe.shape)))
    x_other = xb * 0.5 + 0.25

    def restore() -> None:
        layer.zero_grad()
        layer.load_state_dict(saved)

    restore()
    _, back = layer.forward(xb, train=True, rng=gen(seed))
    dx_alone = back(dy)
    grads_alone = {k: backend.to_host(p.grad).copy() for k, p in layer.named_parameters().items()}
    restore()
    _, back_first = layer.forward(xb, train=True, rng=gen(seed))
    _, back_second = layer.forward(x_other, train=True, rng=gen(seed + 1))
    dx_first = back_first(dy)
    grads_first = {k: backend.to_host(p.grad) for k, p in layer.named_parameters().items()}
    if (dx_alone is None) != (dx_first is None) or (
        dx_alone is not None
        and not np.allclose(backend.to_host(dx_alone), backend.to_host(dx_first), rtol=1e-12)
    ):
        raise _fail(layer, "two forwards before a backward do not interfere", "input gradient")
    for name, g in grads_first.items():
        if not np.allclose(g, grads_alone[name], rtol=1e-12, atol=1e-300):
            raise _fail(
                layer, "two forwards before a backward do not interfere", f"gradient of {name}"
            )
    back_second(dy)
    restore()

    # 2b. the input-gradient request is per call
    _, back_nodx = layer.forward(xb, train=True, rng=gen(seed))
    try:
        dx_skipped = back_nodx(dy, input_grad=False)
    except TypeError as exc:
        raise _fail(
            layer,
            "backward accepts input_grad=False",
            f"{exc}. Define it as def backward(dy, *, input_grad=True).",
        ) from exc
    grads_nodx = {k: backend.to_host(p.grad) for k, p in layer.named_parameters().items()}
    if dx_skipped is not None and not np.allclose(
        backend.to_host(dx_skipped), backend.to_host(dx_alone), rtol=1e-12
    ):
        raise _fail(layer, "input_grad=False returns None or the same dx", "dx differs")
    for name, g in grads_nodx.items():
        if not np.allclose(g, grads_alone[name], rtol=1e-12, atol=1e-300):
            raise _fail(
                layer, "input_grad=False leaves the parameter gradients alone", f"{name} differs"
            )
    restore()
    _, back_again = layer.forward(xb, train=True, rng=gen(seed))
    dx_again = back_again(dy)  # a skipped dx must not stick to the layer
    if dx_again is None or not np.allclose(
        backend.to_host(dx_again), backend.to_host(dx_alone), rtol=1e-12
    ):
        raise _fail(layer, "a call with input_grad=False does not affect the next call", "dx")
    restore()

    # 2c. a container reports each child's output to an observer passed down the call
    if layer.children():
        seen: list[str] = []
        try:
            layer.forward(
                xb, train=False, observer=Observer(lambda name, child, y: seen.append(name))
            )
        except TypeError as exc:
            raise _fail(
                layer,
                "a container accepts observer= in forward",
                f"{exc}. Accept observer=None and run children with neuroback.forward_child.",
            ) from exc
        missing = [n for n in layer.children() if n not in seen]
        if missing:
            raise _fail(
                layer,
                "a container reports every child to the observer (neuroback.forward_child)",
                f"children {missing} were not reported; reported {seen}",
            )
    restore()

    # 3. float32 stays float32
    with use_backend(backend):
        layer32 = type(layer).from_config(_with_dtype(layer.config(), "float32"))
    x32 = backend.asarray(host_x.astype(np.float32))
    y32, back32 = layer32.forward(x32, train=True, rng=gen(seed))
    dx32 = back32(xp.ones_like(y32))
    if y32.dtype != np.float32 or (dx32 is not None and dx32.dtype != np.float32):
        raise _fail(
            layer,
            "float32 stays float32",
            f"output {y32.dtype}, input gradient {None if dx32 is None else dx32.dtype}",
        )
    for name, p in layer32.named_parameters().items():
        if p.dtype != np.float32 or p.grad.dtype != np.float32:
            raise _fail(layer, "float32 stays float32", f"parameter {name} is {p.dtype}")

    # 4. bad input gives clear errors
    _expect(
        layer,
        BackendMismatchError,
        "input of another backend is rejected",
        lambda: layer.forward(host_x.tolist(), train=False),
    )
    _expect(
        layer,
        ShapeError,
        "integer input is rejected",
        lambda: layer.forward(backend.asarray(host_x.astype(np.int64)), train=False),
    )
    if layer.named_parameters():
        axis = layer.feature_axis  # the axis the layer declares its features on
        first = np.take(host_x, [0], axis=axis)
        wider = backend.asarray(np.concatenate([host_x, first], axis=axis))
        _expect(
            layer,
            ShapeError,
            "a wrong feature count is rejected",
            lambda: layer.forward(wider, train=False),
        )
    y_bad, back_bad = layer.forward(xb, train=True, rng=gen(seed))
    bad_dy = backend.asarray(np.ones((*y_bad.shape[:-1], y_bad.shape[-1] + 1)))
    _expect(
        layer, ShapeError, "a gradient of the wrong shape is rejected", lambda: back_bad(bad_dy)
    )
    restore()

    # 5. inference
    y_inf = layer(xb)
    after = {k: backend.to_host(v) for k, v in layer.named_state().items()}
    for name, value in after.items():
        if not np.array_equal(value, saved[name]):
            raise _fail(layer, "inference leaves the state alone", f"state {name} changed")
    y_eval, _ = layer.forward(xb, train=False)
    if not np.array_equal(backend.to_host(y_inf), backend.to_host(y_eval)):
        raise _fail(layer, "layer(x) is forward(x, train=False)", "outputs differ")

    # 6. config round trip
    with use_backend(backend):
        rebuilt = _json_round_trip(layer, "layers")
    _copy_weights(layer, rebuilt)
    if not np.allclose(backend.to_host(rebuilt(xb)), backend.to_host(y_inf), rtol=1e-12):
        raise _fail(layer, "config() rebuilds an equivalent layer", "outputs differ")
    restore()


# -- losses -----------------------------------------------------------------------------


def check_loss(loss: Loss, pred: Any, target: Any, *, rtol: float = 1e-5) -> None:
    """Run the loss contract: gradient check, 0-d value on the backend, float32 kept,
    mismatched shapes rejected, config round trip."""
    backend = loss.backend
    host_pred = np.asarray(pred, dtype=np.float64)
    host_target = np.asarray(target)
    mode = "exact" if host_pred.size <= EXACT_LIMIT else "directions"
    check_loss_gradients(loss, host_pred, host_target, mode=mode, rtol=rtol)

    value, dpred = loss.forward(backend.asarray(host_pred), backend.asarray(host_target))
    if not backend.is_native(value) or value.ndim != 0:
        raise _fail(loss, "the value is a 0-d array on the backend", f"got {type(value)!r}")
    if tuple(dpred.shape) != host_pred.shape:
        raise _fail(loss, "dpred has the prediction's shape", f"{tuple(dpred.shape)}")
    target32 = host_target.astype(np.float32) if host_target.dtype.kind == "f" else host_target
    v32, d32 = loss.forward(
        backend.asarray(host_pred.astype(np.float32)), backend.asarray(target32)
    )
    if v32.dtype != np.float32 or d32.dtype != np.float32:
        raise _fail(loss, "float32 stays float32", f"value {v32.dtype}, gradient {d32.dtype}")
    longer = backend.asarray(np.concatenate([host_pred, host_pred[:1]]))
    _expect(
        loss,
        ShapeError,
        "mismatched prediction and target are rejected",
        lambda: loss.forward(longer, backend.asarray(host_target)),
    )
    with use_backend(backend):
        _json_round_trip(loss, "losses")


# -- optimizers -------------------------------------------------------------------------


def check_optimizer(optimizer: Optimizer, *, steps: int = 200, seed: int = 0) -> None:
    """Run the optimizer contract on fresh copies of ``optimizer`` (built from its config).

    Checks: each hyperparameter is the attribute of its name (what ``load_state_dict``
    and schedules set is what :meth:`~neuroback.Optimizer.hyperparameters` reports); it
    lowers a quadratic in float64 and in float32 (dtype kept); its state_dict resumes a
    run exactly; its config survives a JSON round trip and keeps every argument.
    """
    backend = get_backend()

    def fresh() -> Optimizer:
        return type(optimizer).from_config(optimizer.config())

    _check_hyperparameter_attributes(fresh())

    for dtype in (np.float64, np.float32):
        params, targets = _quadratic_params(backend, dtype, seed)
        opt = fresh().bind(params)
        start = _quadratic_steps(opt, params, targets, 1)
        end = _quadratic_steps(opt, params, targets, steps)
        if not end < 0.5 * start:
            raise _fail(
                optimizer,
                "it lowers a quadratic",
                f"{np.dtype(dtype).name}: f went from {start:.4g} to {end:.4g} in {steps} steps",
            )
        for name, p in params.items():
            if p.dtype != dtype:
                raise _fail(optimizer, "the parameter dtype is kept", f"{name} became {p.dtype}")

    params, targets = _quadratic_params(backend, np.float64, seed)
    opt = fresh().bind(params)
    _quadratic_steps(opt, params, targets, 5)
    saved_state = opt.state_dict()
    saved_values = {k: backend.to_host(p.value).copy() for k, p in params.items()}
    _quadratic_steps(opt, params, targets, 5)
    expected = {k: backend.to_host(p.value).copy() for k, p in params.items()}
    for k, p in params.items():
        p.assign(saved_values[k])
    resumed = fresh().bind(params)
    resumed.load_state_dict(json.loads(json.dumps(saved_state, default=_jsonable)))
    _quadratic_steps(resumed, params, targets, 5)
    for k, p in params.items():
        if not np.array_equal(backend.to_host(p.value), expected[k]):
            raise _fail(optimizer, "state_dict() resumes a run exactly", f"parameter {k} differs")
    _json_round_trip(optimizer, "optimizers")


def _check_hyperparameter_attributes(optimizer: Optimizer) -> None:
    for key, value in optimizer.hyperparameters().items():
        other = _changed(value)
        if other is None:
            continue
        try:
            setattr(optimizer, key, other)
        except (TypeError, ValueError):  # the changed value is refused: nothing to learn
            continue
        seen = optimizer.hyperparameters()[key]
        if seen != other:
            raise _fail(
                optimizer,
                "each hyperparameter is the attribute of its name",
                f"after optimizer.{key} = {other!r}, hyperparameters() reports {key}={seen!r}; "
                f"load_state_dict() and schedules set the attribute, so store the value in "
                f"self.{key} (or a property with a setter)",
            )


# -- gradient transforms -----------------------------------------------------------------


def check_transform(
    transform: GradientTransform, *, seed: int = 0, backend: BackendLike = None
) -> None:
    """Run the transform contract on ``backend`` (default: the active one): shapes, dtypes
    and keys kept in float32 and float64, state usable across updates, the state's
    arrays on the backend it was given; inside an optimizer it still lowers a quadratic
    and its state survives ``state_dict()`` through JSON; config round trip."""
    backend = get_backend(backend)
    rng = np.random.default_rng(seed)
    for dtype in (np.float32, np.float64):
        shapes = {"a.W": (4, 3), "a.b": (3,), "c": (2, 2, 2)}
        params = {k: backend.asarray(rng.normal(size=s).astype(dtype)) for k, s in shapes.items()}
        state = transform.init(params, backend=backend)
        for _ in range(2):
            grads = {
                k: backend.asarray(3 * rng.normal(size=s).astype(dtype)) for k, s in shapes.items()
            }
            out, state = transform.update(grads, state, params, backend=backend)
            for leaf in _leaves(state):
                if _is_array(leaf) and not backend.is_native(leaf):
                    raise _fail(
                        transform,
                        "its state lives on the backend it is given",
                        f"a {type(leaf).__name__} in the state on {backend.name!r}",
                    )
            if set(out) != set(shapes):
                raise _fail(transform, "the gradient keys are kept", f"{sorted(out)}")
            for k, g in out.items():
                if tuple(g.shape) != shapes[k] or g.dtype != dtype:
                    raise _fail(
                        transform,
                        "shapes and dtypes are kept",
                        f"{k}: {tuple(g.shape)} {g.dtype}, expected {shapes[k]} "
                        f"{np.dtype(dtype).name}",
                    )
                if not backend.is_native(g):
                    raise _fail(transform, "gradients stay on the backend", f"{k}: {type(g)}")
    params, targets = _quadratic_params(backend, np.float64, seed)
    opt = _PlainDescent(lr=0.1, transforms=[transform]).bind(params)
    start = _quadratic_steps(opt, params, targets, 1)
    _quadratic_steps(opt, params, targets, 3)
    saved = json.loads(json.dumps(opt.state_dict(), default=_jsonable))
    resumed = _PlainDescent(lr=0.1, transforms=[transform]).bind(params)
    resumed.load_state_dict(saved)
    end = _quadratic_steps(resumed, params, targets, 50)
    if not end < start:
        raise _fail(
            transform,
            "inside an optimizer, descent still descends",
            f"f went from {start:.4g} to {end:.4g}",
        )
    _json_round_trip(transform, "transforms")


# -- callbacks ----------------------------------------------------------------------------


def check_callback(callback: Callback) -> None:
    """Run the callback contract: state_dict survives JSON and reloads; config round trip."""
    state = callback.state_dict()
    try:
        restored = json.loads(json.dumps(state, default=_jsonable))
    except TypeError as exc:
        raise _fail(callback, "state_dict() is JSON-serializable", str(exc)) from exc
    callback.load_state_dict(restored)
    _json_round_trip(callback, "callbacks")


# -- metrics ------------------------------------------------------------------------------


def check_metric(metric: Any, pred: Any = None, target: Any = None) -> None:
    """Run the metric contract: a finite 0-d backend array, and a mean over samples
    (the value on a batch is the size-weighted mean of its values on two parts, which
    is how the Trainer combines batches). Default inputs: 8x3 scores and one-hot rows."""
    backend = get_backend()
    rng = np.random.default_rng(0)
    if pred is None:
        pred = rng.normal(size=(8, 3))
        target = np.eye(3)[rng.integers(0, 3, size=8)]
    p, t = backend.asarray(np.asarray(pred)), backend.asarray(np.asarray(target))
    value = metric(p, t)
    if not backend.is_native(value) or value.ndim != 0:
        raise _fail(metric, "a metric returns a 0-d array on the backend", f"got {type(value)!r}")
    total = float(backend.to_host(value))
    if not np.isfinite(total):
        raise _fail(metric, "a metric is finite on finite input", f"got {total}")
    cut = 3
    n = int(p.shape[0])
    first = float(backend.to_host(metric(p[:cut], t[:cut])))
    second = float(backend.to_host(metric(p[cut:], t[cut:])))
    combined = (first * cut + second * (n - cut)) / n
    if not np.isclose(combined, total, rtol=1e-6, atol=1e-12):
        raise _fail(
            metric,
            "a metric is a mean over samples",
            f"whole batch {total:.6g}, size-weighted halves {combined:.6g}",
        )


# -- dispatch -----------------------------------------------------------------------------


def check_component(component_cls: type) -> None:
    """Build ``component_cls.example()`` on the active backend and run its kind's checks."""
    if isinstance(component_cls, type) and issubclass(component_cls, Layer):
        layer, x = component_cls.example()
        check_layer(layer, x)
    elif isinstance(component_cls, type) and issubclass(component_cls, Loss):
        loss, pred, target = component_cls.example()
        check_loss(loss, pred, target)
    elif isinstance(component_cls, type) and issubclass(component_cls, Optimizer):
        check_optimizer(component_cls.example())
    elif isinstance(component_cls, type) and issubclass(component_cls, GradientTransform):
        check_transform(component_cls.example())
    elif isinstance(component_cls, type) and issubclass(component_cls, Callback):
        check_callback(component_cls.example())
    elif isinstance(component_cls, type) and issubclass(component_cls, Schedule):
        check_schedule(component_cls)
    elif isinstance(component_cls, type) and issubclass(component_cls, Strategy):
        check_strategy(component_cls.example())
    elif callable(component_cls) and not isinstance(component_cls, type):
        check_metric(component_cls)
    else:
        raise TypeError(
            f"check_component takes a component class of one of the kinds {sorted(KINDS)}, "
            f"got {component_cls!r}."
        )
