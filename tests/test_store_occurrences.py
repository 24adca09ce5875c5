"""Occurrences and the delivery outbox: the store's half of "exactly once".

A contract suite like test_store.py: every test runs on each backend of ``store_url``,
on real database files, with races between separate stores, threads and processes.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import MetaData, insert, text
from sqlalchemy.exc import IntegrityError

from scheduler.adapters.store import SqlStore, migrate
from scheduler.adapters.store import store as store_module
from scheduler.adapters.store.engine import parse_url
from scheduler.app.stored import (
    DeliveryOutcome,
    DeliveryRecord,
    DeliveryStatus,
    LeaderInfo,
    OccurrenceClaim,
    OccurrenceKind,
    OccurrenceRecord,
    OccurrenceStatus,
    RitualSource,
)
from scheduler.domain.definitions import ritual_from_table
from scheduler.domain.errors import StoreError
from scheduler.domain.reminders import NudgeKind
from tests.support.store import SEED, raw_engine, stamped, table_names

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = date(2026, 3, 1)
ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")

Pending = OccurrenceStatus.PENDING
Ds = DeliveryStatus


def minutes(n: int) -> datetime:
    return NOW + timedelta(minutes=n)


def add_ritual(store: SqlStore, name: str) -> int:
    ritual = ritual_from_table({"name": name})
    return store.save_ritual(ritual, RitualSource.FILE, now=NOW, effective_from=DAY).id


@pytest.fixture
def ritual_id(store: SqlStore) -> int:
    return add_ritual(store, "talk")


def claim(
    store: SqlStore,
    ritual_id: int | None,
    *,
    day: date = DAY,
    slot: str = "20:30",
    kind: OccurrenceKind = OccurrenceKind.DUE,
    due_at: datetime = NOW,
    status: OccurrenceStatus = Pending,
    now: datetime = NOW,
    note: str = "",
    epoch: int | None = None,
) -> tuple[OccurrenceRecord, bool]:
    record, created = store.claim_occurrence(
        ritual_id,
        day=day,
        slot=slot,
        kind=kind,
        due_at=due_at,
        status=status,
        now=now,
        note=note,
        epoch=epoch,
    )
    assert record is not None, "fenced"
    return record, created


@pytest.fixture
def occurrence_id(store: SqlStore, ritual_id: int) -> int:
    return claim(store, ritual_id)[0].id


@pytest.fixture
def racers(store_url: str, store: SqlStore) -> Iterator[list[SqlStore]]:
    """Two more stores on the database of ``store``, as two processes of the daemon would have."""
    opened = [SqlStore.open(store_url) for _ in range(2)]
    yield opened
    for racer in opened:
        racer.close()


def race(racers: list[SqlStore], rounds: int, attempt: Callable[[SqlStore, int], T]) -> list[list[T]]:
    """Each racer runs ``attempt(racer, round)`` in its own thread, all starting each round together;
    the results, round by round."""
    start = threading.Barrier(len(racers), timeout=30)

    def run(racer: SqlStore) -> list[T]:
        results = []
        for number in range(rounds):
            start.wait()
            results.append(attempt(racer, number))
        return results

    with ThreadPoolExecutor(max_workers=len(racers)) as pool:
        per_racer = list(pool.map(run, racers))
    return [list(results) for results in zip(*per_racer, strict=True)]


# --- claiming occurrences --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("second", "rows"),
    [
        pytest.param({}, 1, id="the same key twice is one occurrence"),
        pytest.param({"due_at": minutes(60), "kind": "nag"}, 1, id="the key alone decides, not the time"),
        pytest.param({"slot": "nag/20:30"}, 2, id="another slot that day"),
        pytest.param({"day": DAY + timedelta(days=1)}, 2, id="the same slot the next day"),
        pytest.param({"ritual": "walk"}, 2, id="the same slot of another ritual"),
        pytest.param({"ritual": None}, 2, id="a household nudge beside a ritual's"),
    ],
)
def test_a_key_is_claimed_once(store: SqlStore, ritual_id: int, second: dict[str, Any], rows: int) -> None:
    first, created_first = claim(store, ritual_id)
    keys = dict(second)
    other: int | None = ritual_id
    if "ritual" in keys:
        name = keys.pop("ritual")
        other = None if name is None else add_ritual(store, name)
    again, created_again = claim(store, other, **keys)
    assert (created_first, created_again) == (True, rows == 2)
    assert len(store.occurrences()) == rows
    if rows == 1:
        assert again == first


def test_a_household_key_is_claimed_once(store: SqlStore) -> None:
    digest, created = claim(store, None, slot="digest", kind=OccurrenceKind.DIGEST)
    again, created_again = claim(store, None, slot="digest", kind=OccurrenceKind.DIGEST)
    assert (created, created_again) == (True, False)
    assert again == digest
    assert digest.ritual_id is None


def test_the_database_itself_refuses_a_second_household_key(store_url: str, store: SqlStore) -> None:
    """The partial unique index is what makes household keys race-safe; prove it is there."""
    claim(store, None, slot="digest", kind=OccurrenceKind.DIGEST)
    row = {"day": DAY, "slot": "digest", "kind": "digest", "due_at": NOW, "status": "pending"}
    with raw_engine(store_url) as engine:
        schema = MetaData()
        schema.reflect(engine)
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(insert(schema.tables["occurrence"]), [{**row, "created_at": NOW}])


@pytest.mark.parametrize(
    ("status", "decided"),
    [
        pytest.param(OccurrenceStatus.PENDING, False, id="pending is not decided yet"),
        pytest.param(OccurrenceStatus.MISSED, True, id="missed is decided on claiming"),
        pytest.param(OccurrenceStatus.SUPPRESSED, True, id="suppressed is decided on claiming"),
    ],
)
def test_a_claim_keeps_every_field(
    store: SqlStore, ritual_id: int, status: OccurrenceStatus, decided: bool
) -> None:
    store.set_meta("leader.epoch", "6")
    assert store.bump_leader_epoch("host-a 41", NOW) == 7
    record, created = claim(
        store,
        ritual_id,
        day=DAY,
        slot="before/20:30",
        kind=OccurrenceKind.BEFORE,
        due_at=datetime(2026, 3, 1, 18, 30, tzinfo=UTC),
        status=status,
        now=minutes(1),
        note="period already kept",
        epoch=7,
    )
    assert created
    assert store.get_occurrence(record.id) == record
    assert record == OccurrenceRecord(
        id=record.id,
        ritual_id=ritual_id,
        day=DAY,
        slot="before/20:30",
        kind=OccurrenceKind.BEFORE,
        due_at=datetime(2026, 3, 1, 18, 30, tzinfo=UTC),
        status=status,
        created_at=minutes(1),
        decided_at=minutes(1) if decided else None,
        note="period already kept",
        epoch=7,
    )
    assert record.due_at.tzinfo is UTC


@pytest.mark.parametrize("kind", list(NudgeKind), ids=str)
def test_every_reminder_kind_is_an_occurrence_kind(store: SqlStore, ritual_id: int, kind: NudgeKind) -> None:
    record, _ = claim(store, ritual_id, slot=f"{kind}/20:30", kind=OccurrenceKind.of(kind))
    assert record.kind is OccurrenceKind(kind.value)
    assert record.kind.reminder is kind


@pytest.mark.parametrize(
    ("keys", "error", "message"),
    [
        pytest.param({"ritual": 42}, StoreError, "no ritual with id '42'", id="unknown ritual"),
        pytest.param({"kind": "shout"}, ValueError, "unknown occurrence kind 'shout'", id="unknown kind"),
        pytest.param({"status": "lost"}, ValueError, "unknown occurrence status 'lost'", id="unknown status"),
        pytest.param(
            {"due_at": datetime(2026, 3, 1, 20, 30)},
            ValueError,
            "due_at must be an aware",
            id="naive due time",
        ),
    ],
)
def test_a_bad_claim_is_refused_and_records_nothing(
    store: SqlStore, ritual_id: int, keys: dict[str, Any], error: type[Exception], message: str
) -> None:
    keys = dict(keys)  # the parameter is shared by every backend's run
    target = keys.pop("ritual", ritual_id)
    with pytest.raises(error, match=message):
        claim(store, target, **keys)
    assert store.occurrences() == []


def test_two_stores_in_two_threads_claim_each_key_once(racers: list[SqlStore], ritual_id: int) -> None:
    rounds = race(racers, 50, lambda racer, n: claim(racer, ritual_id, slot=f"race/{n}"))
    for results in rounds:
        assert sorted(created for _, created in results) == [False, True]
        assert results[0][0] == results[1][0]
    assert len(racers[0].occurrences()) == 50


CLAIMER = """
import json, sys
from datetime import UTC, date, datetime
from scheduler.adapters.store import SqlStore
from scheduler.app.stored import OccurrenceKind

