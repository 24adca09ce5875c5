"""Setting up: `ritual init` and `ritual check`."""

from __future__ import annotations

import ipaddress
import sys
from typing import TYPE_CHECKING

import click

from scheduler.cli.app import App, json_option, main, pass_app
from scheduler.domain.errors import RitualError

if TYPE_CHECKING:
    from scheduler.settings import Settings


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
    from scheduler.domain.wording import counted

    stored = counted(len(service.list_rituals()), "ritual")
    click.echo(f"database {app.settings.database_display} ready; {stored}")
    if report.added:
        click.echo("added: " + ", ".join(report.added))
    if note := link_note(app.settings):
        click.echo(f"note: {note}")
    click.echo(
        f"next: edit {app.settings.ritual_file_path} (then `ritual check`), say where nudges go "
        "(apprise.txt beside it, see the README), and start the daemon: `ritual run`"
    )


def link_note(settings: Settings) -> str | None:
    """Why the Done/Snooze links of nudges would not open on a phone, and the fix; None when they can.

    Without ``public_url`` the links use ``http_bind``'s address, which for the default
    (127.0.0.1) or a wildcard bind (0.0.0.0) is no address a phone can reach.
    """
    address = settings.http_address
    if settings.public_url is not None or address is None:
        return None
    host = address[0].strip("[]")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if host.lower() != "localhost":
            return None
        loopback, unspecified = True, False
    else:
        loopback, unspecified = ip.is_loopback, ip.is_unspecified
    if not (loopback or unspecified):
        return None
    url = f'public_url = "http://HOST:{address[1]}"'
    where = f"in {settings.settings_file_path} (HOST: this machine's name or address on your network)"
    if loopback:
        return (
            f"Done/Snooze links point at {settings.link_base}, which only this machine can open; "
            f'for phones set http_bind = "0.0.0.0:{address[1]}" and {url} {where}'
        )
    return f"Done/Snooze links point at {settings.link_base}, which no phone can open; set {url} {where}"


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
    file_broken = False
    try:
        loaded = service.read_ritual_file()
    except RitualError as exc:
        problems.append(str(exc))
        file_broken = True
    if loaded is not None:
        count = len(loaded.rituals)
        report = service.sync()
        if report.error:
            problems.append(report.error)
    from scheduler.domain.wording import counted
    from scheduler.wiring import load_household_channels

    channels = load_household_channels(settings, strict=False)
    problems.extend(channels.problems)
    problems.extend(service.schedule_problems().values())
    known = set(channels.names) | {"all"}
    for stored in service.list_rituals():
        unknown = [name for name in stored.ritual.notify if name.lower() not in known]
        if unknown and len(channels):
            problems.append(f"ritual '{stored.name}': notify names no channel: {', '.join(unknown)}")
        unknown = [name for name in stored.ritual.escalate_to if name.lower() not in known]
        if unknown and len(channels):
            problems.append(
                f"ritual '{stored.name}': escalate_to names no person or channel: {', '.join(unknown)}"
            )
    if settings.home_assistant is not None:
        import importlib.util

        if importlib.util.find_spec("paho") is None:
            problems.append("[home_assistant] needs paho-mqtt: pip install '.[mqtt]' in the checkout")
    notes = [note] if (note := link_note(settings)) else []
    stored_count = len(service.list_rituals())
    result = {
        "ok": not problems,
        "config_dir": str(settings.config_dir),
        "ritual_file": str(settings.ritual_file_path),
        "ritual_file_exists": loaded is not None,
        "rituals_in_file": count,
        "rituals_stored": stored_count,
        "database": settings.database_display,
        "timezone": settings.default_timezone,
        "channels": [{"tags": list(c.tags), "url": c.masked, "service": c.service} for c in channels],
        "plugins": list(channels.plugins),
        "problems": problems,
        "notes": notes,
    }
    home = settings.home_assistant
    if home is not None:
        result["home_assistant"] = {
            "broker": home.masked,
            "discovery_prefix": home.discovery_prefix,
            "node_id": home.node_id,
        }
    if as_json:
        render.print_json(result)
    else:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        if loaded is None and not file_broken:
            click.echo(f"no ritual file at {settings.ritual_file_path} (`ritual init` writes one)")
        if file_broken:
            ritual_file = f"{settings.ritual_file_path} could not be read"
        else:
            ritual_file = f"{counted(count, 'ritual')} in {settings.ritual_file_path}"
        stored_part = f"{counted(stored_count, 'ritual')} stored in {settings.database_display}"
        if problems:
            click.echo(f"failed: {counted(len(problems), 'problem')} (above); {ritual_file}, {stored_part}")
        else:
            click.echo(f"ok: {ritual_file}, {stored_part}")
        if len(channels):
            click.echo(f"channels: {len(channels)}, reaching {', '.join(channels.names)}")
        else:
            click.echo("channels: none yet, so nudges are recorded but not sent (see the README: Nudges)")
        if home is not None:
            click.echo(
                f"home assistant: {home.masked}, discovery under {home.discovery_prefix}/…/{home.node_id} "
                "(`ritual status` shows whether the daemon is connected)"
            )
        for note in notes:
            click.echo(f"note: {note}")
    if problems:
        sys.exit(1)


@main.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script for SHELL (click's own): commands, options, choices.

    \b
    bash: eval "$(ritual completion bash)"   in ~/.bashrc
    zsh:  eval "$(ritual completion zsh)"    in ~/.zshrc
    fish: ritual completion fish > ~/.config/fish/completions/ritual.fish
    """
    from click.shell_completion import get_completion_class

    completer = get_completion_class(shell)
    assert completer is not None  # the three choices are click's built-in shells
    root = ctx.find_root()
    script = completer(root.command, {}, "ritual", "_RITUAL_COMPLETE").source()
    click.echo(script, nl=not script.endswith("\n"))
