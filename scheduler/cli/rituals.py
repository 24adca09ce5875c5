"""Defining and reading rituals: add, edit, remove, list, show, next."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from scheduler.domain.errors import DefinitionError, UsageError

if TYPE_CHECKING:
    from scheduler.domain.definitions import RitualTable
from scheduler.cli.app import App, F, json_option, local_time, main, pass_app

_CHOICES: dict[str, list[str]] = {
    "every": ["day", "week", "month"],
    "dimension": ["emotional", "physical", "intellectual", "experiential", "spiritual", "self", "other"],
    "complete_when": ["either", "both"],
}
_MULTIPLE = {"on", "at", "notify", "people"}
_INTEGERS = {"interval", "times", "freezes_per_month"}
_RITUAL_KEYS = (
    ("title", "Short title shown in nudges."),
    ("description", "A line or two on what the ritual is."),
    ("dimension", "Kind of connection."),
    ("every", "Period a streak counts."),
    ("interval", "Every N periods (every 2 weeks: --every week --interval 2)."),
    ("times", "Completions that keep a period."),
    ("on", "Due days: mon..sun, weekdays, weekends; monthly: 'first sat', 15, last. Repeatable."),
    ("at", "Nudge time HH:MM on due days. Repeatable."),
    ("remind_before", "Heads-up before the due time, e.g. 1d."),
    ("nag_after", "Nudge again if not done, e.g. 90m."),
    ("quiet_hours", "No nudges in these hours, e.g. 22:00-07:00."),
    ("cron", "Cron expression instead of --at."),
    ("rrule", "RFC 5545 RRULE instead of --at."),
    ("catch_up_grace", "After downtime, send a missed nudge late within this long."),
    ("timezone", "IANA zone, e.g. Europe/Berlin."),
    ("day_starts_at", "When a ritual day begins, e.g. 03:00."),
    ("week_starts", "First day of the week (mon or sun)."),
    ("notify", "Apprise tags or people to nudge. Repeatable."),
    ("people", "People who share the ritual. Repeatable."),
    ("complete_when", "With several people: either or both must do it."),
    ("start", "First day that counts (YYYY-MM-DD)."),
    ("end", "Last day (YYYY-MM-DD)."),
    ("freezes_per_month", "Missed periods a month that are forgiven automatically."),
)


def ritual_options(func: F) -> F:
    """The ritual keys as options; the same parser as the ritual file validates them."""
    func = click.option(
        "--discreet/--not-discreet", default=None, help="Lock-screen-safe nudges without the title."
    )(func)
    for key, help_text in reversed(_RITUAL_KEYS):
        flag = "--" + key.replace("_", "-")
        kwargs: dict[str, Any] = {"help": help_text, "default": None}
        if key in _CHOICES:
            kwargs["type"] = click.Choice(_CHOICES[key])
        elif key in _INTEGERS:
            kwargs["type"] = int
        if key in _MULTIPLE:
            kwargs["multiple"] = True
            kwargs["default"] = ()
        func = click.option(flag, key, **kwargs)(func)
    return func


def _table_from_options(options: RitualTable) -> RitualTable:
    table: RitualTable = {}
    for key, value in options.items():
        if value is None or value == ():
            continue
        if key in _MULTIPLE:
            table[key] = [part.strip() for item in value for part in str(item).split(",") if part.strip()]
        else:
            table[key] = value
    return table


def _option_error(exc: DefinitionError) -> UsageError:
    option = "--" + exc.key.replace("_", "-") if exc.key else "ritual"
    return UsageError(f"{option}: {exc.message}")


@main.command()
@click.argument("name")
@ritual_options
@pass_app
def add(app: App, name: str, **options: Any) -> None:
    """Add a ritual without editing the file (the file cannot then define the same name)."""
    table = {"name": name, **_table_from_options(options)}
    try:
        stored = app.service().add(table)
    except DefinitionError as exc:
        raise _option_error(exc) from None
    from scheduler.domain.wording import describe_cadence

    click.echo(f"added '{stored.name}': {describe_cadence(stored.ritual)}")
    app.tell_daemon()


@main.command()
@click.argument("name")
@ritual_options
@click.option("--unset", multiple=True, metavar="KEY", help="Remove a key (e.g. nag_after). Repeatable.")
@pass_app
def edit(app: App, name: str, unset: tuple[str, ...], **options: Any) -> None:
    """Change a ritual made with `ritual add` (file rituals are edited in the file)."""
    changes = _table_from_options(options)
    if not changes and not unset:
        raise UsageError("nothing to change: give options such as --at 21:00")
    service = app.service()
    before = service.get(name)
    try:
        stored = service.edit(name, changes, unset=[k.replace("-", "_") for k in unset])
    except DefinitionError as exc:
        raise _option_error(exc) from None
    from scheduler.domain.wording import describe_cadence

    if stored.ritual == before.ritual:
        click.echo(f"'{stored.name}' already reads so; nothing changed: {describe_cadence(stored.ritual)}")
        return
    click.echo(f"updated '{stored.name}': {describe_cadence(stored.ritual)}")
    app.tell_daemon()


@main.command()
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
@pass_app
def remove(app: App, name: str, yes: bool) -> None:
    """Retire a ritual; its completions, skips and pauses are kept."""
    service = app.service()
    service.get(name)
    if not yes and not click.confirm(f"Retire '{name}'? Its history is kept.", default=False):
        raise click.Abort
    service.remove(name)
    click.echo(f"removed '{name}' (history kept; `ritual add {name}` brings it back)")
    app.tell_daemon()


@main.command(name="list")
@click.option("--all", "everything", is_flag=True, help="Also the retired rituals (their history is kept).")
@json_option
@pass_app
def list_(app: App, everything: bool, as_json: bool) -> None:
    """The rituals, their cadence and next due time."""
    from scheduler.cli import render
    from scheduler.domain.wording import describe_cadence

    service = app.service()
    views = service.overview(retired=everything)
    current = [view.stored for view in views if view.stored.removed_at is None]
    for problem in service.schedule_problems(current).values():
        click.echo(f"warning: {problem} (`ritual check`)", err=True)
    if as_json:
        from scheduler.adapters.encoding import ritual_json

        render.print_json([ritual_json(view) for view in views])
        return
    if not views:
        click.echo("no rituals yet: `ritual init` writes a catalogue, `ritual add NAME` adds one")
        return
    rows = []
    for view in views:
        ritual = view.stored.ritual
        when = local_time(view.next_due, ritual) if view.next_due else "-"
        cadence = describe_cadence(ritual)
        state = "retired" if view.stored.removed_at else "paused" if view.paused else ""
        rows.append([ritual.name, ritual.title, ritual.dimension.value, cadence, when, state])
    render.print_table(["name", "title", "dimension", "cadence", "next", ""], rows)


@main.command()
@click.argument("name")
@click.option("--limit", default=10, show_default=True, help="Completions to show.")
@json_option
@pass_app
def show(app: App, name: str, limit: int, as_json: bool) -> None:
    """One ritual: its definition, recent completions, skips and pauses."""
    from scheduler.cli import render
    from scheduler.domain.wording import counted, describe_cadence, describe_reminders, human_day

    detail = app.service().detail(name)
    if as_json:
        from scheduler.adapters.encoding import detail_json

        render.print_json(detail_json(detail))
        return
    ritual = detail.stored.ritual
    click.echo(f"{ritual.name}: {ritual.title}")
    if ritual.description:
        click.echo(f"  {ritual.description}")
    click.echo(f"  {ritual.dimension.value}, {describe_cadence(ritual)} ({ritual.cadence.timezone})")
    if reminders := describe_reminders(ritual):
        click.echo(f"  {reminders}")
    if ritual.notify:
        click.echo("  nudges: " + ", ".join(ritual.notify))
    if ritual.turns and detail.planner:
        shown = app.service().household.shown
        click.echo(f"  turns: {', '.join(ritual.turns)}; {shown(detail.planner)}'s turn to plan")
    summary = detail.streak.summary
    risk = ", at risk today" if summary.at_risk else ""
    kind = summary.period.kind
    click.echo(
        f"  streak: {counted(summary.current_streak, kind.unit, kind.plural)} "
        f"(longest {summary.longest_streak}), strength {round(summary.strength, 3):.0%}{risk}"
    )
    from_file = detail.stored.source.value == "file"
    source = "the ritual file" if from_file else "`ritual add`"
    retired = detail.stored.removed_at
    if retired is not None:
        again = f"back in {app.settings.ritual_file_path}" if from_file else f"`ritual add {ritual.name}`"
        day = human_day(retired.astimezone(ritual.cadence.zone).date())
        click.echo(f"  defined by {source}; retired on {day}, its history kept ({again} brings it back)")
    else:
        click.echo(f"  defined by {source}{'; paused' if detail.paused else ''}")
    recent = detail.completions[-limit:] if limit > 0 else ()
    if recent:
        rows = [[human_day(c.day), c.by or "-", c.source, c.note] for c in reversed(recent)]
        title = "last completion" if len(recent) == 1 else f"last {len(recent)} completions"
        render.print_table(["day", "by", "source", "note"], rows, title=title)
    else:
        click.echo("  no completions yet")
    for skip in detail.skips[-5:]:
        by = f" by {skip.by}" if skip.by else ""
        click.echo(f"  skipped {human_day(skip.day)}{by}{': ' + skip.reason if skip.reason else ''}")
    for pause in detail.pauses:
        by = f" by {pause.by}" if pause.by else ""
        click.echo(f"  {render.pause_words(pause)}{by}")


@main.command(name="next")
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 366), help="How far ahead.")
@click.argument("names", nargs=-1)
@json_option
@pass_app
def next_(app: App, days: int, names: tuple[str, ...], as_json: bool) -> None:
    """Upcoming nudges (due times, heads-ups, nags) in each ritual's own time zone."""
    from scheduler.cli import render

    service = app.service()
    chosen = [service.get(name) for name in names] if names else None
    upcoming = service.upcoming(days, names or None)
    for problem in service.schedule_problems(chosen).values():
        click.echo(f"warning: {problem} (`ritual check`)", err=True)
    if as_json:
        from scheduler.adapters.encoding import upcoming_json

        render.print_json([upcoming_json(u) for u in upcoming])
        return
    for pause in service.current_household_pauses():
        click.echo(f"the household is {render.pause_words(pause)}: no nudges then")
    if not upcoming:
        from scheduler.domain.wording import counted

        click.echo(f"no nudges in the next {counted(days, 'day')}")
        return
    rows = [
        [local_time(u.nudge.due, u.ritual), u.ritual.name, u.nudge.kind.value, u.ritual.title]
        for u in upcoming
    ]
    if any(u.planner for u in upcoming):  # whose turn to plan, for rituals with turns
        shown = service.household.shown
        for row, u in zip(rows, upcoming, strict=True):
            row.append(shown(u.planner) if u.planner else "")
        render.print_table(["when", "ritual", "kind", "title", "plans"], rows)
        return
    render.print_table(["when", "ritual", "kind", "title"], rows)
