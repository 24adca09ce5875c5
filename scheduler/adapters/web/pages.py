"""The pages: the confirm page a one-tap link opens, the login, and the today page.

``/l/{token}``: the signed link is the capability. GET only shows a confirm page (mail scanners
and link previews fetch GET links); POST records. ``?o=`` and ``?p=``, when present, must match
the occurrence and person the link was signed for. ``/`` (the today page) needs a login; what it
records is the logged-in person's. Pages are Jinja2 templates (autoescaped) with one style sheet,
no scripts and no external assets; every action is a plain form, so they work without JavaScript.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

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
from scheduler.app.stored import ApiTokenRecord, OccurrenceRecord, StoredRitual
from scheduler.app.views import TodayEntry, Upcoming
from scheduler.domain.definitions import CompleteWhen
from scheduler.domain.errors import NotFoundError, RitualError, UnknownRitualError, UsageError
from scheduler.domain.links import LinkAction, LinkClaim, LinkError, LinkFailure, verify
from scheduler.domain.people import HOUSEHOLD, Household
from scheduler.domain.today import Section, Standing, State
from scheduler.domain.wording import describe_cadence

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
STATIC = HERE / "static"
TEMPLATES = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value a page shows is escaped, whatever its template
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
    )
)
PAST_DAYS = 14  # the days each ritual offers for a late Done or an Undo

Snooze = Callable[[int, str], None]


class Calendar(Protocol):
    """Writes upcoming nudges as an iCalendar feed (``scheduler.adapters.ics.ics_feed``)."""

    def __call__(self, upcoming: Sequence[Upcoming], *, generated_at: datetime) -> bytes: ...


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
        calendar: Calendar | None = None,
    ) -> None:
        self.service = service
        self.auth = auth
        self.key = key
        self.clock = clock
        self.secure = secure
        self.snooze = snooze
        self.done = done
        self.calendar = calendar
        self.throttle = LoginThrottle(clock)

    # one-tap links -------------------------------------------------------------------
    def link_page(self, request: Request) -> Response:
        checked = self._check_link(request)
        if isinstance(checked, Response):
            return checked
        claim, occurrence, stored = checked
        label = f"'{stored.ritual.title}' for {short_day(occurrence.day)}"
        ideas = self._ideas(stored, occurrence) if claim.action is LinkAction.DONE else []
        if claim.action is LinkAction.DONE and self._asks_who(claim):
            return self._who_page(request, label, ideas)
        if claim.action is LinkAction.DONE and self.service.done_from(occurrence, claim.person):
            return page(request, "Already recorded", f"{label} is already recorded. Nothing to do.")
        question = f"Mark {label} done?" if claim.action is LinkAction.DONE else f"Snooze {label}?"
        button = "Done" if claim.action is LinkAction.DONE else "Snooze"
        return page(
            request,
            button,
            question,
            template="confirm.html",
            action=_path_and_query(request),
            buttons=[("", "", button)],
            ideas=ideas,
        )

    def _ideas(self, stored: StoredRitual, occurrence: OccurrenceRecord) -> list[tuple[int, str]]:
        """When this period's heads-up suggested ideas, the confirm page asks which one you did."""
        return [(idea.id, idea.text) for idea in self.service.suggested_ideas(stored, occurrence.day)]

    def _asks_who(self, claim: LinkClaim) -> bool:
        """A link sent to a channel the household shares names nobody: the page asks who did it."""
        return not claim.person and len(self.service.household) > 0

    def _who_page(
        self, request: Request, label: str, ideas: Sequence[tuple[int, str]] = (), status: int = 200
    ) -> Response:
        """One button per person, and one for both of them together."""
        household = self.service.household
        choices = [(person.key, person.shown) for person in household] + [(HOUSEHOLD, "Both of us")]
        return page(
            request,
            "Who did it?",
            f"Who did {label}?",
            status=status,
            template="confirm.html",
            action=_path_and_query(request),
            buttons=[("who", key, shown) for key, shown in choices],
            ideas=ideas,
        )

    def link_post(self, request: Request, body: bytes) -> Response:
        checked = self._check_link(request)
        if isinstance(checked, Response):
            return checked
        claim, occurrence, stored = checked
        if claim.action is LinkAction.SNOOZE:
            if self.snooze is None:
                return page(request, "Not yet", "snooze arrives with the daemon wiring", status=501)
            try:
                self.snooze(occurrence.id, claim.person)
            except RitualError as error:  # e.g. max_snoozes reached
                return page(request, "Not snoozed", str(error), status=409)
            return page(request, "Snoozed", f"'{stored.ritual.title}': you will be nudged again.")
        day = min(occurrence.day, self.service.today(stored.ritual))  # a heads-up done early counts today
        who = claim.person
        chosen = _form(body).get("idea", "")
        idea = int(chosen) if chosen.isascii() and chosen.isdigit() and len(chosen) < 18 else None
        if self._asks_who(claim):
            who = _form(body).get("who", "")
            if not who:
                return self._who_page(request, f"'{stored.ritual.title}'", status=400)
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
            return page(request, "Not recorded", str(error), status=409)
        if recorded.created and self.done is not None:
            self.done(occurrence.id)
        title = "Recorded" if recorded.created else "Already recorded"
        day_shown = short_day(recorded.completion.day)
        return page(request, title, f"{title}: '{stored.ritual.title}' for {day_shown}.")

    def _check_link(self, request: Request) -> tuple[LinkClaim, OccurrenceRecord, StoredRitual] | Response:
        """The verified claim, its occurrence and ritual, or the refusal page (logged without the token)."""
        token = request.path_params["token"]
        try:
            occurrence_id, person = link_binding(request.query_params.get("o"), request.query_params.get("p"))
            claim = verify(token, self.key, now=self.clock.now(), occurrence=occurrence_id, person=person)
        except LinkError as error:
            log.warning("refused link from %s: %s", _client(request), error)
            return page(request, "Link refused", str(error), status=LINK_STATUS[error.reason])
        found = self.service.nudge(claim.occurrence)
        if found is None:
            log.warning("refused link from %s: occurrence '%s' is gone", _client(request), claim.occurrence)
            return page(
                request, "Link refused", "this link names a nudge that is no longer known", status=404
            )
        occurrence, stored = found
        return claim, occurrence, stored

    # login ------------------------------------------------------------------------------
    def login(self, request: Request) -> Response:
        token = request.query_params.get("token")
        if token is None:
            return login_page(request)
        return self._start_session(request, token)

    def login_post(self, request: Request, body: bytes) -> Response:
        return self._start_session(request, _form(body).get("token", ""))

    def _start_session(self, request: Request, token: str) -> Response:
        address = _client(request)
        if (wait := self.throttle.wait(address)) is not None:
            seconds = max(1, int(wait.total_seconds() + 0.999))
            refused = login_page(
                request, f"too many failed logins from your address: try again in {seconds} s", status=429
            )
            refused.headers["Retry-After"] = str(seconds)
            return refused
        record = self.auth.token_record(token.strip())
        if record is None:
            self.throttle.failed(address)
            log.warning("refused login from %s: not a valid token", address)
            return login_page(request, "that token is not valid (mistyped or revoked)", status=401)
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

    # the today page ---------------------------------------------------------------------
    def today(self, request: Request) -> Response:
        record = self.auth.page_user(request)
        if record is None:
            return login_page(request, status=401)
        me = record.person or ""
        household = self.service.household
        entries = self.service.today_entries(me, days=PAST_DAYS)
        sections = []
        for section, heading in SECTION_TITLES.items():
            cards = [
                card(e, me, household, form_token(self.key, record, e.stored.name))
                for e in entries
                if e.standing.section is section
            ]
            if cards:
                sections.append((heading, cards))
        pauses = []
        for pause in self.service.current_household_pauses():
            until = f" until {short_day(pause.until)}" if pause.until else " until resumed"
            pauses.append(f"Everything is paused from {short_day(pause.start)}{until}.")
        greeting = f"Hello, {household.shown(me)}" if me else "The household's rituals"
        return page(
            request,
            greeting,
            template="today.html",
            user=record,
            notices=said(request, {e.stored.name: e.stored.ritual.title for e in entries}),
            sections=sections,
            pauses=pauses,
        )

    def today_action(self, request: Request, body: bytes) -> Response:
        """Done, Undo, Skip or Unskip from the today page (``/today/NAME/VERB``), as the person logged in."""
        record = self.auth.page_user(request)
        if record is None:
            return login_page(request, status=401)
        name, verb = request.path_params["name"], request.path_params["verb"]
        form = _form(body)
        if not hmac.compare_digest(form.get("csrf", ""), form_token(self.key, record, name)):
            log.warning("refused today form from %s: bad form token", _client(request))
            return page(request, "Refused", "this form is stale; reload the page and try again", status=403)
        me = record.person or ""
        try:
            day = _day(form.get("date"))
            if not self._act(verb, name, day, me, form):
                verb = "already"  # nothing new stored: say so, not "Recorded" again
        except UnknownRitualError as error:
            return page(request, "Not recorded", str(error), status=404, user=record)
        except NotFoundError as error:
            return page(request, "Nothing to undo", str(error), status=404, user=record)
        except (RitualError, ValueError) as error:
            return page(request, "Not recorded", str(error), status=409, user=record)
        shown = {"verb": verb, "r": name} | ({"date": day.isoformat()} if day else {})
        return RedirectResponse("/?" + urlencode(shown), status_code=303)

    # the calendar feed ----------------------------------------------------------------
    def feed(self, request: Request) -> Response:
        """``/feed/TOKEN.ics``: a person's upcoming nudges for a calendar app to subscribe to.
        The token in the path is a feed token (it opens nothing else); revoking it ends the feed."""
        token, dot, suffix = request.path_params["file"].rpartition(".")
        upcoming = self.service.feed(token) if dot and suffix == "ics" else None
        if upcoming is None:
            log.warning("refused feed from %s: not a valid feed token", _client(request))
            gone = "not a valid feed (mistyped or revoked)\n"
            return Response(gone, status_code=404, media_type="text/plain")
        if self.calendar is None:
            later = "the feed arrives with the daemon wiring\n"
            return Response(later, status_code=501, media_type="text/plain")
        body = self.calendar(upcoming, generated_at=self.clock.now())
        return Response(
            body,
            media_type="text/calendar; charset=utf-8",
            headers={"Cache-Control": "private, max-age=900"},
        )

    # the household: pause everything, resume --------------------------------------------
    def household(self, request: Request) -> Response:
        record = self.auth.page_user(request)
        if record is None:
            return login_page(request, status=401)
        return page(
            request,
            "Household",
            template="household.html",
            user=record,
            notices=said(request),
            pauses=[
                _pause_words(p.start, p.until, p.reason) for p in self.service.current_household_pauses()
            ],
            today=self.service.household_today().isoformat(),
            csrf=form_token(self.key, record, HOUSEHOLD_FORM),
        )

    def household_action(self, request: Request, body: bytes) -> Response:
        record = self.auth.page_user(request)
        if record is None:
            return login_page(request, status=401)
        form = _form(body)
        if not hmac.compare_digest(form.get("csrf", ""), form_token(self.key, record, HOUSEHOLD_FORM)):
            log.warning("refused household form from %s: bad form token", _client(request))
            return page(request, "Refused", "this form is stale; reload the page and try again", status=403)
        verb = request.path_params["verb"]
        try:
            if verb == "pause":
                start, until = _day(form.get("from")), _day(form.get("until"))
                self.service.pause(
                    None, start=start, until=until, reason=form.get("reason", ""), by=record.person or ""
                )
            elif verb == "resume":
                self.service.resume(None)
            else:
                return page(request, "Not found", f"no household action '{verb[:20]}'", status=404)
        except (RitualError, ValueError) as error:
            return page(request, "Not paused", str(error).replace("--", ""), status=400, user=record)
        return RedirectResponse("/household?" + urlencode({"verb": verb, "r": "household"}), status_code=303)

    def _act(self, verb: str, name: str, day: date | None, me: str, form: Mapping[str, str]) -> bool:
        """Do what the form says; False when it was done already (nothing new stored)."""
        service = self.service
        if verb == "done":
            by = HOUSEHOLD if form.get("by") == "both" else me
            if not me and len(service.household):  # a token of nobody in particular: the form says who
                by = form.get("who", "")
                if not by:
                    raise UsageError("say who did it: tap the button with their name")
            note = form.get("note", "")
            where = "login" if me else "who"
            return service.record_done(name, day=day, by=by, note=note, source="web", where=where).created
        if verb == "undo":
            service.undo(name, day=day, mine=me, where="login")
        elif verb == "skip":
            return service.skip(name, day=day, reason=form.get("reason", ""), by=me, where="login")[1]
        elif verb == "unskip":
            service.unskip(name, day=day)
        elif verb == "idea":
            service.add_idea(name, form.get("idea", ""), by=me)
        else:
            raise UnknownRitualError(name)
        return True


