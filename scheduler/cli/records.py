"""What people did: done, skip, undo, pause, resume."""

from __future__ import annotations

import click

from scheduler.cli.app import App, json_option, main, parse_at, parse_day, pass_app
from scheduler.domain.errors import UsageError


@main.command()
@click.argument("name")
@click.option("--date", "day", metavar="DATE", help="The day it was done (YYYY-MM-DD, yesterday).")
@click.option("--at", "at", metavar="DATETIME", help="When it was done ('2026-11-20 21:15').")
@click.option("--by", default="", help="Who did it.")
@click.option("--note", default="", help="A note to keep with it.")
@json_option
@pass_app
def done(app: App, name: str, day: str | None, at: str | None, by: str, note: str, as_json: bool) -> None:
    """Record that a ritual was done (today unless --date or --at says otherwise)."""
    if day and at:
        raise UsageError("--date and --at: give one of them")
    service = app.service()
    when = on_day = None
    if at or day:  # the ritual's zone reads them; record_done looks the ritual up itself
        stored = service.get(name)
        when = parse_at(at, stored.ritual) if at else None
        on_day = parse_day(day, service.today(stored.ritual), "--date") if day else None
    recorded = service.record_done(name, day=on_day, at=when, by=by.strip(), note=note)
    if as_json:
        from scheduler.adapters.encoding import recorded_json
        from scheduler.cli.render import print_json

        print_json(recorded_json(recorded))
        return
    from scheduler.domain.wording import human_day

    record = recorded.completion
    who = f" by {record.by}" if record.by else ""
    verb = "recorded" if recorded.created else "already recorded"
    click.echo(f"{verb}: '{name}' on {human_day(record.day)}{who}")


@main.command()
@click.argument("name")
@click.option("--date", "day", metavar="DATE", help="The day to skip (default today).")
@click.option("--reason", default="", help="Why, for your own record.")
@pass_app
def skip(app: App, name: str, day: str | None, reason: str) -> None:
    """Excuse a period: a skipped period neither adds to nor breaks a streak."""
    from scheduler.domain.wording import human_day

    service = app.service()
    stored = service.get(name)
    on_day = parse_day(day, service.today(stored.ritual), "--date") if day else None
    record = service.skip(name, day=on_day, reason=reason)
    click.echo(f"skipped '{name}' on {human_day(record.day)}")


@main.command()
@click.argument("name")
@pass_app
def undo(app: App, name: str) -> None:
    """Delete the last completion recorded for a ritual."""
    from scheduler.domain.wording import human_day

    record = app.service().undo(name)
    click.echo(f"removed the completion of '{name}' on {human_day(record.day)}")


@main.command()
@click.argument("name")
@click.option("--from", "start", metavar="DATE", help="First paused day (default today).")
@click.option("--until", metavar="DATE", help="Last paused day (default: until `ritual resume`).")
@click.option("--reason", default="", help="Why, for your own record.")
@pass_app
def pause(app: App, name: str, start: str | None, until: str | None, reason: str) -> None:
    """Pause a ritual (now or planned ahead): no nudges, and its streak waits."""
    from scheduler.domain.wording import human_day

    service = app.service()
    today = service.today(service.get(name).ritual)
    record = service.pause(
        name,
        start=parse_day(start, today, "--from") if start else None,
        until=parse_day(until, today, "--until") if until else None,
        reason=reason,
    )
    end = f" until {human_day(record.until)}" if record.until else " until `ritual resume`"
    click.echo(f"paused '{name}' from {human_day(record.start)}{end}")
    app.tell_daemon()


@main.command()
@click.argument("name")
@pass_app
def resume(app: App, name: str) -> None:
    """End a pause: the ritual is due again from today."""
    ended = app.service().resume(name)
    click.echo(f"resumed '{name}'" if ended else f"'{name}' was not paused")
    app.tell_daemon()
