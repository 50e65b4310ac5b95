"""The per-phase profile of neuroback's step (job ``phases``): where one
``Trainer.train_step`` spends its time. ``profile_phases`` runs in a worker; ``analyze_phases``
summarises its results on the driver's side (plain Python).

One *phased step* calls the parts of ``train_step`` one at a time, each timed on its own:

- ``forward``: ``model.forward(x, train=True, rng=trainer.forward_rng)``
- ``loss``: ``trainer.loss.forward(pred, y)``
- ``backward``: ``neuroback.layer.run_backward(backward, dpred, input_grad=False, owner=model)``
- ``guard``: ``optimizer.backend.all_finite(gradients + [loss])`` over what ``try_step``
  reduces (its step plan's arrays: an element-wise optimizer's flat gradient buffers,
  else each trainable parameter's gradient), read on the host where that is free, as
  ``try_step`` does
- ``update``: ``optimizer.try_step(skip_nonfinite=False)`` (transforms and the update rule,
  no guard)
- ``zero_grad``: ``optimizer.zero_grad()``

Phased steps alternate with whole ``train_step`` calls on the same Trainer and batch (the
order swapping every iteration), the garbage collector frozen and disabled; both update the
weights. ``trainer overhead`` = median ``train_step`` - sum of the phase medians: what the
Trainer adds (snapshots, the Ctrl-C deferral, counters, bookkeeping). Medians do not add,
so it can come out slightly negative within noise.
"""

from __future__ import annotations

import gc
import math
import random
import statistics
import time
from typing import Any

from .sizes import PHASE_IMPLS, PHASES
from .stats import failed_summary, ok_reps, quantile
from .steps_neuroback import trainer_and_batch

#: what a phase profile reports per implementation: the phases, then the whole step
TIMED = (*PHASES, "train_step")


def phased_step_fn(trainer: Any, run_backward: Any) -> Any:
    """``step(x, y, out)``: one training step, phase by phase, appending each phase's
    seconds to ``out[phase]``; returns the loss value (left on the backend)."""
    model, loss, opt = trainer.model, trainer.loss, trainer.optimizer
    clock = time.perf_counter

    def step(x: Any, y: Any, out: dict[str, list[float]]) -> Any:
        t0 = clock()
        pred, backward = model.forward(x, train=True, rng=trainer.forward_rng)
        t1 = clock()
        value, dpred = loss.forward(pred, y)
        t2 = clock()
        run_backward(backward, dpred, input_grad=False, owner=model)
        t3 = clock()
        backend = opt.backend
        # what try_step reduces: its step plan's arrays (an element-wise optimizer's flat
        # gradient buffers, one per group and dtype, else each trainable gradient)
        plan = opt._plan
        if plan is None or not plan.current():
            plan = opt._plan = opt._make_plan()
        grads = list(plan.checked)
        ok = backend.all_finite([*grads, value])
        if backend.host_reads_are_free:
            ok = bool(ok)
        t4 = clock()
        opt.try_step(skip_nonfinite=False)
        t5 = clock()
        opt.zero_grad()
        t6 = clock()
        out["forward"].append(t1 - t0)
        out["loss"].append(t2 - t1)
        out["backward"].append(t3 - t2)
        out["guard"].append(t4 - t3)
        out["update"].append(t5 - t4)
        out["zero_grad"].append(t6 - t5)
        return value

    return step


def clock_overhead_us(n: int = 2001) -> float:
    """Median cost of one ``perf_counter`` interval with nothing in it, in µs (every phase
    carries about one such overhead)."""
    clock = time.perf_counter
    gaps = []
    for _ in range(n):
        t0 = clock()
        gaps.append(clock() - t0)
    return statistics.median(gaps) * 1e6


