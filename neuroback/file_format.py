"""neuroback's file format: a safetensors file whose header says what it holds.

Model files (:func:`neuroback.save`) and checkpoints (``Trainer.save_checkpoint``) are
both `safetensors <https://huggingface.co/docs/safetensors>`_ files, readable by any
safetensors reader:

* the arrays are the file's tensors, named by what they are (``model/0.W``,
  ``optimizer/slots/0.W/exp_avg``, ...), little-endian, C order, each stored once;
* the header's ``__metadata__`` holds one key, ``"neuroback"``, whose value is a JSON
  object: ``format`` (``"neuroback"``), ``format_version`` (an integer, :data:`FORMAT_VERSION`
  for files this version writes), ``kind`` (``"model"`` or ``"checkpoint"``),
  ``neuroback_version``, and the kind's own entries (the architecture, provenance,
  user metadata, the training state).

Nothing is pickled and nothing in a file is ever executed: reading parses JSON and
copies arrays. Every way a file can be wrong (empty, truncated, damaged, not a
safetensors file, a safetensors file that is not neuroback's, a newer format version,
a header of the wrong shape) raises :class:`~neuroback.errors.FileFormatError`, saying
what was found; no error of a library underneath escapes.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .atomic_write import write_atomically
from .errors import FileFormatError

__all__ = ["FORMAT_VERSION", "read_file", "read_header", "write_file"]

#: The format version this neuroback writes (and the newest it reads).
FORMAT_VERSION = 1

#: The key of ``__metadata__`` that holds neuroback's header.
HEADER_KEY = "neuroback"

# safetensors: an 8-byte little-endian header length, then that many bytes of JSON
_LENGTH = struct.Struct("<Q")
# a header larger than this is not one neuroback wrote (it holds names and JSON only)
_MAX_HEADER = 100 * 2**20
#: bytes per element of each safetensors dtype neuroback reads
_WIDTHS = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2}
_WIDTHS |= {"I16": 2, "U16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def write_file(
    path: str | os.PathLike[str], kind: str, header: Mapping[str, Any], tensors: Mapping[str, Any]
) -> Path:
    """Write ``tensors`` (host arrays) and ``header`` (JSON values) atomically to ``path``."""
    from safetensors.numpy import save

    from . import __version__

    full = {
        "format": "neuroback",
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "neuroback_version": __version__,
        **header,
    }
    text = json.dumps(full, allow_nan=False, sort_keys=True)
    arrays = {name: np.asarray(value, order="C") for name, value in tensors.items()}
    data = save(arrays, metadata={HEADER_KEY: text})
    return write_atomically(path, [data])


def read_header(path: str | os.PathLike[str], *, kind: str | None = None) -> dict[str, Any]:
    """neuroback's header of the file at ``path``, without reading its arrays."""
    with _open(path) as f:
        size = os.fstat(f.fileno()).st_size
        raw = _raw_header(f, size, path)
    return _neuroback_header(raw, path, kind)


