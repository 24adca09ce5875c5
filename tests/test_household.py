"""A household of two people: who did it, recorded once, taken back, paused together.

Each test is one of issue 20's promises, tried the way a person meets it: through `ritual`,
the API, the page a link opens, or the nudges that real local receivers get.
"""

from __future__ import annotations

import contextlib
import re
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.store import SqlStore
from scheduler.adapters.web import create_app
from scheduler.app.compose import LinkMaker
from scheduler.app.service import RitualService
from scheduler.domain.people import Household as People
from scheduler.domain.people import Person
from tests.conftest import RitualCli, snapshot
from tests.support.daemon import InProcess
from tests.support.households import DUE, Household
from tests.support.ntfy import FakeNtfy
from tests.support.receivers import Receiver

with warnings.catch_warnings():
    # Starlette 1.x asks for the httpx2 fork; plain httpx still works and is what we pin.
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

KEY = b"h" * 32
COUPLE = """\
[people.alex]
name = "Alex"

[people.sam]
name = "Sam"
"""
ALEX_AND_SAM = People((Person("alex", "Alex"), Person("sam", "Sam")))


@pytest.fixture
def couple(installed: RitualCli) -> RitualCli:
    """The example installation with two people named in settings.toml."""
    (installed.config / "settings.toml").write_text(COUPLE, encoding="utf-8")
    return installed


# --- recorded once -------------------------------------------------------------------------------


def test_done_twice_for_one_day_is_recorded_once_and_again_records_another(couple: RitualCli) -> None:
    assert "recorded: 'tech-free-talk'" in couple("done", "tech-free-talk", "--by", "alex").stdout
    second = couple("done", "tech-free-talk", "--by", "alex")
    assert second.stdout.startswith("already recorded: 'tech-free-talk'")
    assert len(couple.json("show", "tech-free-talk")["completions"]) == 1
    couple("done", "tech-free-talk", "--by", "alex", "--again")
    assert len(couple.json("show", "tech-free-talk")["completions"]) == 2
    couple("done", "tech-free-talk", "--by", "sam")  # each person once a day
    assert [c["by"] for c in couple.json("show", "tech-free-talk")["completions"]] == ["alex", "alex", "sam"]


def test_by_names_someone_of_the_household_or_nothing_changes(couple: RitualCli) -> None:
    before = snapshot(couple.database)
    refused = couple("done", "tech-free-talk", "--by", "sasha", code=1)
    assert refused.stderr.strip() == ("Error: --by: unknown person 'sasha' (the household: alex, sam)")
    assert snapshot(couple.database) == before


def test_the_default_person_is_ritual_person_then_me(couple: RitualCli) -> None:
    (couple.config / "settings.toml").write_text(COUPLE + "\n", encoding="utf-8")
    settings = couple.config / "settings.toml"
    settings.write_text('me = "sam"\n' + COUPLE, encoding="utf-8")
    couple("done", "tech-free-talk")
    couple.env["RITUAL_PERSON"] = "alex"
    couple("done", "journal")
    by = {name: couple.json("show", name)["completions"][0]["by"] for name in ("tech-free-talk", "journal")}
    assert by == {"tech-free-talk": "sam", "journal": "alex"}


def test_a_household_of_two_without_me_asks_who_and_one_person_needs_no_asking(couple: RitualCli) -> None:
    before = snapshot(couple.database)
    asked = couple("done", "tech-free-talk", code=2)
    assert "--by: who did it? alex, sam or household (both of you)" in asked.stderr
    assert snapshot(couple.database) == before
    (couple.config / "settings.toml").write_text('[people.alex]\nname = "Alex"\n', encoding="utf-8")
    assert couple("done", "tech-free-talk").stdout.endswith("by alex\n")


def test_a_second_note_on_an_already_recorded_day_is_said_to_be_left_out(couple: RitualCli) -> None:
    couple("done", "tech-free-talk", "--by", "alex", "--note", "first")
    said = couple("done", "tech-free-talk", "--by", "alex", "--note", "second").stdout
    assert "already recorded" in said and "its note stays 'first'" in said


# --- take it back ----------------------------------------------------------------------------------


