"""One implementation's step by name: identical initial weights (neuroback's, drawn
from the seed) and identical random data for every implementation of a size."""

from __future__ import annotations

from typing import Any

from .cnn import cnn_data, is_cnn, nb_cnn_step, torch_cnn_step
from .sizes import MLP_ONLY_IMPLS, SIZES
from .steps_neuroback import nb_trainer
from .steps_numpy import Floor, NumpyAdam, NumpySGD
from .steps_torch import fused_adam_problem, torch_adam


class Missing(Exception):
    """An implementation that cannot run here (reported as missing, not as an error)."""


def build(ts: Any, impl: str, size: str, seed: int) -> tuple[Any, Any, Any, Any]:
    """(step, x, y, weights getter or None) for one implementation; identical initial
    weights everywhere (neuroback's, drawn from ``seed``)."""
    if is_cnn(size):
        return build_cnn(ts, impl, size, seed)
    np = ts.np
    sizes, batch = SIZES[size]
    x, y = ts.random_data(sizes, batch, seed)
    if impl in ("nb-trainer", "nb-trainer-adam"):
        step, model = nb_trainer(ts, sizes, seed, adam=impl == "nb-trainer-adam")
        return step, x, y, lambda: ts.initial_weights(model)
    weights = ts.initial_weights(ts.build_neuroback(sizes, seed)[0])
    if impl == "floor":
        return Floor(np, weights, batch, seed).step, x, y, None
    if impl in ("numpy", "numpy-adam"):
        ref = (NumpyAdam if impl == "numpy-adam" else NumpySGD)(np, weights, batch)
        return ref.step, x, y, ref.weights
    if ts.torch is None:
        raise Missing("torch is not importable")
    xt, yt = ts.torch.from_numpy(x), ts.torch.from_numpy(y)
    if impl == "torch-floor":
        return Floor(np, weights, batch, seed, torch=ts.torch).step, xt, yt, None
    if impl == "torch":
        step = ts.build_torch(weights)
    elif impl in ("torch-adam", "torch-adam-fused"):
        fused = impl == "torch-adam-fused"
        problem = fused_adam_problem(ts.torch) if fused else None
        if problem:
            raise Missing(problem)
        step = torch_adam(ts, weights, fused=fused)
    else:
        raise ValueError(f"unknown implementation {impl!r}")
    return step, xt, yt, lambda: ts.torch_weights(step.model)


def build_cnn(ts: Any, impl: str, size: str, seed: int) -> tuple[Any, Any, Any, Any]:
    """``build`` at a convolutional size (``cnn``): neuroback's Trainer or PyTorch's
    modules, softmax cross-entropy on integer labels; no hand-written NumPy twin."""
    if impl in MLP_ONLY_IMPLS:
        raise Missing(f"{impl} has no convolutional version (MLP sizes only)")
    x, y = cnn_data(ts, size, seed)
    if impl in ("nb-trainer", "nb-trainer-adam"):
        step, weights = nb_cnn_step(ts, size, seed, adam=impl == "nb-trainer-adam")
        return step, x, y, weights
    if ts.torch is None:
        raise Missing("torch is not importable")
    if impl == "torch-adam-fused":
        problem = fused_adam_problem(ts.torch)
        if problem:
            raise Missing(problem)
    kind = {"torch": "sgd", "torch-adam": "adam", "torch-adam-fused": "adam-fused"}[impl]
    step, weights = torch_cnn_step(ts, size, seed, kind)
    return step, ts.torch.from_numpy(x), ts.torch.from_numpy(y), weights
