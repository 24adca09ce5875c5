"""The leader's periodic tick reads sets, not one ritual or one occurrence at a time.

Every statement the store sends is counted (SQLAlchemy's ``before_cursor_execute``), on
each backend of ``store_url``: the tick's reads must cost the same with 5 rituals as with
50, and with an unchanged ``rituals_version`` escalation must not list the rituals again.
(SQLite's ``BEGIN`` counts too; ``completion_marks_of`` reads through the driver's own cursor,
which the event does not see: it is one statement per 500 rituals all the same.)
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.store import SqlStore
from scheduler.app.nudging import Nudger
from scheduler.app.outbox import ChannelOutbox
from scheduler.app.service import RitualService
from scheduler.app.stored import DeliveryStatus, OccurrenceKind, OccurrenceRecord, OccurrenceStatus
from scheduler.domain.people import Household, Person
from tests.support.fakes import Phone, Phones

DAY = date(2026, 3, 2)
DUE_AT = datetime(2026, 3, 2, 20, 30, tzinfo=UTC)
NOW = DUE_AT + timedelta(hours=2, minutes=5)  # the escalations of DUE_AT's nudges are due
ALEX_AND_SAM = Household((Person("alex", "Alex"), Person("sam", "Sam")))


def _phones(*replacing: bool) -> Phones:
    """Alex's and Sam's phones; by default Alex's can replace a nudge (ntfy), Sam's cannot."""
    alex, sam = replacing or (True, False)
    return Phones([Phone("alex", alex), Phone("sam", sam)])


class Tick:
    """A household on ``url``: rituals whose nudge went out at DUE_AT, counted statements."""

    def __init__(self, url: str, folder: Path, channels: Phones | None = None) -> None:
        self.clock = FakeClock(DUE_AT - timedelta(days=1))
        self.store = SqlStore.open(url)
        self.service = RitualService(
            self.store,
            self.clock,
            ritual_file=folder / "none.toml",
            default_timezone="UTC",
            household=ALEX_AND_SAM,
        )
        self.phones = channels or _phones()
        self.outbox = ChannelOutbox(
            self.service, self.phones, self.clock, timeout=1.0, max_attempts=3,
            max_age=timedelta(hours=1), rng=random.Random(1),
        )  # fmt: skip
        self.nudger = Nudger(self.service, self.outbox, self.clock)
        self.statements: list[str] = []
        event.listen(self.store._engine, "before_cursor_execute", self._count)

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)

    def close(self) -> None:
        event.remove(self.store._engine, "before_cursor_execute", self._count)
        self.store.close()

    @contextmanager
    def counting(self) -> Iterator[list[str]]:
        """The statements sent inside the block."""
        start = len(self.statements)
        seen: list[str] = []
        yield seen
        seen.extend(self.statements[start:])

    def nudged(self, name: str, *, to: str, kept: bool, **table: object) -> OccurrenceRecord:
        """A daily 20:30 ritual whose DUE_AT nudge went out to ``to``; done that day if ``kept``."""
        self.clock.set(DUE_AT - timedelta(days=1))
        stored = self.service.add(
            {"name": name, "at": "20:30", "timezone": "UTC", "people": ["alex"], **table}
        )
        occurrence, _ = self.store.claim_occurrence(
            stored.id,
            day=DAY,
            slot="20:30",
            kind=OccurrenceKind.DUE,
            due_at=DUE_AT,
            status=OccurrenceStatus.SENT,
            now=DUE_AT,
        )
        (row,) = self.store.add_deliveries(occurrence.id, [(to, f"t-{to}")], now=DUE_AT)
        self.store.finish_delivery(row.id, DeliveryStatus.SENT, now=DUE_AT)
        if kept:
            self.clock.set(DUE_AT + timedelta(minutes=10))
            self.service.record_done(name, by="alex")
        self.clock.set(NOW)
        return occurrence

    def add(self, first: int, last: int) -> None:
        """Rituals ``first``..``last - 1`` of two kinds: one escalates but is kept (its nudge on
        Sam's phone, which cannot be replaced), one does not escalate and is not kept yet (its
        nudge on Alex's phone, which can): the tick reads everything and writes nothing."""
        for n in range(first, last):
            self.nudged(f"walk-{n}", to="sam", kept=True, escalate_after="2h", escalate_to=["sam"])
            self.nudged(f"talk-{n}", to="alex", kept=False)


@pytest.fixture
def tick(store_url: str, tmp_path: Path) -> Iterator[Tick]:
    made = Tick(store_url, tmp_path)
    yield made
    made.close()


def _ritual_reads(statements: Sequence[str]) -> list[str]:
    """The reads of the ritual table's rows (not a claim's check that its ritual exists)."""
    return [s for s in statements if "ritual.definition" in s]


def _list_reads(statements: Sequence[str]) -> list[str]:
    """The reads of every ritual (``list_rituals``)."""
    return [s for s in _ritual_reads(statements) if "ORDER BY ritual.name" in " ".join(s.split())]


def _queries(statements: Sequence[str]) -> list[str]:
    """The statements but SQLite's own BEGIN of each session."""
    return [s for s in statements if s.strip() != "BEGIN"]


def test_the_ticks_statements_do_not_grow_with_the_rituals(tick: Tick) -> None:
    tick.add(0, 5)
    tick.nudger.deliver_due()  # lists the rituals that escalate once, as of this version
    with tick.counting() as five:
        assert tick.nudger.deliver_due() == 0
    tick.add(5, 50)
    tick.nudger.deliver_due()
    with tick.counting() as fifty:
        assert tick.nudger.deliver_due() == 0
    assert len(fifty) == len(five), "\n".join(fifty)
    writes = [s for s in fifty if not s.lstrip().upper().startswith(("SELECT", "BEGIN")) or "IMMEDIATE" in s]
    assert writes == [], "a tick with nothing due writes nothing"
    assert len(_ritual_reads(fifty)) == 1  # the rituals of the nudges that could be cleared
    recorded = tick.store.occurrences(since=DUE_AT)
    assert {o.kind for o in recorded} == {OccurrenceKind.DUE}, "nothing escalated, nothing cleared"
    assert tick.phones.sent == []


def test_escalate_lists_the_rituals_again_only_when_they_changed(tick: Tick) -> None:
    tick.add(0, 3)
    with tick.counting() as first:
        assert tick.nudger.escalate() == 0
    assert len(_list_reads(first)) == 1
    with tick.counting() as again:
        assert tick.nudger.escalate() == 0
    assert _ritual_reads(again) == [], "the same rituals_version: no list read"
    tick.service.edit("walk-0", {"escalate_after": "3h"})
    with tick.counting() as changed:
        assert tick.nudger.escalate() == 0
    assert len(_list_reads(changed)) == 1


def test_escalate_lists_nothing_after_the_daemon_handed_it_the_rituals_it_read(tick: Tick) -> None:
    tick.add(0, 3)
    version = tick.service.rituals_version()
    tick.nudger.know_rituals(tick.service.list_rituals(), version)  # as the daemon's reconcile does
    with tick.counting() as first:
        assert tick.nudger.escalate() == 0
    assert _ritual_reads(first) == [], "the first tick after a reconcile lists no ritual"
    tick.nudger.know_rituals([], "an older version")
    with tick.counting() as stale:
        assert tick.nudger.escalate() == 0
    assert len(_list_reads(stale)) == 1, "a list handed in for another version is not trusted"


def test_escalate_reads_one_statement_when_no_ritual_escalates(tick: Tick) -> None:
    tick.nudged("talk", to="alex", kept=False)
    tick.nudger.escalate()
    with tick.counting() as seen:
        assert tick.nudger.escalate() == 0
    assert len(_queries(seen)) == 1, seen  # the rituals' version, nothing else


def test_an_escalation_still_goes_out_from_the_cached_list(tick: Tick) -> None:
    tick.nudged("walk", to="sam", kept=False, escalate_after="2h", escalate_to=["sam"])
    tick.clock.set(DUE_AT + timedelta(hours=1))
    assert tick.nudger.escalate() == 0  # not yet: lists the rituals that escalate
    tick.clock.set(DUE_AT + timedelta(hours=2, seconds=30))  # on time
    with tick.counting() as seen:
        assert tick.nudger.escalate() == 1
    assert _ritual_reads(seen) == []
    assert [person for person, _ in tick.phones.sent] == ["sam"]
    escalated = [o for o in tick.store.occurrences(since=DUE_AT) if o.kind is OccurrenceKind.ESCALATE]
    assert [(o.day, o.due_at, o.status) for o in escalated] == [
        (DAY, DUE_AT + timedelta(hours=2), OccurrenceStatus.SENT)
    ]
    assert tick.nudger.escalate() == 0  # once a period


def test_clear_kept_reads_nothing_when_no_channel_can_replace(store_url: str, tmp_path: Path) -> None:
    tick = Tick(store_url, tmp_path, _phones(False, False))
    try:
        tick.nudged("talk", to="alex", kept=True)
        with tick.counting() as seen:
            assert tick.nudger.clear_kept() == 0
        assert seen == []
    finally:
        tick.close()


@pytest.mark.parametrize("count", [5, 50])
def test_the_outbox_batch_and_recover_read_a_fixed_number_of_statements(tick: Tick, count: int) -> None:
    """Delivery rows of ``count`` rituals' nudges (and the household's) are matched with their
    occurrences and rituals in two reads; recovering their pending nudges costs three."""
    rows = []
    names = {}
    for n in range(count):
        stored = tick.service.add({"name": f"talk-{n}", "at": "20:30", "timezone": "UTC"})
        occurrence, _ = tick.store.claim_occurrence(
            stored.id, day=DAY, slot="20:30", kind=OccurrenceKind.DUE, due_at=DUE_AT,
            status=OccurrenceStatus.PENDING, now=DUE_AT,
        )  # fmt: skip
        names[occurrence.id] = stored.name
        rows += tick.store.add_deliveries(occurrence.id, [("alex", "t-alex"), ("sam", "t-sam")], now=DUE_AT)
    household, _ = tick.store.claim_occurrence(
        None, day=DAY, slot="digest", kind=OccurrenceKind.DIGEST, due_at=DUE_AT,
        status=OccurrenceStatus.PENDING, now=DUE_AT,
    )  # fmt: skip
    rows += tick.store.add_deliveries(household.id, [("alex", "t-alex")], now=DUE_AT)
    for row in rows:  # all waiting on a retry: recover leaves them to the retry pass
        tick.store.finish_delivery(
            row.id, DeliveryStatus.RETRY, now=DUE_AT, error="503", next_attempt_at=NOW + timedelta(hours=1)
        )
    with tick.counting() as seen:
        batch = tick.outbox._batch(rows)
    assert len(_queries(seen)) == 2, seen
    assert len(batch) == count + 1
    for subject, occurrence, mine in batch:
        assert (subject.name if subject else None) == names.get(occurrence.id)
        assert {row.occurrence_id for row in mine} == {occurrence.id}
    assert sum(len(mine) for _, _, mine in batch) == len(rows)
    with tick.counting() as recovering:
        assert tick.outbox.recover() == 0
    assert len(_queries(recovering)) == 3, recovering
