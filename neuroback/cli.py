"""The ``neuroback`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .errors import NeurobackError
from .plugin_system import KINDS, get_registry

__all__ = ["main"]


def _plugins_command(args: argparse.Namespace) -> int:
    registry = get_registry()
    plugins = registry.plugins()
    if args.json:
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
            for p in plugins
        ]
        json.dump(payload, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not plugins:
        print("No neuroback plugins found. Is neuroback installed (pip install neuroback)?")
        return 1
    for p in plugins:
        tag = " [built-in]" if p.builtin else ""
        print(f"{p.distribution} {p.version}{tag}  ({p.entry_point})")
        if p.error:
            print(f"  FAILED: {p.error}")
            continue
        for kind in KINDS:
            names = sorted(c.name for c in p.components if c.kind == kind)
            if names:
                print(f"  {kind + ':':<12} {', '.join(names)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="neuroback", description="neuroback: visible backpropagation, every part a plugin."
    )
    parser.add_argument("--version", action="version", version=f"neuroback {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    plugins = sub.add_parser("plugins", help="list installed plugins and their components")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    plugins.set_defaults(func=_plugins_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``neuroback`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except NeurobackError as exc:
        print(f"neuroback: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
