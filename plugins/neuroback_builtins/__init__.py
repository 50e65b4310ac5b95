"""neuroback's built-in components, registered through the ``neuroback`` entry-point group.

This package is a plugin like any other: ``pyproject.toml`` lists it under
``[project.entry-points.neuroback]`` and neuroback's core never imports it.
"""

from __future__ import annotations

from neuroback import Sequential, SingleProcess, hookimpl

from . import metrics
from .activations import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .adam import Adam, AdamW
from .batchnorm import BatchNorm
from .callbacks import (
    CSVLogger,
    EarlyStopping,
    GradientFlowMonitor,
    LearningRateScheduler,
    ModelCheckpoint,
    ProgressBar,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from .clipping import ClipByGlobalNorm, ClipByValue
from .conv import Conv1D, Conv2D
from .cross_entropy import BinaryCrossEntropy, SoftmaxCrossEntropy
from .dense import Dense
from .dropout import Dropout
from .mpi import MPIStrategy
from .mse import MSE
from .pooling import AvgPool1D, AvgPool2D, GlobalAvgPool, MaxPool1D, MaxPool2D
from .reshape import Flatten, Reshape
from .residual import Residual
from .schedules import Constant, Cosine, Exponential, LinearWarmup, StepDecay
from .sgd import SGD
from .weight_decay import WeightDecay

__all__ = [
    "MSE",
    "SGD",
    "Adam",
    "AdamW",
    "AvgPool1D",
    "AvgPool2D",
    "BatchNorm",
    "BinaryCrossEntropy",
    "CSVLogger",
    "ClipByGlobalNorm",
    "ClipByValue",
    "Constant",
    "Conv1D",
    "Conv2D",
    "Cosine",
    "Dense",
    "Dropout",
    "EarlyStopping",
    "Exponential",
    "Flatten",
    "GlobalAvgPool",
    "GradientFlowMonitor",
    "LeakyReLU",
    "LearningRateScheduler",
    "LinearWarmup",
    "MPIStrategy",
    "MaxPool1D",
    "MaxPool2D",
    "ModelCheckpoint",
    "ProgressBar",
    "ReLU",
    "ReduceLROnPlateau",
    "Reshape",
    "Residual",
    "Sigmoid",
    "Softmax",
    "SoftmaxCrossEntropy",
    "StepDecay",
    "Tanh",
    "TerminateOnNaN",
    "WeightDecay",
    "metrics",
]


@hookimpl
def neuroback_register_layers(register):  # type: ignore[no-untyped-def]
    register(Sequential)  # the core's container, so configs can name it
    register(Dense)
    register(Conv1D)
    register(Conv2D)
    register(ReLU)
    register(LeakyReLU)
    register(Sigmoid)
    register(Tanh)
    register(Softmax)
    register(Flatten)
    register(Reshape)
    register(MaxPool1D)
    register(MaxPool2D)
    register(AvgPool1D)
    register(AvgPool2D)
    register(GlobalAvgPool)
    register(Dropout)
    register(BatchNorm)
    register(Residual)


@hookimpl
def neuroback_register_losses(register):  # type: ignore[no-untyped-def]
    register(MSE)
    register(SoftmaxCrossEntropy)
    register(BinaryCrossEntropy)


@hookimpl
def neuroback_register_optimizers(register):  # type: ignore[no-untyped-def]
    register(SGD)
    register(Adam)
    register(AdamW)


@hookimpl
def neuroback_register_transforms(register):  # type: ignore[no-untyped-def]
    register(ClipByGlobalNorm)
    register(ClipByValue)
    register(WeightDecay)


@hookimpl
def neuroback_register_metrics(register):  # type: ignore[no-untyped-def]
    register(metrics.accuracy)
    register(metrics.accuracy_from_logits)
    register(metrics.mse)
    register(metrics.mae)


@hookimpl
def neuroback_register_callbacks(register):  # type: ignore[no-untyped-def]
    register(ProgressBar)
    register(EarlyStopping)
    register(GradientFlowMonitor)
    register(LearningRateScheduler)
    register(ModelCheckpoint)
    register(ReduceLROnPlateau)
    register(TerminateOnNaN)
    register(CSVLogger)


@hookimpl
def neuroback_register_schedules(register):  # type: ignore[no-untyped-def]
    register(Constant)
    register(StepDecay)
    register(Exponential)
    register(Cosine)
    register(LinearWarmup)


@hookimpl
def neuroback_register_strategies(register):  # type: ignore[no-untyped-def]
    register(SingleProcess, name="single")  # the core's default, so configs can name it
    register(MPIStrategy, name="mpi")