def test_undo_takes_back_that_days_completion_of_that_person(couple: RitualCli) -> None:
    couple("done", "tech-free-talk", "--by", "alex", "--date", "yesterday")
    couple("done", "tech-free-talk", "--by", "alex")
    couple("done", "tech-free-talk", "--by", "sam")
    couple("undo", "tech-free-talk", "--date", "today", code=2)  # two people did it: whose?
    assert "by alex" in couple("undo", "tech-free-talk", "--date", "today", "--by", "alex").stdout
    left = [(c["day"], c["by"]) for c in couple.json("show", "tech-free-talk")["completions"]]
    assert left == [("2026-11-23", "alex"), ("2026-11-24", "sam")]


def test_undo_without_by_takes_back_only_your_own_or_both_of_yours(couple: RitualCli) -> None:
    couple("done", "tech-free-talk", "--by", "alex", "--date", "yesterday")
    couple("done", "tech-free-talk", "--by", "sam")
    couple.env["RITUAL_PERSON"] = "alex"
    assert "on Mon 23 Nov 2026 by alex" in couple("undo", "tech-free-talk").stdout  # not Sam's newer one
    refused = couple("undo", "tech-free-talk", code=1)
    assert "has no completion by alex or both of you (--by names someone else)" in refused.stderr
    couple("done", "tech-free-talk", "--by", "household")
    assert "by household" in couple("undo", "tech-free-talk").stdout
    assert [c["by"] for c in couple.json("show", "tech-free-talk")["completions"]] == ["sam"]


def test_a_skip_is_kept_once_and_can_be_taken_back(couple: RitualCli) -> None:
    assert couple("skip", "date-night", "--reason", "flu", "--by", "sam").stdout.endswith("by sam\n")
    assert couple("skip", "date-night", "--by", "alex").stdout.startswith("already skipped")
    assert [(s["reason"], s["by"]) for s in couple.json("show", "date-night")["skips"]] == [("flu", "sam")]
    assert "unskipped" in couple("unskip", "date-night").stdout
    assert couple.json("show", "date-night")["skips"] == []
    couple("unskip", "date-night", code=1)


def test_resume_ends_a_running_pause_or_cancels_a_planned_one_and_says_which(couple: RitualCli) -> None:
    couple("pause", "journal", "--from", "2026-12-20", "--until", "2026-12-27")
    said = couple("resume", "journal").stdout
    assert "cancelled 1 planned pause" in said
    assert couple.json("show", "journal")["pauses"] == []
    couple("pause", "journal")
    assert "resumed 'journal': due again from today" in couple("resume", "journal").stdout


def test_a_pause_already_in_place_is_not_made_twice(couple: RitualCli) -> None:
    window = ("--from", "2026-12-20", "--until", "2026-12-27")
    assert couple("pause", "journal", *window, "--by", "sam").stdout.endswith("(by sam)\n")
    assert couple("pause", "journal", *window, "--by", "sam").stdout.startswith("already paused: 'journal'")
    couple("pause", "journal", "--from", "2026-12-21", "--until", "2026-12-22", "--by", "alex")  # inside it
    assert len(couple.json("show", "journal")["pauses"]) == 1
    couple("pause", "journal", "--from", "2026-12-26", "--until", "2026-12-30", "--by", "alex")  # longer
    assert len(couple.json("show", "journal")["pauses"]) == 2


# --- the household pause -----------------------------------------------------------------------------


def test_pause_all_shows_in_status_next_and_the_digest_and_resume_all_ends_it(couple: RitualCli) -> None:
    said = couple(
        "pause", "--all", "--from", "2026-11-26", "--until", "2026-11-28", "--reason", "away"
    ).stdout
    assert said.startswith("paused everything (the whole household) from Thu 26 Nov 2026")
    assert "household: paused from Thu 26 Nov 2026 until Sat 28 Nov 2026 (away)" in couple("status").stdout
    listed = couple("next", "--days", "7").stdout
    assert "the household is paused from Thu 26 Nov 2026" in listed
    days = {n["day"] for n in couple.json("next", "--days", "7")}
    assert "2026-11-25" in days and not days & {"2026-11-26", "2026-11-27", "2026-11-28"}
    assert "Everything is paused from Thu 26 Nov to Sat 28 Nov" in couple("digest").stdout
    assert couple.json("status")["household_pauses"][0]["reason"] == "away"
    assert "cancelled 1 planned pause of the household" in couple("resume", "--all").stdout
    assert couple.json("status")["household_pauses"] == []


