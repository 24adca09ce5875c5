"""Moving history in and out: export and import."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from scheduler.cli.app import App, main, output_file, pass_app, write_output
from scheduler.domain.errors import UsageError


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv", "ics"]),
    default="json",
    show_default=True,
    help="json/csv: everything, for backups and `ritual import`; ics: upcoming nudges as a calendar.",
)
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Write to FILE.")
@click.option(
    "--days", default=60, show_default=True, type=click.IntRange(1, 366), help="ICS: how far ahead."
)
@pass_app
def export(app: App, fmt: str, output: Path | None, days: int) -> None:
    """Export rituals, completions, skips and pauses (or an iCalendar feed of upcoming nudges)."""
    if output is not None:
        output_file(output, "--output")
    service = app.service()
    data: str | bytes
    if fmt == "ics":
        from scheduler.adapters.ics import ics_feed

        data = ics_feed(service.upcoming(days), generated_at=service.now())
    else:
        from scheduler.cli.render import progress_bar

        with progress_bar("exporting") as progress:
            data = service.export(fmt, progress)
    if output is None:
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        else:
            click.echo(data, nl=False)
        return
    write_output(output, data, "--output")
    click.echo(f"wrote {output}", err=True)


@main.command(name="import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), help="Default: by the file's suffix.")
@click.option(
    "--loop",
    is_flag=True,
    help="PATH is Loop Habit Tracker's backup (.db) or CSV export (its ZIP, folder or a CSV file).",
)
@click.option("--name", help="With --loop and a single habit's CSV: the ritual to import into.")
@click.option("--dry-run", is_flag=True, help="Check and count, change nothing.")
@pass_app
def import_(app: App, path: Path, fmt: str | None, loop: bool, name: str | None, dry_run: bool) -> None:
    """Merge a backup from `ritual export` (or Loop Habit Tracker's) in; nothing stored is overwritten.

    With --dry-run, say what would be added, ritual by ritual, and change nothing.
    """
    if name and not loop:
        raise UsageError("--name goes with --loop")
    from scheduler.cli.render import progress_bar

    service = app.service()
    with progress_bar("checking" if dry_run else "importing") as progress:
        result = service.import_file(path, fmt=fmt, loop=loop, name=name, dry_run=dry_run, progress=progress)
    click.echo(result.summary())
    for line in result.lines():
        click.echo(f"  {line}")
