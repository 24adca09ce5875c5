"""HTTP: the one-tap links a nudge carries, the bearer-token API and the today page.

The only module that imports Starlette. Handlers parse the request, ask the
service (the same path the CLI takes) and render; what can be said without
HTTP (sessions, form tokens, the today list, pages) is plain functions below.

Who may do what:

- ``/l/{token}``: the signed link is the capability. GET only shows a confirm page
  (mail scanners and link previews fetch GET links); POST records. ``?o=`` and ``?p=``,
  when present, must match the occurrence and person the link was signed for.
- ``/api/v1``: ``Authorization: Bearer TOKEN``; the store keeps the token's sha256 only.
  Its objects are those of the CLI's ``--json`` (shared through scheduler.cli.render and
  scheduler.domain.report); every error, routing ones included, is one line of JSON ``{"error": ...}``.
- ``/`` (today page): the bearer token, or the ``ritual_session`` cookie that
  ``/login?token=...`` sets: HttpOnly, SameSite=Strict, 30 days, HMAC-signed with the link
  key over the token's hash and an expiry, so revoking the token ends the session too.
  Each Done form carries an HMAC of (session token hash, ritual name) as a CSRF token.
  ``POST /logout`` deletes the cookie (the token itself stays valid until revoked).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from scheduler.app.ports import Clock
from scheduler.app.service import RitualService
from scheduler.app.stored import ApiTokenRecord, OccurrenceRecord, StoredRitual, api_token_hash
from scheduler.cli.render import (
    completion_json,
    describe_cadence,
    next_due_times,
    pause_json,
    ritual_detail_json,
    ritual_json,
)
from scheduler.domain import cadence as cad
from scheduler.domain import report as reports
from scheduler.domain.definitions import RITUAL_KEYS
from scheduler.domain.errors import ConflictError, RitualError, StoreError, UnknownRitualError, UsageError
from scheduler.domain.heatmap import Cell, heatmap_cells
from scheduler.domain.links import LinkAction, LinkClaim, LinkError, LinkFailure, verify
from scheduler.domain.streaks import History, PeriodStatus

log = logging.getLogger(__name__)

Snooze = Callable[[int, str], None]

MAX_BODY = 64 * 1024  # bytes a request body may carry, read before any token is checked
SESSION_COOKIE = "ritual_session"
SESSION_LIFETIME = timedelta(days=30)
_SESSION_PREFIX = b"ritual-session/v1\n"
_FORM_PREFIX = b"ritual-form/v1\n"

# Which status a refused link gets: a forgery is forbidden, an old link is gone, junk is a bad request.
LINK_STATUS = {
    LinkFailure.MALFORMED: 400,
    LinkFailure.TAMPERED: 403,
    LinkFailure.EXPIRED: 410,
    LinkFailure.WRONG_OCCURRENCE: 403,
    LinkFailure.WRONG_PERSON: 403,
    LinkFailure.WRONG_ACTION: 403,
}
NEXT_DUE_DAYS = 40  # how far `ritual list` looks for each ritual's next due time
_LINK_PATH = re.compile(r"/l/[^/?\s\"]+")
_TOKEN_QUERY = re.compile(r"([?&]token=)[^&\s\"]+")


def create_app(
    service: RitualService,
    *,
    key: bytes,
    clock: Clock,
    public_url: str,
    snooze: Snooze | None = None,
) -> Starlette:
    """The daemon's HTTP app; ``snooze(occurrence_id, person)`` re-nudges (None: answer 501)."""
    web = _Web(service, key=key, clock=clock, secure=public_url.startswith("https://"), snooze=snooze)
    routes = [
        Route("/l/{token}", web.link_page, methods=["GET"]),
        Route("/l/{token}", _with_body(web.link_post), methods=["POST"]),
        Route("/login", web.login, methods=["GET"]),
        Route("/login", _with_body(web.login_post), methods=["POST"]),
        Route("/logout", web.logout, methods=["POST"]),
        Route("/", web.today, methods=["GET"]),
        Route("/today/{name}/done", _with_body(web.today_done), methods=["POST"]),
        Route("/api/v1/rituals", web.api_rituals, methods=["GET"]),
        Route("/api/v1/rituals", _with_body(web.api_create), methods=["POST"]),
        Route("/api/v1/rituals/{name}", web.api_ritual, methods=["GET"]),
        Route("/api/v1/rituals/{name}", _with_body(web.api_edit), methods=["PATCH"]),
        Route("/api/v1/rituals/{name}/done", _with_body(web.api_done), methods=["POST"]),
        Route("/api/v1/rituals/{name}/pause", _with_body(web.api_pause), methods=["POST"]),
        Route("/api/v1/rituals/{name}/resume", web.api_resume, methods=["POST"]),
        Route("/api/v1/streaks", web.api_streaks, methods=["GET"]),
        Route("/api/v1/completions", web.api_completions, methods=["GET"]),
        Route("/api/v1/completions", _with_body(web.api_add_completion), methods=["POST"]),
        Route("/api/v1/completions/{id}", web.api_delete_completion, methods=["DELETE"]),
        Route("/api/v1/report", web.api_report, methods=["GET"]),
    ]
    handlers: dict[Any, Callable[[Request, Exception], Response]] = {
        HTTPException: _http_error,
        Exception: _server_error,
    }
    return Starlette(routes=routes, exception_handlers=handlers)


