"""The statistics, in plain Python (the driver and ``report`` never import NumPy):
per-implementation summaries over repetitions, ratios of medians, a paired hierarchical
bootstrap of those ratios, and the targets evaluated on its intervals."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable
from typing import Any

from .sizes import CI_PAIRS, CNN_SIZES, CNN_TARGETS, IMPLS, TARGETS


def quantile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (NumPy's default)."""
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def ok_reps(reps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The workers' results that succeeded."""
    return [r for r in reps if r.get("status") == "ok"]


def failed_summary(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary of an implementation none of whose workers succeeded: the first's why."""
    first = reps[0] if reps else {}
    return {"status": first.get("status", "missing"), "reason": first.get("reason")}


def per_rep(
    reps: list[dict[str, Any]], values: Callable[[dict[str, Any]], list[float] | None]
) -> dict[int, list[float]]:
    """repetition -> ``values(result)`` of the successful results (None: left out)."""
    out = {}
    for r in ok_reps(reps):
        v = values(r)
        if v is not None:
            out[r["rep"]] = v
    return out


def summarize_impl(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """Median over repetitions of the per-worker medians, their range, the pooled step
    IQR, the tracemalloc peak and the ΔmaxRSS of one implementation at one size."""
    ok = ok_reps(reps)
    if not ok:
        return failed_summary(reps)
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
    """Summaries, ratios to each row's baseline and torch reference, and the CIs."""
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
        samples_a = per_rep(per_impl[a], lambda r: r["samples_us"])
        samples_b = per_rep(per_impl[b], lambda r: r["samples_us"])
        ci = bootstrap_ratio_ci(samples_a, samples_b, resamples, seed)
        if ci is not None:
            cis[f"{a}/{b}"] = ci
    return {"summary": summary, "ratios": ratios, "ci": cis}


def evaluate_targets(run: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target met (the whole CI inside), not met, or unmeasured (and why); the CNN
    targets only in a run that includes a CNN case."""
    out = []
    with_cnn = any(s in CNN_SIZES for s in run.get("config", {}).get("sizes", {}))
    for ours, ref, size, bound, strict in TARGETS + (CNN_TARGETS if with_cnn else []):
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
