"""neuroback: neural-network training where backpropagation is visible and every part is a plugin.

The core defines the interfaces (:class:`Layer`, :class:`Loss`,
:class:`Optimizer`, :class:`GradientTransform`, :class:`Callback`,
:class:`Schedule`), the array backend shim and the plugin machinery. Concrete
components live in plugins and appear in the namespaces :mod:`neuroback.layers`,
:mod:`neuroback.losses`, :mod:`neuroback.optimizers`, :mod:`neuroback.transforms`,
:mod:`neuroback.callbacks`, :mod:`neuroback.metrics`, :mod:`neuroback.schedules` and
:mod:`neuroback.strategies`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from typing import Any

from . import (
    callbacks,
    datasets,
    errors,
    layers,
    losses,
    metrics,
    optimizers,
    schedules,
    strategies,
    transforms,
)
from .backend import (
    Array,
    Backend,
    BackendLike,
    available_backends,
    get_backend,
    register_backend,
    use_backend,
)
from .blas_warmup import warm_blas
from .callback import Callback
from .config import build, to_spec
from .heap import keep_freed_memory
from .layer import Backward, Layer, Observer, forward_child, run_backward
from .loss import Loss
from .model_file import load, load_metadata, save
from .optimizer import Optimizer
from .parameter import Parameter
from .plugin_api import PLUGIN_API_VERSION
from .plugin_system import PluginLoadWarning, get_registry, hookimpl
from .rng import default_rng, seed
from .schedule import Schedule
from .sequential import Sequential
from .strategy import SingleProcess, Strategy
from .torch_state import (
    from_torch_state_dict,
    load_torch_state,
    save_torch_state,
    to_torch_state_dict,
)
from .training import History, Trainer
from .transform import Chain, GradientTransform, chain

try:
    __version__ = _dist_version("neuroback")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "PLUGIN_API_VERSION",
    "Array",
    "Backend",
    "BackendLike",
    "Backward",
    "Callback",
    "Chain",
    "GradientTransform",
    "History",
    "Layer",
    "Loss",
    "Observer",
    "Optimizer",
    "Parameter",
    "PluginLoadWarning",
    "Schedule",
    "Sequential",
    "SingleProcess",
    "Strategy",
    "Trainer",
    "__version__",
    "available_backends",
    "build",
    "callbacks",
    "chain",
    "datasets",
    "default_rng",
    "errors",
    "forward_child",
    "from_torch_state_dict",
    "get_backend",
    "get_registry",
    "hookimpl",
    "keep_freed_memory",
    "layers",
    "load",
    "load_metadata",
    "load_plugin",
    "load_torch_state",
    "losses",
    "metrics",
    "optimizers",
    "register",
    "register_backend",
    "run_backward",
    "save",
    "save_torch_state",
    "schedules",
    "seed",
    "strategies",
    "to_spec",
    "to_torch_state_dict",
    "transforms",
    "use_backend",
    "warm_blas",
]


def register(
    component: Any = None,
    *,
    name: str | None = None,
    kind: str | None = None,
    shadow: bool = False,
) -> Any:
    """Register a component defined at run time, so configs and saved models can name it.

    Works as a call or a decorator. The kind comes from the base class: a subclass of
    :class:`Layer`, :class:`Loss`, :class:`Optimizer`, :class:`GradientTransform`,
    :class:`Callback` or :class:`Schedule` is filed under that kind; a class of none of
    them is a ``TypeError``; a function (or a callable instance) is a metric. The
    component is then reachable as ``neuroback.<kind>.<name>`` and as ``"local:<name>"``.
    Registering the same name again replaces the earlier run-time component.

    A name already used by an installed plugin for the same kind (``Dense``, with
    ``neuroback:Dense`` installed) is refused with a
    :class:`~neuroback.errors.PluginError`, unless ``shadow=True``: then the plain name
    means the run-time component, and the installed one is still reached by its
    qualified name.

    >>> import neuroback as nb
    >>> @nb.register
    ... class Double(nb.Layer):
    ...     def forward(self, x, *, train, rng=None):
    ...         return 2 * x, lambda dy, *, input_grad=True: 2 * dy
    ...     def config(self):
    ...         return {}
    >>> nb.layers.Double is Double, nb.to_spec(Double())["type"]
    (True, 'local:Double')
    """

    def apply(obj: Any) -> Any:
        return get_registry().register(obj, name=name, kind=kind, shadow=shadow)

    return apply if component is None else apply(component)


def __dir__() -> list[str]:
    return sorted(__all__)


def load_plugin(plugin: Any, *, distribution: str, version: str = "0") -> Any:
    """Load a plugin object (a module or class with ``@hookimpl`` functions) without installing it.

    Useful in notebooks and tests; packages should use the ``neuroback``
    entry-point group instead. Errors raise immediately.
    """
    return get_registry().load_plugin(plugin, distribution=distribution, version=version)
