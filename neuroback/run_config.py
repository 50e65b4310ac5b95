"""Run configs: a TOML file that says what to train, on what, and how.

A config has six tables, each optional but ``[model]``, ``[loss]``, ``[optimizer]`` and
``[data]``::

    [data]                  # a data spec (neuroback.datasets.spec): dataset or path, split
    dataset = "digits"
    split = {val = 0.1, test = 0.2, stratify = true, seed = 0}

    [model]                 # layers = [...] (a Sequential), or type/config (any tree)
    layers = [
      {type = "Dense", config = {in_features = 64, out_features = 128}},
      {type = "ReLU"},
      {type = "Dense", config = {in_features = 128, out_features = 10}},
    ]

    [loss]
    type = "SoftmaxCrossEntropy"

    [optimizer]             # transforms and groups go in its config
    type = "Adam"
    config = {lr = 0.003}

    [[callbacks]]
    type = "EarlyStopping"
    config = {monitor = "val_loss", patience = 8}

    [trainer]               # the Trainer's and fit's arguments
    epochs = 60
    batch_size = 32

Every component is a spec (``{type = "Name", config = {...}}``, qualified names such as
``"my-plugin:Swish"`` allowed). :func:`check_config` validates all of it before anything
runs: an unknown table, key, component or argument, or a value of the wrong type is a
:class:`~neuroback.errors.ConfigError` that names its place (``[trainer] epochs``, with the
line when it can be found) and the closest valid name.
"""

from __future__ import annotations

import difflib
import inspect
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .config import build
from .datasets.spec import check_spec
from .errors import ComponentNotFoundError, ConfigError, NeurobackError
from .rng import seeded_default_rng

__all__ = [
    "TRAINER_KEYS",
    "RunConfig",
    "absolute_data_paths",
    "apply_overrides",
    "check_config",
    "default_config_text",
    "example_config_text",
    "example_names",
    "parse_config",
]

#: Every key of ``[trainer]`` with its default (``backend``: the environment's, or NumPy).
TRAINER_KEYS: dict[str, Any] = {
    "epochs": 10,
    "batch_size": 32,
    "seed": 0,
    "metrics": [],
    "shuffle": True,
    "drop_last": False,
    "log_every_n_steps": 50,
    "accumulate_steps": 1,
    "skip_nonfinite": True,
    "progress": True,
    "backend": "",
    "strategy": "single",
}
_TABLES = ("data", "model", "loss", "optimizer", "callbacks", "trainer")
_REQUIRED = ("data", "model", "loss", "optimizer")


@dataclass
class RunConfig:
    """A checked config: its resolved values (what ``config.toml`` of a run records) and the
    components built from it, ready to train."""

    #: The config with every default filled in (plain TOML values).
    resolved: dict[str, Any]
    model: Any
    loss: Any
    optimizer: Any
    callbacks: list[Any] = field(default_factory=list)

    @property
    def data(self) -> dict[str, Any]:
        return self.resolved["data"]

    @property
    def trainer(self) -> dict[str, Any]:
        return self.resolved["trainer"]


def default_config_text() -> str:
    """The TOML of the main job: the digits model (``neuroback train --print-config``)."""
    return example_config_text("digits")


def example_names() -> list[str]:
    """The example configs shipped in the package (``neuroback train NAME`` runs one)."""
    folder = resources.files("neuroback").joinpath("configs")
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def example_config_text(name: str) -> str:
    """The TOML of the shipped example ``name``."""
    if name not in example_names():
        raise ConfigError(
            f"No example config named {name!r}{_closest(name, example_names())}; the shipped "
            f"ones are {example_names()}."
        )
    return resources.files("neuroback").joinpath(f"configs/{name}.toml").read_text()