# the today page's cards ----------------------------------------------------------------------
SECTION_TITLES = {Section.TODAY: "Due today", Section.WEEK: "This week", Section.LATER: "Later"}
STATE_CSS = {
    State.KEPT: "kept",
    State.WAITING: "waiting",
    State.AT_RISK: "risk",
    State.OPEN: "open",
    State.EXCUSED: "excused",
    State.PAUSED: "paused",
    State.REST: "rest",
    State.NOT_STARTED: "rest",
}
HOUSEHOLD_FORM = ":household"  # the form token's name for the household forms (no ritual has a colon)
SAID = {
    "added": "Added '{r}'.",
    "edited": "Saved '{r}'.",
    "paused": "'{r}' is paused.",
    "resumed": "'{r}' is resumed.",
    "removed": "Removed '{r}'; its history is kept.",
    "pause": "Everything is paused as asked.",
    "resume": "Everything is resumed: due again from today on.",
    "done": "Recorded '{r}'{on}.",
    "undo": "Took back your Done of '{r}'{on}.",
    "skip": "Skipped '{r}'{on}.",
    "unskip": "'{r}' is no longer skipped{on}.",
    "idea": "Added an idea to '{r}'.",
    "already": "'{r}' was already recorded{on}: nothing changed.",
}


@dataclass(frozen=True, slots=True)
class DayButton:
    iso: str
    weekday: str
    number: int
    css: str
    undo: bool
    label: str


