"""The `ritual` command: parse, configure logging once, call the service, print.

Heavy modules (the store, rich) are imported inside the commands that need
them, so `ritual --help` and `ritual done` start quickly.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from scheduler import __version__
from scheduler.domain.errors import DefinitionError, RitualError, UsageError

if TYPE_CHECKING:
    from scheduler.adapters.store import SqlStore
    from scheduler.app.ports import Clock
    from scheduler.app.service import RitualService
    from scheduler.domain.reminders import Nudge
    from scheduler.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("scheduler")


class RitualCommandError(click.ClickException):
    """A RitualError shown as click shows errors: one line on stderr, the error's exit code."""

    def __init__(self, error: RitualError) -> None:
        super().__init__(str(error))
        self.exit_code: int = error.exit_code  # type: ignore[misc]


class RitualGroup(click.Group):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The process's own entry (the `ritual` script, `python -m scheduler`); CliRunner calls main()."""
        kwargs.setdefault("obj", App(own_process=True))
        return self.main(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RitualError as exc:
            raise RitualCommandError(exc) from None


@dataclass
class App:
    """What the commands share: settings built once, the store opened on first use."""

    verbose: int = 0
    clock: Clock | None = None  # tests hand in a FakeClock; the real one otherwise
    own_process: bool = False  # the command is the whole process (not CliRunner): see _starting
    _settings: Settings | None = None
    _store: SqlStore | None = None
    _service: RitualService | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            with self._starting():
                from scheduler.settings import load_settings

                self._settings = load_settings()
        return self._settings

    def service(self, *, sync: bool = True) -> RitualService:
        if self._service is None:
            with self._starting():
                from scheduler.adapters.clock import SystemClock
                from scheduler.adapters.store import SqlStore
                from scheduler.app.service import RitualService

                settings = self.settings
                self._store = SqlStore.open(settings.database)
                service = RitualService(
                    self._store,
                    self.clock or SystemClock(),
                    ritual_file=settings.ritual_file_path,
                    default_timezone=settings.default_timezone,
                )
                report = service.sync() if sync else None
            self._service = service
            if report is not None:
                if report.error:
                    click.echo(f"warning: {report.error} (using the rituals stored before)", err=True)
                for name in report.retired:
                    click.echo(f"note: ritual '{name}' left the ritual file; retired, history kept", err=True)
        return self._service

    @contextmanager
    def _starting(self) -> Iterator[None]:
        """Start-up: imports, settings, opening the store. What it builds lives as long as the process.

        When the command is the whole process, the cyclic collector pauses meanwhile and
        freezes it all after, so neither later collections nor the interpreter's exit walk
        those objects again (the OS frees them): ~125 ms of `ritual done` in bench/cli.py,
        ~40 ms of collections while importing and ~85 ms of tearing the modules down at
        exit. Under CliRunner the process outlives the command, so nothing is frozen there.
        """
        if not self.own_process or not gc.isenabled():  # not ours, or an outer _starting
            yield
            return
        gc.disable()
        try:
            yield
        finally:
            gc.freeze()
            gc.enable()

    def tell_daemon(self) -> None:
        """A running daemon re-reads the rituals now rather than at its next tick."""
        from scheduler.adapters.instance import signal_daemon

        signal_daemon(self.settings.lock_path)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def pass_app(func: F) -> F:
    return click.pass_obj(func)  # type: ignore[return-value]


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(func)


@click.group(cls=RitualGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(__version__, prog_name="ritual")
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """Keep a household's recurring rituals alive: nudges, one-tap done, streaks."""
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s")
    app = ctx.obj if isinstance(ctx.obj, App) else App()
    app.verbose = verbose
    ctx.obj = app
    ctx.call_on_close(app.close)


# -- set-up -----------------------------------------------------------------------------


@main.command()
@click.option("--force", is_flag=True, help="Overwrite existing settings.toml and rituals.toml.")
@pass_app
def init(app: App, force: bool) -> None:
    """Write a commented settings.toml and rituals.toml (the example catalogue) and the database."""
    from importlib.resources import files

    settings = app.settings
    settings.config_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    examples = files("scheduler") / "examples"
    written = []
    for target, example in (
        (settings.settings_file_path, "settings.example.toml"),
        (settings.ritual_file_path, "rituals.example.toml"),
    ):
        if target.exists() and not force:
            click.echo(f"kept {target} (exists; --force overwrites)")
            continue
        target.write_text((examples / example).read_text(encoding="utf-8"), encoding="utf-8")
        target.chmod(0o600)
        written.append(target)
        click.echo(f"wrote {target}")
    app._settings = None  # the new settings.toml may change what was loaded
    from scheduler.adapters.keyfile import load_or_create_key
    from scheduler.domain.links import key_fingerprint

    key = load_or_create_key(app.settings.link_key_path)
    click.echo(f"link-signing key {app.settings.link_key_path} (fingerprint {key_fingerprint(key)})")
    service = app.service(sync=False)
    report = service.sync(strict=True)
    click.echo(f"database {app.settings.database_display} ready; {len(service.list_rituals())} rituals")
    if report.added:
        click.echo("added: " + ", ".join(report.added))
    click.echo(
        f"next: edit {app.settings.ritual_file_path} (then `ritual check`), say where nudges go "
        "(apprise.txt beside it, see the README), and start the daemon: `ritual run`"
    )


@main.command()
@json_option
@pass_app
def check(app: App, as_json: bool) -> None:
    """Validate settings, the ritual file and the database; exit 1 on any error."""
    from scheduler.cli import render

    settings = app.settings
    service = app.service(sync=False)
    problems: list[str] = []
    count = 0
    loaded = None
    try:
        loaded = service.read_ritual_file()
    except RitualError as exc:
        problems.append(str(exc))
    if loaded is not None:
        count = len(loaded.rituals)
        report = service.sync()
        if report.error:
            problems.append(report.error)
    from scheduler.wiring import load_household_channels

    channels = load_household_channels(settings, strict=False)
    problems.extend(channels.problems)
    known = set(channels.names) | {"all"}
    for stored in service.list_rituals():
        unknown = [name for name in stored.ritual.notify if name.lower() not in known]
        if unknown and len(channels):
            problems.append(f"ritual '{stored.name}': notify names no channel: {', '.join(unknown)}")
    result = {
        "ok": not problems,
        "config_dir": str(settings.config_dir),
        "ritual_file": str(settings.ritual_file_path),
        "ritual_file_exists": loaded is not None,
        "rituals_in_file": count,
        "rituals_stored": len(service.list_rituals()),
        "database": settings.database_display,
        "timezone": settings.default_timezone,
        "channels": [{"tags": list(c.tags), "url": c.masked, "service": c.service} for c in channels],
        "plugins": list(channels.plugins),
        "problems": problems,
    }
    if as_json:
        render.print_json(result)
    else:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        if loaded is None and not problems:
            click.echo(f"no ritual file at {settings.ritual_file_path} (`ritual init` writes one)")
        click.echo(
            f"{'ok' if not problems else 'failed'}: {count} rituals in {settings.ritual_file_path}, "
            f"{result['rituals_stored']} stored in {settings.database_display}"
        )
        if len(channels):
            click.echo(f"channels: {len(channels)} ({', '.join(channels.names)})")
        else:
            click.echo("channels: none yet, so nudges are recorded but not sent (see the README: Nudges)")
    if problems:
        sys.exit(1)


# -- defining rituals -----------------------------------------------------------------------

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


def _table_from_options(options: dict[str, Any]) -> dict[str, Any]:
    table: dict[str, Any] = {}
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
    from scheduler.cli.render import describe_cadence

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
    try:
        stored = app.service().edit(name, changes, unset=[k.replace("-", "_") for k in unset])
    except DefinitionError as exc:
        raise _option_error(exc) from None
    from scheduler.cli.render import describe_cadence

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


# -- reading -------------------------------------------------------------------------------


@main.command(name="list")
@json_option
@pass_app
def list_(app: App, as_json: bool) -> None:
    """The rituals, their cadence and next due time."""
    from scheduler.cli import render
    from scheduler.domain.reminders import NudgeKind

    service = app.service()
    rituals = service.list_rituals()
    next_due: dict[str, Nudge] = {}
    for item in service.upcoming(days=40):
        if item.nudge.kind is NudgeKind.DUE:
            next_due.setdefault(item.ritual.name, item.nudge)
    if as_json:
        render.print_json(
            [
                render.ritual_json(
                    s,
                    paused=service.is_paused(s),
                    extra={"next_due": next_due[s.name].due if s.name in next_due else None},
                )
                for s in rituals
            ]
        )
        return
    if not rituals:
        click.echo("no rituals yet: `ritual init` writes a catalogue, `ritual add NAME` adds one")
        return
    rows = []
    for s in rituals:
        nudge = next_due.get(s.name)
        when = _local(nudge.due, s.ritual) if nudge else "-"
        state = "paused" if service.is_paused(s) else ""
        rows.append(
            [s.name, s.ritual.title, s.ritual.dimension.value, render.describe_cadence(s.ritual), when, state]
        )
    render.print_table(["name", "title", "dimension", "cadence", "next", ""], rows)


@main.command()
@click.argument("name")
@click.option("--limit", default=10, show_default=True, help="Completions to show.")
@json_option
@pass_app
def show(app: App, name: str, limit: int, as_json: bool) -> None:
    """One ritual: its definition, recent completions, skips and pauses."""
    from scheduler.cli import render

    service = app.service()
    detail = service.detail(name)
    ritual = detail.stored.ritual
    paused = service.is_paused(detail.stored)
    from scheduler.domain.report import RitualInput, streak_row

    streak = streak_row(RitualInput(ritual, detail.history, detail.today))
    if as_json:
        render.print_json(
            render.ritual_json(
                detail.stored,
                paused=paused,
                extra={
                    "completions": [render.completion_json(c) for c in detail.completions],
                    "skips": [render.skip_json(s) for s in detail.skips],
                    "pauses": [render.pause_json(p) for p in detail.pauses],
                    "streak": streak,
                    "cadence_versions": [
                        {"effective_from": v.effective_from, "cadence": _cadence_table(v.cadence)}
                        for v in detail.versions
                    ],
                },
            )
        )
        return
    click.echo(f"{ritual.name}: {ritual.title}")
    if ritual.description:
        click.echo(f"  {ritual.description}")
    click.echo(f"  {ritual.dimension.value}, {render.describe_cadence(ritual)} ({ritual.cadence.timezone})")
    if reminders := render.describe_reminders(ritual):
        click.echo(f"  {reminders}")
    if ritual.notify:
        click.echo("  nudges: " + ", ".join(ritual.notify))
    unit = {"day": "days", "week": "weeks", "month": "months"}[streak["period"]]
    risk = ", at risk today" if streak["at_risk"] else ""
    click.echo(
        f"  streak: {streak['current_streak']} {unit} (longest {streak['longest_streak']}), "
        f"strength {streak['strength']:.0%}{risk}"
    )
    source = "the ritual file" if detail.stored.source.value == "file" else "`ritual add`"
    click.echo(f"  defined by {source}{'; paused' if paused else ''}")
    recent = detail.completions[-limit:] if limit > 0 else ()
    if recent:
        rows = [[render.human_day(c.day), c.by or "-", c.source, c.note] for c in reversed(recent)]
        render.print_table(["day", "by", "source", "note"], rows, title=f"last {len(recent)} completions")
    else:
        click.echo("  no completions yet")
    for skip in detail.skips[-5:]:
        click.echo(f"  skipped {render.human_day(skip.day)}{': ' + skip.reason if skip.reason else ''}")
    for pause in detail.pauses:
        until = render.human_day(pause.until) if pause.until else "further notice"
        click.echo(f"  paused {render.human_day(pause.start)} until {until}")


def _cadence_table(cadence: Any) -> dict[str, Any]:
    from scheduler.domain.definitions import cadence_to_table

    return cadence_to_table(cadence)


@main.command(name="next")
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 366), help="How far ahead.")
@click.argument("names", nargs=-1)
@json_option
@pass_app
def next_(app: App, days: int, names: tuple[str, ...], as_json: bool) -> None:
    """Upcoming nudges (due times, heads-ups, nags) in each ritual's own time zone."""
    from scheduler.cli import render

    service = app.service()
    for name in names:
        service.get(name)
    upcoming = service.upcoming(days, names or None)
    if as_json:
        render.print_json(
            [
                {
                    "name": u.ritual.name,
                    "due": u.nudge.due,
                    "local": u.nudge.due.astimezone(u.ritual.cadence.zone),
                    "day": u.nudge.day,
                    "slot": u.nudge.slot,
                    "kind": u.nudge.kind.value,
                }
                for u in upcoming
            ]
        )
        return
    if not upcoming:
        click.echo(f"no nudges in the next {days} days")
        return
    rows = [
        [_local(u.nudge.due, u.ritual), u.ritual.name, u.nudge.kind.value, u.ritual.title] for u in upcoming
    ]
    render.print_table(["when", "ritual", "kind", "title"], rows)


