"""The HTTP side: signed links record exactly once, the API wants a live token, the today page a login.

Everything runs in-process (Starlette's TestClient) on a real SQLite store with a fake clock.
"""

from __future__ import annotations

import html
import logging
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.store import SqlStore
from scheduler.adapters.web import MAX_BODY, HideTokens, create_app, hide_tokens
from scheduler.app.service import RitualService
from scheduler.app.stored import (
    CompletionRecord,
    OccurrenceKind,
    OccurrenceStatus,
    RitualSource,
    api_token_hash,
)
from scheduler.app.views import TodayEntry
from scheduler.domain.definitions import ritual_from_table
from scheduler.domain.errors import RitualError, StoreError
from scheduler.domain.links import LinkAction, LinkClaim, expiry_for, sign
from tests.conftest import RitualCli, snapshot

with warnings.catch_warnings():
    # Starlette 1.x asks for the httpx2 fork; plain httpx still works and is what we pin.
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
# Friday 27 Nov 2026, 19:30 in Berlin: date night is due today.
NOW = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)
FRIDAY = date(2026, 11, 27)
API_TOKEN = "rt_test-token-for-home-assistant"
DATE_NIGHT = {
    "name": "date-night",
    "title": "Date night",
    "every": "week",
    "on": "fri",
    "at": "19:00",
    "timezone": "Europe/Berlin",
    "dimension": "experiential",
    "start": "2026-11-01",
}


@dataclass
class House:
    """One installation: store, clock, app client, and the nudge a link was made for."""

    store: SqlStore
    clock: FakeClock
    client: TestClient
    ritual_id: int
    occurrence_id: int
    home: Path  # tmp_path: ritual.db, and none.toml as the (absent) ritual file
    snoozed: list[tuple[int, str]] = field(default_factory=list)

    def link(
        self,
        *,
        person: str = "alex",
        action: LinkAction = LinkAction.DONE,
        occurrence: int | None = None,
        key: bytes = KEY,
        expires: datetime = NOW + timedelta(days=2),
    ) -> str:
        claim = LinkClaim(
            occurrence=self.occurrence_id if occurrence is None else occurrence,
            person=person,
            action=action,
            expires=expiry_for(expires, timedelta(0)),
        )
        return sign(claim, key)

    def completions(self) -> list[CompletionRecord]:
        return self.store.completions(self.ritual_id)

    def bearer(self, token: str = API_TOKEN) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """An authorized API call with a JSON body (None: no body)."""
        return self.client.request(method, path, headers=self.bearer(), json=body)

    @property
    def db(self) -> Path:
        return self.home / "ritual.db"

    @property
    def ritual_file(self) -> Path:
        return self.home / "none.toml"


def make_house(
    tmp_path: Path, *, with_snooze: bool = True, snooze: Callable[[int, str], None] | None = None
) -> Iterator[House]:
    store = SqlStore.open(f"sqlite:///{tmp_path / 'ritual.db'}")
    clock = FakeClock(NOW)
    stored = store.save_ritual(
        ritual_from_table(DATE_NIGHT), RitualSource.CLI, now=NOW, effective_from=date(2026, 11, 1)
    )
    occurrence, _ = store.claim_occurrence(
        stored.id,
        day=FRIDAY,
        slot="19:00",
        kind=OccurrenceKind.DUE,
        due_at=NOW - timedelta(minutes=30),
        status=OccurrenceStatus.SENT,
        now=NOW,
    )
    store.create_api_token("home-assistant", api_token_hash(API_TOKEN), now=NOW)
    service = RitualService(
        store, clock, ritual_file=tmp_path / "none.toml", default_timezone="Europe/Berlin"
    )
    snoozed: list[tuple[int, str]] = []
    if snooze is None and with_snooze:

        def snooze(occurrence: int, person: str) -> None:
            snoozed.append((occurrence, person))

    app = create_app(service, key=KEY, clock=clock, public_url="http://ritual.lan:8080", snooze=snooze)
    with TestClient(app, client=("192.0.2.7", 50000), follow_redirects=False) as client:
        yield House(store, clock, client, stored.id, occurrence.id, tmp_path, snoozed)
    store.close()


@pytest.fixture
def house(tmp_path: Path) -> Iterator[House]:
    yield from make_house(tmp_path)


def text(answer: Any) -> str:
    """A page as a person reads it (entities unescaped)."""
    return html.unescape(answer.text)


# --- one-tap links ---------------------------------------------------------------------------------


def test_a_valid_link_post_records_once_for_the_person_and_nudge(house: House) -> None:
    token = house.link()
    first = house.client.post(f"/l/{token}")
    assert first.status_code == 200
    assert "Recorded: 'Date night' for Fri 27 Nov." in text(first)
    [done] = house.completions()
    assert (done.day, done.by, done.source, done.occurrence) == (
        FRIDAY,
        "alex",
        "link",
        str(house.occurrence_id),
    )

    again = house.client.post(f"/l/{token}")
    assert again.status_code == 200
    assert "Already recorded" in text(again)
    assert [c.id for c in house.completions()] == [done.id]


def test_each_person_of_a_couple_records_their_own_tap(house: House) -> None:
    house.client.post(f"/l/{house.link(person='alex')}")
    house.client.post(f"/l/{house.link(person='sam')}")
    house.client.post(f"/l/{house.link(person='sam')}")
    assert sorted(c.by for c in house.completions()) == ["alex", "sam"]


def test_get_shows_a_confirm_page_and_never_records(house: House) -> None:
    token = house.link()
    for _ in range(3):
        shown = house.client.get(f"/l/{token}")
        assert shown.status_code == 200
        assert "Mark 'Date night' for Fri 27 Nov done?" in text(shown)
        assert f'<form method="post" action="/l/{token}">' in text(shown)
    assert house.completions() == []


def test_get_after_the_tap_says_already_recorded(house: House) -> None:
    token = house.link()
    house.client.post(f"/l/{token}")
    shown = house.client.get(f"/l/{token}")
    assert shown.status_code == 200
    assert "already recorded" in text(shown)
    assert "<form" not in text(shown)


def test_the_binding_in_the_url_is_kept_in_the_confirm_form(house: House) -> None:
    token = house.link()
    url = f"/l/{token}?o={house.occurrence_id}&p=alex"
    assert f'action="{url}"' in text(house.client.get(url))
    assert house.client.post(url).status_code == 200
    assert len(house.completions()) == 1


def tampered(token: str) -> str:
    payload, signature = token.split(".")
    flipped = "A" if signature[0] != "A" else "B"
    return f"{payload}.{flipped}{signature[1:]}"


