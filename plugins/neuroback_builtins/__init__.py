"""neuroback's built-in components, registered through the ``neuroback`` entry-point group.

This package is a plugin like any other: ``pyproject.toml`` lists it under
``[project.entry-points.neuroback]`` and neuroback's core never imports it.
"""

from __future__ import annotations

from neuroback import Sequential, hookimpl

from .activations import ReLU, Sigmoid
from .dense import Dense
from .mse import MSE
from .sgd import SGD

__all__ = ["MSE", "SGD", "Dense", "ReLU", "Sigmoid"]


@hookimpl
def neuroback_register_layers(register):  # type: ignore[no-untyped-def]
    register(Sequential)  # the core's container, so configs can name it
    register(Dense)
    register(ReLU)
    register(Sigmoid)


@hookimpl
def neuroback_register_losses(register):  # type: ignore[no-untyped-def]
    register(MSE)


@hookimpl
def neuroback_register_optimizers(register):  # type: ignore[no-untyped-def]
    register(SGD)