@dataclass(frozen=True, slots=True)
class Card:
    """What the today page shows of one ritual: plain words, the template only lays them out."""

    name: str
    title: str
    css: str
    state: str
    when: str
    streak: int
    progress: str
    cadence: str
    people: str
    csrf: str
    can_done: bool
    for_both: bool
    can_undo: bool
    can_skip: bool
    can_unskip: bool
    days: tuple[DayButton, ...]
    who: tuple[tuple[str, str], ...]  # logged in as nobody in particular: (person, "Alex") to pick
    planner: str  # "Your turn to plan this one" / "Sam plans this one" for a ritual with turns
    question: str  # today's question from the ritual's deck
    ideas: tuple[str, ...]  # the open ideas of its backlog


def card(entry: TodayEntry, me: str, household: Household, csrf: str) -> Card:
    ritual = entry.stored.ritual
    standing = entry.standing
    state = standing.state
    words = state.value
    if state is State.WAITING:
        words = "waiting for " + " and ".join(
            "you" if p == me else household.shown(p) for p in standing.waiting
        )
    mine = standing.did(me)
    both = ritual.complete_when is CompleteWhen.BOTH and bool(ritual.people)
    return Card(
        name=ritual.name,
        title=ritual.title,
        css=STATE_CSS[state],
        state=words,
        when=_when(standing),
        streak=standing.summary.current_streak,
        progress=f"{standing.done}/{standing.target}" if standing.target > 1 and not standing.kept else "",
        cadence=describe_cadence(ritual),
        people=" and ".join(household.shown(p) for p in ritual.people),
        csrf=csrf,
        can_done=state not in {State.KEPT, State.NOT_STARTED} and not (both and mine),
        for_both=both and me in ritual.people,
        who=_who_choices(ritual.people, me, household),
        can_undo=mine,
        can_skip=state in {State.OPEN, State.AT_RISK, State.WAITING},
        can_unskip=state is State.EXCUSED,
        days=_days(standing, me, household),
        planner=_planner_words(entry.planner, me, household),
        question=entry.question,
        ideas=tuple(idea.text for idea in entry.ideas),
    )


