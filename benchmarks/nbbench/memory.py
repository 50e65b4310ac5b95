"""The memory targets (job ``memory``): no growth over steps, and a peak within
``MEMORY_PEAK_BOUND`` of the theoretical working set. ``measure_memory`` runs in a worker;
``analyze_memory``, the table cells and ``memory_targets`` run on the driver's side.

Per worker (one implementation, one size), with the Trainer ``nb-trainer`` times:

1. One step of a throwaway ``tiny`` Trainer with the same optimizer, untraced: the lazy
   imports and first-call set-up (plugins, kernels) are done before tracing starts, so the
   traced bytes are the training's, not module objects.
2. ``tracemalloc.start()``, then the Trainer and the batch ``x, y`` are built (parameters,
   gradients, optimizer slots and the batch are traced; NumPy reports its buffers).
3. ``warmup`` steps; ``gc.collect()``; *between steps* = traced current bytes;
   ``tracemalloc.reset_peak()``; ``steps`` more steps; ``gc.collect()``; *growth* = traced
   current bytes - *between steps*; *peak* = the traced peak over those steps.

Theoretical working set = parameters + gradients (each the sum of parameter sizes x
itemsize) + optimizer state (the arrays in ``optimizer.state_dict()``'s slots and transform
state) + one batch's activations: ``x`` and ``y``, plus one output array per layer (a Dense
layer's ``batch x out``, a ReLU's ``batch x`` its input width), at ``x``'s itemsize.
"""

from __future__ import annotations

import gc
import math
import statistics
import tracemalloc
from typing import Any

from .sizes import MEMORY_GROWTH_TOLERANCE, MEMORY_IMPLS, MEMORY_PEAK_BOUND, MEMORY_SIZES, SIZES
from .stats import failed_summary, ok_reps
from .steps_neuroback import build_trainer
from .tables import fmt_bytes

#: the parts of the theoretical working set, in the order the table shows them
PARTS = ("param_bytes", "grad_bytes", "state_bytes", "activation_bytes")


def working_set(trainer: Any, x: Any, y: Any) -> dict[str, int]:
    """The theoretical working set's parts, in bytes (see the module's docstring)."""
    params = trainer.model.named_parameters().values()
    param_bytes = sum(p.size * p.dtype.itemsize for p in params)
    state = trainer.optimizer.state_dict()
    state_bytes = sum(a.nbytes for slots in state["slots"].values() for a in slots.values())
    state_bytes += sum(getattr(a, "nbytes", 0) for a in state["transform_state"])
    batch, width, outputs = x.shape[0], x.shape[1], 0
    for layer in trainer.model:
        w = layer.named_parameters().get("W")
        width = w.shape[1] if w is not None else width  # Dense: out; ReLU: as its input
        outputs += batch * width * x.dtype.itemsize
    parts = {"param_bytes": param_bytes, "grad_bytes": param_bytes, "state_bytes": state_bytes}
    parts.update(batch_bytes=x.nbytes + y.nbytes, output_bytes=outputs)
    parts["activation_bytes"] = x.nbytes + y.nbytes + outputs
    parts["theoretical_bytes"] = sum(parts[k] for k in PARTS)
    return parts