def forged_payload(house: House) -> str:
    """Alex's signature on a payload that now says Sam."""
    alex, sam = house.link(person="alex"), house.link(person="sam")
    return f"{sam.split('.')[0]}.{alex.split('.')[1]}"


@dataclass(frozen=True)
class BadLink:
    url: Callable[[House], str]
    status: int
    reason: str
    advance: timedelta = timedelta(0)


BAD_LINKS = {
    "tampered-signature": BadLink(lambda h: f"/l/{tampered(h.link())}", 403, "signature does not match"),
    "payload-swapped-under-a-signature": BadLink(
        lambda h: f"/l/{forged_payload(h)}", 403, "signature does not match"
    ),
    "signed-with-another-key": BadLink(
        lambda h: f"/l/{h.link(key=OTHER_KEY)}", 403, "signature does not match"
    ),
    "other-occurrence-in-url": BadLink(
        lambda h: f"/l/{h.link()}?o={h.occurrence_id + 1}", 403, "is for occurrence"
    ),
    "other-person-in-url": BadLink(lambda h: f"/l/{h.link()}?p=sam", 403, "is for person 'alex', not 'sam'"),
    "expired": BadLink(lambda h: f"/l/{h.link()}", 410, "link expired", advance=timedelta(days=3)),
    "expired-to-the-second": BadLink(
        lambda h: f"/l/{h.link(expires=NOW + timedelta(hours=1))}", 410, "link expired", timedelta(hours=1)
    ),
    "malformed": BadLink(lambda h: "/l/not-a-token", 400, "malformed"),
    "malformed-occurrence-in-url": BadLink(lambda h: f"/l/{h.link()}?o=12x", 400, "not an id"),
    "no-such-occurrence": BadLink(lambda h: f"/l/{h.link(occurrence=999)}", 404, "no longer known"),
}


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("case", BAD_LINKS.values(), ids=BAD_LINKS.keys())
def test_bad_links_are_refused_logged_without_the_token_and_record_nothing(
    house: House, case: BadLink, method: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = case.url(house)
    house.clock.advance(case.advance)
    with caplog.at_level(logging.DEBUG):
        answer = house.client.request(method, url)
    # The test client's own request log (httpx) is the browser's side, not the server's.
    served = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert answer.status_code == case.status
    assert case.reason in text(answer)
    assert answer.headers["content-type"].startswith("text/html")
    assert house.completions() == []
    assert "refused link from 192.0.2.7" in served
    token = url.removeprefix("/l/").split("?")[0]
    assert token not in served
    assert token.split(".")[-1] not in served


def test_a_link_just_before_it_expires_still_records(house: House) -> None:
    token = house.link(expires=NOW + timedelta(hours=1))
    house.clock.advance(timedelta(minutes=59, seconds=59))
    assert house.client.post(f"/l/{token}").status_code == 200
    assert len(house.completions()) == 1


def test_a_snooze_link_calls_the_snooze_hook_on_post_only(house: House) -> None:
    token = house.link(action=LinkAction.SNOOZE)
    shown = house.client.get(f"/l/{token}")
    assert "Snooze 'Date night' for Fri 27 Nov?" in text(shown)
    assert house.snoozed == []
    snoozed = house.client.post(f"/l/{token}")
    assert snoozed.status_code == 200
    assert "Snoozed" in text(snoozed)
    assert house.snoozed == [(house.occurrence_id, "alex")]
    assert house.completions() == []


def test_snooze_without_a_hook_answers_not_implemented(tmp_path: Path) -> None:
    for house in make_house(tmp_path, with_snooze=False):
        answer = house.client.post(f"/l/{house.link(action=LinkAction.SNOOZE)}")
        assert answer.status_code == 501
        assert "snooze arrives with the daemon wiring" in text(answer)


def test_a_refused_snooze_says_why(tmp_path: Path) -> None:
    def refuse(occurrence: int, person: str) -> None:
        raise RitualError(f"'{person}' snoozed '{occurrence}' 3 times already")

    for house in make_house(tmp_path, snooze=refuse):
        answer = house.client.post(f"/l/{house.link(action=LinkAction.SNOOZE)}")
        assert answer.status_code == 409
        assert f"'alex' snoozed '{house.occurrence_id}' 3 times already" in text(answer)


def test_a_heads_up_tapped_the_day_before_counts_for_today(house: House) -> None:
    house.clock.set(NOW - timedelta(days=1))
    house.client.post(f"/l/{house.link()}")
    assert [c.day for c in house.completions()] == [FRIDAY - timedelta(days=1)]


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        pytest.param('"GET /l/abc.def HTTP/1.1" 200', '"GET /l/... HTTP/1.1" 200', id="link-path"),
        pytest.param("/l/abc.def?o=3&p=alex", "/l/...?o=3&p=alex", id="link-with-binding"),
        pytest.param("/login?token=rt_secret", "/login?token=...", id="login-query"),
        pytest.param("/login?access_token=rt_secret", "/login?access_token=...", id="access-token"),
        pytest.param(
            "/?x=1&ACCESS_TOKEN=rt_secret&y=2", "/?x=1&ACCESS_TOKEN=...&y=2", id="access-token-upper"
        ),
        pytest.param(
            '"GET /login?access_token=rt_s HTTP/1.1"', '"GET /login?access_token=... HTTP/1.1"', id="line"
        ),
        pytest.param("/api/v1/streaks", "/api/v1/streaks", id="nothing-to-hide"),
    ],
)
def test_access_log_lines_lose_their_tokens(line: str, shown: str) -> None:
    assert hide_tokens(line) == shown


def test_the_access_log_filter_blanks_tokens_in_uvicorn_records() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("192.0.2.7:5000", "POST", "/l/abc.def?p=alex", "1.1", 200),
        None,
    )
    assert HideTokens().filter(record)
    assert record.getMessage() == '192.0.2.7:5000 - "POST /l/...?p=alex HTTP/1.1" 200'


# --- the API ---------------------------------------------------------------------------------------


def revoke(house: House) -> dict[str, str]:
    house.store.revoke_api_token("home-assistant", now=NOW)
    return house.bearer()


AUTH_CASES: dict[str, tuple[Callable[[House], dict[str, str]], str]] = {
    "no-token": (lambda h: {}, "missing bearer token"),
    "wrong-token": (lambda h: h.bearer("rt_guessed"), "invalid or revoked token"),
    "revoked-token": (revoke, "invalid or revoked token"),
    "not-bearer": (lambda h: {"Authorization": f"Basic {API_TOKEN}"}, "expected Authorization: Bearer TOKEN"),
    "empty-bearer": (lambda h: {"Authorization": "Bearer "}, "invalid or revoked token"),
}
UNKNOWN = "no ritual named 'nope' (see `ritual list`)"
WALK = {"name": "evening-walk", "every": "day", "at": "20:30", "dimension": "physical"}

