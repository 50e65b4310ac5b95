#!/usr/bin/env python
"""The training-step benchmark suite: four MLP sizes, eight implementations, one
worker process per measurement; with each size a per-phase profile of neuroback's step
(and at medium and large its memory: growth over steps, peak vs the working set), and the
share of a fit epoch on the digits spent outside ``train_step``. Two convolutional cases
(``digits-cnn``, ``lenet5``: neuroback against PyTorch on the same CNN) run when asked for
with ``--sizes``.

    python benchmarks/suite.py --json results.json        # the full suite (minutes)
    python benchmarks/suite.py --quick --json /tmp/q.json  # smoke test (well under a minute)
    python benchmarks/suite.py report results.json > benchmarks/RESULTS.md
    python benchmarks/suite.py --sizes digits-cnn,lenet5 --impls nb-trainer-adam,torch-adam \
        --no-fit-share --json /tmp/cnn.json                # the CNN cases

Every (size, implementation, repetition) runs in a fresh worker process (this file,
started with the hidden ``_worker`` subcommand) with the same thread limits; the
implementations alternate in a rotating order from one repetition to the next. The
driver itself never imports NumPy or torch, so it cannot disturb the workers; the
statistics (medians, a paired hierarchical bootstrap of the ratios) are plain Python.

This file is the command line; the suite itself is the ``nbbench`` package beside it
(see its ``__init__``). The building blocks (the neuroback model, the PyTorch model,
machine and BLAS information, the tracemalloc peak, the gc-frozen timing loop) come from
``train_step.py`` in this folder. See benchmarks/README.md for how to read the output.
This is a measurement, never a test.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # run other than as `python benchmarks/suite.py`
    sys.path.insert(0, str(HERE))

from nbbench.protocol import CORETYPE  # noqa: E402
from nbbench.sizes import ALL_SIZES, FIT_EPOCHS, IMPLS, SIZES  # noqa: E402


def parse_list(text: str, allowed: list[str] | None, what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if allowed is not None:
        bad = [i for i in items if i not in allowed]
        if bad:
            raise SystemExit(f"unknown {what}: {bad}; choose from {allowed}")
    return items


def run_main(argv: list[str]) -> int:
    from nbbench.driver import run_suite

    args = parse_run_args(argv)
    sizes = parse_list(args.sizes, list(ALL_SIZES), "size")
    impls = parse_list(args.impls, list(IMPLS), "implementation")
    threads_list = [int(t) for t in parse_list(args.threads, None, "threads")]
    if any(t < 1 for t in threads_list):
        raise SystemExit("--threads must be positive")
    return run_suite(args, argv, sizes, impls, threads_list)


def parse_run_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="suite.py",
        description="The training-step benchmark suite (one worker process per measurement). "
        "`suite.py report RESULTS.json` turns its JSON into markdown.",
    )
    p.add_argument(
        "--sizes",
        default=",".join(SIZES),
        help=f"subset of {','.join(ALL_SIZES)} (default: the MLP sizes {','.join(SIZES)})",
    )
    p.add_argument("--impls", default=",".join(IMPLS), help=f"subset of {','.join(IMPLS)}")
    p.add_argument(
        "--threads", default="1", help="threads per worker; '1,2' runs both (default: 1)"
    )
    p.add_argument("--reps", type=int, default=5, help="repetitions per pair (default: 5)")
    p.add_argument(
        "--target-s",
        type=float,
        default=1.0,
        help="timed seconds per worker; sets the step count (default: 1.0)",
    )
    p.add_argument("--warmup", type=int, default=5, help="at least this many warm-up steps")
    p.add_argument("--warmup-s", type=float, default=0.3, help="and this many seconds of them")
    p.add_argument("--min-steps", type=int, default=21, help="timed steps per worker, at least")
    p.add_argument("--max-steps", type=int, default=3001, help="timed steps per worker, at most")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--check-steps",
        type=int,
        default=3,
        help="like-for-like check steps per size before timing, 0 skips it (default: 3)",
    )
    p.add_argument("--bootstrap", type=int, default=4000, help="bootstrap resamples")
    p.add_argument(
        "--unset-coretype",
        action="store_true",
        help=f"run the workers without {CORETYPE} in their environment",
    )
    p.add_argument(
        "--keep-freed-memory",
        action="store_true",
        help="run every worker (PyTorch's too) with glibc's MALLOC_MMAP_THRESHOLD_ and "
        "MALLOC_TRIM_THRESHOLD_ set as neuroback.keep_freed_memory() sets them (what "
        "`neuroback train` does). By default glibc returns freed arrays to the OS and the "
        "next step faults them back in (see benchmarks/README.md)",
    )
    p.add_argument(
        "--cold-blas",
        action="store_true",
        help="run every worker with NEUROBACK_WARM_BLAS=0: nobody warms NumPy's BLAS (by "
        "default every worker runs neuroback.warm_blas() before building its implementation, "
        "as neuroback's Trainer does when built; see benchmarks/README.md)",
    )
    p.add_argument("--worker-timeout", type=float, default=600.0)
    p.add_argument("--json", metavar="PATH", help="write machine info and all results as JSON")
    p.add_argument("--append", action="store_true", help="add these runs to an existing --json")
    p.add_argument(
        "--no-samples", action="store_true", help="leave single-step times out of the JSON"
    )
    p.add_argument(
        "--digits",
        action="store_true",
        help="also time neuroback vs scikit-learn's MLPClassifier to an accuracy on the digits",
    )
    p.add_argument("--digits-target", type=float, default=0.95, help="accuracy (default: 0.95)")
    p.add_argument("--digits-max-epochs", type=int, default=200)
    p.add_argument(
        "--no-phases",
        dest="phases",
        action="store_false",
        help="skip the per-phase profile of neuroback's step (run by default at every size)",
    )
    p.add_argument(
        "--no-memory",
        dest="memory",
        action="store_false",
        help="skip the memory targets of neuroback's step (run by default at medium and large)",
    )
    p.add_argument(
        "--no-fit-share",
        dest="fit_share",
        action="store_false",
        help="skip the share of a fit epoch on the digits spent outside train_step",
    )
    p.add_argument(
        "--fit-epochs",
        type=int,
        default=FIT_EPOCHS,
        help=f"timed fit epochs per fit-share worker (default: {FIT_EPOCHS})",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: tiny only, 1 repetition, few steps (well under a minute)",
    )
    args = p.parse_args(argv)
    if args.quick:
        if args.sizes == ",".join(SIZES):
            args.sizes = "tiny"
        args.reps, args.target_s, args.warmup, args.warmup_s = 1, 0.05, 3, 0.0
        args.min_steps, args.max_steps, args.bootstrap = 11, 301, 1000
        args.check_steps = min(args.check_steps, 2)
        args.fit_epochs = min(args.fit_epochs, 2)
        args.memory = False
    if args.reps < 1 or args.min_steps < 4 or args.max_steps < args.min_steps:
        p.error("need --reps >= 1 and 4 <= --min-steps <= --max-steps")
    if args.fit_epochs < 1:
        p.error("need --fit-epochs >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_worker"]:
        from nbbench.worker import worker_main

        return worker_main(argv[1])
    if argv[:1] == ["report"]:
        from nbbench.report import report_main

        return report_main(argv[1:])
    return run_main(argv)


if __name__ == "__main__":
    sys.exit(main())
