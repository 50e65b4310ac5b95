#!/usr/bin/env python
"""Time one training step of an MLP in neuroback, in hand-written NumPy and in PyTorch.

One step = forward, MSE loss, backward, SGD update (no momentum), zero_grad.
The default network is 784-256-256-10 (Dense-ReLU-Dense-ReLU-Dense), batch 128,
float32, on one CPU thread. All implementations are timed in the same process, on
the same random data, interleaved in rounds so that machine noise (frequency
scaling, other processes) spreads over all of them alike.

    python benchmarks/train_step.py                      # defaults
    python benchmarks/train_step.py --rounds 30 --repeats 50 --json out.json
    python benchmarks/train_step.py --batch 32 --sizes 64,64,10

This is a measurement, never a test: it prints numbers and exits 0 (unless the
correctness check before timing fails). See benchmarks/README.md for how to read them.
"""

from __future__ import annotations

# --- single thread, set BEFORE numpy (or torch) is imported -------------------------
# BLAS libraries read these once, when they are loaded. A value the caller already
# set is respected (and reported). OPENBLAS_CORETYPE is deliberately left alone.
import os

_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_PRESET_THREAD_VARS = {v: os.environ[v] for v in _THREAD_VARS if v in os.environ}
for _var in _THREAD_VARS:
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from contextlib import nullcontext, suppress  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

try:  # optional: enforce (and report) the BLAS thread count at run time as well
    import threadpoolctl
except ImportError:  # pragma: no cover - optional dependency
    threadpoolctl = None

try:  # optional: the PyTorch reference
    import torch
except ImportError:  # pragma: no cover - optional dependency
    torch = None

import neuroback as nb  # noqa: E402

LR = 0.01


# =====================================================================================
# The three implementations. Each builder returns (step, describe) where step(x, y)
# runs one full training step and returns the loss (left on its device, not converted).
# =====================================================================================


def build_neuroback(sizes: list[int], seed: int) -> tuple[nb.Sequential, nb.Loss, nb.Optimizer]:
    """The network through neuroback's public API, initial weights drawn from ``seed``."""
    nb.seed(seed)
    layers: list[nb.Layer] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nb.layers.Dense(n_in, n_out, dtype="float32"))
        if i < len(sizes) - 2:
            layers.append(nb.layers.ReLU())
    model = nb.Sequential(*layers)
    loss_fn = nb.losses.MSE()
    opt = nb.optimizers.SGD(lr=LR).bind(model)
    return model, loss_fn, opt


def neuroback_step_fn(
    model: nb.Sequential, loss_fn: nb.Loss, opt: nb.Optimizer, *, input_grad: bool = True
) -> Callable:
    def step(x: np.ndarray, y: np.ndarray) -> Any:
        pred, backward = model.forward(x, train=True)
        value, dpred = loss_fn.forward(pred, y)
        backward(dpred, input_grad=input_grad)
        opt.step()
        opt.zero_grad()
        return value

    return step


#: Ctrl-C deferrals entered by trainer_step_fn, kept alive for the rest of the process.
_ENTERED_GUARDS: list[Any] = []


def trainer_step_fn(sizes: list[int], seed: int, optimizer: nb.Optimizer | None = None) -> Callable:
    """``Trainer.train_step``: the public hot path that ``fit`` runs for every batch.

    ``optimizer`` replaces ``SGD(lr=LR)``; the model is ``step.model``, the Trainer
    ``step.trainer``.
    """
    model, loss_fn, opt = build_neuroback(sizes, seed)
    trainer = nb.Trainer(model, loss_fn, opt if optimizer is None else optimizer, seed=seed)
    # fit() installs its Ctrl-C deferral and lists the layer state once per run, not per
    # step; trainer.loop() does the same here (for the rest of this benchmark process).
    # The context is kept alive: when it was generator-based, a discarded one was closed
    # at once, and every update then installed and removed the handler (about 55 us).
    guard = trainer.loop()
    guard.__enter__()
    _ENTERED_GUARDS.append(guard)  # alive for the whole process, whoever keeps the step

    def step(x: np.ndarray, y: np.ndarray) -> Any:
        return trainer.train_step(x, y).loss

    step.model = model  # type: ignore[attr-defined]
    step.trainer = trainer  # type: ignore[attr-defined]
    return step


