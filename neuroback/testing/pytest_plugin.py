"""neuroback's pytest plugin: the ``nb_backend`` fixture (installed with neuroback).

A test that asks for ``nb_backend`` runs once per backend, inside
``neuroback.use_backend(...)``, so layers built in the test live there::

    def test_my_layer(nb_backend):
        layer, x = MyLayer.example()
        neuroback.testing.check_layer(layer, x)

By default the backends are ``numpy`` and ``cupy``; the CuPy run is marked
``gpu`` and skipped, with its reason, where CuPy or a GPU is missing. Choose
others with ``--nb-backends=numpy,strict`` (``strict`` is the CPU test backend
whose arrays refuse implicit NumPy conversion, as CuPy's do).

A plugin's tests can run from its source tree, before it is installed: the ini option
``nb_plugins`` lists ``distribution = module`` pairs (the module holding the hooks, as in
the entry point), and each one that is not installed is loaded at the start of the run
under its distribution's name, so ``nb.layers.Swish`` and ``"my-dist:Swish"`` resolve as
they will once it is::

    [tool.pytest.ini_options]
    nb_plugins = ["my-dist = my_dist.plugin"]
    pythonpath = ["src"]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

DEFAULT_BACKENDS = ("numpy", "cupy")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("neuroback")
    group.addoption(
        "--nb-backends",
        default=None,
        help="comma-separated backends the nb_backend fixture runs on "
        f"(default: {','.join(DEFAULT_BACKENDS)}; also available: strict)",
    )

    parser.addini(
        "nb_plugins",
        type="linelist",
        help="'distribution = module' pairs: plugins loaded from source when not installed",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gpu: needs CuPy and a CUDA GPU (skipped without)")
    _load_source_plugins(config)


def _load_source_plugins(config: pytest.Config) -> None:
    """Load each ``nb_plugins`` entry whose distribution is not installed (from source)."""
    entries = [line for line in config.getini("nb_plugins") if line.strip()]
    if not entries:
        return
    import importlib

    import neuroback
    from neuroback.plugin_system.registry import normalize

    installed = {normalize(p.distribution) for p in neuroback.get_registry().plugins()}
    for entry in entries:
        distribution, sep, module = (part.strip() for part in entry.partition("="))
        if not sep or not distribution or not module:
            raise pytest.UsageError(
                f"nb_plugins entries are 'distribution = module', got {entry!r}."
            )
        if normalize(distribution) in installed:
            continue  # installed: its entry point already loaded it
        neuroback.load_plugin(importlib.import_module(module), distribution=distribution)


def _requested(config: pytest.Config) -> list[str]:
    raw = config.getoption("--nb-backends")
    if not raw:
        return list(DEFAULT_BACKENDS)
    return [name.strip() for name in raw.split(",") if name.strip()]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "nb_backend" not in metafunc.fixturenames:
        return
    params = [
        pytest.param(name, id=name, marks=[pytest.mark.gpu] if name == "cupy" else [])
        for name in _requested(metafunc.config)
    ]
    metafunc.parametrize("nb_backend", params, indirect=True)


@pytest.fixture
def nb_backend(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The backend this test instance runs on, active for the whole test."""
    import neuroback
    from neuroback.errors import BackendError

    name = getattr(request, "param", "numpy")
    if name == "strict":
        import neuroback.testing.strict  # registers the "strict" backend
    try:
        backend = neuroback.get_backend(name)
    except BackendError as exc:
        if name == "cupy":
            pytest.skip(f"cupy backend unavailable here: {exc}")
        raise
    with neuroback.use_backend(backend):
        yield backend
