"""Fixtures of the plugin-system suite: real plugin distributions, built and pip-installed once.

Each demo plugin is a tiny package with its own ``pyproject.toml`` (setuptools
backend) and a ``[project.entry-points.neuroback]`` table. The session fixture
``plugin_site`` writes them to a temporary directory and installs them all with
one offline ``pip install --target``; tests put that directory on ``sys.path``
(``plugin_path``) and build a fresh :class:`~neuroback.plugin_system.PluginRegistry`
whose ``env`` mapping stands in for ``os.environ``.

Distributions built here:

``nb-demo-good`` 1.2.3
    one component of every kind: the layer ``Swish`` (also aliased ``SiLU``), the
    loss ``MAE``, the optimizer ``SignSGD``, the transform ``ScaleGrads``, the
    callback ``CountEpochs``, the metric ``mean_abs_error``, the schedule ``Halving``,
    the strategy ``loopback`` and the command ``demo-hello``.
``nb-demo-other`` 0.4.0
    a second ``Swish`` (same plain name as nb-demo-good's) and a unique ``Mish``;
    its entry point names a sub-module (``nb_demo_other.hooks``).
``nb-demo-broken-import`` / ``nb-demo-broken-runtime``
    modules that raise ``ModuleNotFoundError`` / ``RuntimeError`` when imported.
``nb-demo-raising-hook``
    its layer hook registers ``GhostLayer``, then its loss hook registers
    ``GhostLoss`` and raises.
``nb-demo-invalid``
    registers a valid layer, then a plain function as a layer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from neuroback.plugin_system import PluginRegistry, manager

ENV_DISABLE = "NEUROBACK_DISABLE_PLUGIN_AUTOLOAD"
ENV_ALLOW = "NEUROBACK_LOAD_PLUGINS"
ENV_STRICT = "NEUROBACK_STRICT_PLUGINS"

GOOD = "nb-demo-good"
OTHER = "nb-demo-other"
BROKEN_IMPORT = "nb-demo-broken-import"
BROKEN_RUNTIME = "nb-demo-broken-runtime"
RAISING_HOOK = "nb-demo-raising-hook"
INVALID = "nb-demo-invalid"

#: What nb-demo-good registers, by kind.
GOOD_COMPONENTS = {
    "layers": {"Swish", "SiLU"},
    "losses": {"MAE"},
    "optimizers": {"SignSGD"},
    "transforms": {"ScaleGrads"},
    "callbacks": {"CountEpochs"},
    "metrics": {"mean_abs_error"},
    "schedules": {"Halving"},
    "strategies": {"loopback"},
    "commands": {"demo-hello"},
}
#: What the built-ins register at least (others may be added over time).
BUILTIN_COMPONENTS = {
    "layers": {"Dense", "ReLU", "Sigmoid", "Sequential"},
    "losses": {"MSE"},
    "optimizers": {"SGD"},
}

_GOOD_SOURCE = '''
"""nb-demo-good: one component of every kind."""

import click
import numpy as np

import neuroback
from neuroback import (
    Callback, GradientTransform, Layer, Loss, Optimizer, Schedule, SingleProcess,
)


class Swish(Layer):
    """y = x * sigmoid(beta * x);  dy/dx = s + beta * x * s * (1 - s)."""

    def __init__(self, beta=1.0, *, backend=None):
        super().__init__(backend=backend)
        self.beta = float(beta)

    def forward(self, x, *, train, rng=None):
        s = 1.0 / (1.0 + np.exp(-self.beta * x))

        def backward(dy, *, input_grad=True):
            return dy * (s + self.beta * x * s * (1.0 - s))

        return x * s, backward

    def config(self):
        return {"beta": self.beta}


class MAE(Loss):
    def forward(self, pred, target):
        diff = pred - target
        return np.asarray(np.mean(np.abs(diff))), np.sign(diff) / diff.size


class SignSGD(Optimizer):
    def __init__(self, lr=0.01, *, transforms=()):
        super().__init__(lr=lr, transforms=transforms)

    def hyperparameters(self):
        return {"lr": self.lr}

    def init_slots(self, param):
        return {}

    def update(self, value, grad, slots, *, step, hp=None):
        value -= (hp or {}).get("lr", self.lr) * np.sign(grad)


class ScaleGrads(GradientTransform):
    def __init__(self, factor=1.0):
        self.factor = float(factor)

    def init(self, params, *, backend):
        return None

    def update(self, grads, state, params, *, backend):
        return {k: g * self.factor for k, g in grads.items()}, state

    def config(self):
        return {"factor": self.factor}


class CountEpochs(Callback):
    def __init__(self):
        self.epochs = 0

    def on_epoch_end(self, trainer, epoch, logs):
        self.epochs += 1


def mean_abs_error(pred, target):
    return np.asarray(np.mean(np.abs(pred - target)))


class Halving(Schedule):
    """s(t) = 2 ** -(t // every)"""

    def __init__(self, every=1):
        self.every = int(every)

    def __call__(self, t):
        return 0.5 ** (t // self.every)

    def config(self):
        return {"every": self.every}


class Loopback(SingleProcess):
    """One process, as the default: a strategy a plugin ships."""


@neuroback.hookimpl
def neuroback_register_layers(register):
    register(Swish)
    register(Swish, name="SiLU")


@neuroback.hookimpl
def neuroback_register_losses(register):
    register(MAE)


@neuroback.hookimpl
def neuroback_register_optimizers(register):
    register(SignSGD)


@neuroback.hookimpl
def neuroback_register_transforms(register):
    register(ScaleGrads)


@neuroback.hookimpl
def neuroback_register_callbacks(register):
    register(CountEpochs)


@neuroback.hookimpl
def neuroback_register_metrics(register):
    register(mean_abs_error)


@neuroback.hookimpl
def neuroback_register_schedules(register):
    register(Halving)


@click.command(name="demo-hello")
@click.option("--name", default="world")
def demo_hello(name):
    """Greet, to show that a plugin adds a subcommand."""
    click.echo(f"hello {name} from nb-demo-good")


@neuroback.hookimpl
def neuroback_register_strategies(register):
    register(Loopback, name="loopback")


@neuroback.hookimpl
def neuroback_register_commands(register):
    register(demo_hello)
'''

_OTHER_LAYERS = '''
"""nb-demo-other's layers: a Swish of its own (a name clash) and Mish."""

import numpy as np

from neuroback import Layer


class Swish(Layer):
    def forward(self, x, *, train, rng=None):
        s = 1.0 / (1.0 + np.exp(-x))
        return x * s, lambda dy: dy * (s + x * s * (1.0 - s))

    def config(self):
        return {}


class Mish(Layer):
    def forward(self, x, *, train, rng=None):
        t = np.tanh(np.log1p(np.exp(x)))
        s = 1.0 / (1.0 + np.exp(-x))
        return x * t, lambda dy: dy * (t + x * s * (1.0 - t * t))

    def config(self):
        return {}
'''

_OTHER_HOOKS = '''
"""The entry point of nb-demo-other is this sub-module."""

import neuroback

from .layers import Mish, Swish


@neuroback.hookimpl
def neuroback_register_layers(register):
    register(Swish)
    register(Mish)
'''

_RAISING_HOOK_SOURCE = '''
"""nb-demo-raising-hook: registers a layer, then a loss, then raises."""

import neuroback
from neuroback import Layer, Loss


class GhostLayer(Layer):
    def forward(self, x, *, train, rng=None):
        return x, lambda dy: dy

    def config(self):
        return {}


class GhostLoss(Loss):
    def forward(self, pred, target):
        return (pred - target).sum(), pred - target


@neuroback.hookimpl
def neuroback_register_layers(register):
    register(GhostLayer)


@neuroback.hookimpl
def neuroback_register_losses(register):
    register(GhostLoss)
    raise RuntimeError("nb-demo-raising-hook exploded inside its hook")
'''

_INVALID_SOURCE = '''
"""nb-demo-invalid: a valid layer, then a function registered as a layer."""

import neuroback
from neuroback import Layer


class FineLayer(Layer):
    def forward(self, x, *, train, rng=None):
        return x, lambda dy: dy

    def config(self):
        return {}


def not_a_layer(x):
    return x


@neuroback.hookimpl
def neuroback_register_layers(register):
    register(FineLayer)
    register(not_a_layer)
'''

#: distribution -> (version, {entry point name: value}, {path: source})
DISTRIBUTIONS: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    GOOD: ("1.2.3", {"good": "nb_demo_good"}, {"nb_demo_good/__init__.py": _GOOD_SOURCE}),
    OTHER: (
        "0.4.0",
        {"other": "nb_demo_other.hooks"},
        {
            "nb_demo_other/__init__.py": "",
            "nb_demo_other/layers.py": _OTHER_LAYERS,
            "nb_demo_other/hooks.py": _OTHER_HOOKS,
        },
    ),
    BROKEN_IMPORT: (
        "0.0.1",
        {"broken": "nb_demo_broken_import"},
        {"nb_demo_broken_import/__init__.py": "import nb_demo_missing_dependency  # noqa\n"},
    ),
    BROKEN_RUNTIME: (
        "0.0.2",
        {"broken": "nb_demo_broken_runtime"},
        {
            "nb_demo_broken_runtime/__init__.py": (
                'raise RuntimeError("nb-demo-broken-runtime refuses to start")\n'
            )
        },
    ),
    RAISING_HOOK: (
        "0.1.0",
        {"raising": "nb_demo_raising_hook"},
        {"nb_demo_raising_hook/__init__.py": _RAISING_HOOK_SOURCE},
    ),
    INVALID: (
        "0.2.0",
        {"invalid": "nb_demo_invalid"},
        {"nb_demo_invalid/__init__.py": _INVALID_SOURCE},
    ),
}


def _pyproject(dist: str, version: str, entry_points: Mapping[str, str]) -> str:
    packages = sorted({path.split("/")[0] for path in DISTRIBUTIONS[dist][2]})
    eps = "\n".join(f"{name} = {value!r}" for name, value in entry_points.items())
    return (
        textwrap.dedent(
            f"""\
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{dist}"
        version = "{version}"
        requires-python = ">=3.11"

        [project.entry-points.neuroback]
        """
        )
        + eps
        + f"\n\n[tool.setuptools]\npackages = {json.dumps(packages)}\n"
    )


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding every demo distribution, installed by pip (once per session)."""
    root = tmp_path_factory.mktemp("nb-plugin-dists")
    sources = []
    for dist, (version, entry_points, files) in DISTRIBUTIONS.items():
        src = root / "src" / dist
        for rel, text in files.items():
            path = src / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        (src / "pyproject.toml").write_text(_pyproject(dist, version, entry_points), "utf-8")
        sources.append(str(src))
    site = root / "site"
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        "--target",
        str(site),
        *sources,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=root)
    if proc.returncode != 0:
        pytest.fail(
            "Could not build and install the demo plugin distributions (setuptools comes with "
            f"the test extra: pip install -e '.[test]').\n$ {' '.join(cmd)}\n"
            f"{proc.stdout}\n{proc.stderr}"
        )
    return site


@pytest.fixture
def plugin_path(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``plugin_site`` on ``sys.path`` for this test only."""
    monkeypatch.syspath_prepend(str(plugin_site))
    return plugin_site


@pytest.fixture
def make_registry(plugin_path: Path) -> Callable[..., PluginRegistry]:
    """A fresh registry whose switches come from the given mapping (never ``os.environ``)."""

    def make(env: Mapping[str, str] | None = None, /, **switches: str) -> PluginRegistry:
        return PluginRegistry(env={**(env or {}), **switches})

    return make


@pytest.fixture
def use_global_registry(
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[PluginRegistry], PluginRegistry]:
    """Make a registry the process-wide one (``neuroback.layers``, ``neuroback.register``, CLI)
    for this test only; the real one is restored afterwards."""

    def use(registry: PluginRegistry) -> PluginRegistry:
        monkeypatch.setattr(manager, "_default", registry)
        return registry

    return use


def _clean_env(site: Path | None, extra: Mapping[str, str]) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("NEUROBACK_") and k != "PYTHONPATH"
    }
    if site is not None:
        env["PYTHONPATH"] = str(site)
    env.update(extra)
    return env


@pytest.fixture
def run_subprocess(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run a command with a clean environment (no NEUROBACK_* switches, no inherited
    PYTHONPATH; ``site`` becomes PYTHONPATH), from an empty directory."""

    def run(
        cmd: list[str],
        *,
        site: Path | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
            timeout=120,
            env=_clean_env(site, env or {}),
        )
        if check and proc.returncode != 0:
            pytest.fail(
                f"{cmd} exited with {proc.returncode}\nstdout:\n{proc.stdout}\n"
                f"stderr:\n{proc.stderr}"
            )
        return proc

    return run


@pytest.fixture
def run_python(
    run_subprocess: Callable[..., subprocess.CompletedProcess[str]],
) -> Callable[..., Any]:
    """Run Python code in a fresh interpreter; it prints one JSON value, which is returned."""

    def run(code: str, *, site: Path | None = None, env: Mapping[str, str] | None = None) -> Any:
        proc = run_subprocess([sys.executable, "-c", textwrap.dedent(code)], site=site, env=env)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    return run