def _who_choices(people: Sequence[str], me: str, household: Household) -> tuple[tuple[str, str], ...]:
    """With a token of nobody in particular, Done asks who: the ritual's people (or everyone),
    and both of them together."""
    if me or not len(household):
        return ()
    keys = list(people) or [person.key for person in household]
    choices = [(key, household.shown(key)) for key in keys]
    return tuple(choices + ([(HOUSEHOLD, "Both of us")] if len(keys) > 1 else []))


def _planner_words(planner: str, me: str, household: Household) -> str:
    if not planner:
        return ""
    return "Your turn to plan this one" if planner == me else f"{household.shown(planner)} plans this one"


def _when(standing: Standing) -> str:
    """When it is due next, never a day already gone; a kept period points at the next one."""
    if standing.state is State.PAUSED:
        return ""  # due again once resumed; the pause says until when
    if standing.state in {State.KEPT, State.EXCUSED}:
        return "" if standing.following is None else f"next due {short_day(standing.following)}"
    if standing.next_due is None:
        return ""
    if standing.section is Section.TODAY:
        return "due today"
    return f"due {short_day(standing.next_due)}"


def _days(standing: Standing, me: str, household: Household) -> tuple[DayButton, ...]:
    buttons = []
    for mark in standing.recent:
        own = me in mark.by or HOUSEHOLD in mark.by
        shown = short_day(mark.day)
        if own:
            css, label = "done", f"{shown}: done by you; tap to undo"
        elif mark.by:
            names = " and ".join(household.shown(b) if b else "someone" for b in mark.by)
            css, label = "other", f"{shown}: done by {names}; tap to mark it done by you too"
        elif mark.skipped:
            css, label = "skip", f"{shown}: skipped; tap to mark it done"
        else:
            css, label = "", f"{shown}: not done; tap to mark it done"
        buttons.append(DayButton(mark.day.isoformat(), f"{mark.day:%a}", mark.day.day, css, own, label))
    return tuple(buttons)


