"""An upgrade from the first schema keeps everything people did.

A database is built by revision 0001 alone and filled with plain SQL, the way a 0001-era
ritual-scheduler left it: several rituals (one retired), effective-dated cadence versions,
a history of completions (by person, with notes, some from nudge links), skips and pauses.
``SqlStore.open`` then migrates it to head, and:

- every completion is still there, field for field (day, by, note, at, ...);
- every ritual loads, with its cadence history;
- `ritual streaks --json` works on it and says exactly what it says on a database that
  today's code wrote with the same history.

Refusing a database from a newer schema is covered by tests/test_store.py
(test_a_newer_schema_is_refused_and_left_alone), so it is not repeated here.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.store import SqlStore, migrate
from scheduler.adapters.store.engine import parse_url
from scheduler.app.stored import RitualSource
from scheduler.domain.definitions import ritual_from_table
from tests.conftest import NOW, RitualCli, snapshot
from tests.scenarios.conftest import figures, scaled
from tests.support.store import raw_engine, stamped

pytestmark = pytest.mark.slow

# How much history the old database holds: a year and a half in CI, six years in a full run,
# and in a full run each ritual also comes in several copies.
FIRST_DAY = scaled(date(2025, 6, 2), date(2020, 11, 2))
COPIES = scaled(1, 4)
YESTERDAY = date(2026, 11, 23)  # NOW is 2026-11-24 in Berlin
SEEDED_AT = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
PEOPLE = ("ann", "ben", "")
NOTES = ("", "lovely", 'a "quoted" note', "tränen gelacht 😂", "two\nlines", "it's fine; really")


@dataclass
class Version:
    effective_from: date
    cadence: dict[str, Any]  # the cadence table, as 0001's store wrote it (JSON)


@dataclass
class OldRitual:
    name: str
    definition: dict[str, Any]  # the ritual table, as 0001's store wrote it (JSON)
    versions: list[Version]
    done_on: list[date]
    removed: bool = False
    completions: list[dict[str, Any]] = field(default_factory=list)
    skips: list[tuple[date, str]] = field(default_factory=list)
    pauses: list[tuple[date, date | None, str]] = field(default_factory=list)


def cadence(every: str, on: list[str], zone: str, *, day_starts_at: str = "00:00") -> dict[str, Any]:
    return {
        "every": every,
        "interval": 1,
        "times": 1,
        "on": on,
        "timezone": zone,
        "day_starts_at": day_starts_at,
        "week_starts": "mon",
    }


def days(first: date, last: date, keep: Any) -> list[date]:
    count = (last - first).days + 1
    return [d for d in (first + timedelta(days=n) for n in range(count)) if keep(d)]


def catalogue(copy: int) -> list[OldRitual]:
    """The rituals of one household; ``copy`` > 0 makes another household's worth under new names."""
    suffix = f"-{copy}" if copy else ""
    berlin = "Europe/Berlin"
    gap = date(2026, 6, 10)  # talk's one missed day
    weekdays = ["mon", "tue", "wed", "thu", "fri"]
    switch = date(2026, 1, 5)  # hug: daily until then, weekdays from then on
    talk = OldRitual(
        name=f"talk{suffix}",
        definition={
            **cadence("day", [], berlin, day_starts_at="03:00"),
            "name": f"talk{suffix}",
            "title": "20 minutes, phones away",
            "dimension": "emotional",
            "at": ["20:30"],
            "nag_after": "1h30m",
            "people": ["ann", "ben"],
        },
        versions=[Version(FIRST_DAY, cadence("day", [], berlin, day_starts_at="03:00"))],
        done_on=days(FIRST_DAY, YESTERDAY, lambda d: d != gap),
    )
    date_night = OldRitual(
        name=f"date-night{suffix}",
        definition={
            **cadence("week", ["sat"], berlin),
            "name": f"date-night{suffix}",
            "title": "Date night",
            "dimension": "experiential",
            "at": ["19:00"],
            "remind_before": "1d",
        },
        versions=[
            Version(FIRST_DAY, cadence("week", ["fri"], berlin)),
            Version(date(2026, 3, 2), cadence("week", ["sat"], berlin)),
        ],
        done_on=days(
            FIRST_DAY,
            YESTERDAY,
            lambda d: d.weekday() == (4 if d < date(2026, 3, 2) else 5) and d != date(2025, 12, 26),
        ),
        skips=[(date(2025, 12, 26), "family visit")],  # that week is excused, not missed
    )
    new_experience = OldRitual(
        name=f"new-experience{suffix}",
        definition={
            **cadence("month", ["first sat"], berlin),
            "name": f"new-experience{suffix}",
            "title": "Something new, together",
            "dimension": "experiential",
            "at": ["10:00"],
            "people": ["ann", "ben"],
            "complete_when": "both",
        },
        versions=[Version(FIRST_DAY, cadence("month", ["first sat"], berlin))],
        done_on=days(FIRST_DAY, YESTERDAY, lambda d: d.weekday() == 5 and d.day <= 7),
    )
    hug = OldRitual(
        name=f"hug{suffix}",
        definition={
            **cadence("day", weekdays, "UTC"),
            "name": f"hug{suffix}",
            "title": "Morning hug",
            "dimension": "physical",
            "at": ["07:30"],
        },
        versions=[
            Version(FIRST_DAY, cadence("day", [], "UTC")),
            Version(switch, cadence("day", weekdays, "UTC")),
        ],
        done_on=days(FIRST_DAY, YESTERDAY, lambda d: d.toordinal() % 7 != 3),
        pauses=[(date(2026, 8, 1), date(2026, 8, 14), "holiday"), (date(2026, 11, 20), None, "ill")],
    )
    journal = OldRitual(
        name=f"journal{suffix}",
        definition={
            **cadence("day", [], "America/St_Johns"),
            "name": f"journal{suffix}",
            "title": "Journal",
            "dimension": "self",
        },
        versions=[Version(FIRST_DAY, cadence("day", [], "America/St_Johns"))],
        done_on=days(FIRST_DAY, date(2026, 2, 1), lambda d: d.day % 3 == 0),
        removed=True,
    )
    rituals = [talk, date_night, new_experience, hug, journal]
    for ritual in rituals:
        zone = ZoneInfo(ritual.definition["timezone"])
        both = ritual.definition.get("complete_when") == "both"
        for n, day in enumerate(ritual.done_on):
            for by in ("ann", "ben") if both else (PEOPLE[n % 3],):
                local = datetime(day.year, day.month, day.day, 20, 45, n % 60, tzinfo=zone)
                at = local.astimezone(UTC).replace(microsecond=(n * 7919) % 1_000_000 if n % 4 else 0)
                link = n % 5 == 0
                ritual.completions.append(
                    {
                        "day": day,
                        "at": at,
                        "period_key": day.isoformat(),
                        "by_person": by,
                        "note": NOTES[n % len(NOTES)],
                        "source": "link" if link else "cli",
                        "occurrence": f"{ritual.name}/{day.isoformat()}/20:30" if link else None,
                        "created_at": at + timedelta(seconds=1),
                    }
                )
    return rituals


