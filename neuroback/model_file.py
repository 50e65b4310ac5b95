"""Saving and loading models: :func:`save`, :func:`load` and :func:`load_metadata`.

A model file holds everything that rebuilds the model, and nothing that runs code:

* ``architecture``: the model's spec (``{"type": "neuroback:Sequential", "config": ...}``,
  nested; each component by its qualified registry name and its ``config()``);
* the weights and non-trainable state as tensors named ``model/<dotted name>``
  (:meth:`~neuroback.Layer.state_dict`), a shared parameter once, and ``shared``: the
  other names it had, so loading shares it again;
* ``provenance``: for each component, the distribution (and its version) that provided
  it, so a missing plugin is named with the command that installs it;
* ``metadata``: the caller's JSON object (the command line records the loss, the metrics
  and the data there), readable with :func:`load_metadata` without building the model.

>>> import tempfile, pathlib, numpy as np, neuroback as nb
>>> nb.seed(0)
>>> model = nb.Sequential(nb.layers.Dense(2, 3), nb.layers.ReLU(), nb.layers.Dense(3, 1))
>>> path = pathlib.Path(tempfile.mkdtemp()) / "model.safetensors"
>>> _ = nb.save(model, path, metadata={"note": "demo"})
>>> again = nb.load(path)
>>> x = np.ones((4, 2), dtype=np.float32)
>>> bool(np.array_equal(again(x), model(x)))
True
>>> nb.load_metadata(path)
{'note': 'demo'}
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .backend import BackendLike, configured_backend, get_backend, use_backend
from .config import build, to_spec
from .errors import FileFormatError, MissingPluginError
from .file_format import read_file, read_header, write_file
from .layer import Layer
from .plugin_system import get_registry
from .plugin_system.registry import RUNTIME_DISTRIBUTION, install_hint, normalize
from .rng import untouched_default_rng
from .weights import shared_names, tie_shared

__all__ = ["load", "load_metadata", "save"]

#: Tensor names of a model's arrays start with this, in model files and checkpoints alike.
MODEL_PREFIX = "model/"


def save(
    model: Layer, path: str | os.PathLike[str], *, metadata: Mapping[str, Any] | None = None
) -> Path:
    """Write ``model`` (architecture, weights, state) and ``metadata`` to ``path``, atomically.

    ``metadata`` is a JSON object (string keys; numbers, strings, lists, objects; no NaN).
    The file at ``path`` is replaced only once the new one is complete. Returns the path.
    """
    if not isinstance(model, Layer):
        raise TypeError(f"neuroback.save needs a Layer (a model), got {type(model).__name__}.")
    header = {**model_header(model), "metadata": _metadata(metadata)}
    return write_file(path, "model", header, model_tensors(model))


def load(path: str | os.PathLike[str], *, backend: BackendLike = None) -> Layer:
    """Rebuild the model saved at ``path`` (a model file or a checkpoint) on ``backend``.

    ``backend`` defaults to the ``use_backend`` context or ``NEUROBACK_BACKEND``, else
    NumPy; a model saved from the GPU loads on the CPU and back. Raises
    :class:`~neuroback.errors.FileFormatError` for a file that is not a complete
    neuroback file and :class:`~neuroback.errors.MissingPluginError` (naming the
    distribution to install) for a component that is not installed.
    """
    header, tensors = read_file(path)
    return build_model(header, tensors, path, backend=backend)


def load_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``metadata`` saved with a model, read from the header alone (no model is built)."""
    header = read_header(path)
    metadata = header.get("metadata", {})
    if not isinstance(metadata, dict):
        raise FileFormatError(f"{path} is damaged: its metadata is not a JSON object.")
    return metadata


# -- the parts a checkpoint shares ---------------------------------------------------------
def model_header(model: Layer) -> dict[str, Any]:
    """The architecture, the shared names and the provenance of ``model``."""
    architecture = to_spec(model)
    return {
        "architecture": architecture,
        "shared": shared_names(model),
        "provenance": provenance(architecture),
    }


def model_tensors(model: Layer) -> dict[str, Any]:
    return {MODEL_PREFIX + name: value for name, value in model.state_dict().items()}