def read_file(
    path: str | os.PathLike[str], *, kind: str | None = None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """neuroback's header and every array of the file at ``path`` (host NumPy arrays).

    ``kind`` (``"model"`` or ``"checkpoint"``), if given, is the kind the caller needs.
    """
    from safetensors.numpy import load

    with _open(path) as f:  # the header is checked before the arrays are read
        size = os.fstat(f.fileno()).st_size
        raw = _raw_header(f, size, path)
        header = _neuroback_header(raw, path, kind)
        f.seek(0)
        data = f.read()
    try:
        tensors = load(data)
    except Exception as exc:  # the library's own errors: a damaged or truncated file
        raise FileFormatError(
            f"{path} is damaged: its arrays cannot be read ({type(exc).__name__}: {exc}). "
            f"Was the file cut short or changed? Use another copy."
        ) from None
    return header, tensors


# -- reading the header ----------------------------------------------------------------------
def _open(path: str | os.PathLike[str]) -> Any:
    target = Path(path)
    if target.is_dir():
        raise FileFormatError(f"{target} is a directory, not a neuroback file.")
    try:
        return open(target, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"No such file: {target}. Check the path (neuroback.save and "
            f"Trainer.save_checkpoint write the files neuroback reads)."
        ) from None


def _raw_header(f: Any, size: int, path: Any) -> dict[str, Any]:
    """The safetensors JSON header, checked for structure against the file's size."""
    if size == 0:
        raise FileFormatError(f"{path} is empty (0 bytes): it is not a neuroback file.")
    head = f.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise FileFormatError(f"{path} is {size} bytes long, too short to be a neuroback file.")
    (length,) = _LENGTH.unpack(head)
    if length > min(_MAX_HEADER, size - _LENGTH.size):
        raise FileFormatError(
            f"{path} is not a neuroback file (it does not start with a safetensors header, or it "
            f"was cut short: the header claims {length} bytes, the file has {size})."
        )
    text = f.read(length)
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # deep nesting: RecursionError
        raise FileFormatError(
            f"{path} is not a neuroback file (its header is not the JSON a safetensors file "
            f"starts with)."
        ) from None
    if not isinstance(header, dict):
        raise FileFormatError(f"{path} is not a neuroback file (its header is not a JSON object).")
    end = _LENGTH.size + length
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        _check_entry(name, entry, size - end, path)
    return header


def _check_entry(name: str, entry: Any, data_size: int, path: Any) -> None:
    ok = (
        isinstance(entry, dict)
        and isinstance(entry.get("dtype"), str)
        and entry["dtype"] in _WIDTHS
        and isinstance(entry.get("shape"), list)
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in entry["shape"])
        and isinstance(entry.get("data_offsets"), list)
        and len(entry["data_offsets"]) == 2
        and all(isinstance(o, int) and not isinstance(o, bool) for o in entry["data_offsets"])
    )
    if not ok:
        raise FileFormatError(f"{path} is damaged: the header entry of {name!r} is malformed.")
    start, stop = entry["data_offsets"]
    if not 0 <= start <= stop <= data_size:
        raise FileFormatError(
            f"{path} is damaged or truncated: the array {name!r} lies at bytes {start}..{stop} "
            f"but the data holds {data_size} bytes."
        )
    if math.prod(entry["shape"]) * _WIDTHS[entry["dtype"]] != stop - start:
        raise FileFormatError(
            f"{path} is damaged: the array {name!r} has shape {entry['shape']} but "
            f"{stop - start} bytes."
        )


def _neuroback_header(raw: dict[str, Any], path: Any, kind: str | None) -> dict[str, Any]:
    meta = raw.get("__metadata__")
    text = meta.get(HEADER_KEY) if isinstance(meta, dict) else None
    if not isinstance(text, str):
        raise FileFormatError(
            f"{path} is a safetensors file but not a neuroback file (its header has no "
            f"{HEADER_KEY!r} entry). To load bare weights into a model, read them with "
            f"safetensors.numpy.load_file and call model.load_state_dict."
        )
    try:
        header = json.loads(text)
    except (ValueError, RecursionError):
        raise FileFormatError(f"{path} is damaged: neuroback's header is not valid JSON.") from None
    if not isinstance(header, dict) or header.get("format") != "neuroback":
        raise FileFormatError(f"{path} is damaged: neuroback's header is not a neuroback header.")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise FileFormatError(f"{path} is damaged: its format version is {version!r}.")
    if version > FORMAT_VERSION:
        raise FileFormatError(
            f"{path} was written in format version {version} by neuroback "
            f"{header.get('neuroback_version')!r}; this neuroback reads versions up to "
            f"{FORMAT_VERSION}. Upgrade neuroback: pip install -U neuroback."
        )
    found = header.get("kind")
    if found not in ("model", "checkpoint"):
        raise FileFormatError(f"{path} is damaged: its kind is {found!r}.")
    if kind is not None and found != kind:
        raise FileFormatError(
            f"{path} is a {found} file, not a {kind} file. Training resumes from a checkpoint "
            f"(Trainer.save_checkpoint, ModelCheckpoint); neuroback.save writes a model file, "
            f"which neuroback.load reads."
        )
    return header
