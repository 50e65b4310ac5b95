"""Data-parallel throughput on this machine: one process vs several, and the Allreduce share.

    python benchmarks/distributed.py                    # launches 1 and 2 ranks itself
    python benchmarks/distributed.py --ranks 1,2 --batch 128,512 --json dist.json

Each configuration runs ``mpiexec -n R python benchmarks/distributed.py --worker ...``:
every rank pins BLAS to one thread, builds the medium MLP (784-256-256-10, float32,
SGD), runs warm-up steps, then times ``Trainer.train_step`` on global batches and,
separately, the time spent inside the gradient sum (``Strategy.allreduce_sum_into``).
Medians over repetitions; throughput is global samples per second. A measurement, not a
test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SIZES = [784, 256, 256, 10]


def worker(batch: int, steps: int, reps: int) -> dict[str, Any]:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import numpy as np
    from threadpoolctl import threadpool_limits

    import neuroback as nb

    threadpool_limits(1)
    strategy = nb.build("strategies", "mpi")
    spent = [0.0]
    inner = strategy.allreduce_sum_into

    def timed(array: Any, backend: Any) -> None:
        start = time.perf_counter()
        inner(array, backend)
        spent[0] += time.perf_counter() - start

    strategy.allreduce_sum_into = timed  # type: ignore[method-assign]
    nb.seed(0)
    layers: list[nb.Layer] = []
    for i, (a, b) in enumerate(itertools.pairwise(SIZES)):
        layers.append(nb.layers.Dense(a, b, activation="relu" if i < len(SIZES) - 2 else None))
    trainer = nb.Trainer(
        nb.Sequential(*layers), "MSE", nb.optimizers.SGD(lr=0.01), seed=0, strategy=strategy
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, SIZES[0])).astype(np.float32)
    y = rng.normal(size=(batch, SIZES[-1])).astype(np.float32)
    per_step, reduce_share = [], []
    with trainer.loop():
        for _ in range(10):
            trainer.train_step(x, y)
        for _ in range(reps):
            strategy.barrier()
            spent[0] = 0.0
            start = time.perf_counter()
            for _ in range(steps):
                trainer.train_step(x, y)
            elapsed = time.perf_counter() - start
            per_step.append(elapsed / steps)
            reduce_share.append(spent[0] / elapsed)
    gradient_bytes = sum(p.size * 4 for p in trainer.model.parameters())
    return {
        "rank": strategy.rank,
        "ranks": strategy.world_size,
        "batch": batch,
        "step_ms": 1e3 * statistics.median(per_step),
        "samples_per_s": batch / statistics.median(per_step),
        "allreduce_share": statistics.median(reduce_share),
        "gradient_bytes": gradient_bytes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", default="1,2")
    parser.add_argument("--batch", default="128,512")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--json", default=None)
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.worker:
        result = worker(int(args.batch), args.steps, args.reps)
        if result["rank"] == 0:
            Path(args.out).write_text(json.dumps(result))
        return
    mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or "mpiexec"
    rows = []
    for batch in [int(b) for b in args.batch.split(",")]:
        for ranks in [int(r) for r in args.ranks.split(",")]:
            out = Path(f".dist-{ranks}-{batch}.json").resolve()
            cmd = [mpiexec, "-n", str(ranks), sys.executable, __file__, "--worker"]
            cmd += ["--batch", str(batch), "--steps", str(args.steps), "--reps", str(args.reps)]
            subprocess.run([*cmd, "--out", str(out)], check=True)
            rows.append(json.loads(out.read_text()))
            out.unlink()
    print(f"{'ranks':>5} {'batch':>6} {'ms/step':>8} {'samples/s':>10} {'allreduce':>9}")
    for row in rows:
        print(
            f"{row['ranks']:>5} {row['batch']:>6} {row['step_ms']:>8.2f} "
            f"{row['samples_per_s']:>10.0f} {100 * row['allreduce_share']:>8.1f}%"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
