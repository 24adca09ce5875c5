"""The pages: the confirm page a one-tap link opens, the login, and the today page.

``/l/{token}``: the signed link is the capability. GET only shows a confirm page (mail scanners
and link previews fetch GET links); POST records. ``?o=`` and ``?p=``, when present, must match
the occurrence and person the link was signed for. ``/`` (the today page) needs a login.
Pages carry no scripts and no external assets.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import logging
from collections.abc import Callable
from datetime import date
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from scheduler.adapters.web.auth import (
    SESSION_COOKIE,
    SESSION_LIFETIME,
    Auth,
    LoginThrottle,
    form_token,
    session_cookie,
)
from scheduler.app.ports import Clock
from scheduler.app.service import RitualService
from scheduler.app.stored import OccurrenceRecord, StoredRitual
from scheduler.app.views import TodayEntry
from scheduler.domain.errors import RitualError, UnknownRitualError
from scheduler.domain.heatmap import Cell
from scheduler.domain.links import LinkAction, LinkClaim, LinkError, LinkFailure, verify
from scheduler.domain.people import HOUSEHOLD
from scheduler.domain.streaks import PeriodStatus
from scheduler.domain.today import Section
from scheduler.domain.wording import describe_cadence

log = logging.getLogger(__name__)

Snooze = Callable[[int, str], None]
# Which status a refused link gets: a forgery is forbidden, an old link is gone, junk is a bad request.
LINK_STATUS = {
    LinkFailure.MALFORMED: 400,
    LinkFailure.TAMPERED: 403,
    LinkFailure.EXPIRED: 410,
    LinkFailure.WRONG_OCCURRENCE: 403,
    LinkFailure.WRONG_PERSON: 403,
    LinkFailure.WRONG_ACTION: 403,
}


class Pages:
    """The page handlers; they run in Starlette's threadpool (they read the database)."""

    def __init__(
        self,
        service: RitualService,
        auth: Auth,
        *,
        key: bytes,
        clock: Clock,
        secure: bool,
        snooze: Snooze | None,
        done: Callable[[int], None] | None = None,
    ) -> None:
        self.service = service
        self.auth = auth
        self.key = key
        self.clock = clock
        self.secure = secure
        self.snooze = snooze
        self.done = done
        self.throttle = LoginThrottle(clock)

    # one-tap links -------------------------------------------------------------------
    def link_page(self, request: Request) -> Response:
        checked = self._check_link(request)
        if isinstance(checked, Response):
            return checked
        claim, occurrence, stored = checked
        label = f"'{stored.ritual.title}' for {short_day(occurrence.day)}"
        ideas = self._idea_choice(stored, occurrence) if claim.action is LinkAction.DONE else ""
        if claim.action is LinkAction.DONE and self._asks_who(claim):
            return page("Who did it?", self._who_form(request, label, ideas))
        if claim.action is LinkAction.DONE and self.service.done_from(occurrence, claim.person):
            return page("Already recorded", f"<p>{esc(label)} is already recorded. Nothing to do.</p>")
        question = f"Mark {label} done?" if claim.action is LinkAction.DONE else f"Snooze {label}?"
        button = "Done" if claim.action is LinkAction.DONE else "Snooze"
        body = (
            f"<p>{esc(question)}</p>"
            f'<form method="post" action="{esc(_path_and_query(request))}">'
            f'{ideas}<button type="submit">{button}</button></form>'
        )
        return page(button, body)

    def _idea_choice(self, stored: StoredRitual, occurrence: OccurrenceRecord) -> str:
        """When this period's heads-up suggested ideas: which one you did (or none of them)."""
        ideas = self.service.suggested_ideas(stored, occurrence.day)
        if not ideas:
            return ""
        options = "".join(f'<option value="{idea.id}">{esc(idea.text)}</option>' for idea in ideas)
        return (
            '<p><label>Which idea did you do? <select name="idea">'
            f'<option value="">none of these</option>{options}</select></label></p>'
        )

    def _asks_who(self, claim: LinkClaim) -> bool:
        """A link sent to a channel the household shares names nobody: the page asks who did it."""
        return not claim.person and len(self.service.household) > 0

    def _who_form(self, request: Request, label: str, ideas: str = "") -> str:
        """One button per person, and one for both of them together."""
        household = self.service.household
        choices = [(person.key, person.shown) for person in household] + [(HOUSEHOLD, "Both of us")]
        buttons = "".join(
            f'<button type="submit" name="who" value="{esc(key)}">{esc(shown)}</button> '
            for key, shown in choices
        )
        return (
            f"<p>Who did {esc(label)}?</p>"
            f'<form method="post" action="{esc(_path_and_query(request))}">{ideas}{buttons}</form>'
        )

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
        who = claim.person
        chosen = _form(body).get("idea", "")
        idea = int(chosen) if chosen.isascii() and chosen.isdigit() and len(chosen) < 18 else None
        if self._asks_who(claim):
            who = _form(body).get("who", "")
            if not who:
                return page("Who did it?", self._who_form(request, f"'{stored.ritual.title}'"), status=400)
        try:
            recorded = self.service.record_done(
                stored.name,
                day=day,
                by=who,
                source="link",
                occurrence=str(occurrence.id),
                where="who",
                idea=idea,
            )
        except RitualError as error:
            return page("Not recorded", f"<p>{esc(str(error))}</p>", status=409)
        if recorded.created and self.done is not None:
            self.done(occurrence.id)
        title = "Recorded" if recorded.created else "Already recorded"
        day_shown = short_day(recorded.completion.day)
        return page(title, f"<p>{title}: '{esc(stored.ritual.title)}' for {day_shown}.</p>")

    def _check_link(self, request: Request) -> tuple[LinkClaim, OccurrenceRecord, StoredRitual] | Response:
        """The verified claim, its occurrence and ritual, or the refusal page (logged without the token)."""
        token = request.path_params["token"]
        try:
            occurrence_id, person = link_binding(request.query_params.get("o"), request.query_params.get("p"))
            claim = verify(token, self.key, now=self.clock.now(), occurrence=occurrence_id, person=person)
        except LinkError as error:
            log.warning("refused link from %s: %s", _client(request), error)
            return page("Link refused", f"<p>{esc(str(error))}</p>", status=LINK_STATUS[error.reason])
        found = self.service.nudge(claim.occurrence)
        if found is None:
            log.warning("refused link from %s: occurrence '%s' is gone", _client(request), claim.occurrence)
            return page("Link refused", "<p>this link names a nudge that is no longer known</p>", status=404)
        occurrence, stored = found
        return claim, occurrence, stored

    # login and the today page ----------------------------------------------------------
    def login(self, request: Request) -> Response:
        token = request.query_params.get("token")
        if token is None:
            return page("Log in", LOGIN_FORM, status=200)
        return self._start_session(request, token)

    def login_post(self, request: Request, body: bytes) -> Response:
        return self._start_session(request, _form(body).get("token", ""))

    def _start_session(self, request: Request, token: str) -> Response:
        address = _client(request)
        if (wait := self.throttle.wait(address)) is not None:
            seconds = max(1, int(wait.total_seconds() + 0.999))
            message = f"<p>too many failed logins from your address: try again in {seconds} s</p>"
            refused = page("Log in", message + LOGIN_FORM, 429)
            refused.headers["Retry-After"] = str(seconds)
            return refused
        record = self.auth.token_record(token.strip())
        if record is None:
            self.throttle.failed(address)
            log.warning("refused login from %s: not a valid token", address)
            return page("Log in", "<p>that token is not valid (mistyped or revoked)</p>" + LOGIN_FORM, 401)
        self.throttle.succeeded(address)
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
        record = self.auth.page_user(request)
        if record is None:
            return page("Log in", LOGIN_FORM, status=401)
        done = request.query_params.get("done")
        notice = f"<p class=notice>Recorded '{esc(done)}'.</p>" if done else ""
        entries = self.service.today_entries()
        for pause in self.service.current_household_pauses():
            until = f" until {short_day(pause.until)}" if pause.until else " until resumed"
            notice += f"<p class=notice>Everything is paused from {short_day(pause.start)}{until}.</p>"
        body = LOGOUT_FORM + notice + today_html(entries, lambda name: form_token(self.key, record, name))
        return page("Today", body)

    def today_done(self, request: Request, body: bytes) -> Response:
        record = self.auth.page_user(request)
        if record is None:
            return page("Log in", LOGIN_FORM, status=401)
        name = request.path_params["name"]
        if not hmac.compare_digest(_form(body).get("csrf", ""), form_token(self.key, record, name)):
            log.warning("refused today form from %s: bad form token", _client(request))
            return page("Refused", "<p>this form is stale; reload the page and try again</p>", status=403)
        try:
            self.service.record_done(name, by=record.person or "", source="web", where="login")
        except UnknownRitualError as error:
            return page("Not recorded", f"<p>{esc(str(error))}</p>", status=404)
        except RitualError as error:
            return page("Not recorded", f"<p>{esc(str(error))}</p>", status=409)
        return RedirectResponse(f"/?done={quote(name)}", status_code=303)


