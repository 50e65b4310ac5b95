"""Callbacks registered by plugins, as attributes: ``neuroback.callbacks.ProgressBar``.

Every installed plugin's callbacks appear here (``dir(neuroback.callbacks)`` lists
them); ``get("distribution:Name")`` resolves a qualified name. Nothing is
loaded until the first lookup.
"""

from neuroback.plugin_system.namespace import Namespace as _Namespace

__all__: list[str] = []

_namespace = _Namespace("callbacks", lambda: ["get", "names"])
__getattr__ = _namespace.getattr
__dir__ = _namespace.dir
get = _namespace.get
names = _namespace.names
