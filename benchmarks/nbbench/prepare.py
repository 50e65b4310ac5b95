"""The preparation worker: the machine (CPU, BLAS, versions, thread settings, GPU),
which implementations cannot run here, and the like-for-like check (a few steps of
every implementation from identical weights on identical data, max |difference| of
losses and updated weights against neuroback)."""

from __future__ import annotations

import os
from typing import Any

from .protocol import CORETYPE
from .sizes import CHECK_GROUPS, TORCH_IMPLS
from .steps import Missing, build
from .steps_torch import fused_adam_problem


def prepare(ts: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """Machine information, what can run here, and the like-for-like checks."""
    import importlib.metadata
    import importlib.util

    info = ts.machine_info()
    info.pop("thread_env_preset_by_caller", None)  # the driver sets them, deliberately
    info["cpu_flags"] = cpu_flags()
    info["openblas_coretype"] = os.environ.get(CORETYPE)
    for mod, dist in (("sklearn", "scikit-learn"), ("cupy", None)):
        info[f"{mod}_installed"] = importlib.util.find_spec(mod) is not None
        if dist and info[f"{mod}_installed"]:
            info[mod] = importlib.metadata.version(dist)
    info["gpu_devices"] = gpu_devices() if info["cupy_installed"] else 0
    probes: dict[str, str | None] = {}
    for impl in spec["impls"]:
        if impl in TORCH_IMPLS and ts.torch is None:
            probes[impl] = "torch is not importable"
    if "torch-adam-fused" in spec["impls"] and ts.torch is not None:
        problem = fused_adam_problem(ts.torch)
        if problem:
            probes["torch-adam-fused"] = problem
    checks = {}
    if spec["check_steps"] > 0:
        runnable = [i for i in spec["impls"] if i not in probes]
        for size in spec["sizes"]:
            checks[size] = check_size(ts, size, spec["seed"], spec["check_steps"], runnable)
    return {"status": "ok", "machine": info, "missing": probes, "checks": checks}


def cpu_flags() -> list[str]:
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


def gpu_devices() -> int:
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # no driver, no device: informational only
        return 0


def max_abs_diff(np: Any, a: list, b: list) -> float:
    return max(
        float(np.max(np.abs(np.asarray(u, dtype=np.float64) - np.asarray(v, dtype=np.float64))))
        for pa, pb in zip(a, b, strict=True)
        for u, v in zip(pa, pb, strict=True)
    )


def check_size(ts: Any, size: str, seed: int, steps: int, impls: list[str]) -> dict[str, Any]:
    """Like for like: ``steps`` steps of each implementation from identical initial weights
    on identical data; max |difference| of losses and updated weights vs neuroback."""
    np = ts.np
    out: dict[str, Any] = {"steps": steps}
    for ours, others in CHECK_GROUPS.items():
        if ours not in impls:
            continue
        step, x, y, get_w = build(ts, ours, size, seed)
        w0 = get_w()
        nb_loss = [float(step(x, y)) for _ in range(steps)]
        w_nb = get_w()
        out[ours] = {"weights_max_abs_change": max_abs_diff(np, w_nb, w0)}
        for other in others:
            if other not in impls:
                continue
            try:
                o_step, ox, oy, o_get_w = build(ts, other, size, seed)
            except Missing as exc:
                out[ours][other] = {"missing": str(exc)}
                continue
            o_loss = [float(o_step(ox, oy)) for _ in range(steps)]
            out[ours][other] = {
                "loss_max_abs_diff": max(abs(a - b) for a, b in zip(nb_loss, o_loss, strict=True)),
                "weights_max_abs_diff": max_abs_diff(np, w_nb, o_get_w()),
            }
    return out