NOON = datetime(2026, 3, 1, 12, tzinfo=UTC)
store = SqlStore.open(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
results = []
for number in range(50):
    record, created = store.claim_occurrence(
        int(sys.argv[2]), day=date(2026, 3, 1), slot=f"race/{number}", kind=OccurrenceKind.DUE,
        due_at=NOON, status="pending", now=NOON,
    )
    results.append([record.id, created])
store.close()
print(json.dumps(results), flush=True)
"""


def test_two_processes_claim_each_key_once(store_url: str, store: SqlStore, ritual_id: int) -> None:
    command = [sys.executable, "-c", CLAIMER, store_url, str(ritual_id)]
    claimers = [
        subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        for claimer in claimers:
            assert claimer.stdout is not None
            assert claimer.stdout.readline() == "ready\n"
        for claimer in claimers:  # both are waiting on stdin: let them go together
            assert claimer.stdin is not None
            claimer.stdin.write("go\n")
            claimer.stdin.flush()
        outputs = [claimer.communicate(timeout=60)[0] for claimer in claimers]
    finally:
        for claimer in claimers:
            claimer.kill()
    assert [claimer.returncode for claimer in claimers] == [0, 0]
    first, second = (json.loads(output) for output in outputs)
    for (first_id, first_created), (second_id, second_created) in zip(first, second, strict=True):
        assert first_id == second_id
        assert first_created != second_created, "exactly one process creates each key"
    assert len(store.occurrences()) == 50


def test_losing_the_claim_race_returns_the_winner(
    store: SqlStore, ritual_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner, _ = claim(store, ritual_id)
    real_find = store_module._find_occurrence
    misses = iter([True])

    def find_late(*args: Any) -> Any:
        # The first look happens before the other writer commits: it sees nothing.
        return None if next(misses, False) else real_find(*args)

    monkeypatch.setattr(store_module, "_find_occurrence", find_late)
    with store.transaction():
        store.set_meta("k", "v")
        loser = claim(store, ritual_id, due_at=minutes(5))
    assert loser == (winner, False)
    assert store.occurrences() == [winner]
    assert store.get_meta("k") == "v"  # the surrounding transaction survived the lost race


def test_a_claim_and_its_outbox_rows_commit_together(store: SqlStore, ritual_id: int) -> None:
    with pytest.raises(RuntimeError, match="crash before commit"), store.transaction():
        record, _ = claim(store, ritual_id)
        store.add_deliveries(record.id, [("ann: json://host/", "t1")], now=NOW)
        raise RuntimeError("crash before commit")
    assert store.occurrences() == []
    assert store.deliveries() == []
    assert claim(store, ritual_id)[1], "the key is free again"


# --- deciding occurrences --------------------------------------------------------------------------


S = OccurrenceStatus


@pytest.mark.parametrize(
    ("start", "expect", "new", "changed"),
    [
        pytest.param(S.PENDING, None, S.SENT, True, id="without expect it always sets"),
        pytest.param(S.PENDING, S.PENDING, S.SENT, True, id="expected status: set"),
        pytest.param(S.PENDING, S.PENDING, S.LATE, True, id="pending to late"),
        pytest.param(S.SENT, S.PENDING, S.FAILED, False, id="someone decided first: left alone"),
        pytest.param(S.MISSED, S.PENDING, S.SENT, False, id="missed stays missed"),
        pytest.param(S.SENT, S.SENT, S.SENT, True, id="same status when expected counts as set"),
        pytest.param(S.FAILED, S.FAILED, S.PENDING, True, id="back to pending is undecided again"),
    ],
)
def test_deciding_is_compare_and_set(
    store: SqlStore,
    ritual_id: int,
    start: OccurrenceStatus,
    expect: OccurrenceStatus | None,
    new: OccurrenceStatus,
    changed: bool,
) -> None:
    record, _ = claim(store, ritual_id, status=start, note="claimed")
    assert store.decide_occurrence(record.id, new, now=minutes(3), note="decided", expect=expect) is changed
    after = store.get_occurrence(record.id)
    assert after is not None
    if changed:
        decided_at = None if new is S.PENDING else minutes(3)
        assert (after.status, after.decided_at, after.note) == (new, decided_at, "decided")
    else:
        assert after == record


def test_deciding_without_a_note_keeps_the_note(store: SqlStore, ritual_id: int) -> None:
    record, _ = claim(store, ritual_id, note="sent 25 min late")
    assert store.decide_occurrence(record.id, S.LATE, now=minutes(1))
    after = store.get_occurrence(record.id)
    assert after is not None
    assert (after.status, after.note) == (S.LATE, "sent 25 min late")


def test_deciding_an_unknown_occurrence_changes_nothing(store: SqlStore) -> None:
    assert not store.decide_occurrence(42, S.SENT, now=NOW)
    assert store.get_occurrence(42) is None


def test_two_deciders_racing_on_pending_one_wins(racers: list[SqlStore], ritual_id: int) -> None:
    ids = [claim(racers[0], ritual_id, slot=f"race/{n}")[0].id for n in range(20)]
    outcomes = [S.SENT, S.MISSED]

    def decide(racer: SqlStore, n: int) -> bool:
        status = outcomes[racers.index(racer)]
        return racer.decide_occurrence(ids[n], status, now=NOW, expect=S.PENDING)

    for n, results in enumerate(race(racers, 20, decide)):
        assert sorted(results) == [False, True]
        decided = racers[0].get_occurrence(ids[n])
        assert decided is not None
        assert decided.status == outcomes[results.index(True)]


# --- reading occurrences ---------------------------------------------------------------------------


def test_the_last_occurrence_is_the_one_due_last(store: SqlStore, ritual_id: int) -> None:
    walk = add_ritual(store, "walk")
    assert store.last_occurrence(ritual_id) is None
    late, _ = claim(store, ritual_id, slot="22:00", due_at=minutes(120))
    claim(store, ritual_id, slot="20:00", due_at=minutes(0))  # claimed later, due earlier
    claim(store, walk, slot="23:00", due_at=minutes(180))  # another ritual
    claim(store, None, slot="digest", kind=OccurrenceKind.DIGEST, due_at=minutes(240))  # the household's
    assert store.last_occurrence(ritual_id) == late
    tie, _ = claim(store, ritual_id, slot="also 22:00", due_at=minutes(120))
    assert store.last_occurrence(ritual_id) == tie, "same due time: the later claimed"
    household = store.last_occurrence(None)
    assert household is not None
    assert household.slot == "digest"


@pytest.mark.parametrize(
    ("query", "slots"),
    [
        pytest.param({}, ["digest", "w1", "t3", "t2", "t1"], id="everything newest first"),
        pytest.param({"ritual": "talk"}, ["t3", "t2", "t1"], id="one ritual"),
        pytest.param({"since": 20}, ["digest", "w1", "t3", "t2"], id="due at or after a time"),
        pytest.param({"statuses": [S.SENT, S.MISSED]}, ["digest", "t3", "t1"], id="by status"),
        pytest.param({"statuses": []}, [], id="no status wanted"),
        pytest.param({"limit": 2}, ["digest", "w1"], id="the newest few"),
        pytest.param(
            {"ritual": "talk", "since": 20, "statuses": [S.PENDING], "limit": 5}, ["t2"], id="all together"
        ),
    ],
)
def test_listing_occurrences(store: SqlStore, query: dict[str, Any], slots: list[str]) -> None:
    ids = {name: add_ritual(store, name) for name in ("talk", "walk")}
    for ritual, slot, due, status in [
        ("talk", "t1", 10, S.SENT),
        ("talk", "t2", 20, S.PENDING),
        ("talk", "t3", 30, S.MISSED),
        ("walk", "w1", 40, S.PENDING),
        (None, "digest", 50, S.SENT),
    ]:
        claim(store, None if ritual is None else ids[ritual], slot=slot, due_at=minutes(due), status=status)
    listed = store.occurrences(
        ritual_id=ids[query["ritual"]] if "ritual" in query else None,
        since=minutes(query["since"]) if "since" in query else None,
        statuses=query.get("statuses"),
        limit=query.get("limit"),
    )
    assert [o.slot for o in listed] == slots


# --- the delivery outbox ---------------------------------------------------------------------------


ANN = ("ann: json://127.0.0.1:8080/", "target-ann")
BEN = ("ben: ntfy://ben:****@ntfy.sh/rituals", "target-ben")


def test_deliveries_are_written_once_per_channel(store: SqlStore, occurrence_id: int) -> None:
    first = store.add_deliveries(occurrence_id, [ANN, BEN], now=NOW)
    again = store.add_deliveries(occurrence_id, [BEN, ANN, ANN], now=minutes(5))
    assert [d.channel for d in first] == [ANN[0], BEN[0]]
    assert again == [first[1], first[0], first[0]]
    assert sorted(store.deliveries(occurrence_id=occurrence_id), key=lambda d: d.id) == first
    ann = first[0]
    assert ann == DeliveryRecord(
        id=ann.id,
        occurrence_id=occurrence_id,
        channel=ANN[0],
        target="target-ann",
        status=Ds.PENDING,
        attempts=0,
        last_error="",
        next_attempt_at=None,
        idempotency_key=f"{occurrence_id}:target-ann",
        created_at=NOW,
        updated_at=NOW,
    )


def test_each_occurrence_has_its_own_deliveries(store: SqlStore, ritual_id: int, occurrence_id: int) -> None:
    other, _ = claim(store, ritual_id, slot="nag/20:30")
    mine = store.add_deliveries(occurrence_id, [ANN], now=NOW)
    theirs = store.add_deliveries(other.id, [ANN], now=NOW)
    assert mine[0].id != theirs[0].id
    assert {mine[0].idempotency_key, theirs[0].idempotency_key} == {
        f"{occurrence_id}:target-ann",
        f"{other.id}:target-ann",
    }


@pytest.mark.parametrize(
    ("occurrence", "channels", "error", "message"),
    [
        pytest.param(42, [ANN], StoreError, "no occurrence with id '42'", id="unknown occurrence"),
        pytest.param(
            None, [ANN, ("ann: x", "")], ValueError, "target for channel 'ann: x' is empty", id="no target"
        ),
    ],
)
def test_bad_deliveries_are_refused_whole(
    store: SqlStore,
    occurrence_id: int,
    occurrence: int | None,
    channels: list[tuple[str, str]],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        store.add_deliveries(occurrence or occurrence_id, channels, now=NOW)
    assert store.deliveries() == []


def test_no_secret_reaches_the_outbox_when_the_caller_masks_it(
    store_url: str, store: SqlStore, occurrence_id: int
) -> None:
    url = "mailto://ann:hunter2@mail.example.org/?to=ann@example.org"
    masked = "ann: mailto://ann:****@mail.example.org/?to=ann@example.org"
    target = hmac.new(b"k" * 32, url.encode(), hashlib.sha256).hexdigest()  # what notify hands in
    (delivery,) = store.add_deliveries(occurrence_id, [(masked, target)], now=NOW)
    claimed = store.claim_delivery(delivery.id, now=NOW, lease_until=minutes(1))
    assert claimed is not None
    store.finish_delivery(delivery.id, Ds.RETRY, now=NOW, error="535 authentication failed for ann:****")
    with raw_engine(store_url) as engine, engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM delivery")).all()
    assert rows
    assert all("hunter2" not in str(value) for row in rows for value in row)


# --- claiming deliveries ---------------------------------------------------------------------------


def put(
    store: SqlStore, occurrence_id: int, status: DeliveryStatus, next_at: int | None, target: str = "t"
) -> int:
    """A delivery in ``status`` with next_attempt_at ``next_at`` minutes from NOW (None: unset)."""
    (delivery,) = store.add_deliveries(occurrence_id, [(f"channel {target}", target)], now=NOW)
    if status is Ds.SENDING:
        assert next_at is not None
        assert store.claim_delivery(delivery.id, now=NOW, lease_until=minutes(next_at)) is not None
    elif status is not Ds.PENDING:
        store.finish_delivery(
            delivery.id, status, now=NOW, next_attempt_at=None if next_at is None else minutes(next_at)
        )
    return delivery.id


@pytest.mark.parametrize(
    ("status", "next_at", "claimable"),
    [
        pytest.param(Ds.PENDING, None, True, id="pending"),
        pytest.param(Ds.RETRY, None, True, id="retry without a time"),
        pytest.param(Ds.RETRY, -1, True, id="retry that came due"),
        pytest.param(Ds.RETRY, 0, True, id="retry due this instant"),
        pytest.param(Ds.RETRY, 1, False, id="retry not due yet"),
        pytest.param(Ds.SENDING, 1, False, id="sending under a running lease"),
        pytest.param(Ds.SENT, None, False, id="sent"),
        pytest.param(Ds.FAILED, None, False, id="failed"),
        pytest.param(Ds.GIVEN_UP, None, False, id="given up"),
    ],
)
def test_what_can_be_claimed(
    store: SqlStore, occurrence_id: int, status: DeliveryStatus, next_at: int | None, claimable: bool
) -> None:
    delivery_id = put(store, occurrence_id, status, next_at)
    before = store.deliveries()[0]
    assert [d.id for d in store.due_deliveries(NOW)] == ([delivery_id] if claimable else [])
    claimed = store.claim_delivery(delivery_id, now=NOW, lease_until=minutes(5))
    if not claimable:
        assert claimed is None
        assert store.deliveries() == [before]
        return
    assert claimed is not None
    assert (claimed.status, claimed.attempts, claimed.next_attempt_at, claimed.updated_at) == (
        Ds.SENDING,
        before.attempts + 1,
        minutes(5),
        NOW,
    )
    assert store.deliveries() == [claimed]
    assert store.claim_delivery(delivery_id, now=NOW, lease_until=minutes(5)) is None, "claimed once"


def test_claiming_an_unknown_delivery_gets_nothing(store: SqlStore) -> None:
    assert store.claim_delivery(42, now=NOW, lease_until=minutes(1)) is None


def test_a_lease_must_end_after_now(store: SqlStore, occurrence_id: int) -> None:
    delivery_id = put(store, occurrence_id, Ds.PENDING, None)
    with pytest.raises(ValueError, match="lease must end after now"):
        store.claim_delivery(delivery_id, now=NOW, lease_until=NOW)


def test_two_senders_racing_on_one_delivery_one_claims_it(racers: list[SqlStore], occurrence_id: int) -> None:
    ids = [put(racers[0], occurrence_id, Ds.PENDING, None, target=f"t{n}") for n in range(20)]
    rounds = race(racers, 20, lambda racer, n: racer.claim_delivery(ids[n], now=NOW, lease_until=minutes(1)))
    for results in rounds:
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        assert winners[0].attempts == 1


def test_an_expired_lease_is_claimed_again_once(racers: list[SqlStore], occurrence_id: int) -> None:
    """A sender died between send and commit: after its lease one other sender re-sends, once."""
    first, second = racers
    delivery_id = put(first, occurrence_id, Ds.PENDING, None)
    assert first.claim_delivery(delivery_id, now=NOW, lease_until=minutes(5)) is not None
    assert second.claim_delivery(delivery_id, now=minutes(4), lease_until=minutes(9)) is None
    assert second.due_deliveries(minutes(4)) == []
    assert [d.id for d in second.due_deliveries(minutes(5))] == [delivery_id]

    (results,) = race(
        racers, 1, lambda racer, _: racer.claim_delivery(delivery_id, now=minutes(5), lease_until=minutes(10))
    )

    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert (winners[0].attempts, winners[0].idempotency_key) == (2, f"{occurrence_id}:t")
    assert first.claim_delivery(delivery_id, now=minutes(6), lease_until=minutes(11)) is None


def test_senders_draining_at_once_each_take_rows_the_others_do_not(
    racers: list[SqlStore], occurrence_id: int
) -> None:
    """Every daemon of a shared database drains the outbox: a due row goes to exactly one."""
    ids = [put(racers[0], occurrence_id, Ds.PENDING, None, target=f"t{n}") for n in range(30)]
    later = put(racers[0], occurrence_id, Ds.RETRY, 3, target="later")

    rounds = race(
        racers, 4, lambda racer, _: racer.claim_due_deliveries(now=NOW, lease_until=minutes(1), limit=5)
    )

    taken = [row.id for results in rounds for claimed in results for row in claimed]
    assert len(taken) == len(set(taken))  # no row twice
    assert sorted(taken) == ids  # and every due one (2 senders x 4 rounds x 5 rows for 30)
    assert later not in taken
    assert all(len(claimed) <= 5 for results in rounds for claimed in results)
    again = racers[1].claim_due_deliveries(now=minutes(3), lease_until=minutes(4), limit=50)
    assert sorted(row.id for row in again) == sorted([*ids, later])  # leases over: due again
    assert {row.attempts for row in again if row.id != later} == {2}


_targets = (f"lease-{number}" for number in itertools.count())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.integers(0, 8), st.integers(1, 8)), min_size=1, max_size=10))
def test_a_claim_holds_exactly_until_its_lease_ends(
    store: SqlStore, occurrence_id: int, steps: list[tuple[int, int]]
) -> None:
    delivery_id = put(store, occurrence_id, Ds.PENDING, None, target=next(_targets))
    clock, lease_end, attempts = 0, None, 0
    for advance, lease in steps:
        clock += advance
        free = lease_end is None or clock >= lease_end
        assert (delivery_id in {d.id for d in store.due_deliveries(minutes(clock))}) is free
        claimed = store.claim_delivery(delivery_id, now=minutes(clock), lease_until=minutes(clock + lease))
        assert (claimed is not None) is free
        if claimed is not None:
            lease_end, attempts = clock + lease, attempts + 1
            assert (claimed.attempts, claimed.next_attempt_at) == (attempts, minutes(lease_end))


# --- fencing: claims by a deposed leader ------------------------------------------------------------


def test_no_leader_was_elected_yet(store: SqlStore) -> None:
    assert store.leader_info() is None


def test_each_election_starts_a_higher_epoch_and_names_its_holder(store: SqlStore) -> None:
    assert store.bump_leader_epoch("host-a 41", NOW) == 1
    assert store.bump_leader_epoch("host-b 7", minutes(1)) == 2
    info = store.leader_info()
    assert info == LeaderInfo(epoch=2, holder="host-b 7", since=minutes(1))
    assert info is not None and info.since is not None and info.since.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="now must be an aware datetime"):
        store.bump_leader_epoch("host-c 1", datetime(2026, 3, 1, 12, 0))
    assert store.leader_info() == info


def fenced_claim(
    store: SqlStore, ritual_id: int, slot: str, epoch: int
) -> tuple[OccurrenceRecord | None, bool]:
    return store.claim_occurrence(
        ritual_id,
        day=DAY,
        slot=slot,
        kind=OccurrenceKind.DUE,
        due_at=NOW,
        status=Pending,
        now=NOW,
        epoch=epoch,
    )


def test_an_occurrence_is_claimed_only_with_the_current_epoch(store: SqlStore, ritual_id: int) -> None:
    assert fenced_claim(store, ritual_id, "before/20:30", 1) == (None, False), "nobody was elected"
    old = store.bump_leader_epoch("host-a 41", NOW)
    record, created = fenced_claim(store, ritual_id, "20:30", old)
    assert created
    assert record is not None and record.epoch == old

    new = store.bump_leader_epoch("host-b 7", minutes(1))
    assert fenced_claim(store, ritual_id, "nag/20:30", old) == (None, False)
    assert fenced_claim(store, ritual_id, "20:30", old) == (record, False), "the row already there"
    assert [o.slot for o in store.occurrences()] == ["20:30"]
    fresh, created = fenced_claim(store, ritual_id, "nag/20:30", new)
    assert created
    assert fresh is not None and fresh.epoch == new
    # Without an epoch (the CLI, a single SQLite daemon) claims are not fenced and keep epoch 0.
    unfenced, created = claim(store, ritual_id, slot="snooze/20:30")
    assert created
    assert unfenced.epoch == 0


def test_a_delivery_is_claimed_only_with_the_current_epoch(store: SqlStore, occurrence_id: int) -> None:
    first, second = store.add_deliveries(occurrence_id, [("ann", "t1"), ("ben", "t2")], now=NOW)
    old = store.bump_leader_epoch("host-a 41", NOW)
    new = store.bump_leader_epoch("host-b 7", NOW)

    assert store.claim_delivery(first.id, now=NOW, lease_until=minutes(5), epoch=old) is None
    claimed = store.claim_delivery(first.id, now=NOW, lease_until=minutes(5), epoch=new)
    assert claimed is not None and (claimed.status, claimed.attempts) == (Ds.SENDING, 1)
    assert store.claim_delivery(second.id, now=NOW, lease_until=minutes(5)) is not None, "unfenced"
    by_id = {d.id: d for d in store.deliveries()}
    assert (by_id[first.id].attempts, by_id[second.id].attempts) == (1, 1), "the fenced try counted nothing"


def test_a_claim_racing_an_election_is_seen_by_the_new_leader_or_refused(
    racers: list[SqlStore], ritual_id: int
) -> None:
    """A claim with the old epoch commits before the election (so the new leader, reading right
    after it, finds the row) or is refused: never a late row the new leader cannot know of."""
    leader = racers[0]
    epoch = leader.bump_leader_epoch("host-a 41", NOW)
    claims: list[bool] = []
    elections: list[tuple[int, set[str]]] = []

    def step(racer: SqlStore, number: int) -> None:
        if racer is leader:
            claims.append(fenced_claim(racer, ritual_id, f"race/{number}", epoch + number)[1])
        else:
            elected = racer.bump_leader_epoch(f"host-b {number}", NOW)
            elections.append((elected, {o.slot for o in racer.occurrences()}))

    race(racers, 20, step)
    for number, (created, (elected, seen)) in enumerate(zip(claims, elections, strict=True)):
        assert elected == epoch + number + 1
        assert (f"race/{number}" in seen) == created


# --- finishing, listing and retrying deliveries ----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "next_at"),
    [
        pytest.param(Ds.SENT, "", None, id="sent"),
        pytest.param(Ds.RETRY, "503 service unavailable", 10, id="retry later"),
        pytest.param(Ds.FAILED, "401 unauthorized", None, id="permanent failure"),
        pytest.param(Ds.GIVEN_UP, "timed out", None, id="given up"),
    ],
)
def test_finishing_records_the_outcome(
    store: SqlStore, occurrence_id: int, status: DeliveryStatus, error: str, next_at: int | None
) -> None:
    delivery_id = put(store, occurrence_id, Ds.SENDING, 5)
    store.finish_delivery(
        delivery_id,
        status,
        now=minutes(1),
        error=error,
        next_attempt_at=None if next_at is None else minutes(next_at),
    )
    (after,) = store.deliveries()
    assert (after.status, after.last_error, after.attempts, after.updated_at, after.created_at) == (
        status,
        error,
        1,
        minutes(1),
        NOW,
    )
    assert after.next_attempt_at == (None if next_at is None else minutes(next_at))


def test_a_long_error_is_cut(store: SqlStore, occurrence_id: int) -> None:
    delivery_id = put(store, occurrence_id, Ds.SENDING, 5)
    store.finish_delivery(delivery_id, Ds.RETRY, now=NOW, error="<html>" + "x" * 5000)
    (after,) = store.deliveries()
    assert after.last_error == ("<html>" + "x" * 5000)[: store_module.MAX_ERROR_LENGTH]


def test_finishing_refuses_sending_and_unknown_ids(store: SqlStore, occurrence_id: int) -> None:
    delivery_id = put(store, occurrence_id, Ds.PENDING, None)
    with pytest.raises(ValueError, match="only through claim_delivery"):
        store.finish_delivery(delivery_id, Ds.SENDING, now=NOW)
    with pytest.raises(ValueError, match="unknown delivery status 'lost'"):
        store.finish_delivery(delivery_id, "lost", now=NOW)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="no delivery with id '42'"):
        store.finish_delivery(42, Ds.SENT, now=NOW)


def test_a_sender_whose_lease_ran_out_cannot_overwrite_the_newer_outcome(
    store: SqlStore, occurrence_id: int
) -> None:
    delivery_id = put(store, occurrence_id, Ds.PENDING, None)
    stale = store.claim_delivery(delivery_id, now=NOW, lease_until=minutes(5))
    fresh = store.claim_delivery(delivery_id, now=minutes(5), lease_until=minutes(10))
    assert stale is not None
    assert fresh is not None
    store.finish_delivery(delivery_id, Ds.SENT, now=minutes(6), attempt=fresh.attempts)
    store.finish_delivery(delivery_id, Ds.RETRY, now=minutes(7), error="timed out", attempt=stale.attempts)
    (after,) = store.deliveries()
    assert (after.status, after.last_error, after.updated_at) == (Ds.SENT, "", minutes(6))


def test_due_deliveries_come_oldest_first(store: SqlStore, ritual_id: int) -> None:
    rows: dict[str, int] = {}
    for created, name, status, next_at in [
        (3, "retry-due", Ds.RETRY, 5),
        (1, "pending", Ds.PENDING, None),
        (2, "lease-expired", Ds.SENDING, 8),
        (4, "retry-later", Ds.RETRY, 60),
        (5, "sending", Ds.SENDING, 60),
        (0, "sent", Ds.SENT, None),
        (6, "failed", Ds.FAILED, None),
        (7, "second-pending", Ds.PENDING, None),
    ]:
        occurrence, _ = claim(store, ritual_id, slot=name, now=minutes(created))
        (delivery,) = store.add_deliveries(occurrence.id, [(name, name)], now=minutes(created))
        rows[name] = delivery.id
        if status is Ds.SENDING:
            assert store.claim_delivery(delivery.id, now=minutes(created), lease_until=minutes(next_at or 0))
        elif status is not Ds.PENDING:
            store.finish_delivery(
                delivery.id,
                status,
                now=minutes(created),
                next_attempt_at=None if next_at is None else minutes(next_at),
            )
    due = ["pending", "lease-expired", "retry-due", "second-pending"]
    assert [d.id for d in store.due_deliveries(minutes(10))] == [rows[name] for name in due]
    assert [d.id for d in store.due_deliveries(minutes(10), limit=2)] == [rows[name] for name in due[:2]]


@pytest.mark.parametrize(
    ("query", "targets"),
    [
        pytest.param({}, ["c", "b", "a"], id="newest first"),
        pytest.param({"occurrence": "first"}, ["b", "a"], id="one occurrence"),
        pytest.param({"statuses": [Ds.FAILED, Ds.GIVEN_UP]}, ["c", "a"], id="what needs attention"),
        pytest.param({"limit": 1}, ["c"], id="the newest"),
    ],
)
def test_listing_deliveries(
    store: SqlStore, ritual_id: int, query: dict[str, Any], targets: list[str]
) -> None:
    first, _ = claim(store, ritual_id, slot="first")
    second, _ = claim(store, ritual_id, slot="second")
    for occurrence, target, status in [
        (first, "a", Ds.FAILED),
        (first, "b", Ds.SENT),
        (second, "c", Ds.GIVEN_UP),
    ]:
        put(store, occurrence.id, status, None, target=target)
    listed = store.deliveries(
        occurrence_id=first.id if query.get("occurrence") else None,
        statuses=query.get("statuses"),
        limit=query.get("limit"),
    )
    assert [d.target for d in listed] == targets


@pytest.mark.parametrize(
    ("ids", "retried"),
    [
        pytest.param(None, ["failed", "given-up", "retrying"], id="everything that ended badly or waits"),
        pytest.param(["retrying"], ["retrying"], id="a retrying one is due now"),
        pytest.param(["given-up"], ["given-up"], id="only the ones asked for"),
        pytest.param(["sent", "pending"], [], id="delivered or waiting ones are left alone"),
        pytest.param([], [], id="nothing asked for"),
    ],
)
def test_retrying_deliveries(
    store: SqlStore, occurrence_id: int, ids: list[str] | None, retried: list[str]
) -> None:
    rows = {}
    for name, status in [
        ("failed", Ds.FAILED),
        ("given-up", Ds.GIVEN_UP),
        ("sent", Ds.SENT),
        ("pending", Ds.PENDING),
        ("retrying", Ds.RETRY),
    ]:
        rows[name] = put(
            store, occurrence_id, Ds.SENDING if status is not Ds.PENDING else status, 1, target=name
        )
        if status is Ds.RETRY:
            store.finish_delivery(rows[name], status, now=NOW, error="503", next_attempt_at=minutes(90))
        elif status is not Ds.PENDING:
            store.finish_delivery(rows[name], status, now=NOW, error="boom")
    count = store.retry_deliveries(now=minutes(30), ids=None if ids is None else [rows[name] for name in ids])
    assert count == len(retried)
    by_target = {d.target: d for d in store.deliveries()}
    for name in retried:
        assert (by_target[name].status, by_target[name].next_attempt_at, by_target[name].attempts) == (
            Ds.RETRY,
            minutes(30),
            1,
        )
    untouched = {
        "failed": Ds.FAILED,
        "given-up": Ds.GIVEN_UP,
        "sent": Ds.SENT,
        "pending": Ds.PENDING,
        "retrying": Ds.RETRY,
    }
    for name, status in untouched.items():
        if name not in retried:
            assert by_target[name].status is status
    assert by_target["retrying"].next_attempt_at == (minutes(30) if "retrying" in retried else minutes(90))
    due = {d.target for d in store.due_deliveries(minutes(30))}
    assert due == {"pending", *retried}


# --- the migration from 0001 ----------------------------------------------------------------------


def seed_revision_0001(store_url: str) -> None:
    with raw_engine(store_url) as engine:
        migrate.upgrade(engine, parse_url(store_url), "0001")
        schema = MetaData()
        schema.reflect(engine)
        with engine.begin() as connection:
            for name in ("ritual", "completion"):
                connection.execute(insert(schema.tables[name]), SEED[name])


def test_upgrading_0001_keeps_completions_and_adds_the_outbox(store_url: str) -> None:
    seed_revision_0001(store_url)
    assert "occurrence" not in table_names(store_url)
    upgraded = SqlStore.open(store_url)
    try:
        assert stamped(store_url) == {migrate.HEAD}
        assert {"occurrence", "delivery"} <= table_names(store_url)
        assert [(c.id, c.by, c.occurrence) for c in upgraded.completions(1)] == [
            (row["id"], row["by_person"], row["occurrence"]) for row in SEED["completion"]
        ]
        record, created = claim(upgraded, 1)
        assert created
        assert len(upgraded.add_deliveries(record.id, [ANN], now=NOW)) == 1
    finally:
        upgraded.close()


def test_a_failed_upgrade_from_0001_leaves_it_at_0001(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alembic import command

    seed_revision_0001(store_url)
    real_upgrade = command.upgrade

    def upgrade_then_fail(config: Any, revision: str, **kwargs: Any) -> None:
        real_upgrade(config, revision, **kwargs)
        raise RuntimeError("crash after 0002 ran")

    monkeypatch.setattr(command, "upgrade", upgrade_then_fail)
    with pytest.raises(RuntimeError, match="crash after 0002"):
        SqlStore.open(store_url)
    assert stamped(store_url) == {"0001"}
    assert not {"occurrence", "delivery"} & table_names(store_url)
    monkeypatch.undo()
    reopened = SqlStore.open(store_url)
    try:
        assert len(reopened.completions(1)) == len(SEED["completion"])
    finally:
        reopened.close()


def test_many_deliveries_are_claimed_and_finished_in_one_go(store: SqlStore, occurrence_id: int) -> None:
    rows = store.add_deliveries(occurrence_id, [("ann", "t1"), ("ben", "t2"), ("cat", "t3")], now=NOW)
    held_back = store.add_deliveries(occurrence_id, [("dan", "t4")], now=NOW, not_before=minutes(30))
    ids = [r.id for r in (*rows, *held_back)]
    claimed = store.claim_deliveries(ids, now=NOW, lease_until=minutes(1))
    assert [(r.id, r.status, r.attempts) for r in claimed] == [
        (r.id, DeliveryStatus.SENDING, 1) for r in rows
    ]
    assert store.claim_deliveries(ids, now=NOW, lease_until=minutes(1)) == [], "each claimed once"
    ann, ben, cat = claimed
    store.finish_deliveries(
        [
            DeliveryOutcome(ann.id, DeliveryStatus.SENT, attempt=1),
            DeliveryOutcome(ben.id, DeliveryStatus.RETRY, "503", minutes(5), attempt=1),
            DeliveryOutcome(cat.id, DeliveryStatus.SENT, attempt=7),  # a stale claim: not written
        ],
        now=NOW,
    )
    after = {r.id: (r.status, r.last_error, r.next_attempt_at) for r in store.deliveries()}
    assert after[ann.id] == (DeliveryStatus.SENT, "", None)
    assert after[ben.id] == (DeliveryStatus.RETRY, "503", minutes(5))
    assert after[cat.id][0] is DeliveryStatus.SENDING
    assert after[held_back[0].id] == (DeliveryStatus.PENDING, "", minutes(30))
    assert store.claim_deliveries([held_back[0].id], now=minutes(30), lease_until=minutes(31))


# -- batches: the daemon claims and delivers every nudge due at one instant together ------------


def batch_claim(ritual_id: int | None, slot: str, day: date = DAY) -> OccurrenceClaim:
    return OccurrenceClaim(ritual_id, day, slot, OccurrenceKind.DUE, NOW, Pending, f"note {slot}")


def test_a_batch_claims_new_keys_and_hands_back_taken_ones_in_order(store: SqlStore, ritual_id: int) -> None:
    other = add_ritual(store, "walk")
    taken, _ = claim(store, ritual_id, slot="08:00")
    results = store.claim_occurrences(
        [
            batch_claim(ritual_id, "20:30"),
            batch_claim(ritual_id, "08:00"),
            batch_claim(other, "20:30"),
            batch_claim(ritual_id, "20:30"),  # the same key twice in one batch
            batch_claim(None, "digest"),
        ],
        now=minutes(1),
    )
    created = [made for _, made in results]
    assert created == [True, False, True, False, True]
    records = [record for record, _ in results]
    assert all(record is not None for record in records)
    first, again, walk, twice, household = records
    assert again == taken
    assert twice == first, "the second claim of a key gets the first one's row"
    assert first is not None and first.note == "note 20:30" and first.created_at == minutes(1)
    assert walk is not None and walk.ritual_id == other
    assert household is not None and household.ritual_id is None
    stored = {(o.ritual_id, o.slot) for o in store.occurrences()}
    assert stored == {(ritual_id, "08:00"), (ritual_id, "20:30"), (other, "20:30"), (None, "digest")}


def test_a_fenced_batch_claims_nothing_new(store: SqlStore, ritual_id: int) -> None:
    old = store.bump_leader_epoch("host-a 41", NOW)
    kept, _ = store.claim_occurrences([batch_claim(ritual_id, "08:00")], now=NOW, epoch=old)[0]
    store.bump_leader_epoch("host-b 7", minutes(1))
    results = store.claim_occurrences(
        [batch_claim(ritual_id, "08:00"), batch_claim(ritual_id, "20:30")], now=NOW, epoch=old
    )
    assert results == [(kept, False), (None, False)]
    assert [o.slot for o in store.occurrences()] == ["08:00"]


def test_a_batch_naming_an_unknown_ritual_writes_nothing(store: SqlStore, ritual_id: int) -> None:
    with pytest.raises(StoreError, match="no ritual with id '9999'"):
        store.claim_occurrences([batch_claim(ritual_id, "20:30"), batch_claim(9999, "20:30")], now=NOW)
    assert store.occurrences() == []


def test_a_batch_that_loses_a_race_claims_one_key_at_a_time(
    store: SqlStore, ritual_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key written after the batch read it (another writer) must not fail the others."""
    raced, _ = claim(store, ritual_id, slot="08:00")
    monkeypatch.setattr(store_module, "_occurrences_by_key", lambda _session, _rows: {})
    results = store.claim_occurrences(
        [batch_claim(ritual_id, "08:00"), batch_claim(ritual_id, "20:30")], now=minutes(1)
    )
    assert results[0] == (raced, False)
    fresh, created = results[1]
    assert created and fresh is not None and fresh.slot == "20:30"
    assert sorted(o.slot for o in store.occurrences()) == ["08:00", "20:30"]


def test_delivery_rows_for_many_occurrences_are_added_at_once(store: SqlStore, ritual_id: int) -> None:
    first, _ = claim(store, ritual_id, slot="08:00")
    second, _ = claim(store, ritual_id, slot="20:30")
    there = store.add_deliveries(first.id, [("alex ntfy", "t-alex")], now=NOW)[0]
    rows = store.add_deliveries_many(
        [
            (first.id, [("alex ntfy", "t-alex"), ("sam mail", "t-sam")]),
            (second.id, [("alex ntfy", "t-alex")]),
        ],
        now=minutes(1),
    )
    assert [[row.target for row in found] for found in rows] == [["t-alex", "t-sam"], ["t-alex"]]
    assert rows[0][0] == there, "a pair already there comes back as it is"
    assert rows[0][1].created_at == minutes(1) and rows[1][0].occurrence_id == second.id
    with pytest.raises(StoreError, match="no occurrence with id '9999'"):
        store.add_deliveries_many([(second.id, [("sam mail", "t-sam")]), (9999, [("x", "t-x")])], now=NOW)
    assert len(store.deliveries()) == 3, "the refused batch wrote nothing"


def test_occurrences_are_decided_together_and_only_from_the_expected_status(
    store: SqlStore, ritual_id: int
) -> None:
    pending, _ = claim(store, ritual_id, slot="08:00")
    decided, _ = claim(store, ritual_id, slot="20:30", status=OccurrenceStatus.MISSED)
    changed = store.decide_occurrences(
        [pending.id, decided.id], OccurrenceStatus.SENT, now=minutes(2), expect=Pending
    )
    assert changed == {pending.id}
    assert store.get_occurrence(pending.id) == replace(
        pending, status=OccurrenceStatus.SENT, decided_at=minutes(2)
    )
    assert store.get_occurrence(decided.id) == decided


def test_batch_reads_match_the_per_ritual_reads(store: SqlStore, ritual_id: int) -> None:
    other = add_ritual(store, "walk")
    claim(store, ritual_id, slot="08:00", due_at=minutes(-60))
    claim(store, ritual_id, slot="20:30", due_at=minutes(30), kind=OccurrenceKind.SNOOZE)
    claim(store, other, slot="20:30", day=DAY - timedelta(days=1), due_at=minutes(-1440))
    last = store.last_due_times([ritual_id, other, 9999])
    assert last == {ritual_id: minutes(-60), other: minutes(-1440)}, "snoozes never count"
    for rid in (ritual_id, other):
        found = store.last_occurrence(rid)
        assert found is not None and found.due_at == last[rid]
    assert store.occurrence_keys([ritual_id, other], since=minutes(-60)) == {
        (ritual_id, DAY, "08:00"),
        (ritual_id, DAY, "20:30"),
    }
    for n, (rid, who) in enumerate([(ritual_id, "alex"), (other, "sam"), (ritual_id, "sam")]):
        store.add_completion(
            rid,
            day=DAY - timedelta(days=n),
            at=NOW,
            period_key=str(n),
            by=who,
            note="",
            source="cli",
            occurrence=None,
            now=NOW,
        )
    marks = store.completion_marks_of([ritual_id, other])
    assert marks == {rid: store.completion_marks(rid) for rid in (ritual_id, other)}
    assert marks[ritual_id] == [(DAY - timedelta(days=2), "sam"), (DAY, "alex")]
    recent = store.completion_marks_of([ritual_id, other], since=DAY - timedelta(days=1))
    assert recent == {ritual_id: [(DAY, "alex")], other: [(DAY - timedelta(days=1), "sam")]}


# --- the leader tick's set reads ----------------------------------------------------------------


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """IN lists of two, so a handful of ids already spans several chunks."""
    monkeypatch.setattr(store_module, "_CHUNK", 2)


@pytest.mark.usefixtures("small_chunks")
def test_rituals_by_id_match_ritual_by_id(store: SqlStore, ritual_id: int) -> None:
    others = [add_ritual(store, name) for name in ("walk", "hug", "journal")]
    store.remove_ritual("hug", now=NOW)
    wanted = [ritual_id, *others, 9999, ritual_id]
    current = store.rituals_by_id(wanted)
    assert set(current) == {ritual_id, others[0], others[2]}, "removed and unknown ones are absent"
    assert current == {rid: store.ritual_by_id(rid) for rid in current}
    everything = store.rituals_by_id(wanted, include_removed=True)
    assert set(everything) == {ritual_id, *others}
    assert everything[others[1]] == store.ritual_by_id(others[1], include_removed=True)
    assert everything[others[1]].removed_at == NOW
    assert store.rituals_by_id([]) == {}


@pytest.mark.usefixtures("small_chunks")
def test_occurrences_by_id_match_get_occurrence(store: SqlStore, ritual_id: int) -> None:
    made = [claim(store, ritual_id, slot=f"0{n}:00", due_at=minutes(n))[0].id for n in range(5)]
    household = claim(store, None, slot="digest")[0].id
    found = store.occurrences_by_id([*made, household, 9999])
    assert set(found) == {*made, household}
    assert found == {oid: store.get_occurrence(oid) for oid in found}
    assert store.occurrences_by_id([]) == {}


@pytest.mark.usefixtures("small_chunks")
def test_occurrences_of_match_the_per_ritual_read(store: SqlStore, ritual_id: int) -> None:
    others = [add_ritual(store, name) for name in ("walk", "hug")]
    rituals = [ritual_id, *others]
    for n in range(4):
        for rid in rituals:
            claim(store, rid, slot=f"1{n}:00", due_at=minutes(-60 * n), kind=OccurrenceKind.DUE)
    claim(store, ritual_id, slot="10:00~z1", due_at=minutes(-60), kind=OccurrenceKind.SNOOZE)  # a tie
    claim(store, None, slot="digest", due_at=NOW)  # the household's never count
    since = minutes(-120)
    found = store.occurrences_of([*rituals, 9999], since=since)
    assert set(found) == set(rituals)
    for rid in rituals:
        assert found[rid] == store.occurrences(ritual_id=rid, since=since), "newest first, ties by id"
    assert [o.slot for o in found[ritual_id]] == ["10:00", "10:00~z1", "11:00", "12:00"]
    assert store.occurrences_of(rituals, since=minutes(1)) == {}
    with pytest.raises(ValueError, match="aware"):
        store.occurrences_of(rituals, since=NOW.replace(tzinfo=None))


@pytest.mark.usefixtures("small_chunks")
def test_sent_targets_are_the_targets_of_sent_deliveries(store: SqlStore, ritual_id: int) -> None:
    nudges = [claim(store, ritual_id, slot=f"0{n}:00")[0].id for n in range(3)]
    rows = {
        oid: store.add_deliveries(oid, [("alex", f"t-alex-{oid}"), ("sam", f"t-sam-{oid}")], now=NOW)
        for oid in nudges
    }
    first, second, third = nudges
    store.finish_delivery(rows[first][0].id, Ds.SENT, now=NOW)
    store.finish_delivery(rows[first][1].id, Ds.SENT, now=NOW)
    store.finish_delivery(rows[second][1].id, Ds.SENT, now=NOW)
    store.finish_delivery(rows[second][0].id, Ds.FAILED, now=NOW, error="boom")
    store.finish_delivery(rows[third][0].id, Ds.RETRY, now=NOW, error="503", next_attempt_at=minutes(5))
    assert store.sent_targets([*nudges, 9999]) == {
        first: {f"t-alex-{first}", f"t-sam-{first}"},
        second: {f"t-sam-{second}"},
    }
    assert store.sent_targets([]) == {}
