"""HTTP: the one-tap links a nudge carries, the bearer-token API and the today page.

The only package that imports Starlette. Handlers parse the request, ask the service (the same
path the CLI takes) and render. ``auth`` says who is asking, ``pages`` serves people, ``api``
serves programs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scheduler.adapters.web.api import Api, json_response
from scheduler.adapters.web.auth import Auth, HideTokens, hide_tokens
from scheduler.adapters.web.pages import STATIC, Calendar, Pages, Snooze, page
from scheduler.adapters.web.ritual_pages import RitualPages
from scheduler.app.ports import Clock
from scheduler.app.service import RitualService

__all__ = ["MAX_BODY", "HideTokens", "create_app", "hide_tokens"]

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # bytes a request body may carry, read before any token is checked
BODY_TIMEOUT = 10.0  # seconds a request body may take to arrive whole


def create_app(
    service: RitualService,
    *,
    key: bytes,
    clock: Clock,
    public_url: str,
    snooze: Snooze | None = None,
    done: Callable[[int], None] | None = None,
    calendar: Calendar | None = None,
) -> Starlette:
    """The daemon's HTTP app; ``snooze(occurrence_id, person)`` re-nudges (None: answer 501);
    ``done(occurrence_id)`` hears of a Done tapped on a link (to tell the other phones);
    ``calendar(upcoming, generated_at=...)`` writes a calendar feed (None: the feed answers 501)."""
    auth = Auth(service, key=key, clock=clock)
    secure = public_url.startswith("https://")
    web = Pages(
        service, auth, key=key, clock=clock, secure=secure, snooze=snooze, done=done, calendar=calendar
    )
    api = Api(service, auth)
    rituals = RitualPages(service, auth, key=key)
    routes = [
        Route("/l/{token}", web.link_page, methods=["GET"]),
        Route("/l/{token}", _with_body(web.link_post), methods=["POST"]),
        Route("/login", web.login, methods=["GET"]),
        Route("/login", _with_body(web.login_post), methods=["POST"]),
        Route("/logout", web.logout, methods=["POST"]),
        Route("/", web.today, methods=["GET"]),
        Route("/today/{name}/{verb:str}", _with_body(web.today_action), methods=["POST"]),
        Route("/household", web.household, methods=["GET"]),
        Route("/feed/{file}", web.feed, methods=["GET"]),
        Route("/rituals/new", rituals.new_form, methods=["GET"]),
        Route("/rituals/new", _with_body(rituals.new_post), methods=["POST"]),
        Route("/rituals/{name}", rituals.show, methods=["GET"]),
        Route("/rituals/{name}/edit", rituals.edit_form, methods=["GET"]),
        Route("/rituals/{name}/edit", _with_body(rituals.edit_post), methods=["POST"]),
        Route("/rituals/{name}/{verb:str}", _with_body(rituals.action), methods=["POST"]),
        Route("/household/{verb:str}", _with_body(web.household_action), methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Route("/api/v1/rituals", api.api_rituals, methods=["GET"]),
        Route("/api/v1/rituals", _with_body(api.api_create), methods=["POST"]),
        Route("/api/v1/rituals/{name}", api.api_ritual, methods=["GET"]),
        Route("/api/v1/rituals/{name}", _with_body(api.api_edit), methods=["PATCH"]),
        Route("/api/v1/rituals/{name}/done", _with_body(api.api_done), methods=["POST"]),
        Route("/api/v1/rituals/{name}/pause", _with_body(api.api_pause), methods=["POST"]),
        Route("/api/v1/rituals/{name}/resume", api.api_resume, methods=["POST"]),
        Route("/api/v1/rituals/{name}/skip", _with_body(api.api_skip), methods=["POST"]),
        Route("/api/v1/rituals/{name}/unskip", _with_body(api.api_unskip), methods=["POST"]),
        Route("/api/v1/rituals/{name}/undo", _with_body(api.api_undo), methods=["POST"]),
        Route("/api/v1/pause", _with_body(api.api_pause), methods=["POST"]),
        Route("/api/v1/resume", api.api_resume, methods=["POST"]),
        Route("/api/v1/streaks", api.api_streaks, methods=["GET"]),
        Route("/api/v1/completions", api.api_completions, methods=["GET"]),
        Route("/api/v1/completions", _with_body(api.api_add_completion), methods=["POST"]),
        Route("/api/v1/completions/{id}", api.api_delete_completion, methods=["DELETE"]),
        Route("/api/v1/report", api.api_report, methods=["GET"]),
        Route("/api/v1/rituals/{name}/turn", api.api_turn, methods=["GET"]),
        Route("/api/v1/rituals/{name}/turn/swap", api.api_swap_turn, methods=["POST"]),
        Route("/api/v1/ideas", api.api_ideas, methods=["GET"]),
        Route("/api/v1/rituals/{name}/ideas", _with_body(api.api_add_idea), methods=["POST"]),
        Route("/api/v1/rituals/{name}/ideas/{id}/done", api.api_idea_state, methods=["POST"]),
        Route("/api/v1/rituals/{name}/ideas/{id}/drop", api.api_idea_state, methods=["POST"]),
    ]
    handlers: dict[Any, Callable[[Request, Exception], Response]] = {
        HTTPException: _http_error,
        Exception: _server_error,
    }
    return Starlette(routes=routes, exception_handlers=handlers, middleware=[Middleware(_SecurityHeaders)])


class _SecurityHeaders:
    """Every answer, whoever made it (a page, a redirect, one of Starlette's own, a static file),
    says what it is. Pages carry no script and load only this app's own style sheet, icon and
    manifest; forms post only here; no page of another origin may frame them (clickjacking the
    Done buttons); nothing is sniffed into another type; no address leaks in a Referer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                html = headers.get("content-type", "").startswith("text/html")
                for name, value in (HTML_HEADERS if html else OTHER_HEADERS).items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; manifest-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
OTHER_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
HTML_HEADERS = {**OTHER_HEADERS, "Content-Security-Policy": CONTENT_SECURITY_POLICY}


def _with_body(handler: Callable[[Request, bytes], Response]) -> Callable[[Request], Awaitable[Response]]:
    """Read the body on the event loop, then run the (blocking, database) handler in a thread."""

    async def endpoint(request: Request) -> Response:
        body = bytearray()
        try:
            async with asyncio.timeout(BODY_TIMEOUT):  # a body trickled in holds a connection
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > MAX_BODY:  # nothing here takes more than a ritual's JSON
                        return _too_large(request)
        except TimeoutError:
            return _refused(request, 408, f"request body not complete within {BODY_TIMEOUT:g} s")
        return await run_in_threadpool(handler, request, bytes(body))

    return endpoint


def _too_large(request: Request) -> Response:
    return _refused(request, 413, f"request body over {MAX_BODY // 1024} KiB")


def _refused(request: Request, status: int, message: str) -> Response:
    """A request refused before its handler ran: one-line JSON under /api, a plain page elsewhere."""
    if request.url.path.startswith("/api/"):
        return json_response(status, {"error": message})
    return page(request, "Refused", message, status=status)


def _http_error(request: Request, error: Exception) -> Response:
    """Routing errors (unknown path, wrong method): one-line JSON under /api, a plain page elsewhere."""
    assert isinstance(error, HTTPException)
    if request.url.path.startswith("/api/"):
        return json_response(error.status_code, {"error": error.detail.lower()}, headers=error.headers)
    if error.status_code == 405:  # e.g. a Remove confirmation opened again from the history
        said = "This address answers a button on a page, not a visit: go back and tap the button again."
        return page(request, "Nothing to show here", said, status=405, back="/")
    if error.status_code == 404:
        return page(request, "Not found", "There is no page at this address.", status=404, back="/")
    return page(request, error.detail, error.detail, status=error.status_code, back="/")


def _server_error(request: Request, error: Exception) -> Response:
    """A bug: the traceback goes to the log (uvicorn's), the client learns nothing of it."""
    message = "internal error (see the daemon's log)"
    # Starlette answers a bug outside every middleware: this answer sets the headers itself.
    if request.url.path.startswith("/api/"):
        answer = json_response(500, {"error": message})
        answer.headers.update(OTHER_HEADERS)
        return answer
    answer = page(request, "Error", message, status=500)
    answer.headers.update(HTML_HEADERS)
    return answer
