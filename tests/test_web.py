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

from scheduler.clock import FakeClock
from scheduler.definitions import ritual_from_table
from scheduler.errors import RitualError
from scheduler.links import LinkAction, LinkClaim, expiry_for, sign
from scheduler.service import RitualService
from scheduler.store import CompletionRecord, OccurrenceStatus, RitualSource, Store, api_token_hash
from scheduler.web import HideTokens, create_app, hide_tokens

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

    store: Store
    clock: FakeClock
    client: TestClient
    ritual_id: int
    occurrence_id: int
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


def make_house(
    tmp_path: Path, *, with_snooze: bool = True, snooze: Callable[[int, str], None] | None = None
) -> Iterator[House]:
    store = Store.open(f"sqlite:///{tmp_path / 'ritual.db'}")
    clock = FakeClock(NOW)
    stored = store.save_ritual(
        ritual_from_table(DATE_NIGHT), RitualSource.CLI, now=NOW, effective_from=date(2026, 11, 1)
    )
    occurrence, _ = store.claim_occurrence(
        stored.id,
        day=FRIDAY,
        slot="19:00",
        kind="due",
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
        yield House(store, clock, client, stored.id, occurrence.id, snoozed)
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
    "not-bearer": (lambda h: {"Authorization": f"Basic {API_TOKEN}"}, "invalid or revoked token"),
    "empty-bearer": (lambda h: {"Authorization": "Bearer "}, "invalid or revoked token"),
}
UNKNOWN = "no ritual named 'nope' (see `ritual list`)"
API_READS = ["/api/v1/rituals", "/api/v1/rituals/date-night", "/api/v1/streaks", "/api/v1/completions"]


@pytest.mark.parametrize("path", API_READS)
@pytest.mark.parametrize(("headers", "error"), AUTH_CASES.values(), ids=AUTH_CASES.keys())
def test_the_api_refuses_requests_without_a_live_token(
    house: House, path: str, headers: Callable[[House], dict[str, str]], error: str
) -> None:
    answer = house.client.get(path, headers=headers(house))
    assert answer.status_code == 401
    assert answer.json() == {"error": error}
    assert answer.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("headers", "error"), AUTH_CASES.values(), ids=AUTH_CASES.keys())
def test_the_api_records_nothing_without_a_live_token(
    house: House, headers: Callable[[House], dict[str, str]], error: str
) -> None:
    answer = house.client.post("/api/v1/rituals/date-night/done", headers=headers(house))
    assert (answer.status_code, answer.json()) == (401, {"error": error})
    assert house.completions() == []


@pytest.mark.parametrize("path", API_READS)
def test_a_valid_token_reads_and_is_stamped_as_used(house: House, path: str) -> None:
    house.clock.advance(timedelta(minutes=5))
    answer = house.client.get(path, headers=house.bearer())
    assert answer.status_code == 200
    [token] = house.store.api_tokens()
    assert token.last_used_at == NOW + timedelta(minutes=5)


def test_the_api_shows_rituals_and_streaks(house: House) -> None:
    rituals = house.client.get("/api/v1/rituals", headers=house.bearer()).json()
    assert [(r["name"], r["title"], r["paused"]) for r in rituals] == [("date-night", "Date night", False)]
    one = house.client.get("/api/v1/rituals/date-night", headers=house.bearer()).json()
    assert (one["name"], one["streak"]["name"]) == ("date-night", "date-night")
    streaks = house.client.get("/api/v1/streaks", headers=house.bearer()).json()
    assert [(s["name"], s["current_streak"]) for s in streaks] == [("date-night", 0)]


def test_posting_done_records_a_completion_with_source_api(house: House) -> None:
    answer = house.client.post(
        "/api/v1/rituals/date-night/done",
        headers=house.bearer(),
        json={"date": "2026-11-20", "by": " alex ", "note": "dinner at Luigi's"},
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
    listed = house.client.get("/api/v1/completions?ritual=date-night", headers=house.bearer()).json()
    assert [(c["ritual"], c["id"], c["source"]) for c in listed] == [("date-night", done.id, "api")]


def test_posting_done_without_a_body_records_today(house: House) -> None:
    answer = house.client.post("/api/v1/rituals/date-night/done", headers=house.bearer())
    assert answer.status_code == 201
    assert [(c.day, c.by, c.source) for c in house.completions()] == [(FRIDAY, "", "api")]
    streaks = house.client.get("/api/v1/streaks", headers=house.bearer()).json()
    assert streaks[0]["current_streak"] == 1


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        pytest.param("/api/v1/rituals/nope/done", None, 404, UNKNOWN, id="unknown-ritual"),
        pytest.param(
            "/api/v1/rituals/date-night/done",
            b'{"date": "27.11.2026"}',
            400,
            "bad date '27.11.2026' (expected YYYY-MM-DD)",
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
    ],
)
def test_bad_done_requests_get_one_line_json_errors(
    house: House, path: str, body: bytes | None, status: int, error: str
) -> None:
    answer = house.client.post(path, headers=house.bearer(), content=body)
    assert answer.status_code == status
    assert answer.json() == {"error": error}
    assert house.completions() == []


@pytest.mark.parametrize(
    ("path", "error"),
    [
        pytest.param("/api/v1/rituals/nope", "no ritual named 'nope' (see `ritual list`)", id="show"),
        pytest.param(
            "/api/v1/completions?ritual=nope", "no ritual named 'nope' (see `ritual list`)", id="list"
        ),
    ],
)
def test_unknown_rituals_are_404(house: House, path: str, error: str) -> None:
    answer = house.client.get(path, headers=house.bearer())
    assert (answer.status_code, answer.json()) == (404, {"error": error})


def test_a_future_date_is_refused(house: House) -> None:
    answer = house.client.post(
        "/api/v1/rituals/date-night/done", headers=house.bearer(), json={"date": "2026-12-01"}
    )
    assert answer.status_code == 400
    assert "is in the future" in answer.json()["error"]
    assert house.completions() == []


# --- the today page --------------------------------------------------------------------------------


def log_in(house: House, token: str = API_TOKEN) -> Any:
    return house.client.get("/login", params={"token": token})


def done_form(page: str) -> tuple[str, dict[str, str]]:
    match = re.search(
        r'<form method="post" action="([^"]+)"><input type="hidden" name="csrf" value="(\w+)">', page
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
    assert "<h2>Today</h2>" in text(today)
    assert "Date night" in text(today)
    assert 'streak <b class="streak">0</b>' in text(today)
    action, form = done_form(text(today))
    assert action == "/today/date-night/done"

    pressed = house.client.post(action, data=form)
    assert (pressed.status_code, pressed.headers["location"]) == (303, "/?done=date-night")
    assert [(c.day, c.source) for c in house.completions()] == [(FRIDAY, "web")]
    after = house.client.get("/?done=date-night")
    assert "Recorded 'date-night'." in text(after)
    assert 'streak <b class="streak">1</b>' in text(after)
    assert "this period: kept" in text(after)
    # The year heatmap: a weekly ritual gets one square per week, this week's now kept.
    assert '<i class="k" title="2026-11-23"></i>' in text(after)
    assert '<i class="o" title="2026-11-23"></i>' in text(today)


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
