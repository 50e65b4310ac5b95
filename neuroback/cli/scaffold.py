"""``neuroback new-plugin NAME``: a ready plugin project to fill in."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import click

from ..errors import ConfigError
from ..plugin_api import PLUGIN_API_VERSION

__all__ = ["new_plugin", "write_plugin_project"]

#: PEP 508 distribution names (letters, digits, ``-_.``, alphanumeric at both ends)
_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")

#: template -> the file it becomes ({module} is the import name)
_FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "plugin.py.tmpl": "src/{module}/plugin.py",
    "layers.py.tmpl": "src/{module}/layers.py",
    "test_plugin.py.tmpl": "tests/test_{module}.py",
}


def write_plugin_project(name: str, folder: Path) -> list[Path]:
    """Write the project of the plugin distribution ``name`` into ``folder`` (which must not
    exist yet); returns the files written."""
    from .. import __version__

    if not _NAME.match(name):
        raise ConfigError(
            f"{name!r} is not a valid distribution name: use letters, digits, '-', '_' and '.', "
            f"starting and ending with a letter or digit (e.g. nb-swish)."
        )
    if folder.exists():
        raise ConfigError(f"{folder} already exists; choose another name or --directory.")
    module = re.sub(r"[-.]+", "_", name).lower()
    major, minor = (int(part) for part in __version__.split(".")[:2])
    values = {
        "name": name,
        "module": module,
        "title": name.replace("-", " ").replace("_", " "),
        "major": major,
        "minor": minor,
        "next_minor": minor + 1,
        "plugin_api": PLUGIN_API_VERSION,
    }
    templates = resources.files("neuroback.cli").joinpath("templates")
    written = []
    for template, target in _FILES.items():
        path = folder / target.format(module=module)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(templates.joinpath(template).read_text().format(**values))
        written.append(path)
    (folder / "src" / module / "__init__.py").write_text(f'"""The {name} neuroback plugin."""\n')
    written.append(folder / "src" / module / "__init__.py")
    return written


@click.command(name="new-plugin")
@click.argument("name")
@click.option(
    "--directory",
    "-d",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to write the project (default: ./NAME).",
)
def new_plugin(name: str, directory: str | None) -> None:
    """Write a ready plugin project NAME: a pyproject with the neuroback entry point, a
    layer with its example, a test using the conformance kit, and a README."""
    folder = Path(directory) if directory else Path(name)
    written = write_plugin_project(name, folder)
    click.echo(f"wrote the plugin project {name} in {folder.resolve()}:")
    for path in written:
        click.echo(f"  {path.relative_to(folder)}")
    click.echo(f'next: cd {folder} && pip install -e ".[test]" && pytest && neuroback check {name}')
