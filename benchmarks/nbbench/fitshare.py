"""The share of a ``fit`` epoch spent outside ``train_step`` (job ``fit-share``): on the
digits, how much of ``trainer.fit(x, y, epochs=1, batch_size=32)`` is the data pipeline
(intake, shuffling, batch gathers), the per-batch bookkeeping (loss sums, log reads) and
the callbacks. ``fit_share`` runs in a worker; ``analyze_fit_share`` summarises on the
driver's side (plain Python).

Per worker: the digits (all 1797 images, pixels scaled to [0, 1], float32, one-hot float32
targets) and ``digits``' 64-128-10 model (softmax cross-entropy, Adam), twice: one Trainer
without callbacks, one with ``ProgressBar(file=os.devnull)``. After one untimed round, each
of ``epochs`` rounds times a fit epoch of each, and a *step epoch*: ``train_step`` on as many
batches of the same sizes as a fit epoch has, gathered beforehand from a fresh permutation of
the Trainer-prepared arrays (as ``fit``'s loader gathers them), each call timed and summed.
share = 1 - median(step epoch) / median(fit epoch). The garbage collector stays enabled
(as in a user's ``fit``), frozen after the set-up.
"""

from __future__ import annotations

import gc
import math
import os
import statistics
import time
from typing import Any

from .digits import digits_data, digits_trainer
from .sizes import DIGITS_BATCH, FIT_SHARE_TARGET
from .stats import failed_summary, ok_reps

VARIANTS = ("no callbacks", "ProgressBar")


def fit_share(ts: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """Worker job ``fit-share``: fit-epoch and step-epoch times, ``spec["epochs"]`` each."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        return {"status": "missing", "reason": f"scikit-learn is not importable: {exc}"}
    np, nb, seed = ts.np, ts.nb, spec["seed"]
    x, labels = digits_data(np, load_digits)
    y = np.eye(10, dtype=np.float32)[labels]
    sink = open(os.devnull, "w")  # noqa: SIM115 - lives as long as this worker
    trainers = {
        "no callbacks": digits_trainer(nb, seed),
        "ProgressBar": digits_trainer(nb, seed, callbacks=[nb.callbacks.ProgressBar(file=sink)]),
    }
    plain = trainers["no callbacks"]
    xa, ya = plain.prepare(x, y)
    n, b = int(x.shape[0]), DIGITS_BATCH
    order_rng = np.random.default_rng(seed)
    clock = time.perf_counter
    losses: list[float] = []

    def fit_epoch(trainer: Any) -> float:
        t0 = clock()
        history = trainer.fit(x, y, epochs=1, batch_size=b)
        elapsed = clock() - t0
        losses.append(history["loss"][-1])
        return elapsed

    def step_epoch() -> float:
        order = order_rng.permutation(n)
        batches = [(xa[order[i : i + b]], ya[order[i : i + b]]) for i in range(0, n, b)]
        total = 0.0
        with plain.loop():  # as fit does: installed once per run
            for xb, yb in batches:
                t0 = clock()
                plain.train_step(xb, yb)
                total += clock() - t0
        return total

    times: dict[str, list[float]] = {v: [] for v in (*VARIANTS, "train_step")}
    gc.collect()
    gc.freeze()
    try:
        for r in range(spec["epochs"] + 1):  # the first round is the warm-up
            fits = {v: fit_epoch(trainers[v]) for v in VARIANTS}
            steps = step_epoch()
            if r:
                for v in VARIANTS:
                    times[v].append(fits[v])
                times["train_step"].append(steps)
    finally:
        gc.unfreeze()
        sink.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "status": "ok",
        "n": n,
        "batch_size": b,
        "batches": math.ceil(n / b),
        "epochs": spec["epochs"],
        "epoch_s": times,
        "median_s": med,
        "share": {v: 1 - med["train_step"] / med[v] for v in VARIANTS},
        "final_loss": float(losses[-1]),
        "finite": all(math.isfinite(float(v)) for v in losses),
    }


def analyze_fit_share(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """Median over repetitions of each variant's share outside ``train_step`` and of the
    epoch times, the range of the shares, and the target (every variant below the bound,
    judged on the median)."""
    ok = ok_reps(reps)
    if not ok:
        return failed_summary(reps)
    share = {v: statistics.median(r["share"][v] for r in ok) for v in VARIANTS}
    return {
        "status": "ok",
        "repetitions": len(ok),
        "batches": ok[0]["batches"],
        "n": ok[0]["n"],
        "batch_size": ok[0]["batch_size"],
        "epochs": ok[0]["epochs"],
        "share": share,
        "share_min": {v: min(r["share"][v] for r in ok) for v in VARIANTS},
        "share_max": {v: max(r["share"][v] for r in ok) for v in VARIANTS},
        "epoch_ms": {
            k: statistics.median(r["median_s"][k] for r in ok) * 1e3
            for k in (*VARIANTS, "train_step")
        },
        "bound": FIT_SHARE_TARGET,
        "met": all(s < FIT_SHARE_TARGET for s in share.values()),
        "all_finite": all(r.get("finite", True) for r in ok),
    }
