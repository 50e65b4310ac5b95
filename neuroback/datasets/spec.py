"""Data named in a config, on the command line, or in a model file's metadata.

A *data spec* is a JSON/TOML mapping that says where ``(x, y)`` come from and how they are
split, so a run can be repeated and ``neuroback evaluate`` can find a model's held-out
data again from the model file alone:

* ``{"dataset": "digits"}``: a built-in dataset (:data:`BUILTIN`), with ``options``
  passed to its loader (``{"dataset": "two_spirals", "options": {"n": 400}}``);
* ``{"path": "train.npz"}`` (``x_key``/``y_key``), ``{"path": "table.csv"}``
  (``target``: the label column), or ``{"path": "images-idx3-ubyte", "labels":
  "labels-idx1-ubyte"}`` (IDX, MNIST's format; images are flattened);
* ``scale``: divide ``x`` by this number (255 for 8-bit images);
* ``split``: ``{"val": 0.1, "test": 0.2, "stratify": true, "seed": 0}``, the fractions
  held out for validation and for the test (:func:`~neuroback.datasets.train_val_test_split`).

>>> from neuroback.datasets.spec import load_split
>>> spec = {"dataset": "xor", "options": {"n": 40}, "split": {"val": 0.25, "test": 0.25}}
>>> parts = load_split(spec)
>>> [len(x) for x, _ in parts]
[20, 10, 10]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .digits import load_digits
from .files import load_csv, load_idx, load_npz
from .splits import train_val_test_split
from .synthetic import noisy_sine, two_moons, two_spirals, xor

__all__ = [
    "BUILTIN",
    "SPEC_KEYS",
    "SPLIT_KEYS",
    "check_spec",
    "load_data",
    "load_inputs",
    "load_split",
]

#: The built-in datasets by name.
BUILTIN: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "digits": load_digits,
    "xor": xor,
    "two_spirals": two_spirals,
    "two_moons": two_moons,
    "noisy_sine": noisy_sine,
}
#: Every key a data spec may have.
SPEC_KEYS = ("dataset", "path", "options", "x_key", "y_key", "target", "labels", "scale", "split")
#: Every key of ``split``, with its default.
SPLIT_KEYS: dict[str, Any] = {"val": 0.1, "test": 0.2, "stratify": False, "seed": 0}


def check_spec(spec: Any, where: str = "[data]") -> dict[str, Any]:
    """``spec`` checked and completed with the defaults (a new dict); raises ConfigError."""
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where} must be a table (a mapping), got {type(spec).__name__}.")
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], SPEC_KEYS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"{where or 'the data'} has the unknown key {unknown[0]!r}{hint}; the keys are "
            f"{list(SPEC_KEYS)}."
        )
    has_name, has_path = "dataset" in spec, "path" in spec
    if has_name == has_path:
        raise ConfigError(
            f"{where} needs exactly one of dataset = <a built-in name: {sorted(BUILTIN)}> or "
            f'path = "<a .npz, .csv or IDX file>".'
        )
    out = dict(spec)
    if has_name and spec["dataset"] not in BUILTIN:
        import difflib

        close = difflib.get_close_matches(str(spec["dataset"]), list(BUILTIN), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"{where} dataset = {spec['dataset']!r} is not a built-in dataset "
            f"({sorted(BUILTIN)}).{hint} Use path = ... for a file."
        )
    for key in ("path", "labels", "x_key", "y_key"):
        if key in spec and not isinstance(spec[key], str):
            raise ConfigError(f"{where} {key} must be a string, got {spec[key]!r}.".lstrip())
    target = spec.get("target", -1)
    if isinstance(target, bool) or not isinstance(target, int | str):
        raise ConfigError(
            f"{where} target must be a column index or a column name, got {target!r}.".lstrip()
        )
    if "dataset" in spec:
        extra = sorted(set(spec) & {"x_key", "y_key", "target", "labels"})
        if extra:
            raise ConfigError(
                f"{where} {extra} apply to a data file (path = ...), not to the built-in "
                f"dataset {spec['dataset']!r}.".lstrip()
            )
    if "options" in spec and not isinstance(spec["options"], Mapping):
        raise ConfigError(f"{where} options must be a table of the loader's arguments.")
    if "scale" in spec and (
        isinstance(spec["scale"], bool)
        or not isinstance(spec["scale"], int | float)
        or not spec["scale"] > 0
    ):
        raise ConfigError(f"{where} scale must be a positive number, got {spec['scale']!r}.")
    split = spec.get("split", {})
    if not isinstance(split, Mapping):
        raise ConfigError(f"{where} split must be a table like {SPLIT_KEYS}.")
    bad = sorted(set(split) - set(SPLIT_KEYS))
    if bad:
        raise ConfigError(f"{where} split has unknown keys {bad}; the keys are {list(SPLIT_KEYS)}.")
    split = {**SPLIT_KEYS, **split}
    for key in ("val", "test"):
        value = split[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise ConfigError(f"{where} split.{key} must be a fraction in [0, 1), got {value!r}.")
    if split["val"] + split["test"] >= 1:
        raise ConfigError(f"{where} split.val + split.test must be below 1 (training needs data).")
    if not isinstance(split["stratify"], bool):
        raise ConfigError(f"{where} split.stratify must be true or false.")
    seed = split["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"{where} split.seed must be a non-negative integer, got {seed!r}.")
    out["split"] = split
    return out


def load_data(
    spec: Mapping[str, Any], *, base: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` as the spec says (not split); relative paths are read from ``base``."""
    try:
        return _load_data(spec, base)
    except (ValueError, KeyError, IndexError, EOFError, UnicodeDecodeError) as exc:
        if isinstance(exc, ConfigError):
            raise
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        where = spec.get("path", spec.get("dataset")) if isinstance(spec, Mapping) else spec
        raise ConfigError(f"[data] cannot read {where}: {message}") from None


