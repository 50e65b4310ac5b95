"""The GPU check in one command: the CuPy test suite, then neuroback on CuPy against
PyTorch on CUDA, written up as a short markdown report.

    python benchmarks/gpu.py                        # on a machine with a GPU and CuPy
    python benchmarks/gpu.py --out GPU_RESULTS.md   # where the report goes
    python benchmarks/gpu.py --backend numpy --quick   # the same script on the CPU (smoke test)

What it does, in order:

1. **Finds the device.** CuPy, its CUDA runtime and the device's name; without CuPy or a
   GPU it writes a report that says the GPU path is unmeasured and exits 0 (``--backend
   numpy`` runs everything below on the CPU instead, to check the script itself).
2. **Runs the CuPy tests**: ``pytest --nb-backends=<backend>`` over ``tests/`` (every test
   that takes the ``nb_backend`` fixture runs on the device, the fused kernels are compared
   with their references by the conformance kit); the report keeps pytest's summary line.
3. **Times training steps**: ``Trainer.train_step`` (MSE, SGD and Adam) at the suite's MLP
   sizes plus ``xl`` (1024-4096-4096-1024, batch 1024), and the two CNN cases (softmax
   cross-entropy, Adam); PyTorch on CUDA with the same layers and initial weights where
   torch with CUDA is installed. A timing is ``--steps`` steps between two device
   synchronisations (``Backend.synchronize``, ``torch.cuda.synchronize``), the median of
   ``--reps`` such blocks after warm-up; float32 throughout.

The numbers are measurements, not tests: nothing here passes or fails on timing.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nbbench.sizes import ADAM_LR, CNN_CLASSES, CNN_SIZES, SGD_LR, SIZES

import neuroback as nb

ROOT = Path(__file__).resolve().parents[1]
#: the suite's MLP sizes plus one that fills a GPU
GPU_SIZES: dict[str, tuple[list[int], int]] = {**SIZES, "xl": ([1024, 4096, 4096, 1024], 1024)}


def device_info(backend: str) -> dict[str, Any]:
    """What the report's header says about the device (``available`` False: no device)."""
    if backend != "cupy":
        return {"available": True, "name": f"CPU ({platform.processor() or platform.machine()})"}
    try:
        import cupy

        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as exc:  # no CuPy, no driver, no device
        return {"available": False, "why": f"{type(exc).__name__}: {exc}"}
    if count < 1:
        return {"available": False, "why": "CuPy sees no CUDA device"}
    props = cupy.cuda.runtime.getDeviceProperties(0)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    return {
        "available": True,
        "name": name,
        "cupy": cupy.__version__,
        "cuda_runtime": int(cupy.cuda.runtime.runtimeGetVersion()),
    }


def run_tests(backend: str, timeout: float) -> str:
    """pytest over tests/ with ``--nb-backends=backend``; its last summary line."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    cmd += [f"--nb-backends={backend}", "-k", "not slow"]
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:g} s"
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    return f"exit {proc.returncode}: {lines[-1] if lines else proc.stderr[-500:]}"


def _mlp(sizes: list[int]) -> nb.Sequential:
    layers: list[nb.Layer] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nb.layers.Dense(n_in, n_out, dtype="float32"))
        if i < len(sizes) - 2:
            layers.append(nb.layers.ReLU())
    return nb.Sequential(*layers)


def _cnn(size: str) -> nb.Sequential:
    return nb.Sequential(*(getattr(nb.layers, kind)(**cfg) for kind, cfg in CNN_SIZES[size][0]))


def _data(size: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if size in CNN_SIZES:
        shape = CNN_SIZES[size][1]
        x = rng.standard_normal(shape, dtype=np.float32)
        return x, rng.integers(0, CNN_CLASSES, size=shape[0]).astype(np.int64)
    widths, batch = GPU_SIZES[size]
    x = rng.standard_normal((batch, widths[0]), dtype=np.float32)
    return x, rng.standard_normal((batch, widths[-1]), dtype=np.float32)


def nb_step(backend: str, size: str, adam: bool, seed: int) -> tuple[Callable[[], Any], Any]:
    """One ``train_step`` of neuroback on ``backend`` (its Ctrl-C deferral entered once, as
    ``fit`` does), and the Trainer's backend (for its ``synchronize``)."""
    with nb.use_backend(backend):
        nb.seed(seed)
        cnn = size in CNN_SIZES
        model = _cnn(size) if cnn else _mlp(GPU_SIZES[size][0])
        opt = nb.optimizers.Adam(lr=ADAM_LR) if adam else nb.optimizers.SGD(lr=SGD_LR)
        loss = nb.losses.SoftmaxCrossEntropy() if cnn else nb.losses.MSE()
        trainer = nb.Trainer(model, loss, opt, seed=seed)
    x, y = trainer.prepare(*_data(size, seed))
    trainer.loop().__enter__()  # held for the rest of this process
    return (lambda: trainer.train_step(x, y)), trainer.backend