# Every API endpoint, with a body that would change something if the token were accepted.
API_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/v1/rituals", None),
    ("POST", "/api/v1/rituals", WALK),
    ("GET", "/api/v1/rituals/{name}", None),
    ("PATCH", "/api/v1/rituals/{name}", {"at": "21:00"}),
    ("POST", "/api/v1/rituals/{name}/done", {"by": "alex"}),
    ("POST", "/api/v1/rituals/{name}/pause", {"reason": "holiday"}),
    ("POST", "/api/v1/rituals/{name}/resume", None),
    ("POST", "/api/v1/rituals/{name}/skip", {"reason": "ill"}),
    ("POST", "/api/v1/rituals/{name}/unskip", None),
    ("POST", "/api/v1/rituals/{name}/undo", None),
    ("POST", "/api/v1/pause", {"reason": "away"}),
    ("POST", "/api/v1/resume", None),
    ("GET", "/api/v1/streaks", None),
    ("GET", "/api/v1/completions", None),
    ("POST", "/api/v1/completions", {"ritual": "date-night"}),
    ("DELETE", "/api/v1/completions/{id}", None),
    ("GET", "/api/v1/report", None),
    ("GET", "/api/v1/rituals/{name}/turn", None),
    ("POST", "/api/v1/rituals/{name}/turn/swap", None),
    ("GET", "/api/v1/ideas", None),
    ("POST", "/api/v1/rituals/{name}/ideas", {"text": "pottery class"}),
    ("POST", "/api/v1/rituals/{name}/ideas/{id}/done", None),
    ("POST", "/api/v1/rituals/{name}/ideas/{id}/drop", None),
]
API_READS = [path for method, path, _ in API_ROUTES if method == "GET"]


def filled(house: House, path: str) -> str:
    """A route's path with a real ritual, and a real completion to delete."""
    if "{id}" in path:
        house.store.add_completion(
            house.ritual_id,
            day=FRIDAY,
            at=NOW,
            period_key="2026-W48",
            by="",
            note="",
            source="cli",
            occurrence=None,
            now=NOW,
        )
        path = path.replace("{id}", str(house.completions()[0].id))
    if "/turn" in path:  # whose turn is asked of a ritual that takes turns
        with_turns = ritual_from_table({**DATE_NIGHT, "turns": ["alex", "sam"]})
        house.store.save_ritual(with_turns, RitualSource.CLI, now=NOW, effective_from=date(2026, 11, 1))
    return path.replace("{name}", "date-night")


def recorded(house: House) -> dict[str, list[tuple[Any, ...]]]:
    """Every row but the tokens' (a request with a live token stamps it as used)."""
    rows = snapshot(house.db)
    del rows["api_token"]
    return rows


def test_the_route_table_above_is_every_api_route(house: House) -> None:
    app = house.client.app
    assert isinstance(app, Starlette)
    served = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route) and route.path.startswith("/api/")
        for method in (route.methods or set()) - {"HEAD"}
    }
    assert served == {(method, path) for method, path, _ in API_ROUTES}


@pytest.mark.parametrize(("method", "path", "body"), API_ROUTES, ids=[f"{m} {p}" for m, p, _ in API_ROUTES])
@pytest.mark.parametrize(("headers", "error"), AUTH_CASES.values(), ids=AUTH_CASES.keys())
def test_every_endpoint_refuses_requests_without_a_live_token_and_changes_nothing(
    house: House, method: str, path: str, body: Any, headers: Callable[[House], dict[str, str]], error: str
) -> None:
    url = filled(house, path)
    sent = headers(house)
    before = snapshot(house.db)
    answer = house.client.request(method, url, headers=sent, json=body)
    assert answer.status_code == 401
    assert answer.json() == {"error": error}
    assert answer.headers["www-authenticate"] == "Bearer"
    assert snapshot(house.db) == before


@pytest.mark.parametrize("path", API_READS)
def test_a_valid_token_reads_and_is_stamped_as_used(house: House, path: str) -> None:
    house.clock.advance(timedelta(minutes=5))
    answer = house.client.get(filled(house, path), headers=house.bearer())
    assert answer.status_code == 200
    [token] = house.store.api_tokens()
    assert token.last_used_at == NOW + timedelta(minutes=5)


def test_the_api_shows_rituals_and_streaks(house: House) -> None:
    rituals = house.api("GET", "/api/v1/rituals").json()
    assert [(r["name"], r["title"], r["paused"]) for r in rituals] == [("date-night", "Date night", False)]
    # Friday 19:00 Berlin has passed (19:30 now): the next one is a week on.
    assert rituals[0]["next_due"] == "2026-12-04T18:00:00+00:00"
    one = house.api("GET", "/api/v1/rituals/date-night").json()
    assert (one["name"], one["streak"]["name"]) == ("date-night", "date-night")
    assert (one["completions"], one["skips"], one["pauses"]) == ([], [], [])
    assert [v["effective_from"] for v in one["cadence_versions"]] == ["2026-11-01"]
    streaks = house.api("GET", "/api/v1/streaks").json()
    assert [(s["name"], s["current_streak"]) for s in streaks] == [("date-night", 0)]
    assert house.api("GET", "/api/v1/streaks?ritual=date-night").json() == streaks


# --- rituals: create and edit ---


def test_creating_a_ritual_answers_201_with_what_get_shows(house: House) -> None:
    answer = house.api("POST", "/api/v1/rituals", {**WALK, "description": None})
    assert answer.status_code == 201
    created = answer.json()
    assert created == house.api("GET", "/api/v1/rituals/evening-walk").json()
    assert (created["name"], created["title"], created["at"], created["source"]) == (
        "evening-walk",
        "Evening walk",
        ["20:30"],
        "cli",
    )
    stored = house.store.get_ritual("evening-walk")
    assert stored is not None and stored.source is RitualSource.CLI
    assert stored.ritual.cadence.timezone == "Europe/Berlin"  # the household's zone, as `ritual add`
    assert "description" not in created  # null is "not given"


def test_a_ritual_that_exists_is_not_created_again(house: House) -> None:
    answer = house.api("POST", "/api/v1/rituals", {"name": "date-night", "every": "day"})
    assert answer.status_code == 409
    assert answer.json() == {
        "error": "ritual 'date-night' already exists; change it with `ritual edit date-night`"
    }
    stored = house.store.get_ritual("date-night")
    assert stored is not None and stored.ritual.cadence.every.value == "week"


