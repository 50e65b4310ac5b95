"""``neuroback plugins`` and ``neuroback info``: what is installed."""

from __future__ import annotations

import json
import os
import platform
from typing import Any

import click
import numpy as np

from ..plugin_system import KINDS, get_registry

__all__ = ["info", "plugins"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json: bool) -> None:
    """List the installed plugins and the components each registers."""
    found = get_registry().plugins()
    if as_json:
        payload = [
            {
                "distribution": p.distribution,
                "version": p.version,
                "entry_point": p.entry_point,
                "builtin": p.builtin,
                "error": p.error,
                "components": {
                    kind: sorted(c.name for c in p.components if c.kind == kind)
                    for kind in KINDS
                    if any(c.kind == kind for c in p.components)
                },
            }
            for p in found
        ]
        click.echo(json.dumps(payload, indent=2))
        return
    if not found:
        click.echo("No neuroback plugins found. Is neuroback installed (pip install neuroback)?")
        raise click.exceptions.Exit(1)
    for p in found:
        tag = " [built-in]" if p.builtin else ""
        click.echo(f"{p.distribution} {p.version}{tag}  ({p.entry_point})")
        if p.error:
            click.echo(f"  FAILED: {p.error}")
            continue
        for kind in KINDS:
            names = sorted(c.name for c in p.components if c.kind == kind)
            if names:
                click.echo(f"  {kind + ':':<12} {', '.join(names)}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info(as_json: bool) -> None:
    """Versions of neuroback, Python, NumPy and CuPy, the BLAS and its threads, the GPU."""
    facts = describe()
    if as_json:
        click.echo(json.dumps(facts, indent=2))
        return
    width = max(len(k) for k in facts)
    for key, value in facts.items():
        click.echo(f"{key:<{width}}  {value}")


def describe() -> dict[str, Any]:
    """What ``neuroback info`` shows, as a dict."""
    from .. import __version__
    from ..file_format import FORMAT_VERSION
    from ..plugin_api import PLUGIN_API_VERSION

    return {
        "neuroback": __version__,
        "plugin api": PLUGIN_API_VERSION,
        "file format": FORMAT_VERSION,
        "python": f"{platform.python_version()} ({platform.platform()})",
        "numpy": np.__version__,
        "blas": _blas(),
        "blas threads": _blas_threads(),
        "cupy": _cupy_version(),
        "gpu": _gpu(),
        "backend": os.environ.get("NEUROBACK_BACKEND") or "numpy (default)",
    }


def _blas() -> str:
    try:
        config = np.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        name, version = blas.get("name", "unknown"), blas.get("version", "")
        return f"{name} {version}".strip()
    except Exception:  # the BLAS is reported when NumPy can tell; never fail over it
        return "unknown"


def _blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info  # optional: it reads the real count

        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if pools:
            return ", ".join(f"{p['internal_api']}: {p['num_threads']}" for p in pools)
    except ImportError:
        pass
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var):
            return f"{os.environ[var]} ({var})"
    return f"default (up to {os.cpu_count()} CPUs)"


def _cupy_version() -> str:
    try:
        import cupy
    except Exception as exc:  # not installed, or no CUDA: say which
        return f"not available ({type(exc).__name__}: {exc})"[:120]
    return str(cupy.__version__)


def _gpu() -> str:
    try:
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        memory = props.get("totalGlobalMem", 0) / 2**30
        return f"{name} ({memory:.0f} GiB), {cupy.cuda.runtime.getDeviceCount()} device(s)"
    except Exception:
        return "none found"
