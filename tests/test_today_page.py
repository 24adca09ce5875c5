"""The today page as the household's app: log in as a person, Done (for me / for both), a note,
Skip with a reason, Undo, the last 14 days, mine first. In-process (Starlette's TestClient) over
a real SQLite file; tests/test_today_browser.py drives the same in Chromium."""

from __future__ import annotations

import html
import re
import warnings
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RitualCli
from tests.support.couple_site import FRIDAY, NOW, TOKENS, Couple, couple_home

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

THURSDAY = FRIDAY - timedelta(days=1)


@pytest.fixture
def couple(tmp_path: Path) -> Iterator[Couple]:
    with couple_home(tmp_path) as made:
        yield made


def client_of(couple: Couple, person: str) -> TestClient:
    client = TestClient(couple.app(), follow_redirects=False)
    answer = client.get("/login", params={"token": TOKENS[person]})
    assert (answer.status_code, answer.headers["location"]) == (303, "/")
    return client


def text(answer: Any) -> str:
    return html.unescape(answer.text)


def card(page: str, title: str) -> str:
    """One ritual's section of the today page."""
    return page.split(f">{title}</a></h3>")[1].split("</section>", maxsplit=1)[0]


def csrf(page: str, title: str) -> str:
    found = re.search(r'name="csrf" value="(\w+)"', card(page, title))
    assert found is not None
    return found.group(1)


def act(client: TestClient, name: str, title: str, verb: str, **fields: str) -> Any:
    page = text(client.get("/"))
    return client.post(f"/today/{name}/{verb}", data={"csrf": csrf(page, title), **fields})


def state(client: TestClient, title: str) -> str:
    found = re.search(r'<span class="state">([^<]*)</span>', card(text(client.get("/")), title))
    assert found is not None
    return found.group(1)


def test_the_page_greets_the_person_and_lists_their_rituals_first(couple: Couple) -> None:
    page = text(client_of(couple, "alex").get("/"))
    assert "<h1>Hello, Alex</h1>" in page
    due_today = page.split("<h2>Due today</h2>")[1]
    titles = re.findall(r'<a href="/rituals/[\w-]+">([^<]+)</a></h3>', due_today)
    # Alex's own rituals first (those naming Alex), then the household's others (Sam's journal).
    assert titles == ["Date night", "Morning run", "20 minutes, phones away", "Journal"]
    assert page.count(">Today<") == 1


def test_done_on_a_both_ritual_waits_for_the_other_and_the_second_done_keeps_it(couple: Couple) -> None:
    sam, alex = client_of(couple, "sam"), client_of(couple, "alex")
    assert state(sam, "20 minutes, phones away") == "open"
    answer = act(sam, "talk", "20 minutes, phones away", "done", by="me", note="on the balcony")
    assert (answer.status_code, answer.headers["location"]) == (303, "/?verb=done&r=talk")
    assert state(sam, "20 minutes, phones away") == "waiting for Alex"
    assert state(alex, "20 minutes, phones away") == "waiting for you"  # Alex's own card says "you"
    # Sam already did their part: Sam gets Undo, not another Done; Alex still gets Done.
    assert "/today/talk/done" not in card(text(sam.get("/")), "20 minutes, phones away").split("Past days")[0]
    assert "Done for me" in card(text(alex.get("/")), "20 minutes, phones away")
    act(alex, "talk", "20 minutes, phones away", "done", by="me")
    assert state(alex, "20 minutes, phones away") == "kept"
    assert couple.marks("talk") == [(FRIDAY, "sam", "on the balcony"), (FRIDAY, "alex", "")]


def test_done_for_both_keeps_a_both_ritual_at_once(couple: Couple) -> None:
    alex = client_of(couple, "alex")
    act(alex, "talk", "20 minutes, phones away", "done", by="both")
    assert state(alex, "20 minutes, phones away") == "kept"
    assert couple.marks("talk") == [(FRIDAY, "household", "")]


