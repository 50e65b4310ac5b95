"""The neuroback command, run as a user runs it: subprocesses, from an empty folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import neuroback as nb
from neuroback.run_config import default_config_text

TRAIN_FAST = ["--set", "trainer.epochs=2", "--quiet"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEUROBACK_")}
    env.pop("PYTHONPATH", None)
    env["MPLBACKEND"] = "Agg"
    return env


@pytest.fixture
def neuroback_cmd(tmp_path: Path):
    """Run ``python -m neuroback ARGS`` in an empty folder; returns the completed process."""

    def run(*args: str, expect: int = 0, cwd: Path | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "-m", "neuroback", *args],
            capture_output=True,
            text=True,
            cwd=cwd or tmp_path,
            env=_env(),
            timeout=300,
        )
        assert proc.returncode == expect, (
            f"neuroback {' '.join(args)} exited {proc.returncode}, expected {expect}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
        return proc

    return run


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One short main-job run (2 epochs), shared by the tests that read its files."""
    folder = tmp_path_factory.mktemp("run")
    proc = subprocess.run(
        [sys.executable, "-m", "neuroback", "train", *TRAIN_FAST],
        capture_output=True,
        text=True,
        cwd=folder,
        env=_env(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return folder, proc.stdout


def test_train_writes_the_model_the_plot_and_the_config(trained_run) -> None:
    folder, stdout = trained_run
    run = folder / "neuroback-run"
    assert sorted(p.name for p in run.iterdir()) == [
        "config.toml",
        "model.safetensors",
        "training.png",
    ]
    last = stdout.strip().splitlines()[-1]
    assert last.startswith("test accuracy 0.") and len(last) == len("test accuracy 0.0000"), last
    assert str(run.resolve()) in stdout
    # the PNG is a real image of the curves: decodable, of the size drawn, not blank
    import matplotlib.image

    image = matplotlib.image.imread(run / "training.png")
    assert image.shape[0] >= 300 and image.shape[1] >= 700  # two panels: loss, accuracy
    assert image[..., :3].std() > 0.05
    # the resolved config repeats the run: every default filled in, the override applied
    config = tomllib.loads((run / "config.toml").read_text())
    assert config["trainer"]["epochs"] == 2 and config["trainer"]["batch_size"] == 32
    assert config["data"]["split"] == {"val": 0.1, "test": 0.2, "stratify": True, "seed": 0}
    assert config["model"]["type"] == "Sequential"


def test_the_model_file_evaluates_to_the_accuracy_train_printed(trained_run, neuroback_cmd) -> None:
    folder, stdout = trained_run
    printed = float(stdout.strip().splitlines()[-1].split()[-1])
    model = folder / "neuroback-run" / "model.safetensors"
    metadata = nb.load_metadata(model)
    assert metadata["loss"]["type"] == "neuroback:SoftmaxCrossEntropy"
    assert metadata["metrics"] == ["accuracy"] and metadata["data"]["dataset"] == "digits"
    assert round(metadata["test"]["accuracy"], 4) == printed
    proc = neuroback_cmd("evaluate", str(model), "--json")
    results = json.loads(proc.stdout)
    assert set(results) == {"loss", "accuracy"}
    assert round(results["accuracy"], 4) == printed  # the held-out split, found from the file
    text = neuroback_cmd("evaluate", str(model)).stdout
    assert f"accuracy {printed:.4f}" in text


def test_predict_writes_the_raw_outputs(trained_run, neuroback_cmd, tmp_path) -> None:
    folder, _ = trained_run
    model = folder / "neuroback-run" / "model.safetensors"
    x = np.random.default_rng(0).random((5, 64)).astype(np.float32)
    np.savez(tmp_path / "inputs.npz", x=x, y=np.zeros(5, dtype=np.int64))
    proc = neuroback_cmd("predict", str(model), "inputs.npz", "--output", "out.npy")
    assert "wrote 5 predictions of shape (10,)" in proc.stdout
    outputs = np.load(tmp_path / "out.npy", allow_pickle=False)
    np.testing.assert_allclose(outputs, nb.load(model)(x), rtol=1e-6)


def test_a_config_file_with_overrides_and_a_file_dataset(neuroback_cmd, tmp_path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    table = np.column_stack([x, y])
    np.savetxt(tmp_path / "data.csv", table, delimiter=",", header="a,b,c,label", comments="")
    (tmp_path / "run.toml").write_text(
        """
[data]
path = "data.csv"
target = "label"
split = {val = 0.2, test = 0.2, seed = 1}

[model]
layers = [{type = "Dense", config = {in_features = 3, out_features = 2}}]

[loss]
type = "SoftmaxCrossEntropy"

[optimizer]
type = "SGD"
config = {lr = 0.5}

[trainer]
epochs = 3
metrics = ["accuracy"]
"""
    )
    proc = neuroback_cmd("train", "run.toml", "--set", "trainer.epochs=4", "-o", "out", "--quiet")
    assert "trained 4 epochs" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1].startswith("test accuracy")
    config = tomllib.loads((tmp_path / "out" / "config.toml").read_text())
    # the data path is recorded absolute: the run repeats, and evaluates, from anywhere
    assert config["trainer"]["epochs"] == 4
    assert config["data"]["path"] == str((tmp_path / "data.csv").resolve())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    printed = float(proc.stdout.strip().splitlines()[-1].split()[-1])
    model = str(tmp_path / "out" / "model.safetensors")
    evaluated = json.loads(neuroback_cmd("evaluate", model, "--json", cwd=elsewhere).stdout)
    assert round(evaluated["accuracy"], 4) == printed
    again = neuroback_cmd(
        "train", str(tmp_path / "out" / "config.toml"), "-o", "again", "--quiet", cwd=elsewhere
    )
    assert again.stdout.strip().splitlines()[-1] == proc.stdout.strip().splitlines()[-1]


def test_print_config_shows_the_default_and_the_resolved_one(neuroback_cmd) -> None:
    default = neuroback_cmd("train", "--print-config").stdout
    assert default.startswith("# The main job") and 'dataset = "digits"' in default
    assert tomllib.loads(default)["trainer"]["epochs"] == 60
    resolved = tomllib.loads(neuroback_cmd("train", "--print-config", *TRAIN_FAST[:2]).stdout)
    assert resolved["trainer"]["epochs"] == 2 and resolved["trainer"]["shuffle"] is True


BAD_CONFIGS = [
    ("[trainer]\nepochs = 2\n[[nonsense]]\n", r"unknown table \[nonsense\]"),
    (
        "[data]\ndataset = 'digits'\n[model]\nlayers = [{type = 'Dens'}]\n[loss]\ntype = 'MSE'\n"
        "[optimizer]\ntype = 'SGD'\n",
        r"bad.toml \[model\] layers\[0\] \(line 4\): No layer named 'Dens'.*Did you mean 'Dense'",
    ),
    ("[data]\ndataset = 'digits'\n[model]\nlayers = []\n", r"lacks the table \[loss\]"),
    ("not toml = = 3", r"is not valid TOML: .*line 1"),
]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "trainer.epochz=3",
            r"\[trainer\] epochz \(from --set trainer.epochz=3\): unknown key 'epochz' "
            r"\(did you mean 'epochs'\?\)",
        ),
        (
            "trainer.epochs=0",
            r"\[trainer\] epochs \(from --set trainer.epochs=0\): epochs must be a positive "
            r"integer, got 0",
        ),
        ("trainer.metrics=accuracy", r"metrics must be a list of metric names"),
        (
            "optimizer.type=Adma",
            r"\[optimizer\] type.*No optimizer named 'Adma'.*Did you mean 'Adam'",
        ),
        ("optimizer.config.lrr=0.1", r"unexpected keyword argument 'lrr' \(did you mean 'lr'\?\)"),
        ("callbacks.0.config.pateince=2", r"\[\[callbacks\]\] #1.*did you mean 'patience'"),
        (
            "data.dataset=digitz",
            r"\[data\].*'digitz' is not a built-in dataset.*Did you mean 'digits'",
        ),
        ("data.split.val=1.5", r"split.val must be a fraction"),
        ("modle.layers=1", r"'modle' is not a config table \(did you mean 'model'\?\)"),
        ("trainer.epochs", r"--set expects KEY=VALUE"),
    ],
)
def test_each_config_error_is_one_line_with_its_place(
    neuroback_cmd, tmp_path, override, message
) -> None:
    import re

    proc = neuroback_cmd("train", "--set", override, expect=1)
    assert proc.stdout == "" or "training" not in proc.stdout  # nothing ran
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neuroback: error: "), proc.stderr
    assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "neuroback-run").exists()


