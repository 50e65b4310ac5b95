"""`neuroback train` keeps freed memory for the next step unless --release-memory says not
to (the effect itself is tested in tests/test_heap.py)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import neuroback.heap
from neuroback.cli import cli


@pytest.mark.parametrize(("flags", "calls"), [((), 1), (("--release-memory",), 0)])
def test_train_keeps_freed_memory_unless_told(monkeypatch, tmp_path, flags, calls) -> None:
    seen: list[dict] = []
    monkeypatch.setattr(neuroback.heap, "keep_freed_memory", lambda **kw: seen.append(kw))
    args = ["train", "two_spirals", "--quiet", "--set", "trainer.epochs=1", *flags]
    result = CliRunner().invoke(cli, [*args, "--output-dir", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert len(seen) == calls
