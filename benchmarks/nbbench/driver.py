"""The suite's run: for each thread count a preparation worker (machine, probes, check),
then per size one fresh worker per (implementation, repetition) in rotating order (at a
CNN case, only the implementations that have a convolutional version), the phase profile
of neuroback's step and its memory (medium, large and the CNN cases), then the fit-epoch
share on the digits, the statistics, the printed tables and the targets; the JSON at the
end. Never imports NumPy or torch (it cannot disturb the workers)."""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

from .checks import check_failures
from .cnn import is_cnn
from .console import (
    print_checks,
    print_digits,
    print_fit_share,
    print_machine,
    print_memory,
    print_phases,
    print_size,
    print_targets,
)
from .digits import analyze_digits
from .fitshare import analyze_fit_share
from .memory import analyze_memory, memory_targets
from .phases import analyze_phases
from .profile_tables import profile_targets
from .protocol import CORETYPE, KEEP_FREED_MEMORY, spawn, worker_env
from .sizes import (
    ADAM_BETAS,
    ADAM_EPS,
    ADAM_LR,
    CNN_MEMORY_SIZES,
    CNN_SIZES,
    DIGITS_IMPLS,
    MEMORY_IMPLS,
    MEMORY_SIZES,
    MEMORY_STEPS,
    MLP_ONLY_IMPLS,
    PHASE_IMPLS,
    SGD_LR,
    SIZES,
)
from .stats import analyze_size, evaluate_targets

SCHEMA = 1
ALL_MEMORY_SIZES = (*MEMORY_SIZES, *CNN_MEMORY_SIZES)


def rotated(items: list[str], k: int) -> list[str]:
    k %= max(len(items), 1)
    return items[k:] + items[:k]


