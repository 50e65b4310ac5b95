"""The like-for-like check's results, as the driver and ``report`` read them: the
compared pairs, where neuroback and its NumPy twin disagree, and their text. (The check
itself, ``prepare.check_size``, runs in the preparation worker.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .sizes import CHECK_GROUPS, CHECK_TOLERANCE


def check_pairs(check: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(neuroback row, other row, its differences or ``{"missing": why}``) of one size."""
    for ours in CHECK_GROUPS:
        for other, d in check.get(ours, {}).items():
            if isinstance(d, dict):
                yield ours, other, d


def check_failures(checks: dict[str, Any]) -> list[str]:
    """Where neuroback and its hand-written NumPy twin disagree beyond the tolerance."""
    bad = []
    for size, c in checks.items():
        for ours, others in CHECK_GROUPS.items():
            base = others[0]
            d = c.get(ours, {}).get(base)
            if d and d.get("weights_max_abs_diff", 0.0) > CHECK_TOLERANCE:
                bad.append(f"{size} {ours} vs {base}: {d['weights_max_abs_diff']:.3g}")
    return bad


def check_steps(checks: dict[str, Any]) -> int:
    """How many steps the check ran (the same for every size)."""
    return next(iter(checks.values()))["steps"]


def check_pair_text(d: dict[str, Any]) -> str:
    return f"{d['loss_max_abs_diff']:.2g} / {d['weights_max_abs_diff']:.2g}"
