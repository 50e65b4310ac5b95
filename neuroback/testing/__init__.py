"""Tools for testing neuroback components, ours and plugins' alike.

Usable without pytest: every check raises an ``AssertionError`` subclass
(:class:`GradientCheckError`, :class:`ConformanceError`) whose message says
which rule broke and how.

- :func:`check_layer_gradients`, :func:`check_loss_gradients`: finite differences (float64).
- :func:`check_layer`, :func:`check_loss`, :func:`check_optimizer`,
  :func:`check_transform`, :func:`check_callback`, :func:`check_metric`,
  :func:`check_schedule`, :func:`check_strategy`: the full
  contract of each kind.
- :func:`check_kernel`: a :class:`~neuroback.kernels.Kernel`'s reference runs on the
  backend and its fast version there agrees with it.
- :func:`check_component`: the contract, run on a class's own ``example()``.

The pytest plugin :mod:`neuroback.testing.pytest_plugin` (installed with
neuroback) adds the ``nb_backend`` fixture.
"""

from ._kernel_checks import check_kernel
from .conformance import (
    ConformanceError,
    check_callback,
    check_component,
    check_layer,
    check_loss,
    check_metric,
    check_optimizer,
    check_schedule,
    check_strategy,
    check_transform,
)
from .gradcheck import (
    GradientCheckError,
    GradientReport,
    check_layer_gradients,
    check_loss_gradients,
)

__all__ = [
    "ConformanceError",
    "GradientCheckError",
    "GradientReport",
    "check_callback",
    "check_component",
    "check_kernel",
    "check_layer",
    "check_layer_gradients",
    "check_loss",
    "check_loss_gradients",
    "check_metric",
    "check_optimizer",
    "check_schedule",
    "check_strategy",
    "check_transform",
]
