"""docs/compatibility.rst states which plugin API and file format this release series
provides; the table must follow the constants when they change."""

from __future__ import annotations

import re
from pathlib import Path

import neuroback as nb
from neuroback.file_format import FORMAT_VERSION

PAGE = Path(__file__).resolve().parents[2] / "docs" / "compatibility.rst"


def _rows() -> dict[str, list[str]]:
    """The list-table's rows, keyed by their first cell (the release series)."""
    text = PAGE.read_text(encoding="utf-8")
    table = text[text.index(".. list-table::") :].split("\n\n", 2)[1]
    rows: dict[str, list[str]] = {}
    for row in re.split(r"\n   \* - ", "\n" + table)[1:]:
        cells = [c.strip() for c in re.split(r"\n     - ", row)]
        rows[cells[0]] = cells[1:]
    return rows


def test_the_table_states_this_release_series() -> None:
    major, minor = nb.__version__.split(".")[:2]
    rows = _rows()
    assert f"{major}.{minor}.x" in rows, f"docs/compatibility.rst has no row for {major}.{minor}.x"
    api, writes, reads = rows[f"{major}.{minor}.x"]
    assert api == nb.PLUGIN_API_VERSION
    assert writes == str(FORMAT_VERSION)
    assert reads == ", ".join(str(v) for v in range(1, FORMAT_VERSION + 1))