def said(request: Request, titles: Mapping[str, str] | None = None) -> list[str]:
    """The notice after an action: made from the redirect's words, never echoing free text.
    With ``titles`` (name: title of the rituals on the page) a ritual is called by its title,
    and a name that is none of them gets no notice."""
    verb, name = request.query_params.get("verb", ""), request.query_params.get("r", "")
    if verb not in SAID or not name:
        return []
    if titles is not None and verb != "removed":
        if name not in titles:
            return []
        name = titles[name]
    day = _day_or_none(request.query_params.get("date"))
    on = "" if day is None else f" for {short_day(day)}"
    return [SAID[verb].format(r=name, on=on)]


def _pause_words(start: date, until: date | None, reason: str) -> str:
    span = f"from {short_day(start)}" + (f" to {short_day(until)}" if until else " until resumed")
    return span + (f" ({reason})" if reason else "")


def login_page(request: Request, *lines: str, status: int = 200) -> Response:
    return page(request, "Log in", *lines, status=status, template="login.html")


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


def _day(value: str | None) -> date | None:
    """The ``date`` field of a form: a day in ISO form, or none (today)."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"date: '{value[:20]}' is not a day like 2026-11-27") from None


def _day_or_none(value: str | None) -> date | None:
    try:
        return _day(value)
    except ValueError:
        return None


# pages ----------------------------------------------------------------------------------------
def page(
    request: Request,
    title: str,
    *lines: str,
    status: int = 200,
    template: str = "message.html",
    user: ApiTokenRecord | None = None,
    notices: Sequence[str] = (),
    **context: Any,
) -> Response:
    """A whole page from a template: no scripts, no external assets, readable on a phone."""
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {"title": title, "lines": lines, "user": user, "notices": notices, **context},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def short_day(day: date) -> str:
    """``Fri 27 Nov``: what a person calls a day in a confirm question."""
    return f"{day:%a} {day.day} {day:%b}"