def parse_config(text: str, source: str = "config") -> dict[str, Any]:
    """The TOML ``text`` as a dict; a syntax error names the line and column."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}.") from None


def apply_overrides(config: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of ``config`` with each ``KEY=VALUE`` applied (``trainer.epochs=5``,
    ``optimizer.config.lr=0.01``, ``callbacks.0.config.patience=3``).

    VALUE is read as a TOML value (``5``, ``0.01``, ``true``, ``"text"``, ``[1, 2]``); a
    VALUE that is not one is taken as a string (``data.dataset=xor``).
    """
    import copy

    out = copy.deepcopy(config)
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE (e.g. trainer.epochs=5), got {item!r}.")
        try:
            value = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()
        path = key.split(".")
        if path[0] not in _TABLES:
            raise ConfigError(
                f"--set {item}: {path[0]!r} is not a config table{_closest(path[0], _TABLES)}; "
                f"the tables are {list(_TABLES)}."
            )
        target: Any = out
        for i, step in enumerate(path[:-1]):
            nxt = path[i + 1]
            if isinstance(target, list):
                if not step.isdigit() or int(step) >= len(target):
                    raise ConfigError(
                        f"--set {item}: {step!r} is not an index of a list of {len(target)}."
                    )
                target = target[int(step)]
                continue
            if step not in target:
                target[step] = [] if nxt.isdigit() else {}
            target = target[step]
        last = path[-1]
        if isinstance(target, list):
            if not last.isdigit() or int(last) >= len(target):
                raise ConfigError(
                    f"--set {item}: {last!r} is not an index of a list of {len(target)}."
                )
            target[int(last)] = value
        elif isinstance(target, dict):
            target[last] = value
        else:
            raise ConfigError(f"--set {item}: {'.'.join(path[:-1])} is not a table.")
    return out


def check_config(
    config: Mapping[str, Any],
    text: str = "",
    source: str = "config",
    *,
    overridden: Sequence[str] = (),
) -> RunConfig:
    """Validate ``config`` and build its components; raise :class:`ConfigError` naming the
    place of the first problem (``text``, the file's TOML, gives line numbers; a key set by
    one of the ``overridden`` ``KEY=VALUE`` items is said to come from ``--set``).

    The model's initial weights are drawn from ``[trainer] seed``, so a config repeats its
    run exactly (the default generator is left as it was).
    """
    at = _Locator(text, source, overridden)
    if not isinstance(config, Mapping):
        raise ConfigError(f"{source} must be a TOML document of tables.")
    unknown = [k for k in config if k not in _TABLES]
    if unknown:
        name = unknown[0]
        raise ConfigError(
            f"{at(name)}: unknown table [{name}]{_closest(name, _TABLES)}; the tables are "
            f"{list(_TABLES)}."
        )
    missing = [k for k in _REQUIRED if k not in config]
    if missing:
        raise ConfigError(f"{source} lacks the table [{missing[0]}] (it needs {list(_REQUIRED)}).")
    try:
        data = check_spec(config["data"], where="")
    except ConfigError as exc:
        raise ConfigError(f"{at('data')}: {' '.join(str(exc).split())}") from None
    trainer = _trainer_table(config.get("trainer", {}), at)
    model_spec = _model_spec(config["model"], at)
    if isinstance(config["model"], Mapping) and "layers" in config["model"]:
        for i, layer in enumerate(model_spec["config"]["layers"]):  # each at its own place
            _build(at, "model", "layers", layer, index=i, key="layers")
    with seeded_default_rng(trainer["seed"]):  # the initial weights repeat with the config
        model = _build(at, "model", "layers", model_spec)
    loss_spec = _spec(config["loss"], at, "loss")
    loss = _build(at, "loss", "losses", loss_spec)
    optimizer_spec = _spec(config["optimizer"], at, "optimizer")
    optimizer = _build(at, "optimizer", "optimizers", optimizer_spec)
    callbacks_raw = config.get("callbacks", [])
    if not isinstance(callbacks_raw, list):
        raise ConfigError(f"{at('callbacks')}: callbacks are an array of tables ([[callbacks]]).")
    callback_specs = [_spec(c, at, "callbacks", index=i) for i, c in enumerate(callbacks_raw)]
    callbacks = [
        _build(at, "callbacks", "callbacks", spec, index=i) for i, spec in enumerate(callback_specs)
    ]
    for name in trainer["metrics"]:
        try:
            from .training.components import resolve_metric

            resolve_metric(name)
        except (ComponentNotFoundError, ConfigError, TypeError, ValueError) as exc:
            raise ConfigError(f"{at('trainer', 'metrics')}: {exc}") from None
    resolved = {
        "data": data,
        "model": model_spec,
        "loss": loss_spec,
        "optimizer": optimizer_spec,
        "callbacks": callback_specs,
        "trainer": trainer,
    }
    return RunConfig(resolved, model, loss, optimizer, callbacks)