def _load_data(spec: Mapping[str, Any], base: Path | None) -> tuple[np.ndarray, np.ndarray]:
    spec = check_spec(spec)
    if "dataset" in spec:
        try:
            x, y = BUILTIN[spec["dataset"]](**dict(spec.get("options", {})))
        except TypeError as exc:
            raise ConfigError(f"[data] options do not fit {spec['dataset']}: {exc}") from None
    else:
        path = _resolve(spec["path"], base)
        suffix = "".join(path.suffixes[-2:]) if path.suffix == ".gz" else path.suffix
        if suffix == ".npz":
            x, y = load_npz(path, x_key=spec.get("x_key", "x"), y_key=spec.get("y_key", "y"))
        elif suffix == ".csv":
            x, y = load_csv(path, target=spec.get("target", -1))
        else:
            labels = spec.get("labels") or _idx_labels_beside(path)
            if labels is None:
                raise ConfigError(
                    f"[data] path = {spec['path']!r}: cannot tell the format or find its "
                    f"labels. A .npz archive (x and y arrays), a .csv table (target = the label "
                    f"column), or an IDX file with labels = the IDX file of its labels (found "
                    f"by itself for MNIST's names: *-images-idx3-ubyte beside "
                    f"*-labels-idx1-ubyte)."
                )
            x = load_idx(path)
            x = x.reshape(len(x), -1)
            y = load_idx(_resolve(str(labels), base)).astype(np.int64)
    return _features(x, spec), y


def load_inputs(spec: Mapping[str, Any], *, base: Path | None = None) -> np.ndarray:
    """The inputs ``x`` alone (for predictions): a built-in dataset's ``x``, an archive's
    ``x_key`` array, every column of a CSV table (no label column), an IDX file's images."""
    spec = check_spec(spec)
    if "dataset" in spec:
        return load_data(spec, base=base)[0]
    path = _resolve(spec["path"], base)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            key = spec.get("x_key", "x")
            if key not in archive.files:
                raise ConfigError(f"{path} has no array {key!r}; it holds {archive.files}.")
            x = archive[key]
    elif path.suffix == ".csv":
        if "target" in spec:
            return load_data(spec, base=base)[0]
        with path.open() as f:
            first = f.readline().strip().split(",")
        header = not all(_is_number(v) for v in first)
        x = np.loadtxt(path, delimiter=",", skiprows=int(header), ndmin=2).astype(np.float32)
    else:
        x = load_idx(path)
        x = x.reshape(len(x), -1)
    return _features(x, spec)


def load_split(
    spec: Mapping[str, Any], *, base: Path | None = None
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """``(train, validation, test)`` pairs, as the spec's ``split`` says."""
    spec = check_spec(spec)
    x, y = load_data(spec, base=base)
    split = spec["split"]
    return train_val_test_split(
        x, y, val=split["val"], test=split["test"], seed=split["seed"], stratify=split["stratify"]
    )


def _resolve(path: str, base: Path | None) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() or base is None else base / p


def _features(x: Any, spec: Mapping[str, Any]) -> np.ndarray:
    """Inputs as floats (IDX and CSV files hold integers), divided by ``scale`` if given."""
    x = np.asarray(x)
    if x.dtype.kind in "iub":
        x = x.astype(np.float32)
    if "scale" in spec:
        x = x / np.asarray(spec["scale"], dtype=x.dtype)
    return x


def _idx_labels_beside(path: Path) -> Path | None:
    """MNIST's naming: ``train-images-idx3-ubyte[.gz]`` has ``train-labels-idx1-ubyte[.gz]``."""
    if "images-idx3" not in path.name:
        return None
    twin = path.with_name(path.name.replace("images-idx3", "labels-idx1"))
    return twin if twin.is_file() else None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
