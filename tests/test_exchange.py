"""Exports and imports: JSON/CSV backups round-trip through real stores, ICS feeds, Loop files."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from scheduler.adapters.ics import ics_feed
from scheduler.adapters.store import SqlStore
from scheduler.app.exchange import (
    CSV_COLUMNS,
    CompletionEntry,
    ImportFileError,
    ImportResult,
    LoopHabit,
    LoopImport,
    PauseEntry,
    RitualEntry,
    RitualMerge,
    SkipEntry,
    Snapshot,
    apply_import,
    load_loop,
    loop_cadence,
    loop_snapshot,
    parse_csv,
    parse_json,
    parse_loop_csv,
    read_snapshot,
    slugify,
    to_csv,
    to_json,
)
from scheduler.app.stored import RitualSource
from scheduler.app.views import Upcoming
from scheduler.domain import cadence as cad
from scheduler.domain.definitions import Ritual, ritual_from_table, ritual_to_table
from scheduler.domain.reminders import NudgeKind, planned_nudges

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")

TALK = {
    "name": "tech-free-talk",
    "title": "20 minutes, phones away",
    "description": "Sit down, no screens.",
    "dimension": "emotional",
    "timezone": "Europe/Berlin",
    "at": "20:30",
    "people": ["ana", "ben"],
}
DATE_NIGHT = {"name": "date-night", "every": "week", "on": "fri", "at": "19:00", "dimension": "experiential"}

Format = tuple[Callable[[Snapshot], str], Callable[[str, str], Snapshot], str]
FORMATS = [
    pytest.param((to_json, parse_json, "backup.json"), id="json"),
    pytest.param((to_csv, parse_csv, "backup.csv"), id="csv"),
]


# --- helpers --------------------------------------------------------------------------------------


def ritual(**table: Any) -> Ritual:
    return ritual_from_table(table)


@pytest.fixture
def other(tmp_path: Path) -> Iterator[SqlStore]:
    """A second, empty store: where backups of the first one are imported."""
    opened = SqlStore.open(f"sqlite:///{tmp_path / 'other' / 'ritual.db'}")
    yield opened
    opened.close()


def complete(store: SqlStore, name: str, day: date, *, at: datetime | None = None, **fields: Any) -> None:
    stored = store.get_ritual(name, include_removed=True)
    assert stored is not None
    versions = store.cadence_history(stored.id)
    cadence = next((v.cadence for v in reversed(versions) if v.effective_from <= day), versions[0].cadence)
    store.add_completion(
        stored.id,
        day=day,
        at=at or datetime.combine(day, time(19, 0), tzinfo=UTC),
        period_key=cad.period_of(cadence, day).key,
        by=fields.get("by", ""),
        note=fields.get("note", ""),
        source=fields.get("source", "cli"),
        occurrence=fields.get("occurrence"),
        now=NOW,
        again=fields.get("again", False),
    )


def populate(store: SqlStore) -> None:
    """A household's history: daily then 3 a week, a removed ritual, people, notes, repeats."""
    store.save_ritual(ritual(**TALK), RitualSource.FILE, now=NOW, effective_from=date(2026, 1, 1))
    talk = store.save_ritual(
        ritual(**TALK, every="week", times=3), RitualSource.FILE, now=NOW, effective_from=date(2026, 2, 2)
    )
    night = store.save_ritual(
        ritual(**DATE_NIGHT), RitualSource.CLI, now=NOW, effective_from=date(2026, 1, 2)
    )
    complete(store, "tech-free-talk", date(2026, 1, 4), by="ana", note='walked, then "tea", then\nbed')
    complete(
        store, "tech-free-talk", date(2026, 1, 4), by="ben", occurrence="tech-free-talk/2026-01-04/20:30"
    )
    complete(store, "tech-free-talk", date(2026, 2, 3), by="ben", note="short one; still counts")
    # Two identical back-fills of one day (the second asked for with --again) are two
    # completions, and stay two.
    complete(store, "tech-free-talk", date(2026, 2, 4), at=datetime(2026, 2, 4, 11, 0, tzinfo=UTC))
    complete(
        store, "tech-free-talk", date(2026, 2, 4), at=datetime(2026, 2, 4, 11, 0, tzinfo=UTC), again=True
    )
    complete(store, "date-night", date(2026, 1, 9), by="ana", source="link")
    store.add_skip(talk.id, day=date(2026, 1, 10), reason="flu", now=NOW)
    store.add_pause(talk.id, start=date(2026, 2, 10), until=date(2026, 2, 14), reason="trip, Lisbon", now=NOW)
    store.add_pause(night.id, start=date(2026, 2, 1), until=None, reason="", now=NOW)
    store.remove_ritual("date-night", now=NOW)