def test_a_kept_period_offers_undo_not_another_done(couple: Couple) -> None:
    alex = client_of(couple, "alex")
    act(alex, "date-night", "Date night", "done")
    section = card(text(alex.get("/")), "Date night")
    assert '<span class="state">kept</span>' in section
    assert "next due Fri 4 Dec" in section
    assert 'action="/today/date-night/done">' not in section.split("Past days")[0]
    assert 'action="/today/date-night/undo"' in section
    # A second Done (a stale page) records nothing new.
    act(alex, "date-night", "Date night", "done")
    assert couple.marks("date-night") == [(FRIDAY, "alex", "")]


def test_undo_takes_back_only_what_i_recorded(couple: Couple) -> None:
    alex, sam = client_of(couple, "alex"), client_of(couple, "sam")
    act(sam, "talk", "20 minutes, phones away", "done", by="me")
    # Alex has nothing of their own to undo there: the page offers no Undo, and a forged one refuses.
    assert "/today/talk/undo" not in card(text(alex.get("/")), "20 minutes, phones away").split("Past")[0]
    page = text(alex.get("/"))
    refused = alex.post("/today/talk/undo", data={"csrf": csrf(page, "20 minutes, phones away")})
    assert refused.status_code == 404
    assert "'talk' has no completion by alex or both of you" in text(refused)
    answer = act(sam, "talk", "20 minutes, phones away", "undo")
    assert answer.status_code == 303
    assert couple.marks("talk") == []
    assert "Took back your Done of '20 minutes, phones away'." in text(sam.get(answer.headers["location"]))


def test_skip_with_a_reason_excuses_the_period_and_unskip_takes_it_back(couple: Couple) -> None:
    alex = client_of(couple, "alex")
    answer = act(alex, "run", "Morning run", "skip", reason="knee hurts")
    assert answer.status_code == 303
    assert state(alex, "Morning run") == "excused"
    stored = couple.store.get_ritual("run")
    assert stored is not None
    assert [(s.day, s.reason, s.by) for s in couple.store.skips(stored.id)] == [
        (FRIDAY, "knee hurts", "alex")
    ]
    act(alex, "run", "Morning run", "unskip")
    assert state(alex, "Morning run") == "open"


def test_a_past_day_is_back_filled_and_undone_from_its_row(couple: Couple) -> None:
    alex = client_of(couple, "alex")
    section = card(text(alex.get("/")), "Morning run")
    days = re.findall(r'name="date" value="([\d-]+)"', section)
    assert days[0] == (FRIDAY - timedelta(days=13)).isoformat() and days[-1] == FRIDAY.isoformat()
    assert len(days) == 14
    answer = act(alex, "run", "Morning run", "done", date=THURSDAY.isoformat())
    assert (answer.status_code, answer.headers["location"]) == (303, "/?verb=done&r=run&date=2026-11-26")
    assert "Recorded 'Morning run' for Thu 26 Nov." in text(alex.get(answer.headers["location"]))
    assert couple.marks("run") == [(THURSDAY, "alex", "")]
    section = card(text(alex.get("/")), "Morning run")
    thursday = re.search(r'<button[^>]*value="2026-11-26"[^>]*>', section)
    assert thursday is not None
    assert 'class="day done"' in thursday.group(0)
    assert 'formaction="/today/run/undo"' in thursday.group(0)
    act(alex, "run", "Morning run", "undo", date=THURSDAY.isoformat())
    assert couple.marks("run") == []


@pytest.mark.parametrize(
    ("fields", "status", "says"),
    [
        pytest.param({"date": "2026-11-28"}, 409, "is in the future", id="future"),
        pytest.param({"date": "2026-10-01"}, 409, "is before 'run' starts", id="before-start"),
        pytest.param({"date": "yesterday"}, 409, "date: 'yesterday' is not a day like 2026-11-27", id="junk"),
    ],
)
def test_a_bad_day_is_refused_with_a_one_line_reason(
    couple: Couple, fields: dict[str, str], status: int, says: str
) -> None:
    answer = act(client_of(couple, "alex"), "run", "Morning run", "done", **fields)
    assert answer.status_code == status
    assert says in text(answer)
    assert couple.marks("run") == []


