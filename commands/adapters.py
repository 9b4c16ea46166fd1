"""Adapters: what is installed, conformance runs against golden files, and drafting a new
partner's mapping."""

from pathlib import Path
from typing import Annotated

import typer

from adapters.sample_format import SampleFormat
from commands.common import JsonOption, NetworkOption, err, network_path, out, write_json
from hub.errors import ConfigurationError

# What a command uses is imported in its body, so that `hub --help` starts fast.

app = typer.Typer(
    help="Partner adapters: what is installed, conformance and scaffolding.", no_args_is_help=True
)

MappingsOption = Annotated[Path, typer.Option("--mappings", help="The mappings folder.")]
FixturesOption = Annotated[Path, typer.Option("--fixtures", help="The fixtures folder.")]


@app.command("list")
def list_adapters(
    as_json: JsonOption = False,
) -> None:
    """Every installed codec, transport and receiver: its package, capabilities and settings."""
    from rich.table import Table

    from hub.config.registry import broken, describe, installed
    from hub.ports import AdapterKind

    adapters = [
        describe(found) for kind in AdapterKind for _, found in sorted(installed(kind).items())
    ]
    failed = [failure for kind in AdapterKind for failure in broken(kind).values()]
    if as_json:  # JSON lines: one adapter a line, those that cannot load too (README)
        for adapter in adapters:
            write_json({**adapter, "loaded": True})
        for f in failed:
            write_json(
                {
                    "kind": f.kind.value,
                    "name": f.name,
                    "package": f.package,
                    "loaded": False,
                    "problem": f.problem,
                }
            )
        return
    table = Table("kind", "name", "package", "capabilities", "settings", "summary")
    for adapter in adapters:
        table.add_row(
            adapter["kind"],
            adapter["name"],
            f"{adapter['package']} {adapter['version']}".strip(),
            ", ".join(adapter["capabilities"]),
            ", ".join(adapter["settings"].get("properties", {})),
            adapter["summary"],
        )
    out.print(table)
    for failure in failed:
        err.print(
            f"[red]cannot load[/red] the {failure.kind.value} {failure.name!r} of "
            f"{failure.package}: {failure.problem}",
            highlight=False,
        )


@app.command("test")
def conformance(
    partner: Annotated[str, typer.Argument(help="The partner, as named by its mapping file.")],
    update: Annotated[
        bool, typer.Option("--update", help="Rewrite the golden files from today's output.")
    ] = False,
    mappings: MappingsOption = Path("mappings"),
    fixtures: FixturesOption = Path("fixtures"),
    network: NetworkOption = None,
) -> None:
    """Run a partner's conformance checks; show a diff for each golden file that differs."""
    from rich.markup import escape
    from rich.table import Table

    from hub.config.network import load_network
    from hub.partners.conformance import run_conformance

    path = mappings / f"{partner}.yaml"
    if not path.exists():
        raise ConfigurationError(f"no mapping file {path}")
    parties = load_network(network_path(network)).parties
    report = run_conformance(path, fixtures, parties, update=update)
    if report.skipped is not None:
        out.print(f"[yellow]{partner}: skipped[/yellow]: {escape(report.skipped)}", soft_wrap=True)
        return
    table = Table("check", "result", title=f"Conformance of {partner}")
    for check in report.checks:
        table.add_row(check.name, "[green]pass[/green]" if check.passed else "[red]FAIL[/red]")
    out.print(table)
    for check in report.checks:
        if not check.passed:
            err.print(f"[red]{escape(check.name)}[/red]")
            err.print(check.detail, markup=False, highlight=False, soft_wrap=True)
    for note in report.notes:
        out.print(f"[yellow]note[/yellow]: {escape(note)}", highlight=False, soft_wrap=True)
    if not report.passed:
        raise typer.Exit(1)


@app.command("new")
def new(
    partner: Annotated[str, typer.Argument(help="The new partner's id, e.g. atelier-martin.")],
    sample: Annotated[Path, typer.Option("--sample", help="A file as the partner sends it.")],
    mappings: MappingsOption = Path("mappings"),
    fixtures: FixturesOption = Path("fixtures"),
    force: Annotated[bool, typer.Option(help="Overwrite an existing mapping file.")] = False,
    sample_format: Annotated[
        SampleFormat | None,
        typer.Option("--format", help="The sample's format, when telling it from the bytes fails."),
    ] = None,
) -> None:
    """Draft a mapping from a sample (CSV, JSON, XML, fixed-width or EDIFACT), and start
    the partner's fixture folder with it."""
    from rich.markup import escape

    from adapters.scaffold import draft_mapping

    target = mappings / f"{partner}.yaml"
    if target.exists() and not force:
        raise ConfigurationError(f"{target} exists; use --force to overwrite it")
    if not sample.is_file():
        raise ConfigurationError(f"no sample file {sample}")
    content = sample.read_bytes()
    draft = draft_mapping(partner, content, sample.name, sample_format=sample_format)
    mappings.mkdir(parents=True, exist_ok=True)
    target.write_text(draft.yaml_text, encoding="utf-8")
    folder = fixtures / partner
    folder.mkdir(parents=True, exist_ok=True)
    (folder / sample.name).write_bytes(content)
    out.print(f"wrote {target} ({draft.format.value}) and {folder / sample.name}", highlight=False)
    out.print("Still to do:")
    for step in draft.to_do:
        out.print(f"  - {escape(step)}", highlight=False, soft_wrap=True)
    out.print(
        f"Then: `hub adapters test {partner} --update` writes the golden file; read it, "
        f"and `hub adapters test {partner}` keeps it true."
    )
