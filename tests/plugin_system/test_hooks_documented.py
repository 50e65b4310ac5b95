"""Every hook specification is documented in the plugin guide and has a kind (datasette's idea)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from neuroback.plugin_system import KINDS, hookspecs

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugins.rst"
HOOKS = sorted(
    name
    for name, fn in vars(hookspecs).items()
    if name.startswith("neuroback_") and inspect.isfunction(fn)
)


def test_the_hooks_are_the_kinds_hooks():
    assert sorted(kind.hook for kind in KINDS.values()) == HOOKS
    assert "neuroback_register_schedules" in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_in_the_plugin_guide_and_takes_register(hook):
    params = inspect.signature(getattr(hookspecs, hook)).parameters
    signature = f"{hook}({', '.join(params)})"
    assert f"``{signature}``" in GUIDE.read_text(encoding="utf-8"), (
        f"{signature} is not in docs/plugins.rst's table of hooks"
    )
    assert list(inspect.signature(getattr(hookspecs, hook)).parameters) == ["register"]
    assert getattr(hookspecs, hook).__doc__, f"{hook} has no docstring"
