"""How consistent: streaks, report, digest."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from scheduler.domain.errors import UsageError

if TYPE_CHECKING:
    from scheduler.app.service import RitualService
from scheduler.cli.app import App, json_option, main, parse_day, pass_app


@main.command()
@click.argument("names", nargs=-1)
@click.option("--heatmap", is_flag=True, help="A calendar of the last year for each ritual.")
@json_option
@pass_app
def streaks(app: App, names: tuple[str, ...], heatmap: bool, as_json: bool) -> None:
    """Current and longest streaks, completion rate and strength, per ritual."""
    from scheduler.cli import render

    service = app.service()
    if heatmap:
        _print_heatmaps(service, names)
        return
    rows = service.streak_rows(names or None)
    if as_json:
        render.print_json(rows)
        return
    if not rows:
        click.echo("no rituals yet")
        return
    table = [
        [
            r["name"],
            r["period"],
            r["current_streak"],
            r["longest_streak"],
            "-" if r["completion_rate"] is None else f"{r['completion_rate']:.0%}",
            f"{r['strength']:.0%}",
            "at risk" if r["at_risk"] else "",
            r["last_completion"] or "-",
        ]
        for r in rows
    ]
    render.print_table(["name", "per", "current", "longest", "rate", "strength", "", "last done"], table)


def _print_heatmaps(service: RitualService, names: tuple[str, ...]) -> None:
    from scheduler.cli.heatmap import render_heatmap
    from scheduler.domain.heatmap import heatmap_cells
    from scheduler.domain.report import newest_cadence

    color = sys.stdout.isatty()
    for item in service.report_inputs(names or None):
        cells = heatmap_cells(item.history, item.today)
        picture = render_heatmap(item.ritual.name, cells, newest_cadence(item.history).every, color)
        if isinstance(picture, str):
            click.echo(picture)
        else:
            from rich.console import Console

            Console().print(picture)
        click.echo()


@main.command()
@click.option("--week", "window", flag_value="week", help="This calendar week (the default).")
@click.option("--month", "window", flag_value="month", help="This calendar month.")
@click.option("--since", metavar="DATE", help="From DATE up to today.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV: one row per ritual and period.")
@click.option(
    "--chart", type=click.Path(dir_okay=False, path_type=Path), help="Also draw FILE.png or FILE.svg."
)
@pass_app
def report(
    app: App, window: str | None, since: str | None, as_json: bool, as_csv: bool, chart: Path | None
) -> None:
    """Kept, missed and excused periods per ritual, and the balance across the five dimensions."""
    from scheduler.domain import report as reports

    if as_json and as_csv:
        raise UsageError("--json and --csv: give one of them")
    if since and window:
        raise UsageError(f"--since and --{window}: give one of them")
    if chart is not None:
        from scheduler.adapters.charts import check_chart_path

        try:
            check_chart_path(chart)
        except ValueError as exc:
            raise UsageError(f"--chart: {exc}") from None
    service = app.service()
    today = service.household_today()
    if since:
        try:
            first, last = reports.since_window(parse_day(since, today, "--since"), today)
        except ValueError as exc:
            raise UsageError(f"--since: {exc}") from None
    elif window == "month":
        first, last = reports.month_window(today)
    else:
        first, last = reports.week_window(today)
    items = service.report_inputs()
    built = reports.build_report(items, first, last)
    if as_json:
        from scheduler.cli.render import print_json

        print_json(reports.report_json(built))
    elif as_csv:
        click.echo(reports.report_csv(built), nl=False)
    else:
        click.echo(reports.report_text(built))
    if chart is not None:
        from scheduler.adapters.charts import chart_data, write_chart

        written = write_chart(chart_data(items, first, last), chart)
        click.echo(f"chart written to {written}", err=as_json or as_csv)


@main.command()
@pass_app
def digest(app: App) -> None:
    """The weekly digest as it would be sent: the last seven days, short and warm."""
    from scheduler.domain.report import digest_text, digest_title

    service = app.service()
    today = service.household_today()
    click.echo(digest_title(today))
    click.echo()
    click.echo(digest_text(service.report_inputs(), today))
