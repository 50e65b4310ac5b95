"""Loaders for data on disk: ``.npz`` archives, ``.csv`` tables and IDX files (MNIST's format).

Every loader returns host NumPy arrays and raises an error naming the file and
what was wrong with it.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

__all__ = ["load_csv", "load_idx", "load_npz"]

PathLike = str | os.PathLike[str]


def _existing(path: PathLike) -> Path:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"No such data file: {p} (resolved to {p.resolve()}).")
    return p


def load_npz(
    path: PathLike, *, x_key: str = "x", y_key: str = "y"
) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` from a NumPy ``.npz`` archive (pickled objects are refused)."""
    p = _existing(path)
    try:
        with np.load(p, allow_pickle=False) as archive:
            missing = [k for k in (x_key, y_key) if k not in archive.files]
            if missing:
                raise KeyError(
                    f"{p} has no array named {missing[0]!r}; it holds {archive.files}. Pass "
                    f"x_key=/y_key= to choose."
                )
            return archive[x_key], archive[y_key]
    except ValueError as exc:  # not a zip / pickled content
        raise ValueError(f"{p} is not a readable .npz archive of plain arrays: {exc}") from exc


def load_csv(
    path: PathLike,
    *,
    target: int | str = -1,
    delimiter: str = ",",
    header: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` from a numeric CSV table; ``target`` is the label column (index or name).

    ``header=None`` detects a header line (any non-numeric field in the first row).
    """
    p = _existing(path)
    with p.open(newline="") as f:
        first = f.readline()
    fields = [s.strip() for s in first.rstrip("\r\n").split(delimiter)]
    if header is None:
        header = not all(_is_number(s) for s in fields)
    try:
        table = np.loadtxt(p, delimiter=delimiter, skiprows=1 if header else 0, ndmin=2)
    except ValueError as exc:
        raise ValueError(f"{p} is not a numeric CSV table: {exc}") from exc
    if isinstance(target, str):
        if not header or target not in fields:
            raise KeyError(f"{p} has no column named {target!r}; its header is {fields}.")
        column = fields.index(target)
    else:
        column = target if target >= 0 else table.shape[1] + target
        if not 0 <= column < table.shape[1]:
            raise IndexError(f"{p} has {table.shape[1]} columns; target={target} is out of range.")
    y = table[:, column]
    x = np.delete(table, column, axis=1)
    if np.all(y == np.round(y)):
        y = y.astype(np.int64)
    return x.astype(np.float32), y


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_IDX_TYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def load_idx(path: PathLike) -> np.ndarray:
    """An array from an IDX file (``train-images-idx3-ubyte``, optionally ``.gz``).

    The format: two zero bytes, a type code, the number of dimensions, one
    big-endian uint32 per dimension, then the data.
    """
    p = _existing(path)
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(
            f"{p} is not an IDX file (it should start with two zero bytes and a type code "
            f"0x08-0x0E; it starts with {raw[:4].hex()})."
        )
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{p} is truncated inside its IDX header.")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{p} declares shape {shape} ({expected} bytes of {dtype}) but holds "
            f"{len(raw) - header} bytes of data; the file is truncated or corrupt."
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )
