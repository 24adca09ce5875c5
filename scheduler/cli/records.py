"""What people did: done, skip, unskip, undo, pause, resume."""

from __future__ import annotations

import click

from scheduler.cli.app import App, json_option, main, parse_at, parse_day, pass_app
from scheduler.domain.errors import UsageError

_BY_HELP = "Who: a person of the household, or 'household' for both of you (default: RITUAL_PERSON, else me)."


def _by(app: App, by: str | None, *, asked: bool = False) -> str:
    """``--by``, or who this machine records as (RITUAL_PERSON, else the settings' ``me``, else the
    one person of the household). With ``asked``, a household of several must say who."""
    if by is not None:
        return by.strip()
    settings = app.settings
    if settings.person:
        return settings.person
    people = settings.household.keys
    if len(people) == 1:
        return people[0]
    if asked and people:
        raise UsageError(
            f"--by: who did it? {', '.join(people)} or household (both of you);"
            " `me` in settings.toml or RITUAL_PERSON says it once for this machine"
        )
    return ""


def _where(by: str | None) -> str:
    """What named the person, for an error about someone unknown."""
    return "--by" if by is not None else "RITUAL_PERSON/me"


@main.command()
@click.argument("name")
@click.option("--date", "day", metavar="DATE", help="The day it was done (YYYY-MM-DD, yesterday).")
@click.option("--at", "at", metavar="DATETIME", help="When it was done ('2026-11-20 21:15').")
@click.option("--by", default=None, help=_BY_HELP)
@click.option("--note", default="", help="A note to keep with it.")
@click.option("--again", is_flag=True, help="Record another one for the same day (for times > 1).")
@json_option
@pass_app
def done(
    app: App,
    name: str,
    day: str | None,
    at: str | None,
    by: str | None,
    note: str,
    again: bool,
    as_json: bool,
) -> None:
    """Record that a ritual was done (today unless --date or --at says otherwise); once a day each."""
    if day and at:
        raise UsageError("--date and --at: give one of them")
    service = app.service()
    when = on_day = None
    if at or day:  # the ritual's zone reads them; record_done looks the ritual up itself
        stored = service.get(name)
        when = parse_at(at, stored.ritual) if at else None
        on_day = parse_day(day, service.today(stored.ritual), "--date") if day else None
    recorded = service.record_done(
        name, day=on_day, at=when, by=_by(app, by, asked=True), note=note, again=again, where=_where(by)
    )
    if as_json:
        from scheduler.adapters.encoding import recorded_json
        from scheduler.cli.render import print_json

        print_json(recorded_json(recorded))
        return
    from scheduler.domain.wording import human_day

    record = recorded.completion
    who = f" by {record.by}" if record.by else ""
    if recorded.created:
        click.echo(f"recorded: '{name}' on {human_day(record.day)}{who}")
        return
    kept = f"; its note stays '{record.note}'" if note and record.note != note and record.note else ""
    if note and not record.note:
        kept = "; the note was not added"
    click.echo(f"already recorded: '{name}' on {human_day(record.day)}{who}{kept} (--again records another)")


@main.command()
@click.argument("name")
@click.option("--date", "day", metavar="DATE", help="The day to skip (default today).")
@click.option("--reason", default="", help="Why, for your own record.")
@click.option("--by", default=None, help=_BY_HELP)
@pass_app
def skip(app: App, name: str, day: str | None, reason: str, by: str | None) -> None:
    """Excuse a period: a skipped period neither adds to nor breaks a streak."""
    from scheduler.domain.wording import human_day

    service = app.service()
    stored = service.get(name)
    on_day = parse_day(day, service.today(stored.ritual), "--date") if day else None
    record, created = service.skip(name, day=on_day, reason=reason, by=_by(app, by), where=_where(by))
    who = f" by {record.by}" if record.by else ""
    if created:
        click.echo(f"skipped '{name}' on {human_day(record.day)}{who}")
    else:
        click.echo(
            f"already skipped: '{name}' on {human_day(record.day)}{who} (`ritual unskip` takes it back)"
        )


