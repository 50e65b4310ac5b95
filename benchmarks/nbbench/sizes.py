"""What the suite measures: model sizes (the MLPs and the convolutional cases),
hyperparameters, the implementations, the ratios that get a confidence interval, the
performance targets, the like-for-like check and the optional digits comparison.
Constants only."""

from __future__ import annotations

#: name -> (layer widths, batch size)
SIZES: dict[str, tuple[list[int], int]] = {
    "tiny": ([32, 64, 1], 32),
    "small": ([64, 128, 10], 64),
    "medium": ([784, 256, 256, 10], 128),
    "large": ([784, 1024, 1024, 10], 512),
}

#: the convolutional cases (``--sizes digits-cnn,lenet5``; not run by default): name ->
#: (layers as (neuroback layer, its arguments), one batch's input shape, a short title).
#: Softmax cross-entropy on integer labels in [0, CNN_CLASSES); PyTorch builds the same
#: layers (``cnn.torch_module``) and starts from neuroback's weights.
CNN_SIZES: dict[str, tuple[tuple[tuple[str, dict[str, int]], ...], tuple[int, ...], str]] = {
    "digits-cnn": (
        (
            ("Conv2D", {"in_channels": 1, "out_channels": 16, "kernel_size": 3, "padding": 1}),
            ("BatchNorm", {"num_features": 16}),
            ("ReLU", {}),
            ("Conv2D", {"in_channels": 16, "out_channels": 32, "kernel_size": 3, "padding": 1}),
            ("BatchNorm", {"num_features": 32}),
            ("ReLU", {}),
            ("MaxPool2D", {"kernel_size": 2}),
            ("Flatten", {}),
            ("Dense", {"in_features": 512, "out_features": 10}),
        ),
        (64, 1, 8, 8),
        "CNN conv3x3(16)-BN-ReLU-conv3x3(32)-BN-ReLU-maxpool2-dense(10) on 1x8x8",
    ),
    "lenet5": (
        (
            ("Conv2D", {"in_channels": 1, "out_channels": 6, "kernel_size": 5, "padding": 2}),
            ("ReLU", {}),
            ("MaxPool2D", {"kernel_size": 2}),
            ("Conv2D", {"in_channels": 6, "out_channels": 16, "kernel_size": 5}),
            ("ReLU", {}),
            ("MaxPool2D", {"kernel_size": 2}),
            ("Flatten", {}),
            ("Dense", {"in_features": 400, "out_features": 120}),
            ("ReLU", {}),
            ("Dense", {"in_features": 120, "out_features": 84}),
            ("ReLU", {}),
            ("Dense", {"in_features": 84, "out_features": 10}),
        ),
        (128, 1, 28, 28),
        "LeNet-5 conv5x5(6)-ReLU-maxpool2-conv5x5(16)-ReLU-maxpool2-dense(120-84-10) on 1x28x28",
    ),
}
CNN_CLASSES = 10
#: every size ``--sizes`` accepts (the default is the MLP sizes only)
ALL_SIZES = (*SIZES, *CNN_SIZES)
#: implementations without a convolutional twin (reported as missing at CNN sizes)
MLP_ONLY_IMPLS = ("floor", "torch-floor", "numpy", "numpy-adam")

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
    "torch-floor": (
        "the floor's products on the same buffers through torch.matmul (PyTorch's BLAS)",
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
TORCH_IMPLS = ("torch-floor", "torch", "torch-adam", "torch-adam-fused")
NUMPY_BASED = ("floor", "numpy", "nb-trainer", "numpy-adam", "nb-trainer-adam")

#: ratios that get a bootstrap confidence interval
CI_PAIRS = [
    ("floor", "torch-floor"),  # NumPy's BLAS against PyTorch's, the same products
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
#: the convolution issue's targets (same form; listed only in runs that include a CNN size)
CNN_TARGETS: list[tuple[str, str, str, float, bool]] = [
    ("nb-trainer-adam", "torch-adam", "digits-cnn", 1.0, True),
    ("nb-trainer-adam", "torch-adam", "lenet5", 1.5, False),
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
MEMORY_STEPS = {"medium": 20, "large": 10, "digits-cnn": 20, "lenet5": 10}
#: the CNN cases get the memory job too, whenever they run: growth is a target there (the
#: same tolerance); peak / theoretical is reported, not judged (the convolutions' patch
#: matrices are workspace that one output per layer does not count)
CNN_MEMORY_SIZES = tuple(CNN_SIZES)
MEMORY_GROWTH_TOLERANCE = 64 * 1024
MEMORY_PEAK_BOUND = 1.2