def test_a_household_pause_stops_every_nudge_of_the_daemon(tmp_path: Path) -> None:
    made = InProcess(tmp_path, datetime(2031, 5, 5, 8, 0, tzinfo=UTC))
    made.add("talk", "09:00")
    made.add("walk", "18:00")
    made.start()
    try:
        store = SqlStore.open(made.settings.database)
        other = RitualService(store, made.clock, ritual_file=tmp_path / "none", default_timezone="UTC")
        other.pause(None, start=date(2031, 5, 6), until=date(2031, 5, 7), reason="away")
        for day in range(5, 10):
            for hour in (9, 18):
                made.clock.set(datetime(2031, 5, day, hour, 0, 30, tzinfo=UTC))
                made.daemon.tick()
        assert other.resume(None) == (0, 0)  # over by now: nothing to end
        store.close()
    finally:
        made.stop()
    sent = sorted((day.day, name) for name, day, _slot, decision in made.sent if decision in ("send", "late"))
    assert sent == [(5, "talk"), (5, "walk"), (8, "talk"), (8, "walk"), (9, "talk"), (9, "walk")]


# --- attribution through the API and links -------------------------------------------------------------


def api_client(couple: RitualCli) -> tuple[TestClient, Callable[[str], dict[str, str]]]:
    store = SqlStore.open(f"sqlite:///{couple.database}")
    service = RitualService(
        store,
        couple.clock,
        ritual_file=couple.config / "rituals.toml",
        default_timezone="Europe/Berlin",
        household=ALEX_AND_SAM,
    )
    app = create_app(service, key=KEY, clock=couple.clock, public_url="http://127.0.0.1:8470")
    return TestClient(app), lambda token: {"Authorization": f"Bearer {token}"}


def test_a_token_of_a_person_records_as_them_and_a_repeat_post_answers_200(couple: RitualCli) -> None:
    token = couple("token", "create", "phone", "--person", "alex").stdout.strip()
    assert [(t["name"], t["person"]) for t in couple.json("token", "list")] == [("phone", "alex")]
    client, bearer = api_client(couple)
    with client:
        first = client.post("/api/v1/rituals/tech-free-talk/done", headers=bearer(token))
        again = client.post("/api/v1/rituals/tech-free-talk/done", headers=bearer(token))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["completion"]["by"] == "alex"
    assert again.json()["completion"]["id"] == first.json()["completion"]["id"]
    assert again.json()["created"] is False


def test_the_api_takes_back_and_pauses_with_the_same_verbs_as_the_cli(couple: RitualCli) -> None:
    token = couple("token", "create", "phone", "--person", "sam").stdout.strip()
    client, bearer = api_client(couple)
    talk = "/api/v1/rituals/tech-free-talk"

    def post(path: str, body: dict[str, str] | None = None) -> tuple[int, Any]:
        answer = client.post(path, headers=bearer(token), json=body)
        return answer.status_code, answer.json()

    with client:
        post(f"{talk}/done")
        post(f"{talk}/done", {"by": "alex"})
        assert post(f"{talk}/undo", {"date": "2026-11-20"})[0] == 404  # nothing that day
        code, body = post(f"{talk}/undo")  # Sam's token: Sam's own, though Alex's is newer
        assert (code, body["completion"]["by"]) == (200, "sam")
        assert post(f"{talk}/undo")[0] == 404  # Alex's is not Sam's to take back unless named
        assert [c["by"] for c in couple.json("show", "tech-free-talk")["completions"]] == ["alex"]

        first, again = post(f"{talk}/skip", {"reason": "ill"}), post(f"{talk}/skip")
        assert (first[0], first[1]["skip"]["by"], again[0], again[1]["created"]) == (201, "sam", 200, False)
        assert post(f"{talk}/unskip")[0] == 200
        assert post(f"{talk}/skip", {"by": "alex"})[1]["skip"]["by"] == "alex"  # the body may say who
        assert post(f"{talk}/skip", {"by": "kim"}) == (
            400,
            {"error": "by: unknown person 'kim' (the household: alex, sam)"},
        )
        assert post(f"{talk}/unskip")[0] == 200
        assert post(f"{talk}/unskip") == (
            404,
            {"error": "'tech-free-talk' is not skipped for the period holding 2026-11-24"},
        )

        code, body = post("/api/v1/pause", {"from": "2026-11-30", "reason": "away"})
        assert (code, body["household"], body["pause"]["household"], body["pause"]["by"]) == (
            201,
            True,
            True,
            "sam",
        )
        assert couple.json("status")["household_pauses"][0]["reason"] == "away"
        assert post("/api/v1/resume") == (
            200,
            {"household": True, "resumed": True, "ended": 0, "cancelled": 1},
        )


