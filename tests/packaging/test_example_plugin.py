"""The example plugin distribution (examples/nb-example-plugin) through its whole life, as
a user lives it: built, pip-installed into a fresh environment beside neuroback's wheel,
listed, used by attribute and by name, checked (and failed with a planted gradient bug),
a model saved with its layer loaded again, and uninstalled."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from packaging_support import ROOT, build_wheel, run

import neuroback as nb

EXAMPLE = ROOT / "examples" / "nb-example-plugin"
NAME = "nb-example-plugin"
COMPONENTS = {
    "layers": ["Swish"],
    "optimizers": ["Lion"],
    "schedules": ["InverseSqrt"],
    "callbacks": ["WeightNormHistory"],
}

# the attribute route: nb.layers.Swish, nb.optimizers.Lion, ... in a user's script
USE_BY_ATTRIBUTE = """
import numpy as np
import neuroback as nb

x, y = nb.datasets.two_moons(n=400, noise=0.1, seed=0)
model = nb.Sequential([nb.layers.Dense(2, 16, rng=0), nb.layers.Swish(16),
                       nb.layers.Dense(16, 2, rng=1)])
norms = nb.callbacks.WeightNormHistory()
schedule = nb.callbacks.LearningRateScheduler(nb.schedules.InverseSqrt(warmup=3))
trainer = nb.Trainer(model, nb.losses.SoftmaxCrossEntropy(), nb.optimizers.Lion(lr=1e-2),
                     callbacks=[norms, schedule], metrics=["accuracy"], seed=0)
