"""The digits CNN both ways a user runs it: ``examples/train_digits_cnn.py`` and
``neuroback train digits_cnn``.

Each way trains once (a module fixture; about 30-100 s each on two CPU cores) on the
project's split with seed 0 and reaches 98% test accuracy. The example's gradient-flow
plot is a real image and its monitor saw gradients reach both convolutions. The two runs
are the same job (same model, split, seeds, optimizer and schedule), so on the CPU they
print the same test loss and accuracy. The tests that need a training are marked slow
(``-m "not slow"`` skips them).
"""

from __future__ import annotations

import contextlib
import inspect
import io
import math
import os
import re
import runpy
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import neuroback as nb
from neuroback.run_config import check_config, example_config_text, parse_config

pytest.importorskip("sklearn", reason="the digits come from scikit-learn (the examples extra)")
pytest.importorskip("matplotlib", reason="the plots need matplotlib (the examples extra)")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "train_digits_cnn.py"
TARGET = 0.98


def _env() -> dict[str, str]:
    """The user's environment without neuroback switches (as tests/cli/test_commands.py)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEUROBACK_")}
    env.pop("PYTHONPATH", None)
    env["MPLBACKEND"] = "Agg"
    return env


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    return runpy.run_path(str(EXAMPLE))


@pytest.fixture(scope="module")
def example_run(example, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One full run of the example's main() (seed 0), with a monitor the tests can read."""
    plot = tmp_path_factory.mktemp("cnn-example") / "flow.png"
    monitor = nb.callbacks.GradientFlowMonitor(every_n_steps=20)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        accuracy = example["main"](seed=0, progress=False, gradient_plot=str(plot), monitor=monitor)
    return {"accuracy": accuracy, "monitor": monitor, "plot": plot, "stdout": out.getvalue()}


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One full ``neuroback train digits_cnn --quiet`` from an empty folder."""
    folder = tmp_path_factory.mktemp("cnn-cli")
    proc = subprocess.run(
        [sys.executable, "-m", "neuroback", "train", "digits_cnn", "--quiet", "-o", "run"],
        capture_output=True,
        text=True,
        cwd=folder,
        env=_env(),
        timeout=600,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return folder / "run", proc.stdout


def _conv_layer_names(model: nb.Sequential) -> list[str]:
    return [str(i) for i, layer in enumerate(model) if isinstance(layer, nb.layers.Conv2D)]


def test_the_example_builds_the_shipped_config(example) -> None:
    """The Python example and digits_cnn.toml describe the same network and schedule."""
    text = example_config_text("digits_cnn")
    checked = check_config(parse_config(text, "digits_cnn"), text, "digits_cnn")
    nb.seed(0)
    ours = example["build_model"]()
    assert [(type(layer).__name__, layer.config()) for layer in ours] == [
        (type(layer).__name__, layer.config()) for layer in checked.model
    ]
    assert _conv_layer_names(ours) == ["1", "4"]
    epochs = inspect.signature(example["main"]).parameters["epochs"].default
    assert epochs == checked.resolved["trainer"]["epochs"]


@pytest.mark.slow
def test_the_example_reaches_98_percent(example_run) -> None:
    accuracy = example_run["accuracy"]
    assert accuracy >= TARGET, f"test accuracy {accuracy:.4f}"
    last = example_run["stdout"].strip().splitlines()[-1]
    assert last.endswith(f"test accuracy {accuracy:.4f}"), last
    assert "Conv2D(in_channels=1, out_channels=16" in example_run["stdout"]  # the summary


@pytest.mark.slow
def test_the_gradient_plot_is_a_real_image(example_run) -> None:
    import matplotlib.image

    plot = example_run["plot"]
    assert plot.is_file() and not plot.with_name(plot.name + ".tmp").exists()
    image = matplotlib.image.imread(plot)
    assert image.shape[0] >= 400 and image.shape[1] >= 700, image.shape  # 8 x 4.5 in, 100 dpi
    assert image[..., :3].std() > 0.05  # curves and labels, not a blank canvas


@pytest.mark.slow
def test_the_monitor_saw_gradients_reach_the_convolutions(example, example_run) -> None:
    monitor = example_run["monitor"]
    grads: dict[str, list[dict[str, Any]]] = {}
    for row in monitor.records:
        if "grad_norm" in row:
            grads.setdefault(row["layer"], []).append(row)
    # every layer with parameters: the two convolutions, their BatchNorms, the classifier
    assert sorted(grads, key=int) == ["1", "2", "4", "5", "10"]
    steps = {row["step"] for row in grads["10"]}
    assert len(steps) >= 10  # sampled every 20 steps over many epochs
    for name in _conv_layer_names(example["build_model"]()):
        rows = grads[name]
        assert {row["step"] for row in rows} == steps  # sampled with the rest of the model
        for row in rows:
            assert math.isfinite(row["grad_norm"]) and row["grad_norm"] > 0, row
            assert row["weight_norm"] > 0 and math.isfinite(row["update_ratio"]), row
            assert row["update_ratio"] > 0, row  # the optimizer moved the kernel
        # the convolutions learn about as fast as the classifier: nothing vanishes
        first = min(steps)
        conv_rms = next(r["grad_rms"] for r in rows if r["step"] == first)
        dense_rms = next(r["grad_rms"] for r in grads["10"] if r["step"] == first)
        assert conv_rms > 1e-2 * dense_rms, (name, conv_rms, dense_rms)
    assert monitor.flagged("vanishing") == [] and monitor.flagged("exploding") == []
    # the ReLUs after the convolutions act on (N, C, H, W) images: their dead share is read
    dead = [row for row in monitor.records if "dead_fraction" in row]
    assert {row["layer"] for row in dead} == {"3", "6"}
    assert all(0.0 <= row["dead_fraction"] < 0.5 for row in dead)


@pytest.mark.slow
def test_the_command_line_reaches_98_percent(cli_run) -> None:
    run, stdout = cli_run
    lines = stdout.strip().splitlines()
    assert re.fullmatch(r"test accuracy [01]\.[0-9]{4}", lines[-1]), lines[-1]
    accuracy = float(lines[-1].split()[-1])
    assert accuracy >= TARGET, lines[-1]
    assert "from the example 'digits_cnn'" in stdout
    assert sorted(p.name for p in run.iterdir()) == [
        "config.toml",
        "model.safetensors",
        "training.png",
    ]
    config = tomllib.loads((run / "config.toml").read_text())
    types = [layer["type"].rpartition(":")[2] for layer in config["model"]["config"]["layers"]]
    assert types.count("Conv2D") == 2 and "MaxPool2D" in types, types


@pytest.mark.slow
def test_the_example_and_the_command_line_are_the_same_run(example_run, cli_run) -> None:
    """Same network, split, seeds and schedule: on the CPU, the same test results."""
    _, stdout = cli_run
    cli = dict(re.findall(r"^test (loss|accuracy) ([0-9.]+)$", stdout, flags=re.M))
    example = re.search(r"test loss ([0-9.]+), test accuracy ([0-9.]+)", example_run["stdout"])
    assert example is not None, example_run["stdout"]
    assert (cli["loss"], cli["accuracy"]) == example.groups()
