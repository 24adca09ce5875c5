"""A ritual's own page (definition, streak, a year of squares with a legend, history) and the
forms that add, edit, pause, resume and remove a ritual made with `ritual add` or the API.

The forms take the ritual file's keys and go through the same parser, so a bad value gets the
same one-line error the file and `ritual add` give.
"""

from __future__ import annotations

import calendar
import hmac
import logging
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from scheduler.adapters.web.auth import Auth, form_token
from scheduler.adapters.web.pages import _client, _day, login_page, page, said, short_day
from scheduler.app.service import RitualService
from scheduler.app.stored import ApiTokenRecord, RitualSource
from scheduler.domain.cadence import Every
from scheduler.domain.definitions import CompleteWhen, Dimension, ritual_to_table
from scheduler.domain.errors import RitualError, UnknownRitualError
from scheduler.domain.heatmap import Cell
from scheduler.domain.people import Household
from scheduler.domain.streaks import PeriodStatus
from scheduler.domain.wording import describe_cadence, describe_reminders

log = logging.getLogger(__name__)

NEW_FORM = ":new"  # the add form's token name (no ritual has a colon)
FORM_KEYS = (
    "name",
    "title",
    "every",
    "times",
    "on",
    "at",
    "people",
    "complete_when",
    "dimension",
    "nag_after",
)
LIST_KEYS = {"on", "at", "people"}
HISTORY_ROWS = 60
CELL_CSS: dict[PeriodStatus | None, str] = {
    PeriodStatus.KEPT: "k",
    PeriodStatus.MISSED: "m",
    PeriodStatus.EXCUSED: "e",
    PeriodStatus.OPEN: "o",
    PeriodStatus.REST: "s",
    None: "n",
}


class RitualPages:
    """The handlers; like the today page's they run in Starlette's threadpool."""

    def __init__(self, service: RitualService, auth: Auth, *, key: bytes) -> None:
        self.service = service
        self.auth = auth
        self.key = key

    def show(self, request: Request) -> Response:
        record = self.auth.page_user(request)
        if record is None:
            return login_page(request, status=401)
        name = request.path_params["name"]
        try:
            view = self._view(name)
        except UnknownRitualError as error:
            return page(request, "Not found", str(error), status=404, user=record)
        return page(
            request,
            view["title"],
            template="ritual.html",
            user=record,
            notices=said(request),
            r=view,
            csrf=form_token(self.key, record, name),
        )

    def _view(self, name: str) -> dict[str, Any]:
        detail, standing = self.service.ritual_page(name)
        stored = detail.stored
        ritual = stored.ritual
        household = self.service.household
        summary = detail.streak.summary
        cells = standing.cells
        daily = ritual.cadence.every is Every.DAY and ritual.cadence.interval == 1
        pad = cells[0].day.weekday() if daily and cells else 0
        squares = [("x", "")] * pad + [
            (CELL_CSS[c.status], f"{short_day(c.day)}: {c.status or 'before it began'}") for c in cells
        ]
        kept = sum(1 for c in cells if c.status is PeriodStatus.KEPT)
        unit = "days" if daily else f"{ritual.cadence.every.kind.plural}"
        return {
            "name": ritual.name,
            "title": ritual.title,
            "cadence": describe_cadence(ritual),
            "reminders": describe_reminders(ritual),
            "people": _people(ritual.people, ritual.complete_when, household),
            "dimension": str(ritual.dimension),
            "owner": "in the ritual file"
            if stored.source is RitualSource.FILE
            else "with ritual add, the API or this page",
            "owned": stored.source is not RitualSource.FILE and stored.removed_at is None,
            "removed": "" if stored.removed_at is None else short_day(stored.removed_at.date()),
            "paused": detail.paused,
            "state": "removed"
            if stored.removed_at is not None
            else "paused"
            if detail.paused
            else standing.state.value,
            "streak": summary.current_streak,
            "longest": summary.longest_streak,
            "strength": round(summary.strength * 100),
            "counts": f"{summary.kept} kept, {summary.missed} missed, {summary.excused} excused",
            "daily": daily,
            "squares": squares,
            "year_words": f"kept {kept} of the last {len(cells)} {unit}",
            **_month(cells, detail.today),
            "history": _history(detail, household),
        }

    # add and edit ------------------------------------------------------------------------
    def new_form(self, request: Request) -> Response:
        record = self.auth.page_user(request)
        if record is None:
            return login_page(request, status=401)
        values = {"every": "day", "dimension": "emotional", "people": record.person or ""}
        return self._form(request, record, values, new=True)

    def new_post(self, request: Request, body: bytes) -> Response:
        record = self.auth.page_user(request)
        if record is None:
            return login_page(request, status=401)
        form = _fields(body)
        if refused := self._refused(request, record, form, NEW_FORM):
            return refused
        table, _ = table_from_form(form)
        try:
            stored = self.service.add(table)
        except RitualError as error:
            return self._form(request, record, form, new=True, error=str(error), status=400)
        return _redirect(f"/rituals/{stored.name}", "added", stored.name)

    def edit_form(self, request: Request) -> Response:
        record = self.auth.page_user(request)
        if record is None:
            return login_page(request, status=401)
        name = request.path_params["name"]
        try:
            stored = self.service.get(name)
        except UnknownRitualError as error:
            return page(request, "Not found", str(error), status=404, user=record)
        table = ritual_to_table(stored.ritual)
        values = {
            key: ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
            for key, value in table.items()
        }
        return self._form(request, record, values, new=False, name=name)

    def edit_post(self, request: Request, body: bytes) -> Response:
        record = self.auth.page_user(request)
        if record is None:
            return login_page(request, status=401)
        name = request.path_params["name"]
        form = _fields(body)
        if refused := self._refused(request, record, form, name):
            return refused
        changes, empty = table_from_form(form)
        changes.pop("name", None)
        try:
            current = ritual_to_table(self.service.get(name).ritual)
            unset = [key for key in empty if key in current and key != "name"]
            self.service.edit(name, changes, unset=unset)
        except UnknownRitualError as error:
            return page(request, "Not found", str(error), status=404, user=record)
        except RitualError as error:
            return self._form(request, record, form, new=False, name=name, error=str(error), status=400)
        return _redirect(f"/rituals/{name}", "edited", name)

    def _form(
        self,
        request: Request,
        record: ApiTokenRecord,
        values: Mapping[str, str],
        *,
        new: bool,
        name: str = "",
        error: str = "",
        status: int = 200,
    ) -> Response:
        shown = {key: values.get(key, "") for key in FORM_KEYS}
        return page(
            request,
            "Add a ritual" if new else f"Edit {name}",
            template="ritual_form.html",
            status=status,
            user=record,
            v=shown,
            new=new,
            error=error,
            action="/rituals/new" if new else f"/rituals/{name}/edit",
            button="Add" if new else "Save",
            csrf=form_token(self.key, record, NEW_FORM if new else name),
            kinds=[str(kind) for kind in Every],
            dimensions=[str(kind) for kind in Dimension],
        )

    # pause, resume, remove -------------------------------------------------------------------
    def action(self, request: Request, body: bytes) -> Response:
        record = self.auth.page_user(request)
        if record is None:
            return login_page(request, status=401)
        name, verb = request.path_params["name"], request.path_params["verb"]
        form = _fields(body)
        if refused := self._refused(request, record, form, name):
            return refused
        try:
            if verb == "pause":
                self.service.pause(name, until=_day(form.get("until")), by=record.person or "")
            elif verb == "resume":
                self.service.resume(name)
            elif verb == "remove":
                if form.get("confirm") != "yes":
                    title = self.service.get(name).ritual.title
                    return page(
                        request,
                        f"Remove {title}?",
                        f"'{title}' stops nudging and leaves the today page; its history is kept "
                        "and its page stays at this address.",
                        template="confirm.html",
                        user=record,
                        action=f"/rituals/{name}/remove",
                        buttons=[("confirm", "yes", "Yes, remove it")],
                        csrf=form.get("csrf", ""),
                        cancel=f"/rituals/{name}",
                    )
                self.service.remove(name)
                return _redirect("/", "removed", name)
            else:
                return page(request, "Not found", f"no ritual action '{verb[:20]}'", status=404, user=record)
        except UnknownRitualError as error:
            return page(request, "Not found", str(error), status=404, user=record)
        except (RitualError, ValueError) as error:
            return page(request, "Not changed", str(error), status=409, user=record)
        return _redirect(f"/rituals/{name}", verb + "d", name)

    def _refused(
        self, request: Request, record: ApiTokenRecord, form: Mapping[str, str], name: str
    ) -> Response | None:
        if hmac.compare_digest(form.get("csrf", ""), form_token(self.key, record, name)):
            return None
        log.warning("refused ritual form from %s: bad form token", _client(request))
        return page(request, "Refused", "this form is stale; reload the page and try again", status=403)


