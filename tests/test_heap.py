"""keep_freed_memory: glibc keeps freed arrays for the next step (no page faults), and
refuses nothing silently."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import neuroback as nb
from neuroback.heap import MAX_MMAP_THRESHOLD

GLIBC = hasattr(os, "confstr") and os.confstr("CS_GNU_LIBC_VERSION") is not None

# A step's worth of churn: twenty 1 MiB arrays allocated, then all freed. With glibc's
# defaults the freed top of the heap (20 MiB, above twice the 1 MiB dynamic threshold)
# goes back to the OS and the next round faults in every page again.
CHURN = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    import neuroback as nb
    if sys.argv[1] == "keep":
        assert nb.keep_freed_memory()
    def rounds(n):
        for _ in range(n):
            arrays = [np.ones(1 << 18, np.float32) for _ in range(20)]
            del arrays
    rounds(3)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    rounds(10)
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
    """
)


def faults_per_round(mode: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", CHURN, mode], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's")
def test_kept_memory_is_not_faulted_in_again() -> None:
    released, kept = faults_per_round("default"), faults_per_round("keep")
    # 20 MiB re-faulted is 5120 pages; kept, only the interpreter's own small churn
    assert released > 2000, released
    assert kept < 200, kept


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mmap_threshold": MAX_MMAP_THRESHOLD + 1},
        {"mmap_threshold": -1},
        {"trim_threshold": 2**31},
        {"trim_threshold": 1.5},
        {"mmap_threshold": True},
    ],
)
def test_a_threshold_glibc_would_refuse_is_an_error(kwargs: dict) -> None:
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=f"{name} must be an integer number of bytes"):
        nb.keep_freed_memory(**kwargs)


@pytest.mark.skipif(GLIBC, reason="on glibc it applies")
def test_elsewhere_it_changes_nothing() -> None:
    assert nb.keep_freed_memory() is False
