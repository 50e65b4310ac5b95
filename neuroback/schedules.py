"""Learning-rate schedules registered by plugins, as attributes: ``neuroback.schedules.Cosine``.

Every installed plugin's schedules appear here (``dir(neuroback.schedules)`` lists
them); ``get("distribution:Name")`` resolves a qualified name. Nothing is
loaded until the first lookup. The base class is :class:`neuroback.Schedule`.
"""

from neuroback.plugin_system.namespace import Namespace as _Namespace

__all__: list[str] = []

_namespace = _Namespace("schedules", lambda: ["get", "names"])
__getattr__ = _namespace.getattr
__dir__ = _namespace.dir
get = _namespace.get
names = _namespace.names
