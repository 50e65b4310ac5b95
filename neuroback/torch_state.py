"""PyTorch-style state dicts: move weights between neuroback and PyTorch, both ways.

A model trained in PyTorch predicts the same in neuroback once its ``state_dict`` is
read here, and back. The names and layouts follow PyTorch's modules: a Sequential's
children are ``"0"``, ``"1"``, ... in both libraries, so the key of a tensor is the
dotted path of its layer and the PyTorch name of the tensor (``"0.weight"``). Each
layer class declares its own mapping (the core names no layer):

* :attr:`Layer.torch_layout <neuroback.Layer.torch_layout>` maps each of the layer's
  parameter and state names to the PyTorch name, with ``".T"`` appended where the array
  is stored transposed. Dense's ``{"W": "weight.T", "b": "bias"}`` says that
  ``nn.Linear.weight`` has shape ``(out_features, in_features)``, the transpose of
  ``W``; a convolution's weight has PyTorch's layout already.
* :attr:`Layer.torch_extra <neuroback.Layer.torch_extra>` names tensors PyTorch keeps
  and neuroback does not need (BatchNorm's ``num_batches_tracked``, only read by
  PyTorch when ``momentum=None``): written as 0-d int64 zeros, so PyTorch's strict
  loading accepts the file, and ignored when read.

A layer with parameters or state and no ``torch_layout`` has no PyTorch counterpart
here, and converting a model that holds it is refused with its name.

Files are safetensors, what ``safetensors.torch.save_file(module.state_dict(), path)``
writes and ``safetensors.torch.load_file`` reads::

    nb.save_torch_state(model, "model.safetensors")
    # in PyTorch: module.load_state_dict(safetensors.torch.load_file("model.safetensors"))
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .atomic_write import write_atomically
from .errors import StateMismatchError
from .layer import Layer

__all__ = [
    "from_torch_state_dict",
    "load_torch_state",
    "save_torch_state",
    "to_torch_state_dict",
]


def _leaves(model: Layer, prefix: str = "") -> Iterator[tuple[str, Layer]]:
    """Every layer that holds arrays itself, with its dotted prefix (``"2."``)."""
    if model._parameters or model._state:
        yield prefix, model
    for name, child in model.children().items():
        yield from _leaves(child, f"{prefix}{name}.")


def _layout(prefix: str, layer: Layer) -> Mapping[str, str]:
    layout = type(layer).torch_layout
    if layout is None:
        where = prefix.rstrip(".") or "the model itself"
        arrays = sorted([*layer._parameters, *layer._state])
        raise StateMismatchError(
            f"{type(layer).__name__} (at {where}) has no PyTorch counterpart declared: its "
            f"class sets no torch_layout, so its arrays {arrays} "
            f"have no PyTorch names. Declare torch_layout on the class (see "
            f"neuroback.torch_state), or convert a model without it."
        )
    own = {*layer._parameters, *layer._state}
    unmapped = own - set(layout)
    if unmapped:
        raise StateMismatchError(
            f"{type(layer).__name__}.torch_layout maps {sorted(layout)}, but the layer also "
            f"holds {sorted(unmapped)}: the layout must name each of its arrays."
        )
    return {k: v for k, v in layout.items() if k in own}  # BatchNorm(affine=False): no gamma


def _split(torch_name: str) -> tuple[str, bool]:
    return (torch_name[:-2], True) if torch_name.endswith(".T") else (torch_name, False)


def _host(layer: Layer, name: str) -> np.ndarray:
    array = layer._parameters[name].value if name in layer._parameters else layer._state[name]
    return np.asarray(layer.backend.to_host(array))


def to_torch_state_dict(model: Layer) -> dict[str, np.ndarray]:
    """Host arrays by PyTorch name, in PyTorch's layouts (C-contiguous copies).

    >>> import neuroback as nb
    >>> model = nb.Sequential(nb.layers.Dense(3, 2), nb.layers.ReLU(), nb.layers.Dense(2, 1))
    >>> {k: v.shape for k, v in nb.to_torch_state_dict(model).items()}
    {'0.weight': (2, 3), '0.bias': (2,), '2.weight': (1, 2), '2.bias': (1,)}
    """
    out: dict[str, np.ndarray] = {}
    for prefix, layer in _leaves(model):
        for ours, theirs in _layout(prefix, layer).items():
            torch_name, transposed = _split(theirs)
            host = _host(layer, ours)
            out[prefix + torch_name] = np.ascontiguousarray(host.T if transposed else host)
        for torch_name, value in type(layer).torch_extra.items():
            out[prefix + torch_name] = np.asarray(value, dtype=np.int64)
    return out


def from_torch_state_dict(model: Layer, state: Mapping[str, Any]) -> None:
    """Copy a PyTorch-style state dict (host arrays, or anything ``np.asarray`` reads)
    into ``model``, in place.

    Every name and shape is checked first, in PyTorch's names, and every problem listed
    in one :class:`~neuroback.errors.StateMismatchError`; then dtypes and finite values
    are checked by :meth:`Layer.load_state_dict <neuroback.Layer.load_state_dict>`. A
    refused state dict changes nothing.
    """
    if not isinstance(state, Mapping):
        raise StateMismatchError(
            f"A PyTorch state dict is a mapping of name to tensor, got {type(state).__name__}."
        )
    ours: dict[str, Any] = {}
    expected: dict[str, tuple[int, ...]] = {}
    ignored: set[str] = set()
    problems: list[str] = []
    for prefix, layer in _leaves(model):
        ignored |= {prefix + name for name in type(layer).torch_extra}
        for own, theirs in _layout(prefix, layer).items():
            torch_name, transposed = _split(theirs)
            key = prefix + torch_name
            shape = tuple(_host(layer, own).shape)
            expected[key] = shape[::-1] if transposed else shape
            if key not in state:
                problems.append(f"  {key}: missing (neuroback's {prefix}{own})")
                continue
            value = _as_numpy(state[key])
            if value is None:
                problems.append(f"  {key}: not an array ({type(state[key]).__name__})")
                continue
            if tuple(value.shape) != expected[key]:
                problems.append(
                    f"  {key}: expected shape {expected[key]}, got {tuple(value.shape)}"
                )
                continue
            ours[prefix + own] = value.T if transposed else value
    problems += [
        f"  {key}: not in this model" for key in sorted(set(state) - set(expected) - ignored)
    ]
    if problems:
        raise StateMismatchError(
            f"Cannot load this PyTorch state dict into {type(model).__name__} "
            f"({len(problems)} problem(s)):\n" + "\n".join(problems) + "\nDoes the PyTorch "
            "module have the same layers in the same order (nn.Sequential children are "
            "numbered as here)?"
        )
    model.load_state_dict(ours)


def _as_numpy(value: Any) -> np.ndarray | None:
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch.Tensor
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        return None
    return None if array.dtype == object else array


def save_torch_state(model: Layer, path: str | os.PathLike[str]) -> Path:
    """Write :func:`to_torch_state_dict` as a safetensors file, atomically (a failed write
    leaves any previous file whole); PyTorch reads it with ``safetensors.torch.load_file``."""
    from safetensors.numpy import save

    data = save(to_torch_state_dict(model), metadata={"format": "pt"})
    return write_atomically(path, [data])


def load_torch_state(model: Layer, path: str | os.PathLike[str]) -> None:
    """Read a safetensors file of PyTorch tensors (``safetensors.torch.save_file``) into
    ``model`` with :func:`from_torch_state_dict`."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"No PyTorch state file at {file}.")
    try:
        state = load_file(str(file))
    except (SafetensorError, TypeError, ValueError) as exc:
        raise StateMismatchError(
            f"{file} is not a safetensors file NumPy can read ({exc}). bfloat16 tensors have "
            f"no NumPy type: convert them in PyTorch first (tensor.float())."
        ) from exc
    from_torch_state_dict(model, state)
