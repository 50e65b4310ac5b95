r"""Finite-difference gradient checks for layers and losses (float64).

The analytical gradients of a layer are compared with central differences of
the scalar probe :math:`\phi(x, \theta) = \sum_j r_j\, f(x;\theta)_j`, whose
gradient with respect to the output is a fixed random :math:`r`:

.. math::

    \frac{\phi(x + \varepsilon v) - \phi(x - \varepsilon v)}{2\varepsilon}
    \approx \langle \nabla_x \phi, v \rangle

Two modes: ``"directions"`` probes a few random unit directions per array
(cheap for any size, as HIPS/autograd's ``check_grads`` does) and ``"exact"``
probes every element (for small layers). Non-trainable state (running
statistics) is saved before and restored after every probe, and a stochastic
layer sees the same random stream on every call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import NeurobackError
from ..layer import Layer
from ..loss import Loss

__all__ = ["GradientCheckError", "GradientReport", "check_layer_gradients", "check_loss_gradients"]


class GradientCheckError(NeurobackError, AssertionError):
    """Analytical and numerical gradients disagree."""


@dataclass(frozen=True)
class GradientReport:
    """What a check compared: the worst relative error per checked array."""

    errors: dict[str, float]

    @property
    def worst(self) -> float:
        return max(self.errors.values(), default=0.0)


def _relative_error(analytic: float, numeric: float, atol: float) -> float:
    return abs(analytic - numeric) / max(abs(analytic), abs(numeric), atol)


def _probe_directions(
    shape: tuple[int, ...], mode: str, n_directions: int, rng: np.random.Generator
) -> list[np.ndarray]:
    size = int(np.prod(shape))
    if mode == "exact":
        out = []
        for i in range(size):
            v = np.zeros(size)
            v[i] = 1.0
            out.append(v.reshape(shape))
        return out
    if mode != "directions":
        raise ValueError(f"mode must be 'exact' or 'directions', got {mode!r}.")
    out = []
    for _ in range(n_directions):
        v = rng.standard_normal(shape)
        out.append(v / np.linalg.norm(v))
    return out


def _compare(
    name: str,
    analytic: np.ndarray,
    numeric_fn: Callable[[np.ndarray], float],
    directions: list[np.ndarray],
    rtol: float,
    atol: float,
) -> float:
    worst = 0.0
    for v in directions:
        a = float(np.sum(analytic * v))
        n = numeric_fn(v)
        err = _relative_error(a, n, atol)
        worst = max(worst, err)
        if err > rtol:
            if np.count_nonzero(v) == 1:
                index = np.unravel_index(int(np.argmax(np.abs(v))), v.shape)
                where = f"element {tuple(int(i) for i in index)}"
            else:
                where = "a random direction"
            raise GradientCheckError(
                f"Gradient of {name} is wrong along {where}: analytical {a:.10g}, "
                f"numerical {n:.10g} (relative error {err:.3g} > rtol {rtol:g})."
            )
    return worst


def check_layer_gradients(
    layer: Layer,
    x: Any,
    *,
    mode: str = "directions",
    n_directions: int = 8,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    train: bool = True,
    seed: int = 0,
) -> GradientReport:
    """Check ``layer``'s input and parameter gradients against central differences.

    ``layer`` must hold float64 parameters and ``x`` must be float64 (finite
    differences are meaningless in float32). Raises :class:`GradientCheckError`
    naming the first array whose gradient is wrong; returns the worst errors.

    >>> import numpy as np, neuroback as nb
    >>> from neuroback.testing import check_layer_gradients
    >>> layer = nb.layers.Dense(3, 2, dtype="float64", rng=0)
    >>> x = np.random.default_rng(1).normal(size=(4, 3))
    >>> report = check_layer_gradients(layer, x)
    >>> sorted(report.errors), report.worst < 1e-6
    (['W', 'b', 'input'], True)
    """
    backend = layer.backend
    xp = backend.xp
    x = backend.asarray(x)
    if x.dtype != np.float64:
        raise TypeError(f"Gradient checks need float64 input, got {x.dtype}.")
    params = layer.named_parameters()
    for name, p in params.items():
        if p.dtype != np.float64:
            raise TypeError(
                f"Gradient checks need float64 parameters; {name} is {p.dtype}. "
                "Build the layer with dtype='float64'."
            )
    rng = np.random.default_rng(seed)
    saved_state = {k: backend.to_host(v).copy() for k, v in layer.named_state().items()}
    saved_values = {k: backend.to_host(p.value).copy() for k, p in params.items()}
    saved_grads = {k: backend.to_host(p.grad).copy() for k, p in params.items()}

    def restore_state() -> None:
        if saved_state:
            layer.load_state(saved_state)

    def run(inp: Any) -> Any:
        restore_state()
        y, backward = layer.forward(inp, train=train, rng=backend.generator(seed))
        return y, backward

    y0, _ = run(x)
    r = backend.asarray(rng.standard_normal(tuple(y0.shape)))

    def probe(inp: Any) -> float:
        y, _ = run(inp)
        return float(backend.to_host(xp.sum(y * r)))

    try:
        for p in params.values():
            p.zero_grad()
        _, backward = run(x)
        dx = backward(r)  # input_grad=True: the input gradient is part of what is checked
        errors: dict[str, float] = {}
        if dx is None:
            raise GradientCheckError(
                f"{layer!r}: backward(dy) returned None; with input_grad=True (the default) "
                f"it must return the input gradient dL/dx."
            )
        dx_host = backend.to_host(dx)

        def numeric_input(v: np.ndarray) -> float:
            step = backend.asarray(eps * v)
            return (probe(x + step) - probe(x - step)) / (2 * eps)

        errors["input"] = _compare(
            "the input",
            dx_host,
            numeric_input,
            _probe_directions(tuple(x.shape), mode, n_directions, rng),
            rtol,
            atol,
        )
        grads = {k: backend.to_host(p.grad).copy() for k, p in params.items()}
        for name, p in params.items():
            original = saved_values[name]

            def numeric_param(v: np.ndarray, p: Any = p, original: np.ndarray = original) -> float:
                p.assign(original + eps * v)
                plus = probe(x)
                p.assign(original - eps * v)
                minus = probe(x)
                p.assign(original)
                return (plus - minus) / (2 * eps)

            errors[name] = _compare(
                f"parameter {name!r}",
                grads[name],
                numeric_param,
                _probe_directions(p.shape, mode, n_directions, rng),
                rtol,
                atol,
            )
        return GradientReport(errors)
    finally:
        for name, p in params.items():
            p.assign(saved_values[name])
            p.grad[...] = backend.asarray(saved_grads[name])
        restore_state()


def check_loss_gradients(
    loss: Loss,
    pred: Any,
    target: Any,
    *,
    mode: str = "directions",
    n_directions: int = 8,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    seed: int = 0,
) -> GradientReport:
    """Check a loss's ``dpred`` against central differences of its value (float64)."""
    backend = loss.backend
    pred = backend.asarray(pred)
    target = backend.asarray(target)
    if pred.dtype != np.float64:
        raise TypeError(f"Gradient checks need float64 predictions, got {pred.dtype}.")
    rng = np.random.default_rng(seed)
    _, dpred = loss.forward(pred, target)

    def numeric(v: np.ndarray) -> float:
        step = backend.asarray(eps * v)
        plus = float(backend.to_host(loss.forward(pred + step, target)[0]))
        minus = float(backend.to_host(loss.forward(pred - step, target)[0]))
        return (plus - minus) / (2 * eps)

    err = _compare(
        "the prediction",
        backend.to_host(dpred),
        numeric,
        _probe_directions(tuple(pred.shape), mode, n_directions, rng),
        rtol,
        atol,
    )
    return GradientReport({"pred": err})