@main.command()
@click.argument("name")
@click.option("--date", "day", metavar="DATE", help="A day of the skipped period (default today).")
@pass_app
def unskip(app: App, name: str, day: str | None) -> None:
    """Take back a skip: the period counts again."""
    from scheduler.domain.wording import human_day

    service = app.service()
    on_day = parse_day(day, service.today(service.get(name).ritual), "--date") if day else None
    record = service.unskip(name, day=on_day)
    click.echo(f"unskipped '{name}' on {human_day(record.day)}")


@main.command()
@click.argument("name")
@click.option(
    "--date", "day", metavar="DATE", help="The day whose completion to remove (default: the newest)."
)
@click.option(
    "--by",
    default=None,
    help="Whose completion (default: yours and both of you's, by RITUAL_PERSON or me; else anyone's).",
)
@pass_app
def undo(app: App, name: str, day: str | None, by: str | None) -> None:
    """Remove a completion: that day's (--date), else the newest one recorded."""
    from scheduler.domain.wording import human_day

    service = app.service()
    on_day = parse_day(day, service.today(service.get(name).ritual), "--date") if day else None
    record = service.undo(name, day=on_day, by=by, mine=app.settings.person or "")
    who = f" by {record.by}" if record.by else ""
    click.echo(f"removed the completion of '{name}' on {human_day(record.day)}{who}")


@main.command()
@click.argument("name", required=False)
@click.option("--all", "everything", is_flag=True, help="Pause the whole household: every ritual.")
@click.option("--from", "start", metavar="DATE", help="First paused day (default today).")
@click.option("--until", metavar="DATE", help="Last paused day (default: until `ritual resume`).")
@click.option("--reason", default="", help="Why, for your own record.")
@click.option("--by", default=None, help=_BY_HELP)
@pass_app
def pause(
    app: App,
    name: str | None,
    everything: bool,
    start: str | None,
    until: str | None,
    reason: str,
    by: str | None,
) -> None:
    """Pause a ritual, or everything with --all (now or planned ahead): no nudges, streaks wait."""
    from scheduler.domain.wording import human_day

    chosen = _one_or_all(name, everything)
    service = app.service()
    today = service.household_today() if chosen is None else service.today(service.get(chosen).ritual)
    record, created = service.pause(
        chosen,
        start=parse_day(start, today, "--from") if start else None,
        until=parse_day(until, today, "--until") if until else None,
        reason=reason,
        by=_by(app, by),
        where=_where(by),
    )
    what = "everything (the whole household)" if chosen is None else f"'{chosen}'"
    resume = "`ritual resume --all`" if chosen is None else "`ritual resume`"
    end = f" until {human_day(record.until)}" if record.until else f" until {resume}"
    if not created:
        click.echo(f"already paused: {what} from {human_day(record.start)}{end}")
        return
    who = f" (by {record.by})" if record.by else ""
    click.echo(f"paused {what} from {human_day(record.start)}{end}{who}")
    app.tell_daemon()


@main.command()
@click.argument("name", required=False)
@click.option("--all", "everything", is_flag=True, help="Resume the whole household.")
@pass_app
def resume(app: App, name: str | None, everything: bool) -> None:
    """End a pause, or cancel a planned one: due again from today (--all: the household's)."""
    chosen = _one_or_all(name, everything)
    resumed = app.service().resume(chosen)
    what = "the household" if chosen is None else f"'{chosen}'"
    said = []
    if resumed.ended:
        said.append(f"resumed {what}: due again from today")
    if resumed.cancelled:
        plural = "s" if resumed.cancelled > 1 else ""
        said.append(f"cancelled {resumed.cancelled} planned pause{plural} of {what}")
    click.echo("; ".join(said) if said else f"{what} was not paused and had no pause planned")
    app.tell_daemon()


def _one_or_all(name: str | None, everything: bool) -> str | None:
    """The ritual named, or None with --all (the household); exactly one of them."""
    if everything and name:
        raise UsageError(f"NAME and --all: give one of them ('{name}' or everything)")
    if not everything and not name:
        raise UsageError("give a ritual's NAME, or --all for the whole household")
    return name