def sql_time(value: datetime, n: int) -> str:
    """An aware time as SQLAlchemy's SQLite dialect stored it (UTC, no offset); a few without the
    fraction, as some writer of plain SQL would leave them."""
    text = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return text[:-7] if n % 9 == 0 and value.microsecond == 0 else text


def seed_0001(path: Path, rituals: list[OldRitual]) -> int:
    """Fill a database of revision 0001 with plain SQL; return how many rows went in."""
    count = 0
    with sqlite3.connect(path) as db:
        for ritual_id, ritual in enumerate(rituals, start=1):
            definition = ritual.definition
            db.execute(
                "INSERT INTO ritual (id, name, title, dimension, source, definition, created_at, updated_at,"
                " removed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ritual_id,
                    ritual.name,
                    definition["title"],
                    definition["dimension"],
                    "file",
                    json.dumps(definition),
                    sql_time(SEEDED_AT, 1),
                    sql_time(SEEDED_AT, 1),
                    sql_time(datetime(2026, 2, 2, 8, 0, tzinfo=UTC), 1) if ritual.removed else None,
                ),
            )
            db.executemany(
                "INSERT INTO cadence_version (ritual_id, effective_from, cadence, recorded_at)"
                " VALUES (?, ?, ?, ?)",
                [
                    (ritual_id, v.effective_from.isoformat(), json.dumps(v.cadence), sql_time(SEEDED_AT, 1))
                    for v in ritual.versions
                ],
            )
            db.executemany(
                "INSERT INTO completion (ritual_id, day, at, period_key, by_person, note, source, occurrence,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        ritual_id,
                        c["day"].isoformat(),
                        sql_time(c["at"], n),
                        c["period_key"],
                        c["by_person"],
                        c["note"],
                        c["source"],
                        c["occurrence"],
                        sql_time(c["created_at"], n),
                    )
                    for n, c in enumerate(ritual.completions)
                ],
            )
            db.executemany(
                "INSERT INTO skip (ritual_id, day, reason, created_at) VALUES (?, ?, ?, ?)",
                [(ritual_id, d.isoformat(), why, sql_time(SEEDED_AT, 1)) for d, why in ritual.skips],
            )
            db.executemany(
                'INSERT INTO pause (ritual_id, start, "until", reason, created_at) VALUES (?, ?, ?, ?, ?)',
                [
                    (ritual_id, s.isoformat(), u.isoformat() if u else None, why, sql_time(SEEDED_AT, 1))
                    for s, u, why in ritual.pauses
                ],
            )
            count += (
                1 + len(ritual.versions) + len(ritual.completions) + len(ritual.skips) + len(ritual.pauses)
            )
        db.execute("INSERT INTO meta (key, value) VALUES ('ritual_file_hash', 'from-0001')")
    return count + 1


