"""Gradient transforms registered by plugins: ``neuroback.transforms.ClipByGlobalNorm``.

Every installed plugin's transforms appear here (``dir(neuroback.transforms)`` lists
them); ``get("distribution:Name")`` resolves a qualified name. Nothing is
loaded until the first lookup.
"""

from neuroback.plugin_system.namespace import Namespace as _Namespace

__all__: list[str] = []

_namespace = _Namespace("transforms", lambda: ["get", "names"])
__getattr__ = _namespace.getattr
__dir__ = _namespace.dir
get = _namespace.get
names = _namespace.names