def provenance(tree: Any, *, names: Iterable[str] = ()) -> dict[str, dict[str, str]]:
    """For every qualified component name of the specs in ``tree``, and each of ``names``:
    the distribution that provided it and its version (unregistered names are left out)."""
    registry = get_registry()
    by_name = {c.qualified_name: c for c in registry.components()}
    out: dict[str, dict[str, str]] = {}
    for qualified in [*_component_names(tree), *names]:
        comp = by_name.get(qualified)
        if comp is not None:
            out[qualified] = {"distribution": comp.distribution, "version": comp.version}
    return out


def build_model(
    header: Mapping[str, Any], tensors: Mapping[str, Any], path: Any, *, backend: BackendLike
) -> Layer:
    """The model a file's header describes, with the file's weights, on ``backend``."""
    target = get_backend(backend) if backend is not None else configured_backend()
    target = target or get_backend("numpy")
    architecture = header.get("architecture")
    if not isinstance(architecture, dict):
        raise FileFormatError(f"{path} is damaged: it holds no architecture.")
    check_plugins(header, path)
    try:
        with use_backend(target), untouched_default_rng():
            model = build("layers", architecture)
    except MissingPluginError as exc:
        raise MissingPluginError(f"{path} needs a component that is not installed: {exc}") from None
    except Exception as exc:  # a component of another kind, a damaged config: any error
        raise FileFormatError(
            f"{path}: its architecture cannot be rebuilt ({type(exc).__name__}: {exc})."
        ) from None
    if not isinstance(model, Layer):
        raise FileFormatError(f"{path}: its architecture does not describe a model.")
    shared = header.get("shared", {})
    weights = {k[len(MODEL_PREFIX) :]: v for k, v in tensors.items() if k.startswith(MODEL_PREFIX)}
    try:
        if not isinstance(shared, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in shared.items()
        ):
            raise FileFormatError("its list of shared names is malformed")
        tie_shared(model, shared)
        model.load_state_dict(weights)
    except Exception as exc:
        raise FileFormatError(
            f"{path}: its weights do not fit its own architecture: {exc}"
        ) from None
    return model


def check_plugins(header: Mapping[str, Any], path: Any) -> None:
    """Raise :class:`MissingPluginError` naming every component the file needs that is not
    registered here, each with the distribution to install."""
    recorded = header.get("provenance", {})
    if not isinstance(recorded, dict):
        raise FileFormatError(f"{path} is damaged: its provenance is not a JSON object.")
    components = get_registry().components()
    known = {c.qualified_name for c in components}
    installed = {normalize(c.distribution): c.version for c in components}
    missing = sorted(set(_component_names(header.get("architecture"))) - known)
    if not missing:
        return
    lines = []
    for qualified in missing:
        dist = qualified.rpartition(":")[0]
        info = recorded.get(qualified)
        version = info.get("version") if isinstance(info, dict) else None
        version = version if isinstance(version, str) else None
        get_registry().remember_missing(qualified, version)  # nb.layers.Name will say so too
        here = normalize(dist) in installed and normalize(dist) != RUNTIME_DISTRIBUTION
        if here:  # the plugin is installed, in a version without it
            pinned = f"=={version}" if isinstance(version, str) and version != "0" else ""
            lines.append(
                f"  {qualified}: the installed {dist} {installed[normalize(dist)]} has no such "
                f"component; install the version that wrote the file: pip install "
                f"{dist}{pinned}"
            )
        else:
            lines.append(f"  {qualified}: {install_hint(dist, version)}")
    raise MissingPluginError(
        f"{path} needs {len(missing)} component(s) that are not installed here:\n"
        + "\n".join(lines)
    )


def _component_names(tree: Any) -> Iterator[str]:
    """Every qualified ``type`` of the specs nested in ``tree`` (JSON values)."""
    if isinstance(tree, dict):
        kind = tree.get("type")
        if isinstance(kind, str) and ":" in kind and set(tree) <= {"type", "config"}:
            yield kind
        for value in tree.values():
            yield from _component_names(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _component_names(value)


def _metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping) or not all(isinstance(k, str) for k in metadata):
        raise TypeError(
            f"metadata must be a JSON object (a dict with string keys), got "
            f"{type(metadata).__name__}."
        )
    try:
        return json.loads(json.dumps(dict(metadata), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"metadata must hold JSON values only (numbers, strings, booleans, None, lists, "
            f"dicts with string keys; no NaN or infinity): {exc}. Convert arrays with "
            f".tolist() and NumPy scalars with float()."
        ) from None