def initial_weights(model: nb.Sequential) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W, b) copies per Dense layer, W in neuroback's (in, out) layout."""
    params = model.named_parameters()
    dense_names = sorted({name.split(".")[0] for name in params}, key=int)
    return [(params[f"{i}.W"].value.copy(), params[f"{i}.b"].value.copy()) for i in dense_names]


class NumpyMLP:
    """The hand-written step: the tightest reasonable plain-NumPy code.

    ``x @ W + b``, ``np.maximum``, ReLU masks, ``x.T @ dy`` written straight into
    preallocated gradient buffers, in-place SGD updates, no input gradient for the
    first layer (nobody needs it), and therefore no zero_grad pass at all.
    """

    def __init__(self, weights: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self.W = [w.copy() for w, _ in weights]
        self.b = [b.copy() for _, b in weights]
        self.dW = [np.empty_like(w) for w in self.W]
        self.db = [np.empty_like(b) for b in self.b]

    def step(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        W, b, dW, db = self.W, self.b, self.dW, self.db
        n = len(W)
        # forward: keep each layer's input (the post-ReLU activation)
        acts = [x]
        h = x
        for i in range(n):
            z = h @ W[i]
            z += b[i]
            if i < n - 1:
                np.maximum(z, 0, out=z)  # ReLU in place; z > 0 is also the mask
            acts.append(z)
            h = z
        # MSE loss and its gradient, exactly as neuroback's MSE computes them
        diff = h - y
        loss = np.mean(diff * diff)
        diff *= 2.0 / diff.size
        dy = diff
        # backward
        for i in range(n - 1, -1, -1):
            a_in = acts[i]
            np.matmul(a_in.T, dy, out=dW[i])
            np.sum(dy, axis=0, out=db[i])
            if i > 0:
                dx = dy @ W[i].T
                np.multiply(dx, a_in > 0, out=dx)  # ReLU mask of the layer below
                dy = dx
        # SGD: theta -= lr * g, in place (the gradient buffer is scratch afterwards)
        for i in range(n):
            dW[i] *= LR
            W[i] -= dW[i]
            db[i] *= LR
            b[i] -= db[i]
        return loss


def build_torch(
    weights: list[tuple[np.ndarray, np.ndarray]], optimizer: Callable | None = None
) -> Callable:
    """PyTorch CPU: nn.Linear/ReLU/MSELoss and torch.optim.SGD, same initial weights.

    ``optimizer(parameters)`` replaces ``torch.optim.SGD``; the model is ``step.model``.
    """
    mods: list[Any] = []
    for i, (w, b) in enumerate(weights):
        lin = torch.nn.Linear(w.shape[0], w.shape[1], dtype=torch.float32)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
            lin.bias.copy_(torch.from_numpy(b))
        mods.append(lin)
        if i < len(weights) - 1:
            mods.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*mods)
    loss_fn = torch.nn.MSELoss()
    if optimizer is None:
        opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.0)
    else:
        opt = optimizer(model.parameters())

    def step(x: Any, y: Any) -> Any:
        pred = model(x)
        loss = loss_fn(pred, y)
        loss.backward()
        opt.step()
        opt.zero_grad()  # set_to_none=True, PyTorch's default
        return loss.detach()

    step.model = model  # type: ignore[attr-defined]
    return step


def torch_weights(model: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W, b) copies per nn.Linear of a torch model, W in neuroback's (in, out) layout."""
    lins = [m for m in model if isinstance(m, torch.nn.Linear)]
    return [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in lins]