history = trainer.fit(x, y, epochs=20, batch_size=32)
nb.save(model, "by-attribute.safetensors")
np.save("by-attribute-prediction.npy", model(x[:16]))
print(history["loss"][0], history["loss"][-1], history["accuracy"][-1], len(norms.history))
"""

CONFIG = f"""
[data]
dataset = "two_moons"
split = {{val = 0.2, test = 0.2, seed = 0}}
[model]
layers = [
  {{type = "Dense", config = {{in_features = 2, out_features = 16}}}},
  {{type = "{NAME}:Swish", config = {{features = 16}}}},
  {{type = "Dense", config = {{in_features = 16, out_features = 2}}}},
]
[loss]
type = "SoftmaxCrossEntropy"
[optimizer]
type = "Lion"
config = {{lr = 1e-2, weight_decay = 0.01}}
[[callbacks]]
type = "LearningRateScheduler"
config = {{schedule = {{type = "InverseSqrt", config = {{warmup = 5}}}}}}
[[callbacks]]
type = "WeightNormHistory"
[trainer]
epochs = 20
seed = 0
metrics = ["accuracy"]
"""

LOAD_AGAIN = """
import numpy as np
import neuroback as nb
model = nb.load("by-attribute.safetensors")
x, _ = nb.datasets.two_moons(n=400, noise=0.1, seed=0)
assert type(model[1]).__module__ == "nb_example_plugin.layers", model
assert np.array_equal(model(x[:16]), np.load("by-attribute-prediction.npy"))
print("loaded", model[1])
"""


def _plant_gradient_bug(tree: Path) -> None:
    """Swish's input gradient loses its second term: dy * s instead of dy * (s + b x s')."""
    layers = tree / "src" / "nb_example_plugin" / "layers.py"
    source = layers.read_text()
    correct = "return dy * (s + beta * x * ds) if input_grad else None"
    assert correct in source
    layers.write_text(source.replace(correct, "return dy * s if input_grad else None"))
    pyproject = tree / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "0.1.0"', 'version = "0.1.1"'))


@pytest.mark.slow
def test_the_example_plugin_lives_through_install_use_check_and_uninstall(
    wheel_env: Path, tmp_path: Path
) -> None:
    python, neuroback = str(wheel_env / "python"), str(wheel_env / "neuroback")
    pip = [python, "-m", "pip", "install", "-q", "--no-index"]  # its pin must resolve here
    good_tree, buggy_tree = tmp_path / "good", tmp_path / "buggy"
    ignore = shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    shutil.copytree(EXAMPLE, good_tree, ignore=ignore)
    shutil.copytree(EXAMPLE, buggy_tree, ignore=ignore)
    _plant_gradient_bug(buggy_tree)
    (tmp_path / "wheels").mkdir()
    good = build_wheel(good_tree, tmp_path / "wheels")
    buggy = build_wheel(buggy_tree, tmp_path / "wheels")
    work = tmp_path / "work"
    work.mkdir()

    # installed beside neuroback: its pin (neuroback>=0.1,<0.2) is met by the wheel's version
    run([*pip, str(good)], cwd=work)
    listed = json.loads(run([neuroback, "plugins", "--json"], cwd=work).stdout)
    entry = next(p for p in listed if p["distribution"] == NAME)
    assert entry["components"] == COMPONENTS and entry["error"] is None
    assert entry["version"] == "0.1.0"

    # by attribute from Python: it trains, and every component took part
    first, last, accuracy, recorded = run([python, "-c", USE_BY_ATTRIBUTE], cwd=work).stdout.split()
    assert float(last) < 0.5 * float(first) and float(accuracy) > 0.85 and int(recorded) == 20

    # by name from a TOML config
    (work / "lion.toml").write_text(CONFIG)
    trained = run([neuroback, "train", "lion.toml", "-q", "-o", "run"], cwd=work).stdout
    last_line = trained.strip().splitlines()[-1]
    assert last_line.startswith("test accuracy") and float(last_line.split()[-1]) > 0.85
    run([neuroback, "evaluate", "run/model.safetensors"], cwd=work)

    # the kit over everything it registers: a pass, then a fail on the planted bug
    passed = run([neuroback, "check", NAME], cwd=work).stdout.strip().splitlines()
    assert passed[-1].startswith("10 of 10 checks passed"), passed
    run([*pip, "--force-reinstall", "--no-deps", str(buggy)], cwd=work)
    failed = run([neuroback, "check", NAME], cwd=work, expect=1).stdout
    rows = {
        tuple(row.split()[:4]): row for row in failed.splitlines() if row[:4] in ("pass", "FAIL")
    }
    for backend in ("numpy", "strict"):
        assert "Gradient of the input is wrong" in rows["FAIL", f"{NAME}:Swish", "layers", backend]
        for other, kind in [("Lion", "optimizers"), ("InverseSqrt", "schedules")]:
            assert ("pass", f"{NAME}:{other}", kind, backend) in rows
        assert ("pass", "Lion.step", "kernels", backend) in rows  # its kernel is checked too
    assert failed.strip().splitlines()[-1].startswith("8 of 10 checks passed")
    run([*pip, "--force-reinstall", "--no-deps", str(good)], cwd=work)

    # a model saved with its layer loads in a fresh process, predictions bit-identical
    assert "loaded Swish(" in run([python, "-c", LOAD_AGAIN], cwd=work).stdout

    # uninstalled: neuroback still works, and the model names the missing distribution
    run([python, "-m", "pip", "uninstall", "-y", "-q", NAME], cwd=work)
    listed = json.loads(run([neuroback, "plugins", "--json"], cwd=work).stdout)
    assert NAME not in {p["distribution"] for p in listed}
    run([neuroback, "train", "--set", "trainer.epochs=1", "-q", "-o", "digits"], cwd=work)
    gone = run([neuroback, "evaluate", "run/model.safetensors"], cwd=work, expect=1)
    assert f"{NAME}:Swish: install it with: pip install {NAME}==0.1.0" in gone.stderr
    missing = run([python, "-c", LOAD_AGAIN], cwd=work, expect=1).stderr
    assert "MissingPluginError" in missing and f"pip install {NAME}==0.1.0" in missing


def test_the_example_plugins_own_tests_pass_from_its_source_tree(tmp_path: Path) -> None:
    """Its tests use the kit through neuroback's pytest plugin, loading it from src/."""
    tree = tmp_path / NAME
    shutil.copytree(EXAMPLE, tree, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    tests = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=tree)
    assert "14 passed" in tests.stdout, tests.stdout


def test_the_example_declares_the_plugin_api_of_this_neuroback() -> None:
    hooks = (EXAMPLE / "src" / "nb_example_plugin" / "plugin.py").read_text()
    assert f'NEUROBACK_PLUGIN_API = "{nb.PLUGIN_API_VERSION}"' in hooks
