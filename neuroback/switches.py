"""Boolean environment switches (``NEUROBACK_STRICT_PLUGINS=1`` and the like), read one way.

Every on/off ``NEUROBACK_*`` variable is read by :func:`env_flag`, so they all accept the
same values and a typo never silently means "off":

=========================================  ================================================
value (case-insensitive, spaces ignored)   meaning
=========================================  ================================================
``1``, ``true``, ``yes``, ``on``           on
``0``, ``false``, ``no``, ``off``          off
empty or unset                             the switch's default (on for ``NEUROBACK_JIT`` and
                                           ``NEUROBACK_WARM_BLAS``, off for the others)
anything else                              :class:`~neuroback.errors.ConfigError`
=========================================  ================================================

>>> env_flag("NEUROBACK_STRICT_PLUGINS", env={"NEUROBACK_STRICT_PLUGINS": " Yes "})
True
>>> env_flag("NEUROBACK_STRICT_PLUGINS", env={})
False
>>> env_flag("NEUROBACK_STRICT_PLUGINS", env={"NEUROBACK_STRICT_PLUGINS": "yes-please"})
Traceback (most recent call last):
    ...
neuroback.errors.ConfigError: NEUROBACK_STRICT_PLUGINS='yes-please' is not an on/off value. \
Use one of 1, true, yes, on (on) or 0, false, no, off (off), case-insensitive, or leave it \
empty or unset for the default (off).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .errors import ConfigError

__all__ = ["FALSE_VALUES", "TRUE_VALUES", "env_flag"]

#: Values that switch a flag on (compared after ``strip().lower()``).
TRUE_VALUES = ("1", "true", "yes", "on")
#: Values that switch a flag off.
FALSE_VALUES = ("0", "false", "no", "off")


def env_flag(name: str, *, default: bool = False, env: Mapping[str, str] | None = None) -> bool:
    """Read the boolean switch ``name`` from ``env`` (default: ``os.environ``).

    Returns ``default`` when the variable is unset or empty (after stripping); raises
    :class:`~neuroback.errors.ConfigError` naming the variable, its value and the
    accepted values for anything that is neither on nor off.
    """
    source = os.environ if env is None else env
    raw = source.get(name)
    if raw is None:
        return default
    value = str(raw).strip().lower()
    if not value:
        return default
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise ConfigError(
        f"{name}={raw!r} is not an on/off value. Use one of {', '.join(TRUE_VALUES)} (on) or "
        f"{', '.join(FALSE_VALUES)} (off), case-insensitive, or leave it empty or unset for "
        f"the default ({'on' if default else 'off'})."
    )
