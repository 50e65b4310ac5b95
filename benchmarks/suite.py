#!/usr/bin/env python
"""The training-step benchmark suite: four model sizes, eight implementations, one
worker process per measurement.

    python benchmarks/suite.py --json results.json        # the full suite (minutes)
    python benchmarks/suite.py --quick --json /tmp/q.json  # smoke test (well under a minute)
    python benchmarks/suite.py report results.json > benchmarks/RESULTS.md

Every (size, implementation, repetition) runs in a fresh worker process (this file,
started with the hidden ``_worker`` subcommand) with the same thread limits; the
implementations alternate in a rotating order from one repetition to the next. The
driver itself never imports NumPy or torch, so it cannot disturb the workers; the
statistics (medians, a paired hierarchical bootstrap of the ratios) are plain Python.

The building blocks (the neuroback model, the PyTorch model, machine and BLAS
information, the tracemalloc peak, the gc-frozen timing loop) come from
``train_step.py`` in this folder. See benchmarks/README.md for how to read the output.
This is a measurement, never a test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
CORETYPE = "OPENBLAS_CORETYPE"
RESULT_MARK = "SUITE-RESULT "
SCHEMA = 1

#: name -> (layer widths, batch size)
SIZES: dict[str, tuple[list[int], int]] = {
    "tiny": ([32, 64, 1], 32),
    "small": ([64, 128, 10], 64),
    "medium": ([784, 256, 256, 10], 128),
    "large": ([784, 1024, 1024, 10], 512),
}

SGD_LR = 0.01  # train_step.LR
ADAM_LR = 1e-3
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8

#: name -> (what it is, optimizer, baseline it is compared with, torch reference)
IMPLS: dict[str, tuple[str, str, str, str]] = {
    "floor": (
        "only the unavoidable matrix products of a Dense step (x@W, a.T@dy, dy@W.T)",
        "-",
        "numpy",
        "torch",
    ),
    "numpy": ("hand-tuned NumPy SGD step, preallocated buffers", "SGD", "numpy", "torch"),
    "nb-trainer": ("neuroback Trainer.train_step, SGD(lr=0.01)", "SGD", "numpy", "torch"),
    "torch": ("PyTorch CPU, torch.optim.SGD(lr=0.01)", "SGD", "numpy", "torch"),
    "numpy-adam": (
        "hand-tuned NumPy Adam step, PyTorch's arrangement",
        "Adam",
        "numpy-adam",
        "torch-adam",
    ),
    "nb-trainer-adam": (
        "neuroback Trainer.train_step, Adam(lr=1e-3)",
        "Adam",
        "numpy-adam",
        "torch-adam",
    ),
    "torch-adam": (
        "PyTorch CPU, torch.optim.Adam(lr=1e-3) defaults",
        "Adam",
        "numpy-adam",
        "torch-adam",
    ),
    "torch-adam-fused": (
        "PyTorch CPU, torch.optim.Adam(lr=1e-3, fused=True)",
        "Adam",
        "numpy-adam",
        "torch-adam",
    ),
}
TORCH_IMPLS = ("torch", "torch-adam", "torch-adam-fused")
NUMPY_BASED = ("floor", "numpy", "nb-trainer", "numpy-adam", "nb-trainer-adam")

#: ratios that get a bootstrap confidence interval
CI_PAIRS = [
    ("nb-trainer", "numpy"),
    ("nb-trainer", "torch"),
    ("nb-trainer-adam", "numpy-adam"),
    ("nb-trainer-adam", "torch-adam"),
    ("nb-trainer-adam", "torch-adam-fused"),
]

#: the performance issue's targets: (ours, reference, size, bound, strict)
#: met when the bootstrap CI of ours/reference lies below the bound (strictly if strict)
TARGETS: list[tuple[str, str, str, float, bool]] = [
    ("nb-trainer", "numpy", "tiny", 1.5, False),
    ("nb-trainer", "numpy", "small", 1.2, False),
    ("nb-trainer", "numpy", "medium", 1.05, False),
    ("nb-trainer", "numpy", "large", 1.05, False),
    ("nb-trainer-adam", "torch-adam", "tiny", 1.0, True),
    ("nb-trainer-adam", "torch-adam", "small", 1.0, True),
    ("nb-trainer-adam", "torch-adam", "medium", 1.0, True),
    ("nb-trainer-adam", "numpy-adam", "large", 1.05, False),
]

#: the optional time-to-accuracy comparison on scikit-learn's digits (--digits)
DIGITS_IMPLS = ("sklearn-mlp", "nb-digits")
DIGITS_HIDDEN = 128  # 64-128-10: the "small" size's widths on the digits' 64 pixels
DIGITS_BATCH = 32
DIGITS_TEST = 0.25

CHECK_TOLERANCE = 1e-4  # neuroback vs the hand-written NumPy step, max |weight difference|


# =====================================================================================
# Worker side: everything below up to "Driver" runs in the worker processes only.
# NumPy, torch and train_step are imported there, after the thread variables are set.
# =====================================================================================


class _NoTorch:
    """A meta-path finder under which ``import torch`` fails as if torch were not installed
    (``sys.modules["torch"] = None`` would also do, but trips libraries that look torch up
    in ``sys.modules``, such as SciPy's array-API helpers)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r} (kept out of this worker)")
        return None


def _import_train_step(block_torch: bool) -> Any:
    """``train_step`` (and through it NumPy, neuroback, threadpoolctl, maybe torch).

    ``block_torch`` keeps torch out of a NumPy-only worker (``import torch`` then fails,
    and train_step treats torch as missing), so its OpenMP/MKL runtimes are not loaded
    into processes that do not use them.
    """
    if block_torch:
        sys.meta_path.insert(0, _NoTorch())
    sys.path.insert(0, str(HERE))
    import train_step

    return train_step


class NumpySGD:
    """The hand-tuned NumPy step: every array preallocated, every op ``out=``/in place.

    Forward: ``np.matmul(h, W, out=Z)``, then bias add and ReLU in place on that buffer
    (NumPy has no single fused kernel for them; two in-place passes, no temporaries).
    MSE as neuroback computes it (gradient ``2 (pred - y) / size``), the loss as one
    BLAS dot. Backward: ``a.T @ dy`` into the gradient buffers, ``dy @ W.T`` into
    preallocated buffers (not for the first layer), the ReLU mask into a preallocated
    boolean buffer. SGD in place; no zero_grad pass (the buffers are overwritten).
    """

    def __init__(self, np: Any, weights: list, batch: int) -> None:
        f32 = np.float32
        self.np = np
        self.W = [np.array(w, dtype=f32) for w, _ in weights]
        self.b = [np.array(b, dtype=f32) for _, b in weights]
        self.dW = [np.empty_like(w) for w in self.W]
        self.db = [np.empty_like(b) for b in self.b]
        self.Z = [np.empty((batch, w.shape[1]), dtype=f32) for w in self.W]
        self.DX = [None] + [np.empty((batch, w.shape[0]), dtype=f32) for w in self.W[1:]]
        self.M = [None] + [np.empty((batch, w.shape[0]), dtype=bool) for w in self.W[1:]]
        self.D = np.empty((batch, self.W[-1].shape[1]), dtype=f32)

    def forward_backward(self, x: Any, y: Any) -> Any:
        np = self.np
        W, b, Z = self.W, self.b, self.Z
        n = len(W)
        h = x
        for i in range(n):
            z = Z[i]
            np.matmul(h, W[i], out=z)
            z += b[i]
            if i < n - 1:
                np.maximum(z, 0, out=z)
            h = z
        d = self.D
        np.subtract(h, y, out=d)
        flat = d.reshape(-1)
        loss = np.dot(flat, flat) / flat.size
        d *= 2.0 / d.size
        dy = d
        for i in range(n - 1, -1, -1):
            a_in = x if i == 0 else Z[i - 1]
            np.matmul(a_in.T, dy, out=self.dW[i])
            np.sum(dy, axis=0, out=self.db[i])
            if i > 0:
                dx, mask = self.DX[i], self.M[i]
                np.matmul(dy, W[i].T, out=dx)
                np.greater(a_in, 0, out=mask)
                np.multiply(dx, mask, out=dx)
                dy = dx
        return loss

    def params(self) -> list[tuple[Any, Any]]:
        """(parameter, gradient) pairs, W and b of every layer."""
        out = []
        for i in range(len(self.W)):
            out += [(self.W[i], self.dW[i]), (self.b[i], self.db[i])]
        return out

    def step(self, x: Any, y: Any) -> Any:
        loss = self.forward_backward(x, y)
        for i in range(len(self.W)):
            self.dW[i] *= SGD_LR
            self.W[i] -= self.dW[i]
            self.db[i] *= SGD_LR
            self.b[i] -= self.db[i]
        return loss

    def weights(self) -> list[tuple[Any, Any]]:
        return [(w.copy(), b.copy()) for w, b in zip(self.W, self.b, strict=True)]


class NumpyAdam(NumpySGD):
    """The same forward/backward, then Adam in place in PyTorch's arrangement::

        m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²
        p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)

    with one preallocated scratch buffer per parameter (no temporaries).
    """

    def __init__(self, np: Any, weights: list, batch: int) -> None:
        super().__init__(np, weights, batch)
        self.t = 0
        self.slots = [
            (np.zeros_like(p), np.zeros_like(p), np.empty_like(p)) for p, _ in self.params()
        ]

    def step(self, x: Any, y: Any) -> Any:
        np = self.np
        loss = self.forward_backward(x, y)
        b1, b2 = ADAM_BETAS
        self.t += 1
        step_size = ADAM_LR / (1.0 - b1**self.t)
        bc2_sqrt = (1.0 - b2**self.t) ** 0.5
        for (p, g), (m, v, tmp) in zip(self.params(), self.slots, strict=True):
            m *= b1
            np.multiply(g, 1.0 - b1, out=tmp)
            m += tmp
            v *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - b2
            v += tmp
            np.sqrt(v, out=tmp)
            tmp /= bc2_sqrt
            tmp += ADAM_EPS
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p -= tmp
        return loss


class Floor:
    """Only the matrix products a Dense step cannot avoid, into preallocated buffers:
    ``x @ W`` per layer, ``dW = a.T @ dy`` per layer, ``dx = dy @ W.T`` for all but the
    first layer. No bias, activation, loss or update: a lower bound, not a step."""

    def __init__(self, np: Any, weights: list, batch: int, seed: int) -> None:
        f32 = np.float32
        self.np = np
        self.W = [np.array(w, dtype=f32) for w, _ in weights]
        self.Z = [np.empty((batch, w.shape[1]), dtype=f32) for w in self.W]
        self.dW = [np.empty_like(w) for w in self.W]
        self.DX = [None] + [np.empty((batch, w.shape[0]), dtype=f32) for w in self.W[1:]]
        rng = np.random.default_rng(seed + 1)
        self.D = rng.standard_normal(self.Z[-1].shape, dtype=f32) * f32(1e-2)

    def step(self, x: Any, y: Any) -> None:
        matmul = self.np.matmul
        h = x
        for w, z in zip(self.W, self.Z, strict=True):
            matmul(h, w, out=z)
            h = z
        dy = self.D
        for i in range(len(self.W) - 1, -1, -1):
            matmul(x.T if i == 0 else self.Z[i - 1].T, dy, out=self.dW[i])
            if i > 0:
                matmul(dy, self.W[i].T, out=self.DX[i])
                dy = self.DX[i]


def _nb_trainer(ts: Any, sizes: list[int], seed: int, adam: bool) -> tuple[Any, Any]:
    """``Trainer(model, MSE(), SGD(lr=0.01) | Adam(lr=1e-3)).train_step`` as train_step.py's
    ``trainer_step_fn`` builds it (its model, its seed, the Ctrl-C deferral installed
    once, as ``fit`` does). Returns (step, model)."""
    nb = ts.nb
    model, _loss, _sgd = ts.build_neuroback(sizes, seed)
    opt = nb.optimizers.Adam(lr=ADAM_LR) if adam else nb.optimizers.SGD(lr=SGD_LR)
    trainer = nb.Trainer(model, nb.losses.MSE(), opt, seed=seed)
    trainer.interrupt_guard().__enter__()

    def step(x: Any, y: Any) -> Any:
        return trainer.train_step(x, y).loss

    return step, model


def _torch_adam(ts: Any, weights: list, fused: bool) -> Any:
    """train_step.py's torch model (same weights), with torch.optim.Adam instead of SGD."""
    torch = ts.torch
    model = ts.build_torch(weights).model
    kwargs = {"fused": True} if fused else {}
    opt = torch.optim.Adam(model.parameters(), lr=ADAM_LR, **kwargs)
    loss_fn = torch.nn.MSELoss()

    def step(x: Any, y: Any) -> Any:
        pred = model(x)
        loss = loss_fn(pred, y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss.detach()

    step.model = model  # type: ignore[attr-defined]
    return step


def _fused_adam_problem(torch: Any) -> str | None:
    """Why ``torch.optim.Adam(fused=True)`` cannot step on CPU here, or None if it can."""
    try:
        lin = torch.nn.Linear(2, 2)
        opt = torch.optim.Adam(lin.parameters(), lr=ADAM_LR, fused=True)
        lin(torch.ones(1, 2)).sum().backward()
        opt.step()
    except (RuntimeError, TypeError, ValueError) as exc:
        return f"torch.optim.Adam(fused=True) fails on CPU: {exc}"
    return None


def _torch_weights(ts: Any, step: Any) -> list[tuple[Any, Any]]:
    lins = [m for m in step.model if isinstance(m, ts.torch.nn.Linear)]
    return [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in lins]


def _data(ts: Any, size: str, seed: int) -> tuple[list[int], int, Any, Any]:
    np = ts.np
    sizes, batch = SIZES[size]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    y = rng.standard_normal((batch, sizes[-1]), dtype=np.float32)
    return sizes, batch, x, y


def _build(ts: Any, impl: str, size: str, seed: int) -> tuple[Any, Any, Any, Any]:
    """(step, x, y, weights getter or None) for one implementation; identical initial
    weights everywhere (neuroback's, drawn from ``seed``)."""
    np = ts.np
    sizes, batch, x, y = _data(ts, size, seed)
    if impl in ("nb-trainer", "nb-trainer-adam"):
        step, model = _nb_trainer(ts, sizes, seed, adam=impl == "nb-trainer-adam")
        return step, x, y, lambda: ts.initial_weights(model)
    weights = ts.initial_weights(ts.build_neuroback(sizes, seed)[0])
    if impl == "floor":
        return Floor(np, weights, batch, seed).step, x, y, None
    if impl in ("numpy", "numpy-adam"):
        ref = (NumpyAdam if impl == "numpy-adam" else NumpySGD)(np, weights, batch)
        return ref.step, x, y, ref.weights
    if ts.torch is None:
        raise _Missing("torch is not importable")
    xt, yt = ts.torch.from_numpy(x), ts.torch.from_numpy(y)
    if impl == "torch":
        step = ts.build_torch(weights)
    elif impl in ("torch-adam", "torch-adam-fused"):
        fused = impl == "torch-adam-fused"
        problem = _fused_adam_problem(ts.torch) if fused else None
        if problem:
            raise _Missing(problem)
        step = _torch_adam(ts, weights, fused=fused)
    else:
        raise ValueError(f"unknown implementation {impl!r}")
    return step, xt, yt, lambda: _torch_weights(ts, step)


class _Missing(Exception):
    """An implementation that cannot run here (reported as missing, not as an error)."""


def _threads_seen(ts: Any) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    if ts.threadpoolctl is not None:
        for p in ts.threadpoolctl.threadpool_info():
            seen[f"{p.get('internal_api')}:{os.path.basename(str(p.get('prefix', '')))}"] = p.get(
                "num_threads"
            )
    if ts.torch is not None:
        seen["torch"] = ts.torch.get_num_threads()
        seen["torch_interop"] = ts.torch.get_num_interop_threads()
    return seen


def _limit_threads(ts: Any, threads: int) -> Any:
    from contextlib import nullcontext, suppress

    if ts.torch is not None:
        ts.torch.set_num_threads(threads)
        with suppress(RuntimeError):  # settable once, before any parallel work
            ts.torch.set_num_interop_threads(threads)
    if ts.threadpoolctl is not None:
        return ts.threadpoolctl.threadpool_limits(limits=threads)
    return nullcontext()


def _maxrss_kib() -> int:
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss // 1024 if sys.platform == "darwin" else rss  # bytes on macOS, KiB on Linux


def _time_one(ts: Any, spec: dict[str, Any]) -> dict[str, Any]:
    impl, size = spec["impl"], spec["size"]
    try:
        step, x, y, _weights = _build(ts, impl, size, spec["seed"])
    except _Missing as exc:
        return {"status": "missing", "reason": str(exc)}
    rss_before = _maxrss_kib()
    clock = time.perf_counter
    # warm-up: at least `warmup` steps and `warmup_s` seconds; it also estimates a step
    warm: list[float] = []
    t_start = clock()
    while len(warm) < spec["warmup"] or clock() - t_start < spec["warmup_s"]:
        t0 = clock()
        step(x, y)
        warm.append(clock() - t0)
    estimate = statistics.median(warm[len(warm) // 2 :])
    steps = math.ceil(spec["target_s"] / max(estimate, 1e-7))
    steps = min(max(steps, spec["min_steps"]), spec["max_steps"])
    steps += 1 - steps % 2  # odd: the median is one of the samples
    peak = ts.peak_traced_bytes(step, x, y) if impl in NUMPY_BASED else None
    samples, elapsed = ts.time_interleaved({impl: (step, x, y)}, 0, 1, steps)
    rss_after = _maxrss_kib()
    last = step(x, y)
    final_loss = None if last is None else float(last)
    us = sorted(s * 1e6 for s in samples[impl])
    q1, med, q3 = statistics.quantiles(us, n=4, method="inclusive")
    return {
        "status": "ok",
        "steps": steps,
        "warmup_steps": len(warm),
        "median_us": med,
        "q1_us": q1,
        "q3_us": q3,
        "min_us": us[0],
        "mean_us": statistics.fmean(us),
        "timed_s": elapsed,
        "samples_us": [round(s * 1e6, 3) for s in samples[impl]],
        "tracemalloc_peak_bytes": peak,
        "maxrss_kib_before": rss_before,
        "maxrss_kib_after": rss_after,
        "maxrss_delta_kib": rss_after - rss_before,
        "final_loss": final_loss,
        "finite": final_loss is None or math.isfinite(final_loss),
    }


def _digits(ts: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """Epochs of Adam(lr=1e-3, batch 32) on the digits until the held-out accuracy reaches
    ``spec["target_acc"]``; only the training calls are timed (evaluation is not)."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier
    except ImportError as exc:
        return {"status": "missing", "reason": f"scikit-learn is not importable: {exc}"}
    np, nb, seed = ts.np, ts.nb, spec["seed"]
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=DIGITS_TEST, random_state=seed, stratify=y
    )
    if spec["impl"] == "sklearn-mlp":
        clf = MLPClassifier(
            hidden_layer_sizes=(DIGITS_HIDDEN,),
            activation="relu",
            solver="adam",
            alpha=0.0,
            batch_size=DIGITS_BATCH,
            learning_rate_init=ADAM_LR,
            shuffle=True,
            random_state=seed,
        )
        classes = np.unique(y)

        def epoch() -> None:  # partial_fit: one pass over the data, shuffled
            clf.partial_fit(x_tr, y_tr, classes=classes)

        def accuracy() -> float:
            return float(np.mean(clf.predict(x_te) == y_te))
    else:
        nb.seed(seed)
        model = nb.Sequential(
            nb.layers.Dense(64, DIGITS_HIDDEN, dtype="float32"),
            nb.layers.ReLU(),
            nb.layers.Dense(DIGITS_HIDDEN, 10, dtype="float32"),
        )
        trainer = nb.Trainer(
            model, nb.losses.SoftmaxCrossEntropy(), nb.optimizers.Adam(lr=ADAM_LR), seed=seed
        )

        def epoch() -> None:
            trainer.fit(x_tr, y_tr, epochs=1, batch_size=DIGITS_BATCH, shuffle=True)

        def accuracy() -> float:
            return float(np.mean(np.argmax(trainer.predict(x_te), axis=1) == y_te))

    train_s, curve, reached = 0.0, [], None
    for e in range(1, spec["max_epochs"] + 1):
        t0 = time.perf_counter()
        epoch()
        train_s += time.perf_counter() - t0
        acc = accuracy()
        curve.append([e, round(train_s, 6), acc])
        if acc >= spec["target_acc"]:
            reached = {"epochs": e, "train_s": train_s}
            break
    return {
        "status": "ok",
        "reached": reached,
        "epochs_run": len(curve),
        "epoch_s": train_s / len(curve),
        "final_accuracy": curve[-1][2],
        "curve": curve,
        "n_train": len(y_tr),
        "n_test": len(y_te),
    }


def _max_abs_diff(np: Any, a: list, b: list) -> float:
    return max(
        float(np.max(np.abs(np.asarray(u, dtype=np.float64) - np.asarray(v, dtype=np.float64))))
        for pa, pb in zip(a, b, strict=True)
        for u, v in zip(pa, pb, strict=True)
    )


def _check_size(ts: Any, size: str, seed: int, steps: int, impls: list[str]) -> dict[str, Any]:
    """Like for like: ``steps`` steps of each implementation from identical initial weights
    on identical data; max |difference| of losses and updated weights vs neuroback."""
    np = ts.np
    out: dict[str, Any] = {"steps": steps}
    groups = {
        "nb-trainer": ["numpy", "torch"],
        "nb-trainer-adam": ["numpy-adam", "torch-adam", "torch-adam-fused"],
    }
    for ours, others in groups.items():
        if ours not in impls:
            continue
        step, x, y, get_w = _build(ts, ours, size, seed)
        w0 = get_w()
        nb_loss = [float(step(x, y)) for _ in range(steps)]
        w_nb = get_w()
        out[ours] = {"weights_max_abs_change": _max_abs_diff(np, w_nb, w0)}
        for other in others:
            if other not in impls:
                continue
            try:
                o_step, ox, oy, o_get_w = _build(ts, other, size, seed)
            except _Missing as exc:
                out[ours][other] = {"missing": str(exc)}
                continue
            o_loss = [float(o_step(ox, oy)) for _ in range(steps)]
            out[ours][other] = {
                "loss_max_abs_diff": max(abs(a - b) for a, b in zip(nb_loss, o_loss, strict=True)),
                "weights_max_abs_diff": _max_abs_diff(np, w_nb, o_get_w()),
            }
    return out


def _prepare(ts: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """Machine information, what can run here, and the like-for-like checks."""
    import importlib.metadata
    import importlib.util

    info = ts.machine_info()
    info.pop("thread_env_preset_by_caller", None)  # the driver sets them, deliberately
    info["cpu_flags"] = _cpu_flags()
    info["openblas_coretype"] = os.environ.get(CORETYPE)
    for mod, dist in (("sklearn", "scikit-learn"), ("cupy", None)):
        info[f"{mod}_installed"] = importlib.util.find_spec(mod) is not None
        if dist and info[f"{mod}_installed"]:
            info[mod] = importlib.metadata.version(dist)
    info["gpu_devices"] = _gpu_devices() if info["cupy_installed"] else 0
    probes: dict[str, str | None] = {}
    for impl in spec["impls"]:
        if impl in TORCH_IMPLS and ts.torch is None:
            probes[impl] = "torch is not importable"
    if "torch-adam-fused" in spec["impls"] and ts.torch is not None:
        problem = _fused_adam_problem(ts.torch)
        if problem:
            probes["torch-adam-fused"] = problem
    checks = {}
    if spec["check_steps"] > 0:
        runnable = [i for i in spec["impls"] if i not in probes]
        for size in spec["sizes"]:
            checks[size] = _check_size(ts, size, spec["seed"], spec["check_steps"], runnable)
    return {"status": "ok", "machine": info, "missing": probes, "checks": checks}


def _cpu_flags() -> list[str]:
    wanted = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return [w for w in wanted if w in have]
    except OSError:
        pass
    return []


def _gpu_devices() -> int:
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # no driver, no device: informational only
        return 0


def worker_main(spec_json: str) -> int:
    spec = json.loads(spec_json)
    for var in THREAD_VARS:  # before NumPy (and its BLAS) is loaded
        os.environ[var] = str(spec["threads"])
    block_torch = spec["kind"] != "prepare" and spec["impl"] not in TORCH_IMPLS
    ts = _import_train_step(block_torch)
    run = {"prepare": _prepare, "time": _time_one, "digits": _digits}[spec["kind"]]
    with _limit_threads(ts, spec["threads"]):
        t0 = time.perf_counter()
        result = run(ts, spec)
        result["wall_s"] = time.perf_counter() - t0
        result["threads_seen"] = _threads_seen(ts)
        result["openblas_coretype"] = os.environ.get(CORETYPE)
    sys.stdout.write(RESULT_MARK + json.dumps(result) + "\n")
    return 0


# =====================================================================================
# Driver
# =====================================================================================


def worker_env(threads: int, unset_coretype: bool) -> dict[str, str]:
    """The workers' environment: ours, thread counts pinned, maybe without the coretype.
    (The driver's own environment is never changed.)"""
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    if unset_coretype:
        env.pop(CORETYPE, None)
    return env


def spawn(spec: dict[str, Any], env: dict[str, str], timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "_worker", json.dumps(spec)]
    try:
        proc = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"status": "error", "reason": f"worker timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-20:] or ["(no output)"]
    return {
        "status": "error",
        "reason": f"worker exit {proc.returncode}: {tail[-1].strip()}",
        "output_tail": tail,
    }


def rotated(items: list[str], k: int) -> list[str]:
    k %= max(len(items), 1)
    return items[k:] + items[:k]


# ---- statistics (plain Python: the driver and `report` never import NumPy) -----------


def quantile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (NumPy's default)."""
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize_impl(reps: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in reps if r.get("status") == "ok"]
    if not ok:
        first = reps[0] if reps else {}
        return {"status": first.get("status", "missing"), "reason": first.get("reason")}
    medians = [r["median_us"] for r in ok]
    pooled = sorted(v for r in ok for v in r.get("samples_us", []))
    peaks = [r["tracemalloc_peak_bytes"] for r in ok if r.get("tracemalloc_peak_bytes") is not None]
    return {
        "status": "ok",
        "reps": len(ok),
        "median_us": statistics.median(medians),
        "rep_min_us": min(medians),
        "rep_max_us": max(medians),
        "step_q1_us": quantile(pooled, 0.25) if pooled else None,
        "step_q3_us": quantile(pooled, 0.75) if pooled else None,
        "steps_per_rep": [r["steps"] for r in ok],
        "tracemalloc_peak_bytes": max(peaks) if peaks else None,
        "maxrss_delta_kib": statistics.median(r["maxrss_delta_kib"] for r in ok),
        "all_finite": all(r.get("finite", True) for r in ok),
    }


def bootstrap_ratio_ci(
    reps_a: dict[int, list[float]],
    reps_b: dict[int, list[float]],
    resamples: int,
    seed: int,
) -> dict[str, Any] | None:
    """Paired hierarchical bootstrap of median(a)/median(b); 95 % percentile interval.

    The statistic is the median over repetitions of each repetition's median step time.
    One resample: draw the repetitions with replacement (the same draw for a and b, since
    repetition r of a and of b ran next to each other), then, inside every drawn
    repetition, resample its single-step times with replacement. The median of a
    resample of n sorted times is drawn exactly, without building the resample, as the
    k-th order statistic (k = ceil(n/2), the lower median): x[floor(n U)], U ~ Beta(k,
    n-k+1). So the interval covers both step-to-step noise and process-to-process
    (repetition) noise; with one repetition it covers step noise only.
    """
    common = sorted(set(reps_a) & set(reps_b))
    if not common or any(not reps_a[r] or not reps_b[r] for r in common):
        return None
    rng = random.Random(seed)
    sa = {r: sorted(reps_a[r]) for r in common}
    sb = {r: sorted(reps_b[r]) for r in common}

    def resampled_median(s: list[float]) -> float:
        n = len(s)
        k = (n + 1) // 2
        return s[min(int(n * rng.betavariate(k, n - k + 1)), n - 1)]

    ratios = []
    for _ in range(resamples):
        drawn = [rng.choice(common) for _ in common]
        ma = statistics.median(resampled_median(sa[r]) for r in drawn)
        mb = statistics.median(resampled_median(sb[r]) for r in drawn)
        ratios.append(ma / mb)
    ratios.sort()
    point = statistics.median(statistics.median(sa[r]) for r in common) / statistics.median(
        statistics.median(sb[r]) for r in common
    )
    return {
        "ratio": point,
        "lo": quantile(ratios, 0.025),
        "hi": quantile(ratios, 0.975),
        "reps": len(common),
        "resamples": resamples,
        "method": "paired hierarchical bootstrap (repetitions, then steps)",
    }


def analyze_size(
    per_impl: dict[str, list[dict[str, Any]]], resamples: int, seed: int
) -> dict[str, Any]:
    summary = {impl: summarize_impl(reps) for impl, reps in per_impl.items()}
    ratios: dict[str, float] = {}
    for impl, s in summary.items():
        if s["status"] != "ok":
            continue
        _, _, base, ref = IMPLS[impl]
        for other in (base, ref):
            if summary.get(other, {}).get("status") == "ok" and other != impl:
                ratios[f"{impl}/{other}"] = s["median_us"] / summary[other]["median_us"]
    cis: dict[str, Any] = {}
    for a, b in CI_PAIRS:
        if summary.get(a, {}).get("status") != "ok" or summary.get(b, {}).get("status") != "ok":
            continue

        def by_rep(impl: str) -> dict[int, list[float]]:
            return {r["rep"]: r["samples_us"] for r in per_impl[impl] if r.get("status") == "ok"}

        ci = bootstrap_ratio_ci(by_rep(a), by_rep(b), resamples, seed)
        if ci is not None:
            cis[f"{a}/{b}"] = ci
    return {"summary": summary, "ratios": ratios, "ci": cis}


def analyze_digits(per_impl: dict[str, list[dict[str, Any]]], resamples: int, seed: int) -> dict:
    """Median time to the target accuracy per implementation, and the ratio
    nb-digits/sklearn-mlp with a paired bootstrap CI over repetitions (only repetitions in
    which both reached the target count)."""
    summary: dict[str, Any] = {}
    for impl, reps in per_impl.items():
        ok = [r for r in reps if r.get("status") == "ok"]
        if not ok:
            first = reps[0] if reps else {}
            summary[impl] = {
                "status": first.get("status", "missing"),
                "reason": first.get("reason"),
            }
            continue
        hit = [r["reached"] for r in ok if r["reached"]]
        summary[impl] = {
            "status": "ok",
            "reps": len(ok),
            "reached": len(hit),
            "time_to_target_s": statistics.median(h["train_s"] for h in hit) if hit else None,
            "epochs_to_target": statistics.median(h["epochs"] for h in hit) if hit else None,
            "epoch_ms": statistics.median(r["epoch_s"] for r in ok) * 1e3,
            "final_accuracy": statistics.median(r["final_accuracy"] for r in ok),
        }

    def by_rep(impl: str) -> dict[int, list[float]]:
        return {
            r["rep"]: [r["reached"]["train_s"]]
            for r in per_impl.get(impl, [])
            if r.get("status") == "ok" and r["reached"]
        }

    ci = None
    if all(summary.get(i, {}).get("status") == "ok" for i in DIGITS_IMPLS):
        ci = bootstrap_ratio_ci(by_rep("nb-digits"), by_rep("sklearn-mlp"), resamples, seed)
    return {"summary": summary, "ci": ci}


def digits_rows(res: dict[str, Any]) -> list[list[str]]:
    rows = []
    for impl, s in res["summary"].items():
        if s["status"] != "ok":
            rows.append([impl, f"{s['status']}: {s.get('reason')}", "", "", "", ""])
            continue
        t = s["time_to_target_s"]
        rows.append(
            [
                impl,
                f"{t:.3f}" if t is not None else "not reached",
                f"{s['epochs_to_target']:g}" if s["epochs_to_target"] is not None else "-",
                f"{s['epoch_ms']:.1f}",
                f"{s['final_accuracy']:.3f}",
                f"{s['reached']}/{s['reps']}",
            ]
        )
    return rows


DIGITS_HEADERS = [
    "implementation",
    "time to target s",
    "epochs",
    "ms per epoch",
    "final test accuracy",
    "reps reaching it",
]


def digits_title(cfg: dict[str, Any]) -> str:
    return (
        f"digits: time to {cfg['target_acc']:.0%} held-out accuracy, MLP 64-{DIGITS_HIDDEN}-10 "
        f"ReLU, softmax cross-entropy, Adam lr={ADAM_LR:g}, batch {DIGITS_BATCH}, float32, "
        f"{1 - DIGITS_TEST:.0%}/{DIGITS_TEST:.0%} stratified split, at most "
        f"{cfg['max_epochs']} epochs"
    )


def evaluate_targets(run: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for ours, ref, size, bound, strict in TARGETS:
        key = f"{ours}/{ref}"
        text = (
            f"{ours} faster than {ref} at {size}"
            if strict and bound == 1.0
            else f"{ours} <= {bound:g}x {ref} at {size}"
        )
        ci = run.get("sizes", {}).get(size, {}).get("ci", {}).get(key)
        row: dict[str, Any] = {"target": text, "key": key, "size": size, "bound": bound}
        if ci is None:
            row["status"] = "unmeasured"
            row["why"] = f"{size} not run" if size not in run.get("sizes", {}) else ""
            for impl in (ours, ref) if not row["why"] else ():
                summary = run["sizes"][size]["summary"].get(impl, {})
                if impl in run.get("missing", {}):
                    row["why"] += f"{impl} missing: {run['missing'][impl]}; "
                elif summary.get("status") != "ok":
                    row["why"] += f"{impl} {summary.get('status', 'not run')}; "
            row["why"] = row["why"].rstrip("; ") or "no paired repetitions"
        else:
            row.update(ratio=ci["ratio"], lo=ci["lo"], hi=ci["hi"])
            inside = ci["hi"] < bound if strict else ci["hi"] <= bound
            outside = ci["lo"] >= bound if strict else ci["lo"] > bound
            row["status"] = "met" if inside else "not met"
            notes = []
            if not inside and not outside:
                notes.append("CI straddles the bound: inconclusive")
            if ci["reps"] < 3:
                notes.append(f"{ci['reps']} repetition(s): the CI covers step noise only")
            if notes:
                row["why"] = "; ".join(notes)
        out.append(row)
    return out


# ---- printing ----------------------------------------------------------------------


def fmt_us(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:,.0f}" if v >= 1000 else f"{v:.1f}"


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "n/a"
    return f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


def size_title(size: str) -> str:
    widths, batch = SIZES[size]
    return f"{size}: MLP {'-'.join(map(str, widths))}, batch {batch}"


def table_rows(res: dict[str, Any]) -> list[list[str]]:
    """One row per implementation: name, median, rep spread, step IQR, vs base, vs torch,
    tracemalloc peak, maxRSS growth."""
    rows = []
    for impl, s in res["summary"].items():
        if s["status"] != "ok":
            why = s.get("reason") or s["status"]
            rows.append([impl, why, "", "", "", "", "", ""])
            continue
        _, _, base, ref = IMPLS[impl]
        vs_base = res["ratios"].get(f"{impl}/{base}")
        vs_ref = res["ratios"].get(f"{impl}/{ref}")
        mark = "" if s["all_finite"] else " (!non-finite loss)"
        rows.append(
            [
                impl + mark,
                fmt_us(s["median_us"]),
                f"{fmt_us(s['rep_min_us'])}–{fmt_us(s['rep_max_us'])}",
                f"{fmt_us(s['step_q1_us'])}–{fmt_us(s['step_q3_us'])}",
                "1 (base)" if impl == base else (f"{vs_base:.2f}x" if vs_base else "-"),
                "1 (ref)" if impl == ref else (f"{vs_ref:.2f}x" if vs_ref else "-"),
                fmt_bytes(s["tracemalloc_peak_bytes"]),
                f"{s['maxrss_delta_kib'] / 1024:.1f} MiB",
            ]
        )
    return rows


HEADERS = [
    "implementation",
    "median µs",
    "reps min–max µs",
    "step IQR µs",
    "vs numpy*",
    "vs torch*",
    "tracemalloc peak",
    "ΔmaxRSS",
]


def ci_text(key: str, ci: dict[str, Any]) -> str:
    return f"{key} = {ci['ratio']:.3f}x [{ci['lo']:.3f}, {ci['hi']:.3f}]"


def print_size(size: str, res: dict[str, Any], threads: int, missing: dict[str, str]) -> None:
    print(f"\n{size_title(size)}, {threads} thread(s)")
    rows = [HEADERS, *table_rows(res)]
    rows += [[impl, f"missing: {why}", "", "", "", "", "", ""] for impl, why in missing.items()]
    print_rows(rows)
    print("  (* numpy for SGD rows and floor, numpy-adam for Adam rows; torch / torch-adam)")
    if res["ci"]:
        print("  bootstrap 95% CI of the ratio of medians:")
        for key, ci in res["ci"].items():
            print(f"    {ci_text(key, ci)}  ({ci['reps']} rep(s))")


def print_rows(rows: list[list[str]]) -> None:
    """A text table: first column left-aligned, the others right-aligned; a row whose
    third cell is empty (missing, error) prints its second cell as free text."""
    data = [r for r in rows if r[2]]
    widths = [max(len(r[i]) for r in (rows if i == 0 else data)) for i in range(len(rows[0]))]
    for row in rows:
        if not row[2]:
            print(f"  {row[0]:<{widths[0]}}  {row[1]}")
            continue
        cells = [f"{row[0]:<{widths[0]}}"]
        cells += [f"{c:>{w}}" for c, w in zip(row[1:], widths[1:], strict=True)]
        print("  " + "  ".join(cells))


def print_machine(run: dict[str, Any]) -> None:
    m = run["machine"]
    print(f"machine  : {m['platform']} | {m['cpu']} | {m['cpu_count']} logical CPUs")
    print(f"           CPU flags: {' '.join(m.get('cpu_flags', [])) or '?'}")
    print(
        f"versions : python {m['python']}  numpy {m['numpy']}  neuroback {m['neuroback']}  "
        f"torch {m['torch'] or 'not installed'}"
    )
    print(f"BLAS     : {blas_text(m)}")
    print(
        f"threads  : {run['threads']} per worker ({', '.join(THREAD_VARS)}, threadpoolctl, torch)"
    )
    print(f"coretype : {coretype_text(run)}")


def blas_text(m: dict[str, Any]) -> str:
    parts = [f"numpy built with {m.get('numpy_build_blas', '?')}"]
    for p in m.get("threadpools", []):
        version = f" {p['version']}" if p.get("version") else ""
        arch = f" arch={p['architecture']}" if p.get("architecture") else ""
        parts.append(
            f"loaded {p.get('internal_api')}{version}{arch} threads={p.get('num_threads')} "
            f"[{os.path.basename(str(p.get('prefix', '')))}]"
        )
    if "threadpools" not in m:
        parts.append("(threadpoolctl not installed: loaded BLAS unknown)")
    return "; ".join(parts)


def coretype_text(run: dict[str, Any]) -> str:
    c = run["openblas_coretype"]
    found = f"{CORETYPE}={c['driver']}" if c["driver"] is not None else f"{CORETYPE} not set"
    if c["unset_for_workers"]:
        return f"removed from the workers' environment (--unset-coretype); driver: {found}"
    return f"{found} (as found; the workers inherit it unchanged)"


# ---- the run -----------------------------------------------------------------------


def parse_list(text: str, allowed: list[str] | None, what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if allowed is not None:
        bad = [i for i in items if i not in allowed]
        if bad:
            raise SystemExit(f"unknown {what}: {bad}; choose from {allowed}")
    return items


def run_main(argv: list[str]) -> int:
    args = parse_run_args(argv)
    sizes = parse_list(args.sizes, list(SIZES), "size")
    impls = parse_list(args.impls, list(IMPLS), "implementation")
    threads_list = [int(t) for t in parse_list(args.threads, None, "threads")]
    if any(t < 1 for t in threads_list):
        raise SystemExit("--threads must be positive")
    doc: dict[str, Any] = {"schema": SCHEMA, "runs": []}
    if args.append and args.json and os.path.exists(args.json):
        with open(args.json, encoding="utf-8") as f:
            doc = json.load(f)
    config = {
        "sizes": {s: {"widths": SIZES[s][0], "batch": SIZES[s][1]} for s in sizes},
        "impls": impls,
        "repetitions": args.reps,
        "target_s": args.target_s,
        "warmup": args.warmup,
        "warmup_s": args.warmup_s,
        "min_steps": args.min_steps,
        "max_steps": args.max_steps,
        "seed": args.seed,
        "check_steps": args.check_steps,
        "bootstrap_resamples": args.bootstrap,
        "quick": args.quick,
        "dtype": "float32",
        "loss": "MSE",
        "sgd_lr": SGD_LR,
        "adam": {"lr": ADAM_LR, "betas": ADAM_BETAS, "eps": ADAM_EPS},
    }
    t_suite = time.perf_counter()
    for threads in threads_list:
        env = worker_env(threads, args.unset_coretype)
        print(f"== {threads} thread(s) per worker ==")
        prep_spec = {
            "kind": "prepare",
            "threads": threads,
            "impls": impls,
            "sizes": sizes,
            "seed": args.seed,
            "check_steps": args.check_steps,
        }
        prep = spawn(prep_spec, env, args.worker_timeout)
        if prep.get("status") != "ok":
            raise SystemExit(f"the preparation worker failed: {prep.get('reason')}")
        run: dict[str, Any] = {
            "threads": threads,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": " ".join(["python", "benchmarks/suite.py", *argv]),
            "config": config,
            "openblas_coretype": {
                "driver": os.environ.get(CORETYPE),
                "workers": prep["openblas_coretype"],
                "unset_for_workers": args.unset_coretype,
            },
            "machine": prep["machine"],
            "threads_seen": prep["threads_seen"],
            "missing": prep["missing"],
            "checks": prep["checks"],
            "sizes": {},
        }
        print_machine(run)
        print_checks(run["checks"])
        bad = check_failures(run["checks"])
        if bad:
            raise SystemExit(
                "neuroback and the hand-written NumPy step disagree (" + "; ".join(bad) + "): "
                "the timings would not compare like with like. Aborting."
            )
        available = [i for i in impls if i not in run["missing"]]
        for size in sizes:
            per_impl: dict[str, list[dict[str, Any]]] = {i: [] for i in available}
            t_size = time.perf_counter()
            for rep in range(args.reps):
                for pos, impl in enumerate(rotated(available, rep)):
                    spec = {
                        "kind": "time",
                        "impl": impl,
                        "size": size,
                        "threads": threads,
                        "seed": args.seed,
                        "warmup": args.warmup,
                        "warmup_s": args.warmup_s,
                        "target_s": args.target_s,
                        "min_steps": args.min_steps,
                        "max_steps": args.max_steps,
                    }
                    res = spawn(spec, env, args.worker_timeout)
                    res.update(rep=rep, position=pos)
                    per_impl[impl].append(res)
                    if res["status"] != "ok":
                        print(f"  [{size} rep {rep}] {impl}: {res['status']}: {res.get('reason')}")
                print(
                    f"  {size}: repetition {rep + 1}/{args.reps} done "
                    f"({time.perf_counter() - t_size:.0f} s)",
                    flush=True,
                )
            res_size = analyze_size(per_impl, args.bootstrap, args.seed)
            res_size["reps"] = per_impl if not args.no_samples else strip_samples(per_impl)
            run["sizes"][size] = res_size
            print_size(size, res_size, threads, run["missing"])
        if args.digits:
            run["digits"] = run_digits(args, threads, env)
        run["targets"] = evaluate_targets(run)
        print_targets(run)
        doc["runs"].append(run)
    print(f"\nsuite took {time.perf_counter() - t_suite:.0f} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        print(f"wrote {args.json}  (markdown: python benchmarks/suite.py report {args.json})")
    return 0


def run_digits(args: argparse.Namespace, threads: int, env: dict[str, str]) -> dict[str, Any]:
    cfg = {"target_acc": args.digits_target, "max_epochs": args.digits_max_epochs}
    per_impl: dict[str, list[dict[str, Any]]] = {i: [] for i in DIGITS_IMPLS}
    for rep in range(args.reps):
        for pos, impl in enumerate(rotated(list(DIGITS_IMPLS), rep)):
            # a new seed per repetition (the same for both): initialisation and shuffling
            # change how many epochs it takes, and the CI should cover that
            seed = args.seed + rep
            spec = {"kind": "digits", "impl": impl, "threads": threads, "seed": seed, **cfg}
            res = spawn(spec, env, args.worker_timeout)
            res.update(rep=rep, position=pos)
            per_impl[impl].append(res)
    res_digits = analyze_digits(per_impl, args.bootstrap, args.seed)
    res_digits.update(config=cfg, reps=per_impl)
    print(f"\n{digits_title(cfg)}, {threads} thread(s)")
    print_rows([DIGITS_HEADERS, *digits_rows(res_digits)])
    if res_digits["ci"]:
        print("  bootstrap 95% CI: " + ci_text("nb-digits/sklearn-mlp", res_digits["ci"]))
    return res_digits


def strip_samples(per_impl: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        i: [{k: v for k, v in r.items() if k != "samples_us"} for r in rs]
        for i, rs in per_impl.items()
    }


def check_failures(checks: dict[str, Any]) -> list[str]:
    bad = []
    for size, c in checks.items():
        for ours, base in (("nb-trainer", "numpy"), ("nb-trainer-adam", "numpy-adam")):
            d = c.get(ours, {}).get(base)
            if d and d.get("weights_max_abs_diff", 0.0) > CHECK_TOLERANCE:
                bad.append(f"{size} {ours} vs {base}: {d['weights_max_abs_diff']:.3g}")
    return bad


def print_checks(checks: dict[str, Any]) -> None:
    if not checks:
        print("check    : skipped (--check-steps 0)")
        return
    steps = next(iter(checks.values()))["steps"]
    print(f"check    : {steps} step(s) from identical weights, max |difference| vs neuroback")
    for size, c in checks.items():
        parts = []
        for ours in ("nb-trainer", "nb-trainer-adam"):
            for other, d in c.get(ours, {}).items():
                if isinstance(d, dict) and "weights_max_abs_diff" in d:
                    parts.append(f"{other} {d['weights_max_abs_diff']:.2g}")
        print(f"  {size:<7}: weights " + ", ".join(parts))


def print_targets(run: dict[str, Any]) -> None:
    print(f"\ntargets ({run['threads']} thread(s); met only when the 95% CI lies inside):")
    for t in run["targets"]:
        if t["status"] == "unmeasured":
            detail = t.get("why", "")
        else:
            detail = f"{t['ratio']:.3f}x [{t['lo']:.3f}, {t['hi']:.3f}]"
            if t.get("why"):
                detail += f"  {t['why']}"
        print(f"  {t['status']:<10} {t['target']:<48} {detail}")


def parse_run_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="suite.py",
        description="The training-step benchmark suite (one worker process per measurement). "
        "`suite.py report RESULTS.json` turns its JSON into markdown.",
    )
    p.add_argument("--sizes", default=",".join(SIZES), help=f"subset of {','.join(SIZES)}")
    p.add_argument("--impls", default=",".join(IMPLS), help=f"subset of {','.join(IMPLS)}")
    p.add_argument(
        "--threads", default="1", help="threads per worker; '1,2' runs both (default: 1)"
    )
    p.add_argument("--reps", type=int, default=5, help="repetitions per pair (default: 5)")
    p.add_argument(
        "--target-s",
        type=float,
        default=1.0,
        help="timed seconds per worker; sets the step count (default: 1.0)",
    )
    p.add_argument("--warmup", type=int, default=5, help="at least this many warm-up steps")
    p.add_argument("--warmup-s", type=float, default=0.3, help="and this many seconds of them")
    p.add_argument("--min-steps", type=int, default=21, help="timed steps per worker, at least")
    p.add_argument("--max-steps", type=int, default=3001, help="timed steps per worker, at most")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--check-steps",
        type=int,
        default=3,
        help="like-for-like check steps per size before timing, 0 skips it (default: 3)",
    )
    p.add_argument("--bootstrap", type=int, default=4000, help="bootstrap resamples")
    p.add_argument(
        "--unset-coretype",
        action="store_true",
        help=f"run the workers without {CORETYPE} in their environment",
    )
    p.add_argument("--worker-timeout", type=float, default=600.0)
    p.add_argument("--json", metavar="PATH", help="write machine info and all results as JSON")
    p.add_argument("--append", action="store_true", help="add these runs to an existing --json")
    p.add_argument(
        "--no-samples", action="store_true", help="leave single-step times out of the JSON"
    )
    p.add_argument(
        "--digits",
        action="store_true",
        help="also time neuroback vs scikit-learn's MLPClassifier to an accuracy on the digits",
    )
    p.add_argument("--digits-target", type=float, default=0.95, help="accuracy (default: 0.95)")
    p.add_argument("--digits-max-epochs", type=int, default=200)
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: tiny only, 1 repetition, few steps (well under a minute)",
    )
    args = p.parse_args(argv)
    if args.quick:
        if args.sizes == ",".join(SIZES):
            args.sizes = "tiny"
        args.reps, args.target_s, args.warmup, args.warmup_s = 1, 0.05, 3, 0.0
        args.min_steps, args.max_steps, args.bootstrap = 11, 301, 1000
        args.check_steps = min(args.check_steps, 2)
    if args.reps < 1 or args.min_steps < 4 or args.max_steps < args.min_steps:
        p.error("need --reps >= 1 and 4 <= --min-steps <= --max-steps")
    return args


# =====================================================================================
# report: the JSON as markdown
# =====================================================================================


def md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return out


def markdown(doc: dict[str, Any], source: str) -> str:
    runs = doc.get("runs", [])
    if not runs:
        raise SystemExit(f"{source}: no runs in it")
    lines = [
        "# Benchmark results",
        "",
        "Generated by `python benchmarks/suite.py report` from "
        f"`{os.path.basename(source)}`; do not edit by hand. How to read it: "
        "[README.md](README.md#suitepy-the-benchmark-suite).",
        "",
    ]
    if any(r["config"].get("quick") for r in runs):
        lines += [
            "> **Quick (smoke-test) run**: one repetition, a few steps per worker. "
            "These numbers are not measurements; do not quote them.",
            "",
        ]
    lines += [
        "**GPU path: unmeasured.** The suite times the CPU (NumPy) backend only; "
        + (
            "no GPU was available on the machine that produced these numbers."
            if not any(r["machine"].get("gpu_devices") for r in runs)
            else "a GPU was present but the CuPy backend is not part of this suite."
        ),
        "",
    ]
    m = runs[0]["machine"]
    lines += ["## Machine", ""]
    lines += md_table(
        ["", ""],
        [
            ["CPU", f"{m['cpu']} ({m['cpu_count']} logical CPUs)"],
            ["CPU flags", " ".join(m.get("cpu_flags", [])) or "?"],
            ["OS", m["platform"]],
            [
                "Versions",
                f"Python {m['python']}, NumPy {m['numpy']}, neuroback {m['neuroback']}, "
                f"torch {m['torch'] or 'not installed'}, "
                f"threadpoolctl {m.get('threadpoolctl') or 'not installed'}, "
                f"scikit-learn {m.get('sklearn') or 'not installed'}",
            ],
            ["BLAS", blas_text(m)],
            ["torch CPU", torch_text(m)],
            ["OPENBLAS_CORETYPE", "; ".join(sorted({coretype_text(r) for r in runs}))],
            ["Threads per worker", ", ".join(str(r["threads"]) for r in runs)],
            ["Run", f"`{runs[0]['command']}`, {runs[0]['created']}"],
        ],
    )
    for run in runs:
        lines += ["", f"## Targets, {run['threads']} thread(s)", ""]
        lines += [
            "A target is **met** only when the whole bootstrap 95% confidence interval of the "
            "ratio lies inside it.",
            "",
        ]
        rows = []
        for t in evaluate_targets(run):
            measured = f"{t['ratio']:.3f}x [{t['lo']:.3f}, {t['hi']:.3f}]" if "ratio" in t else "-"
            status = {"met": "met", "not met": "**not met**"}.get(t["status"], t["status"])
            rows.append(
                [t["target"], measured, status + (f" ({t['why']})" if t.get("why") else "")]
            )
        lines += md_table(["target", "ratio [95% CI]", "status"], rows)
        lines += ["", f"## Results, {run['threads']} thread(s)"]
        c = run["config"]
        lines += [
            "",
            f"{c['repetitions']} repetition(s) per implementation and size, each a fresh "
            f"process, implementations in rotating order; about {c['target_s']:g} s of timed "
            f"steps per process ({c['min_steps']}..{c['max_steps']} steps). float32, MSE, "
            f"SGD lr={c['sgd_lr']}, Adam lr={c['adam']['lr']}. Times are µs per step.",
        ]
        for size, res in run["sizes"].items():
            lines += ["", f"### {size_title(size)}", ""]
            rows = table_rows(res)
            rows += [
                [i, f"missing: {why}", "", "", "", "", "", ""] for i, why in run["missing"].items()
            ]
            lines += md_table(HEADERS, rows)
            if res["ci"]:
                lines += [""] + [
                    f"- {ci_text(k, ci)} ({ci['reps']} rep(s))" for k, ci in res["ci"].items()
                ]
        if run.get("digits"):
            dg = run["digits"]
            lines += ["", f"### {digits_title(dg['config'])}", ""]
            lines += md_table(DIGITS_HEADERS, digits_rows(dg))
            if dg["ci"]:
                lines += ["", f"- {ci_text('nb-digits/sklearn-mlp', dg['ci'])} (time to target)"]
        lines += ["", "### Like-for-like check", ""]
        if run["checks"]:
            rows = []
            for size, ck in run["checks"].items():
                for ours in ("nb-trainer", "nb-trainer-adam"):
                    for other, d in ck.get(ours, {}).items():
                        if isinstance(d, dict):
                            rows.append(
                                [
                                    size,
                                    f"{ours} vs {other}",
                                    d.get("missing") or check_pair_text(d),
                                ]
                            )
            lines += [
                f"{run['checks'][next(iter(run['checks']))]['steps']} step(s) from identical "
                "weights on identical data; max |difference| of loss / of the updated weights.",
                "",
            ]
            lines += md_table(["size", "pair", "loss / weights"], rows)
        else:
            lines += ["Skipped."]
    lines += ["", "## Implementations", ""]
    lines += md_table(
        ["name", "what it is", "compared with"],
        [[f"`{k}`", v[0], f"`{v[2]}`, `{v[3]}`"] for k, v in IMPLS.items()],
    )
    lines += [
        "",
        "## Notes",
        "",
        "- *vs numpy\\**: ratio of medians to `numpy` (SGD rows and `floor`) or `numpy-adam` "
        "(Adam rows); *vs torch\\**: to `torch` or `torch-adam`. Above 1 means slower.",
        "- *median*: median over repetitions of each process's median step time; "
        "*reps min–max*: the range of those per-process medians; *step IQR*: 25th–75th "
        "percentile of all single-step times.",
        "- Confidence intervals: paired hierarchical bootstrap (resample repetitions, then "
        "the single-step times inside each), percentile 95% interval.",
        "- *tracemalloc peak*: bytes allocated during one step above what was live before "
        "(NumPy-based implementations only; torch's allocator is invisible to tracemalloc). "
        "*ΔmaxRSS*: growth of the process's peak RSS from after building the model to after "
        "timing (optimizer state and gradients created on the first step included); coarse "
        "(pages, allocator caching), meaningful at the large size only.",
    ]
    return "\n".join(lines) + "\n"


def check_pair_text(d: dict[str, Any]) -> str:
    return f"{d['loss_max_abs_diff']:.2g} / {d['weights_max_abs_diff']:.2g}"


def torch_text(m: dict[str, Any]) -> str:
    if not m.get("torch"):
        return "not installed"
    return (
        f"mkl={m.get('torch_mkl')}, mkldnn={m.get('torch_mkldnn')}, "
        f"num_threads={m.get('torch_num_threads')}, interop={m.get('torch_num_interop_threads')}"
    )


def report_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="suite.py report", description="Markdown (RESULTS.md) from the suite's JSON."
    )
    p.add_argument("json_path", help="the file written by suite.py --json")
    p.add_argument("--out", metavar="PATH", help="write here instead of stdout")
    args = p.parse_args(argv)
    with open(args.json_path, encoding="utf-8") as f:
        doc = json.load(f)
    text = markdown(doc, args.json_path)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_worker"]:
        return worker_main(argv[1])
    if argv[:1] == ["report"]:
        return report_main(argv[1:])
    return run_main(argv)


if __name__ == "__main__":
    sys.exit(main())
