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

At the convolutional cases (``CNN_MEMORY_SIZES``, whenever they run) the activations are
``x``, ``y`` and every layer's output array, from an inference pass over the batch after
the traced steps. Workspace a layer keeps for its backward beyond its output (a
convolution's patch matrices, a max pooling's argmax) is in the measured bytes only, so
there the peak is reported and not judged; no growth is a target as for the MLPs.
"""

from __future__ import annotations

import gc
import math
import statistics
import tracemalloc
from typing import Any

from .cnn import cnn_output_bytes, is_cnn
from .sizes import (
    CNN_MEMORY_SIZES,
    MEMORY_GROWTH_TOLERANCE,
    MEMORY_IMPLS,
    MEMORY_PEAK_BOUND,
    MEMORY_SIZES,
    SIZES,
)
from .stats import failed_summary, ok_reps
from .steps_neuroback import build_trainer, trainer_and_batch
from .tables import fmt_bytes

#: the parts of the theoretical working set, in the order the table shows them
PARTS = ("param_bytes", "grad_bytes", "state_bytes", "activation_bytes")


def working_set(trainer: Any, x: Any, y: Any, outputs: int | None = None) -> dict[str, int]:
    """The theoretical working set's parts, in bytes (see the module's docstring);
    ``outputs``: the layers' output bytes when not an MLP's (``cnn_output_bytes``)."""
    params = trainer.model.named_parameters().values()
    param_bytes = sum(p.size * p.dtype.itemsize for p in params)
    state = trainer.optimizer.state_dict()
    state_bytes = sum(a.nbytes for slots in state["slots"].values() for a in slots.values())
    state_bytes += sum(getattr(a, "nbytes", 0) for a in state["transform_state"])
    if outputs is None:
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
    warmup, steps = max(spec["warmup"], 2), spec["steps"]
    tracemalloc.start()
    try:
        trainer, x, y = trainer_and_batch(ts, spec["size"], seed, adam)
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
    # a CNN's layer outputs from an inference pass over the batch, after the traced steps
    outputs = cnn_output_bytes(trainer.model, x) if is_cnn(spec["size"]) else None
    parts = working_set(trainer, x, y, outputs)
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


def memory_title(size: str, res: dict[str, Any], label: str) -> str:
    s = next((s for s in res["summary"].values() if s["status"] == "ok"), {})
    run = f"{s['steps']} steps after {s['warmup_steps']} warm-up, " if s else ""
    return f"Memory: {size} ({run}tracemalloc), {label}"


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
CNN_MEMORY_NOTE = (
    "theoretical = parameters + gradients + optimizer state (slots) + activations "
    "(x, y and every layer's output); what the layers keep for backward beyond that "
    "(the convolutions' patch matrices, max pooling's argmax) is in the peak only, so "
    "peak/theoretical is reported, not judged; between steps, peak and growth as at the "
    "MLP sizes; medians over repetitions"
)


def memory_note(size: str) -> str:
    """The note under a size's memory table."""
    return CNN_MEMORY_NOTE if is_cnn(size) else MEMORY_NOTE


def memory_targets(run: dict[str, Any]) -> list[dict[str, Any]]:
    """No growth, and peak <= MEMORY_PEAK_BOUND x theoretical, at every size of
    MEMORY_SIZES for every implementation of MEMORY_IMPLS (judged on the median over
    repetitions); with a CNN case in the run, no growth at the CNN cases run as well
    (their peak is reported, not judged); nothing for a JSON from before the memory job."""
    sizes = run.get("sizes", {})
    if "memory" not in run.get("config", {}) and not any("memory" in s for s in sizes.values()):
        return []
    where = ", ".join(MEMORY_SIZES)
    specs = [
        (
            f"memory: no growth over steps ({where})",
            "growth_bytes",
            MEMORY_GROWTH_TOLERANCE,
            MEMORY_SIZES,
        ),
        (
            f"memory: peak <= {MEMORY_PEAK_BOUND:g}x parameters + gradients + state + one "
            f"batch's activations ({where})",
            "ratio",
            MEMORY_PEAK_BOUND,
            MEMORY_SIZES,
        ),
    ]
    rows = [memory_target_row(run, *spec, MEMORY_IMPLS) for spec in specs]
    config = run.get("config", {})
    cnn = [s for s in config.get("sizes", {}) if s in CNN_MEMORY_SIZES]
    impls = tuple(i for i in MEMORY_IMPLS if i in config.get("impls", MEMORY_IMPLS))
    if cnn and impls:  # the CNN cases: judged on the implementations that were run
        text = f"memory: no growth over steps ({', '.join(cnn)})"
        spec = (text, "growth_bytes", MEMORY_GROWTH_TOLERANCE, tuple(cnn), impls)
        rows.append(memory_target_row(run, *spec))
    return rows


def memory_target_row(
    run: dict[str, Any],
    text: str,
    key: str,
    bound: float,
    where: tuple[str, ...],
    impls: tuple[str, ...],
) -> dict[str, Any]:
    """One memory target: ``abs(summary[key]) <= bound`` for every implementation of
    ``impls`` at every size of ``where``."""
    sizes = run.get("sizes", {})
    measured, missing, met = [], [], True
    for size in where:
        summary = sizes.get(size, {}).get("memory", {}).get("summary", {})
        for impl in impls:
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
        why += f"; growth over all steps within {fmt_bytes(MEMORY_GROWTH_TOLERANCE)}"
    if not run.get("config", {}).get("memory", True):
        row.update(status="unmeasured", why="not run (--no-memory or --quick)")
    elif missing and met:
        row.update(status="unmeasured", why="not measured: " + ", ".join(missing))
    else:
        status = "met" if met else "not met"
        row.update(status=status, why=why + "".join(f"; {m} not measured" for m in missing))
    return row
