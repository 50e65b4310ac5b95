"""The ``neuroback`` command: train from a config, evaluate and predict with a model file,
list plugins, describe the installation.

Built on `click <https://click.palletsprojects.com>`_. Plugins add subcommands through the
``neuroback_register_commands(register)`` hook (``register`` receives a click command).
Errors reach the user as one line, ``neuroback: error: ...`` (exit code 1; 2 for a usage
error such as an unknown option); ``neuroback --debug ...`` shows the traceback instead.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from typing import Any

import click

from ..errors import NeurobackError

__all__ = ["cli", "main"]

#: What the command line turns into one line of text instead of a traceback.
_USER_ERRORS = (
    NeurobackError,
    OSError,
    ImportError,
    KeyError,
    IndexError,
    ValueError,
    TypeError,
    EOFError,
    MemoryError,  # a config or a file asking for an absurd size
    RecursionError,  # absurdly deep nesting
)


class _Group(click.Group):
    """The top-level group: adds the plugins' commands, and reports errors in one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_plugin_commands()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return super().get_command(ctx, name) or _plugin_commands().get(name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _USER_ERRORS as exc:
            if ctx.find_root().params.get("debug"):
                raise
            message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
            _error(" ".join(message.split()))  # one line: --debug shows the traceback
            ctx.exit(1)


def _plugin_commands() -> dict[str, click.Command]:
    """Plugin subcommands by name; one that would hide a built-in command is skipped."""
    from ..plugin_system import get_registry

    try:
        components = get_registry().components("commands")
    except NeurobackError as exc:  # a broken plugin set: the built-in commands still work
        warnings.warn(f"plugin commands unavailable: {exc}", stacklevel=2)
        return {}
    out: dict[str, click.Command] = {}
    for comp in components:
        if comp.name in _BUILTIN_COMMANDS:
            click.echo(
                f"Warning: {comp.distribution} registers a command {comp.name!r}, which is a "
                f"built-in command; it is not used.",
                err=True,
            )
            continue
        out[comp.name] = comp.obj
    return out


def _version() -> str:
    from .. import __version__

    return __version__


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=_version(), prog_name="neuroback", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """neuroback: neural-network training where backpropagation is visible and every part
    is a plugin.

    Run `neuroback train` for the main job (an MLP on the handwritten digits), or
    `neuroback COMMAND --help` for one command.
    """


def _one_line_warning(
    message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any
) -> None:
    """How the command shows a warning: one line, what it says and its kind."""
    text = " ".join(str(message).split())
    click.echo(f"neuroback: warning: {text} ({category.__name__})", err=True)


from .check import check  # noqa: E402 - the commands attach to the group above
from .info import info, plugins  # noqa: E402
from .models import evaluate, predict  # noqa: E402
from .scaffold import new_plugin  # noqa: E402
from .train import train  # noqa: E402

for _command in (train, evaluate, predict, plugins, info, check, new_plugin):
    cli.add_command(_command)
_BUILTIN_COMMANDS = frozenset(cli.commands)


def _error(message: str) -> None:
    click.echo(f"neuroback: error: {message}", err=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``neuroback`` console script; returns the exit code.

    Every error is one line on stderr starting ``neuroback: error:``; a usage error (an
    unknown option or command, a missing argument) exits with 2, any other with 1.
    """
    args = list(argv) if argv is not None else sys.argv[1:]
    if argv is None and "--debug" not in args:  # the console script: warnings in one line too
        warnings.showwarning = _one_line_warning
    try:
        result = cli.main(args=args, prog_name="neuroback", standalone_mode=False)
    except click.UsageError as exc:
        if exc.ctx is not None and type(exc).__name__ == "NoArgsIsHelpError":
            click.echo(exc.ctx.get_help())  # `neuroback` alone: the help, as a usage error
            return 2
        where = exc.ctx.command_path if exc.ctx is not None else "neuroback"
        _error(f"{exc.format_message()} (see: {where} --help)")
        return 2
    except click.ClickException as exc:
        _error(exc.format_message())
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:  # a plugin's command may exit the Python way
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except click.Abort:
        _error("aborted.")
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