# -- the parts -----------------------------------------------------------------------------
def _trainer_table(raw: Any, at: _Locator) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{at('trainer')}: [trainer] must be a table.")
    out = dict(TRAINER_KEYS)
    for key, value in raw.items():
        if key not in TRAINER_KEYS:
            raise ConfigError(
                f"{at('trainer', key)}: unknown key {key!r}{_closest(key, TRAINER_KEYS)}; the "
                f"keys are {list(TRAINER_KEYS)}."
            )
        default = TRAINER_KEYS[key]
        ok: bool
        if isinstance(default, bool):
            ok, expected = isinstance(value, bool), "true or false"
        elif isinstance(default, int):
            low = 0 if key == "seed" else 1
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
            expected = "a non-negative integer" if low == 0 else "a positive integer"
        elif isinstance(default, list):
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
            expected = 'a list of metric names (["accuracy"])'
        else:
            ok, expected = isinstance(value, str), "a string"
        if not ok:
            raise ConfigError(f"{at('trainer', key)}: {key} must be {expected}, got {value!r}.")
        out[key] = value
    _check_strategy_name(out["strategy"], at)
    return out


def _check_strategy_name(name: str, at: _Locator) -> None:
    from .plugin_system import get_registry

    try:
        get_registry().get("strategies", name)
    except NeurobackError as exc:
        raise ConfigError(f"{at('trainer', 'strategy')}: {exc}") from None


def _model_spec(raw: Any, at: _Locator) -> dict[str, Any]:
    if isinstance(raw, Mapping) and "layers" in raw:
        extra = sorted(set(raw) - {"layers"})
        if extra:
            raise ConfigError(
                f"{at('model', extra[0])}: [model] holds either layers = [...] or type/config, "
                f"not both (found {extra})."
            )
        layers = raw["layers"]
        if not isinstance(layers, list) or not layers:
            raise ConfigError(
                f"{at('model', 'layers')}: layers must be a non-empty array of specs."
            )
        specs = [_spec(layer, at, "model", index=i, key="layers") for i, layer in enumerate(layers)]
        return {"type": "Sequential", "config": {"layers": specs}}
    return _spec(raw, at, "model")


def _spec(
    raw: Any, at: _Locator, table: str, *, index: int | None = None, key: str | None = None
) -> dict[str, Any]:
    place = at(table, key or "type", index=index)
    if isinstance(raw, str):
        return {"type": raw, "config": {}}
    if not isinstance(raw, Mapping) or "type" not in raw:
        raise ConfigError(
            f'{place}: a component is a table with type = "Name" (and config = {{...}}), got '
            f"{raw!r}."
        )
    extra = sorted(set(raw) - {"type", "config"})
    if extra:
        raise ConfigError(
            f"{place}: unknown keys {extra}; a component has type and config (its arguments go "
            f"under config)."
        )
    if not isinstance(raw["type"], str):
        raise ConfigError(f"{place}: type must be a component name, got {raw['type']!r}.")
    config = raw.get("config", {})
    if not isinstance(config, Mapping):
        raise ConfigError(f"{place}: config must be a table of arguments, got {config!r}.")
    return {"type": raw["type"], "config": dict(config)}


def _build(
    at: _Locator,
    table: str,
    kind: str,
    spec: Mapping[str, Any],
    *,
    index: int | None = None,
    key: str | None = None,
) -> Any:
    place = at(table, key or "type", index=index)
    try:
        return build(kind, spec)
    except ComponentNotFoundError as exc:
        raise ConfigError(f"{place}: {exc}") from None
    except (NeurobackError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"{place}: {spec['type']}: {exc}{_argument_hint(kind, spec, exc)}"
        ) from None


