"""neuroback's built-in components, registered through the ``neuroback`` entry-point group.

This package is a plugin like any other: ``pyproject.toml`` lists it under
``[project.entry-points.neuroback]`` and neuroback's core never imports it.
"""

from __future__ import annotations

from neuroback import Sequential, hookimpl

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
from .cross_entropy import BinaryCrossEntropy, SoftmaxCrossEntropy
from .dense import Dense
from .dropout import Dropout
from .mse import MSE
from .reshape import Flatten
from .residual import Residual
from .schedules import Constant, Cosine, Exponential, LinearWarmup, StepDecay
from .sgd import SGD
from .weight_decay import WeightDecay

__all__ = [
    "MSE",
    "SGD",
    "Adam",
    "AdamW",
    "BatchNorm",
    "BinaryCrossEntropy",
    "CSVLogger",
    "ClipByGlobalNorm",
    "ClipByValue",
    "Constant",
    "Cosine",
    "Dense",
    "Dropout",
    "EarlyStopping",
    "Exponential",
    "Flatten",
    "GradientFlowMonitor",
    "LeakyReLU",
    "LearningRateScheduler",
    "LinearWarmup",
    "ModelCheckpoint",
    "ProgressBar",
    "ReLU",
    "ReduceLROnPlateau",
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
    register(ReLU)
    register(LeakyReLU)
    register(Sigmoid)
    register(Tanh)
    register(Softmax)
    register(Flatten)
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
