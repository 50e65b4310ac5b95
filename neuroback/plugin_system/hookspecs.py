"""The hooks a neuroback plugin can implement.

Each hook receives a ``register`` function and calls it once per component::

    import neuroback

    @neuroback.hookimpl
    def neuroback_register_layers(register):
        register(Swish)                 # known as "Swish" and "<your-distribution>:Swish"
        register(Swish, name="SiLU")    # an alias under another name

``register`` is bound to the calling plugin's distribution, so every component
records where it came from. Plugins are listed in the ``neuroback``
entry-point group of their package metadata.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

__all__ = ["PROJECT_NAME", "Register", "hookimpl", "hookspec"]

PROJECT_NAME = "neuroback"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: Decorate a plugin's hook functions with this marker.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

#: ``register(component, name=None)``: what each hook receives.
Register = Callable[..., Any]


@hookspec
def neuroback_register_layers(register: Register) -> None:
    """Register :class:`~neuroback.Layer` subclasses."""


@hookspec
def neuroback_register_losses(register: Register) -> None:
    """Register :class:`~neuroback.Loss` subclasses."""


@hookspec
def neuroback_register_optimizers(register: Register) -> None:
    """Register :class:`~neuroback.Optimizer` subclasses."""


@hookspec
def neuroback_register_transforms(register: Register) -> None:
    """Register :class:`~neuroback.GradientTransform` subclasses."""


@hookspec
def neuroback_register_callbacks(register: Register) -> None:
    """Register :class:`~neuroback.Callback` subclasses."""


@hookspec
def neuroback_register_metrics(register: Register) -> None:
    """Register metrics: functions (or callable instances, never classes)
    ``metric(pred, target) -> 0-d array``."""


@hookspec
def neuroback_register_schedules(register: Register) -> None:
    """Register :class:`~neuroback.Schedule` subclasses (learning-rate factors ``s(t)``)."""


@hookspec
def neuroback_register_strategies(register: Register) -> None:
    """Register :class:`~neuroback.Strategy` subclasses: how training is spread over
    processes (``Trainer(strategy="mpi")``)."""


@hookspec
def neuroback_register_commands(register: Register) -> None:
    """Register ``neuroback`` subcommands: click commands (``@click.command()`` objects),
    named by their click name (``neuroback my-command``)."""
