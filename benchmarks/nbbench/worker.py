"""The worker process (``suite.py _worker SPEC_JSON``): pins the threads before NumPy is
loaded, keeps torch out of NumPy-only workers, runs one job (``prepare``, ``time``,
``phases``, ``memory``, ``fit-share`` or ``digits``) and answers with its result.
``time_one`` is the timing of one implementation: warm-up, the tracemalloc peak, then
single steps with the garbage collector frozen (``train_step.py``'s loop)."""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from .digits import train_to_target
from .fitshare import fit_share
from .memory import measure_memory
from .phases import profile_phases
from .prepare import prepare
from .protocol import CORETYPE, THREAD_VARS, write_result
from .sizes import NUMPY_BASED, TORCH_IMPLS
from .steps import Missing, build

BENCHMARKS = Path(__file__).resolve().parents[1]  # where train_step.py lives


class NoTorch:
    """A meta-path finder under which ``import torch`` fails as if torch were not installed
    (``sys.modules["torch"] = None`` would also do, but trips libraries that look torch up
    in ``sys.modules``, such as SciPy's array-API helpers)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r} (kept out of this worker)")
        return None


def import_train_step(block_torch: bool) -> Any:
    """``train_step`` (and through it NumPy, neuroback, threadpoolctl, maybe torch).

    ``block_torch`` keeps torch out of a NumPy-only worker (``import torch`` then fails,
    and train_step treats torch as missing), so its OpenMP/MKL runtimes are not loaded
    into processes that do not use them.
    """
    if block_torch:
        sys.meta_path.insert(0, NoTorch())
    sys.path.insert(0, str(BENCHMARKS))
    import train_step

    return train_step


def threads_seen(ts: Any) -> dict[str, Any]:
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


def limit_threads(ts: Any, threads: int) -> Any:
    from contextlib import nullcontext, suppress

    if ts.torch is not None:
        ts.torch.set_num_threads(threads)
        with suppress(RuntimeError):  # settable once, before any parallel work
            ts.torch.set_num_interop_threads(threads)
    if ts.threadpoolctl is not None:
        return ts.threadpoolctl.threadpool_limits(limits=threads)
    return nullcontext()


def maxrss_kib() -> int:
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss // 1024 if sys.platform == "darwin" else rss  # bytes on macOS, KiB on Linux


def time_one(ts: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """Single-step times of one implementation at one size, about ``target_s`` of them."""
    impl, size = spec["impl"], spec["size"]
    try:
        step, x, y, _weights = build(ts, impl, size, spec["seed"])
    except Missing as exc:
        return {"status": "missing", "reason": str(exc)}
    rss_before = maxrss_kib()
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
    rss_after = maxrss_kib()
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


def worker_main(spec_json: str) -> int:
    """Run the job ``spec_json`` describes; its result goes to stdout (``protocol``)."""
    spec = json.loads(spec_json)
    for var in THREAD_VARS:  # before NumPy (and its BLAS) is loaded
        os.environ[var] = str(spec["threads"])
    block_torch = spec["kind"] != "prepare" and spec["impl"] not in TORCH_IMPLS
    ts = import_train_step(block_torch)
    jobs = {
        "prepare": prepare,
        "time": time_one,
        "phases": profile_phases,
        "memory": measure_memory,
        "fit-share": fit_share,
        "digits": train_to_target,
    }
    run = jobs[spec["kind"]]
    with limit_threads(ts, spec["threads"]):
        if spec["kind"] != "prepare":
            # one product through NumPy's BLAS, as neuroback's Trainer runs when built: the
            # NumPy-based rows share one BLAS state (PyTorch's rows use their own BLAS; a
            # no-op with NEUROBACK_WARM_BLAS=0)
            ts.nb.warm_blas()
        t0 = time.perf_counter()
        result = run(ts, spec)
        result["wall_s"] = time.perf_counter() - t0
        result["threads_seen"] = threads_seen(ts)
        result["openblas_coretype"] = os.environ.get(CORETYPE)
    write_result(result)
    return 0
