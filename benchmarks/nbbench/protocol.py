"""How the driver and a worker talk: the worker is ``suite.py _worker SPEC_JSON`` in a
fresh process with the thread variables pinned; it answers with one marked JSON line on
stdout (anything else it prints is ignored)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SUITE = Path(__file__).resolve().parents[1] / "suite.py"
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
CORETYPE = "OPENBLAS_CORETYPE"
#: glibc's environment equivalent of ``neuroback.keep_freed_memory()`` (its defaults)
KEEP_FREED_MEMORY = {
    "MALLOC_MMAP_THRESHOLD_": str(32 * 1024 * 1024),
    "MALLOC_TRIM_THRESHOLD_": str(256 * 1024 * 1024),
}
RESULT_MARK = "SUITE-RESULT "
#: ``neuroback.warm_blas()``'s switch: every worker warms NumPy's BLAS before building its
#: implementation unless it is off (``--cold-blas``)
WARM_BLAS_SWITCH = "NEUROBACK_WARM_BLAS"


def worker_env(
    threads: int, unset_coretype: bool, keep_freed_memory: bool = False, cold_blas: bool = False
) -> dict[str, str]:
    """The workers' environment: ours, thread counts pinned, maybe without the coretype,
    maybe with glibc's thresholds set as ``neuroback.keep_freed_memory()`` sets them, and
    with ``NEUROBACK_WARM_BLAS=0`` for a cold-BLAS run (``--cold-blas``: no worker warms
    NumPy's BLAS, neuroback's Trainer included). (The driver's own environment is never
    changed.)"""
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    if unset_coretype:
        env.pop(CORETYPE, None)
    if keep_freed_memory:
        env.update(KEEP_FREED_MEMORY)
    if cold_blas:
        env[WARM_BLAS_SWITCH] = "0"
    return env


def spawn(spec: dict[str, Any], env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Run one worker; its result, or ``{"status": "error", ...}`` if it gave none."""
    cmd = [sys.executable, str(SUITE), "_worker", json.dumps(spec)]
    try:
        proc = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"status": "error", "reason": f"worker timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-20:] or ["(no output)"]
    return {
        "status": "error",
        "reason": f"worker exit {proc.returncode}: {tail[-1].strip()}",
        "output_tail": tail,
    }


def write_result(result: dict[str, Any]) -> None:
    """The worker's answer, as ``spawn`` reads it."""
    sys.stdout.write(RESULT_MARK + json.dumps(result) + "\n")
