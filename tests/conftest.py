"""Shared fixtures: the PyTorch oracle gate, a Workspace spy, a Ctrl-C inside an update."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from neuroback.switches import env_flag

#: CI sets NEUROBACK_REQUIRE_ORACLE=1; a value that is neither on nor off is an error here.
REQUIRE_ORACLE = env_flag("NEUROBACK_REQUIRE_ORACLE")


@pytest.fixture(scope="session")
def torch() -> Any:
    """PyTorch (CPU, float64) as a numerical oracle.

    Skips with a visible reason when torch is absent, unless NEUROBACK_REQUIRE_ORACLE=1
    (set by CI), which turns the skip into a failure.
    """
    try:
        module = importlib.import_module("torch")
    except ImportError as exc:
        message = f"PyTorch oracle unavailable ({exc}); install it with: pip install torch==2.13.0"
        if REQUIRE_ORACLE:
            pytest.fail(message + " (NEUROBACK_REQUIRE_ORACLE=1 forbids skipping)")
        pytest.skip(message)
    module.set_default_dtype(module.float64)
    return module


@pytest.fixture
def lent_arrays(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``watch(name)``: a list that records every array a layer's ``Workspace`` lends
    under ``name`` from now on (for tests of buffers lent to one call at a time)."""
    from neuroback_builtins import windows

    watched: dict[str, list[Any]] = {}
    lend = windows.Workspace.lend

    def spy(self: windows.Workspace, name: str, xp: Any, shape: Any, dtype: Any, **kw: Any) -> Any:
        array = lend(self, name, xp, shape, dtype, **kw)
        if name in watched:
            watched[name].append(array)
        return array

    monkeypatch.setattr(windows.Workspace, "lend", spy)
    return lambda name: watched.setdefault(name, [])


@pytest.fixture
def ctrl_c_during_update() -> Any:
    """A gradient transform (class) that sends Ctrl-C to this process from inside the
    optimizer's update: for the tests that a Ctrl-C there lands after the update."""
    import os
    import signal

    import neuroback as nb

    class InterruptDuringUpdate(nb.GradientTransform):
        def init(self, params: Any, *, backend: Any) -> None:
            return None

        def update(self, grads: Any, state: Any, params: Any, *, backend: Any) -> Any:
            os.kill(os.getpid(), signal.SIGINT)
            return grads, state

    return InterruptDuringUpdate