def _with_body(handler: Callable[[Request, bytes], Response]) -> Callable[[Request], Awaitable[Response]]:
    """Read the body on the event loop, then run the (blocking, database) handler in a thread."""

    async def endpoint(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:  # nothing here takes more than a ritual's JSON
                return _too_large(request)
        return await run_in_threadpool(handler, request, bytes(body))

    return endpoint


def _too_large(request: Request) -> Response:
    message = f"request body over {MAX_BODY // 1024} KiB"
    if request.url.path.startswith("/api/"):
        return json_response(413, {"error": message})
    return page("Too large", f"<p>{message}</p>", status=413)


class _Web:
    """The handlers, sharing the service, key and clock; GET handlers run in Starlette's threadpool."""

    def __init__(
        self, service: RitualService, *, key: bytes, clock: Clock, secure: bool, snooze: Snooze | None
    ) -> None:
        self.service = service
        self.store = service.store
        self.key = key
        self.clock = clock
        self.secure = secure
        self.snooze = snooze

    # one-tap links -------------------------------------------------------------------
    def link_page(self, request: Request) -> Response:
        checked = self._check_link(request)
        if isinstance(checked, Response):
            return checked
        claim, occurrence, stored = checked
        label = f"'{stored.ritual.title}' for {short_day(occurrence.day)}"
        if claim.action is LinkAction.DONE and self._already_done(stored, occurrence, claim.person):
            return page("Already recorded", f"<p>{esc(label)} is already recorded. Nothing to do.</p>")
        question = f"Mark {label} done?" if claim.action is LinkAction.DONE else f"Snooze {label}?"
        button = "Done" if claim.action is LinkAction.DONE else "Snooze"
        body = (
            f"<p>{esc(question)}</p>"
            f'<form method="post" action="{esc(_path_and_query(request))}">'
            f'<button type="submit">{button}</button></form>'
        )
        return page(button, body)

    def link_post(self, request: Request, body: bytes) -> Response:
        checked = self._check_link(request)
        if isinstance(checked, Response):
            return checked
        claim, occurrence, stored = checked
        if claim.action is LinkAction.SNOOZE:
            if self.snooze is None:
                return page("Not yet", "<p>snooze arrives with the daemon wiring</p>", status=501)
            try:
                self.snooze(occurrence.id, claim.person)
            except RitualError as error:  # e.g. max_snoozes reached
                return page("Not snoozed", f"<p>{esc(str(error))}</p>", status=409)
            return page("Snoozed", f"<p>'{esc(stored.ritual.title)}': you will be nudged again.</p>")
        day = min(occurrence.day, self.service.today(stored.ritual))  # a heads-up done early counts today
        try:
            _, record, created = self.service.record_done(
                stored.name, day=day, by=claim.person, source="link", occurrence=str(occurrence.id)
            )
        except RitualError as error:
            return page("Not recorded", f"<p>{esc(str(error))}</p>", status=409)
        title = "Recorded" if created else "Already recorded"
        return page(title, f"<p>{title}: '{esc(stored.ritual.title)}' for {short_day(record.day)}.</p>")

    def _check_link(self, request: Request) -> tuple[LinkClaim, OccurrenceRecord, StoredRitual] | Response:
        """The verified claim, its occurrence and ritual, or the refusal page (logged without the token)."""
        token = request.path_params["token"]
        try:
            occurrence_id, person = link_binding(request.query_params.get("o"), request.query_params.get("p"))
            claim = verify(token, self.key, now=self.clock.now(), occurrence=occurrence_id, person=person)
        except LinkError as error:
            log.warning("refused link from %s: %s", _client(request), error)
            return page("Link refused", f"<p>{esc(str(error))}</p>", status=LINK_STATUS[error.reason])
        occurrence = self.store.get_occurrence(claim.occurrence)
        ritual_id = None if occurrence is None else occurrence.ritual_id
        stored = None if ritual_id is None else self.store.ritual_by_id(ritual_id)
        if occurrence is None or stored is None:
            log.warning("refused link from %s: occurrence '%s' is gone", _client(request), claim.occurrence)
            return page("Link refused", "<p>this link names a nudge that is no longer known</p>", status=404)
        return claim, occurrence, stored

    def _already_done(self, stored: StoredRitual, occurrence: OccurrenceRecord, person: str) -> bool:
        key = str(occurrence.id)
        return any(c.occurrence == key and c.by == person for c in self.store.completions(stored.id))

    # login and the today page ----------------------------------------------------------
    def login(self, request: Request) -> Response:
        token = request.query_params.get("token")
        if token is None:
            return page("Log in", LOGIN_FORM, status=200)
        return self._start_session(token)

    def login_post(self, request: Request, body: bytes) -> Response:
        return self._start_session(_form(body).get("token", ""))

    def _start_session(self, token: str) -> Response:
        record = self._token_record(token.strip())
        if record is None:
            return page("Log in", "<p>that token is not valid (mistyped or revoked)</p>" + LOGIN_FORM, 401)
        response = RedirectResponse("/", status_code=303)
        expires = self.clock.now() + SESSION_LIFETIME
        response.set_cookie(
            SESSION_COOKIE,
            session_cookie(self.key, record.token_hash, expires),
            max_age=int(SESSION_LIFETIME.total_seconds()),
            httponly=True,
            samesite="strict",
            secure=self.secure,
        )
        return response

    def logout(self, request: Request) -> Response:
        """Forget the session cookie. No form token: a forged logout can only log you out."""
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict", secure=self.secure)
        return response

    def today(self, request: Request) -> Response:
        record = self._page_user(request)
        if record is None:
            return page("Log in", LOGIN_FORM, status=401)
        done = request.query_params.get("done")
        notice = f"<p class=notice>Recorded '{esc(done)}'.</p>" if done else ""
        entries = today_entries(self.service)
        body = LOGOUT_FORM + notice + today_html(entries, lambda name: form_token(self.key, record, name))
        return page("Today", body)

    def today_done(self, request: Request, body: bytes) -> Response:
        record = self._page_user(request)
        if record is None:
            return page("Log in", LOGIN_FORM, status=401)
        name = request.path_params["name"]
        if not hmac.compare_digest(_form(body).get("csrf", ""), form_token(self.key, record, name)):
            log.warning("refused today form from %s: bad form token", _client(request))
            return page("Refused", "<p>this form is stale; reload the page and try again</p>", status=403)
        try:
            self.service.record_done(name, source="web")
        except UnknownRitualError as error:
            return page("Not recorded", f"<p>{esc(str(error))}</p>", status=404)
        except RitualError as error:
            return page("Not recorded", f"<p>{esc(str(error))}</p>", status=409)
        return RedirectResponse(f"/?done={quote(name)}", status_code=303)

    def _page_user(self, request: Request) -> ApiTokenRecord | None:
        """The token behind a bearer header or a valid session cookie."""
        if request.headers.get("authorization"):
            return self._bearer(request)
        cookie = request.cookies.get(SESSION_COOKIE)
        token_hash = None if cookie is None else read_session(self.key, cookie, now=self.clock.now())
        record = None if token_hash is None else self.store.find_api_token(token_hash)
        if record is not None:
            self.store.touch_api_token(record.id, now=self.clock.now())
        return record

    # the API -----------------------------------------------------------------------------
    def _bearer(self, request: Request) -> ApiTokenRecord | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self._token_record(token.strip())

    def _token_record(self, token: str) -> ApiTokenRecord | None:
        if not token:
            return None
        record = self.store.find_api_token(api_token_hash(token))
        if record is not None:
            self.store.touch_api_token(record.id, now=self.clock.now())
        return record

    def _api(self, request: Request, work: Callable[[], tuple[int, Any]]) -> Response:
        """Authenticate, run ``work``, and turn what it returns or raises into one-line JSON."""
        if self._bearer(request) is None:
            has = bool(request.headers.get("authorization"))
            message = "invalid or revoked token" if has else "missing bearer token"
            return json_response(401, {"error": message}, headers={"WWW-Authenticate": "Bearer"})
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
            due = next_due_times(self.service.upcoming(days=NEXT_DUE_DAYS))
            return 200, [self._ritual_json(s, next_due=due.get(s.name)) for s in self.service.list_rituals()]

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
        name = request.path_params["name"]

        def work() -> tuple[int, Any]:
            data = json_object(body)
            check_fields(data, ("from", "until", "reason"))
            stored = self.service.get(name)
            start = day_field(data, "from") or self.service.today(stored.ritual)
            until = day_field(data, "until")
            if until is not None and until < start:
                raise UsageError(f"until: {until} is before the first paused day {start}")
            reason = text_field(data, "reason") or ""
            record = self.service.pause(name, start=start, until=until, reason=reason)
            return 201, {"name": name, "pause": pause_json(record)}

        return self._api(request, work)

    def api_resume(self, request: Request) -> Response:
        name = request.path_params["name"]
        return self._api(request, lambda: (200, {"name": name, "resumed": self.service.resume(name) > 0}))

    def api_streaks(self, request: Request) -> Response:
        names = request.query_params.getlist("ritual") or None
        return self._api(request, lambda: (200, self.service.streak_rows(names)))

    def api_completions(self, request: Request) -> Response:
        name = request.query_params.get("ritual")

        def work() -> tuple[int, Any]:
            chosen = [self.service.get(name)] if name else self.service.list_rituals()
            return 200, [
                {"ritual": s.name, **completion_json(c)} for s in chosen for c in self.store.completions(s.id)
            ]

        return self._api(request, work)

    def api_done(self, request: Request, body: bytes) -> Response:
        name = request.path_params["name"]

        def work() -> tuple[int, Any]:
            data = json_object(body)
            check_fields(data, ("date", "by", "note"))
            return self._record_done(name, done_fields(data))

        return self._api(request, work)

    def api_add_completion(self, request: Request, body: bytes) -> Response:
        def work() -> tuple[int, Any]:
            data = json_object(body, required=True)
            check_fields(data, ("ritual", "date", "by", "note"))
            name = text_field(data, "ritual")
            if not name:
                raise UsageError("ritual: required (the name of the ritual that was done)")
            return self._record_done(name, done_fields(data))

        return self._api(request, work)

    def _record_done(self, name: str, fields: dict[str, Any]) -> tuple[int, Any]:
        """What `ritual done --json` prints; 201 for a new completion, 200 for one already recorded."""
        _, record, created = self.service.record_done(name, source="api", **fields)
        return (201 if created else 200), {
            "name": name,
            "created": created,
            "completion": completion_json(record),
        }

    def api_delete_completion(self, request: Request) -> Response:
        wanted = request.path_params["id"]

        def work() -> tuple[int, Any]:
            ok = wanted.isascii() and wanted.isdigit() and len(wanted) <= 18
            record = self.store.delete_completion(int(wanted)) if ok else None
            if record is None:
                raise NotFoundError(f"no completion with id '{wanted[:20]}' (see GET /api/v1/completions)")
            names = {s.id: s.name for s in self.store.list_rituals(include_removed=True)}
            return 200, {"ritual": names.get(record.ritual_id), **completion_json(record)}

        return self._api(request, work)

    def api_report(self, request: Request) -> Response:
        def work() -> tuple[int, Any]:
            first, last = report_window(request.query_params, self.service.household_today())
            built = reports.build_report(self.service.report_inputs(), first, last)
            return 200, reports.report_json(built)

        return self._api(request, work)

    def _sync(self) -> None:
        """Bring the ritual file in first, as the CLI does before `ritual add` and `ritual edit`."""
        report = self.service.sync()
        if report.error:
            log.warning("ritual file not read, using the rituals stored before: %s", report.error)

    def _ritual_json(self, stored: StoredRitual, **extra: Any) -> dict[str, Any]:
        return ritual_json(stored, paused=self.service.is_paused(stored), extra=extra)

    def _detail_json(self, name: str) -> dict[str, Any]:
        """The object of `ritual show --json`."""
        detail = self.service.detail(name)
        streak = reports.streak_row(reports.RitualInput(detail.stored.ritual, detail.history, detail.today))
        return ritual_detail_json(detail, paused=self.service.is_paused(detail.stored), streak=streak)


# requests ------------------------------------------------------------------------------
def link_binding(occurrence: str | None, person: str | None) -> tuple[int | None, str | None]:
    """The occurrence and person a link URL names besides its token (``?o=42&p=alex``), if any."""
    if occurrence is None:
        return None, person
    if not (occurrence.isascii() and occurrence.isdigit()) or len(occurrence) > 18:
        shown = occurrence[:20].encode("unicode_escape").decode("ascii")
        raise LinkError(LinkFailure.MALFORMED, f"link is malformed: occurrence '{shown}' is not an id")
    return int(occurrence), person


def json_object(body: bytes, *, required: bool = False) -> dict[str, Any]:
    """A request's JSON object body; an empty body is ``{}`` unless ``required``."""
    if not body.strip():
        if required:
            raise UsageError("request body is empty (expected a JSON object)")
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise UsageError("request body is not JSON") from None
    if not isinstance(data, dict):
        raise UsageError("request body must be a JSON object")
    return data


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


def done_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """``record_done`` arguments from a JSON object's ``date``, ``by`` and ``note``."""
    fields: dict[str, Any] = {}
    by, note = text_field(data, "by"), text_field(data, "note")
    if by is not None:
        fields["by"] = by.strip()
    if note is not None:
        fields["note"] = note
    if (day := day_field(data, "date")) is not None:
        fields["day"] = day
    return fields


def edit_fields(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
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


def report_window(query: Mapping[str, str], today: date) -> tuple[date, date]:
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
    if "since" in query:
        try:
            return reports.since_window(parse_day(query["since"], "since"), today)
        except ValueError as error:
            raise UsageError(f"since: {error}") from None
    if "month" in query:
        return reports.month_window(today)
    return reports.week_window(today)


def _shown(value: object) -> str:
    """A value from a request, short and on one line, for an error message."""
    text = str(value)
    shown = text[:40].encode("unicode_escape").decode("ascii")
    return shown + ("..." if len(text) > 40 else "")


class NotFoundError(RitualError):
    """What a request names (other than a ritual) does not exist."""


def _error_status(error: RitualError) -> int:
    if isinstance(error, UnknownRitualError | NotFoundError):
        return 404
    if isinstance(error, ConflictError):
        return 409
    return 400


def _form(body: bytes) -> dict[str, str]:
    """An urlencoded form, first value per field (no python-multipart needed for this)."""
    parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}


def _http_error(request: Request, error: Exception) -> Response:
    """Routing errors (unknown path, wrong method): one-line JSON under /api, a plain page elsewhere."""
    assert isinstance(error, HTTPException)
    if request.url.path.startswith("/api/"):
        return json_response(error.status_code, {"error": error.detail.lower()}, headers=error.headers)
    return page(error.detail, f"<p>{esc(error.detail)}</p>", status=error.status_code)


def _server_error(request: Request, error: Exception) -> Response:
    """A bug: the traceback goes to the log (uvicorn's), the client learns nothing of it."""
    message = "internal error (see the daemon's log)"
    if request.url.path.startswith("/api/"):
        return json_response(500, {"error": message})
    return page("Error", f"<p>{message}</p>", status=500)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _path_and_query(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


# sessions and form tokens ------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def session_cookie(key: bytes, token_hash: str, expires: datetime) -> str:
    """``PAYLOAD.MAC``: the token's hash and an expiry, signed so the cookie cannot be made up."""
    payload = f"{token_hash}:{int(expires.timestamp())}".encode()
    mac = hmac.new(key, _SESSION_PREFIX + payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def read_session(key: bytes, cookie: str, *, now: datetime) -> str | None:
    """The token hash a genuine, unexpired session cookie holds; None for anything else."""
    try:
        payload_text, mac_text = cookie.split(".")
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except ValueError:
        return None
    expected = hmac.new(key, _SESSION_PREFIX + payload, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        return None
    token_hash, _, expires = payload.decode("ascii", errors="replace").partition(":")
    if not expires.isdigit() or int(expires) <= now.timestamp():
        return None
    return token_hash


def form_token(key: bytes, record: ApiTokenRecord, name: str) -> str:
    """The CSRF token of one ritual's Done form for one login (SameSite=Strict is the first guard)."""
    message = _FORM_PREFIX + f"{record.token_hash}\n{name}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def hide_tokens(text: str) -> str:
    """A request line fit for a log: link tokens and ``token=`` values blanked out."""
    return _TOKEN_QUERY.sub(r"\1...", _LINK_PATH.sub("/l/...", text))


class HideTokens(logging.Filter):
    """Attach to ``uvicorn.access``: its request lines would otherwise carry link and login tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(hide_tokens(a) if isinstance(a, str) else a for a in record.args)
        record.msg = hide_tokens(str(record.msg))
        return True


# the today page ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TodayEntry:
    """One ritual as the today page shows it."""

    stored: StoredRitual
    section: str  # "today", "week", "later"
    next_due: date | None  # the next due day from today on, in this period or the next
    done: int  # completions in the current period
    target: int
    streak: int
    at_risk: bool
    cells: tuple[Cell, ...]


def today_entries(service: RitualService) -> list[TodayEntry]:
    """Each active ritual with what the page needs: due today, this week or later; streak; a year."""
    streaks = {row["name"]: row for row in service.streak_rows()}
    entries = []
    for stored, history, today in service.histories():
        cadence = service.cadence_on(stored, today)
        period = cad.period_of(cadence, today)
        upcoming = [d for d in (*cad.due_days(cadence, period), *_next_due(cadence, period)) if d >= today]
        next_due = upcoming[0] if upcoming else None
        row = streaks.get(stored.name, {})
        entries.append(
            TodayEntry(
                stored=stored,
                section=_section(next_due, today),
                next_due=next_due,
                done=sum(1 for day, _ in history.completions if day in period),
                target=cadence.times,
                streak=int(row.get("current_streak", 0)),
                at_risk=bool(row.get("at_risk", False)),
                cells=tuple(_year(history, today)),
            )
        )
    order = {"today": 0, "week": 1, "later": 2}
    entries.sort(key=lambda e: (order[e.section], e.stored.name))
    return entries


def _next_due(cadence: cad.Cadence, period: cad.Period) -> tuple[date, ...]:
    return cad.due_days(cadence, cad.period_of(cadence, period.end))


def _section(next_due: date | None, today: date) -> str:
    if next_due == today:
        return "today"
    if next_due is not None and next_due - today < timedelta(days=7):
        return "week"
    return "later"


def _year(history: History, today: date) -> list[Cell]:
    return heatmap_cells(history, today)


SECTION_TITLES = {"today": "Today", "week": "This week", "later": "Later"}


def today_html(entries: list[TodayEntry], token_for: Callable[[str], str]) -> str:
    if not entries:
        return "<p>No rituals yet: <code>ritual init</code> writes a catalogue.</p>"
    parts = []
    for section, title in SECTION_TITLES.items():
        chosen = [e for e in entries if e.section == section]
        if chosen:
            parts.append(f"<h2>{title}</h2>")
            parts.extend(_entry_html(e, token_for(e.stored.name)) for e in chosen)
    return "".join(parts)


def _entry_html(entry: TodayEntry, csrf: str) -> str:
    ritual = entry.stored.ritual
    kept = entry.done >= entry.target
    state = "kept" if kept else f"{entry.done}/{entry.target}" if entry.target > 1 else "open"
    when = "" if entry.next_due is None else f" &middot; next {short_day(entry.next_due)}"
    risk = " &middot; at risk" if entry.at_risk and not kept else ""
    name = esc(ritual.name)
    return (
        f'<section class="r"><h3>{esc(ritual.title)}</h3>'
        f"<p>{esc(describe_cadence(ritual))}{when}</p>"
        f'<p>streak <b class="streak">{entry.streak}</b>{risk} &middot; this period: {state}</p>'
        f'<form method="post" action="/today/{esc(quote(ritual.name))}/done">'
        f'<input type="hidden" name="csrf" value="{csrf}">'
        f'<button type="submit" aria-label="Done {name}">Done</button></form>'
        f"{heatmap_html(entry.cells)}</section>"
    )


def heatmap_html(cells: tuple[Cell, ...]) -> str:
    """A year of squares as a CSS grid, a column per week for daily rituals (one row otherwise)."""
    if not cells:
        return ""
    daily = len(cells) > 60
    pad = cells[0].day.weekday() if daily else 0
    squares = ["<i></i>"] * pad + [
        f'<i class="{_CELL_CLASS[c.status]}" title="{c.day.isoformat()}"></i>' for c in cells
    ]
    return f'<div class="hm{" d" if daily else ""}">{"".join(squares)}</div>'


_CELL_CLASS: dict[PeriodStatus | None, str] = {
    PeriodStatus.KEPT: "k",
    PeriodStatus.MISSED: "m",
    PeriodStatus.EXCUSED: "e",
    PeriodStatus.OPEN: "o",
    PeriodStatus.REST: "s",
    None: "n",
}


# pages ----------------------------------------------------------------------------------------
STYLE = (
    "*,::before,::after{box-sizing:border-box}"
    "body{font:16px/1.4 system-ui,sans-serif;max-width:40rem;margin:0 auto;padding:1rem;color:#222}"
    "h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.5rem}h3{margin:0 0 .2rem;font-size:1rem}"
    "section.r{border:1px solid #ddd;border-radius:.5rem;padding:.7rem;margin:.6rem 0}"
    "section.r p{margin:.2rem 0}.notice{background:#e8f5e9;padding:.5rem;border-radius:.3rem}"
    "button{font-size:1.1rem;padding:.5rem 1.4rem;border-radius:.4rem;border:0;background:#2e7d32;"
    "color:#fff}form{margin:.4rem 0}input[type=password]{font-size:1rem;padding:.4rem;width:100%}"
    ".hm{display:flex;flex-wrap:wrap;gap:2px;margin-top:.4rem}"
    "form.out{float:right;margin:0}button.link{background:none;color:#2e7d32;padding:.3rem;font-size:.9rem;"
    "text-decoration:underline}"
    ".hm i{display:block;width:7px;height:7px;border-radius:1px;background:#eee}"
    # A year of days is 53 columns: they shrink (square, down to ~5px) to fit a phone's width.
    ".hm.d{display:grid;grid-template-rows:repeat(7,auto);grid-auto-flow:column;"
    "grid-auto-columns:minmax(0,7px);gap:1px}.hm.d i{width:100%;height:auto;aspect-ratio:1}"
    ".hm i.k{background:#2e7d32}.hm i.m{background:#e57373}.hm i.e{background:#90caf9}"
    ".hm i.o{background:#fff;outline:1px solid #999}.hm i.s{background:#f5f5f5}"
)
LOGIN_FORM = (
    '<form method="post" action="/login"><p><label>API token '
    '<input type="password" name="token" autocomplete="current-password"></label></p>'
    '<button type="submit">Log in</button></form>'
    "<p>Create a token with <code>ritual token create NAME</code>.</p>"
)


LOGOUT_FORM = (
    '<form method="post" action="/logout" class="out">'
    '<button type="submit" class="link">Log out</button></form>'
)


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """A whole page: no scripts, no external assets, readable on a phone."""
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{esc(title)} - ritual</title><style>{STYLE}</style></head>"
        f"<body><h1>{esc(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(document, status_code=status, headers={"Cache-Control": "no-store"})


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    text = json.dumps(body, ensure_ascii=False, default=_json_default)
    return Response(text, status_code=status, media_type="application/json", headers=headers)


def _json_default(value: object) -> object:
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def short_day(day: date) -> str:
    """``Fri 27 Nov``: what a person calls a day in a confirm question."""
    return f"{day:%a} {day.day} {day:%b}"
