"""Couple rituals: whose turn to plan, the idea backlog the planner's heads-up suggests.

A year of a weekly date night runs under a FakeClock through the real nudger, outbox and
composer (the channels are an in-memory fake that keeps what each person was sent).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.store import SqlStore
from scheduler.app.nudging import Nudger
from scheduler.app.outbox import ChannelOutbox
from scheduler.app.service import RitualService
from scheduler.app.stored import RitualSource, StoredRitual
from scheduler.domain.definitions import TurnsOn, ritual_from_table
from scheduler.domain.errors import DefinitionError
from scheduler.domain.messages import Message
from scheduler.domain.people import Household, Person
from scheduler.domain.streaks import PeriodStatus
from scheduler.domain.turns import planners
from tests.conftest import RitualCli
from tests.support.fakes import Phones

ALEX_AND_SAM = Household((Person("alex", "Alex"), Person("sam", "Sam")))
START = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)  # a Thursday


class Home:
    def __init__(self, tmp_path: Path) -> None:
        self.clock = FakeClock(START)
        self.store = SqlStore.open(f"sqlite:///{tmp_path / 'ritual.db'}")
        self.service = RitualService(
            self.store,
            self.clock,
            ritual_file=tmp_path / "none.toml",
            default_timezone="UTC",
            household=ALEX_AND_SAM,
        )
        self.channels = Phones()
        outbox = ChannelOutbox(
            self.service, self.channels, self.clock, timeout=1.0, max_attempts=3,
            max_age=timedelta(hours=1), rng=random.Random(1),
        )  # fmt: skip
        self.nudger = Nudger(self.service, outbox, self.clock)

    def add(self, **table: object) -> StoredRitual:
        values = {
            "name": "date-night", "every": "week", "on": "fri", "at": "19:00", "remind_before": "1d",
            "timezone": "UTC", "start": "2026-01-01", "people": ["alex", "sam"], "turns": ["alex", "sam"],
        }  # fmt: skip
        ritual = ritual_from_table({key: v for key, v in {**values, **table}.items() if v is not None})
        return self.store.save_ritual(
            ritual, RitualSource.CLI, now=self.clock.now(), effective_from=date(2026, 1, 1)
        )

    def run_until(
        self, stored: StoredRitual, end: datetime, *, keep: bool = True
    ) -> list[tuple[str, Message]]:
        """The daemon's loop in fast-forward; every due nudge's period is kept right after it
        (when ``keep``), by whoever planned it. What was sent, in order."""
        before = len(self.channels.sent)
        while (wake := self.nudger.next_wakeup(stored)) is not None and wake <= end:
            self.clock.set(wake)
            handled = self.nudger.handle_due(stored)
            due = [v for v in handled.verdicts if v.nudge.kind.value == "due"]
            if keep and due:
                self.clock.advance(timedelta(minutes=30))
                planner = self.service.planner(stored, due[0].nudge.day)
                self.service.record_done(stored.name, by=planner)
        self.clock.set(end)
        return self.channels.sent[before:]


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    made = Home(tmp_path)
    yield made
    made.store.close()


# --- the rotation, pure ------------------------------------------------------------------------------

K, M, E, R = PeriodStatus.KEPT, PeriodStatus.MISSED, PeriodStatus.EXCUSED, PeriodStatus.REST
WEEKS = [date(2026, 1, 5) + timedelta(weeks=i) for i in range(6)]


@pytest.mark.parametrize(
    ("statuses", "turns_on", "swaps", "expected"),
    [
        pytest.param([K, K, K, K], TurnsOn.KEPT, {}, "asas", id="kept periods rotate"),
        pytest.param([K, M, K, K], TurnsOn.KEPT, {}, "assa", id="a missed period keeps its planner"),
        pytest.param([K, E, K, K], TurnsOn.KEPT, {}, "assa", id="a skipped period keeps its planner"),
        pytest.param([K, M, E, K], TurnsOn.PERIOD, {}, "asas", id="turns_on period rotates every period"),
        pytest.param([K, R, K, K], TurnsOn.PERIOD, {}, "assa", id="a period with no due day is no turn"),
        pytest.param([K, K, K, K], TurnsOn.KEPT, {1: "alex"}, "aasa", id="a swap goes on from the swapped"),
    ],
)
def test_the_planner_rotates_by_the_periods(
    statuses: list[PeriodStatus], turns_on: TurnsOn, swaps: dict[int, str], expected: str
) -> None:
    periods = list(zip(WEEKS, statuses, strict=False))
    found = planners(("alex", "sam"), turns_on, periods, {WEEKS[i]: who for i, who in swaps.items()})
    assert "".join(who[0] for who in found) == expected


# --- a year of date nights ---------------------------------------------------------------------------


def test_a_year_of_weekly_date_nights_rotates_the_planner_and_tells_only_them_first(home: Home) -> None:
    stored = home.add()
    for text in ("pottery class", "night market", "board game cafe", "sunset picnic", "salsa lesson"):
        home.service.add_idea("date-night", text, by="sam")
    sent = home.run_until(stored, datetime(2026, 12, 31, 12, tzinfo=UTC))  # 52 Fridays
    heads_ups = [(who, m) for who, m in sent if "your turn to plan" in m.body]
    dues = [(who, m) for who, m in sent if (who, m) not in heads_ups]
    assert len(heads_ups) == 52 and len(dues) == 104  # the heads-up to one, the due nudge to both
    recipients = [who for who, _ in heads_ups]
    assert recipients == ["alex", "sam"] * 26  # every kept week hands the planning on
    for who, message in heads_ups:
        assert f"{who.capitalize()}, your turn to plan this one." in message.body
    for (_, first), (_, second) in zip(dues[::2], dues[1::2], strict=True):
        assert first.body == second.body  # both get the same due nudge, naming the planner
    assert all(" plans this one." in m.body for _, m in dues)
    suggested = [_ideas(m) for _, m in heads_ups]
    assert all(len(ideas) == 3 for ideas in suggested)
    assert suggested[0] == ["pottery class", "night market", "board game cafe"]
    assert suggested[1] == ["sunset picnic", "salsa lesson", "pottery class"]  # least recently first
    assert all(set(a) != set(b) for a, b in itertools.pairwise(suggested))


def _ideas(message: Message) -> list[str]:
    line = next((line for line in message.body.splitlines() if line.startswith("Ideas: ")), "")
    return line.removeprefix("Ideas: ").split("; ") if line else []


def test_a_missed_week_keeps_the_planner_and_a_swap_hands_it_on(home: Home) -> None:
    stored = home.add()
    home.run_until(stored, datetime(2026, 1, 5, tzinfo=UTC))  # week 1 kept, by alex
    assert home.service.turn("date-night").planner == "sam"
    home.run_until(stored, datetime(2026, 1, 12, tzinfo=UTC), keep=False)  # sam's week missed
    assert home.service.turn("date-night").planner == "sam"
    view = home.service.swap_turn("date-night")
    assert (view.planner, view.next, view.swapped) == ("alex", "sam", True)
    sent = home.run_until(stored, datetime(2026, 1, 19, tzinfo=UTC))
    assert [who for who, m in sent if "your turn to plan" in m.body] == ["alex"]
    assert home.service.turn("date-night").planner == "sam"


def test_an_idea_done_from_the_confirm_page_is_kept_with_its_completion(home: Home) -> None:
    stored = home.add()
    first = home.service.add_idea("date-night", "pottery class")
    home.run_until(stored, datetime(2026, 1, 9, 12, tzinfo=UTC))  # the heads-up went out
    suggested = home.service.suggested_ideas(stored, date(2026, 1, 9))
    assert [i.text for i in suggested] == ["pottery class"]
    recorded = home.service.record_done("date-night", by="alex", idea=first.id)
    used = home.service.ideas("date-night", everything=True)[0][1]
    assert (used.state, used.completion_id) == ("used", recorded.completion.id)
    assert home.service.suggested_ideas(stored, date(2026, 1, 9)) == []


# --- bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        ({"turns": ["alex"]}, "turns", "turns needs at least two people to take turns"),
        (
            {"turns": ["alex", "kim"], "people": ["alex", "sam"]},
            "turns",
            "turns names 'kim', who is not in people",
        ),
        ({"turns_on": "period"}, "turns_on", "turns_on needs turns"),
        ({"turns": ["alex", "sam"], "turns_on": "often"}, "turns_on", "turns_on must be kept or period"),
        ({"escalate_after": "2h"}, "escalate_to", "escalate_after and escalate_to go together"),
    ],
)
def test_bad_turns_are_refused_naming_the_key(table: dict[str, object], key: str, message: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        ritual_from_table({"name": "date-night", **table})
    assert caught.value.key == key and message in caught.value.message


COUPLE = '[people.alex]\nname = "Alex"\n\n[people.sam]\nname = "Sam"\n'


def test_an_unknown_person_in_turns_names_the_file_and_line(installed: RitualCli) -> None:
    (installed.config / "settings.toml").write_text(COUPLE, encoding="utf-8")
    path = installed.config / "rituals.toml"
    text = path.read_text(encoding="utf-8")
    extra = '\n[[ritual]]\nname = "plan-trip"\nturns = ["alex", "kim"]\n\n[[ritual]]\nname = "plan-day"\n'
    path.write_text(text + extra, encoding="utf-8")
    turns_line = text.count("\n") + 4
    result = installed("check", code=1)
    said = f"rituals.toml:{turns_line}: ritual 'plan-trip': turns: unknown person 'kim'"
    assert f"{said} (the household: alex, sam)" in result.stderr
    names = [r["name"] for r in installed.json("list")]
    assert "plan-day" in names and "plan-trip" not in names  # the rest of the file loads


@pytest.mark.parametrize(
    ("prompts", "deck", "message"),
    [
        ('"missing.toml"', None, "no deck file"),
        ('"empty.txt"', "# only a comment\n\n", "empty.txt holds no questions"),
        ('"odd.toml"', 'romantic = ["a question?"]\n', "unknown kind 'romantic'"),
    ],
)
def test_a_deck_that_cannot_be_used_names_the_file_and_line(
    installed: RitualCli, prompts: str, deck: str | None, message: str
) -> None:
    path = installed.config / "rituals.toml"
    if deck is not None:
        (installed.config / prompts.strip('"')).write_text(deck, encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    path.write_text(text + f'\n[[ritual]]\nname = "ask"\nprompts = {prompts}\n', encoding="utf-8")
    result = installed("check", code=1)
    assert f"rituals.toml:{text.count(chr(10)) + 4}: ritual 'ask': prompts: " in result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "ask" not in [r["name"] for r in installed.json("list")]


def test_turn_and_idea_from_the_command_line(installed: RitualCli) -> None:
    (installed.config / "settings.toml").write_text(COUPLE, encoding="utf-8")
    path = installed.config / "rituals.toml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            'name = "date-night"', 'name = "date-night"\nturns = ["alex", "sam"]'
        ),
        encoding="utf-8",
    )
    assert installed.json("turn", "date-night")["planner"] == "alex"
    assert (
        installed("turn", "date-night", "--swap").stdout
        == "date-night: Sam's turn to plan (swapped); next Alex\n"
    )
    assert installed.json("show", "date-night")["planner"] == "sam"
    assert "turns: alex, sam; Sam's turn to plan" in installed("show", "date-night").stdout
    assert {u["planner"] for u in installed.json("next", "date-night")} <= {"alex", "sam"}
    added = installed.json("idea", "add", "date-night", "pottery class", "--by", "sam", "--note", "Thursdays")
    assert (added["text"], added["by"], added["state"]) == ("pottery class", "sam", "open")
    assert [i["text"] for i in installed.json("idea", "list", "date-night")] == ["pottery class"]
    installed("idea", "drop", "date-night", str(added["id"]))
    assert installed.json("idea", "list") == []
    refused = installed("turn", "tech-free-talk", code=2)
    assert "takes no turns" in refused.stderr
    missing = installed("idea", "done", "date-night", "99", code=1)
    assert "has no idea #99" in missing.stderr


# --- the confirm page and the API --------------------------------------------------------------------


def test_the_confirm_page_asks_which_suggested_idea_was_done(tmp_path: Path) -> None:
    from tests.test_web import FRIDAY, make_house, text

    for house in make_house(tmp_path):
        service = RitualService(
            house.store, house.clock, ritual_file=house.ritual_file, default_timezone="UTC"
        )
        stored = service.get("date-night")
        wanted = service.add_idea("date-night", "night market")
        service.add_idea("date-night", "pottery class")
        heads_up = house.store.get_occurrence(house.occurrence_id)
        assert heads_up is not None
        house.store.record_suggestions(stored.id, heads_up.id, FRIDAY, [wanted.id], now=house.clock.now())
        token = house.link()
        shown = text(house.client.get(f"/l/{token}"))
        assert "Which idea did you do?" in shown and "night market" in shown and "pottery class" not in shown
        answer = house.client.post(f"/l/{token}", data={"idea": str(wanted.id)})
        assert answer.status_code == 200
        used = house.store.get_idea(wanted.id)
        assert used is not None and used.state == "used"
        assert used.completion_id == house.completions()[0].id


def test_turns_and_ideas_over_the_api(tmp_path: Path) -> None:
    from tests.test_web import make_house

    for house in make_house(tmp_path):
        added = house.api(
            "POST", "/api/v1/rituals/date-night/ideas", {"text": "pottery class", "note": "Thu"}
        )
        assert added.status_code == 201 and added.json()["text"] == "pottery class"
        listed = house.api("GET", "/api/v1/ideas?ritual=date-night").json()
        assert [i["text"] for i in listed] == ["pottery class"]
        dropped = house.api("POST", f"/api/v1/rituals/date-night/ideas/{added.json()['id']}/drop")
        assert dropped.json()["state"] == "dropped"
        assert house.api("GET", "/api/v1/ideas").json() == []
        assert house.api("POST", "/api/v1/rituals/date-night/ideas/1/eat").status_code == 404
        refused = house.api("GET", "/api/v1/rituals/date-night/turn")
        assert refused.status_code == 400 and "takes no turns" in refused.json()["error"]
        house.api("PATCH", "/api/v1/rituals/date-night", {"turns": ["alex", "sam"]})
        assert house.api("GET", "/api/v1/rituals/date-night/turn").json()["planner"] == "alex"
        swapped = house.api("POST", "/api/v1/rituals/date-night/turn/swap").json()
        assert (swapped["planner"], swapped["swapped"]) == ("sam", True)


# --- a question for the talk ---------------------------------------------------------------------------


@pytest.mark.parametrize(("dimension", "every", "size"), [("emotional", "day", 13), ("other", "week", 61)])
def test_no_question_comes_again_until_the_deck_is_used_up(
    home: Home, dimension: str, every: str, size: int
) -> None:
    stored = home.add(name="talk", dimension=dimension, every=every, on=[], turns=[], prompts="deck")
    step = timedelta(days=1 if every == "day" else 7)
    days = [date(2026, 3, 2) + step * i for i in range(size * 3)]
    asked = [home.service.prompt_of(stored, day) for day in days]
    for first in range(len(asked) - size):  # every run as long as the deck asks each question once
        assert len(set(asked[first : first + size])) == size
    kinds = home.service.deck(stored.ritual).questions
    assert set(asked) == set(kinds["emotional"] if dimension == "emotional" else sum(kinds.values(), ()))


def test_both_people_get_the_same_question_on_the_same_day(home: Home) -> None:
    stored = home.add(name="talk", dimension="emotional", every="day", on=[], turns=[], prompts="deck")
    sent = home.run_until(stored, datetime(2026, 1, 4, tzinfo=UTC), keep=False)
    questions = [
        (who, line) for who, m in sent for line in m.body.splitlines() if line.startswith("A question")
    ]
    assert len(questions) == len(sent) == 12  # three evenings and their heads-ups, two phones each
    assert [who for who, _ in questions] == ["alex", "sam"] * 6
    assert [q for _, q in questions[0::2]] == [q for _, q in questions[1::2]]  # one question, both phones
    assert len({q for _, q in questions}) == 4  # Jan 1, 2, 3 and the heads-up for Jan 4


def test_ritual_prompt_prints_todays_question(installed: RitualCli) -> None:
    path = installed.config / "rituals.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('name = "tech-free-talk"', 'name = "tech-free-talk"\nprompts = "deck"'))
    asked = installed.json("prompt", "tech-free-talk")
    assert asked["ritual"] == "tech-free-talk" and asked["question"].endswith("?")
    assert installed("prompt", "tech-free-talk").stdout == asked["question"] + "\n"
    assert installed.json("prompt") == [asked]
    assert "asks no questions" in installed("prompt", "journal", code=2).stderr


# --- escalation -------------------------------------------------------------------------------------------


def tick_until(home: Home, stored: StoredRitual, end: datetime, kept_on: set[date]) -> None:
    """The daemon's timers and its reconcile tick (every 15 minutes here), up to ``end``; the
    ritual is done by Alex right after the due nudge on the days in ``kept_on``."""
    while home.clock.now() < end:
        wake = home.nudger.next_wakeup(stored)
        step = home.clock.now() + timedelta(minutes=15)
        home.clock.set(min(step, wake) if wake else step)
        if wake is not None and wake <= home.clock.now():
            for verdict in home.nudger.handle_due(stored).verdicts:
                if verdict.nudge.kind.value == "due" and verdict.nudge.day in kept_on:
                    home.service.record_done(stored.name, by="alex")
        home.nudger.deliver_due()


def test_escalation_goes_once_a_period_to_escalate_to_and_not_when_kept(home: Home) -> None:
    walk = {"name": "evening-walk", "title": "Evening walk", "every": "day", "on": [], "at": "20:30"}
    stored = home.add(**walk, remind_before=None, turns=[], people=["alex"], notify=["alex"],
                      escalate_after="2h", escalate_to=["sam"])  # fmt: skip
    tick_until(home, stored, datetime(2026, 1, 4, 12, tzinfo=UTC), kept_on={date(2026, 1, 2)})
    escalations = [(who, m) for who, m in home.channels.sent if m.title == "Still open: Evening walk"]
    assert [who for who, _ in escalations] == ["sam", "sam"]  # Jan 1 and Jan 3; Jan 2 was kept
    assert escalations[0][1].body == "Alex hasn't done evening walk yet."
    recorded = [o for o in home.store.occurrences(ritual_id=stored.id) if o.kind.value == "escalate"]
    assert sorted((o.day, o.due_at.hour, o.status.value) for o in recorded) == [
        (date(2026, 1, 1), 22, "sent"),
        (date(2026, 1, 3), 22, "sent"),
    ]


def test_escalation_waits_out_the_rituals_quiet_hours(home: Home) -> None:
    walk = {"name": "evening-walk", "title": "Evening walk", "every": "day", "on": [], "at": "20:30"}
    stored = home.add(**walk, remind_before=None, turns=[], people=["alex"], notify=["alex"],
                      escalate_after="2h", escalate_to=["sam"], quiet_hours="22:00-23:30",
                      catch_up_grace="3h")  # fmt: skip
    tick_until(home, stored, datetime(2026, 1, 2, 12, tzinfo=UTC), kept_on=set())
    sent = [
        (o.due_at, o.decided_at)
        for o in home.store.occurrences(ritual_id=stored.id)
        if o.kind.value == "escalate"
    ]
    assert len(sent) == 1
    assert sent[0][1] is not None and sent[0][1] >= datetime(2026, 1, 1, 23, 30, tzinfo=UTC)


# --- the digest suggests ------------------------------------------------------------------------------


def test_the_digest_suggests_an_unused_idea_when_the_household_has_the_catalogues_rituals(
    installed: RitualCli,
) -> None:
    for name in (
        "tech-free-talk",
        "appreciation",
        "evening-walk",
        "morning-hug",
        "date-night",
        "meaning-talk",
    ):
        installed("done", name)
    assert "got the least time" not in installed("digest").stdout  # nothing new to suggest yet
    installed("idea", "add", "date-night", "pottery class")
    installed("idea", "add", "share-a-read", "read the same short story")
    text = installed("digest").stdout  # intellectual got nothing this week: its idea comes first
    said = "Intellectual connection got the least time: an idea from your list for share-a-read:"
    assert f"{said} read the same short story.\n" in text


def test_the_digest_suggests_a_catalogue_ritual_of_the_least_served_kind() -> None:
    from scheduler.domain.definitions import Dimension
    from scheduler.domain.report import suggestion_line

    catalogue = [
        ritual_from_table({"name": "share-a-read", "title": "Read together", "dimension": "intellectual"}),
        ritual_from_table({"name": "puzzle-night", "title": "Puzzle night", "dimension": "intellectual"}),
    ]
    ideas = [("date-night", Dimension.EXPERIENTIAL, "pottery class")]
    line = suggestion_line(Dimension.INTELLECTUAL, catalogue, ["share-a-read"], ideas)
    how = "how about 'Puzzle night' (puzzle-night in the example catalogue)?"
    assert line == f"Intellectual connection got the least time: {how}"
    everything = ["share-a-read", "puzzle-night"]
    line = suggestion_line(Dimension.INTELLECTUAL, catalogue, everything, ideas)
    assert line.endswith("an idea from your list for date-night: pottery class.")
    assert suggestion_line(Dimension.INTELLECTUAL, catalogue, everything, []) == ""


# --- what the README's "For the two of you" promises, the rest of it ------------------------------------


def test_the_readmes_example_is_a_valid_ritual() -> None:
    import tomllib

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## For the two of you", 1)[1]
    block = section.split("```toml\n", 1)[1].split("```", 1)[0]
    ritual = ritual_from_table(tomllib.loads(block)["ritual"][0])
    assert (ritual.turns, ritual.prompts, ritual.escalate_to) == (("alex", "sam"), "deck", ("sam",))
    assert ritual.escalate_after == timedelta(hours=2)


def test_the_shipped_deck_holds_61_questions_across_the_five_kinds(home: Home) -> None:
    stored = home.add(name="talk", turns=[], prompts="deck")
    deck = home.service.deck(stored.ritual)
    assert sorted(deck.questions) == sorted(
        ["emotional", "physical", "intellectual", "experiential", "spiritual"]
    )
    assert sum(len(questions) for questions in deck.questions.values()) == 61
    assert all(len(questions) >= 12 for questions in deck.questions.values())


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("ours.txt", "# our questions\nWhat made you laugh today?\n\nWhat do you need tomorrow?\n", 2),
        ("ours.toml", 'emotional = ["What made you laugh today?"]\nphysical = ["A walk?"]\n', 1),
    ],
)
def test_your_own_deck_next_to_the_ritual_file(tmp_path: Path, name: str, text: str, expected: int) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    home = Home(tmp_path)
    stored = home.add(name="talk", dimension="emotional", turns=[], prompts=name)
    asked = {home.service.prompt_of(stored, date(2026, 2, 2) + timedelta(weeks=i)) for i in range(4)}
    assert len(asked) == expected and "What made you laugh today?" in asked
    home.store.close()


def test_next_and_idea_list_all_and_idea_done_from_the_command_line(installed: RitualCli) -> None:
    (installed.config / "settings.toml").write_text(COUPLE, encoding="utf-8")
    path = installed.config / "rituals.toml"
    body = path.read_text(encoding="utf-8").replace(
        '# turns = ["alex", "sam"]  #', 'turns = ["alex", "sam"]  #', 1
    )
    path.write_text(body, encoding="utf-8")
    table = installed("next", "date-night", "--days", "8").stdout
    assert "plans" in table and "Alex" in table
    added = installed.json("idea", "add", "date-night", "pottery class", "--by", "sam", "--note", "Thursdays")
    assert added["note"] == "Thursdays"
    recorded = installed.json("done", "date-night", "--by", "alex")
    used = installed.json("idea", "done", "date-night", str(added["id"]))
    assert (used["state"], used["completion_id"]) == ("used", recorded["completion"]["id"])
    assert installed.json("idea", "list") == []
    assert [i["state"] for i in installed.json("idea", "list", "--all")] == ["used"]


def test_check_flags_an_escalate_to_that_names_no_person_or_channel(installed: RitualCli) -> None:
    (installed.config / "apprise.txt").write_text("couple=json://127.0.0.1:9/\n", encoding="utf-8")
    path = installed.config / "rituals.toml"
    extra = '\n[[ritual]]\nname = "walk"\nat = "20:30"\nescalate_after = "2h"\nescalate_to = ["kim"]\n'
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    result = installed("check", code=1)
    assert "ritual 'walk': escalate_to names no person or channel: kim" in result.stderr
