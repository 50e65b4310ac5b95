"""The cells the console output and RESULTS.md share: number formats, the per-size
table, confidence intervals, and the BLAS / coretype / torch lines."""

from __future__ import annotations

import os
from typing import Any

from .protocol import CORETYPE
from .sizes import CNN_SIZES, IMPLS, SIZES

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


def fmt_us(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:,.0f}" if v >= 1000 else f"{v:.1f}"


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "n/a"
    return f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


def size_title(size: str) -> str:
    if size in CNN_SIZES:
        _, shape, title = CNN_SIZES[size]
        return f"{size}: {title}, batch {shape[0]}, softmax cross-entropy"
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


def size_rows(res: dict[str, Any], missing: dict[str, str]) -> list[list[str]]:
    """``table_rows``, then one row per implementation that could not run here."""
    return table_rows(res) + [
        [impl, f"missing: {why}", "", "", "", "", "", ""] for impl, why in missing.items()
    ]


def interval_text(d: dict[str, Any]) -> str:
    """``ratio [lo, hi]`` of a CI (or of a target row, which carries the same keys)."""
    return f"{d['ratio']:.3f}x [{d['lo']:.3f}, {d['hi']:.3f}]"


def ci_text(key: str, ci: dict[str, Any]) -> str:
    return f"{key} = {interval_text(ci)}"


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


def torch_text(m: dict[str, Any]) -> str:
    if not m.get("torch"):
        return "not installed"
    return (
        f"mkl={m.get('torch_mkl')}, mkldnn={m.get('torch_mkldnn')}, "
        f"num_threads={m.get('torch_num_threads')}, interop={m.get('torch_num_interop_threads')}"
    )
