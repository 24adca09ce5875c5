"""How consistent: streaks, report, digest."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from scheduler.domain.errors import RitualError, UsageError

if TYPE_CHECKING:
    from scheduler.app.service import RitualService
from scheduler.cli.app import App, json_option, main, output_file, parse_day, pass_app


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
        if as_json:
            from scheduler.adapters.encoding import heatmap_json

            render.print_json([heatmap_json(view) for view in service.heatmaps(names or None)])
        else:
            _print_heatmaps(service, names)
        return
    views = service.streaks(names or None)
    if as_json:
        from scheduler.adapters.encoding import streak_json

        render.print_json([streak_json(view) for view in views])
        return
    if not views:
        click.echo("no rituals yet")
        return
    table = []
    for view in views:
        summary = view.summary
        rate = summary.completion_rate
        last = summary.last_completion
        table.append(
            [
                view.ritual.name,
                summary.period.value,
                summary.current_streak,
                summary.longest_streak,
                "-" if rate is None else f"{round(rate, 3):.0%}",
                f"{round(summary.strength, 3):.0%}",
                "at risk" if summary.at_risk else "",
                last.isoformat() if last else "-",
            ]
        )
    render.print_table(["name", "per", "current", "longest", "rate", "strength", "", "last done"], table)


def _print_heatmaps(service: RitualService, names: tuple[str, ...]) -> None:
    from scheduler.cli.heatmap import print_heatmaps

    print_heatmaps(service.heatmaps(names or None))


@main.command()
@click.option("--week", is_flag=True, help="This calendar week (the default).")
@click.option("--month", is_flag=True, help="This calendar month.")
@click.option("--since", metavar="DATE", help="From DATE up to today.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV: one row per ritual and period.")
@click.option("--chart", type=click.Path(path_type=Path), help="Also draw FILE.png or FILE.svg.")
@pass_app
def report(
    app: App,
    week: bool,
    month: bool,
    since: str | None,
    as_json: bool,
    as_csv: bool,
    chart: Path | None,
) -> None:
    """Kept, missed and excused periods per ritual, and the balance across the five dimensions."""
    from scheduler.domain.report import report_text

    if as_json and as_csv:
        raise UsageError("--json and --csv: give one of them")
    windows = [f"--{name}" for name, given in (("week", week), ("month", month)) if given]
    if since:
        windows.append("--since")
    if len(windows) > 1:
        raise UsageError(f"{', '.join(windows[:-1])} and {windows[-1]}: give one of them")
    if chart is not None:
        from scheduler.adapters.charts import check_chart_path

        try:
            check_chart_path(chart)
        except ValueError as exc:
            raise UsageError(f"--chart: {exc}") from None
        output_file(chart, "--chart")
    service = app.service()
    start = parse_day(since, service.household_today(), "--since") if since else None
    try:
        first, last = service.report_window("month" if month else "week", start)
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None
    built = service.report(first, last)
    if chart is not None:  # drawn first: a chart that cannot be written leaves no half-done output
        from scheduler.adapters.charts import write_chart

        try:
            write_chart(service.trends(first, last), chart)
        except OSError as exc:
            reason = exc.strerror or exc.__class__.__name__
            raise RitualError(f"--chart {chart}: cannot write ({reason})") from None
    if as_json:
        from scheduler.adapters.encoding import report_json
        from scheduler.cli.render import print_json

        print_json(report_json(built))
    elif as_csv:
        from scheduler.adapters.encoding import report_csv

        click.echo(report_csv(built), nl=False)
    else:
        click.echo(report_text(built))
    if chart is not None:
        click.echo(f"chart written to {chart}", err=as_json or as_csv)


@main.command()
@json_option
@pass_app
def digest(app: App, as_json: bool) -> None:
    """The weekly digest as it would be sent: the last seven days, short and warm."""
    view = app.service().digest_view()
    if as_json:
        from scheduler.adapters.encoding import digest_json
        from scheduler.cli.render import print_json

        print_json(digest_json(view))
        return
    click.echo(view.title)
    click.echo()
    click.echo(view.text)