def random_data(sizes: list[int], batch: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal float32 inputs and targets for a batch, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    y = rng.standard_normal((batch, sizes[-1]), dtype=np.float32)
    return x, y


# =====================================================================================
# Machine and BLAS information
# =====================================================================================


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info() -> dict[str, Any]:
    info: dict[str, Any] = {}
    try:  # numpy >= 1.25: what numpy was built against
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        info["numpy_build_blas"] = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # informational only
        info["numpy_build_blas"] = "unknown"
    if threadpoolctl is not None:
        info["threadpools"] = [
            {
                k: p.get(k)
                for k in (
                    "user_api",
                    "internal_api",
                    "version",
                    "num_threads",
                    "architecture",
                    "threading_layer",
                    "prefix",
                )
                if p.get(k) is not None
            }
            for p in threadpoolctl.threadpool_info()
        ]
    return info


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "neuroback": nb.__version__,
        "torch": torch.__version__ if torch is not None else None,
        "thread_env": {v: os.environ.get(v) for v in _THREAD_VARS},
        "thread_env_preset_by_caller": _PRESET_THREAD_VARS,
        "threadpoolctl": threadpoolctl.__version__ if threadpoolctl is not None else None,
    }
    info.update(blas_info())
    if torch is not None:
        info["torch_num_threads"] = torch.get_num_threads()
        info["torch_num_interop_threads"] = torch.get_num_interop_threads()
        info["torch_mkl"] = bool(torch.backends.mkl.is_available())
        info["torch_mkldnn"] = bool(torch.backends.mkldnn.is_available())
    return info


def print_machine(info: dict[str, Any]) -> None:
    print(f"machine  : {info['platform']} | {info['cpu']} | {info['cpu_count']} logical CPUs")
    print(
        f"python   : {info['python']}  numpy {info['numpy']}  neuroback {info['neuroback']}  "
        f"torch {info['torch'] or 'not installed'}"
    )
    env = ", ".join(f"{k}={v}" for k, v in info["thread_env"].items())
    preset = info["thread_env_preset_by_caller"]
    print(f"threads  : {env}" + (f"  (preset by caller: {sorted(preset)})" if preset else ""))
    print(f"BLAS     : numpy built with {info['numpy_build_blas']}")
    for p in info.get("threadpools", []):
        api = f"{p.get('user_api')}/{p.get('internal_api')}"
        print(
            f"           loaded: {api} {p.get('version', '')} "
            f"num_threads={p.get('num_threads')} arch={p.get('architecture', '-')} "
            f"[{os.path.basename(str(p.get('prefix', '')))}]"
        )
    if "threadpools" not in info:
        print("           (install threadpoolctl to see the loaded BLAS and its thread count)")
    if info["torch"]:
        print(
            f"torch    : num_threads={info['torch_num_threads']} "
            f"interop={info['torch_num_interop_threads']} mkl={info['torch_mkl']} "
            f"mkldnn={info['torch_mkldnn']}"
        )


# =====================================================================================
# Correctness check (before any timing)
# =====================================================================================


