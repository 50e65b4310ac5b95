#!/usr/bin/env python
"""Where does neuroback's training step spend time beyond the hand-written NumPy step?

Companion to ``train_step.py`` (same workload, same data, same timing loop). Two views:

* ``--cprofile``: the functions of one neuroback step ranked by own time (cProfile).
* ablations (default): the same step with ONE overhead removed at a time by
  monkeypatching *in this process only* (no library file is changed), timed
  interleaved with the unmodified step and with the hand-written NumPy step.
  "saved" is the baseline median minus the variant's median; it estimates what
  fixing that one overhead in the library would buy on this machine.

    python benchmarks/profile_step.py
    python benchmarks/profile_step.py --cprofile
    python benchmarks/profile_step.py --sizes 8,8,8,2 --batch 4   # fixed Python overhead

The patched code paths are only valid for this benchmark (each gradient is written
exactly once per step, then cleared); they are stand-ins for a proper library fix,
not proposals to copy verbatim. Numbers are medians on a noisy machine: read
differences below ~2 % of the step as noise.
"""

from __future__ import annotations

# One BLAS thread, set before numpy is imported (as train_step.py does).
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import cProfile  # noqa: E402
import pstats  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import ExitStack, contextmanager, nullcontext  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import train_step as ts  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

import neuroback as nb  # noqa: E402
from neuroback.backend.base import Backend  # noqa: E402
from neuroback.errors import ShapeError  # noqa: E402

Dense = nb.layers.Dense
_activations = __import__(nb.layers.ReLU.__module__, fromlist=["_check_grad"])


# ---------------------------------------------------------------------------------------
# Patches: each one removes a single overhead (restored on exit).
# ---------------------------------------------------------------------------------------


@contextmanager
def _setattr(obj: Any, name: str, value: Any) -> Iterator[None]:
    old = obj.__dict__[name] if isinstance(obj, type) else getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def _dense_forward(*, checks: bool, direct_grad: bool) -> Callable:
    """Dense.forward as in the library, with its input checks and/or grad temporaries removable."""

    def forward(self: Any, x: Any, *, train: bool, rng: Any = None) -> tuple[Any, Callable]:
        if checks:
            self.check_input(x, ndim=2, features=self.in_features, dtype=self.dtype)
        W = self.W.value
        b = self.b
        y = x @ W
        if b is not None:
            y += b.value
        need_dx = self.needs_input_grad

        def backward(dy: Any) -> Any:
            if checks and dy.shape != y.shape:
                raise ShapeError("bad gradient shape")
            if direct_grad:  # valid here only: the gradient is known to be zero
                np.matmul(x.T, dy, out=self.W.grad)
                if b is not None:
                    np.sum(dy, axis=0, out=b.grad)
            else:
                self.W.accumulate(x.T @ dy)
                if b is not None:
                    b.accumulate(dy.sum(axis=0))
            return dy @ W.T if need_dx else None

        return y, backward

    return forward


def _sgd_in_place(
    self: Any,
    value: Any,
    grad: Any,
    velocity: Any,
    *,
    lr: float,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    first_step: bool,
) -> None:
    assert not (momentum or weight_decay)
    grad *= lr  # reuses the gradient as scratch (a library would keep a scratch buffer)
    value -= grad


PATCHES: dict[str, tuple[str, Callable[[Any], list[Any]]]] = {
    # name: (what it removes, model -> list of context managers)
    "no-first-dx": (
        "first Dense computes dx = dy @ W.T that nobody reads (model.needs_input_grad=False)",
        lambda model: [_setattr(model, "needs_input_grad", False)],
    ),
    "lazy-label": (
        "check_input formats repr(layer) on every call (label built only on error)",
        lambda model: [_setattr(nb.Layer, "_label", lambda self: type(self).__name__)],
    ),
    "no-checks": (
        "all per-call validation (check_input, backward shape checks) removed",
        lambda model: [
            _setattr(nb.Layer, "check_input", lambda self, x, **kw: None),
            _setattr(_activations, "_check_grad", lambda layer, dy, y: None),
            _setattr(Dense, "forward", _dense_forward(checks=False, direct_grad=False)),
        ],
    ),
    "grad-direct": (
        "x.T @ dy into a temporary, then added into grad (written straight into grad)",
        lambda model: [_setattr(Dense, "forward", _dense_forward(checks=True, direct_grad=True))],
    ),
    "grad-direct+no-zero": (
        "grad-direct, and zero_grad's fill pass removed (lazy zeroing)",
        lambda model: [
            _setattr(Dense, "forward", _dense_forward(checks=True, direct_grad=True)),
            _setattr(nb.Optimizer, "zero_grad", lambda self: None),
        ],
    ),
    "sgd-no-temp": (
        "SGD's lr * grad temporary (update through a scratch buffer)",
        lambda model: [_setattr(Backend, "sgd_update", _sgd_in_place)],
    ),
    "all": (
        "every removal above at once",
        lambda model: [
            _setattr(model, "needs_input_grad", False),
            _setattr(nb.Layer, "check_input", lambda self, x, **kw: None),
            _setattr(_activations, "_check_grad", lambda layer, dy, y: None),
            _setattr(Dense, "forward", _dense_forward(checks=False, direct_grad=True)),
            _setattr(nb.Optimizer, "zero_grad", lambda self: None),
            _setattr(Backend, "sgd_update", _sgd_in_place),
        ],
    ),
}


