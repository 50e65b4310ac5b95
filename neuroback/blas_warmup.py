r"""Map the BLAS library's work buffer once, before the first training step.

NumPy's wheels multiply matrices with OpenBLAS, which packs blocks of the operands into a
work buffer it maps once per thread (32 MiB on x86-64) and whose pages the operating
system maps only when first touched. A process whose first products are small touches a
small part of it, and on one thread its kernels then ran 1.4-2.4x slower than the same
products after one large product had gone through the buffer, for the whole life of the
process (a 2-core VM, OpenBLAS 0.3.31's Haswell kernels, float32, one thread):

=============================  =====================  ===========================
product (M x K) @ (K x N)      first products small   after one 768 x 768 product
=============================  =====================  ===========================
(128 x 256) @ (256 x 256)      1050 µs                456 µs
(128 x 784) @ (784 x 256)      3300 µs                1390 µs
(32 x 144) @ (144 x 4096)      1600 µs                1150 µs
(512 x 1024) @ (1024 x 1024)   29.6 ms                29.2 ms
=============================  =====================  ===========================

Reading one byte of every page of the buffer (which maps each page) gave the same speed
as the large product; the profile shows the same kernel (``sgemm_kernel_HASWELL``) in
both cases, only slower, and the slow calls fault no pages (only the first call does). So
the cost comes from the buffer's unmapped pages without faulting them in: the likely
cause is the kernel's prefetches into them, which are dropped, not served, and so never
map the page; that part is an inference, not a measurement. With two threads the products
were fast either way. The digits CNN's training step went from 12.0 to 9.4-10.2 ms.

:func:`warm_blas` runs one ``size x size`` float32 product (768: about 50 ms on one thread
here; its two 2.25 MiB arrays are freed at once, the buffer pages it maps stay mapped)
once per process. A :class:`~neuroback.Trainer`
on the NumPy backend calls it when it is built; a loop that calls ``forward`` and
``backward`` itself may call it first. ``NEUROBACK_WARM_BLAS=0`` turns it off. It changes
no result and no setting: only which pages of the BLAS library's buffer are mapped, so
on a BLAS without such a buffer (MKL, Accelerate) it costs the product and nothing else.

>>> import neuroback as nb
>>> _ = nb.warm_blas()  # True if it ran now, False if it had run already (or is off)
>>> nb.warm_blas()  # once per process
False
"""

from __future__ import annotations

import threading

import numpy as np

from .switches import env_flag

__all__ = ["WARMUP_SIZE", "warm_blas", "warmed"]

#: the side of the square float32 product :func:`warm_blas` runs: measured, 512 did not
#: always give the fast speed, 768 and 1024 did (in every try)
WARMUP_SIZE = 768

_lock = threading.Lock()
_warmed = False


def warm_blas(*, size: int = WARMUP_SIZE) -> bool:
    """Run one ``size x size`` float32 matrix product, once per process; ``True`` if it
    ran now, ``False`` if it had already run or ``NEUROBACK_WARM_BLAS`` is off.

    ``size`` must be a positive integer (``ValueError`` otherwise).
    """
    global _warmed
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"warm_blas: size must be a positive integer, got {size!r}.")
    with _lock:  # a second caller waits until the product is done
        if _warmed or not env_flag("NEUROBACK_WARM_BLAS", default=True):
            return False
        a = np.ones((size, size), dtype=np.float32)
        a @ a  # the product itself is the point: it goes through the BLAS buffer
        _warmed = True  # only once it succeeded: an interrupted warm-up runs again
    return True


def warmed() -> bool:
    """Whether :func:`warm_blas` has run in this process."""
    return _warmed
