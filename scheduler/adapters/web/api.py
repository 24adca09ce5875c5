"""The API under ``/api/v1``: the CLI's verbs over HTTP for Home Assistant, shortcuts and scripts.

``Authorization: Bearer TOKEN`` on every call. Its objects are those of the CLI's ``--json``;
every error, routing ones included, is one line of JSON ``{"error": ...}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, TypedDict

from starlette.requests import Request
from starlette.responses import Response

from scheduler.adapters.encoding import (
    JsonObject,
    completion_json,
    completion_view_json,
    detail_json,
    dumps,
    idea_json,
    pause_json,
    recorded_json,
    report_json,
    ritual_json,
    skip_json,
    streak_json,
    turn_json,
)
from scheduler.adapters.web.auth import Auth
from scheduler.app.service import RitualService
from scheduler.domain.definitions import RITUAL_KEYS, RitualTable
from scheduler.domain.errors import (
    ConflictError,
    NotFoundError,
    RitualError,
    StoreError,
    UnknownCompletionError,
    UsageError,
)

log = logging.getLogger(__name__)


class Api:
    """The API handlers; they run in Starlette's threadpool (they read the database)."""

    def __init__(self, service: RitualService, auth: Auth) -> None:
        self.service = service
        self.auth = auth

    def _api(self, request: Request, work: Callable[[], tuple[int, Any]]) -> Response:
        """Authenticate, run ``work``, and turn what it returns or raises into one-line JSON."""
        record = self.auth.bearer(request)
        if record is None:
            given = request.headers.get("authorization", "")
            message = "invalid or revoked token"
            if not given:
                message = "missing bearer token"
            elif given.split(" ", 1)[0].lower() != "bearer":
                message = "expected Authorization: Bearer TOKEN"
            return json_response(401, {"error": message}, headers={"WWW-Authenticate": "Bearer"})
        request.state.person = record.person or ""  # what this token records as
        try:
            status, body = work()
        except StoreError as error:  # names the database: for the log, not for the client
            log.error("API %s %s: %s", request.method, request.url.path, error)
            return json_response(503, {"error": "the database is not available (see the daemon's log)"})
        except RitualError as error:
            return json_response(_error_status(error), {"error": str(error)})
        return json_response(status, body)

    def api_rituals(self, request: Request) -> Response:
        def work() -> tuple[int, Any]:
            return 200, [ritual_json(view) for view in self.service.overview()]

        return self._api(request, work)

    def api_ritual(self, request: Request) -> Response:
        name = request.path_params["name"]
        return self._api(request, lambda: (200, self._detail_json(name)))

    def api_create(self, request: Request, body: bytes) -> Response:
        def work() -> tuple[int, Any]:
            table = {
                key: value for key, value in json_object(body, required=True).items() if value is not None
            }
            self._sync()  # a name the ritual file just gained is the file's, as with `ritual add`
            stored = self.service.add(table)
            return 201, self._detail_json(stored.name)

        return self._api(request, work)

    def api_edit(self, request: Request, body: bytes) -> Response:
        name = request.path_params["name"]

        def work() -> tuple[int, Any]:
            changes, unset = edit_fields(json_object(body, required=True))
            self._sync()
            stored = self.service.edit(name, changes, unset=unset)
            return 200, self._detail_json(stored.name)

        return self._api(request, work)

    def api_pause(self, request: Request, body: bytes) -> Response:
        """Pause one ritual (``/rituals/NAME/pause``) or the whole household (``/pause``)."""
        name = request.path_params.get("name")

        def work() -> tuple[int, Any]:
            data = json_object(body)
            check_fields(data, ("from", "until", "reason", "by"))
            today = (
                self.service.household_today()
                if name is None
                else self.service.today(self.service.get(name).ritual)
            )
            start = day_field(data, "from") or today
            until = day_field(data, "until")
            if until is not None and until < start:
                raise UsageError(f"until: {until} is before the first paused day {start}")
            reason = text_field(data, "reason") or ""
            by = _by(data, request.state.person)
            record, created = self.service.pause(
                name, start=start, until=until, reason=reason, by=by, where="by"
            )
            return (201 if created else 200), {
                **_whose(name),
                "created": created,
                "pause": pause_json(record),
            }

        return self._api(request, work)

    def api_resume(self, request: Request) -> Response:
        """End a running pause and cancel planned ones, of one ritual or of the household."""
        name = request.path_params.get("name")

        def work() -> tuple[int, Any]:
            resumed = self.service.resume(name)
            said = {"resumed": resumed.ended + resumed.cancelled > 0, **resumed._asdict()}
            return 200, {**_whose(name), **said}

        return self._api(request, work)

    def api_skip(self, request: Request, body: bytes) -> Response:
        name = request.path_params["name"]

        def work() -> tuple[int, Any]:
            data = json_object(body)
            check_fields(data, ("date", "reason", "by"))
            record, created = self.service.skip(
                name,
                day=day_field(data, "date"),
                reason=text_field(data, "reason") or "",
                by=_by(data, request.state.person),
                where="by",
            )
            return (201 if created else 200), {"name": name, "created": created, "skip": skip_json(record)}

        return self._api(request, work)

    def api_unskip(self, request: Request, body: bytes) -> Response:
        name = request.path_params["name"]

        def work() -> tuple[int, Any]:
            data = json_object(body)
            check_fields(data, ("date",))
            record = self.service.unskip(name, day=day_field(data, "date"))
            return 200, {"name": name, "skip": skip_json(record)}

        return self._api(request, work)

    def api_undo(self, request: Request, body: bytes) -> Response:
        name = request.path_params["name"]

        def work() -> tuple[int, Any]:
            data = json_object(body)
            check_fields(data, ("date", "by"))
            by = text_field(data, "by")
            whose = None if by is None else by.strip()
            day = day_field(data, "date")
            record = self.service.undo(name, day=day, by=whose, mine=request.state.person, where="by")
            return 200, {"name": name, "completion": completion_json(record)}

        return self._api(request, work)

    def api_streaks(self, request: Request) -> Response:
        names = request.query_params.getlist("ritual") or None
        return self._api(request, lambda: (200, [streak_json(view) for view in self.service.streaks(names)]))

    def api_completions(self, request: Request) -> Response:
        name = request.query_params.get("ritual")

        def work() -> tuple[int, Any]:
            return 200, [completion_view_json(view) for view in self.service.completions(name)]

        return self._api(request, work)

    def api_done(self, request: Request, body: bytes) -> Response:
        name = request.path_params["name"]

        def work() -> tuple[int, Any]:
            data = json_object(body)
            check_fields(data, ("date", "by", "note"))
            return self._record_done(name, done_fields(data), request.state.person)

        return self._api(request, work)

    def api_add_completion(self, request: Request, body: bytes) -> Response:
        def work() -> tuple[int, Any]:
            data = json_object(body, required=True)
            check_fields(data, ("ritual", "date", "by", "note"))
            name = text_field(data, "ritual")
            if not name:
                raise UsageError("ritual: required (the name of the ritual that was done)")
            return self._record_done(name, done_fields(data), request.state.person)

        return self._api(request, work)

    def _record_done(self, name: str, fields: DoneFields, person: str) -> tuple[int, Any]:
        """What `ritual done --json` prints; 201 for a new completion, 200 for one already recorded.

        It is the token's person's unless the body says ``by``."""
        fields.setdefault("by", person)
        recorded = self.service.record_done(name, source="api", where="by", **fields)
        return (201 if recorded.created else 200), recorded_json(recorded)

    def api_delete_completion(self, request: Request) -> Response:
        wanted = request.path_params["id"]

        def work() -> tuple[int, Any]:
            missing = NotFoundError(f"no completion with id '{wanted[:20]}' (see GET /api/v1/completions)")
            if not (wanted.isascii() and wanted.isdigit() and len(wanted) <= 18):
                raise missing
            try:
                return 200, completion_view_json(self.service.delete_completion(int(wanted)))
            except UnknownCompletionError:
                raise missing from None

        return self._api(request, work)

    def api_report(self, request: Request) -> Response:
        def work() -> tuple[int, Any]:
            return 200, report_json(self.service.report(*report_window(request.query_params, self.service)))

        return self._api(request, work)

    # whose turn and the idea backlog --------------------------------------------------------
    def api_turn(self, request: Request) -> Response:
        name = request.path_params["name"]
        return self._api(request, lambda: (200, turn_json(self.service.turn(name))))

    def api_swap_turn(self, request: Request) -> Response:
        name = request.path_params["name"]
        return self._api(request, lambda: (200, turn_json(self.service.swap_turn(name))))

    def api_ideas(self, request: Request) -> Response:
        """Open ideas (``?ritual=NAME`` for one ritual's, ``?all=1`` with used and dropped ones)."""

        def work() -> tuple[int, Any]:
            name = request.query_params.get("ritual") or None
            everything = request.query_params.get("all", "") in ("1", "true")
            return 200, [idea_json(r, i) for r, i in self.service.ideas(name, everything=everything)]

        return self._api(request, work)

    def api_add_idea(self, request: Request, body: bytes) -> Response:
        name = request.path_params["name"]

        def work() -> tuple[int, Any]:
            data = json_object(body, required=True)
            check_fields(data, ("text", "note", "by"))
            text = text_field(data, "text") or ""
            note = text_field(data, "note") or ""
            found = self.service.add_idea(name, text, by=_by(data, request.state.person), note=note)
            return 201, idea_json(name, found)

        return self._api(request, work)

    def api_idea_state(self, request: Request) -> Response:
        """``POST .../ideas/{id}/done`` or ``.../drop``."""
        name, wanted = request.path_params["name"], request.path_params["id"]
        verb = request.url.path.rpartition("/")[2]

        def work() -> tuple[int, Any]:
            if not (wanted.isascii() and wanted.isdigit() and len(wanted) <= 18):
                raise NotFoundError(f"no idea with id '{wanted[:20]}' (see GET /api/v1/ideas)")
            change = self.service.idea_done if verb == "done" else self.service.drop_idea
            return 200, idea_json(name, change(name, int(wanted)))

        return self._api(request, work)

    def _sync(self) -> None:
        """Bring the ritual file in first, as the CLI does before `ritual add` and `ritual edit`."""
        report = self.service.sync()
        if report.error:
            log.warning("ritual file not read, using the rituals stored before: %s", report.error)

    def _detail_json(self, name: str) -> JsonObject:
        """The object of `ritual show --json`."""
        return detail_json(self.service.detail(name))


