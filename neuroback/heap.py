r"""Keep freed memory in the process instead of handing it back to the OS every step.

A training step on the NumPy backend allocates its activations and gradients and frees
them at the end of the step; the next step allocates the same sizes again. With the
GNU C library's default settings (Linux), ``malloc`` serves arrays above a threshold
(128 KiB at start, raised on the fly up to the largest one freed so far) with fresh
``mmap`` pages, and ``free`` hands the top of the heap back to the OS once more than
twice that threshold is free there. Either way the next step touches pages the kernel
must map and zero again: one page fault per 4 KiB. On the digits CNN (batch 64) that is
about 750 faults and 1.3 ms of a 12 ms step on a 2-core VM; with the settings below,
0 faults and 10.7 ms (``benchmarks/README.md``).

:func:`keep_freed_memory` sets the two thresholds with ``mallopt`` so that arrays up to
``mmap_threshold`` come from the heap and freed memory stays with the process until more
than ``trim_threshold`` is free at the top of the heap. The cost is resident memory: up
to ``trim_threshold`` bytes a process freed may stay mapped to it.

It changes the whole process's allocator, so the library never calls it on its own: a
program that owns its process does. ``neuroback train`` calls it (``--release-memory``
opts out); a training script may call it first thing::

    import neuroback as nb
    nb.keep_freed_memory()

Other C libraries (macOS, musl) have other allocators: there it does nothing and returns
``False``. Setting the environment variables ``MALLOC_MMAP_THRESHOLD_`` and
``MALLOC_TRIM_THRESHOLD_`` before Python starts has the same effect on glibc.

>>> import neuroback as nb
>>> nb.keep_freed_memory()  # doctest: +SKIP
True
"""

from __future__ import annotations

import ctypes
import os

__all__ = ["MAX_MMAP_THRESHOLD", "keep_freed_memory"]

#: glibc's largest accepted mmap threshold: 32 MiB on 64-bit systems, 16 MiB on 32-bit
#: ones (``4 MiB * sizeof(long)``)
MAX_MMAP_THRESHOLD = 4 * 1024 * 1024 * ctypes.sizeof(ctypes.c_long)

# mallopt parameter numbers, from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(
    *, mmap_threshold: int = MAX_MMAP_THRESHOLD, trim_threshold: int = 256 * 1024 * 1024
) -> bool:
    """Ask glibc to keep freed memory for the next step; ``True`` if it was set.

    Parameters
    ----------
    mmap_threshold:
        Arrays of at most this many bytes come from the heap, larger ones from their own
        ``mmap`` (returned to the OS when freed). At most :data:`MAX_MMAP_THRESHOLD`.
    trim_threshold:
        The heap is shrunk only when more than this many bytes are free at its top.

    Returns ``False``, changing nothing, where the C library is not glibc (found with
    ``os.confstr("CS_GNU_LIBC_VERSION")``, which names the C library the process runs
    on). Raises ``ValueError`` for a threshold glibc would refuse.
    """
    for name, value, most in (
        ("mmap_threshold", mmap_threshold, MAX_MMAP_THRESHOLD),
        ("trim_threshold", trim_threshold, 2**31 - 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= most:
            raise ValueError(
                f"keep_freed_memory: {name} must be an integer number of bytes from 0 to "
                f"{most}, got {value!r}."
            )
    if not _glibc():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # a static or unusual build: leave it alone
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success, 0 on a value it refuses (checked above)
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(
        mallopt(_M_TRIM_THRESHOLD, trim_threshold)
    )


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (AttributeError, ValueError, OSError):  # no confstr, or no such name here
        return False