def test_an_action_needs_its_form_token_and_a_login(couple: Couple) -> None:
    alex = client_of(couple, "alex")
    assert alex.post("/today/run/done", data={"csrf": "0" * 64}).status_code == 403
    page = text(alex.get("/"))
    token = csrf(page, "Morning run")
    # The form token of one ritual does not work for another.
    assert alex.post("/today/journal/done", data={"csrf": token}).status_code == 403
    alex.cookies.clear()
    assert alex.post("/today/run/done", data={"csrf": token}).status_code == 401
    assert couple.marks("run") == []


def test_an_unknown_verb_records_nothing(couple: Couple) -> None:
    alex = client_of(couple, "alex")
    answer = act(alex, "run", "Morning run", "explode")
    assert answer.status_code == 404
    assert couple.marks("run") == []


def test_the_notice_never_echoes_free_text(couple: Couple) -> None:
    alex = client_of(couple, "alex")
    page = text(alex.get("/?verb=<script>&r=x"))
    assert "<script>" not in page
    made_up = alex.get("/?verb=done&r=<b>x</b>").text  # a name that is no ritual gets no notice
    assert "<b>x</b>" not in made_up and "Recorded" not in made_up
    assert "Recorded" not in text(alex.get("/?verb=done&r=no-such-thing"))
    removed = alex.get("/?verb=removed&r=<b>x</b>").text  # a removed ritual is named as asked, escaped
    assert "<b>x</b>" not in removed and "&lt;b&gt;x&lt;/b&gt;" in removed


def test_the_today_page_computes_no_year_of_squares(couple: Couple) -> None:
    entries = couple.service.today_entries("alex", days=14)
    assert all(entry.standing.cells == () for entry in entries)
    assert all(len(entry.standing.recent) == 14 for entry in entries)
    assert date(2026, 11, 14) == entries[0].standing.recent[0].day


# --- a per-person login link from the CLI ------------------------------------------------------------


def test_a_login_link_logs_its_person_in_and_revoking_it_ends_the_session(installed: RitualCli) -> None:
    from scheduler.adapters.store import SqlStore
    from scheduler.adapters.web import create_app
    from scheduler.app.service import RitualService
    from scheduler.domain.people import Household, Person

    (installed.config / "settings.toml").write_text(
        '[people.alex]\nname = "Alex"\n\n[people.sam]\nname = "Sam"\n', encoding="utf-8"
    )
    installed.env["RITUAL_PUBLIC_URL"] = "https://ritual.example.org"
    made = installed("token", "create", "phone", "--person", "alex", "--login-link")
    link = made.stdout.strip()
    assert re.fullmatch(r"https://ritual\.example\.org/login\?token=[\w-]{40,}", link), link
    assert "logs them in" in made.stderr
    refused = installed("token", "create", "other", "--login-link", code=2)
    assert "--login-link needs --person" in refused.stderr

    store = SqlStore.open(f"sqlite:///{installed.database}")
    try:
        service = RitualService(
            store,
            installed.clock,
            ritual_file=installed.config / "rituals.toml",
            default_timezone="Europe/Berlin",
            household=Household((Person("alex", "Alex"), Person("sam", "Sam"))),
        )
        app = create_app(
            service, key=b"k" * 32, clock=installed.clock, public_url="https://ritual.example.org"
        )
        client = TestClient(app, base_url="https://testserver", follow_redirects=False)
        answer = client.get(link.removeprefix("https://ritual.example.org"))
        assert (answer.status_code, answer.headers["location"]) == (303, "/")
        assert "<h1>Hello, Alex</h1>" in text(client.get("/"))
        installed("token", "revoke", "phone")
        assert client.get("/").status_code == 401
    finally:
        store.close()


# --- the household: pause everything and resume ---------------------------------------------------