def write_with_todays_code(url: str, rituals: list[OldRitual]) -> None:
    """The same history written through today's SqlStore API: the reference for the reports."""
    store = SqlStore.open(url)
    try:
        with store.transaction():
            for ritual in rituals:
                # One save per cadence version (the last one is the definition as it stands).
                for version in ritual.versions:
                    stored = store.save_ritual(
                        ritual_from_table({**ritual.definition, **version.cadence}),
                        RitualSource.FILE,
                        now=SEEDED_AT,
                        effective_from=version.effective_from,
                    )
                for c in ritual.completions:
                    store.add_completion(
                        stored.id,
                        day=c["day"],
                        at=c["at"],
                        period_key=c["period_key"],
                        by=c["by_person"],
                        note=c["note"],
                        source=c["source"],
                        occurrence=c["occurrence"],
                        now=c["created_at"],
                    )
                for day, reason in ritual.skips:
                    store.add_skip(stored.id, day=day, reason=reason, now=SEEDED_AT)
                for start, until, reason in ritual.pauses:
                    store.add_pause(stored.id, start=start, until=until, reason=reason, now=SEEDED_AT)
                if ritual.removed:
                    store.remove_ritual(ritual.name, now=datetime(2026, 2, 2, 8, 0, tzinfo=UTC))
    finally:
        store.close()


@pytest.mark.timeout(scaled(120, 900))
def test_a_database_of_the_first_schema_upgrades_keeping_every_completion(tmp_path: Path) -> None:
    rituals = [r for copy in range(COPIES) for r in catalogue(copy)]
    old = RitualCli(tmp_path / "old", FakeClock(NOW))
    url = f"sqlite:///{old.database}"

    with raw_engine(url) as engine:
        migrate.upgrade(engine, parse_url(url), "0001")
    assert stamped(url) == {"0001"}
    seeded = seed_0001(old.database, rituals)

    started = time.perf_counter()
    store = SqlStore.open(url)
    upgrade_seconds = time.perf_counter() - started
    kept_count = 0
    try:
        assert stamped(url) == {migrate.HEAD}
        active = {s.name for s in store.list_rituals()}
        assert active == {r.name for r in rituals if not r.removed}
        for ritual in rituals:
            stored = store.get_ritual(ritual.name, include_removed=True)
            assert stored is not None, ritual.name
            assert (stored.removed_at is not None) == ritual.removed
            assert stored.ritual == ritual_from_table(ritual.definition)
            history = [(v.effective_from, v.cadence) for v in store.cadence_history(stored.id)]
            assert history == [
                (v.effective_from, ritual_from_table({**ritual.definition, **v.cadence}).cadence)
                for v in ritual.versions
            ]
            kept = [
                (c.day, c.by, c.note, c.at, c.period_key, c.source, c.occurrence, c.created_at)
                for c in store.completions(stored.id)
            ]
            fields = ("day", "by_person", "note", "at", "period_key", "source", "occurrence", "created_at")
            kept_count += len(kept)
            # As a multiset: rows that share a day and a time may come back in either order.
            assert sorted(kept, key=repr) == sorted(
                (tuple(c[f] for f in fields) for c in ritual.completions), key=repr
            ), ritual.name
            assert [(s.day, s.reason) for s in store.skips(stored.id)] == ritual.skips
            assert [(p.start, p.until, p.reason) for p in store.pauses(stored.id)] == ritual.pauses
        assert store.get_meta("ritual_file_hash") == "from-0001"
    finally:
        store.close()
    after_upgrade = snapshot(old.database)
    SqlStore.open(url).close()
    assert snapshot(old.database) == after_upgrade, "opening an upgraded database changed it"

    started = time.perf_counter()
    upgraded = old.json("streaks")
    streaks_seconds = time.perf_counter() - started
    listed = old.json("list")

    reference = RitualCli(tmp_path / "new", FakeClock(NOW))
    write_with_todays_code(f"sqlite:///{reference.database}", rituals)
    assert upgraded == reference.json("streaks"), "the upgraded database reports differently"
    assert [r["name"] for r in listed] == [r["name"] for r in reference.json("list")]

    by_name = {row["name"]: row for row in upgraded}
    talk = by_name["talk"]
    run = (YESTERDAY - date(2026, 6, 10)).days  # every day since the one missed day
    assert (talk["current_streak"], talk["last_completion"]) == (run, YESTERDAY.isoformat())
    assert talk["longest_streak"] == max(run, (date(2026, 6, 10) - FIRST_DAY).days)
    assert talk["missed"] == 1
    date_night = by_name["date-night"]
    assert (date_night["excused"], date_night["missed"]) == (1, 0), "the skip survived the upgrade"
    completions = sum(len(r.completions) for r in rituals)
    figures(
        "upgrade from revision 0001",
        rituals=f"{len(rituals)} ({sum(r.removed for r in rituals)} retired)",
        cadence_versions=sum(len(r.versions) for r in rituals),
        completions=completions,
        rows_seeded_with_plain_sql=seeded,
        history=f"{FIRST_DAY} .. {YESTERDAY}",
        upgrade_0001_to_head=f"{upgrade_seconds * 1000:.0f} ms ({migrate.HEAD})",
        completions_kept=f"{kept_count}/{completions}",
        streaks_json=f"{streaks_seconds * 1000:.0f} ms for {len(upgraded)} rituals",
        talk_streak=f"current {talk['current_streak']}, longest {talk['longest_streak']}",
    )