def torch_step(size: str, adam: bool, seed: int) -> tuple[Callable[[], Any], Callable[[], None]]:
    """The same step in PyTorch on CUDA, from neuroback's initial weights (raises
    ImportError/RuntimeError where torch or CUDA is missing)."""
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError("torch sees no CUDA device")
    from nbbench.cnn import torch_module

    nb.seed(seed)
    cnn = size in CNN_SIZES
    nb_model = _cnn(size) if cnn else _mlp(GPU_SIZES[size][0])
    if cnn:
        model = torch.nn.Sequential(*(torch_module(torch, k, c) for k, c in CNN_SIZES[size][0]))
    else:
        widths = GPU_SIZES[size][0]
        mods: list[Any] = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
            mods.append(torch.nn.Linear(n_in, n_out))
            if i < len(widths) - 2:
                mods.append(torch.nn.ReLU())
        model = torch.nn.Sequential(*mods)
    state = nb.to_torch_state_dict(nb_model)
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    model = model.cuda().train()
    opt = (
        torch.optim.Adam(model.parameters(), lr=ADAM_LR)
        if adam
        else torch.optim.SGD(model.parameters(), lr=SGD_LR)
    )
    loss_fn = torch.nn.CrossEntropyLoss() if cnn else torch.nn.MSELoss()
    x, y = (torch.from_numpy(a).cuda() for a in _data(size, seed))

    def step() -> None:
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()

    return step, torch.cuda.synchronize


def time_step(step: Callable[[], Any], sync: Callable[[], None], steps: int, reps: int) -> float:
    """Median µs per step: ``reps`` blocks of ``steps`` steps, each between two
    synchronisations of the device, after a warm-up block."""
    for _ in range(max(steps // 2, 3)):
        step()
    sync()
    blocks = []
    for _ in range(reps):
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        blocks.append((time.perf_counter() - start) / steps * 1e6)
    return statistics.median(blocks)


def benchmark(args: argparse.Namespace) -> list[list[str]]:
    rows = []
    for size in args.sizes:
        for adam in (False, True) if size not in CNN_SIZES else (True,):
            opt = "Adam" if adam else "SGD"
            step, backend = nb_step(args.backend, size, adam, args.seed)
            ours = time_step(step, backend.synchronize, args.steps, args.reps)
            try:
                t_step, t_sync = torch_step(size, adam, args.seed)
                theirs: float | None = time_step(t_step, t_sync, args.steps, args.reps)
                note = ""
            except (ImportError, RuntimeError) as exc:
                theirs, note = None, f"PyTorch: {type(exc).__name__}: {exc}"
            ratio = f"{ours / theirs:.2f}x" if theirs else "-"
            shown = f"{theirs:,.1f}" if theirs else "-"
            rows.append([size, opt, f"{ours:,.1f}", shown, ratio, note])
            print(f"{size:10s} {opt:4s} neuroback {ours:10.1f} us   torch {shown:>10s}   {ratio}")
    return rows


def report(info: dict[str, Any], tests: str | None, rows: list[list[str]], args: Any) -> str:
    lines = ["# GPU results", "", f"Generated by `python benchmarks/gpu.py` on {time.ctime()}."]
    if not info["available"]:
        return "\n".join(
            [*lines, "", f"**GPU path: unmeasured.** No GPU here ({info['why']}).", ""]
        )
    lines += ["", "| | |", "|---|---|", f"| device | {info['name']} |"]
    for key in ("cupy", "cuda_runtime"):
        if key in info:
            lines.append(f"| {key} | {info[key]} |")
    lines += [f"| backend | `{args.backend}` |", f"| neuroback | {nb.__version__} |", ""]
    lines += [f"Tests (`pytest --nb-backends={args.backend}`): {tests or 'not run'}", ""]
    lines += [
        f"Median µs per training step over {args.reps} blocks of {args.steps} steps "
        "between device synchronisations, float32:",
        "",
        "| size | optimizer | neuroback µs | PyTorch µs | neuroback / PyTorch | note |",
        "|---|---|---|---|---|---|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", default="cupy", help="cupy (default) or numpy (a smoke test)")
    p.add_argument("--sizes", default=",".join([*GPU_SIZES, *CNN_SIZES]))
    p.add_argument("--steps", type=int, default=50, help="steps per timed block")
    p.add_argument("--reps", type=int, default=5, help="timed blocks per case")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-tests", action="store_true", help="skip the test suite")
    p.add_argument("--test-timeout", type=float, default=1800.0)
    p.add_argument("--quick", action="store_true", help="tiny and small, 5 steps, 2 blocks")
    p.add_argument("--out", default="GPU_RESULTS.md", help="where the report is written")
    args = p.parse_args(argv)
    args.sizes = [s for s in args.sizes.split(",") if s]
    unknown = [s for s in args.sizes if s not in GPU_SIZES and s not in CNN_SIZES]
    if unknown:
        p.error(f"unknown sizes {unknown}; choose from {[*GPU_SIZES, *CNN_SIZES]}")
    if args.quick:
        args.sizes, args.steps, args.reps, args.no_tests = ["tiny", "small"], 5, 2, True
    os.environ.setdefault("NEUROBACK_BACKEND", args.backend)
    info = device_info(args.backend)
    tests = rows = None
    if info["available"]:
        print(f"device: {info['name']}")
        tests = None if args.no_tests else run_tests(args.backend, args.test_timeout)
        if tests:
            print(f"tests: {tests}")
        rows = benchmark(args)
    Path(args.out).write_text(report(info, tests, rows or [], args), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