def household_form(client: TestClient) -> str:
    found = re.search(r'name="csrf" value="(\w+)"', client.get("/household").text)
    assert found is not None
    return found.group(1)


def test_a_household_pause_with_dates_excuses_every_ritual_and_resume_ends_it(couple: Couple) -> None:
    alex = client_of(couple, "alex")
    assert "Nothing is paused" in text(alex.get("/household"))
    form = {"csrf": household_form(alex), "from": "2026-11-27", "until": "2026-12-06", "reason": "holiday"}
    answer = alex.post("/household/pause", data=form)
    assert (answer.status_code, answer.headers["location"]) == (303, "/household?verb=pause&r=household")
    shown = text(alex.get(answer.headers["location"]))
    assert "Everything is paused as asked." in shown
    assert "from Fri 27 Nov to Sun 6 Dec (holiday)" in shown
    today = text(alex.get("/"))
    assert "Everything is paused from Fri 27 Nov until Sun 6 Dec." in today
    assert state(alex, "Morning run") == "paused"
    assert [(p.start, p.until, p.by) for p in couple.service.household_pauses()] == [
        (FRIDAY, date(2026, 12, 6), "alex")
    ]
    answer = alex.post("/household/resume", data={"csrf": household_form(alex)})
    assert answer.status_code == 303
    assert "Nothing is paused" in text(alex.get("/household"))
    assert state(alex, "Morning run") == "open"


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        pytest.param(
            {"from": "2026-11-30", "until": "2026-11-28"}, "until 2026-11-28 is before", id="backwards"
        ),
        pytest.param({"from": "soon"}, "date: 'soon' is not a day", id="junk"),
    ],
)
def test_a_bad_household_pause_is_refused(couple: Couple, fields: dict[str, str], says: str) -> None:
    alex = client_of(couple, "alex")
    answer = alex.post("/household/pause", data={"csrf": household_form(alex), **fields})
    assert answer.status_code == 400
    assert says in text(answer)
    assert couple.service.household_pauses() == []
    assert alex.post("/household/pause", data={"csrf": "0" * 64}).status_code == 403


# --- a ritual's page, adding and editing -----------------------------------------------------------