def _local(when: datetime, ritual: Any) -> str:
    local = when.astimezone(ritual.cadence.zone)
    return f"{local:%a %d %b %H:%M}"


# -- recording -----------------------------------------------------------------------------


def _parse_day(text: str, today: date, option: str) -> date:
    lowered = text.strip().lower()
    if lowered == "today":
        return today
    if lowered == "yesterday":
        return today - timedelta(days=1)
    try:
        return date.fromisoformat(lowered)
    except ValueError:
        raise UsageError(f"{option}: not a date: '{text}' (use YYYY-MM-DD, today or yesterday)") from None


def _parse_at(text: str, ritual: Any) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--at: not a date and time: '{text}' (use 'YYYY-MM-DD HH:MM')") from None
    if value.tzinfo is None:
        from scheduler.domain.cadence import local_instant

        return local_instant(ritual.cadence.zone, value.date(), value.time())
    return value


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
        when = _parse_at(at, stored.ritual) if at else None
        on_day = _parse_day(day, service.today(stored.ritual), "--date") if day else None
    stored, record, created = service.record_done(name, day=on_day, at=when, by=by.strip(), note=note)
    if as_json:
        from scheduler.cli.render import completion_json, print_json

        print_json({"name": name, "created": created, "completion": completion_json(record)})
        return
    from scheduler.cli.render import human_day

    who = f" by {record.by}" if record.by else ""
    verb = "recorded" if created else "already recorded"
    click.echo(f"{verb}: '{name}' on {human_day(record.day)}{who}")


