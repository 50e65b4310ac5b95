"""Flattening optimizer and transform state into a list of leaves, and back.

Transform states are small trees (tuples, NamedTuples, dicts of arrays and
numbers). ``state_dict()`` saves their leaves in a fixed order; loading puts
saved leaves back into a freshly initialized tree of the same structure.

>>> from neuroback.tree import leaves, replace_leaves
>>> state = ({"b": 2, "a": 1}, (3, None))
>>> leaves(state)
[1, 2, 3]
>>> replace_leaves(state, iter([10, 20, 30]))
({'a': 10, 'b': 20}, (30, None))
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

__all__ = ["is_array", "leaves", "replace_leaves"]


def is_array(x: Any) -> bool:
    """Whether ``x`` looks like an array of some backend (it has a shape and a dtype)."""
    return hasattr(x, "shape") and hasattr(x, "dtype")


def leaves(tree: Any) -> list[Any]:
    """The non-``None`` leaves of ``tree``, mapping keys visited in sorted order."""
    if isinstance(tree, Mapping):
        return [leaf for key in sorted(tree) for leaf in leaves(tree[key])]
    if isinstance(tree, Sequence) and not isinstance(tree, str):
        return [leaf for item in tree for leaf in leaves(item)]
    if tree is None:
        return []
    return [tree]


def replace_leaves(tree: Any, new_leaves: Iterator[Any]) -> Any:
    """A tree shaped like ``tree`` whose leaves are taken, in :func:`leaves` order, from
    ``new_leaves`` (``None`` entries stay ``None``)."""
    if isinstance(tree, Mapping):
        return type(tree)({k: replace_leaves(tree[k], new_leaves) for k in sorted(tree)})
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):  # NamedTuple
        return type(tree)(*(replace_leaves(v, new_leaves) for v in tree))
    if isinstance(tree, Sequence) and not isinstance(tree, str):
        return type(tree)(replace_leaves(v, new_leaves) for v in tree)
    if tree is None:
        return None
    return next(new_leaves)