def measure_memory(ts: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """Worker job ``memory``: traced bytes between steps, their growth over
    ``spec["steps"]`` steps, the peak over them, and the theoretical working set."""
    seed, adam = spec["seed"], spec["impl"] == "nb-trainer-adam"
    tiny, tiny_batch = SIZES["tiny"]
    warm = build_trainer(ts, tiny, seed, adam)  # imports and set-up, untraced
    warm.train_step(*ts.random_data(tiny, tiny_batch, seed))
    del warm
    gc.collect()
    sizes, batch = SIZES[spec["size"]]
    warmup, steps = max(spec["warmup"], 2), spec["steps"]
    tracemalloc.start()
    try:
        trainer = build_trainer(ts, sizes, seed, adam)
        x, y = ts.random_data(sizes, batch, seed)
        for _ in range(warmup):
            trainer.train_step(x, y)
        gc.collect()
        between = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for _ in range(steps):
            loss = trainer.train_step(x, y).loss
        gc.collect()
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    parts = working_set(trainer, x, y)
    final_loss = float(loss)
    return {
        "status": "ok",
        "warmup_steps": warmup,
        "steps": steps,
        **parts,
        "between_steps_bytes": between,
        "growth_bytes": after - between,
        "growth_per_step_bytes": (after - between) / steps,
        "peak_bytes": peak,
        "ratio": peak / parts["theoretical_bytes"],
        "final_loss": final_loss,
        "finite": math.isfinite(final_loss),
    }


def summarize_memory(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """One implementation: the working set (the same in every repetition) and the medians
    over repetitions of the measured bytes, the ratio and the growth."""
    ok = ok_reps(reps)
    if not ok:
        return failed_summary(reps)
    measured = ("between_steps_bytes", "peak_bytes", "ratio", "growth_bytes")
    out = {k: ok[0][k] for k in (*PARTS, "theoretical_bytes", "steps", "warmup_steps")}
    out.update({k: statistics.median(r[k] for r in ok) for k in measured})
    out["growth_per_step_bytes"] = out["growth_bytes"] / out["steps"]
    out["ratio_by_rep"] = [r["ratio"] for r in ok]
    out.update(status="ok", reps=len(ok), all_finite=all(r.get("finite", True) for r in ok))
    return out


def analyze_memory(per_impl: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    summary = {impl: summarize_memory(reps) for impl, reps in per_impl.items()}
    return {"summary": summary, "impls": [i for i in MEMORY_IMPLS if i in summary]}


MEMORY_HEADERS = [
    "implementation",
    "parameters",
    "gradients",
    "state",
    "activations",
    "theoretical",
    "between steps",
    "peak",
    "peak/theoretical",
    "growth/step",
]


def memory_title(size: str, res: dict[str, Any], threads: int) -> str:
    s = next((s for s in res["summary"].values() if s["status"] == "ok"), {})
    run = f"{s['steps']} steps after {s['warmup_steps']} warm-up, " if s else ""
    return f"Memory: {size} ({run}tracemalloc), {threads} thread(s)"


def memory_rows(res: dict[str, Any]) -> list[list[str]]:
    rows = []
    for impl in res["impls"]:
        s = res["summary"][impl]
        if s["status"] != "ok":
            rows.append([impl, f"{s['status']}: {s.get('reason')}", *[""] * 8])
            continue
        cells = [fmt_bytes(s[k]) if s[k] else "0" for k in (*PARTS, "theoretical_bytes")]
        cells += [fmt_bytes(s["between_steps_bytes"]), fmt_bytes(s["peak_bytes"])]
        mark = "" if s["all_finite"] else " (!non-finite loss)"
        growth = f"{s['growth_per_step_bytes']:+.0f} B"
        rows.append([impl + mark, *cells, f"{s['ratio']:.3f}x", growth])
    return rows


MEMORY_NOTE = (
    "theoretical = parameters + gradients + optimizer state (slots) + activations "
    "(x, y and one output per Dense and ReLU layer); between steps: traced bytes after the "
    "warm-up; peak: traced peak over the steps; growth/step: (traced after the last step - "
    "between steps) / steps, gc collected; medians over repetitions"
)


def memory_targets(run: dict[str, Any]) -> list[dict[str, Any]]:
    """No growth, and peak <= MEMORY_PEAK_BOUND x theoretical, at every size of
    MEMORY_SIZES for every implementation of MEMORY_IMPLS (judged on the median over
    repetitions); nothing for a JSON from before the memory job."""
    sizes = run.get("sizes", {})
    if "memory" not in run.get("config", {}) and not any("memory" in s for s in sizes.values()):
        return []
    where = ", ".join(MEMORY_SIZES)
    tol = fmt_bytes(MEMORY_GROWTH_TOLERANCE)
    specs = [
        (f"memory: no growth over steps ({where})", "growth_bytes", MEMORY_GROWTH_TOLERANCE),
        (
            f"memory: peak <= {MEMORY_PEAK_BOUND:g}x parameters + gradients + state + one "
            f"batch's activations ({where})",
            "ratio",
            MEMORY_PEAK_BOUND,
        ),
    ]
    out = []
    for text, key, bound in specs:
        measured, missing, met = [], [], True
        for size in MEMORY_SIZES:
            summary = sizes.get(size, {}).get("memory", {}).get("summary", {})
            for impl in MEMORY_IMPLS:
                s = summary.get(impl, {})
                if s.get("status") != "ok":
                    missing.append(f"{impl} at {size}")
                    continue
                met = met and abs(s[key]) <= bound
                value = f"{s[key]:.3f}x" if key == "ratio" else f"{s[key]:+.0f} B"
                measured.append(f"{size} {impl} {value}")
        row: dict[str, Any] = {"target": text, "bound": bound, "measured": ", ".join(measured)}
        why = "judged on the median over repetitions"
        if key == "growth_bytes":
            why += f"; growth over all steps within {tol}"
        if not run.get("config", {}).get("memory", True):
            row.update(status="unmeasured", why="not run (--no-memory or --quick)")
        elif missing and met:
            row.update(status="unmeasured", why="not measured: " + ", ".join(missing))
        else:
            status = "met" if met else "not met"
            row.update(status=status, why=why + "".join(f"; {m} not measured" for m in missing))
        out.append(row)
    return out
