"""``neuroback evaluate`` and ``neuroback predict``: use a model file."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click
import numpy as np

from ..errors import ConfigError

__all__ = ["evaluate", "predict"]


def _data_spec(data: str) -> dict[str, Any]:
    """DATA on the command line: a built-in dataset name, or a file."""
    from ..datasets.spec import BUILTIN

    if data in BUILTIN:
        return {"dataset": data, "split": {"val": 0.0, "test": 0.0}}
    path = Path(data)
    if not path.exists():
        raise ConfigError(
            f"DATA {data!r} is neither a built-in dataset ({sorted(BUILTIN)}) nor a file."
        )
    return {"path": str(path), "split": {"val": 0.0, "test": 0.0}}


def _trainer(model_path: str) -> tuple[Any, dict[str, Any]]:
    import neuroback as nb

    model = nb.load(model_path)
    metadata = nb.load_metadata(model_path)
    loss = metadata.get("loss")
    if loss is None:
        raise ConfigError(
            f"{model_path} records no loss (it was not written by `neuroback train`), so "
            f"its loss cannot be measured; evaluate it in Python with "
            f"nb.Trainer(model, loss, ...).evaluate(x, y), or use neuroback predict."
        )
    trainer = nb.Trainer(model, loss, "SGD", metrics=metadata.get("metrics", []))
    return trainer, metadata


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("data", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the results as a JSON object.")
def evaluate(model: str, data: str | None, as_json: bool) -> None:
    """Loss and metrics of MODEL on DATA.

    DATA is a built-in dataset name or a file: .npz (arrays x and y), .csv (the label in
    the last column), IDX images (their labels file found beside them by MNIST's names); by
    default, the held-out test split of the data the model was trained on (recorded in the
    model file).
    """
    from ..datasets.spec import load_data, load_split

    trainer, metadata = _trainer(model)
    if data is None:
        recorded = metadata.get("data")
        if not isinstance(recorded, dict):
            raise ConfigError(f"{model} records no data; pass DATA.")
        _, validation, test = load_split(recorded)
        x, y = test if len(test[0]) else validation
    else:
        x, y = load_data(_data_spec(data))
    results = trainer.evaluate(x, y)
    if as_json:  # JSON has no NaN: a diverged model's loss is null
        click.echo(json.dumps({k: v if math.isfinite(v) else None for k, v in results.items()}))
        return
    for name, value in results.items():
        click.echo(f"{name} {value:.4f}")


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("data")
@click.option(
    "--output", "-o", required=True, type=click.Path(dir_okay=False), help="The .npy file to write."
)
def predict(model: str, data: str, output: str) -> None:
    """Write MODEL's raw outputs for DATA to a .npy file (one row per sample).

    DATA holds inputs only: a built-in dataset name, a .npz archive's array x, every column
    of a .csv table, or an IDX file's images.
    """
    import neuroback as nb

    from ..datasets.spec import load_inputs

    x = load_inputs(_data_spec(data))
    trainer = nb.Trainer(nb.load(model), "MSE", "SGD")  # no loss needed to predict
    outputs = trainer.predict(x)
    target = Path(output) if output.endswith(".npy") else Path(output + ".npy")
    np.save(target, outputs, allow_pickle=False)
    click.echo(f"wrote {outputs.shape[0]} predictions of shape {outputs.shape[1:]} to {target}")