def verify(sizes: list[int], x: np.ndarray, y: np.ndarray, seed: int, steps: int) -> dict[str, Any]:
    """Run ``steps`` steps from identical initial weights; report max |difference|."""
    model, loss_fn, opt = build_neuroback(sizes, seed)
    weights = initial_weights(model)
    nb_step = neuroback_step_fn(model, loss_fn, opt)
    ref = NumpyMLP(weights)
    t_step = build_torch(weights) if torch is not None else None
    xt = torch.from_numpy(x) if torch is not None else None
    yt = torch.from_numpy(y) if torch is not None else None

    out: dict[str, Any] = {"steps": steps, "loss": []}
    for _ in range(steps):
        l_nb = float(nb_step(x, y))
        l_np = float(ref.step(x, y))
        l_t = float(t_step(xt, yt)) if t_step is not None else None
        out["loss"].append({"neuroback": l_nb, "numpy": l_np, "torch": l_t})

    nb_w = initial_weights(model)  # (now updated) weights, copied

    def maxdiff(pairs_a: list, pairs_b: list) -> float:
        return max(
            float(np.max(np.abs(a - b)))
            for pa, pb in zip(pairs_a, pairs_b, strict=True)
            for a, b in zip(pa, pb, strict=True)
        )

    np_w = list(zip(ref.W, ref.b, strict=True))
    out["neuroback_vs_numpy"] = {
        "loss_max_abs_diff": max(abs(r["neuroback"] - r["numpy"]) for r in out["loss"]),
        "weights_max_abs_diff": maxdiff(nb_w, np_w),
    }
    if t_step is not None:
        t_w = torch_weights(t_step.model)
        out["neuroback_vs_torch"] = {
            "loss_max_abs_diff": max(abs(r["neuroback"] - r["torch"]) for r in out["loss"]),
            "weights_max_abs_diff": maxdiff(nb_w, t_w),
        }
    out["weights_max_abs_change"] = maxdiff(nb_w, weights)  # the update is not a no-op
    return out


# =====================================================================================
# Timing
# =====================================================================================


def summarize(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1e3 for s in samples_s)
    q1, med, q3 = statistics.quantiles(ms, n=4, method="inclusive")
    return {
        "median_ms": med,
        "q1_ms": q1,
        "q3_ms": q3,
        "iqr_ms": q3 - q1,
        "min_ms": ms[0],
        "mean_ms": statistics.fmean(ms),
        "n": len(ms),
    }


