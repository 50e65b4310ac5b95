"""What a deprecation looks like: a warning that names the replacement and the release
that removes the old way, for at least one release series before it goes.

neuroback deprecates with :func:`warn_deprecated`, and a plugin may do the same for its
own names. The warning is a :class:`NeurobackDeprecationWarning`, a
``DeprecationWarning``: Python shows it in tests (pytest shows every one) and in
``__main__``, and ``-W error::DeprecationWarning`` turns each into an error to find them
all.

>>> import warnings
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     warn_deprecated("Trainer(verbose=...)", "callbacks=['ProgressBar']", removed_in="0.3")
>>> print(caught[0].message)
Trainer(verbose=...) is deprecated and will be removed in neuroback 0.3; use
callbacks=['ProgressBar'] instead.
"""

from __future__ import annotations

import warnings

__all__ = ["NeurobackDeprecationWarning", "warn_deprecated"]


class NeurobackDeprecationWarning(DeprecationWarning):
    """Something still works but will be removed; the message says what replaces it."""


def warn_deprecated(
    old: str, new: str, *, removed_in: str, owner: str = "neuroback", stacklevel: int = 2
) -> None:
    """Warn that ``old`` is deprecated in favour of ``new`` and goes in ``removed_in``.

    ``stacklevel`` counts from the caller of :func:`warn_deprecated`: the default 2 points
    the warning at the code that called the deprecated function, where the fix belongs.
    """
    warnings.warn(
        f"{old} is deprecated and will be removed in {owner} {removed_in}; use {new} instead.",
        NeurobackDeprecationWarning,
        stacklevel=stacklevel + 1,
    )
