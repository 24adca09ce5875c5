"""What a couple shares: `ritual turn` (whose turn to plan) and `ritual idea` (the backlog)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from scheduler.cli.app import App, json_option, main, pass_app

if TYPE_CHECKING:
    from scheduler.app.stored import IdeaRecord


@main.command()
@click.argument("name")
@click.option("--swap", is_flag=True, help="Hand this period's planning to the next person in turns.")
@json_option
@pass_app
def turn(app: App, name: str, swap: bool, as_json: bool) -> None:
    """Whose turn it is to plan NAME this period, and who is next (a ritual with turns = [...])."""
    from scheduler.cli import render

    service = app.service()
    view = service.swap_turn(name) if swap else service.turn(name)
    if swap:
        app.tell_daemon()
    if as_json:
        from scheduler.adapters.encoding import turn_json

        render.print_json(turn_json(view))
        return
    shown = service.household.shown
    swapped = " (swapped)" if view.swapped else ""
    click.echo(f"{view.ritual}: {shown(view.planner)}'s turn to plan{swapped}; next {shown(view.next)}")


@main.group()
def idea() -> None:
    """A ritual's idea backlog: add, list, done, drop."""


@idea.command("add")
@click.argument("name")
@click.argument("text")
@click.option("--by", default="", help="Who had the idea (a person of the household).")
@click.option("--note", default="", help="A note to keep with it (where, how much, a link).")
@json_option
@pass_app
def idea_add(app: App, name: str, text: str, by: str, note: str, as_json: bool) -> None:
    """Add an idea to NAME's backlog; the planner's heads-up suggests it."""
    from scheduler.cli import render

    found = app.service().add_idea(name, text, by=by or (app.settings.person or ""), note=note)
    if as_json:
        render.print_json(_idea_json(name, found))
        return
    click.echo(f"idea #{found.id} for {name}: {found.text}")


@idea.command("list")
@click.argument("name", required=False)
@click.option("--all", "everything", is_flag=True, help="Used and dropped ideas too.")
@json_option
@pass_app
def idea_list(app: App, name: str | None, everything: bool, as_json: bool) -> None:
    """The open ideas of NAME (or of every ritual)."""
    from scheduler.cli import render

    found = app.service().ideas(name, everything=everything)
    if as_json:
        render.print_json([_idea_json(ritual, item) for ritual, item in found])
        return
    if not found:
        click.echo('no ideas yet: `ritual idea add NAME "pottery class"`')
        return
    render.print_table(
        ["id", "ritual", "idea", "by", "state"],
        [[str(item.id), ritual, item.text, item.by or "-", item.state] for ritual, item in found],
    )


@idea.command("done")
@click.argument("name")
@click.argument("idea_id", metavar="ID", type=int)
@json_option
@pass_app
def idea_done(app: App, name: str, idea_id: int, as_json: bool) -> None:
    """Mark idea ID used (kept with this period's completion, if there is one)."""
    from scheduler.cli import render

    found = app.service().idea_done(name, idea_id)
    if as_json:
        render.print_json(_idea_json(name, found))
        return
    click.echo(f"idea #{found.id} used: {found.text}")


@idea.command("drop")
@click.argument("name")
@click.argument("idea_id", metavar="ID", type=int)
@json_option
@pass_app
def idea_drop(app: App, name: str, idea_id: int, as_json: bool) -> None:
    """Drop idea ID from NAME's backlog (it is kept, never suggested again)."""
    from scheduler.cli import render

    found = app.service().drop_idea(name, idea_id)
    if as_json:
        render.print_json(_idea_json(name, found))
        return
    click.echo(f"idea #{found.id} dropped: {found.text}")


def _idea_json(ritual: str, item: IdeaRecord) -> dict[str, object]:
    from scheduler.adapters.encoding import idea_json

    return idea_json(ritual, item)


@main.command()
@click.argument("name", required=False)
@json_option
@pass_app
def prompt(app: App, name: str | None, as_json: bool) -> None:
    """Today's question for the talk of NAME (or of every ritual with prompts = ...)."""
    from scheduler.cli import render

    found = app.service().prompts(name)
    if as_json:
        rows = [{"ritual": ritual, "day": day.isoformat(), "question": q} for ritual, day, q in found]
        render.print_json(rows[0] if name else rows)
        return
    if not found:
        click.echo('no ritual asks questions yet: add prompts = "deck" to one')
        return
    for ritual, _day, question in found:
        click.echo(question if name else f"{ritual}: {question}")