def form_csrf(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf" value="(\w+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


def test_a_rituals_page_shows_its_definition_streak_year_and_history(couple: Couple) -> None:
    alex, sam = client_of(couple, "alex"), client_of(couple, "sam")
    act(alex, "talk", "20 minutes, phones away", "done", by="me", note="balcony")
    act(sam, "talk", "20 minutes, phones away", "done", by="me")
    act(sam, "talk", "20 minutes, phones away", "skip", date=THURSDAY.isoformat(), reason="late train")
    page = text(alex.get("/rituals/talk"))
    assert "<h1>20 minutes, phones away</h1>" in page
    assert "daily at 20:30" in page
    assert "Alex and Sam (kept once each of them did it)" in page
    assert 'current <b class="streak">1</b>' in page
    assert '<li><i class="k"></i> kept</li>' in page  # the legend
    # A year of days (365 squares after Monday padding), today's kept; and this month's calendar.
    assert page.count('<i class="k" title="Fri 27 Nov: kept">') == 1
    assert page.count("title=") >= 365
    assert "November 2026" in page
    history = page.split("<h2>History</h2>")[1]
    rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", history)
    assert ("Fri 27 Nov", "done", "Alex", "balcony") in rows
    assert ("Fri 27 Nov", "done", "Sam", "") in rows
    assert ("Thu 26 Nov", "skipped", "Sam", "late train") in rows
    assert alex.get("/rituals/nope").status_code == 404


def test_add_a_ritual_from_the_page_with_the_files_errors(couple: Couple) -> None:
    alex = client_of(couple, "alex")
    form = {"csrf": form_csrf(alex, "/rituals/new"), "name": "walk", "title": "Evening walk", "every": "week"}
    bad = alex.post("/rituals/new", data={**form, "on": "fryday", "at": "19:00", "dimension": "physical"})
    assert bad.status_code == 400
    assert "on: " in text(bad) and "fryday" in text(bad)
    assert 'value="Evening walk"' in text(bad)  # what was typed stays
    answer = alex.post("/rituals/new", data={**form, "on": "sat", "at": "10:00", "people": "alex, sam"})
    assert (answer.status_code, answer.headers["location"]) == (303, "/rituals/walk?verb=added&r=walk")
    stored = couple.store.get_ritual("walk")
    assert stored is not None
    assert (stored.ritual.title, stored.ritual.people) == ("Evening walk", ("alex", "sam"))
    assert "Added 'walk'." in text(alex.get(answer.headers["location"]))
    taken = alex.post("/rituals/new", data={**form, "csrf": form_csrf(alex, "/rituals/new")})
    assert taken.status_code == 400
    assert "ritual 'walk' already exists" in text(taken)


def test_edit_pause_resume_and_remove_a_ritual_from_its_page(couple: Couple) -> None:
    alex = client_of(couple, "alex")
    token = form_csrf(alex, "/rituals/run/edit")
    edit = text(alex.get("/rituals/run/edit"))
    assert 'value="07:00"' in edit
    answer = alex.post(
        "/rituals/run/edit",
        data={
            "csrf": token,
            "title": "Morning run",
            "every": "day",
            "at": "06:30",
            "on": "weekdays",
            "people": "alex",
            "dimension": "physical",
        },
    )
    assert answer.status_code == 303, text(answer)
    stored = couple.store.get_ritual("run")
    assert stored is not None
    assert describe(stored) == "daily on mon, tue, wed, thu, fri at 06:30"
    bad = alex.post("/rituals/run/edit", data={"csrf": token, "every": "day", "at": "25:00"})
    assert bad.status_code == 400 and "at: " in text(bad)

    assert alex.post("/rituals/run/pause", data={"csrf": token}).status_code == 303
    assert "paused" in text(alex.get("/rituals/run"))
    assert alex.post("/rituals/run/resume", data={"csrf": token}).status_code == 303
    asked = alex.post("/rituals/run/remove", data={"csrf": token})
    assert asked.status_code == 200 and "Yes, remove it" in text(asked)
    assert '<a href="/rituals/run" class="cancel">Cancel</a>' in text(asked)
    assert "`" not in text(asked)  # no command line for the partner who never opens a shell
    assert couple.store.get_ritual("run") is not None
    removed = alex.post("/rituals/run/remove", data={"csrf": token, "confirm": "yes"})
    assert (removed.status_code, removed.headers["location"]) == (303, "/?verb=removed&r=run")
    assert couple.store.get_ritual("run") is None
    assert "Morning run" not in text(alex.get("/")).split("</h1>")[1].split("Removed")[0]
    gone = text(alex.get("/rituals/run"))  # its page stays, says so, and offers no changes
    assert "removed" in gone and "its history is kept here" in gone
    assert "change it there" not in gone and "/rituals/run/edit" not in gone


def describe(stored: Any) -> str:
    from scheduler.domain.wording import describe_cadence

    return describe_cadence(stored.ritual)


# --- the calendar feed ---------------------------------------------------------------------------------


def test_a_feed_token_serves_its_persons_upcoming_nudges_and_nothing_else(
    couple: Couple, caplog: pytest.LogCaptureFixture
) -> None:
    from scheduler.adapters.web import hide_tokens

    record, token = couple.service.create_token("alex-calendar", person="alex", feed=True)
    assert record.kind == "feed"
    client = TestClient(couple.app(), follow_redirects=False)
    answer = client.get(f"/feed/{token}.ics")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/calendar; charset=utf-8"
    assert answer.headers["x-content-type-options"] == "nosniff"
    body = answer.text
    assert body.startswith("BEGIN:VCALENDAR")
    # Alex's rituals and the shared ones; not Sam's journal.
    assert "SUMMARY:Morning run" in body and "SUMMARY:Date night" in body
    assert "SUMMARY:20 minutes\\, phones away" in body
    assert "Journal" not in body
    assert "DTSTART;TZID=Europe/Berlin:20261128T070000" in body  # tomorrow's run, not a past one
    # A feed token opens nothing else: no login, no API.
    assert client.get("/login", params={"token": token}).status_code == 401
    assert client.get("/api/v1/rituals", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    # A page token is no feed; a revoked feed is gone; the token never reaches the log.
    assert client.get(f"/feed/{TOKENS['alex']}.ics").status_code == 404
    couple.service.revoke_token("alex-calendar")
    assert client.get(f"/feed/{token}.ics").status_code == 404
    assert token not in caplog.text
    assert hide_tokens(f"GET /feed/{token}.ics HTTP/1.1") == "GET /feed/... HTTP/1.1"


def test_the_cli_prints_a_feed_url_for_a_person(installed: RitualCli) -> None:
    (installed.config / "settings.toml").write_text('[people.alex]\nname = "Alex"\n', encoding="utf-8")
    installed.env["RITUAL_PUBLIC_URL"] = "https://ritual.example.org"
    made = installed("token", "create", "cal", "--person", "alex", "--feed")
    assert re.fullmatch(r"https://ritual\.example\.org/feed/[\w-]{40,}\.ics", made.stdout.strip())
    assert [(t["name"], t["kind"]) for t in installed.json("token", "list")] == [("cal", "feed")]
    assert "--feed needs --person" in installed("token", "create", "x", "--feed", code=2).stderr


# --- what the README's today-page section promises besides the above ---------------------------------


def test_a_streak_in_an_open_period_is_at_risk(couple: Couple) -> None:
    alex = client_of(couple, "alex")
    act(alex, "run", "Morning run", "done", date=THURSDAY.isoformat())
    assert state(alex, "Morning run") == "at risk"
    assert 'streak <b class="streak">1</b>' in card(text(alex.get("/")), "Morning run")


def test_a_ritual_of_the_ritual_file_is_changed_in_the_file(couple: Couple) -> None:
    from scheduler.app.stored import RitualSource
    from scheduler.domain.definitions import ritual_from_table

    table = {"name": "filed", "title": "From the file", "every": "day", "timezone": "Europe/Berlin"}
    couple.store.save_ritual(ritual_from_table(table), RitualSource.FILE, now=NOW, effective_from=FRIDAY)
    alex = client_of(couple, "alex")
    page = text(alex.get("/rituals/filed"))
    assert "Defined in the ritual file: change it there." in page
    assert "/rituals/filed/edit" not in page and "/rituals/filed/remove" not in page
    token = csrf(text(alex.get("/")), "From the file")
    refused = alex.post("/rituals/filed/remove", data={"csrf": token, "confirm": "yes"})
    assert refused.status_code == 409
    assert "none.toml; remove it there" in text(refused)
    assert couple.store.get_ritual("filed") is not None


def test_the_pages_are_plain_forms_and_can_be_added_to_a_home_screen(couple: Couple) -> None:
    alex = client_of(couple, "alex")
    for path in ("/", "/household", "/rituals/talk", "/rituals/new", "/rituals/talk/edit", "/login"):
        page = alex.get(path)
        assert page.status_code == 200, path
        assert "<script" not in page.text and " on" + "click=" not in page.text, path
        assert '<link rel="manifest" href="/static/manifest.json">' in page.text, path
    manifest = alex.get("/static/manifest.json").json()
    assert (manifest["start_url"], manifest["display"]) == ("/", "standalone")
    icon = alex.get(manifest["icons"][0]["src"])
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


def test_the_feed_lists_the_next_60_days(couple: Couple) -> None:
    _, token = couple.service.create_token("alex-calendar", person="alex", feed=True)
    body = TestClient(couple.app()).get(f"/feed/{token}.ics").text
    days = sorted(set(re.findall(r"DTSTART;TZID=Europe/Berlin:(\d{8})T", body)))
    assert days[0] == "20261127"  # the talk at 20:30 tonight is still ahead
    assert "20270123" <= days[-1] <= "20270126"


def test_whose_turn_todays_question_and_an_idea_added_from_the_page(couple: Couple) -> None:
    couple.service.edit("date-night", {"turns": ["alex", "sam"], "prompts": "deck"})
    alex, sam = client_of(couple, "alex"), client_of(couple, "sam")
    mine = card(text(alex.get("/")), "Date night")
    assert "Your turn to plan this one" in mine
    question = couple.service.prompts("date-night")[0][2]
    assert question and f"Today's question: {question}" in mine
    theirs = card(text(sam.get("/")), "Date night")
    assert "Alex plans this one" in theirs and question in theirs
    assert "plans this one" not in card(text(sam.get("/")), "Journal")  # no turns, no planner

    answer = act(sam, "date-night", "Date night", "idea", idea="pottery class")
    assert (answer.status_code, answer.headers["location"]) == (303, "/?verb=idea&r=date-night")
    assert "Added an idea to 'Date night'." in text(sam.get(answer.headers["location"]))
    ((ritual, idea),) = couple.service.ideas("date-night")
    assert (ritual, idea.text, idea.by) == ("date-night", "pottery class", "sam")
    assert "Ideas (1)" in card(text(alex.get("/")), "Date night")
    assert "<li>pottery class</li>" in card(text(alex.get("/")), "Date night")
    refused = act(sam, "date-night", "Date night", "idea", idea="   ")
    assert refused.status_code == 409 and "an idea needs some words" in text(refused)
    assert len(couple.service.ideas("date-night")) == 1


def test_a_token_of_nobody_in_particular_asks_who_did_it(couple: Couple) -> None:
    from scheduler.app.stored import api_token_hash

    couple.store.create_api_token("tablet", api_token_hash("rt_kitchen-tablet"), now=NOW)
    tablet = TestClient(couple.app(), follow_redirects=False)
    assert tablet.get("/login", params={"token": "rt_kitchen-tablet"}).status_code == 303
    talk = card(text(tablet.get("/")), "20 minutes, phones away")
    assert ">Done: Alex<" in talk and ">Done: Sam<" in talk and ">Done: Both of us<" in talk
    assert ">Done: Sam<" not in card(text(tablet.get("/")), "Morning run")  # Alex's alone
    nobody = act(tablet, "run", "Morning run", "done")
    assert nobody.status_code == 409 and "say who did it" in text(nobody)
    assert couple.marks("run") == []
    answer = act(tablet, "run", "Morning run", "done", who="alex")
    assert answer.status_code == 303 and couple.marks("run") == [(FRIDAY, "alex", "")]


def test_a_second_done_the_same_day_says_it_was_already_recorded(couple: Couple) -> None:
    alex = client_of(couple, "alex")
    assert act(alex, "run", "Morning run", "done").headers["location"] == "/?verb=done&r=run"
    again = act(alex, "run", "Morning run", "done")  # a second tab, or a tap on a stale page
    assert (again.status_code, again.headers["location"]) == (303, "/?verb=already&r=run")
    page = text(alex.get(again.headers["location"]))
    assert "'Morning run' was already recorded: nothing changed." in page
    assert len(couple.marks("run")) == 1


def test_a_paused_card_names_no_next_due_day(couple: Couple) -> None:
    alex = client_of(couple, "alex")
    couple.service.pause(None, by="alex")
    run = card(text(alex.get("/")), "Morning run")
    assert "paused" in run and "next due" not in run


def test_an_address_opened_by_hand_gets_a_page_in_words_with_a_way_back(couple: Couple) -> None:
    alex = client_of(couple, "alex")
    again = alex.get("/rituals/run/remove")  # the confirmation opened again from the history
    assert again.status_code == 405 and "go back and tap the button again" in text(again)
    assert '<a href="/">Go to the today page</a>' in again.text
    lost = alex.get("/no/such/page")
    assert lost.status_code == 404 and "There is no page at this address." in text(lost)
    assert couple.store.get_ritual("run") is not None