@pytest.mark.parametrize(("text", "message"), BAD_CONFIGS)
def test_config_file_errors_name_the_line(neuroback_cmd, tmp_path, text, message) -> None:
    import re

    (tmp_path / "bad.toml").write_text(text)
    proc = neuroback_cmd("train", "bad.toml", expect=1)
    line = proc.stderr.strip()
    assert "\n" not in line and re.search(message, line), line
    assert "bad.toml" in line
    assert not (tmp_path / "neuroback-run").exists()


def test_a_wrong_type_in_a_file_names_table_key_and_line(neuroback_cmd, tmp_path) -> None:
    text = default_config_text().replace("batch_size = 32", 'batch_size = "big"')
    (tmp_path / "c.toml").write_text(text)
    line_number = next(i + 1 for i, line in enumerate(text.splitlines()) if "batch_size" in line)
    proc = neuroback_cmd("train", "c.toml", expect=1)
    expected = f"c.toml [trainer] batch_size (line {line_number}): batch_size must be a positive"
    assert f"{expected} integer, got 'big'" in proc.stderr


def test_usage_errors_exit_2_in_one_line(neuroback_cmd) -> None:
    for args in (("train", "--bogus"), ("nosuch",), ("evaluate",)):
        proc = neuroback_cmd(*args, expect=2)
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert "Commands:" in neuroback_cmd(expect=2).stdout  # no command: the help