def profile_phases(ts: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """Worker job ``phases``: per-phase and whole-step medians of one implementation at one
    size, about ``target_s`` seconds of alternating phased and whole steps."""
    from neuroback.layer import run_backward

    adam = spec["impl"] == "nb-trainer-adam"
    trainer, x, y = trainer_and_batch(ts, spec["size"], spec["seed"], adam)
    phased = phased_step_fn(trainer, run_backward)
    clock = time.perf_counter

    def whole(out: dict[str, list[float]]) -> Any:
        t0 = clock()
        value = trainer.train_step(x, y).loss
        out["train_step"].append(clock() - t0)
        return value

    warm: dict[str, list[float]] = {k: [] for k in TIMED}
    t_start = clock()
    while len(warm["train_step"]) < spec["warmup"] or clock() - t_start < spec["warmup_s"]:
        phased(x, y, warm)
        whole(warm)
    half = len(warm["train_step"]) // 2
    estimate = sum(statistics.median(v[half:]) for v in warm.values())  # phased + whole
    steps = math.ceil(spec["target_s"] / max(estimate, 1e-7))
    steps = min(max(steps, spec["min_steps"]), spec["max_steps"])
    steps += 1 - steps % 2  # odd: the median is one of the samples
    times: dict[str, list[float]] = {k: [] for k in TIMED}
    sums: list[float] = []
    gc.collect()
    gc.freeze()
    gc.disable()
    t_start = clock()
    try:
        for i in range(steps):
            if i % 2:
                whole(times)
            value = phased(x, y, times)
            if not i % 2:
                value = whole(times)
            sums.append(sum(times[p][-1] for p in PHASES))
    finally:
        elapsed = clock() - t_start
        gc.enable()
        gc.unfreeze()
    final_loss = float(value)
    per_phase = {}
    for k, v in times.items():
        us = sorted(s * 1e6 for s in v)
        per_phase[k] = {"median_us": quantile(us, 0.5), "q1_us": quantile(us, 0.25)}
        per_phase[k]["q3_us"] = quantile(us, 0.75)
    return {
        "status": "ok",
        "steps": steps,
        "warmup_steps": len(warm["train_step"]),
        "timed_s": elapsed,
        "phases": per_phase,
        "phased_sum_median_us": statistics.median(sums) * 1e6,
        "clock_overhead_us": clock_overhead_us(),
        "final_loss": final_loss,
        "finite": math.isfinite(final_loss),
    }


def summarize_phases(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """One implementation: per phase (and ``train_step``) the median over repetitions of the
    per-worker medians and their range, the sum of the phase medians, the trainer overhead,
    each phase's share of ``train_step``, and the guard's share per repetition."""
    ok = ok_reps(reps)
    if not ok:
        return failed_summary(reps)
    med = {k: statistics.median(r["phases"][k]["median_us"] for r in ok) for k in TIMED}
    lo = {k: min(r["phases"][k]["median_us"] for r in ok) for k in TIMED}
    hi = {k: max(r["phases"][k]["median_us"] for r in ok) for k in TIMED}
    step = med["train_step"]
    total = sum(med[p] for p in PHASES)
    guard_by_rep = [
        r["phases"]["guard"]["median_us"] / r["phases"]["train_step"]["median_us"] for r in ok
    ]
    return {
        "status": "ok",
        "reps": len(ok),
        "median_us": med,
        "rep_min_us": lo,
        "rep_max_us": hi,
        "share": {k: v / step for k, v in med.items()},
        "phases_sum_us": total,
        "overhead_us": step - total,
        "phased_sum_median_us": statistics.median(r["phased_sum_median_us"] for r in ok),
        "clock_overhead_us": statistics.median(r["clock_overhead_us"] for r in ok),
        "guard_share_by_rep": guard_by_rep,
        "guard_share": statistics.median(guard_by_rep),
        "all_finite": all(r.get("finite", True) for r in ok),
    }


def median_ci(values: list[float], resamples: int, seed: int) -> list[float] | None:
    """Percentile 95% bootstrap interval of the median of ``values`` (the repetitions),
    or None with fewer than 3 of them."""
    if len(values) < 3:
        return None
    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples))
    return [quantile(meds, 0.025), quantile(meds, 0.975)]


def analyze_phases(
    per_impl: dict[str, list[dict[str, Any]]], resamples: int, seed: int
) -> dict[str, Any]:
    """Per implementation ``summarize_phases``, with a bootstrap interval (over repetitions)
    of the guard's share of the step when there are 3 or more repetitions."""
    summary = {impl: summarize_phases(reps) for impl, reps in per_impl.items()}
    for s in summary.values():
        if s["status"] == "ok":
            s["guard_share_ci"] = median_ci(s["guard_share_by_rep"], resamples, seed)
    return {"summary": summary, "impls": [i for i in PHASE_IMPLS if i in summary]}