def test_a_name_the_ritual_file_defines_is_the_files_even_before_the_daemon_synced(house: House) -> None:
    house.ritual_file.write_text('[[ritual]]\nname = "evening-walk"\nat = "21:00"\n', encoding="utf-8")
    answer = house.api("POST", "/api/v1/rituals", WALK)
    assert answer.status_code == 409
    assert answer.json() == {
        "error": f"ritual 'evening-walk' already exists in {house.ritual_file}; change it there"
    }
    stored = house.store.get_ritual("evening-walk")
    assert stored is not None and stored.source is RitualSource.FILE
    assert [t.strftime("%H:%M") for t in stored.ritual.reminders.at] == ["21:00"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param({"every": "day"}, "name: name is required", id="no-name"),
        pytest.param({"name": "Walk!"}, "name: name must be a lowercase slug", id="bad-name"),
        pytest.param({**WALK, "colour": "red"}, "colour: unknown key 'colour'", id="unknown-key"),
        pytest.param({**WALK, "times": "x"}, "times: times must be a whole number, not 'x'", id="bad-times"),
        pytest.param({**WALK, "at": "25:00"}, "at: not a time of day: '25:00'", id="bad-at"),
        pytest.param({**WALK, "timezone": "Mars/Base"}, "timezone: unknown time zone", id="bad-zone"),
        pytest.param({**WALK, "start": 12}, "start: start must be a date", id="bad-start"),
        pytest.param([WALK], "request body must be a JSON object", id="not-an-object"),
        pytest.param(None, "request body is empty (expected a JSON object)", id="no-body"),
    ],
)
def test_a_bad_ritual_is_refused_naming_the_field(house: House, body: Any, error: str) -> None:
    before = recorded(house)
    answer = house.api("POST", "/api/v1/rituals", body)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(error)
    assert recorded(house) == before


def test_editing_changes_the_given_keys_and_null_removes_one(house: House) -> None:
    house.api("POST", "/api/v1/rituals", {**WALK, "nag_after": "30m"})
    answer = house.api("PATCH", "/api/v1/rituals/evening-walk", {"at": "21:00", "nag_after": None})
    assert answer.status_code == 200
    edited = answer.json()
    assert edited == house.api("GET", "/api/v1/rituals/evening-walk").json()
    assert (edited["at"], edited["dimension"], "nag_after" in edited) == (["21:00"], "physical", False)


@pytest.mark.parametrize(
    ("name", "body", "status", "error"),
    [
        pytest.param("date-night", {}, 400, "nothing to change: give the keys to change", id="nothing"),
        pytest.param("date-night", {"name": "dinner"}, 400, "name: a ritual cannot be renamed", id="rename"),
        pytest.param("date-night", {"every": "year"}, 400, "every: every must be day", id="bad-value"),
        pytest.param("date-night", {"colour": None}, 400, "colour: unknown key 'colour'", id="unset-unknown"),
        pytest.param("date-night", None, 400, "request body is empty", id="no-body"),
        pytest.param("nope", {"at": "20:00"}, 404, UNKNOWN, id="unknown-ritual"),
    ],
)
def test_a_bad_edit_changes_nothing(house: House, name: str, body: Any, status: int, error: str) -> None:
    before = recorded(house)
    answer = house.api("PATCH", f"/api/v1/rituals/{name}", body)
    assert answer.status_code == status
    assert answer.json()["error"].startswith(error)
    assert recorded(house) == before


def test_a_ritual_of_the_ritual_file_is_edited_there(house: House) -> None:
    house.ritual_file.write_text('[[ritual]]\nname = "evening-walk"\n', encoding="utf-8")
    house.api("GET", "/api/v1/rituals")
    answer = house.api("PATCH", "/api/v1/rituals/evening-walk", {"at": "21:00"})
    assert answer.status_code == 409
    assert answer.json() == {
        "error": f"ritual 'evening-walk' is defined in {house.ritual_file}; edit it there "
        "(the file wins for the rituals it defines)"
    }


# --- pause and resume ---


def test_pausing_and_resuming(house: House) -> None:
    answer = house.api("POST", "/api/v1/rituals/date-night/pause", {"until": "2026-12-24", "reason": "trip"})
    assert answer.status_code == 201
    pause = answer.json()["pause"]
    assert answer.json() == {"name": "date-night", "created": True, "pause": pause}
    assert pause == {
        "id": pause["id"],
        "from": "2026-11-27",
        "until": "2026-12-24",
        "reason": "trip",
        "by": None,
        "household": False,
    }
    shown = house.api("GET", "/api/v1/rituals/date-night").json()
    assert (shown["paused"], shown["pauses"]) == (True, [pause])

    resumed = house.api("POST", "/api/v1/rituals/date-night/resume")
    assert (resumed.status_code, resumed.json()) == (
        200,
        {"name": "date-night", "resumed": True, "ended": 1, "cancelled": 0},
    )
    assert house.api("GET", "/api/v1/rituals/date-night").json()["paused"] is False
    again = house.api("POST", "/api/v1/rituals/date-night/resume")
    assert (again.status_code, again.json()) == (
        200,
        {"name": "date-night", "resumed": False, "ended": 0, "cancelled": 0},
    )


def test_a_pause_without_a_body_runs_from_today_until_resumed(house: House) -> None:
    answer = house.client.post("/api/v1/rituals/date-night/pause", headers=house.bearer())
    assert answer.status_code == 201
    assert answer.json()["pause"] | {"id": 0} == {
        "id": 0,
        "from": "2026-11-27",
        "until": None,
        "reason": None,
        "by": None,
        "household": False,
    }


def test_a_planned_pause_starts_later(house: House) -> None:
    answer = house.api("POST", "/api/v1/rituals/date-night/pause", {"from": "2026-12-01"})
    assert answer.json()["pause"]["from"] == "2026-12-01"
    assert house.api("GET", "/api/v1/rituals/date-night").json()["paused"] is False


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        pytest.param(
            "/api/v1/rituals/date-night/pause",
            {"until": "2026-11-20"},
            400,
            "until: 2026-11-20 is before the first paused day 2026-11-27",
            id="until-before-from",
        ),
        pytest.param(
            "/api/v1/rituals/date-night/pause",
            {"until": "next week"},
            400,
            "until: bad date 'next week' (expected YYYY-MM-DD)",
            id="bad-until",
        ),
        pytest.param(
            "/api/v1/rituals/date-night/pause",
            {"reason": 3},
            400,
            "'reason' must be a string",
            id="reason-not-text",
        ),
        pytest.param(
            "/api/v1/rituals/date-night/pause",
            {"to": "2026-12-01"},
            400,
            "unknown field 'to' (expected from, until, reason, by)",
            id="unknown-field",
        ),
        pytest.param("/api/v1/rituals/nope/pause", None, 404, UNKNOWN, id="pause-unknown"),
        pytest.param("/api/v1/rituals/nope/resume", None, 404, UNKNOWN, id="resume-unknown"),
    ],
)
def test_bad_pauses_change_nothing(house: House, path: str, body: Any, status: int, error: str) -> None:
    before = recorded(house)
    answer = house.api("POST", path, body)
    assert (answer.status_code, answer.json()) == (status, {"error": error})
    assert recorded(house) == before


