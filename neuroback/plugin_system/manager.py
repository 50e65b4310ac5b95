"""Loading plugins from the ``neuroback`` entry-point group, one at a time.

neuroback reads the entry points itself rather than calling pluggy's
``load_setuptools_entrypoints``: each plugin is imported and its hooks are
called in isolation, with a ``register`` bound to its distribution, so a
broken plugin is skipped with a warning naming it (or raises, in strict mode)
and every other plugin keeps working.

Environment switches, read when the registry first loads (on the first lookup):

``NEUROBACK_DISABLE_PLUGIN_AUTOLOAD=1``
    load no third-party plugin (neuroback's own built-ins still load).
``NEUROBACK_LOAD_PLUGINS=dist-a,dist-b``
    load only these third-party distributions.
``NEUROBACK_STRICT_PLUGINS=1``
    a plugin that fails to load is an error instead of a warning.

The two on/off switches accept the values of :func:`neuroback.switches.env_flag`; any
other value is a :class:`~neuroback.errors.ConfigError`, raised by the first lookup
before anything is loaded (and by every lookup after it, until the value is fixed).
"""

from __future__ import annotations

import importlib.metadata as importlib_metadata
import os
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pluggy

from ..errors import ComponentNotFoundError, ConfigError, MissingPluginError, PluginError
from ..plugin_api import why_incompatible
from ..switches import env_flag
from . import hookspecs
from .kinds import KINDS, Kind, instance_kind, instance_message, kind_of
from .registry import (
    RUNTIME_DISTRIBUTION,
    Component,
    ComponentTable,
    PluginInfo,
    install_hint,
    normalize,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginLoadWarning",
    "PluginRegistry",
    "get_registry",
]

ENTRY_POINT_GROUP = "neuroback"
#: The distribution whose entry points are the built-ins: they load even with autoload off.
CORE_DISTRIBUTION = "neuroback"

ENV_DISABLE = "NEUROBACK_DISABLE_PLUGIN_AUTOLOAD"
ENV_ALLOW = "NEUROBACK_LOAD_PLUGINS"
ENV_STRICT = "NEUROBACK_STRICT_PLUGINS"


class PluginLoadWarning(UserWarning):
    """A plugin was skipped because it failed to import or register."""


@dataclass(frozen=True)
class _Switches:
    """The loading switches, read and validated before anything is loaded."""

    disabled: bool
    allow: frozenset[str] | None  # normalized distribution names, or None: no allow-list
    strict: bool

    @classmethod
    def read(cls, env: Mapping[str, str]) -> _Switches:
        disabled = env_flag(ENV_DISABLE, env=env)
        strict = env_flag(ENV_STRICT, env=env)
        allow_raw = env.get(ENV_ALLOW, "").strip()
        allowed = {normalize(d.strip()) for d in allow_raw.split(",") if d.strip()}
        return cls(disabled, frozenset(allowed) if allow_raw else None, strict)