def table_from_form(form: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The ritual keys a form filled in (lists split on commas, times a number), and those left empty."""
    table: dict[str, Any] = {}
    empty: list[str] = []
    for key in FORM_KEYS:
        value = form.get(key, "").strip()
        if not value:
            empty.append(key)
        elif key in LIST_KEYS:
            table[key] = [part.strip() for part in value.split(",") if part.strip()]
        elif key == "times" and value.isdigit():
            table[key] = int(value)
        else:
            table[key] = value
    return table, empty


def _fields(body: bytes) -> dict[str, str]:
    parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}


def _redirect(path: str, verb: str, name: str) -> Response:
    return RedirectResponse(f"{path}?{urlencode({'verb': verb, 'r': name})}", status_code=303)


def _people(people: tuple[str, ...], when: CompleteWhen, household: Household) -> str:
    if not people:
        return ""
    names = " and ".join(household.shown(p) for p in people)
    return names + (
        " (kept once each of them did it)" if when is CompleteWhen.BOTH and len(people) > 1 else ""
    )


def _month(cells: tuple[Cell, ...], today: date) -> dict[str, Any]:
    """This month's days as a small calendar (what a phone shows instead of the year)."""
    first = today.replace(day=1)
    status = {c.day: c.status for c in cells if c.day >= first}
    pad = [("x", "")] * first.weekday()
    days = [
        (CELL_CSS[status.get(first + timedelta(days=n))], str(n + 1))
        for n in range(calendar.monthrange(today.year, today.month)[1])
        if first + timedelta(days=n) <= today
    ]
    kept = sum(1 for css, _ in days if css == "k")
    return {
        "month_title": f"{today:%B %Y}",
        "month": pad + days,
        "month_words": f"{today:%B}: kept {kept} of {len(days)} days so far",
    }


def _history(detail: Any, household: Household) -> list[tuple[str, str, str, str]]:
    """Completions, skips and pauses, newest first: day, what, who, note."""

    def who(by: str) -> str:
        return household.shown(by) if by else "someone"

    rows: list[tuple[date, str, str, str]] = [(c.day, "done", who(c.by), c.note) for c in detail.completions]
    rows += [(s.day, "skipped", who(s.by), s.reason) for s in detail.skips]
    rows += [
        (p.start, "paused" + (f" to {short_day(p.until)}" if p.until else ""), who(p.by), p.reason)
        for p in detail.pauses
    ]
    rows.sort(key=lambda row: row[0], reverse=True)
    return [(short_day(day), what, by, note) for day, what, by, note in rows[:HISTORY_ROWS]]