# --- completions ---


def test_posting_done_records_a_completion_with_source_api(house: House) -> None:
    answer = house.api(
        "POST",
        "/api/v1/rituals/date-night/done",
        {"date": "2026-11-20", "by": " alex ", "note": "dinner at Luigi's"},
    )
    assert answer.status_code == 201
    body = answer.json()
    [done] = house.completions()
    assert body == {
        "name": "date-night",
        "created": True,
        "completion": {
            "id": done.id,
            "day": "2026-11-20",
            "at": done.at.isoformat(),
            "period": done.period_key,
            "by": "alex",
            "note": "dinner at Luigi's",
            "source": "api",
            "occurrence": None,
        },
    }
    assert (done.day, done.by, done.source) == (date(2026, 11, 20), "alex", "api")
    listed = house.api("GET", "/api/v1/completions?ritual=date-night").json()
    assert [(c["ritual"], c["id"], c["source"]) for c in listed] == [("date-night", done.id, "api")]


def test_posting_done_without_a_body_records_today(house: House) -> None:
    answer = house.client.post("/api/v1/rituals/date-night/done", headers=house.bearer())
    assert answer.status_code == 201
    assert [(c.day, c.by, c.source) for c in house.completions()] == [(FRIDAY, "", "api")]
    streaks = house.api("GET", "/api/v1/streaks").json()
    assert streaks[0]["current_streak"] == 1


def test_posting_a_completion_names_the_ritual_in_the_body(house: House) -> None:
    answer = house.api("POST", "/api/v1/completions", {"ritual": "date-night", "by": "sam", "note": "pizza"})
    assert answer.status_code == 201
    [done] = house.completions()
    assert answer.json() == {
        "name": "date-night",
        "created": True,
        "completion": {
            "id": done.id,
            "day": "2026-11-27",
            "at": NOW.isoformat(),
            "period": done.period_key,
            "by": "sam",
            "note": "pizza",
            "source": "api",
            "occurrence": None,
        },
    }


def test_deleting_a_completion_deletes_that_one_only(house: House) -> None:
    first = house.api("POST", "/api/v1/completions", {"ritual": "date-night", "date": "2026-11-20"}).json()
    second = house.api("POST", "/api/v1/completions", {"ritual": "date-night"}).json()
    answer = house.api("DELETE", f"/api/v1/completions/{first['completion']['id']}")
    assert answer.status_code == 200
    assert answer.json() == {"ritual": "date-night", **first["completion"]}
    assert [c.id for c in house.completions()] == [second["completion"]["id"]]

    again = house.api("DELETE", f"/api/v1/completions/{first['completion']['id']}")
    assert again.status_code == 404
    assert again.json() == {
        "error": f"no completion with id '{first['completion']['id']}' (see GET /api/v1/completions)"
    }
    assert len(house.completions()) == 1


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        pytest.param("/api/v1/rituals/nope/done", None, 404, UNKNOWN, id="unknown-ritual"),
        pytest.param("/api/v1/completions", b'{"ritual": "nope"}', 404, UNKNOWN, id="completions-unknown"),
        pytest.param(
            "/api/v1/rituals/date-night/done",
            b'{"date": "27.11.2026"}',
            400,
            "date: bad date '27.11.2026' (expected YYYY-MM-DD)",
            id="bad-date",
        ),
        pytest.param(
            "/api/v1/rituals/date-night/done", b"{not json", 400, "request body is not JSON", id="not-json"
        ),
        pytest.param(
            "/api/v1/rituals/date-night/done",
            b'["2026-11-27"]',
            400,
            "request body must be a JSON object",
            id="not-an-object",
        ),
        pytest.param(
            "/api/v1/rituals/date-night/done",
            b'{"when": "today"}',
            400,
            "unknown field 'when' (expected date, by, note)",
            id="unknown-field",
        ),
        pytest.param(
            "/api/v1/rituals/date-night/done", b'{"by": 7}', 400, "'by' must be a string", id="by-not-text"
        ),
        pytest.param(
            "/api/v1/completions",
            b'{"by": "alex"}',
            400,
            "ritual: required (the name of the ritual that was done)",
            id="completion-without-ritual",
        ),
        pytest.param(
            "/api/v1/completions",
            b'{"ritual": "date-night", "day": "2026-11-27"}',
            400,
            "unknown field 'day' (expected ritual, date, by, note)",
            id="completion-unknown-field",
        ),
        pytest.param(
            "/api/v1/completions", b"", 400, "request body is empty (expected a JSON object)", id="no-body"
        ),
    ],
)
def test_bad_done_requests_get_one_line_json_errors(
    house: House, path: str, body: bytes | None, status: int, error: str
) -> None:
    answer = house.client.post(path, headers=house.bearer(), content=body)
    assert answer.status_code == status
    assert answer.json() == {"error": error}
    assert house.completions() == []


@pytest.mark.parametrize("wanted", ["999", "abc", "1" * 30])
def test_deleting_an_unknown_completion_is_404(house: House, wanted: str) -> None:
    answer = house.api("DELETE", f"/api/v1/completions/{wanted}")
    assert answer.status_code == 404
    assert answer.json()["error"].startswith(f"no completion with id '{wanted[:20]}'")


@pytest.mark.parametrize(
    ("path", "error"),
    [
        pytest.param("/api/v1/rituals/nope", UNKNOWN, id="show"),
        pytest.param("/api/v1/completions?ritual=nope", UNKNOWN, id="list"),
        pytest.param("/api/v1/streaks?ritual=nope", UNKNOWN, id="streaks"),
    ],
)
def test_unknown_rituals_are_404(house: House, path: str, error: str) -> None:
    answer = house.client.get(path, headers=house.bearer())
    assert (answer.status_code, answer.json()) == (404, {"error": error})


def test_a_future_date_is_refused(house: House) -> None:
    answer = house.api("POST", "/api/v1/rituals/date-night/done", {"date": "2026-12-01"})
    assert answer.status_code == 400
    assert "is in the future" in answer.json()["error"]
    assert house.completions() == []


# --- the report ---


