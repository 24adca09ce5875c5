"""The daemon and its record: run, reload, status, notify-test, retry."""

from __future__ import annotations

import logging
import sys

import click

from scheduler.cli.app import App, json_option, main, pass_app
from scheduler.cli.render import pause_words
from scheduler.domain.errors import RitualError


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
    from scheduler.domain.wording import counted

    service = app.service()
    holder = read_holder(app.settings.lock_path)
    view = service.status(limit=limit)
    daemon = (
        {"running": True, "pid": holder.pid, "host": holder.host, "since": holder.started_at}
        if holder
        else {"running": False}
    )
    settings = app.settings
    linked = settings.http_address is not None or settings.public_url is not None
    web = {"bind": settings.http_bind, "url": settings.link_base if linked else None}
    info = view.leader
    home = _home_assistant(app, running=holder is not None)
    if as_json:
        from scheduler.adapters.encoding import status_json

        leader = None if info is None else {"holder": info.holder, "since": info.since, "epoch": info.epoch}
        shown = {
            "daemon": daemon,
            "leader": leader,
            "web": web,
            "database": settings.database_display,
            "home_assistant": home,
        }
        render.print_json({**shown, **status_json(view)})
        return
    if holder:
        click.echo(f"daemon: running ({holder.describe()})")
    else:
        click.echo("daemon: not running on this host (`ritual run`, or systemctl start ritual-scheduler)")
    click.echo(f"database: {settings.database_display}, {counted(view.rituals, 'ritual')}")
    for problem in view.problems:
        click.echo(f"problem: {problem}")
    for pause in view.household_pauses:
        click.echo(f"household: {pause_words(pause)}: no nudges, no streak breaks (`ritual resume --all`)")
    from datetime import datetime
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(app.service().default_timezone)  # the household's: every time below is read in it
    if info is not None:  # PostgreSQL: the daemon elected last fires the nudges
        since = "" if info.since is None else f" since {info.since.astimezone(zone):%a %d %b %H:%M}"
        click.echo(f"leader: {info.holder}{since} (epoch {info.epoch}); the other daemons stand by")
    if web["url"]:
        click.echo(f"web: {web['url']} (today page, Done/Snooze links, /api/v1; http_bind {web['bind']})")
    else:
        click.echo("web: off (http_bind = off, no public_url): nudges carry no Done/Snooze links")
    if home is not None:
        said = f" ({home['detail']})" if home["detail"] else ""
        if not said and home["since"]:  # no time when the daemon never said (or says stopped)
            said = f" since {datetime.fromisoformat(home['since']).astimezone(zone):%a %d %b %H:%M}"
        click.echo(f"home assistant: {home['broker']}: {home['state']}{said}")
    if view.next:
        rows = [
            [
                u.nudge.due.astimezone(u.ritual.cadence.zone).strftime("%a %d %b %H:%M"),
                u.ritual.name,
                u.nudge.kind,
            ]
            for u in view.next
        ]
        render.print_table(["next", "ritual", "kind"], rows)
    if view.last:
        rows = [
            [
                f"{n.occurrence.due_at.astimezone(zone):%a %d %b %H:%M}",
                n.name,
                n.occurrence.slot,
                n.state,
                n.note,
            ]
            for n in view.last
        ]
        render.print_table(["due", "ritual", "slot", "status", "note"], rows, title="last nudges")
    click.echo(f"deliveries: {view.pending} pending, {view.retrying} retrying, {len(view.failed)} failed")
    for waiting in view.waiting:
        row = waiting.delivery
        when = f" at {row.next_attempt_at.astimezone(zone):%a %d %b %H:%M}" if row.next_attempt_at else ""
        click.echo(
            f"  retrying #{row.id} {waiting.name} {waiting.slot} via {row.channel}: {row.last_error} "
            f"({counted(row.attempts, 'try', 'tries')} so far; next{when}; `ritual retry {row.id}` sends now)"
        )
    for failed in view.failed:
        row = failed.delivery
        click.echo(
            f"  failed #{row.id} {failed.name} {failed.slot} via {row.channel}: "
            f"{row.last_error} (after {counted(row.attempts, 'try', 'tries')}; "
            f"`ritual retry {row.id}` sends again)"
        )


def _home_assistant(app: App, *, running: bool) -> dict[str, str] | None:
    """The MQTT link as the daemon last recorded it (None when [home_assistant] is not set)."""
    from scheduler.app.home import Home

    chosen = app.settings.home_assistant
    if chosen is None:
        return None
    link = Home(app.service()).link()
    if link is None or not running:
        state = "not connected (the daemon connects when it runs)" if not running else "connecting"
        return {"broker": chosen.masked, "state": state, "detail": "", "since": ""}
    return {
        "broker": chosen.masked,
        "state": link.state,
        "detail": link.detail,
        "since": link.since.isoformat(),
    }


@main.command(name="notify-test")
@click.option(
    "--to", "names", multiple=True, metavar="PERSON|TAG", help="Who to try (default: every channel)."
)
@pass_app
def notify_test(app: App, names: tuple[str, ...]) -> None:
    """Send a test nudge now and print what each channel said."""
    from scheduler.domain.messages import Message
    from scheduler.startup import prepare_sending
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
    prepare_sending()
    results = channels.send(chosen, [message] * len(chosen), timeout=settings.send_timeout)
    from scheduler.cli import render

    failed = 0
    rows: list[list[str | None]] = []
    for channel, result in zip(chosen, results, strict=True):
        who = ", ".join(channel.tags) or "-"
        if result.ok:
            rows.append(["ok", who, result.masked_url, f"{result.elapsed:.1f}s"])
            continue
        failed += 1
        kind = "failed" if result.permanent else "failed, would retry"
        rows.append([kind, who, result.masked_url, result.error])
    render.print_table(["outcome", "reaches", "channel", ""], rows)
    if failed:
        sys.exit(1)


@main.command()
@click.argument("ids", nargs=-1, type=int)
@pass_app
def retry(app: App, ids: tuple[int, ...]) -> None:
    """Send failed, given-up and retrying deliveries now (all, or the ids `ritual status` lists)."""
    from scheduler.domain.wording import counted
    from scheduler.wiring import make_nudger

    service = app.service()
    count = service.retry(ids)
    if not count:
        click.echo("nothing to retry: no delivery failed or waits for a retry (`ritual status`)")
        return
    make_nudger(app.settings, service).deliver_due()
    view = service.status(limit=1)
    click.echo(
        f"retried {counted(count, 'delivery', 'deliveries')}; "
        f"{len(view.failed)} still failed, {view.retrying} will retry"
    )
