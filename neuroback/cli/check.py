"""``neuroback check DISTRIBUTION``: the conformance kit over a distribution's components."""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass

import click

from ..errors import ConfigError

__all__ = ["CheckResult", "check", "check_distribution"]


@dataclass(frozen=True)
class CheckResult:
    """One component's contract check on one backend."""

    component: str
    kind: str
    backend: str
    #: "" when the component passed, else the first line of what broke.
    failure: str

    @property
    def passed(self) -> bool:
        return not self.failure


def check_distribution(distribution: str, backends: list[str]) -> list[CheckResult]:
    """Run :func:`neuroback.testing.check_component` on every component ``distribution``
    registers (commands aside: they have no contract), and
    :func:`neuroback.testing.check_kernel` on every :class:`~neuroback.kernels.Kernel`
    defined in the packages those components come from, on each backend."""
    import neuroback.testing.strict  # noqa: F401 - registers the strict backend

    from ..backend import available_backends, use_backend
    from ..kernels import kernels
    from ..plugin_system import get_registry
    from ..plugin_system.registry import normalize
    from ..testing import check_component, check_kernel

    registry = get_registry()
    components = [
        c
        for c in registry.components()
        if normalize(c.distribution) == normalize(distribution) and c.kind != "commands"
    ]
    if not components:
        known = sorted({p.distribution for p in registry.plugins()})
        raise ConfigError(
            f"No components of a distribution named {distribution!r}; the installed plugins "
            f"are {known} (neuroback plugins lists them)."
        )
    unknown = [b for b in backends if b not in available_backends()]
    if unknown:
        raise ConfigError(f"Unknown backend {unknown[0]!r}; available: {available_backends()}.")
    packages = {getattr(c.obj, "__module__", "").split(".")[0] for c in components}
    checks = [
        (c.qualified_name, c.kind, lambda obj=c.obj: check_component(obj)) for c in components
    ] + [
        (k.name, "kernels", lambda k=k: check_kernel(k))
        for k in kernels()
        if getattr(k.reference, "__module__", "").split(".")[0] in packages
    ]
    results: list[CheckResult] = []
    for name, kind, run in checks:
        for backend in backends:
            try:
                with use_backend(backend):
                    run()
                failure = ""
            except Exception as exc:  # any failure of a component is reported, not raised
                lines = str(exc).strip().splitlines() or [type(exc).__name__]
                failure = f"{type(exc).__name__}: {lines[0]}"
                if not isinstance(exc, AssertionError):
                    failure += f" ({traceback.extract_tb(exc.__traceback__)[-1].name})"
            results.append(CheckResult(name, kind, backend, failure))
    return results


@click.command()
@click.argument("distribution")
@click.option(
    "--backends",
    default="numpy,strict",
    show_default=True,
    help="Comma-separated backends to check on (cupy needs a GPU).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable results.")
def check(distribution: str, backends: str, as_json: bool) -> None:
    """Run the conformance kit over every component DISTRIBUTION registers (as installed),
    and print a pass/fail table; exit with 1 if any check fails."""
    names = [b.strip() for b in backends.split(",") if b.strip()]
    results = check_distribution(distribution, names)
    failed = [r for r in results if not r.passed]
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "component": r.component,
                        "kind": r.kind,
                        "backend": r.backend,
                        "passed": r.passed,
                        "failure": r.failure,
                    }
                    for r in results
                ],
                indent=2,
            )
        )
    else:
        width = max(len(r.component) for r in results)
        for r in results:
            status = "pass" if r.passed else "FAIL"
            line = f"{status}  {r.component:<{width}}  {r.kind:<11} {r.backend:<7}"
            click.echo((line + (f"  {r.failure}" if r.failure else "")).rstrip())
        click.echo(
            f"{len(results) - len(failed)} of {len(results)} checks passed "
            f"({len({r.component for r in results})} components, backends {', '.join(names)})."
        )
    if failed:
        raise click.exceptions.Exit(1)
