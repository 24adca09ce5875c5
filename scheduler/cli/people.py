"""The household: `ritual people`."""

from __future__ import annotations

import click

from scheduler.cli.app import App, json_option, main, pass_app


@main.command()
@json_option
@pass_app
def people(app: App, as_json: bool) -> None:
    """The people of the household ([people.NAME] in settings.toml) and where nudges reach them."""
    from scheduler.cli import render
    from scheduler.wiring import load_household_channels

    settings = app.settings
    household = settings.household
    channels = load_household_channels(settings, strict=False)
    keys = {person.key for person in household}
    rows: list[dict[str, object]] = []
    table: list[list[str | None]] = []
    for person in household:
        mine = [channel for channel in channels if person.key in channel.tags]
        reach = [_shown(channel.tags, channel.masked, keys) for channel in mine]
        found = {tag for channel in channels for tag in channel.tags}
        for tag in settings.person_tags.get(person.key, []):
            if tag in found:
                continue
            broken = ":" in tag or "/" in tag or " " in tag  # a URL gone wrong: never shown
            reach.append(
                "a broken URL (see `ritual check`)" if broken else f"{tag} (no channel has this tag)"
            )
        quiet = "-".join(f"{t:%H:%M}" for t in person.quiet_hours) if person.quiet_hours else None
        rows.append(
            {
                "key": person.key,
                "name": person.shown,
                "timezone": person.timezone,
                "quiet_hours": quiet,
                "channels": reach,
                "me": person.key == settings.person,
            }
        )
        me = " (me)" if person.key == settings.person else ""
        where = ", ".join(reach) or "no channel yet"
        table.append([person.key + me, person.shown, person.timezone or "-", quiet or "-", where])
    if as_json:
        render.print_json(rows)
        return
    if not rows:
        click.echo("nobody named yet: add [people.NAME] tables to settings.toml (see the README: Two people)")
        return
    render.print_table(["person", "name", "zone", "quiet", "channels"], table)


def _shown(tags: tuple[str, ...], masked: str, people: set[str]) -> str:
    """A channel as its own tag in apprise.txt (``sam-phone``), or as its service and host: a
    URL's path (an ntfy topic, a chat id) and options can be as secret as a password."""
    named = [tag for tag in tags if tag not in people and tag != "all"]
    if named:
        return ", ".join(named)
    scheme, _, rest = masked.partition("://")
    host = rest.partition("/")[0].partition("?")[0].rpartition("@")[2]
    return f"{scheme}://{host}/…"
