"""Tools for testing neuroback components, ours and plugins' alike.

Usable without pytest: every check raises a :class:`GradientCheckError` (an
``AssertionError``) with a message saying what disagreed.
"""

from .gradcheck import (
    GradientCheckError,
    GradientReport,
    check_layer_gradients,
    check_loss_gradients,
)

__all__ = [
    "GradientCheckError",
    "GradientReport",
    "check_layer_gradients",
    "check_loss_gradients",
]