def test_a_token_for_someone_unknown_is_refused_and_one_of_someone_gone_stops_working(
    couple: RitualCli,
) -> None:
    refused = couple("token", "create", "tablet", "--person", "kim", code=1)
    assert "--person: unknown person 'kim' (the household: alex, sam)" in refused.stderr
    token = couple("token", "create", "phone", "--person", "sam").stdout.strip()
    client, bearer = api_client(couple)
    with client:
        assert client.get("/api/v1/rituals", headers=bearer(token)).status_code == 200
    (couple.config / "settings.toml").write_text('[people.alex]\nname = "Alex"\n', encoding="utf-8")
    store = SqlStore.open(f"sqlite:///{couple.database}")
    only_alex = People((Person("alex", "Alex"),))
    service = RitualService(
        store, couple.clock, ritual_file=Path("/none"), default_timezone="UTC", household=only_alex
    )
    app = create_app(service, key=KEY, clock=couple.clock, public_url="http://127.0.0.1:8470")
    with TestClient(app) as gone:
        assert gone.get("/api/v1/rituals", headers=bearer(token)).status_code == 401
    store.close()
    assert "stopped: sam is not in [people]" in couple("token", "list").stdout
    assert [t["state"] for t in couple.json("token", "list")] == ["stopped"]


@pytest.fixture
def shared(
    households: Callable[..., Household], receivers: Callable[..., Receiver]
) -> Iterator[tuple[Household, Receiver]]:
    """A couple whose nudges go to one channel they share (`couple`), with Done links."""
    channel = receivers()
    home = households({"couple": [channel.url("couple")]})
    home.service.household = ALEX_AND_SAM
    home.outbox.composer.links = LinkMaker(key=KEY, base="http://ritual.test")
    yield home, channel


def test_a_link_sent_to_a_shared_channel_asks_who_and_records_that_person(
    shared: tuple[Household, Receiver],
) -> None:
    home, channel = shared
    talk = home.add(notify=["couple"])
    home.fire(talk)
    body = channel.requests[0].body["message"]
    path = re.search(r"Done: http://ritual\.test(/l/\S+)", body)
    assert path is not None, body
    heard: list[int] = []
    app = create_app(
        home.service, key=KEY, clock=home.clock, public_url="http://ritual.test", done=heard.append
    )
    with TestClient(app) as client:
        asked = client.get(path.group(1))
        assert asked.status_code == 200
        for choice in ('value="alex">Alex<', 'value="sam">Sam<', 'value="household">Both of us<'):
            assert choice in asked.text
        assert client.post(path.group(1)).status_code == 400  # no answer: asked again, nothing kept
        chosen = client.post(path.group(1), data={"who": "sam"})
        assert chosen.status_code == 200 and "Recorded" in chosen.text
        client.post(path.group(1), data={"who": "kim"})
        assert "Already recorded" in client.post(path.group(1), data={"who": "sam"}).text
    assert [(c.by, c.source) for c in home.store.completions(talk.id)] == [("sam", "link")]
    assert heard == [home.occurrence(talk).id]  # the daemon hears of it once, to tell the other phones


# --- partner-aware nudges -------------------------------------------------------------------------------


