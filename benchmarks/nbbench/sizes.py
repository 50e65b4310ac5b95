"""What the suite measures: model sizes, hyperparameters, the implementations, the
ratios that get a confidence interval, the performance targets, the like-for-like check
and the optional digits comparison. Constants only."""

from __future__ import annotations

#: name -> (layer widths, batch size)
SIZES: dict[str, tuple[list[int], int]] = {
    "tiny": ([32, 64, 1], 32),
    "small": ([64, 128, 10], 64),
    "medium": ([784, 256, 256, 10], 128),
    "large": ([784, 1024, 1024, 10], 512),
}

SGD_LR = 0.01  # train_step.LR
ADAM_LR = 1e-3
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8

#: name -> (what it is, optimizer, baseline it is compared with, torch reference)
IMPLS: dict[str, tuple[str, str, str, str]] = {
    "floor": (
        "only the unavoidable matrix products of a Dense step (x@W, a.T@dy, dy@W.T)",
        "-",
        "numpy",
        "torch",
    ),
    "numpy": ("hand-tuned NumPy SGD step, preallocated buffers", "SGD", "numpy", "torch"),
    "nb-trainer": ("neuroback Trainer.train_step, SGD(lr=0.01)", "SGD", "numpy", "torch"),
    "torch": ("PyTorch CPU, torch.optim.SGD(lr=0.01)", "SGD", "numpy", "torch"),
    "numpy-adam": (
        "hand-tuned NumPy Adam step, PyTorch's arrangement",
        "Adam",
        "numpy-adam",
        "torch-adam",
    ),
    "nb-trainer-adam": (
        "neuroback Trainer.train_step, Adam(lr=1e-3)",
        "Adam",
        "numpy-adam",
        "torch-adam",
    ),
    "torch-adam": (
        "PyTorch CPU, torch.optim.Adam(lr=1e-3) defaults",
        "Adam",
        "numpy-adam",
        "torch-adam",
    ),
    "torch-adam-fused": (
        "PyTorch CPU, torch.optim.Adam(lr=1e-3, fused=True)",
        "Adam",
        "numpy-adam",
        "torch-adam",
    ),
}
TORCH_IMPLS = ("torch", "torch-adam", "torch-adam-fused")
NUMPY_BASED = ("floor", "numpy", "nb-trainer", "numpy-adam", "nb-trainer-adam")

#: ratios that get a bootstrap confidence interval
CI_PAIRS = [
    ("nb-trainer", "numpy"),
    ("nb-trainer", "torch"),
    ("nb-trainer-adam", "numpy-adam"),
    ("nb-trainer-adam", "torch-adam"),
    ("nb-trainer-adam", "torch-adam-fused"),
]

#: the performance issue's targets: (ours, reference, size, bound, strict)
#: met when the bootstrap CI of ours/reference lies below the bound (strictly if strict)
TARGETS: list[tuple[str, str, str, float, bool]] = [
    ("nb-trainer", "numpy", "tiny", 1.5, False),
    ("nb-trainer", "numpy", "small", 1.2, False),
    ("nb-trainer", "numpy", "medium", 1.05, False),
    ("nb-trainer", "numpy", "large", 1.05, False),
    ("nb-trainer-adam", "torch-adam", "tiny", 1.0, True),
    ("nb-trainer-adam", "torch-adam", "small", 1.0, True),
    ("nb-trainer-adam", "torch-adam", "medium", 1.0, True),
    ("nb-trainer-adam", "numpy-adam", "large", 1.05, False),
]

#: the like-for-like check: neuroback -> what it is compared with, the hand-written
#: NumPy twin first (it must agree within CHECK_TOLERANCE, or the suite stops)
CHECK_GROUPS: dict[str, tuple[str, ...]] = {
    "nb-trainer": ("numpy", "torch"),
    "nb-trainer-adam": ("numpy-adam", "torch-adam", "torch-adam-fused"),
}
CHECK_TOLERANCE = 1e-4  # neuroback vs the hand-written NumPy step, max |weight difference|

#: the optional time-to-accuracy comparison on scikit-learn's digits (--digits)
DIGITS_IMPLS = ("sklearn-mlp", "nb-digits")
DIGITS_HIDDEN = 128  # 64-128-10: the "small" size's widths on the digits' 64 pixels
DIGITS_BATCH = 32
DIGITS_TEST = 0.25

#: the per-phase profile of neuroback's step (timed one phase at a time, next to whole
#: ``train_step`` calls): the implementations profiled and the phases, in step order
PHASE_IMPLS = ("nb-trainer", "nb-trainer-adam")
PHASES = ("forward", "loss", "backward", "guard", "update", "zero_grad")
#: the non-finite guard's target: at most this share of a step at this size, for every
#: implementation in PHASE_IMPLS (judged on the median over repetitions)
GUARD_TARGET = ("medium", 0.03)

#: the share of a ``fit`` epoch on the digits spent outside ``train_step`` (data pipeline,
#: per-batch bookkeeping, callbacks): its target bound, and fit epochs timed per worker
FIT_SHARE_TARGET = 0.10
FIT_EPOCHS = 5

#: the memory targets (job ``memory``): the sizes and implementations measured, the steps
#: between the two readings of traced bytes per size (after the warm-up), the growth those
#: steps may show in all, and the bound on peak / theoretical working set
MEMORY_SIZES = ("medium", "large")
MEMORY_IMPLS = ("nb-trainer", "nb-trainer-adam")
MEMORY_STEPS = {"medium": 20, "large": 10}
MEMORY_GROWTH_TOLERANCE = 64 * 1024
MEMORY_PEAK_BOUND = 1.2