# requests ------------------------------------------------------------------------------
def link_binding(occurrence: str | None, person: str | None) -> tuple[int | None, str | None]:
    """The occurrence and person a link URL names besides its token (``?o=42&p=alex``), if any."""
    if occurrence is None:
        return None, person
    if not (occurrence.isascii() and occurrence.isdigit()) or len(occurrence) > 18:
        shown = occurrence[:20].encode("unicode_escape").decode("ascii")
        raise LinkError(LinkFailure.MALFORMED, f"link is malformed: occurrence '{shown}' is not an id")
    return int(occurrence), person


def _form(body: bytes) -> dict[str, str]:
    """An urlencoded form, first value per field (no python-multipart needed for this)."""
    parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _path_and_query(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


# the today page ---------------------------------------------------------------------------
SECTION_TITLES = {Section.TODAY: "Today", Section.WEEK: "This week", Section.LATER: "Later"}


def today_html(entries: list[TodayEntry], token_for: Callable[[str], str]) -> str:
    if not entries:
        return "<p>No rituals yet: <code>ritual init</code> writes a catalogue.</p>"
    parts = []
    for section, title in SECTION_TITLES.items():
        chosen = [e for e in entries if e.standing.section is section]
        if chosen:
            parts.append(f"<h2>{title}</h2>")
            parts.extend(_entry_html(e, token_for(e.stored.name)) for e in chosen)
    return "".join(parts)


def _entry_html(entry: TodayEntry, csrf: str) -> str:
    ritual = entry.stored.ritual
    standing = entry.standing
    kept = standing.kept
    state = "kept" if kept else f"{standing.done}/{standing.target}" if standing.target > 1 else "open"
    when = "" if standing.next_due is None else f" &middot; next {short_day(standing.next_due)}"
    risk = " &middot; at risk" if standing.summary.at_risk and not kept else ""
    name = esc(ritual.name)
    return (
        f'<section class="r"><h3>{esc(ritual.title)}</h3>'
        f"<p>{esc(describe_cadence(ritual))}{when}</p>"
        f'<p>streak <b class="streak">{standing.summary.current_streak}</b>{risk}'
        f" &middot; this period: {state}</p>"
        f'<form method="post" action="/today/{esc(quote(ritual.name))}/done">'
        f'<input type="hidden" name="csrf" value="{csrf}">'
        f'<button type="submit" aria-label="Done {name}">Done</button></form>'
        f"{heatmap_html(standing.cells)}</section>"
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


# What every HTML answer says about itself. The pages are script-free with one inline style
# sheet: the policy allows that sheet (by its hash) and nothing else to load, forms to post only
# here, and no page of another origin to frame them (clickjacking the Done buttons).
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode("ascii")
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HTML_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """A whole page: no scripts, no external assets, readable on a phone."""
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{esc(title)} - ritual</title><style>{STYLE}</style></head>"
        f"<body><h1>{esc(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(document, status_code=status, headers={"Cache-Control": "no-store", **HTML_HEADERS})


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def short_day(day: date) -> str:
    """``Fri 27 Nov``: what a person calls a day in a confirm question."""
    return f"{day:%a} {day.day} {day:%b}"