def test_a_ritual_kept_together_nags_only_the_one_still_to_do_it(
    households: Callable[..., Household], receivers: Callable[..., Receiver]
) -> None:
    alex, sam = receivers(), receivers()
    home = households({"alex": [alex.url("alex")], "sam": [sam.url("sam")]})
    home.service.household = ALEX_AND_SAM
    walk = home.add(
        "walk", people=["alex", "sam"], complete_when="both", nag_after="1h", title="Evening walk"
    )
    home.run_until(DUE + timedelta(minutes=5), [walk])
    assert (alex.titles(), sam.titles()) == (["Evening walk"], ["Evening walk"])
    home.service.record_done("walk", by="alex")
    home.run_until(DUE + timedelta(hours=2), [walk])
    assert alex.titles() == ["Evening walk"]
    assert sam.titles() == ["Evening walk", "Still open: Evening walk"]
    assert "Alex did it; your turn." in sam.requests[-1].body["message"]
    home.service.record_done("walk", by="sam")
    report = home.service.report(DUE.date(), DUE.date()).rituals[0]
    assert dict(report.by_person) == {"alex": 1, "sam": 1}


def test_both_of_us_keeps_a_ritual_kept_together_and_credits_each(
    households: Callable[..., Household],
) -> None:
    home = households({})
    home.service.household = ALEX_AND_SAM
    home.add("walk", people=["alex", "sam"], complete_when="both")
    home.clock.set(DUE)
    home.service.record_done("walk", by="household")
    [streak] = home.service.streaks(["walk"])
    assert streak.summary.current_streak == 1
    assert dict(home.service.report(DUE.date(), DUE.date()).rituals[0].by_person) == {"alex": 1, "sam": 1}


# --- the ritual file names the household --------------------------------------------------------------


def test_a_ritual_file_naming_someone_unknown_changes_nothing_and_says_where(couple: RitualCli) -> None:
    rituals = couple.config / "rituals.toml"
    rituals.write_text(
        rituals.read_text(encoding="utf-8")
        + '\n[[ritual]]\nname = "walk"\nevery = "day"\nat = "18:00"\npeople = ["alex", "kim"]\n',
        encoding="utf-8",
    )
    checked = couple("check", code=1)
    line = rituals.read_text(encoding="utf-8").splitlines().index("[[ritual]]", -6) + 1
    assert f"rituals.toml:{line}: ritual 'walk': people: unknown person 'kim' (the household: alex, sam)" in (
        checked.stderr
    )
    assert "walk" not in [r["name"] for r in couple.json("list")]


def test_people_lists_the_household(couple: RitualCli) -> None:
    listed = couple.json("people")
    assert [(p["key"], p["name"], p["channels"]) for p in listed] == [
        ("alex", "Alex", []),
        ("sam", "Sam", []),
    ]
    assert "alex" in couple("people").stdout


# --- one tap clears the others ----------------------------------------------------------------------


@pytest.fixture
def ntfy() -> Iterator[FakeNtfy]:
    server = FakeNtfy()
    yield server
    server.close()


def test_done_by_one_replaces_the_nudge_on_the_other_phone(
    households: Callable[..., Household], receivers: Callable[..., Receiver], ntfy: FakeNtfy
) -> None:
    hook = receivers()
    home = households({"alex": [ntfy.url("alex")], "sam": [ntfy.url("sam"), hook.url("sam")]})
    home.service.household = ALEX_AND_SAM
    home.outbox.composer.links = LinkMaker(key=KEY, base="http://ritual.test")
    hug = home.add("hug", title="Morning hug", nag_after="1h")
    nudge = home.fire(hug)
    tag = f"nudge-{nudge.id}"
    assert [m.tags for m in (*ntfy.on("alex"), *ntfy.on("sam"))] == [[tag], [tag]]
    assert "http, Done" in ntfy.on("alex")[0].actions  # the buttons are there as before

    home.service.record_done("hug", by="alex")
    assert home.nudger.clear_kept() == 1
    assert ntfy.on("alex")[0].replaced_by == []  # Alex's tap cleared Alex's own phone
    assert ntfy.on("sam")[0].replaced_by == [("Done: Morning hug", "Alex did it.")]
    assert len(hook.requests) == 1  # a channel that cannot replace is not sent a "done"
    assert home.nudger.clear_kept() == 0  # once per ritual and day
    cleared = [o for o in home.store.occurrences(ritual_id=hug.id) if o.kind.value == "cleared"]
    assert [(o.day, o.status.value) for o in cleared] == [(nudge.day, "sent")]
    home.run_until(DUE + timedelta(hours=2), [hug])
    assert len(ntfy.on("sam")) == 1  # and the period being kept, no nag follows