def run_rotating(
    impls: list[str],
    args: argparse.Namespace,
    env: dict[str, str],
    spec_for: Callable[[str, int], dict[str, Any]],
    progress: str | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """``args.reps`` repetitions of one worker per implementation, the order rotating from
    one repetition to the next; implementation -> its workers' results (``rep`` and
    ``position`` added). With ``progress`` (a label), failures and each finished
    repetition are printed."""
    per_impl: dict[str, list[dict[str, Any]]] = {i: [] for i in impls}
    t_start = time.perf_counter()
    for rep in range(args.reps):
        for pos, impl in enumerate(rotated(impls, rep)):
            res = spawn(spec_for(impl, rep), env, args.worker_timeout)
            res.update(rep=rep, position=pos)
            per_impl[impl].append(res)
            if progress and res["status"] != "ok":
                print(f"  [{progress} rep {rep}] {impl}: {res['status']}: {res.get('reason')}")
        if progress:
            print(
                f"  {progress}: repetition {rep + 1}/{args.reps} done "
                f"({time.perf_counter() - t_start:.0f} s)",
                flush=True,
            )
    return per_impl


def run_config(args: argparse.Namespace, sizes: list[str], impls: list[str]) -> dict[str, Any]:
    return {
        "sizes": {s: size_config(s) for s in sizes},
        "impls": impls,
        "repetitions": args.reps,
        "target_s": args.target_s,
        "warmup": args.warmup,
        "warmup_s": args.warmup_s,
        "min_steps": args.min_steps,
        "max_steps": args.max_steps,
        "seed": args.seed,
        "check_steps": args.check_steps,
        "bootstrap_resamples": args.bootstrap,
        "quick": args.quick,
        "phases": args.phases,
        "memory": args.memory,
        "memory_steps": {s: MEMORY_STEPS[s] for s in sizes if s in ALL_MEMORY_SIZES},
        "fit_share_epochs": args.fit_epochs if args.fit_share else None,
        "dtype": "float32",
        "loss": "MSE",
        "sgd_lr": SGD_LR,
        "adam": {"lr": ADAM_LR, "betas": ADAM_BETAS, "eps": ADAM_EPS},
        **({"cnn_loss": "SoftmaxCrossEntropy, integer labels"} if any(map(is_cnn, sizes)) else {}),
        **({"malloc": dict(KEEP_FREED_MEMORY)} if args.keep_freed_memory else {}),
        "cold_blas": bool(args.cold_blas),
    }


def size_config(size: str) -> dict[str, Any]:
    """What a size is, for the JSON: an MLP's widths and batch, or a CNN case's layers
    (neuroback type and arguments) and input shape."""
    if is_cnn(size):
        layers, shape, _ = CNN_SIZES[size]
        return {"layers": [[k, c] for k, c in layers], "input": list(shape), "batch": shape[0]}
    return {"widths": SIZES[size][0], "batch": SIZES[size][1]}


def run_suite(
    args: argparse.Namespace,
    argv: list[str],
    sizes: list[str],
    impls: list[str],
    threads_list: list[int],
) -> int:
    doc: dict[str, Any] = {"schema": SCHEMA, "runs": []}
    if args.append and args.json and os.path.exists(args.json):
        with open(args.json, encoding="utf-8") as f:
            doc = json.load(f)
    config = run_config(args, sizes, impls)
    t_suite = time.perf_counter()
    for threads in threads_list:
        print(f"== {threads} thread(s) per worker ==")
        doc["runs"].append(run_threads(args, argv, config, threads))
    print(f"\nsuite took {time.perf_counter() - t_suite:.0f} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        print(f"wrote {args.json}  (markdown: python benchmarks/suite.py report {args.json})")
    return 0


def run_threads(
    args: argparse.Namespace, argv: list[str], config: dict[str, Any], threads: int
) -> dict[str, Any]:
    """One run (one thread count): prepare, check, every size, digits, targets."""
    env = worker_env(threads, args.unset_coretype, args.keep_freed_memory, args.cold_blas)
    sizes, impls = list(config["sizes"]), config["impls"]
    prep_spec = {
        "kind": "prepare",
        "threads": threads,
        "impls": impls,
        "sizes": sizes,
        "seed": args.seed,
        "check_steps": args.check_steps,
    }
    prep = spawn(prep_spec, env, args.worker_timeout)
    if prep.get("status") != "ok":
        raise SystemExit(f"the preparation worker failed: {prep.get('reason')}")
    run: dict[str, Any] = {
        "threads": threads,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(["python", "benchmarks/suite.py", *argv]),
        "config": config,
        "openblas_coretype": {
            "driver": os.environ.get(CORETYPE),
            "workers": prep["openblas_coretype"],
            "unset_for_workers": args.unset_coretype,
        },
        "machine": prep["machine"],
        "threads_seen": prep["threads_seen"],
        "missing": prep["missing"],
        "checks": prep["checks"],
        "sizes": {},
    }
    print_machine(run)
    print_checks(run["checks"])
    bad = check_failures(run["checks"])
    if bad:
        raise SystemExit(
            "neuroback and the hand-written NumPy step disagree (" + "; ".join(bad) + "): "
            "the timings would not compare like with like. Aborting."
        )
    available = [i for i in impls if i not in run["missing"]]
    for size in sizes:

        def time_spec(impl: str, rep: int, size: str = size, kind: str = "time") -> dict:
            return {
                "kind": kind,
                "impl": impl,
                "size": size,
                "threads": threads,
                "seed": args.seed,
                "warmup": args.warmup,
                "warmup_s": args.warmup_s,
                "target_s": args.target_s,
                "min_steps": args.min_steps,
                "max_steps": args.max_steps,
            }

        runnable = [i for i in available if not (is_cnn(size) and i in MLP_ONLY_IMPLS)]
        per_impl = run_rotating(runnable, args, env, time_spec, progress=size)
        for impl in available:
            if impl not in runnable:  # no worker: nothing to time at a CNN case
                why = f"{impl} has no convolutional version (MLP sizes only)"
                per_impl[impl] = [{"status": "missing", "reason": why}]
        per_impl = {i: per_impl[i] for i in available}  # the --impls order
        res_size = analyze_size(per_impl, args.bootstrap, args.seed)
        res_size["reps"] = per_impl if not args.no_samples else strip_samples(per_impl)
        run["sizes"][size] = res_size
        print_size(size, res_size, threads, run["missing"])
        profiled = [i for i in PHASE_IMPLS if i in available]
        if args.phases and profiled:

            def phase_spec(impl: str, rep: int, size: str = size) -> dict[str, Any]:
                return time_spec(impl, rep, size, kind="phases")

            per_impl = run_rotating(profiled, args, env, phase_spec, progress=f"{size} phases")
            res_size["phases"] = analyze_phases(per_impl, args.bootstrap, args.seed)
            res_size["phases"]["reps"] = per_impl
            print_phases(size, res_size["phases"], threads)
        measured = [i for i in MEMORY_IMPLS if i in available]
        if args.memory and size in ALL_MEMORY_SIZES and measured:

            def memory_spec(impl: str, rep: int, size: str = size) -> dict[str, Any]:
                return {**time_spec(impl, rep, size, kind="memory"), "steps": MEMORY_STEPS[size]}

            per_impl = run_rotating(measured, args, env, memory_spec, progress=f"{size} memory")
            res_size["memory"] = analyze_memory(per_impl)
            res_size["memory"]["reps"] = per_impl
            print_memory(size, res_size["memory"], threads)
    if args.fit_share:
        run["fit_share"] = run_fit_share(args, threads, env)
    if args.digits:
        run["digits"] = run_digits(args, threads, env)
    run["targets"] = evaluate_targets(run) + profile_targets(run) + memory_targets(run)
    print_targets(run)
    return run


def run_fit_share(args: argparse.Namespace, threads: int, env: dict[str, str]) -> dict[str, Any]:
    """``args.reps`` workers of the ``fit-share`` job, one seed for all."""

    def spec(impl: str, rep: int) -> dict[str, Any]:
        return {
            "kind": "fit-share",
            "impl": impl,
            "threads": threads,
            "seed": args.seed,
            "epochs": args.fit_epochs,
        }

    reps = run_rotating(["nb-digits"], args, env, spec, progress="fit share")["nb-digits"]
    res = analyze_fit_share(reps)
    res["reps"] = reps
    print_fit_share(res, threads)
    return res


def run_digits(args: argparse.Namespace, threads: int, env: dict[str, str]) -> dict[str, Any]:
    cfg = {"target_acc": args.digits_target, "max_epochs": args.digits_max_epochs}

    def digits_spec(impl: str, rep: int) -> dict[str, Any]:
        # a new seed per repetition (the same for both): initialisation and shuffling
        # change how many epochs it takes, and the CI should cover that
        seed = args.seed + rep
        return {"kind": "digits", "impl": impl, "threads": threads, "seed": seed, **cfg}

    per_impl = run_rotating(list(DIGITS_IMPLS), args, env, digits_spec)
    res_digits = analyze_digits(per_impl, args.bootstrap, args.seed)
    res_digits.update(config=cfg, reps=per_impl)
    print_digits(res_digits, threads)
    return res_digits


def strip_samples(per_impl: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        i: [{k: v for k, v in r.items() if k != "samples_us"} for r in rs]
        for i, rs in per_impl.items()
    }
