"""The cells the console output and RESULTS.md share for the phase profile and the fit-epoch
share: the per-phase table of a size, its notes (the guard's share among them), the fit
share table, their two targets, and the heading (and link anchor) of a phase table."""

from __future__ import annotations

import re
from typing import Any

from .fitshare import VARIANTS
from .sizes import FIT_SHARE_TARGET, GUARD_TARGET, PHASE_IMPLS, PHASES
from .tables import fmt_us

#: the rows of a phase table: the phases, then the totals
PHASE_TABLE_ROWS = (*PHASES, "sum of phases", "train_step", "trainer overhead")


def run_label(run: dict[str, Any]) -> str:
    """How a run's sections are titled: its thread count, whether the workers kept freed
    memory (``--keep-freed-memory``) and whether they left NumPy's BLAS cold
    (``--cold-blas``)."""
    kept = ", freed memory kept" if run["config"].get("malloc") else ""
    cold = ", BLAS cold" if run["config"].get("cold_blas") else ""
    return f"{run['threads']} thread(s){kept}{cold}"


def phase_heading(size: str, label: str) -> str:
    return f"Phase profile: {size}, {label}"


def anchor(heading: str) -> str:
    """The link anchor GitHub gives a markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def phase_headers(res: dict[str, Any]) -> list[str]:
    return ["phase"] + [c for impl in res["impls"] for c in (f"{impl} µs", "% of step")]


def phase_value(s: dict[str, Any], row: str) -> float:
    if row == "sum of phases":
        return s["phases_sum_us"]
    if row == "trainer overhead":
        return s["overhead_us"]
    return s["median_us"][row]


def phase_rows(res: dict[str, Any]) -> list[list[str]]:
    """One row per phase and total; per profiled implementation its median µs (over
    repetitions) and its share of the ``train_step`` median."""
    rows = []
    for row in PHASE_TABLE_ROWS:
        cells = [row]
        for impl in res["impls"]:
            s = res["summary"][impl]
            if s["status"] != "ok":
                cells += ["-", "-"]
                continue
            v = phase_value(s, row)
            cells += [fmt_us(v), f"{100 * v / s['median_us']['train_step']:.1f}%"]
        rows.append(cells)
    return rows


def pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def guard_text(impl: str, s: dict[str, Any]) -> str:
    """The guard's share of the step: the median over repetitions of guard/train_step, with
    its bootstrap interval (3+ repetitions) or its range."""
    text = f"{impl} {pct(s['guard_share'])}"
    ci = s.get("guard_share_ci")
    if ci:
        return text + f" [{pct(ci[0])}, {pct(ci[1])}]"
    by_rep = s["guard_share_by_rep"]
    return text + (f" (reps {pct(min(by_rep))}–{pct(max(by_rep))})" if len(by_rep) > 1 else "")


def phase_notes(res: dict[str, Any]) -> list[str]:
    """The guard's share of the step, the per-repetition spread, the clock overhead,
    non-finite losses and failures, one line each."""
    notes, ok = [], {}
    for impl in res["impls"]:
        s = res["summary"][impl]
        if s["status"] != "ok":
            notes.append(f"{impl}: {s['status']}: {s.get('reason')}")
            continue
        ok[impl] = s
        if not s["all_finite"]:
            notes.append(f"{impl}: non-finite loss at the end: these times are not a valid step")
    if ok:
        notes.insert(0, "non-finite guard: " + ", ".join(guard_text(i, s) for i, s in ok.items()))
        notes.append(
            "trainer overhead = train_step - sum of phases (medians do not add: it can be "
            "slightly negative within noise); each phase also carries one clock read, "
            + ", ".join(f"{s['clock_overhead_us'] * 1e3:.0f} ns" for s in ok.values())
            + f"; repetitions: {', '.join(str(s['reps']) for s in ok.values())}"
        )
    return notes


FIT_HEADERS = ["fit epoch", "fit ms", "train_step ms", "outside train_step", "reps min–max"]


def fit_share_title(res: dict[str, Any]) -> str:
    if res.get("status") != "ok":
        return "fit epoch outside train_step (digits)"
    return (
        f"fit epoch outside train_step: digits ({res['n']} images, one-hot targets), "
        f"MLP 64-128-10, softmax cross-entropy, Adam, batch {res['batch_size']} "
        f"({res['batches']} batches), median of {res['epochs']} epoch(s) per worker"
    )


def fit_share_rows(res: dict[str, Any]) -> list[list[str]]:
    if res.get("status") != "ok":
        return [["(not measured)", f"{res.get('status')}: {res.get('reason')}", "", "", ""]]
    rows = []
    for v in VARIANTS:
        lo, hi = res["share_min"][v], res["share_max"][v]
        rows.append(
            [
                f"fit, {v}" + ("" if res["all_finite"] else " (!non-finite loss)"),
                f"{res['epoch_ms'][v]:.2f}",
                f"{res['epoch_ms']['train_step']:.2f}",
                pct(res["share"][v]),
                f"{pct(lo)}–{pct(hi)}",
            ]
        )
    return rows


def guard_target(run: dict[str, Any]) -> dict[str, Any]:
    size, bound = GUARD_TARGET
    row: dict[str, Any] = {"target": f"non-finite guard <= {bound:.0%} of a {size} step"}
    row.update(size=size, bound=bound)
    phases = run.get("sizes", {}).get(size, {}).get("phases")
    if phases is None:
        why = f"{size} not run" if size not in run.get("sizes", {}) else "phases not profiled"
        return {**row, "status": "unmeasured", "why": why}
    ok = {i: s for i, s in phases["summary"].items() if s["status"] == "ok"}
    if not ok:
        return {**row, "status": "unmeasured", "why": "the phase profile failed"}
    met = all(s["guard_share"] <= bound for s in ok.values())
    notes = ["judged on the median over repetitions"]
    notes += [f"{i} not profiled" for i in PHASE_IMPLS if i not in ok]
    measured = ", ".join(guard_text(i, s) for i, s in ok.items())
    return {
        **row,
        "status": "met" if met else "not met",
        "measured": measured,
        "why": "; ".join(notes),
    }


def fit_share_target(run: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "target": f"a fit epoch on digits spends < {FIT_SHARE_TARGET:.0%} outside train_step "
        "(data pipeline and callbacks)",
        "bound": FIT_SHARE_TARGET,
    }
    res = run.get("fit_share")
    if res is None:
        return {**row, "status": "unmeasured", "why": "not run"}
    if res.get("status") != "ok":
        return {**row, "status": "unmeasured", "why": f"{res.get('status')}: {res.get('reason')}"}
    measured = ", ".join(f"{v} {pct(res['share'][v])}" for v in VARIANTS)
    return {
        **row,
        "status": "met" if res["met"] else "not met",
        "measured": measured,
        "why": f"judged on the median over {res['repetitions']} repetition(s), every variant",
    }


def profile_targets(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The guard and fit-share targets (judged on medians, not on a CI); nothing when the
    run had neither (an older JSON)."""
    if not any("phases" in s for s in run.get("sizes", {}).values()) and "fit_share" not in run:
        return []
    return [guard_target(run), fit_share_target(run)]