def _by(data: Mapping[str, Any], person: str) -> str:
    """A body's ``by``, else the token's person."""
    by = text_field(data, "by")
    return person if by is None else by.strip()


def _whose(name: str | None) -> JsonObject:
    """Which pause an answer is about: a ritual's, or the whole household's."""
    return {"name": name} if name is not None else {"household": True}


MAX_JSON_NESTING = 16  # a ritual's JSON nests two deep; json and the readers recurse per level


def json_object(body: bytes, *, required: bool = False) -> JsonObject:
    """A request's JSON object body; an empty body is ``{}`` unless ``required``.

    Arrays and objects nested deeper than MAX_JSON_NESTING are a 400 like any bad body: a 60 KB
    ``[[[...]]]`` once ended in a RecursionError, a 500 and a traceback in the log.
    """
    if not body.strip():
        if required:
            raise UsageError("request body is empty (expected a JSON object)")
        return {}
    too_deep = UsageError(f"request body nests arrays or objects more than {MAX_JSON_NESTING} deep")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise UsageError("request body is not JSON") from None
    except RecursionError:
        raise too_deep from None
    if not isinstance(data, dict):
        raise UsageError("request body must be a JSON object")
    if _nesting(data) > MAX_JSON_NESTING:
        raise too_deep
    return data


