"""``neuroback train``: train from a config (by default, the main job on the digits)."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["train"]


@click.command()
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--output-dir",
    "-o",
    default="neuroback-run",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where model.safetensors, training.png and config.toml are written.",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config key, e.g. --set trainer.epochs=5 (repeatable).",
)
@click.option("--backend", default=None, help="numpy (default), cupy, ... (overrides the config).")
@click.option(
    "--strategy",
    default=None,
    help="single (default) or mpi: under mpiexec, train on every rank (overrides the config).",
)
@click.option("--print-config", is_flag=True, help="Print the resolved config and exit.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option(
    "--release-memory",
    is_flag=True,
    help="Leave the C allocator's defaults: freed memory goes back to the OS each step "
    "(by default this command keeps it for the next step; see neuroback.heap).",
)
def train(
    config: str | None,
    output_dir: str,
    overrides: tuple[str, ...],
    backend: str | None,
    strategy: str | None,
    print_config: bool,
    quiet: bool,
    release_memory: bool,
) -> None:
    """Train the model CONFIG describes (a TOML file), evaluate it on the held-out test
    split, and write the run's files.

    Without CONFIG: the main job, an MLP on the 8x8 handwritten digits (needs the examples
    extra: pip install "neuroback[examples]"); `neuroback train --print-config` shows its
    config, a starting point for your own. CONFIG may also name a shipped example:
    digits, digits_cnn, two_spirals, noisy_sine.
    """
    import numpy as np
    import tomli_w

    from ..heap import keep_freed_memory
    from ..run import prepare_run
    from ..run_config import (
        absolute_data_paths,
        apply_overrides,
        check_config,
        default_config_text,
        example_config_text,
        example_names,
        load_config_file,
        parse_config,
    )

    if config is None:
        text, source, base = default_config_text(), "the default config", Path.cwd()
        raw = parse_config(text, source)
    elif not Path(config).exists() and config in example_names():  # a shipped example
        text, source, base = example_config_text(config), f"the example {config!r}", Path.cwd()
        raw = parse_config(text, source)
    else:
        raw, text = load_config_file(config)
        source, base = config, Path(config).resolve().parent
    raw = absolute_data_paths(apply_overrides(raw, overrides), base)
    checked = check_config(raw, text, source, overridden=overrides)
    if print_config:
        if not overrides and (config is None or source.startswith("the example")):
            click.echo(text.rstrip())
        else:
            click.echo(tomli_w.dumps(checked.resolved).rstrip())
        return
    if not release_memory:  # this command owns its process: no page faults per step
        keep_freed_memory()
    prepared = prepare_run(
        checked, backend=backend, progress=not quiet, base=base, strategy=strategy
    )
    main = prepared.trainer.strategy.is_main  # other ranks train and print nothing
    if main:
        click.echo(f"training {checked.resolved['model']['type']} from {source}")
        model = checked.model
        click.echo(model.summary() if hasattr(model, "summary") else repr(model))
    with np.errstate(all="ignore"):  # a diverging run is reported by neuroback's warnings
        result = prepared.execute(output_dir)
    if result.model_path is None or result.config_path is None:
        return
    click.echo(f"trained {result.epochs} epochs; wrote to {Path(output_dir).resolve()}:")
    click.echo(f"  {result.model_path.name}   the trained model (neuroback evaluate / predict)")
    click.echo(
        f"  {result.config_path.name}         the resolved config (neuroback train it again)"
    )
    if result.plot_path is not None:
        click.echo(f"  {result.plot_path.name}        loss and metrics per epoch")
    else:
        click.echo("  (no training.png: matplotlib is not installed)")
    if not result.held_out:
        click.echo("no held-out data to evaluate on ([data] split has val = 0 and test = 0)")
    for name, value in result.test.items():
        if name != "accuracy":
            click.echo(f"{result.held_out} {name} {value:.4f}")
    if "accuracy" in result.test:
        click.echo(f"{result.held_out} accuracy {result.test['accuracy']:.4f}")