def csv_text(*rows: dict[str, str]) -> str:
    """A backup CSV with the given rows under the header (row n is on line n + 1)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def ritual_row(table: dict[str, Any], **cells: str) -> dict[str, str]:
    return {
        "record": "ritual",
        "ritual": str(table.get("name", "")),
        "definition": json.dumps(table),
        **cells,
    }


HUG = {"name": "hug", "every": "day"}
HUG_ROW = ritual_row(HUG)


def completion_row(**cells: str) -> dict[str, str]:
    return {
        "record": "completion",
        "ritual": "hug",
        "day": "2026-01-05",
        "at": "2026-01-05T08:00:00+00:00",
    } | cells


def json_text(**parts: Any) -> str:
    return json.dumps({"format": "ritual-scheduler", "version": 1} | parts)


def completion_object(**fields: Any) -> dict[str, Any]:
    return {"ritual": "hug", "day": "2026-01-05", "at": "2026-01-05T08:00:00+00:00"} | fields


# --- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_backup_restores_into_an_empty_store_as_the_same_document(
    store: SqlStore, other: SqlStore, fmt: Format
) -> None:
    write, parse, path = fmt
    populate(store)
    document = write(read_snapshot(store))

    result = apply_import(other, parse(document, path), now=NOW)

    assert write(read_snapshot(other)) == document
    assert result == ImportResult(
        rituals_added=("date-night", "tech-free-talk"),
        completions_added=6,
        skips_added=1,
        pauses_added=2,
        rituals=(
            RitualMerge("date-night", "new", True, (1, 0), (0, 0), (1, 0)),
            RitualMerge("tech-free-talk", "new", False, (5, 0), (1, 0), (1, 0)),
        ),
    )


def test_a_restored_store_keeps_cadence_history_and_period_keys(store: SqlStore, other: SqlStore) -> None:
    populate(store)
    apply_import(other, parse_json(to_json(read_snapshot(store)), "backup.json"), now=NOW)

    for name in ("tech-free-talk", "date-night"):
        before, after = (
            store.get_ritual(name, include_removed=True),
            other.get_ritual(name, include_removed=True),
        )
        assert before is not None and after is not None
        assert after.ritual == before.ritual
        assert after.removed_at is not None if name == "date-night" else after.removed_at is None
        history = [(v.effective_from, v.cadence) for v in other.cadence_history(after.id)]
        assert history == [(v.effective_from, v.cadence) for v in store.cadence_history(before.id)]
        keys = sorted((c.day, c.period_key) for c in other.completions(after.id))
        assert keys == sorted((c.day, c.period_key) for c in store.completions(before.id))
    talk = other.get_ritual("tech-free-talk")
    assert talk is not None
    # A daily period before the change, a Monday-started week after it.
    assert sorted({(c.day.isoformat(), c.period_key) for c in other.completions(talk.id)}) == [
        ("2026-01-04", "2026-01-04"),
        ("2026-02-03", "2026-02-02"),
        ("2026-02-04", "2026-02-02"),
    ]


def test_json_and_csv_carry_the_same_snapshot(store: SqlStore) -> None:
    populate(store)
    snapshot = read_snapshot(store)

    assert parse_json(to_json(snapshot), "backup.json") == snapshot
    assert parse_csv(to_csv(snapshot), "backup.csv") == snapshot


def test_the_export_documents_are_versioned_and_readable(store: SqlStore) -> None:
    populate(store)
    snapshot = read_snapshot(store)
    document = json.loads(to_json(snapshot))
    header, first = to_csv(snapshot).splitlines()[:2]

    assert list(document) == ["format", "version", "rituals", "completions", "skips", "pauses"]
    assert (document["format"], document["version"]) == ("ritual-scheduler", 1)
    assert document["rituals"][0]["removed"] is True
    assert document["pauses"][0] == {
        "ritual": "date-night",
        "from": "2026-02-01",
        "until": None,
        "reason": "",
    }
    assert header == ",".join(CSV_COLUMNS)
    assert first.startswith('ritual,date-night,,,,,cli,,,,,true,"{""name"":""date-night""')


texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)


@settings(max_examples=40, deadline=None)
@given(
    by=texts,
    note=texts,
    reason=texts,
    occurrence=st.none() | texts.filter(bool),
    at=st.datetimes(min_value=datetime(2000, 1, 1), timezones=st.just(UTC)),
)
def test_any_text_survives_both_formats(
    by: str, note: str, reason: str, occurrence: str | None, at: datetime
) -> None:
    snapshot = Snapshot(
        completions=(CompletionEntry("hug", at.date(), at, by, note, "cli", occurrence),),
        skips=(SkipEntry("hug", at.date(), reason),),
        pauses=(PauseEntry("hug", at.date(), None, reason),),
    )

    assert parse_csv(to_csv(snapshot), "backup.csv") == snapshot
    assert parse_json(to_json(snapshot), "backup.json") == snapshot


# --- merging --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_importing_the_same_file_twice_adds_nothing_the_second_time(
    store: SqlStore, other: SqlStore, fmt: Format
) -> None:
    write, parse, path = fmt
    populate(store)
    snapshot = parse(write(read_snapshot(store)), path)
    apply_import(other, snapshot, now=NOW)
    after_first = read_snapshot(other)

    second = apply_import(other, snapshot, now=NOW + timedelta(days=1))

    assert read_snapshot(other) == after_first
    assert second == ImportResult(
        rituals_kept=("date-night", "tech-free-talk"),
        completions_present=6,
        skips_present=1,
        pauses_present=2,
        rituals=(
            RitualMerge("date-night", "same", False, (0, 1), (0, 0), (0, 1)),
            RitualMerge("tech-free-talk", "same", False, (0, 5), (0, 1), (0, 1)),
        ),
    )
    assert second.lines() == []  # nothing changes, so a real import lists nothing
    assert not second.changed


def test_a_ritual_already_there_is_kept_as_it_is_and_gets_the_history(
    store: SqlStore, other: SqlStore
) -> None:
    populate(store)
    mine = other.save_ritual(
        ritual(**TALK | {"title": "Our talk"}), RitualSource.CLI, now=NOW, effective_from=date(2026, 3, 1)
    )

    result = apply_import(other, read_snapshot(store), now=NOW)

    assert result.rituals_conflicting == ("tech-free-talk",)
    assert result.rituals_added == ("date-night",)
    kept = other.get_ritual("tech-free-talk")
    assert kept is not None and kept.ritual == mine.ritual and kept.source is RitualSource.CLI
    assert [(v.effective_from, v.cadence) for v in other.cadence_history(mine.id)] == [
        (date(2026, 3, 1), mine.ritual.cadence)
    ]
    assert len(other.completions(mine.id)) == 5
    assert "kept 'tech-free-talk' as stored" in result.summary()


def test_a_completion_the_store_has_counts_once_against_the_file(store: SqlStore, other: SqlStore) -> None:
    populate(store)
    apply_import(other, read_snapshot(store), now=NOW)
    talk = other.get_ritual("tech-free-talk")
    assert talk is not None
    repeat = other.completions(talk.id)[-1]
    other.delete_completion(repeat.id)  # one of the two identical back-fills is gone

    result = apply_import(other, read_snapshot(store), now=NOW)

    assert (result.completions_added, result.completions_present) == (1, 5)
    assert read_snapshot(other) == read_snapshot(store)


def test_a_completion_for_an_unknown_ritual_fails_half_way_and_changes_nothing(other: SqlStore) -> None:
    other.save_ritual(ritual(**HUG), RitualSource.CLI, now=NOW, effective_from=date(2026, 1, 1))
    before = read_snapshot(other)
    text = csv_text(
        ritual_row(DATE_NIGHT),
        completion_row(),
        completion_row(ritual="ghost"),
        completion_row(day="2026-01-06", at="2026-01-06T08:00:00+00:00"),
    )

    with pytest.raises(ImportFileError) as raised:
        apply_import(other, parse_csv(text, "backup.csv"), now=NOW)

    assert (
        str(raised.value) == "backup.csv:4: completion: no ritual named 'ghost' in the file or in the store"
    )
    assert read_snapshot(other) == before


def test_a_bad_row_in_the_middle_changes_nothing(store: SqlStore, other: SqlStore) -> None:
    populate(store)
    apply_import(other, read_snapshot(store), now=NOW)
    before = read_snapshot(other)
    lines = to_csv(read_snapshot(store)).splitlines(keepends=True)
    lines.insert(6, "completion,tech-free-talk,2026-13-01,2026-01-05T08:00:00+00:00,,,,,,,,,\n")
    broken = "".join(lines).replace("short one", "a new note")  # a change the import would add

    with pytest.raises(ImportFileError, match=r"^backup\.csv:\d+: completion: not a date: '2026-13-01'$"):
        apply_import(other, parse_csv(broken, "backup.csv"), now=NOW)

    assert read_snapshot(other) == before


def test_a_dry_run_counts_exactly_and_writes_nothing(store: SqlStore, other: SqlStore) -> None:
    populate(store)
    full = read_snapshot(store)
    apply_import(other, replace(full, completions=full.completions[:2], pauses=()), now=NOW)
    before = read_snapshot(other)

    dry = apply_import(other, full, now=NOW, dry_run=True)

    assert read_snapshot(other) == before
    real = apply_import(other, full, now=NOW)
    assert dry == replace(real, dry_run=True)
    assert (dry.completions_added, dry.completions_present, dry.pauses_added) == (4, 2, 2)
    assert dry.summary() == "would add 0 rituals, 4 completions, 0 skips, 2 pauses; 5 already there"


def test_a_new_ritual_without_history_counts_from_its_oldest_completion(other: SqlStore) -> None:
    snapshot = Snapshot(
        rituals=(RitualEntry(ritual_to_table(ritual(**HUG)), RitualSource.CLI),),
        completions=(CompletionEntry("hug", date(2025, 12, 30), datetime(2025, 12, 30, 9, tzinfo=UTC)),),
    )

    apply_import(other, snapshot, now=NOW)

    hug = other.get_ritual("hug")
    assert hug is not None
    assert [v.effective_from for v in other.cadence_history(hug.id)] == [date(2025, 12, 30)]
    assert [(c.source, c.period_key) for c in other.completions(hug.id)] == [("import", "2025-12-30")]


# --- error messages -------------------------------------------------------------------------------

TALK_JSON = {"definition": HUG, "cadence": [{"from": "2026-01-01", "cadence": {"every": "week"}}]}

BAD_FILES = [
    pytest.param(
        parse_csv,
        csv_text(HUG_ROW, completion_row(day="2026-13-01")),
        "backup.csv:3: completion: not a date: '2026-13-01'",
        id="csv-bad-day",
    ),
    pytest.param(
        parse_csv,
        csv_text(HUG_ROW, completion_row(at="2026-01-05T08:00:00")),
        "backup.csv:3: completion: date-time without a time zone: '2026-01-05T08:00:00'",
        id="csv-naive-time",
    ),
    pytest.param(
        parse_csv,
        csv_text(HUG_ROW, {"record": "habit", "ritual": "hug"}),
        "backup.csv:3: unknown record 'habit' (expected ritual, cadence, completion, skip or pause)",
        id="csv-unknown-record",
    ),
    pytest.param(
        parse_csv,
        csv_text({"record": "ritual", "ritual": "hug", "definition": "{name"}),
        "backup.csv:2: ritual: definition is not valid JSON: expecting property name enclosed in double"
        " quotes",
        id="csv-definition-not-json",
    ),
    pytest.param(
        parse_csv,
        csv_text(ritual_row(HUG | {"times": 0})),
        "backup.csv:2: ritual 'hug': times must be between 1 and 100, not 0",
        id="csv-definition-breaks-a-rule",
    ),
    pytest.param(
        parse_csv,
        csv_text(HUG_ROW, {"record": "pause", "ritual": "hug", "from": "2026-02-01", "until": "2026-01-01"}),
        "backup.csv:3: pause: ends 2026-01-01, before it starts 2026-02-01",
        id="csv-pause-ends-before-it-starts",
    ),
    pytest.param(
        parse_csv,
        csv_text(HUG_ROW, {"record": "skip", "ritual": "hug", "day": "2026-01-05", "note": "oops"}),
        "backup.csv:3: skip: column 'note' does not apply to a skip",
        id="csv-cell-in-a-foreign-column",
    ),
    pytest.param(
        parse_csv,
        csv_text(HUG_ROW, completion_row(at="")),
        "backup.csv:3: completion: missing 'at'",
        id="csv-missing-value",
    ),
    pytest.param(
        parse_csv,
        csv_text(HUG_ROW) + "skip,hug,2026-01-05\n",
        "backup.csv:3: expected 13 fields, found 3",
        id="csv-short-row",
    ),
    pytest.param(
        parse_csv,
        "record,ritual,when\n",
        "backup.csv:1: unknown column 'when'",
        id="csv-unknown-column",
    ),
    pytest.param(
        parse_csv,
        csv_text(HUG_ROW, ritual_row(HUG)),
        "backup.csv:3: ritual 'hug': listed twice (first at line 2)",
        id="csv-ritual-twice",
    ),
    pytest.param(
        parse_csv,
        csv_text(HUG_ROW, completion_row(ritual="Morning Hug")),
        "backup.csv:3: completion: not a ritual name: 'Morning Hug'",
        id="csv-bad-ritual-name",
    ),
    pytest.param(
        parse_csv,
        csv_text(ritual_row(HUG, removed="yes")),
        "backup.csv:2: ritual: not true or false: 'yes'",
        id="csv-bad-flag",
    ),
    pytest.param(
        parse_csv,
        csv_text(
            {"record": "cadence", "ritual": "hug", "from": "2026-01-01", "definition": '{"every":"day"}'}
        ),
        "backup.csv:2: cadence: no ritual row for 'hug' in this file",
        id="csv-cadence-without-its-ritual",
    ),
    pytest.param(
        parse_csv,
        csv_text(HUG_ROW, completion_row(note="two\nlines"), completion_row(by="")) + "skip,hug\n",
        "backup.csv:6: expected 13 fields, found 2",
        id="csv-lines-counted-through-a-multi-line-note",
    ),
    pytest.param(parse_csv, "\n\n", "backup.csv: empty file (expected a header line first)", id="csv-empty"),
    pytest.param(
        parse_json,
        json_text(completions=[completion_object(), completion_object(day="x")]),
        "backup.json: completions[1].day: not a date: 'x'",
        id="json-bad-day",
    ),
    pytest.param(
        parse_json,
        '{"format": "ritual-scheduler",\n "version": 1,,\n}',
        "backup.json:2: not valid JSON: expecting property name enclosed in double quotes",
        id="json-syntax",
    ),
    pytest.param(
        parse_json,
        '{"rituals": []}',
        'backup.json: not a ritual-scheduler export (no "format": "ritual-scheduler")',
        id="json-not-an-export",
    ),
    pytest.param(
        parse_json,
        json.dumps({"format": "ritual-scheduler", "version": 2}),
        "backup.json: version: unsupported version 2 (this program reads 1)",
        id="json-newer-version",
    ),
    pytest.param(
        parse_json,
        json.dumps({"format": "ritual-scheduler", "version": True}),
        "backup.json: version: unsupported version true (this program reads 1)",
        id="json-version-not-a-number",
    ),
    pytest.param(
        parse_json,
        json_text(completions=[{"ritual": "hug", "day": "2026-01-05"}]),
        "backup.json: completions[0]: missing 'at'",
        id="json-missing-key",
    ),
    pytest.param(
        parse_json,
        json_text(skips=[{"ritual": "hug", "dya": "2026-01-05"}]),
        "backup.json: skips[0]: unknown key 'dya'",
        id="json-unknown-key",
    ),
    pytest.param(
        parse_json,
        json_text(completions=[completion_object(by=5)]),
        "backup.json: completions[0].by: not text: 5",
        id="json-wrong-type",
    ),
    pytest.param(
        parse_json,
        json_text(rituals=[{"definition": HUG | {"times": 0}}]),
        "backup.json: rituals[0].definition: times must be between 1 and 100, not 0",
        id="json-definition-breaks-a-rule",
    ),
    pytest.param(
        parse_json,
        json_text(rituals=[TALK_JSON]),
        "backup.json: rituals[0].cadence[0]: the newest cadence of 'hug' does not match its definition",
        id="json-history-disagrees-with-definition",
    ),
    pytest.param(
        parse_json,
        json_text(pauses=[{"ritual": "hug", "from": "2026-02-01", "until": "2026-01-01"}]),
        "backup.json: pauses[0]: ends 2026-01-01, before it starts 2026-02-01",
        id="json-pause-ends-before-it-starts",
    ),
    pytest.param(
        parse_json,
        "[" * 100_000 + "]" * 100_000,
        "backup.json: not a backup: arrays or objects nested too deep to read",
        id="json-nested-too-deep",
    ),
]


@pytest.mark.parametrize(("parse", "text", "message"), BAD_FILES)
def test_a_bad_file_gets_one_line_naming_file_and_place(
    parse: Callable[[str, str], Snapshot], text: str, message: str
) -> None:
    path = "backup.json" if parse is parse_json else "backup.csv"

    with pytest.raises(ImportFileError) as raised:
        parse(text, path)

    assert str(raised.value) == message


# --- iCalendar ------------------------------------------------------------------------------------


def upcoming_of(table: dict[str, Any], start: datetime, days: int = 3) -> list[Upcoming]:
    found = ritual(**table)
    nudges = planned_nudges(found.cadence, found.reminders, start, start + timedelta(days=days))
    return [Upcoming(found, nudge) for nudge in nudges]


def feed_items() -> list[Upcoming]:
    start = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)  # Berlin moves its clocks on the 29th
    talk = upcoming_of(TALK | {"remind_before": "1d", "nag_after": "90m"}, start)
    secret = upcoming_of(
        {
            "name": "slow-morning",
            "title": "Breakfast in bed",
            "description": "Shh.",
            "at": "08:00",
            "discreet": True,
        },
        start,
        days=1,
    )
    return talk + secret


def events(feed: bytes) -> dict[str, Any]:
    calendar = Calendar.from_ical(feed)
    return {str(event["uid"]): event for event in calendar.walk("VEVENT")}


def test_the_feed_has_one_event_per_due_time_in_the_ritual_zone() -> None:
    items = feed_items()
    assert {u.nudge.kind for u in items} == {NudgeKind.DUE, NudgeKind.BEFORE, NudgeKind.NAG}

    found = events(ics_feed(items, generated_at=NOW))

    assert sorted(found) == [
        "slow-morning/2026-03-28/08:00@ritual-scheduler",
        "tech-free-talk/2026-03-27/20:30@ritual-scheduler",
        "tech-free-talk/2026-03-28/20:30@ritual-scheduler",
        "tech-free-talk/2026-03-29/20:30@ritual-scheduler",
    ]
    after_the_change = found["tech-free-talk/2026-03-29/20:30@ritual-scheduler"]
    assert after_the_change["dtstart"].params["TZID"] == "Europe/Berlin"
    assert after_the_change.decoded("dtstart") == datetime(2026, 3, 29, 20, 30, tzinfo=BERLIN)
    assert after_the_change.decoded("dtstart").astimezone(UTC).hour == 18
    assert after_the_change.decoded("duration") == timedelta(minutes=30)
    assert after_the_change.decoded("dtstamp") == NOW
    assert str(after_the_change["summary"]) == "20 minutes, phones away"
    assert str(after_the_change["description"]) == "Sit down, no screens."
    assert [str(c) for c in after_the_change["categories"].cats] == ["emotional"]


def test_the_feed_describes_the_zones_it_uses() -> None:
    calendar = Calendar.from_ical(ics_feed(feed_items(), generated_at=NOW))

    assert str(calendar["prodid"]) == "-//ritual-scheduler//EN"
    assert str(calendar["x-wr-calname"]) == "Rituals"
    assert [str(zone["tzid"]) for zone in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert calendar.get_missing_tzids() == set()


def test_a_discreet_ritual_shows_only_ritual_time() -> None:
    found = events(ics_feed(feed_items(), generated_at=NOW))["slow-morning/2026-03-28/08:00@ritual-scheduler"]

    assert str(found["summary"]) == "Ritual time"
    assert "description" not in found and "categories" not in found
    assert found.decoded("dtstart") == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)


def test_the_feed_is_the_same_bytes_for_the_same_nudges_in_any_order() -> None:
    items = feed_items()

    feed = ics_feed(items, generated_at=NOW)

    assert ics_feed(list(reversed(items)), generated_at=NOW) == feed
    assert ics_feed([], generated_at=NOW).count(b"BEGIN:VEVENT") == 0


# --- Loop Habit Tracker ---------------------------------------------------------------------------
# Small files in the shapes Loop's CSV exporter writes (newest first, a trailing comma per line).

LOOP_TABLE_NUMBERS = """Date,Morning Hug,Read together,
2026-01-04,2,3,
2026-01-03,1,2,
2026-01-02,2,0,
2026-01-01,-1,2,
"""
LOOP_TABLE_NAMES = """Date,Morning Hug,Read together,
2026-01-04,YES_MANUAL,SKIP,
2026-01-03,YES_AUTO,YES_MANUAL,
2026-01-02,YES_MANUAL,NO,
2026-01-01,UNKNOWN,YES_MANUAL,
"""
LOOP_HABITS = """Position,Name,Type,Question,Description,FrequencyNumerator,FrequencyDenominator,Color,Unit,\
Target Type,Target Value,Archived?
001,Morning Hug,YES_NO,Did you hug this morning?,,1,1,#FF8F00,,,,false
002,Read together,YES_NO,Did you read aloud?,One chapter,3,7,#00897B,,,,false
003,Old habit,YES_NO,,,1,1,#00897B,,,,true
"""
LOOP_HABITS_OLD = """Position,Name,Description,NumRepetitions,Interval,Color
001,Morning Hug,Did you hug this morning?,1,1,#FF8F00
002,Read together,Did you read aloud?,3,7,#00897B
"""
LOOP_SINGLE = """Date,Value,Notes
2026-01-03,YES_MANUAL,"In the kitchen, laughing"
2026-01-02,NO,Sick
2026-01-01,YES_MANUAL,
"""


@pytest.mark.parametrize("text", [LOOP_TABLE_NUMBERS, LOOP_TABLE_NAMES], ids=["numbers", "names"])
def test_loops_checkmarks_become_completions_and_skips(text: str) -> None:
    found = loop_snapshot(parse_loop_csv(text, "Checkmarks.csv"), (), "Europe/Berlin")

    assert [(c.ritual, c.day) for c in found.completions] == [
        ("morning-hug", date(2026, 1, 4)),
        ("read-together", date(2026, 1, 3)),
        ("morning-hug", date(2026, 1, 2)),
        ("read-together", date(2026, 1, 1)),
    ]
    assert {(c.at.time(), c.at.tzinfo, c.by, c.source) for c in found.completions} == {
        (time(12, 0), UTC, "", "import")
    }
    assert [(s.ritual, s.day, s.reason) for s in found.skips] == [
        ("read-together", date(2026, 1, 4), "skipped in Loop")
    ]
    assert [(r.name, r.table["every"], r.table["timezone"]) for r in found.rituals] == [
        ("morning-hug", "day", "Europe/Berlin"),
        ("read-together", "day", "Europe/Berlin"),
    ]
    assert found.rituals[0].cadence_versions[0][0] == date(2026, 1, 2)


@pytest.mark.parametrize("habits", [LOOP_HABITS, LOOP_HABITS_OLD], ids=["habits-csv", "older-habits-csv"])
def test_habits_csv_says_how_often_and_what_to_ask(habits: str, tmp_path: Path) -> None:
    (tmp_path / "Checkmarks.csv").write_text(LOOP_TABLE_NUMBERS, encoding="utf-8")
    (tmp_path / "Habits.csv").write_text(habits, encoding="utf-8")
    both = load_loop(tmp_path / "Checkmarks.csv")

    found = {r.name: r for r in loop_snapshot(both, (), "UTC").rituals}

    read = ritual_from_table(found["read-together"].table)
    assert (read.cadence.every, read.cadence.times, read.title) == (cad.Every.WEEK, 3, "Read together")
    assert read.description == "Did you read aloud?"
    assert ritual_from_table(found["morning-hug"].table).description == "Did you hug this morning?"
    assert found.get("old-habit") is None or found["old-habit"].removed


def test_one_habits_checkmarks_keep_their_notes() -> None:
    found = loop_snapshot(parse_loop_csv(LOOP_SINGLE, "Checkmarks.csv", name="Morning Hug"), (), "UTC")

    assert [(c.ritual, c.day, c.note) for c in found.completions] == [
        ("morning-hug", date(2026, 1, 3), "In the kitchen, laughing"),
        ("morning-hug", date(2026, 1, 1), ""),
    ]


def test_older_single_habit_files_and_folder_names_are_understood() -> None:
    found = parse_loop_csv("2026-01-02,2\n2026-01-01,0\n", "export/001 Morning Hug/Checkmarks.csv")

    assert found == LoopImport((LoopHabit("Morning Hug"),), found.marks)
    assert [(m.habit, m.day, m.value) for m in found.marks] == [
        (0, date(2026, 1, 2), 2),
        (0, date(2026, 1, 1), 0),
    ]


def test_habits_that_exist_get_only_their_days() -> None:
    found = loop_snapshot(parse_loop_csv(LOOP_TABLE_NUMBERS, "Checkmarks.csv"), {"morning-hug"}, "UTC")

    assert [r.name for r in found.rituals] == ["read-together"]
    assert {c.ritual for c in found.completions} == {"morning-hug", "read-together"}


def test_numerical_habits_without_a_target_count_any_amount() -> None:
    text = "Date,Glasses of water,\n2026-01-02,8000,\n2026-01-01,0,\n"
    table = parse_loop_csv(text, "Checkmarks.csv")
    habits = LoopImport((LoopHabit("Glasses of water", numerical=True),), table.marks)

    found = loop_snapshot(habits, (), "UTC")

    assert [(c.ritual, c.day) for c in found.completions] == [("glasses-of-water", date(2026, 1, 2))]


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        pytest.param(1, 1, {"every": "day", "times": 1}, id="every-day"),
        pytest.param(3, 7, {"every": "week", "interval": 1, "times": 3}, id="three-a-week"),
        pytest.param(1, 14, {"every": "week", "interval": 2, "times": 1}, id="every-two-weeks"),
        pytest.param(2, 30, {"every": "month", "times": 2}, id="twice-a-month"),
        pytest.param(1, 3, {"every": "day", "interval": 3, "times": 1}, id="every-three-days"),
        pytest.param(1, 365, {"every": "month", "interval": 12, "times": 1}, id="once-a-year-as-12-months"),
    ],
)
def test_loop_frequencies_become_cadences(numerator: int, denominator: int, expected: dict[str, Any]) -> None:
    cadence = loop_cadence(LoopHabit("x", numerator=numerator, denominator=denominator))

    assert cadence == expected
    ritual_from_table({"name": "x", **cadence})  # a valid ritual


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Morning Hug", "morning-hug"),
        ("  Café au lait! ", "cafe-au-lait"),
        ("🙂", "habit"),
        ("a" * 60, "a" * 48),
    ],
)
def test_habit_names_become_ritual_names(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_two_habits_with_one_slug_get_distinct_rituals() -> None:
    text = "Date,Hug,hug!,\n2026-01-01,2,2,\n"

    found = loop_snapshot(parse_loop_csv(text, "Checkmarks.csv"), (), "UTC")

    assert [r.name for r in found.rituals] == ["hug", "hug-2"]


BAD_LOOP_FILES = [
    pytest.param(
        "Date,Hug,\n2026-01-02,2,\n2026-13-01,2,\n",
        {},
        "Checkmarks.csv:3: not a date: '2026-13-01'",
        id="bad-date",
    ),
    pytest.param(
        "Date,Hug,\n2026-01-02,MAYBE,\n",
        {},
        "Checkmarks.csv:2: not a Loop checkmark value: 'MAYBE'",
        id="bad-value",
    ),
    pytest.param(
        "Date,Hug,Read,\n2026-01-02,2,2,\n2026-01-01,2,\n",
        {},
        "Checkmarks.csv:3: expected a date and 2 values, found 1; a comma in a habit name? Import the "
        "whole export (its ZIP or folder)",
        id="short-row",
    ),
    pytest.param(
        "Date,Value,Notes\n2026-01-01,2,\n",
        {},
        "Checkmarks.csv: one habit's Checkmarks.csv does not say which habit; give its name",
        id="single-without-name",
    ),
    pytest.param(
        "Position,Name,NumRepetitions,Interval\n001,Hug,x,1\n",
        {},
        "Checkmarks.csv:2: not a frequency (a whole number from 1): 'x'",
        id="bad-frequency",
    ),
    pytest.param(
        "name,when\nhug,today\n",
        {},
        "Checkmarks.csv:1: not a Loop Habit Tracker CSV file (expected Habits.csv or Checkmarks.csv)",
        id="not-loop",
    ),
]


@pytest.mark.parametrize(("text", "options", "message"), BAD_LOOP_FILES)
def test_a_bad_loop_file_gets_one_line(text: str, options: dict[str, str], message: str) -> None:
    with pytest.raises(ImportFileError) as raised:
        parse_loop_csv(text, "Checkmarks.csv", **options)

    assert str(raised.value) == message


def write_export(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "Habits.csv").write_text(LOOP_HABITS, encoding="utf-8")
    (folder / "Checkmarks.csv").write_text(LOOP_TABLE_NAMES, encoding="utf-8")


@pytest.mark.parametrize("given_file", ["Checkmarks.csv", "Habits.csv", "export.zip"])
def test_a_loop_export_imports_once(store: SqlStore, tmp_path: Path, given_file: str) -> None:
    folder = tmp_path / "loop"
    write_export(folder)
    with zipfile.ZipFile(folder / "export.zip", "w") as archive:
        archive.writestr("Habits.csv", LOOP_HABITS)
        archive.writestr("Checkmarks.csv", LOOP_TABLE_NAMES)
    loaded = load_loop(folder / given_file)

    first = apply_import(store, loop_snapshot(loaded, (), "Europe/Berlin"), now=NOW)
    names = [s.name for s in store.list_rituals(include_removed=True)]
    second = apply_import(store, loop_snapshot(loaded, names, "Europe/Berlin"), now=NOW)

    assert first.rituals_added == ("morning-hug", "read-together", "old-habit")
    assert (first.completions_added, first.skips_added) == (4, 1)
    assert (second.completions_added, second.completions_present, second.skips_present) == (0, 4, 1)
    assert [s.name for s in store.list_rituals()] == ["morning-hug", "read-together"]  # old-habit is archived
    read = store.get_ritual("read-together")
    assert read is not None and read.ritual.cadence.times == 3
