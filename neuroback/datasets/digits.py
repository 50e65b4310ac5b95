"""The 8x8 handwritten digits that scikit-learn ships inside its package (no download).

1,797 grey-scale images of the digits 0-9, 8x8 pixels with values 0-16
(the UCI "optical recognition of handwritten digits" test set).
"""

from __future__ import annotations

import numpy as np

__all__ = ["load_digits"]


def load_digits(*, flatten: bool = True, scale: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)``: images as float32 (``(1797, 64)``, or ``(1797, 8, 8)`` without
    ``flatten``), scaled to ``[0, 1]`` by default, and int64 labels 0-9.

    Needs scikit-learn (the ``examples`` extra).
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as exc:
        raise ImportError(
            "The digits dataset is read from scikit-learn's package data, and scikit-learn is "
            'not installed. Install the examples extra: pip install "neuroback[examples]" '
            "(or pip install scikit-learn)."
        ) from exc
    bunch = sklearn_digits()
    x = np.asarray(bunch.images if not flatten else bunch.data, dtype=np.float32)
    if scale:
        x /= 16.0
    return x, np.asarray(bunch.target, dtype=np.int64)