def test_nothing_is_cleared_before_the_period_is_kept(
    households: Callable[..., Household], ntfy: FakeNtfy
) -> None:
    home = households({"alex": [ntfy.url("alex")], "sam": [ntfy.url("sam")]})
    home.service.household = ALEX_AND_SAM
    walk = home.add("walk", people=["alex", "sam"], complete_when="both")
    home.fire(walk)
    home.service.record_done("walk", by="alex")
    assert home.nudger.clear_kept() == 0  # Sam still has to: Sam's nudge stays
    home.service.record_done("walk", by="sam")
    assert home.nudger.clear_kept() == 1
    assert [m.replaced_by for m in ntfy.messages] == [[], []]  # each cleared their own by tapping
    assert ntfy.polls == 0  # nobody else to tell: nothing asked of the server


# --- a person's quiet hours ---------------------------------------------------------------------------


def test_a_persons_quiet_hours_hold_only_their_nudge_until_they_end(
    households: Callable[..., Household], receivers: Callable[..., Receiver]
) -> None:
    alex, sam = receivers(), receivers()
    home = households({"alex": [alex.url("alex")], "sam": [sam.url("sam")]})
    sleepy = Person("sam", "Sam", "UTC", (time(20, 0), time(21, 0)))
    home.service.household = People((Person("alex", "Alex"), sleepy))
    talk = home.add("talk", title="Talk")  # 20:30 UTC, grace 2h
    home.run_until(DUE + timedelta(minutes=1), [talk])
    assert (alex.titles(), sam.titles()) == (["Talk"], [])
    home.run_until(DUE + timedelta(minutes=29), [talk])
    assert sam.titles() == []
    home.run_until(DUE + timedelta(minutes=31), [talk])
    assert sam.titles() == ["Talk"]  # at 21:00, when Sam's quiet hours end
    assert home.occurrence(talk).status.value == "sent"


def test_quiet_hours_past_the_grace_mean_no_nudge_for_that_person(
    households: Callable[..., Household], receivers: Callable[..., Receiver]
) -> None:
    sam = receivers()
    home = households({"sam": [sam.url("sam")]})
    home.service.household = People((Person("sam", "Sam", "UTC", (time(20, 0), time(7, 0))),))
    talk = home.add("talk", title="Talk", catch_up_grace="1h")
    home.run_until(DUE + timedelta(hours=12), [talk])
    assert sam.titles() == []
    occurrence = home.occurrence(talk)
    assert (occurrence.status.value, occurrence.note) == (
        "missed",
        "missed: everyone's quiet hours held it past its grace",
    )


# --- the household in settings.toml -----------------------------------------------------------------


def test_person_tables_reach_each_person_by_url_or_by_a_tag_of_apprise_txt(
    couple: RitualCli, receivers: Callable[..., Receiver]
) -> None:
    alex, sam = receivers(), receivers()
    (couple.config / "apprise.txt").write_text(f"sam-phone={sam.url('sam')}\n", encoding="utf-8")
    (couple.config / "settings.toml").write_text(
        f"""\
me = "alex"

[people.alex]
name = "Alex"
channels = ["{alex.url("alex").replace("://", "://alex:s3cret@")}"]
quiet_hours = "22:30-07:00"
timezone = "Europe/Berlin"

[people.sam]
name = "Sam"
channels = ["sam-phone"]
""",
        encoding="utf-8",
    )
    listed = {p["key"]: p for p in couple.json("people")}
    assert (listed["alex"]["name"], len(listed["alex"]["channels"]), listed["sam"]["channels"]) == (
        "Alex",
        1,
        ["sam-phone"],
    )
    shown = couple("people", "--json").stdout + couple("people").stdout
    assert "s3cret" not in shown and "/alex" not in shown  # a URL's secrets and topic: never shown
    couple("notify-test", "--to", "sam")
    assert (alex.titles(), sam.titles()) == ([], ["Ritual time (test)"])
    couple("notify-test", "--to", "alex")
    assert alex.titles() == ["Ritual time (test)"]
    couple("done", "tech-free-talk")
    assert [c["by"] for c in couple.json("show", "tech-free-talk")["completions"]] == ["alex"]