def test_runtime_errors_are_one_line_unless_debug(neuroback_cmd, tmp_path) -> None:
    proc = neuroback_cmd("evaluate", "missing.safetensors", expect=1)
    assert proc.stderr.startswith("neuroback: error: No such file: missing.safetensors")
    assert len(proc.stderr.strip().splitlines()) == 1
    debug = neuroback_cmd("--debug", "evaluate", "missing.safetensors", expect=1)
    assert "Traceback" in debug.stderr and "FileNotFoundError" in debug.stderr


def test_version_info_and_plugins(neuroback_cmd) -> None:
    assert neuroback_cmd("--version").stdout.strip() == f"neuroback {nb.__version__}"
    facts = json.loads(neuroback_cmd("info", "--json").stdout)
    assert facts["neuroback"] == nb.__version__ and facts["numpy"] == np.__version__
    assert {"blas", "blas threads", "cupy", "gpu"} <= set(facts)
    assert facts["plugin api"] == nb.PLUGIN_API_VERSION and facts["file format"] == 1
    text = neuroback_cmd("info").stdout
    assert text.startswith("neuroback ") and "blas threads" in text
    assert "neuroback" in neuroback_cmd("plugins").stdout


def _write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file (MNIST's format) of unsigned bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_evaluate_and_predict_read_idx_and_csv_files(trained_run, neuroback_cmd, tmp_path) -> None:
    folder, _ = trained_run
    model = folder / "neuroback-run" / "model.safetensors"
    x, y = nb.datasets.load_digits(scale=False)  # 8x8 images, values 0..16, as MNIST's files
    images = x[:40].reshape(40, 8, 8)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", images)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", y[:40])
    results = json.loads(
        neuroback_cmd("evaluate", str(model), "t10k-images-idx3-ubyte", "--json").stdout
    )
    expected = nb.Trainer(nb.load(model), "SoftmaxCrossEntropy", "SGD", metrics=["accuracy"])
    reference = expected.evaluate(x[:40], y[:40])
    assert results["accuracy"] == pytest.approx(reference["accuracy"])
    # predict: a CSV of inputs only (every column is an input)
    np.savetxt(tmp_path / "inputs.csv", x[:7] / 16.0, delimiter=",")
    neuroback_cmd("predict", str(model), "inputs.csv", "-o", "p.npy")
    outputs = np.load(tmp_path / "p.npy", allow_pickle=False)
    np.testing.assert_allclose(
        outputs, nb.load(model)((x[:7] / 16.0).astype(np.float32)), rtol=1e-5
    )
    proc = neuroback_cmd("evaluate", str(model), "nothing-here", expect=1)
    assert "neither a built-in dataset" in proc.stderr


def test_shipped_examples_run_by_name(neuroback_cmd) -> None:
    shown = neuroback_cmd("train", "two_spirals", "--print-config").stdout
    assert shown.startswith("# Two interleaved spirals")
    proc = neuroback_cmd("train", "noisy_sine", "--quiet", "--set", "trainer.epochs=3")
    assert proc.stdout.strip().splitlines()[-1].startswith("test mae ")
    proc = neuroback_cmd("train", "two_spiral", expect=1)
    assert "no shipped example of that name" in proc.stderr and "two_spirals" in proc.stderr


def test_the_main_job_reaches_95_percent(neuroback_cmd) -> None:
    """`neuroback train` as the README runs it: the embedded default, every epoch."""
    proc = neuroback_cmd("train", "--quiet")
    last = proc.stdout.strip().splitlines()[-1]
    assert float(last.removeprefix("test accuracy ")) >= 0.95, last
