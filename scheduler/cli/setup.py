"""Setting up: `ritual init` and `ritual check`."""

from __future__ import annotations

import sys

import click

from scheduler.cli.app import App, json_option, main, pass_app
from scheduler.domain.errors import RitualError


@main.command()
@click.option("--force", is_flag=True, help="Overwrite existing settings.toml and rituals.toml.")
@pass_app
def init(app: App, force: bool) -> None:
    """Write a commented settings.toml and rituals.toml (the example catalogue) and the database."""
    from importlib.resources import files

    settings = app.settings
    for what, folder in (("config", settings.config_dir), ("data", settings.data_dir)):
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            reason = exc.strerror or exc.__class__.__name__
            raise RitualError(f"cannot create the {what} folder '{folder}': {reason}") from None
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