@pytest.mark.parametrize(
    ("query", "first", "last"),
    [
        pytest.param("", "2026-11-23", "2026-11-29", id="default-week"),
        pytest.param("?week", "2026-11-23", "2026-11-29", id="week"),
        pytest.param("?month", "2026-11-01", "2026-11-30", id="month"),
        pytest.param("?month=1", "2026-11-01", "2026-11-30", id="month-1"),
        pytest.param("?since=2026-11-06", "2026-11-06", "2026-11-27", id="since"),
    ],
)
def test_the_report_covers_the_window_asked_for(house: House, query: str, first: str, last: str) -> None:
    house.api("POST", "/api/v1/rituals/date-night/done", {"date": "2026-11-20", "by": "alex"})
    answer = house.api("GET", f"/api/v1/report{query}")
    assert answer.status_code == 200
    report = answer.json()
    assert (report["first"], report["last"]) == (first, last)
    [ritual] = report["rituals"]
    assert ritual["name"] == "date-night"
    assert ritual["completions"] == (1 if first <= "2026-11-20" else 0)


@pytest.mark.parametrize(
    ("query", "error"),
    [
        pytest.param("?week&month", "week and month: give one of them", id="two-windows"),
        pytest.param("?since=yesterday", "since: bad date 'yesterday' (expected YYYY-MM-DD)", id="bad-since"),
        pytest.param("?since=2026-12-01", "since: '2026-12-01' is after today (2026-11-27)", id="future"),
        pytest.param(
            "?month=2026-10",
            "month: takes no value (this month; since=YYYY-MM-DD for another window)",
            id="month-with-value",
        ),
        pytest.param(
            "?from=2026-11-01",
            "unknown parameter 'from' (expected week, month or since=YYYY-MM-DD)",
            id="unknown-parameter",
        ),
    ],
)
def test_a_bad_report_window_is_400(house: House, query: str, error: str) -> None:
    answer = house.api("GET", f"/api/v1/report{query}")
    assert (answer.status_code, answer.json()) == (400, {"error": error})


# --- the same objects as the CLI's --json ---


def test_the_api_answers_with_the_objects_the_cli_prints(installed: RitualCli) -> None:
    """One installation, read by `ritual ... --json` and by the API: the same JSON."""
    cli = installed
    cli("done", "date-night", "--date", "2026-11-20", "--by", "alex", "--note", "tapas")
    cli("done", "evening-walk")
    cli("pause", "journal", "--until", "2026-12-01", "--reason", "flu")
    store = SqlStore.open(f"sqlite:///{cli.database}")
    service = RitualService(
        store, cli.clock, ritual_file=cli.config / "rituals.toml", default_timezone="Europe/Berlin"
    )
    _, token = service.create_token("compare")
    app = create_app(service, key=KEY, clock=cli.clock, public_url="http://ritual.lan:8080")
    try:
        with TestClient(app) as client:

            def api(method: str, path: str, body: Any = None) -> Any:
                answer = client.request(method, path, headers={"Authorization": f"Bearer {token}"}, json=body)
                assert answer.status_code in (200, 201), answer.text
                return answer.json()

            assert api("GET", "/api/v1/rituals") == cli.json("list")
            for name in ("date-night", "evening-walk", "journal"):
                assert api("GET", f"/api/v1/rituals/{name}") == cli.json("show", name)
            assert api("GET", "/api/v1/streaks") == cli.json("streaks")
            assert api("GET", "/api/v1/streaks?ritual=journal") == cli.json("streaks", "journal")
            assert api("GET", "/api/v1/report") == cli.json("report")
            assert api("GET", "/api/v1/report?month") == cli.json("report", "--month")
            assert api("GET", "/api/v1/report?since=2026-11-01") == cli.json(
                "report", "--since", "2026-11-01"
            )

            by_api = api("POST", "/api/v1/rituals/appreciation/done", {"by": "sam"})
            by_cli = cli.json("done", "morning-hug", "--by", "sam")
            assert by_api.keys() == by_cli.keys()
            assert by_api["completion"].keys() == by_cli["completion"].keys()
            assert by_api["completion"]["source"] == "api"

            # What the API changes, the CLI sees, and the other way round.
            api("POST", "/api/v1/rituals", {"name": "sunday-brunch", "every": "week", "on": "sun"})
            api("PATCH", "/api/v1/rituals/sunday-brunch", {"at": "10:30"})
            api("POST", "/api/v1/rituals/sunday-brunch/pause", {"reason": "renovation"})
            assert api("GET", "/api/v1/rituals/sunday-brunch") == cli.json("show", "sunday-brunch")
            assert cli.json("show", "sunday-brunch")["paused"] is True
            cli("resume", "sunday-brunch")
            assert api("GET", "/api/v1/rituals") == cli.json("list")
            conflict = client.post(
                "/api/v1/rituals",
                headers={"Authorization": f"Bearer {token}"},
                json={"name": "date-night"},
            )
            assert conflict.status_code == 409
            assert "rituals.toml; change it there" in conflict.json()["error"]
    finally:
        store.close()


# --- errors ---


ERROR_REQUESTS = [
    pytest.param("GET", "/api/v1/rituals/nope", None, 404, id="unknown-ritual"),
    pytest.param("POST", "/api/v1/rituals", {"name": "x", "at": "\n25:00"}, 400, id="bad-definition"),
    pytest.param("POST", "/api/v1/rituals", {"name": "date-night"}, 409, id="conflict"),
    pytest.param("POST", "/api/v1/rituals/date-night/done", {"note\n": "x"}, 400, id="odd-field"),
    pytest.param("GET", "/api/v1/report?since=%0A", None, 400, id="newline-as-date"),
    pytest.param("GET", "/api/v1/nope", None, 404, id="unknown-path"),
    pytest.param("PUT", "/api/v1/streaks", None, 405, id="wrong-method"),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), ERROR_REQUESTS)
def test_errors_are_one_line_json_without_secrets(
    house: House, method: str, path: str, body: Any, status: int
) -> None:
    answer = house.api(method, path, body)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/json"
    assert "\n" not in answer.text
    assert list(answer.json()) == ["error"]
    assert "\n" not in answer.json()["error"]
    for secret in (API_TOKEN, KEY.decode(), str(house.db)):
        assert secret not in answer.text


BODY_ROUTES = [
    ("POST", "/api/v1/rituals"),
    ("PATCH", "/api/v1/rituals/date-night"),
    ("POST", "/api/v1/rituals/date-night/done"),
    ("POST", "/api/v1/rituals/date-night/pause"),
    ("POST", "/api/v1/completions"),
]
NESTED_BODIES = [
    pytest.param(b"[" * 30_000 + b"]" * 30_000, id="60-kb-of-brackets"),
    pytest.param(b'{"note": ' + b"[" * 900 + b"]" * 900 + b"}", id="900-deep-in-a-field"),
    pytest.param(b'{"name": "x", "title": ' + b'{"a": ' * 40 + b"1" + b"}" * 40 + b"}", id="objects-40-deep"),
]


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
@pytest.mark.parametrize("body", NESTED_BODIES)
def test_a_deeply_nested_body_is_a_400_with_no_traceback(
    house: House, caplog: pytest.LogCaptureFixture, method: str, path: str, body: bytes
) -> None:
    """Issue 15, item 6: a 60 KB `[[[...]]]` to these endpoints was a 500 and a logged traceback."""
    before = recorded(house)
    with TestClient(house.client.app, raise_server_exceptions=False) as client:
        answer = client.request(method, path, headers=house.bearer(), content=body)
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"error": "request body nests arrays or objects more than 16 deep"}
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert recorded(house) == before


