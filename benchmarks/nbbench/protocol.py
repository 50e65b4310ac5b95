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
TOP_PAD = "MALLOC_TOP_PAD_"  # glibc: bytes kept at the top of the heap when it trims
RESULT_MARK = "SUITE-RESULT "


def worker_env(
    threads: int, unset_coretype: bool, malloc_top_pad: int | None = None
) -> dict[str, str]:
    """The workers' environment: ours, thread counts pinned, maybe without the coretype,
    maybe with glibc's ``MALLOC_TOP_PAD_`` set. (The driver's own environment is never
    changed.)"""
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    if unset_coretype:
        env.pop(CORETYPE, None)
    if malloc_top_pad is not None:
        env[TOP_PAD] = str(malloc_top_pad)
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
