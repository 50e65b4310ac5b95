"""``neuroback new-plugin``: the project it writes installs with pip, registers through the
entry point, passes its own tests and ``neuroback check``, works by name in a config, and
a model using it names the distribution once it is gone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import neuroback as nb

NAME = "nb-swish-demo"


def _run(
    args: list[str], cwd: Path, site: Path | None = None, expect: int = 0
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEUROBACK_")}
    env.pop("PYTHONPATH", None)
    if site is not None:
        env["PYTHONPATH"] = str(site)
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == expect, f"{args}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The generated project, pip-installed (no dependencies: neuroback is here) into a
    folder that becomes PYTHONPATH, as a site-packages of its own."""
    root = tmp_path_factory.mktemp("scaffold")
    _run([sys.executable, "-m", "neuroback", "new-plugin", NAME], cwd=root)
    site = root / "site"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(root / NAME),
        ],
        cwd=root,
    )
    return root, site


def test_the_project_has_what_a_plugin_needs(installed) -> None:
    root, _ = installed
    project = root / NAME
    files = sorted(
        str(p.relative_to(project))
        for p in project.rglob("*")
        if p.is_file()
        and not {"build"} & set(p.relative_to(project).parts[:1])
        and ".egg-info" not in str(p)  # what pip's build left beside the sources
    )
    assert files == [
        "README.md",
        "pyproject.toml",
        "src/nb_swish_demo/__init__.py",
        "src/nb_swish_demo/layers.py",
        "src/nb_swish_demo/plugin.py",
        "tests/test_nb_swish_demo.py",
    ]
    pyproject = (project / "pyproject.toml").read_text()
    assert '[project.entry-points.neuroback]\nnb_swish_demo = "nb_swish_demo.plugin"' in pyproject
    assert 'dependencies = ["neuroback>=0.1,<0.2"]' in pyproject
    assert 'nb_plugins = ["nb-swish-demo = nb_swish_demo.plugin"]' in pyproject
    hooks = (project / "src/nb_swish_demo/plugin.py").read_text()
    assert f'NEUROBACK_PLUGIN_API = "{nb.PLUGIN_API_VERSION}"' in hooks


def test_it_is_listed_checked_and_passes_its_own_tests(installed) -> None:
    root, site = installed
    listed = json.loads(
        _run([sys.executable, "-m", "neuroback", "plugins", "--json"], root, site).stdout
    )
    entry = next(p for p in listed if p["distribution"] == NAME)
    assert entry["components"] == {"layers": ["Swish"]} and entry["error"] is None
    check = _run([sys.executable, "-m", "neuroback", "check", NAME], root, site).stdout
    assert check.strip().splitlines()[-1].startswith("2 of 2 checks passed")
    tests = _run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], root / NAME, site
    )
    assert "3 passed" in tests.stdout


def test_its_layer_trains_from_a_config_and_the_model_names_it_when_gone(installed) -> None:
    root, site = installed
    (root / "swish.toml").write_text(
        f"""
[data]
dataset = "two_moons"
split = {{val = 0.2, test = 0.2, seed = 0}}
[model]
layers = [
  {{type = "Dense", config = {{in_features = 2, out_features = 8}}}},
  {{type = "{NAME}:Swish", config = {{features = 8}}}},
  {{type = "Dense", config = {{in_features = 8, out_features = 2}}}},
]
[loss]
type = "SoftmaxCrossEntropy"
[optimizer]
type = "Adam"
config = {{lr = 0.02}}
[trainer]
epochs = 3
metrics = ["accuracy"]
"""
    )
    out = _run(
        [sys.executable, "-m", "neuroback", "train", "swish.toml", "-q", "-o", "run"], root, site
    )
    assert out.stdout.strip().splitlines()[-1].startswith("test accuracy")
    model = str(root / "run" / "model.safetensors")
    _run([sys.executable, "-m", "neuroback", "evaluate", model], root, site)
    gone = _run([sys.executable, "-m", "neuroback", "evaluate", model], root, site=None, expect=1)
    assert f"{NAME}:Swish: install it with: pip install {NAME}==0.1.0" in gone.stderr
    assert len(gone.stderr.strip().splitlines()) == 1


def test_its_tests_run_from_the_source_tree_before_it_is_installed(tmp_path) -> None:
    """The generated pyproject's nb_plugins ini option loads the plugin from src/."""
    _run([sys.executable, "-m", "neuroback", "new-plugin", NAME], cwd=tmp_path)
    tests = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], tmp_path / NAME)
    assert "3 passed" in tests.stdout  # the registry test included: "nb-swish-demo:Swish"


def test_bad_names_and_existing_folders_are_refused(tmp_path) -> None:
    bad = _run([sys.executable, "-m", "neuroback", "new-plugin", "-nope"], tmp_path, expect=2)
    assert "neuroback: error:" in bad.stderr
    bad = _run([sys.executable, "-m", "neuroback", "new-plugin", "no pe"], tmp_path, expect=1)
    assert "is not a valid distribution name" in bad.stderr
    (tmp_path / "taken").mkdir()
    taken = _run([sys.executable, "-m", "neuroback", "new-plugin", "taken"], tmp_path, expect=1)
    assert "already exists" in taken.stderr