def _stack_factory(make: Callable[[Any], list[Any]], model: Any) -> Callable[[], ExitStack]:
    def enter() -> ExitStack:
        stack = ExitStack()
        for cm in make(model):
            stack.enter_context(cm)
        return stack

    return enter


# ---------------------------------------------------------------------------------------


def run_cprofile(sizes: list[int], x: np.ndarray, y: np.ndarray, steps: int, top: int) -> None:
    model, loss_fn, opt = ts.build_neuroback(sizes, 0)
    step = ts.neuroback_step_fn(model, loss_fn, opt)
    for _ in range(20):
        step(x, y)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        step(x, y)
    prof.disable()
    print(
        f"cProfile of {steps} neuroback steps (times include the profiler's own overhead; "
        f"NumPy/BLAS time is attributed to the Python function that called it):"
    )
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="784,256,256,10")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cprofile", action="store_true", help="print a cProfile ranking instead")
    p.add_argument("--top", type=int, default=20, help="rows of the cProfile ranking")
    args = p.parse_args(argv)

    sizes = [int(s) for s in args.sizes.split(",")]
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.batch, sizes[0]), dtype=np.float32)
    y = rng.standard_normal((args.batch, sizes[-1]), dtype=np.float32)

    limiter = (
        ts.threadpoolctl.threadpool_limits(limits=1, user_api="blas")
        if ts.threadpoolctl is not None
        else nullcontext()
    )
    with limiter:
        if args.cprofile:
            run_cprofile(sizes, x, y, steps=args.rounds * args.repeats, top=args.top)
            return 0

        impls: dict[str, tuple[Callable, Any, Any]] = {}
        contexts: dict[str, Callable[[], Any]] = {}
        model, loss_fn, opt = ts.build_neuroback(sizes, args.seed)
        impls["baseline"] = (ts.neuroback_step_fn(model, loss_fn, opt), x, y)
        for name, (_, make) in PATCHES.items():
            model, loss_fn, opt = ts.build_neuroback(sizes, args.seed)
            impls[name] = (ts.neuroback_step_fn(model, loss_fn, opt), x, y)
            contexts[name] = _stack_factory(make, model)
        impls["numpy (hand-written)"] = (ts.NumpyMLP(ts.initial_weights(model)).step, x, y)

        samples, elapsed = ts.time_interleaved(
            impls, args.warmup, args.rounds, args.repeats, contexts=contexts
        )

    stats = {n: ts.summarize(s) for n, s in samples.items()}
    base = stats["baseline"]["median_ms"]
    gap = base - stats["numpy (hand-written)"]["median_ms"]
    print(
        f"neuroback step ablations, MLP {'-'.join(map(str, sizes))}, batch {args.batch}, "
        f"{args.rounds} rounds x {args.repeats} steps, interleaved ({elapsed:.1f} s)"
    )
    print(
        f"baseline {base:.3f} ms; hand-written NumPy gap {gap:.3f} ms "
        f"({100 * gap / base:.1f} % of the neuroback step)\n"
    )
    header = f"{'variant':<22}{'median ms':>10}{'IQR ms':>17}{'saved ms':>10}{'% of gap':>10}"
    print(header + "  removes")
    for name, s in stats.items():
        saved = base - s["median_ms"]
        share = f"{100 * saved / gap:.0f} %" if gap > 0 and name not in ("baseline",) else ""
        what = PATCHES[name][0] if name in PATCHES else ""
        print(
            f"{name:<22}{s['median_ms']:>10.3f}   [{s['q1_ms']:.3f}, {s['q3_ms']:.3f}]"
            f"{saved if name != 'baseline' else 0:>10.3f}{share:>10}  {what}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
