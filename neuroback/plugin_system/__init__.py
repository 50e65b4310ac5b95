"""The plugin machinery: hook specifications, entry-point loading and the registry."""

from .hookspecs import hookimpl, hookspec
from .kinds import KINDS, Kind
from .manager import ENTRY_POINT_GROUP, PluginLoadWarning, PluginRegistry, get_registry
from .registry import Component, PluginInfo

__all__ = [
    "ENTRY_POINT_GROUP",
    "KINDS",
    "Component",
    "Kind",
    "PluginInfo",
    "PluginLoadWarning",
    "PluginRegistry",
    "get_registry",
    "hookimpl",
    "hookspec",
]
