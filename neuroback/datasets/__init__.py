"""Datasets: small synthetic sets, loaders for files on disk, the embedded digits, splits.

All return host NumPy arrays; the Trainer moves them to the backend and casts
them to the model's dtype once, when training starts.
"""

from .digits import load_digits
from .files import load_csv, load_idx, load_npz
from .splits import train_val_test_split
from .synthetic import noisy_sine, two_moons, two_spirals, xor

__all__ = [
    "load_csv",
    "load_digits",
    "load_idx",
    "load_npz",
    "noisy_sine",
    "train_val_test_split",
    "two_moons",
    "two_spirals",
    "xor",
]