def test_routing_errors_under_the_api_are_json(house: House) -> None:
    assert house.api("GET", "/api/v1/nope").json() == {"error": "not found"}
    wrong = house.api("PUT", "/api/v1/streaks")
    assert wrong.json() == {"error": "method not allowed"}
    assert set(wrong.headers["allow"].split(", ")) == {"GET", "HEAD"}  # Starlette lists a set
    page_404 = house.client.get("/nope")
    assert (page_404.status_code, page_404.headers["content-type"][:9]) == (404, "text/html")


def test_a_database_failure_is_503_and_names_the_database_only_in_the_log(
    house: House, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: SqlStore, ritual_id: int, *, since: date | None = None) -> list[CompletionRecord]:
        raise StoreError(f"database '{house.db}': disk I/O error")

    monkeypatch.setattr(SqlStore, "completions", broken)
    answer = house.api("GET", "/api/v1/completions")
    assert (answer.status_code, answer.json()) == (
        503,
        {"error": "the database is not available (see the daemon's log)"},
    )
    assert f"API GET /api/v1/completions: database '{house.db}': disk I/O error" in caplog.text


def test_a_bug_is_a_500_that_says_nothing_of_it(house: House, monkeypatch: pytest.MonkeyPatch) -> None:
    def bug(self: RitualService, names: object = None) -> list[dict[str, Any]]:
        raise RuntimeError(f"bug near {API_TOKEN}")

    monkeypatch.setattr(RitualService, "streaks", bug)
    with TestClient(house.client.app, raise_server_exceptions=False) as client:
        answer = client.get("/api/v1/streaks", headers=house.bearer())
    assert (answer.status_code, answer.json()) == (500, {"error": "internal error (see the daemon's log)"})


# --- the today page --------------------------------------------------------------------------------


def log_in(house: House, token: str = API_TOKEN) -> Any:
    return house.client.get("/login", params={"token": token})


def done_form(page: str) -> tuple[str, dict[str, str]]:
    match = re.search(
        r'<form method="post" action="([^"]+/done)">\s*<input type="hidden" name="csrf" value="(\w+)">', page
    )
    assert match is not None, page
    return match.group(1), {"csrf": match.group(2)}


def test_the_today_page_needs_a_login(house: House) -> None:
    answer = house.client.get("/")
    assert answer.status_code == 401
    assert '<form method="post" action="/login">' in text(answer)
    assert "Date night" not in text(answer)


@pytest.mark.parametrize(
    ("token", "prepare"),
    [
        pytest.param("rt_guessed", lambda h: None, id="wrong-token"),
        pytest.param(API_TOKEN, revoke, id="revoked-token"),
        pytest.param("", lambda h: None, id="empty-token"),
    ],
)
def test_a_bad_login_sets_no_cookie(house: House, token: str, prepare: Callable[[House], object]) -> None:
    prepare(house)
    answer = log_in(house, token)
    assert answer.status_code == 401
    assert "set-cookie" not in answer.headers
    assert house.client.get("/").status_code == 401