def _nesting(value: object) -> int:
    """How deep arrays and objects nest in a parsed JSON value, measured without recursion."""
    deepest = 0
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return deepest


def check_fields(data: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise UsageError(f"unknown field '{_shown(unknown[0])}' (expected {', '.join(allowed)})")


def text_field(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise UsageError(f"'{name}' must be a string")
    return value


def day_field(data: Mapping[str, Any], name: str) -> date | None:
    value = data.get(name)
    return None if value is None else parse_day(value, name)


class DoneFields(TypedDict, total=False):
    """What a request may say about a completion: ``record_done``'s keyword arguments."""

    day: date
    by: str
    note: str


def done_fields(data: Mapping[str, Any]) -> DoneFields:
    """``record_done`` arguments from a JSON object's ``date``, ``by`` and ``note``."""
    fields: DoneFields = {}
    by, note = text_field(data, "by"), text_field(data, "note")
    if by is not None:
        fields["by"] = by.strip()
    if note is not None:
        fields["note"] = note
    if (day := day_field(data, "date")) is not None:
        fields["day"] = day
    return fields


def edit_fields(data: Mapping[str, Any]) -> tuple[RitualTable, list[str]]:
    """A PATCH body as `ritual edit` takes it: the keys to change, and those set to null to remove."""
    if not data:
        raise UsageError("nothing to change: give the keys to change (null removes one)")
    unset = [key for key, value in data.items() if value is None]
    for key in unset:
        if key not in RITUAL_KEYS:
            raise UsageError(f"{_shown(key)}: unknown key '{_shown(key)}'")
    return {key: value for key, value in data.items() if value is not None}, unset


def parse_day(value: object, name: str = "date") -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise UsageError(f"{name}: bad date '{_shown(value)}' (expected YYYY-MM-DD)")


REPORT_WINDOWS = ("week", "month", "since")


def report_window(query: Mapping[str, str], service: RitualService) -> tuple[date, date]:
    """``?week`` (the default), ``?month`` or ``?since=YYYY-MM-DD``, as `ritual report` takes them."""
    unknown = sorted(set(query) - set(REPORT_WINDOWS))
    if unknown:
        raise UsageError(
            f"unknown parameter '{_shown(unknown[0])}' (expected week, month or since=YYYY-MM-DD)"
        )
    given = [name for name in REPORT_WINDOWS if name in query]
    if len(given) > 1:
        raise UsageError(f"{given[0]} and {given[1]}: give one of them")
    for flag in ("week", "month"):
        if query.get(flag, "") not in ("", "1", "true"):
            raise UsageError(f"{flag}: takes no value (this {flag}; since=YYYY-MM-DD for another window)")
    since = parse_day(query["since"], "since") if "since" in query else None
    try:
        return service.report_window("month" if "month" in query else "week", since)
    except ValueError as error:
        raise UsageError(f"since: {error}") from None


def _shown(value: object) -> str:
    """A value from a request, short and on one line, for an error message."""
    text = str(value)
    shown = text[:40].encode("unicode_escape").decode("ascii")
    return shown + ("..." if len(text) > 40 else "")


def _error_status(error: RitualError) -> int:
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, ConflictError):
        return 409
    return 400


def json_response(status: int, body: object, headers: Mapping[str, str] | None = None) -> Response:
    sent = {"X-Content-Type-Options": "nosniff", **(headers or {})}
    return Response(dumps(body), status_code=status, media_type="application/json", headers=sent)