def _argument_hint(kind: str, spec: Mapping[str, Any], exc: Exception) -> str:
    """For "X.__init__() got an unexpected keyword argument 'pateince'": the closest of X's
    argument names (X may be a component nested in the one being built)."""
    match = re.search(r"(\w+)\.__init__\(\) got an unexpected keyword argument '(\w+)'", str(exc))
    if not match:
        return ""
    try:
        from .plugin_system import get_registry

        named = [c.obj for c in get_registry().components() if c.name == match.group(1)]
        cls = named[0] if named else get_registry().get(kind, spec["type"]).obj
        names = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    except Exception:  # the hint is a courtesy; the error stands without it
        return ""
    return f"{_closest(match.group(2), names)} ({match.group(1)}'s arguments: {names})"


def _closest(name: str, pool: Any) -> str:
    close = difflib.get_close_matches(str(name), [str(p) for p in pool], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Locator:
    """``config.toml [trainer] epochs (line 12)``: where a key is, found in the TOML text
    (or ``(from --set trainer.epochs=0)`` for a key an override set)."""

    def __init__(self, text: str, source: str, overridden: Sequence[str] = ()) -> None:
        self.lines = text.splitlines()
        self.source = source
        self.overridden = {item.partition("=")[0].strip(): item for item in overridden}

    def __call__(self, table: str, key: str | None = None, *, index: int | None = None) -> str:
        dotted = ".".join(p for p in (table, key) if p)
        for prefix, item in self.overridden.items():
            if prefix == dotted or prefix.startswith(dotted + ".") or dotted.startswith(prefix):
                listed = table == "callbacks" and index is not None
                where = f"[[{table}]] #{(index or 0) + 1}" if listed else f"[{table}]"
                return f"{where}{' ' + key if key and not listed else ''} (from --set {item})"
        return self._place(table, key, index=index)

    def _place(self, table: str, key: str | None = None, *, index: int | None = None) -> str:
        where = (
            f"[[{table}]] #{index + 1}"
            if table == "callbacks" and index is not None
            else f"[{table}]"
        )
        if key is not None and table != "callbacks":
            where += f" {key}" + (f"[{index}]" if index is not None else "")
        line = self._line(table, key, index)
        return f"{self.source} {where}" + (f" (line {line})" if line else "")

    def _line(self, table: str, key: str | None, index: int | None) -> int | None:
        header = re.compile(rf"^\s*\[\[?\s*{re.escape(table)}\s*\]\]?\s*(#.*)?$")
        starts = [i for i, line in enumerate(self.lines) if header.match(line)]
        if not starts:
            return None
        start = (
            starts[index]
            if table == "callbacks" and index is not None and index < len(starts)
            else starts[0]
        )
        if key is None:
            return start + 1
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for i in range(start + 1, len(self.lines)):
            if self.lines[i].lstrip().startswith("["):
                break
            if pattern.match(self.lines[i]):
                return i + 1
        return start + 1


def absolute_data_paths(config: dict[str, Any], base: Path) -> dict[str, Any]:
    """``config`` with ``[data] path`` and ``labels`` made absolute (relative ones are read
    from ``base``, the config file's folder), so the resolved config and the model file's
    metadata find the data from anywhere."""
    data = config.get("data")
    if not isinstance(data, dict):
        return config
    out = dict(config)
    out["data"] = dict(data)
    for key in ("path", "labels"):
        value = data.get(key)
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            out["data"][key] = str((base / Path(value).expanduser()).resolve())
    return out


def load_config_file(path: str | Path) -> tuple[dict[str, Any], str]:
    """The parsed config and its text, from a file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(
            f"No config file {p}, and no shipped example of that name"
            f"{_closest(str(path), example_names())} ({example_names()}). "
            f"Run `neuroback train --print-config` for the main job's config."
        )
    try:
        text = p.read_text(encoding="utf-8-sig")  # a byte-order mark is not a statement
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{p} is not a TOML text file (it is not UTF-8: byte {exc.start} is "
            f"{exc.object[exc.start]:#04x})."
        ) from None
    return parse_config(text, str(p)), text