def test_login_sets_a_strict_http_only_cookie(house: House) -> None:
    answer = log_in(house)
    assert (answer.status_code, answer.headers["location"]) == (303, "/")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("ritual_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert API_TOKEN not in cookie


def test_the_today_page_shows_the_ritual_and_its_done_button_records_it(house: House) -> None:
    log_in(house)
    today = house.client.get("/")
    assert today.status_code == 200
    assert '<meta name="viewport"' in text(today)
    assert "<h2>Due today</h2>" in text(today)
    assert text(today).count(">Today<") == 1  # the menu's link; the heading is not "Today" again
    assert "Date night" in text(today)
    assert 'streak <b class="streak">0</b>' in text(today)
    action, form = done_form(text(today))
    assert action == "/today/date-night/done"

    pressed = house.client.post(action, data=form)
    assert (pressed.status_code, pressed.headers["location"]) == (303, "/?verb=done&r=date-night")
    assert [(c.day, c.source) for c in house.completions()] == [(FRIDAY, "web")]
    after = house.client.get("/?verb=done&r=date-night")
    assert "Recorded 'Date night'." in text(after)
    assert 'streak <b class="streak">1</b>' in text(after)
    assert '<span class="state">kept</span>' in text(after)
    # A kept period offers Undo, not another Done, and points at the next due day.
    assert "/today/date-night/done" not in text(after).split("Past days")[0]
    assert 'action="/today/date-night/undo"' in text(after)
    assert "next due Fri 4 Dec" in text(after)
    # No year of squares on the today page: that is the ritual's own page.
    assert 'class="hm' not in text(after)


def test_a_ritual_two_people_keep_together_is_not_kept_after_one_tap(house: House) -> None:
    """The page judges the period as the streak does: "both" means each of them did it."""
    both = {**DATE_NIGHT, "name": "walk", "title": "Evening walk", "people": ["alex", "sam"]}
    both["complete_when"] = "both"
    house.store.save_ritual(ritual_from_table(both), RitualSource.CLI, now=NOW, effective_from=FRIDAY)
    walk = house.store.get_ritual("walk")
    assert walk is not None
    house.store.add_completion(
        walk.id,
        day=FRIDAY,
        at=NOW,
        period_key="2026-11-23",
        by="alex",
        note="",
        source="cli",
        occurrence=None,
        now=NOW,
    )
    log_in(house)
    section = text(house.client.get("/")).split(">Evening walk</a></h3>")[1].split("</section>")[0]
    assert '<span class="state">waiting for sam</span>' in section
    assert 'streak <b class="streak">0</b>' in section
    house.store.add_completion(
        walk.id,
        day=FRIDAY,
        at=NOW,
        period_key="2026-11-23",
        by="sam",
        note="",
        source="cli",
        occurrence=None,
        now=NOW,
    )
    section = text(house.client.get("/")).split(">Evening walk</a></h3>")[1].split("</section>")[0]
    assert '<span class="state">kept</span>' in section
    assert 'streak <b class="streak">1</b>' in section


def test_the_today_page_accepts_the_bearer_token_too(house: House) -> None:
    answer = house.client.get("/", headers=house.bearer())
    assert answer.status_code == 200
    assert "Date night" in text(answer)


@pytest.mark.parametrize(
    ("form", "status"),
    [
        pytest.param({}, 403, id="no-form-token"),
        pytest.param({"csrf": "0" * 64}, 403, id="wrong-form-token"),
    ],
)
def test_a_done_form_without_its_token_records_nothing(
    house: House, form: dict[str, str], status: int
) -> None:
    log_in(house)
    assert house.client.post("/today/date-night/done", data=form).status_code == status
    assert house.completions() == []


def test_a_done_form_needs_a_login(house: House) -> None:
    log_in(house)
    _, form = done_form(text(house.client.get("/")))
    house.client.cookies.clear()
    assert house.client.post("/today/date-night/done", data=form).status_code == 401
    assert house.completions() == []


def test_revoking_the_token_ends_the_session(house: House) -> None:
    log_in(house)
    assert house.client.get("/").status_code == 200
    revoke(house)
    assert house.client.get("/").status_code == 401


def test_a_tampered_or_expired_cookie_is_no_login(house: House) -> None:
    log_in(house)
    cookie = house.client.cookies["ritual_session"]
    house.client.cookies.set("ritual_session", tampered(cookie))
    assert house.client.get("/").status_code == 401
    house.client.cookies.set("ritual_session", cookie)
    assert house.client.get("/").status_code == 200
    house.clock.advance(timedelta(days=31))
    assert house.client.get("/").status_code == 401


def test_logging_out_clears_the_session(house: House) -> None:
    log_in(house)
    today = house.client.get("/")
    assert '<form method="post" action="/logout">' in text(today).split("<main>")[0]
    answer = house.client.post("/logout")
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith('ritual_session="";')
    assert "Max-Age=0" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "ritual_session" not in house.client.cookies
    assert house.client.get("/").status_code == 401
    assert house.client.get("/login").status_code == 200


def test_logging_out_without_a_session_is_harmless(house: House) -> None:
    answer = house.client.post("/logout")
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    assert house.client.get("/").status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/rituals", "/login", "/l/abc.def"])
def test_a_huge_body_is_refused_before_it_is_read_whole(house: House, path: str) -> None:
    answer = house.client.post(path, content=b"x" * (MAX_BODY + 1))
    assert answer.status_code == 413
    assert "over 64 KiB" in answer.text


# --- what every answer says about itself (issue 15, item 7) ----------------------------------------

HTML_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def html_answers(house: House) -> dict[str, Any]:
    with TestClient(house.client.app, raise_server_exceptions=False) as client:
        return {
            "login form": client.get("/login"),
            "today, logged out": client.get("/"),
            "confirm page": client.get(f"/l/{house.link()}"),
            "refused link": client.get("/l/not.a-token"),
            "unknown page": client.get("/nope"),
            "too large": client.post(f"/l/{house.link()}", content=b"x" * (MAX_BODY + 1)),
            "today, logged in": client.get("/", headers=house.bearer()),
        }


def test_every_html_answer_refuses_framing_and_sniffing(house: House) -> None:
    for what, answer in html_answers(house).items():
        assert answer.headers["content-type"].startswith("text/html"), what
        policy = answer.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in policy, what
        assert "default-src 'none'" in policy and "script-src" not in policy, what
        for name, value in HTML_HEADERS.items():
            assert answer.headers.get(name) == value, (what, name)


def test_the_policy_allows_exactly_the_pages_own_style_sheet(house: House) -> None:
    answer = house.client.get("/login")
    assert "<style" not in answer.text and "<script" not in answer.text and " style=" not in answer.text
    assert '<link rel="stylesheet" href="/static/style.css">' in answer.text
    policy = answer.headers["content-security-policy"]
    assert "style-src 'self'" in policy
    assert "form-action 'self'" in policy
    sheet = house.client.get("/static/style.css")
    assert sheet.status_code == 200
    assert sheet.headers["content-type"].startswith("text/css")
    assert "prefers-color-scheme: dark" in sheet.text
    assert sheet.headers["x-content-type-options"] == "nosniff"


def test_a_bug_on_a_page_still_answers_with_the_headers(
    house: House, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bug(self: RitualService) -> list[TodayEntry]:
        raise RuntimeError("bug")

    monkeypatch.setattr(RitualService, "today_entries", bug)
    with TestClient(house.client.app, raise_server_exceptions=False) as client:
        answer = client.get("/", headers=house.bearer())
    assert answer.status_code == 500
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"


def test_json_and_redirects_are_not_sniffed_or_framed_either(house: House) -> None:
    answers = [
        house.api("GET", "/api/v1/rituals"),
        house.api("GET", "/api/v1/rituals/nope"),
        house.client.get("/api/v1/rituals"),
        house.client.post("/logout", follow_redirects=False),
    ]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff", answer.request.url
        assert answer.headers["x-frame-options"] == "DENY", answer.request.url


# --- failed logins slow their address down (issue 15, item 10) ------------------------------------


def attempt(house: House, token: str, *, address: str = "198.51.100.7", post: bool = False) -> Any:
    with TestClient(house.client.app, client=(address, 4000), follow_redirects=False) as client:
        if post:
            return client.post("/login", content=f"token={token}", headers=FORM)
        return client.get("/login", params={"token": token})


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_failed_logins_back_off_per_address(house: House) -> None:
    for _ in range(5):  # typos cost nothing...
        assert attempt(house, "rt_wrong").status_code == 401
    refused = attempt(house, API_TOKEN)  # ...then not even the right token is looked at for a while
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    assert "too many failed logins from your address: try again in 1 s" in text(refused)
    assert "set-cookie" not in refused.headers
    assert attempt(house, API_TOKEN, address="198.51.100.8").status_code == 303  # another address
    house.clock.advance(timedelta(seconds=1))
    assert attempt(house, "rt_wrong", post=True).status_code == 401  # the form counts too
    assert attempt(house, API_TOKEN, post=True).headers["retry-after"] == "2"  # the wait doubles
    house.clock.advance(timedelta(seconds=2))
    welcome = attempt(house, API_TOKEN)
    assert welcome.status_code == 303 and "ritual_session=" in welcome.headers["set-cookie"]
    for _ in range(5):  # a success forgets the failures
        assert attempt(house, "rt_wrong").status_code == 401


def test_the_back_off_is_at_most_a_minute_and_forgotten_after_an_hour(house: House) -> None:
    for _ in range(30):
        attempt(house, "rt_wrong")
        house.clock.advance(timedelta(minutes=1))
    assert attempt(house, "rt_wrong").status_code == 401
    assert attempt(house, API_TOKEN).headers["retry-after"] == "60"
    house.clock.advance(timedelta(hours=1))
    assert attempt(house, API_TOKEN).status_code == 303
