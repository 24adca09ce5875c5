"""Bearer tokens for the HTTP API and the today page."""

from __future__ import annotations

import click

from scheduler.cli.app import App, json_option, main, pass_app


@main.group()
def token() -> None:
    """Bearer tokens for the HTTP API and the today page (Home Assistant, scripts, a phone)."""


@token.command(name="create")
@click.argument("name")
@click.option("--person", default=None, help="Whose it is: what its requests and page record is theirs.")
@click.option(
    "--login-link",
    is_flag=True,
    help="Print a link that logs its person in to the today page (send it to their phone).",
)
@click.option(
    "--feed",
    is_flag=True,
    help="A calendar feed token: print the URL of the person's feed for a calendar app (it records nothing).",
)
@pass_app
def token_create(app: App, name: str, person: str | None, login_link: bool, feed: bool) -> None:
    """Create a token; it is shown once, only its hash is kept."""
    if login_link and not person:
        raise click.UsageError("--login-link needs --person: the link logs one person in")
    if login_link and feed:
        raise click.UsageError("--login-link and --feed are two kinds of token: make one of each")
    record, secret = app.service().create_token(name, person=person, feed=feed)
    whose = f" for {record.person}" if record.person else ""
    if feed:
        click.echo(f"{app.settings.link_base}/feed/{secret}.ics")
        what = "subscribe to its URL in a calendar app; `ritual token revoke` ends it"
        click.echo(f"feed token '{record.name}'{whose} created; {what}", err=True)
        return
    if login_link:
        click.echo(f"{app.settings.link_base}/login?token={secret}")
        what = "its link logs them in for 30 days; `ritual token revoke` ends it"
        click.echo(f"token '{record.name}'{whose} created; {what}", err=True)
        return
    click.echo(secret)
    click.echo(f"token '{record.name}'{whose} created; store it now, it cannot be shown again", err=True)


@token.command(name="list")
@json_option
@pass_app
def token_list(app: App, as_json: bool) -> None:
    """The tokens, without their secrets."""
    from scheduler.cli import render

    records = app.service().tokens()
    if as_json:
        from scheduler.adapters.encoding import token_json

        service = app.service()
        render.print_json([token_json(record, service.token_state(record)) for record in records])
        return
    table: list[list[str | None]] = []
    for record in records:
        used = f"{record.last_used_at:%Y-%m-%d %H:%M}" if record.last_used_at else "never"
        state = app.service().token_state(record)
        if state == "stopped":
            state = f"stopped: {record.person} is not in [people]"
        table.append([record.name, record.person or "-", f"{record.created_at:%Y-%m-%d}", used, state])
    render.print_table(["name", "person", "created", "last used", "state"], table)


@token.command(name="revoke")
@click.argument("name")
@pass_app
def token_revoke(app: App, name: str) -> None:
    """Revoke a token: requests carrying it are refused from now on."""
    app.service().revoke_token(name)
    click.echo(f"revoked token '{name}'")
