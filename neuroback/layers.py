"""Layers registered by plugins, as attributes: ``neuroback.layers.Dense``.

Every installed plugin's layers appear here (``dir(neuroback.layers)`` lists
them); ``get("distribution:Name")`` resolves a qualified name. Nothing is
loaded until the first lookup.
"""

from neuroback.plugin_system.namespace import Namespace as _Namespace

__all__: list[str] = []

_namespace = _Namespace("layers", lambda: ["get", "names"])
__getattr__ = _namespace.getattr
__dir__ = _namespace.dir
get = _namespace.get
names = _namespace.names
