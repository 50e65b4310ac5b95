"""The plugin API's version: what a plugin is written against, checked when it loads.

The **plugin API** is everything a plugin touches: the hooks (their names and the
``register`` argument), the base classes a component subclasses (:class:`~neuroback.Layer`,
:class:`~neuroback.Loss`, :class:`~neuroback.Optimizer`,
:class:`~neuroback.GradientTransform`, :class:`~neuroback.Schedule`,
:class:`~neuroback.Callback`, :class:`~neuroback.Strategy`, a metric's call), the methods
neuroback calls on them and their contracts (as the conformance kit,
:mod:`neuroback.testing`, checks them), and the kit itself. Its version is ``MAJOR.MINOR``:

* **MINOR** grows when something is *added* (a hook, an optional method with a default,
  a kit check that the built-ins already pass). A plugin written for ``1.0`` works with
  every ``1.x``.
* **MAJOR** grows when something a plugin may rely on *changes or goes away*, and only
  after a deprecation (:mod:`neuroback.deprecation`) of at least one release series.

A plugin states the version it is written against in its hook module::

    NEUROBACK_PLUGIN_API = "1.0"

and neuroback refuses to load it, with a message saying which side to upgrade, when this
neuroback cannot serve it (another major, or a newer minor). A plugin that declares
nothing is loaded as before. Code outside the hooks may ask with :func:`supports`.

>>> import neuroback as nb
>>> nb.PLUGIN_API_VERSION
'1.0'
>>> supports("1.0"), supports("1.9"), supports("2.0")
(True, False, False)
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["DECLARATION", "PLUGIN_API_VERSION", "parse", "supports", "why_incompatible"]

#: The plugin API this neuroback provides, ``"MAJOR.MINOR"``.
PLUGIN_API_VERSION = "1.0"

#: The name of the attribute a plugin's hook module sets to the version it needs.
DECLARATION = "NEUROBACK_PLUGIN_API"

_FORM = re.compile(r"(\d+)\.(\d+)")


def parse(version: Any) -> tuple[int, int]:
    """``"MAJOR.MINOR"`` as a pair of integers; anything else is a ``ValueError``."""
    match = _FORM.fullmatch(version) if isinstance(version, str) else None
    if match is None:
        raise ValueError(
            f"A plugin API version is a string 'MAJOR.MINOR' such as {PLUGIN_API_VERSION!r}, "
            f"got {version!r}."
        )
    return int(match[1]), int(match[2])


def supports(required: str) -> bool:
    """Whether this neuroback serves a plugin written for plugin API ``required``:
    the same major version, and a minor version at least as new."""
    major, minor = parse(required)
    have_major, have_minor = parse(PLUGIN_API_VERSION)
    return major == have_major and minor <= have_minor


def why_incompatible(plugin: Any, distribution: str, version: str) -> str | None:
    """Why the hook module ``plugin`` cannot be loaded by this neuroback, or ``None``.

    Reads its :data:`DECLARATION`; no declaration means no claim, and the plugin loads.
    """
    declared = getattr(plugin, DECLARATION, None)
    if declared is None:
        return None
    from . import __version__

    try:
        major, minor = parse(declared)
    except ValueError as exc:
        return f"its {DECLARATION} = {declared!r} is not a version: {exc}"
    if supports(declared):
        return None
    have_major, _ = parse(PLUGIN_API_VERSION)
    if major >= have_major:  # a newer API than this neuroback has
        fix = (
            f"upgrade neuroback to a release with plugin API {major}.{minor} or newer "
            f"(pip install -U neuroback), or install a release of {distribution} written "
            f"for plugin API {PLUGIN_API_VERSION}"
        )
    else:
        fix = (
            f"upgrade {distribution} to a release written for plugin API {have_major}.x "
            f"(pip install -U {distribution}), or install a neuroback with plugin API "
            f"{major}.x"
        )
    return (
        f"{distribution} {version} is written for neuroback's plugin API {declared}, and "
        f"this neuroback ({__version__}) provides {PLUGIN_API_VERSION}: {fix}"
    )
