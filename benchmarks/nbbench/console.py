"""What the driver prints while it runs: the machine, the check, one table per size with
its phase profile and memory, the fit-epoch share, the digits table and the targets."""

from __future__ import annotations

from typing import Any

from .checks import check_pairs, check_steps
from .digits import DIGITS_HEADERS, digits_rows, digits_title
from .memory import MEMORY_HEADERS, memory_note, memory_rows, memory_title
from .profile_tables import (
    FIT_HEADERS,
    fit_share_rows,
    fit_share_title,
    phase_headers,
    phase_notes,
    phase_rows,
)
from .protocol import THREAD_VARS
from .tables import HEADERS, blas_text, ci_text, coretype_text, interval_text, size_rows, size_title


def print_rows(rows: list[list[str]]) -> None:
    """A text table: first column left-aligned, the others right-aligned; a row whose
    third cell is empty (missing, error) prints its second cell as free text."""
    data = [r for r in rows if r[2]]
    widths = [max(len(r[i]) for r in (rows if i == 0 else data)) for i in range(len(rows[0]))]
    for row in rows:
        if not row[2]:
            print(f"  {row[0]:<{widths[0]}}  {row[1]}")
            continue
        cells = [f"{row[0]:<{widths[0]}}"]
        cells += [f"{c:>{w}}" for c, w in zip(row[1:], widths[1:], strict=True)]
        print("  " + "  ".join(cells))


def print_machine(run: dict[str, Any]) -> None:
    m = run["machine"]
    print(f"machine  : {m['platform']} | {m['cpu']} | {m['cpu_count']} logical CPUs")
    print(f"           CPU flags: {' '.join(m.get('cpu_flags', [])) or '?'}")
    print(
        f"versions : python {m['python']}  numpy {m['numpy']}  neuroback {m['neuroback']}  "
        f"torch {m['torch'] or 'not installed'}"
    )
    print(f"BLAS     : {blas_text(m)}")
    print(
        f"threads  : {run['threads']} per worker ({', '.join(THREAD_VARS)}, threadpoolctl, torch)"
    )
    print(f"coretype : {coretype_text(run)}")
    print(
        "blas     : "
        + (
            "cold (NEUROBACK_WARM_BLAS=0 in every worker)"
            if run["config"].get("cold_blas")
            else "warmed in every worker before its implementation is built (neuroback.warm_blas())"
        )
    )
    if run["config"].get("malloc"):
        shown = " ".join(f"{k}={v}" for k, v in run["config"]["malloc"].items())
        print(f"malloc   : {shown} in every worker (neuroback.keep_freed_memory())")


def print_checks(checks: dict[str, Any]) -> None:
    if not checks:
        print("check    : skipped (--check-steps 0)")
        return
    print(
        f"check    : {check_steps(checks)} step(s) from identical weights, "
        "max |difference| vs neuroback"
    )
    for size, c in checks.items():
        parts = [
            f"{other} {d['weights_max_abs_diff']:.2g}"
            for _ours, other, d in check_pairs(c)
            if "weights_max_abs_diff" in d
        ]
        print(f"  {size:<7}: weights " + ", ".join(parts))


def print_size(size: str, res: dict[str, Any], threads: int, missing: dict[str, str]) -> None:
    print(f"\n{size_title(size)}, {threads} thread(s)")
    print_rows([HEADERS, *size_rows(res, missing)])
    print("  (* numpy for SGD rows and floor, numpy-adam for Adam rows; torch / torch-adam)")
    if res["ci"]:
        print("  bootstrap 95% CI of the ratio of medians:")
        for key, ci in res["ci"].items():
            print(f"    {ci_text(key, ci)}  ({ci['reps']} rep(s))")


def print_phases(size: str, res: dict[str, Any], threads: int) -> None:
    print(f"\n{size}: phases of neuroback's step (median µs, % of train_step), {threads} thread(s)")
    print_rows([phase_headers(res), *phase_rows(res)])
    for note in phase_notes(res):
        print(f"  {note}")


def print_memory(size: str, res: dict[str, Any], threads: int) -> None:
    print(f"\n{memory_title(size, res, f'{threads} thread(s)')}")
    print_rows([MEMORY_HEADERS, *memory_rows(res)])
    print(f"  {memory_note(size)}")


def print_fit_share(res: dict[str, Any], threads: int) -> None:
    print(f"\n{fit_share_title(res)}, {threads} thread(s)")
    print_rows([FIT_HEADERS, *fit_share_rows(res)])


def print_digits(res: dict[str, Any], threads: int) -> None:
    print(f"\n{digits_title(res['config'])}, {threads} thread(s)")
    print_rows([DIGITS_HEADERS, *digits_rows(res)])
    if res["ci"]:
        print("  bootstrap 95% CI: " + ci_text("nb-digits/sklearn-mlp", res["ci"]))


def print_targets(run: dict[str, Any]) -> None:
    print(
        f"\ntargets ({run['threads']} thread(s); ratios: met only when the 95% CI lies inside; "
        "guard, fit share, memory: judged on the median)"
    )
    for t in run["targets"]:
        if t["status"] == "unmeasured":
            detail = t.get("why", "")
        else:
            detail = t.get("measured") or interval_text(t)
            if t.get("why"):
                detail += f"  {t['why']}"
        print(f"  {t['status']:<10} {t['target']:<48} {detail}")