@main.command()
@click.argument("name")
@click.option("--date", "day", metavar="DATE", help="The day to skip (default today).")
@click.option("--reason", default="", help="Why, for your own record.")
@pass_app
def skip(app: App, name: str, day: str | None, reason: str) -> None:
    """Excuse a period: a skipped period neither adds to nor breaks a streak."""
    from scheduler.cli.render import human_day

    service = app.service()
    stored = service.get(name)
    on_day = _parse_day(day, service.today(stored.ritual), "--date") if day else None
    record = service.skip(name, day=on_day, reason=reason)
    click.echo(f"skipped '{name}' on {human_day(record.day)}")


@main.command()
@click.argument("name")
@pass_app
def undo(app: App, name: str) -> None:
    """Delete the last completion recorded for a ritual."""
    from scheduler.cli.render import human_day

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
    from scheduler.cli.render import human_day

    service = app.service()
    today = service.today(service.get(name).ritual)
    record = service.pause(
        name,
        start=_parse_day(start, today, "--from") if start else None,
        until=_parse_day(until, today, "--until") if until else None,
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


# -- how consistent ------------------------------------------------------------------------


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
            first, last = reports.since_window(_parse_day(since, today, "--since"), today)
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


# -- moving history in and out --------------------------------------------------------------


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv", "ics"]),
    default="json",
    show_default=True,
    help="json/csv: everything, for backups and `ritual import`; ics: upcoming nudges as a calendar.",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE.")
@click.option(
    "--days", default=60, show_default=True, type=click.IntRange(1, 366), help="ICS: how far ahead."
)
@pass_app
def export(app: App, fmt: str, output: Path | None, days: int) -> None:
    """Export rituals, completions, skips and pauses (or an iCalendar feed of upcoming nudges)."""
    service = app.service()
    data: str | bytes
    if fmt == "ics":
        from scheduler.adapters.ics import ics_feed

        data = ics_feed(service.upcoming(days), generated_at=service.clock.now())
    else:
        data = service.export(fmt)
    if output is None:
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        else:
            click.echo(data, nl=False)
        return
    if isinstance(data, bytes):
        output.write_bytes(data)
    else:
        output.write_text(data, encoding="utf-8")
    output.chmod(0o600)
    click.echo(f"wrote {output}", err=True)


@main.command(name="import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), help="Default: by the file's suffix.")
@click.option("--loop", is_flag=True, help="PATH is a Loop Habit Tracker export (ZIP or CSV).")
@click.option("--name", help="With --loop and a single habit's CSV: the ritual to import into.")
@click.option("--dry-run", is_flag=True, help="Check and count, change nothing.")
@pass_app
def import_(app: App, path: Path, fmt: str | None, loop: bool, name: str | None, dry_run: bool) -> None:
    """Merge a backup from `ritual export` (or a Loop export) in; nothing stored is overwritten."""
    if name and not loop:
        raise UsageError("--name goes with --loop")
    result = app.service().import_file(path, fmt=fmt, loop=loop, name=name, dry_run=dry_run)
    click.echo(result.summary())


# -- the daemon ---------------------------------------------------------------------------------


@main.command()
@pass_app
def run(app: App) -> None:
    """Run the daemon in the foreground (systemd runs this): nudge on time, exactly once."""
    import os

    from scheduler.adapters.clock import SystemClock
    from scheduler.adapters.sdnotify import Notifier
    from scheduler.settings import load_settings
    from scheduler.wiring import make_daemon

    settings = app.settings
    _configure_daemon_logging(settings.log_level, app.verbose)
    daemon = make_daemon(
        load_settings, clock=app.clock or SystemClock(), systemd=Notifier.from_environ(os.environ)
    )
    sys.exit(daemon.run())


def _configure_daemon_logging(level: str, verbose: int) -> None:
    """One line per event; no timestamps under journald, which adds its own."""
    import os

    stamp = "" if os.environ.get("JOURNAL_STREAM") else "%(asctime)s "
    chosen = logging.DEBUG if verbose else getattr(logging, level.upper())
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{stamp}%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(chosen)
    if not verbose:  # their start-up chatter says nothing a household needs
        for noisy in ("apscheduler", "alembic.runtime.plugins"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


@main.command()
@pass_app
def reload(app: App) -> None:
    """Ask the running daemon to re-read its settings and the ritual file (SIGHUP)."""
    from scheduler.adapters.instance import signal_daemon

    holder = signal_daemon(app.settings.lock_path)
    if holder is None:
        raise RitualError("no `ritual run` is running on this host for this database")
    click.echo(f"asked the daemon ({holder.describe()}) to reload")


@main.command()
@click.option("--limit", default=5, show_default=True, type=click.IntRange(1, 100), help="Rows per list.")
@json_option
@pass_app
def status(app: App, limit: int, as_json: bool) -> None:
    """Is the daemon running, what comes next, what went out, and what failed to."""
    from scheduler.adapters.instance import read_holder
    from scheduler.cli import render

    service = app.service()
    holder = read_holder(app.settings.lock_path)
    report = service.status(limit=limit)
    daemon = (
        {"running": True, "pid": holder.pid, "host": holder.host, "since": holder.started_at}
        if holder
        else {"running": False}
    )
    settings = app.settings
    linked = settings.http_address is not None or settings.public_url is not None
    web = {"bind": settings.http_bind, "url": settings.link_base if linked else None}
    info = service.store.leader_info()
    leader = None if info is None else {"holder": info.holder, "since": info.since, "epoch": info.epoch}
    if as_json:
        render.print_json(
            {"daemon": daemon, "leader": leader, "web": web, "database": settings.database_display, **report}
        )
        return
    if holder:
        click.echo(f"daemon: running ({holder.describe()})")
    else:
        click.echo("daemon: not running on this host (`ritual run`, or systemctl start ritual-scheduler)")
    click.echo(f"database: {settings.database_display}, {report['rituals']} rituals")
    if info is not None:  # PostgreSQL: the daemon elected last fires the nudges
        since = "" if info.since is None else f" since {info.since:%d %b %H:%M} UTC"
        click.echo(f"leader: {info.holder}{since} (epoch {info.epoch}); the other daemons stand by")
    if web["url"]:
        click.echo(f"web: {web['url']} (today page, Done/Snooze links, /api/v1; http_bind {web['bind']})")
    else:
        click.echo("web: off (http_bind = off, no public_url): nudges carry no Done/Snooze links")
    if report["next"]:
        rows = [[n["local"].strftime("%a %d %b %H:%M"), n["name"], n["kind"]] for n in report["next"]]
        render.print_table(["next", "ritual", "kind"], rows)
    if report["last"]:
        rows = [
            [o["due_at"].strftime("%d %b %H:%M"), o["name"], o["slot"], o["status"], o["note"]]
            for o in report["last"]
        ]
        render.print_table(["due (UTC)", "ritual", "slot", "status", "note"], rows, title="last nudges")
    deliveries = report["deliveries"]
    click.echo(
        f"deliveries: {deliveries['pending']} pending, {deliveries['retrying']} retrying, "
        f"{len(deliveries['failed'])} failed"
    )
    for failed in deliveries["failed"]:
        click.echo(
            f"  failed #{failed['id']} {failed['name']} {failed['slot']} via {failed['channel']}: "
            f"{failed['last_error']} (after {failed['attempts']} tries; `ritual retry` sends again)"
        )


@main.command(name="notify-test")
@click.option(
    "--to", "names", multiple=True, metavar="PERSON|TAG", help="Who to try (default: every channel)."
)
@pass_app
def notify_test(app: App, names: tuple[str, ...]) -> None:
    """Send a test nudge now and print what each channel said."""
    import asyncio

    from scheduler.adapters.notify import send_all
    from scheduler.domain.messages import Message
    from scheduler.wiring import load_household_channels

    settings = app.settings
    channels = load_household_channels(settings, strict=False)
    for problem in channels.problems:
        click.echo(f"problem: {problem}", err=True)
    chosen = channels.select(list(names) or ["all"])
    if not chosen:
        raise RitualError("no channel configured: add apprise.txt to the config dir (see the README: Nudges)")
    message = Message(
        title="Ritual time (test)", body="A test nudge from ritual-scheduler: this channel works."
    )
    results = asyncio.run(send_all(chosen, message, timeout=settings.send_timeout))
    failed = 0
    for channel, result in zip(chosen, results, strict=True):
        who = ",".join(channel.tags) or "-"
        if result.ok:
            click.echo(f"ok      {who:<12} {result.masked_url} ({result.elapsed:.1f}s)")
        else:
            failed += 1
            kind = "failed" if result.permanent else "retry"
            click.echo(f"{kind:<7} {who:<12} {result.masked_url}: {result.error}")
    if failed:
        sys.exit(1)


@main.command()
@click.argument("ids", nargs=-1, type=int)
@pass_app
def retry(app: App, ids: tuple[int, ...]) -> None:
    """Send failed or given-up deliveries again now (all, or the ids `ritual status` shows)."""
    from scheduler.wiring import make_nudger

    service = app.service()
    count = service.store.retry_deliveries(now=service.clock.now(), ids=ids or None)
    if not count:
        click.echo("nothing to retry")
        return
    make_nudger(app.settings, service).deliver_due()
    report = service.status(limit=1)["deliveries"]
    still = len(report["failed"])
    click.echo(f"retried {count} deliveries; {still} still failed, {report['retrying']} will retry")


# -- API tokens ---------------------------------------------------------------------------------


@main.group()
def token() -> None:
    """Bearer tokens for the HTTP API and the today page (Home Assistant, scripts, a phone)."""


@token.command(name="create")
@click.argument("name")
@pass_app
def token_create(app: App, name: str) -> None:
    """Create a token; it is shown once, only its hash is kept."""
    record, secret = app.service().create_token(name)
    click.echo(secret)
    click.echo(f"token '{record.name}' created; store it now, it cannot be shown again", err=True)


@token.command(name="list")
@json_option
@pass_app
def token_list(app: App, as_json: bool) -> None:
    """The tokens, without their secrets."""
    from scheduler.cli import render

    records = app.service().tokens()
    if as_json:
        render.print_json(
            [
                {
                    "name": t.name,
                    "created_at": t.created_at,
                    "last_used_at": t.last_used_at,
                    "revoked_at": t.revoked_at,
                }
                for t in records
            ]
        )
        return
    table: list[list[str | None]] = []
    for record in records:
        used = f"{record.last_used_at:%Y-%m-%d %H:%M}" if record.last_used_at else "never"
        state = "active" if record.active else "revoked"
        table.append([record.name, f"{record.created_at:%Y-%m-%d}", used, state])
    render.print_table(["name", "created", "last used", "state"], table)


@token.command(name="revoke")
@click.argument("name")
@pass_app
def token_revoke(app: App, name: str) -> None:
    """Revoke a token: requests carrying it are refused from now on."""
    app.service().revoke_token(name)
    click.echo(f"revoked token '{name}'")
