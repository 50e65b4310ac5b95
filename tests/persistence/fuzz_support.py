"""Shared by the fuzz tests of both file loaders: hypothesis settings, editing JSON trees,
reading and writing safetensors bytes."""

from __future__ import annotations

import copy
import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

#: safetensors: an 8-byte little-endian header length, then the JSON header
LENGTH = struct.Struct("<Q")

#: every fuzz test: no deadline (slow CI cores), no example database written into the tree
FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def fuzz(examples: int) -> settings:
    """The fuzz settings, with ``examples`` examples."""
    return settings(FUZZ, max_examples=examples)


def short(value: Any, limit: int = 400) -> str:
    """``repr(value)``, cut for an assertion message."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


#: A value meaning "delete what is at this path" (for :func:`replaced`).
DELETE = object()


def paths(tree: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path (keys and indices) of every value in a JSON tree, the root included."""
    yield prefix
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from paths(value, (*prefix, index))


def get_at(tree: Any, path: tuple[Any, ...]) -> Any:
    """The value at ``path`` in ``tree``, or :data:`DELETE` where an earlier edit removed it."""
    for step in path:
        if (isinstance(tree, dict) and step in tree) or (
            isinstance(tree, list) and isinstance(step, int) and step < len(tree)
        ):
            tree = tree[step]
        else:
            return DELETE
    return tree


def replaced(tree: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy of ``tree`` with the value at ``path`` replaced, deleted (:data:`DELETE`), or
    appended (a list's length as the last index)."""
    if not path:
        return copy.deepcopy(value)
    out = copy.deepcopy(tree)
    parent = out
    for step in path[:-1]:
        parent = parent[step]
    if value is DELETE:
        del parent[path[-1]]
    elif isinstance(parent, list) and path[-1] == len(parent):
        parent.append(copy.deepcopy(value))
    else:
        parent[path[-1]] = copy.deepcopy(value)
    return out


def decode(data: bytes) -> tuple[int, dict[str, Any]]:
    """Where a safetensors file's data begins, and its JSON header."""
    (length,) = LENGTH.unpack(data[:8])
    raw = json.loads(data[8 : 8 + length])
    return 8 + length, raw


def write(folder: Path, data: bytes, name: str = "fuzzed.safetensors") -> Path:
    path = folder / name
    path.write_bytes(data)
    return path