def peak_traced_bytes(step: Callable, x: Any, y: Any) -> int:
    """Peak bytes allocated during one step, above what was live before it (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        step(x, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before


def time_interleaved(
    impls: dict[str, tuple[Callable, Any, Any]],
    warmup: int,
    rounds: int,
    repeats: int,
) -> tuple[dict[str, list[float]], float]:
    """Single-step times in seconds per implementation, and the total wall time.

    Every implementation first runs ``warmup`` untimed steps. Then, ``rounds`` times,
    each runs ``repeats`` individually timed steps; the order rotates every round so
    that none is always first (or always right after another). The cyclic garbage
    collector is frozen/disabled while timing, for all implementations alike.
    """
    for fn, xx, yy in impls.values():
        for _ in range(warmup):
            fn(xx, yy)
    names = list(impls)
    samples: dict[str, list[float]] = {n: [] for n in names}
    clock = time.perf_counter
    gc.collect()
    gc.freeze()  # long-lived objects (torch, models) leave the collector's generations
    gc_was_enabled = gc.isenabled()
    t_start = clock()
    try:
        for r in range(rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                fn, xx, yy = impls[name]
                out = samples[name]
                gc.collect()  # cheap after freeze(); clears the previous block's garbage
                gc.disable()
                for _ in range(repeats):
                    t0 = clock()
                    fn(xx, yy)
                    out.append(clock() - t0)
                if gc_was_enabled:
                    gc.enable()
    finally:
        if gc_was_enabled:
            gc.enable()
        gc.unfreeze()
    return samples, clock() - t_start


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = [int(s) for s in args.sizes.split(",")]
    if len(sizes) < 2 or any(s <= 0 for s in sizes):
        raise SystemExit(f"--sizes needs at least two positive integers, got {args.sizes!r}")

    limiter = (
        threadpoolctl.threadpool_limits(limits=1, user_api="blas")
        if threadpoolctl is not None
        else nullcontext()
    )
    if torch is not None:
        torch.set_num_threads(1)
        with suppress(RuntimeError):  # only settable once, before any parallel work
            torch.set_num_interop_threads(1)

    with limiter:
        info = machine_info()
        print_machine(info)
        arch = "-".join(map(str, sizes))
        print(
            f"workload : MLP {arch} (Dense-ReLU-...-Dense), batch {args.batch}, float32, "
            f"MSE, SGD lr={LR} momentum=0, one step incl. zero_grad"
        )

        x, y = random_data(sizes, args.batch, args.seed)

        # ---- correctness: same loss, same updated weights -------------------------
        check = verify(sizes, x, y, args.seed, steps=args.check_steps)
        d = check["neuroback_vs_numpy"]
        print(f"\ncheck    : {args.check_steps} step(s) from identical initial weights")
        print(
            f"  neuroback vs numpy : max|dloss| = {d['loss_max_abs_diff']:.3g}, "
            f"max|dW,db| = {d['weights_max_abs_diff']:.3g}  "
            f"(weights moved by up to {check['weights_max_abs_change']:.3g})"
        )
        if "neuroback_vs_torch" in check:
            d = check["neuroback_vs_torch"]
            print(
                f"  neuroback vs torch : max|dloss| = {d['loss_max_abs_diff']:.3g}, "
                f"max|dW,db| = {d['weights_max_abs_diff']:.3g}  (other kernels: ~1e-6 expected)"
            )
        tol = 1e-4
        if check["neuroback_vs_numpy"]["weights_max_abs_diff"] > tol:
            raise SystemExit(
                "neuroback and the hand-written NumPy step disagree; the timing would not "
                "compare like with like. Aborting."
            )

        # ---- implementations under test, each with its own copy of the weights ----
        model, loss_fn, opt = build_neuroback(sizes, args.seed)
        weights = initial_weights(model)
        # "nb-no-dx": backward(dpred, input_grad=False) tells the model nobody needs the
        # data's gradient, as the Trainer does (the hand-written step and torch skip it too).
        model_nodx, loss_nodx, opt_nodx = build_neuroback(sizes, args.seed)
        impls: dict[str, tuple[Callable, Any, Any]] = {
            "neuroback": (neuroback_step_fn(model, loss_fn, opt), x, y),
            "nb-no-dx": (
                neuroback_step_fn(model_nodx, loss_nodx, opt_nodx, input_grad=False),
                x,
                y,
            ),
            "nb-trainer": (trainer_step_fn(sizes, args.seed), x, y),
            "numpy": (NumpyMLP(weights).step, x, y),
        }
        if torch is not None and not args.no_torch:
            impls["torch"] = (build_torch(weights), torch.from_numpy(x), torch.from_numpy(y))

        # ---- peak memory (numpy-based only; torch's allocator is invisible to it) -
        mem = {
            name: peak_traced_bytes(fn, xx, yy)
            for name, (fn, xx, yy) in impls.items()
            if name != "torch"
        }

        samples, elapsed = time_interleaved(impls, args.warmup, args.rounds, args.repeats)

    stats = {name: summarize(s) for name, s in samples.items()}
    ratios: dict[str, float] = {}
    for ours in ("neuroback", "nb-no-dx", "nb-trainer"):
        for other in ("numpy", "torch"):
            if other in stats:
                ratio = stats[ours]["median_ms"] / stats[other]["median_ms"]
                ratios[f"{ours}/{other}"] = ratio
    if "torch" in stats:
        ratios["numpy/torch"] = stats["numpy"]["median_ms"] / stats["torch"]["median_ms"]

    print(
        f"\ntiming   : {args.warmup} warm-up steps each, then {args.rounds} rounds x "
        f"{args.repeats} steps each, interleaved ({elapsed:.1f} s)"
    )
    print(
        f"  {'implementation':<16}{'median ms':>10}{'IQR ms':>17}{'min ms':>9}"
        f"{'peak alloc/step':>18}"
    )
    for name, s in stats.items():
        m = f"{mem[name] / 2**20:.2f} MiB" if name in mem else "n/a"
        print(
            f"  {name:<16}{s['median_ms']:>10.3f}   [{s['q1_ms']:.3f}, {s['q3_ms']:.3f}]"
            f"{s['min_ms']:>9.3f}{m:>18}"
        )
    if torch is None:
        print(f"  {'torch':<16}{'missing (not importable)':>28}")
    elif args.no_torch:
        print(f"  {'torch':<16}{'skipped (--no-torch)':>28}")
    print(
        "  (IQR = 25th..75th percentile of single-step times; peak alloc = tracemalloc peak of "
        "NumPy/Python allocations during one step)"
    )
    shown = [f"{k} = {v:.2f}x" for k, v in ratios.items()]
    if "torch" not in stats:
        shown.append("neuroback/torch = n/a")
    print("ratios   : " + "   ".join(shown) + "   (of medians; >1 means the first is slower)")

    return {
        "machine": info,
        "config": {
            "sizes": sizes,
            "batch": args.batch,
            "dtype": "float32",
            "lr": LR,
            "warmup": args.warmup,
            "rounds": args.rounds,
            "repeats": args.repeats,
            "seed": args.seed,
            "gc_disabled_while_timing": True,
        },
        "check": check,
        "results": stats,
        "ratios": ratios,
        "peak_alloc_bytes_tracemalloc": mem,
        "torch": "measured" if "torch" in stats else ("missing" if torch is None else "skipped"),
        "samples_ms": {n: [v * 1e3 for v in s] for n, s in samples.items()} if args.raw else None,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time one MLP training step: neuroback vs hand-written NumPy vs PyTorch "
        "(single thread, interleaved rounds, median and IQR).",
    )
    p.add_argument(
        "--sizes",
        default="784,256,256,10",
        help="layer widths, comma-separated (default: 784,256,256,10)",
    )
    p.add_argument("--batch", type=int, default=128, help="batch size (default: 128)")
    p.add_argument(
        "--rounds",
        type=int,
        default=30,
        help="interleaved rounds; each implementation runs once per round (default: 30)",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=30,
        help="timed steps per implementation per round (default: 30)",
    )
    p.add_argument("--warmup", type=int, default=20, help="untimed steps each first (default: 20)")
    p.add_argument("--seed", type=int, default=0, help="seed for weights and data (default: 0)")
    p.add_argument(
        "--check-steps",
        type=int,
        default=3,
        help="steps compared between neuroback and NumPy before timing (default: 3)",
    )
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    p.add_argument("--json", metavar="PATH", help="also write results and machine info as JSON")
    p.add_argument("--raw", action="store_true", help="include every single-step time in the JSON")
    p.add_argument(
        "--profile",
        action="store_true",
        help="instead of timing, print a cProfile ranking of Trainer.train_step",
    )
    args = p.parse_args(argv)
    for name in ("batch", "rounds", "repeats"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if args.rounds * args.repeats < 4:
        p.error("need at least 4 timed steps per implementation for quartiles")
    if args.warmup < 0 or args.check_steps < 1:
        p.error("--warmup must be >= 0 and --check-steps >= 1")
    return args


def profile(args: argparse.Namespace) -> None:
    """cProfile ranking of ``Trainer.train_step`` on the benchmark workload."""
    import cProfile
    import pstats

    sizes = [int(s) for s in args.sizes.split(",")]
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.batch, sizes[0]), dtype=np.float32)
    y = rng.standard_normal((args.batch, sizes[-1]), dtype=np.float32)
    step = trainer_step_fn(sizes, args.seed)
    for _ in range(args.warmup):
        step(x, y)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.rounds * args.repeats):
        step(x, y)
    profiler.disable()
    print(
        f"cProfile of {args.rounds * args.repeats} Trainer.train_step calls, MLP {args.sizes}, "
        f"batch {args.batch} (BLAS time is charged to the Python function that calls it)"
    )
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.profile:
        profile(args)
        return 0
    result = run(args)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