class PluginRegistry:
    """A pluggy manager plus the table of every component the plugins registered.

    Entry points are scanned on the first lookup, not at construction. Tests and
    tools may create their own registry; ``neuroback``'s namespaces use the
    process-wide one returned by :func:`get_registry`.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = env
        self._pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._table = ComponentTable()
        self._plugins: list[PluginInfo] = []
        self._loaded = False
        self._loading = False  # set while the scan runs (a plugin may look names up on import)
        self._load_error: str | None = None  # strict mode: the failure every lookup repeats
        self._lock = threading.RLock()
        #: Qualified names that a file read here needed and no plugin provides, with the
        #: version that wrote the file: a later lookup by plain name says what to install.
        self._known_missing: dict[str, tuple[str, str | None]] = {}

    # -- loading -------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        """Whether the entry points have been scanned yet."""
        return self._loaded

    def ensure_loaded(self) -> None:
        """Scan the entry points once (called by every lookup).

        Other threads wait until the scan is complete. In strict mode a plugin that
        failed makes every later lookup fail too, never a half-loaded registry. A switch
        with an invalid value raises :class:`~neuroback.errors.ConfigError` before
        anything is loaded; the registry stays unloaded (and empty), so every lookup
        raises it again until the value is fixed.
        """
        if not self._loaded:
            with self._lock:
                if not self._loaded and not self._loading:
                    switches = _Switches.read(os.environ if self._env is None else self._env)
                    self._loading = True
                    try:
                        self._load_entry_points(switches)
                    except PluginError as exc:
                        self._load_error = str(exc)
                        raise
                    except Warning:  # a skip warning turned into an error: the scan is complete
                        raise
                    except Exception as exc:  # a bug while scanning: never a silent empty registry
                        self._load_error = (
                            f"Scanning the neuroback entry points failed: "
                            f"{type(exc).__name__}: {exc}"
                        )
                        raise PluginError(self._load_error) from exc
                    finally:
                        self._loading = False
                        self._loaded = True
        if self._load_error is not None:
            raise PluginError(self._load_error)

    def _load_entry_points(self, switches: _Switches) -> None:
        disabled, allow, strict = switches.disabled, switches.allow, switches.strict

        seen: set[tuple[str, str]] = set()
        skipped: list[str] = []
        empty: list[tuple[Any, PluginInfo]] = []
        for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                dist = ep.dist
                dist_name = str(dist.name) if dist is not None and dist.name else ep.module
                version = str(dist.version) if dist is not None and dist.version else "unknown"
            except Exception as exc:  # broken metadata: skip this plugin, keep the others
                info = PluginInfo(ep.module, "unknown", f"{ep.name} = {ep.value}")
                self._fail(info, f"unreadable package metadata ({exc})", strict, skipped)
                continue
            key = (normalize(dist_name), ep.name)
            if key in seen:  # the same distribution found twice on sys.path
                continue
            seen.add(key)
            builtin = normalize(dist_name) == CORE_DISTRIBUTION
            if not builtin and (
                disabled or (allow is not None and normalize(dist_name) not in allow)
            ):
                continue
            info = PluginInfo(dist_name, version, f"{ep.name} = {ep.value}", builtin=builtin)
            try:
                plugin = ep.load()
            except Exception as exc:
                self._fail(
                    info,
                    f"failed to import {ep.value!r}: {type(exc).__name__}: {exc}",
                    strict,
                    skipped,
                )
                continue
            reason = self._add(plugin, info)
            if reason is not None:
                self._fail(info, reason, strict, skipped)
            elif not info.components:
                empty.append((plugin, info))
        for plugin, info in empty:
            self._warn_if_empty(plugin, info, stacklevel=4)
        # Warn once every plugin is in: even with warnings turned into errors, the
        # registry is complete and the other plugins work.
        for message in skipped:
            warnings.warn(message, PluginLoadWarning, stacklevel=4)

    def _fail(self, info: PluginInfo, reason: str, strict: bool, skipped: list[str]) -> None:
        info.error = reason
        info.components.clear()
        self._plugins.append(info)
        message = (
            f"neuroback plugin from distribution {info.distribution!r} ({info.entry_point}) "
            f"was skipped: {reason.rstrip('.')}. Other plugins still work; fix or uninstall it "
            f"(pip uninstall {info.distribution}), or limit loading with {ENV_ALLOW}=..."
        )
        if strict:
            raise PluginError(message + f" ({ENV_STRICT} is set, so this is an error.)")
        skipped.append(message)

    def _add(self, plugin: Any, info: PluginInfo) -> str | None:
        """Register one plugin object and call its hooks, all or nothing.

        Returns ``None`` on success, else why the plugin was rejected (nothing of it is kept).
        """
        incompatible = why_incompatible(plugin, info.distribution, info.version)
        if incompatible is not None:
            return incompatible
        name = f"{info.distribution}:{info.entry_point}"
        try:
            self._pm.register(plugin, name=name)
            self._pm.check_pending()
        except Exception as exc:
            self._safe_unregister(plugin)
            return f"invalid hooks: {exc}"
        staged: list[Component] = []
        added: list[Component] = []
        try:
            for kind in KINDS.values():
                caller = getattr(self._pm.hook, kind.hook)
                for impl in caller.get_hookimpls():
                    if impl.plugin is not plugin:
                        continue
                    register = self._make_register(kind, info, staged)
                    impl.function(*[{"register": register}[a] for a in impl.argnames])
            for comp in staged:
                self._table.add(comp)
                added.append(comp)
        except Exception as exc:
            for comp in added:
                self._table.remove(comp)
            self._safe_unregister(plugin)
            if isinstance(exc, PluginError):  # an invalid registration, already explained
                return str(exc)
            return f"a hook raised {type(exc).__name__}: {exc}"
        info.components = staged
        self._plugins.append(info)
        return None

    def _safe_unregister(self, plugin: Any) -> None:
        try:
            if self._pm.is_registered(plugin):
                self._pm.unregister(plugin)
        except Exception:  # pragma: no cover - pluggy state is best effort here
            pass

    def _make_register(
        self, kind: Kind, info: PluginInfo, staged: list[Component]
    ) -> Callable[..., Any]:
        def register(component: Any, name: str | None = None) -> Any:
            comp = self._component(component, kind, name, info.distribution, info.version)
            if any(c.kind == comp.kind and c.name == comp.name for c in staged):
                raise PluginError(
                    f"{info.distribution} registers the {kind.singular} name {comp.name!r} twice."
                )
            staged.append(comp)
            return component

        register.__doc__ = f"Register a {kind.singular} of {info.distribution}."
        return register

    @staticmethod
    def _component(
        obj: Any,
        kind: Kind,
        name: str | None,
        distribution: str,
        version: str,
        shadow: bool = False,
    ) -> Component:
        base = kind.base_class()
        if kind.instances:
            if base is None or not isinstance(obj, base):
                raise PluginError(
                    f"{distribution} registered {obj!r} as a {kind.singular}, but it is not a "
                    f"click command: decorate a function with @click.command() and register "
                    f"what the decorator returns."
                )
            name = name if name is not None else obj.name
        elif base is not None and not (isinstance(obj, type) and issubclass(obj, base)):
            raise PluginError(
                f"{distribution} registered {obj!r} as a {kind.singular}, but it is not a "
                f"subclass of {base.__module__.split('.')[0]}.{base.__name__}."
            )
        if base is None and (instance_of := instance_kind(obj)) is not None:
            raise PluginError(
                f"{distribution} registered a metric that is not one: "
                f"{instance_message(obj, instance_of)}"
            )
        if base is None and (isinstance(obj, type) or not callable(obj)):
            what = "a class" if isinstance(obj, type) else "not callable"
            raise PluginError(
                f"{distribution} registered {obj!r} as a metric, but it is {what}: a metric is "
                f"a plain function (or a callable instance) metric(pred, target) -> 0-d array."
            )
        plain = name if name is not None else getattr(obj, "__name__", None)
        if not isinstance(plain, str) or not plain or ":" in plain or plain != plain.strip():
            raise PluginError(
                f"{distribution} registered a {kind.singular} with an invalid name {plain!r}; "
                f"names are non-empty strings without ':' or surrounding spaces."
            )
        return Component(kind.name, plain, obj, distribution, version, shadow=shadow)

    # -- adding plugins and components at run time ----------------------------
    def load_plugin(self, plugin: Any, *, distribution: str, version: str = "0") -> PluginInfo:
        """Register a plugin object (a module or class with hook implementations) now.

        Failures raise :class:`~neuroback.errors.PluginError` (the caller asked for it).
        """
        self.ensure_loaded()
        label = getattr(plugin, "__name__", repr(plugin))
        if self._pm.is_registered(plugin):  # already in (from its entry point): nothing to do
            loaded = self._pm.get_name(plugin) or ""
            for existing in self._plugins:
                if loaded == f"{existing.distribution}:{existing.entry_point}":
                    return existing
            raise PluginError(
                f"Plugin {label} is already loaded (as {loaded!r}); load it only once."
            )
        info = PluginInfo(distribution, version, f"<runtime> {label}")
        reason = self._add(plugin, info)
        if reason is not None:
            raise PluginError(
                f"Plugin {label} (distribution {distribution!r}) could not be loaded: {reason}"
            )
        self._warn_if_empty(plugin, info, stacklevel=3)
        return info

    def _warn_if_empty(self, plugin: Any, info: PluginInfo, *, stacklevel: int) -> None:
        """A plugin that registers nothing is almost always a mistake: say which one."""
        if info.components:
            return
        unmarked = sorted(
            name
            for name in dir(plugin)
            if name.startswith("neuroback_register_")
            and callable(getattr(plugin, name, None))
            and self._pm.parse_hookimpl_opts(plugin, name) is None
        )
        why = (
            f" Its functions {unmarked} are not decorated with @neuroback.hookimpl, so "
            f"neuroback does not call them."
            if unmarked
            else " Does it define hook functions such as neuroback_register_layers(register)?"
        )
        warnings.warn(
            f"The neuroback plugin {info.distribution} ({info.entry_point}) registered no "
            f"component.{why}",
            PluginLoadWarning,
            stacklevel=stacklevel + 1,
        )

    def register(
        self,
        component: Any,
        *,
        name: str | None = None,
        kind: str | None = None,
        shadow: bool = False,
    ) -> Any:
        """Register one component defined at run time (under distribution ``local``).

        The kind comes from the base class (:func:`~neuroback.plugin_system.kinds.kind_of`:
        a class of no kind is an error; a function or callable instance is a metric)
        unless ``kind`` says it. Re-registering the same local name replaces the earlier
        one, so re-running a notebook cell works. A name that an installed plugin already
        uses for this kind (``Dense`` while ``neuroback:Dense`` is installed) is refused
        unless ``shadow=True``: then the plain name means the local component, and the
        installed one stays reachable by its qualified name.
        """
        if kind is not None and kind not in KINDS:
            raise ConfigError(f"Unknown kind {kind!r}; expected one of {sorted(KINDS)}.")
        if not isinstance(shadow, bool):
            raise TypeError(f"register(shadow=...) takes True or False, got {shadow!r}.")
        info_kind = KINDS[kind] if kind is not None else kind_of(component)
        comp = self._component(component, info_kind, name, RUNTIME_DISTRIBUTION, "0", shadow)
        self.ensure_loaded()  # the installed names must be known to refuse shadowing them
        with self._lock:
            installed = [
                c
                for c in self._table.entries(comp.kind, comp.name)
                if c.distribution != RUNTIME_DISTRIBUTION
            ]
            if installed and not shadow:
                owners = " and ".join(repr(c.qualified_name) for c in installed)
                raise PluginError(
                    f"Cannot register the run-time {info_kind.singular} {comp.name!r}: the "
                    f"installed {owners} already uses that name, and a second one would make "
                    f"neuroback.{comp.kind}.{comp.name} ambiguous. Register it under another "
                    f"name (neuroback.register(obj, name='My{comp.name}')), or pass "
                    f"shadow=True to make the plain name {comp.name!r} mean yours (the "
                    f"installed one stays reachable as {installed[0].qualified_name!r})."
                )
            self._table.add(comp, replace=True)
            info = next((p for p in self._plugins if p.distribution == RUNTIME_DISTRIBUTION), None)
            if info is None:
                info = PluginInfo(RUNTIME_DISTRIBUTION, "0", "neuroback.register()")
                self._plugins.append(info)
            info.components = [
                c for c in info.components if not (c.kind == comp.kind and c.name == comp.name)
            ] + [comp]
        return component

    # -- lookups -------------------------------------------------------------
    def get(self, kind: str, name: str) -> Component:
        """The component ``name`` (plain or ``distribution:Name``) of ``kind``."""
        self._check_kind(kind)
        self.ensure_loaded()
        try:
            return self._table.get(kind, name)
        except MissingPluginError:
            raise
        except ComponentNotFoundError as exc:
            known = self._known_missing.get(name) if isinstance(name, str) else None
            if known is None:
                raise
            qualified, version = known
            dist = qualified.rpartition(":")[0]
            raise MissingPluginError(
                f"{exc} A file read earlier names it {qualified!r}: {install_hint(dist, version)}."
            ) from None

    def remember_missing(self, qualified: str, version: str | None = None) -> None:
        """Record that ``distribution:Name`` was needed (by a file) and is not installed, so
        looking up ``Name`` later says which distribution to install."""
        self._known_missing[qualified.rpartition(":")[2]] = (qualified, version)

    def names(self, kind: str) -> list[str]:
        """Sorted plain names registered for ``kind``."""
        self._check_kind(kind)
        self.ensure_loaded()
        return self._table.names(kind)

    def components(self, kind: str | None = None) -> list[Component]:
        if kind is not None:
            self._check_kind(kind)
        self.ensure_loaded()
        return self._table.components(kind)

    def plugins(self) -> list[PluginInfo]:
        """Every plugin seen, in load order, failed ones included (with ``error`` set)."""
        self.ensure_loaded()
        return list(self._plugins)

    def qualified_name(self, obj: Any) -> str:
        """``distribution:Name`` of a registered class; raises if it is not registered."""
        self.ensure_loaded()
        comp = self._table.find_object(obj)
        if comp is None:
            name = getattr(obj, "__qualname__", repr(obj))
            raise ConfigError(
                f"{name} is not a registered component, so it cannot be written to a config. "
                f"Register it with neuroback.register({getattr(obj, '__name__', 'cls')}) or ship "
                f"it in a plugin."
            )
        return comp.qualified_name

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in KINDS:
            raise ConfigError(f"Unknown component kind {kind!r}; expected one of {sorted(KINDS)}.")


_default: PluginRegistry | None = None
_default_lock = threading.Lock()


def get_registry() -> PluginRegistry:
    """The process-wide registry (created on first use; entry points scanned on first lookup)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = PluginRegistry()
    return _default