@pytest.mark.parametrize(
    ("setting", "complaint"),
    [
        ('timezone = "Europe/Berln"', "unknown time zone 'Europe/Berln'"),
        ('quiet_hours = "late"', "quiet_hours"),
        ('colour = "blue"', "colour"),
    ],
)
def test_a_broken_person_table_is_one_line_naming_the_option(
    couple: RitualCli, setting: str, complaint: str
) -> None:
    couple("done", "tech-free-talk", "--by", "alex")
    before = snapshot(couple.database)
    (couple.config / "settings.toml").write_text(COUPLE + setting + "\n", encoding="utf-8")
    result = couple("done", "tech-free-talk", "--by", "sam", code=1)
    assert "settings.toml:6: people.sam" in result.stderr and complaint in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert snapshot(couple.database) == before


def test_quiet_hours_are_read_in_the_persons_own_zone(
    households: Callable[..., Household], receivers: Callable[..., Receiver]
) -> None:
    sam = receivers()
    home = households({"sam": [sam.url("sam")]})
    # 20:30 UTC is 21:30 in Berlin in November: inside Sam's 21:00-22:00 there, not in UTC.
    home.service.household = People((Person("sam", "Sam", "Europe/Berlin", (time(21, 0), time(22, 0))),))
    talk = home.add("talk", title="Talk")
    home.run_until(DUE + timedelta(minutes=29), [talk])
    assert sam.titles() == []
    home.run_until(DUE + timedelta(minutes=31), [talk])
    assert sam.titles() == ["Talk"]  # at 22:00 in Berlin


def test_a_mistyped_tag_or_a_broken_url_of_a_person_shows_and_is_never_echoed(couple: RitualCli) -> None:
    (couple.config / "apprise.txt").write_text("sam-phone=json://127.0.0.1:9/\n", encoding="utf-8")
    (couple.config / "settings.toml").write_text(
        COUPLE.replace('name = "Sam"', 'name = "Sam"\nchannels = ["sam-phon"]').replace(
            'name = "Alex"', 'name = "Alex"\nchannels = ["ntfy:/broken host/alex-pw"]'
        ),
        encoding="utf-8",
    )
    shown = {p["key"]: p["channels"] for p in couple.json("people")}
    assert shown == {
        "alex": ["a broken URL (see `ritual check`)"],
        "sam": ["sam-phon (no channel has this tag)"],
    }
    checked = couple("check", code=1)
    assert "people.sam: no channel carries the tag 'sam-phon'" in checked.output
    assert (
        "people.alex: a channel is neither an Apprise URL (scheme://...) nor a tag (****)" in checked.output
    )
    assert "alex-pw" not in checked.output + couple("people").output


@pytest.mark.parametrize("verb", ["skip", "pause"])
def test_a_skip_or_pause_sent_twice_at_once_is_stored_once(store_url: str, tmp_path: Path, verb: str) -> None:
    # Two processes (a tap on each phone) both look before either writes: the barrier holds
    # each reader until the other has read too, or gives up after a second when the other
    # cannot read yet because the check and the write are one transaction.
    barrier = threading.Barrier(2, timeout=1.0)
    services: list[RitualService] = []
    for _ in range(2):
        store = SqlStore.open(store_url)
        reader = getattr(store, "skips" if verb == "skip" else "pauses")

        def looked(*args: Any, _reader: Callable[..., Any] = reader, **kwargs: Any) -> Any:
            seen = _reader(*args, **kwargs)
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()
            return seen

        setattr(store, "skips" if verb == "skip" else "pauses", looked)
        services.append(
            RitualService(store, FakeClock(DUE), ritual_file=tmp_path / "none.toml", default_timezone="UTC")
        )
    services[0].add({"name": "talk", "every": "day", "at": "20:30"})
    try:
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda service: getattr(service, verb)("talk"), services))
        assert sorted(created for _, created in results) == [False, True]
        talk = services[0].get("talk")
        kept = services[0].store.skips(talk.id) if verb == "skip" else services[0].store.pauses(talk.id)
        assert len(kept) == 1
    finally:
        for service in services:
            service.store.close()
