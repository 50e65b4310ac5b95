"""Optimizers registered by plugins, as attributes: ``neuroback.optimizers.SGD``.

Every installed plugin's optimizers appear here (``dir(neuroback.optimizers)`` lists
them); ``get("distribution:Name")`` resolves a qualified name. Nothing is
loaded until the first lookup.
"""

from neuroback.plugin_system.namespace import Namespace as _Namespace

__all__: list[str] = []

_namespace = _Namespace("optimizers", lambda: ["get", "names"])
__getattr__ = _namespace.getattr
__dir__ = _namespace.dir
get = _namespace.get
names = _namespace.names
