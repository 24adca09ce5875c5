"""The outbox against real receivers: local HTTP servers whose answers each test scripts.

Nudges go from the Nudger through ChannelOutbox and Apprise's json:// to a socket; nothing of
Apprise is mocked. Time is a FakeClock: a test jumps it to each delivery's next_attempt_at and
calls deliver_due, so back-off is checked to the second and nothing sleeps.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import NoReturn

import pytest

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.store import SqlStore
from scheduler.app.service import RitualService
from scheduler.app.stored import (
    DeliveryRecord,
    DeliveryStatus,
    OccurrenceKind,
    OccurrenceStatus,
    RitualSource,
)
from scheduler.domain.definitions import ritual_from_table
from scheduler.domain.messages import DISCREET_TITLE
from scheduler.settings import Settings
from scheduler.wiring import make_nudger
from tests.support.households import DESCRIPTION, DUE, START, TIMEOUT, TITLE, Household
from tests.support.receivers import StartReceiver, closed_port

SECRET = "s3cret"


def one(household: Household) -> DeliveryRecord:
    [row] = household.deliveries()
    return row


# --- outages ---------------------------------------------------------------------------------------


def test_a_503_outage_is_retried_with_growing_backoff_and_delivered_once(
    receivers: StartReceiver, households: Callable[..., Household]
) -> None:
    alex = receivers(script=[503, 503, 503])
    home = households({"alex": [alex.url("a")]})
    talk = home.add(notify=["alex"])

    occurrence = home.fire(talk)
    first = one(home)
    assert (first.status, first.attempts) == (DeliveryStatus.RETRY, 1)
    assert "error=503" in first.last_error
    assert occurrence.status is OccurrenceStatus.PENDING  # nobody has it yet

    seconds = [wait.total_seconds() for wait in home.drain()]

    assert len(seconds) == 3, "three retries after the first try"
    for got, base in zip(seconds, (30, 60, 120), strict=True):
        assert 0.75 * base <= got <= 1.25 * base, (seconds, base)
    assert seconds[0] < seconds[1] < seconds[2]
    row = one(home)
    assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.SENT, 4, "")
    assert home.occurrence(talk).status is OccurrenceStatus.SENT
    assert [r.answered for r in alex.requests] == [503, 503, 503, 200]
    assert alex.titles() == [TITLE] * 4

    home.clock.advance(timedelta(days=1))
    assert home.outbox.deliver_due() == 0
    assert alex.delivered() == 1


def test_a_standby_drains_a_retry_once_and_settles_its_nudge(
    receivers: StartReceiver, households: Callable[..., Household]
) -> None:
    alex = receivers(script=[503])
    home = households({"alex": [alex.url("a")]})
    talk = home.add(notify=["alex"])
    home.fire(talk)
    retry_at = one(home).next_attempt_at
    assert retry_at is not None
    standby = home.new_outbox()  # another daemon of the database: no leader epoch

    home.clock.set(retry_at - timedelta(seconds=1))
    assert standby.drain() == 0, "not due yet"
    home.clock.set(retry_at)
    assert standby.drain() == 1
    assert standby.drain() == 0
    assert home.outbox.deliver_due() == 0, "the leader finds nothing left"

    row = one(home)
    assert (row.status, row.attempts) == (DeliveryStatus.SENT, 2)
    assert home.occurrence(talk).status is OccurrenceStatus.SENT
    assert [r.answered for r in alex.requests] == [503, 200]


def test_an_hour_of_refused_connections_then_every_nudge_arrives_once(
    receivers: StartReceiver, households: Callable[..., Household]
) -> None:
    port = closed_port()
    home = households({"alex": [f"json://127.0.0.1:{port}/a"]})
    talk = home.add("talk", notify=["alex"])
    tea = home.add("tea", title="Tea on the balcony", at="20:45", notify=["alex"])

    home.run_until(DUE + timedelta(hours=1), [talk, tea])

    rows = home.deliveries()
    assert [r.status for r in rows] == [DeliveryStatus.RETRY, DeliveryStatus.RETRY]
    assert rows[0].attempts >= 5, "retried all through the hour"
    assert all("refused" in r.last_error.lower() for r in rows), rows
    assert {home.occurrence(s).status for s in (talk, tea)} == {OccurrenceStatus.PENDING}

    alex = receivers(port=port)  # the push server comes back on its port
    home.run_until(DUE + timedelta(hours=3), [talk, tea])

    assert sorted(alex.titles()) == sorted([TITLE, "Tea on the balcony"])
    assert [r.status for r in home.deliveries()] == [DeliveryStatus.SENT, DeliveryStatus.SENT]
    assert {home.occurrence(s).status for s in (talk, tea)} == {OccurrenceStatus.SENT}


def test_a_401_is_tried_once_and_failed_until_retried_by_hand(
    receivers: StartReceiver, households: Callable[..., Household]
) -> None:
    alex = receivers(script=[401])
    home = households({"alex": [alex.url("a")]})
    talk = home.add(notify=["alex"])

    home.fire(talk)
    home.clock.advance(timedelta(days=1))

    assert home.outbox.deliver_due() == 0
    row = one(home)
    assert (row.status, row.attempts, row.next_attempt_at) == (DeliveryStatus.FAILED, 1, None)
    assert "error=401" in row.last_error
    failed = home.occurrence(talk)
    assert failed.status is OccurrenceStatus.FAILED
    assert failed.note == "no channel delivered it (see `ritual status`)"
    assert len(alex.requests) == 1

    # `ritual retry`: the receiver's credentials were fixed meanwhile.
    assert home.store.retry_deliveries(now=home.clock.now()) == 1
    assert home.outbox.deliver_due() == 1

    row = one(home)
    assert (row.status, row.attempts) == (DeliveryStatus.SENT, 2)
    assert [r.answered for r in alex.requests] == [401, 200]
    retried = home.occurrence(talk)
    assert retried.status is OccurrenceStatus.SENT, "a delivered nudge no longer shows as failed"
    assert retried.note == "sent after a retry"


def test_with_two_channels_only_the_failing_one_is_retried(
    receivers: StartReceiver, households: Callable[..., Household]
) -> None:
    alex, sam = receivers(script=[503, 503]), receivers()
    home = households({"alex": [alex.url("a")], "sam": [sam.url("b")]})
    talk = home.add(notify=["alex", "sam"])

    assert home.fire(talk).status is OccurrenceStatus.SENT  # sam has it after the first try
    assert [r.answered for r in alex.requests] == [503]
    home.drain()

    by_person = {r.channel.split()[0]: r for r in home.deliveries()}
    assert (by_person["alex"].status, by_person["alex"].attempts) == (DeliveryStatus.SENT, 3)
    assert (by_person["sam"].status, by_person["sam"].attempts) == (DeliveryStatus.SENT, 1)
    assert len(sam.requests) == 1
    assert [r.answered for r in alex.requests] == [503, 503, 200]
    assert home.occurrence(talk).status is OccurrenceStatus.SENT


@pytest.mark.parametrize(
    ("max_attempts", "max_age", "tries"),
    [
        (3, timedelta(days=1), 3),
        # Tries at 0 s, ~30 s, ~90 s (all younger than 2 min), ~210 s: the one past max_age is the last.
        (100, timedelta(minutes=2), 4),
    ],
    ids=["max-attempts-reached", "max-age-exceeded"],
)
def test_a_delivery_that_keeps_failing_is_given_up(
    receivers: StartReceiver,
    households: Callable[..., Household],
    max_attempts: int,
    max_age: timedelta,
    tries: int,
) -> None:
    alex = receivers(script=[503] * 200)
    home = households({"alex": [alex.url("a")]}, max_attempts=max_attempts, max_age=max_age)
    talk = home.add(notify=["alex"])

    home.fire(talk)
    home.drain()

    row = one(home)
    assert (row.status, row.attempts, row.next_attempt_at) == (DeliveryStatus.GIVEN_UP, tries, None)
    assert "error=503" in row.last_error
    assert len(alex.requests) == tries
    assert home.occurrence(talk).status is OccurrenceStatus.FAILED
    home.clock.advance(timedelta(days=2))
    assert home.outbox.deliver_due() == 0


class Crash(BaseException):
    """The daemon dying mid-attempt (a BaseException, like the SystemExit of a kill)."""


def crash(*args: object, **kwargs: object) -> NoReturn:
    raise Crash


@pytest.mark.parametrize(
    ("where", "requests"),
    [("send", 1), ("finish_deliveries", 2)],
    ids=["died-after-the-claim-before-the-send", "died-after-the-send-before-recording-it"],
)
def test_a_lost_lease_resends_once_after_it_runs_out(
    receivers: StartReceiver,
    households: Callable[..., Household],
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    requests: int,
) -> None:
    alex = receivers()
    home = households({"alex": [alex.url("a")]})
    talk = home.add(notify=["alex"])
    with monkeypatch.context() as patched:
        if where == "send":
            patched.setattr(type(home.outbox.channels), "send", crash)
        else:
            patched.setattr(home.store, "finish_deliveries", crash)
        with pytest.raises(Crash):
            home.fire(talk)
    claimed = one(home)
    assert (claimed.status, claimed.attempts) == (DeliveryStatus.SENDING, 1)
    assert claimed.next_attempt_at is not None

    restarted = home.new_outbox()
    home.clock.set(claimed.next_attempt_at - timedelta(seconds=1))
    assert restarted.deliver_due() == 0, "the lease still holds"
    home.clock.set(claimed.next_attempt_at)
    assert restarted.deliver_due() == 1
    home.clock.advance(timedelta(days=1))
    assert restarted.deliver_due() == 0

    row = one(home)
    assert (row.status, row.attempts) == (DeliveryStatus.SENT, 2)
    assert row.idempotency_key == claimed.idempotency_key
    assert len(alex.requests) == requests <= 2
    assert home.occurrence(talk).status is OccurrenceStatus.SENT


# --- what arrives, and where -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ritual_discreet", "household_discreet"),
    [(True, False), (False, True)],
    ids=["ritual-discreet", "household-discreet"],
)
def test_discreet_nudges_say_only_ritual_time(
    receivers: StartReceiver,
    households: Callable[..., Household],
    ritual_discreet: bool,
    household_discreet: bool,
) -> None:
    alex = receivers()
    home = households({"alex": [alex.url("a")]}, discreet=household_discreet)
    talk = home.add(notify=["alex"], discreet=ritual_discreet)

    home.fire(talk)

    [got] = alex.requests
    assert got.body["title"] == DISCREET_TITLE
    assert got.body["message"] == "Time for one of your rituals."
    text = json.dumps(got.body)
    assert TITLE not in text
    assert DESCRIPTION not in text


@pytest.mark.parametrize(
    ("notify", "reached"),
    [
        (["alex"], {"alex"}),
        (["sam"], {"sam"}),
        (["alex", "sam"], {"alex", "sam"}),
        ([], {"alex", "sam"}),  # no notify: everyone
    ],
    ids=["alex-only", "sam-only", "both-named", "unset-means-everyone"],
)
def test_tags_route_each_person_to_their_own_receiver(
    receivers: StartReceiver, households: Callable[..., Household], notify: list[str], reached: set[str]
) -> None:
    alex, sam = receivers(), receivers()
    home = households({"alex": [alex.url("a")], "sam": [sam.url("b")]})
    talk = home.add(notify=notify) if notify else home.add()

    home.fire(talk)

    got = {name for name, receiver in (("alex", alex), ("sam", sam)) if receiver.requests}
    assert got == reached
    assert all(len(r.requests) <= 1 for r in (alex, sam))
    assert {r.channel.split()[0] for r in home.deliveries()} == reached


def test_the_body_carries_the_description_and_the_streak(
    receivers: StartReceiver, households: Callable[..., Household]
) -> None:
    alex = receivers()
    home = households({"alex": [alex.url("a")]})
    talk = home.add(notify=["alex"])
    for day in (21, 22, 23):
        home.service.record_done("talk", day=date(2026, 11, day))

    home.fire(talk)

    [got] = alex.requests
    assert got.body["title"] == TITLE
    assert got.body["message"].splitlines() == [
        DESCRIPTION,
        "Streak: day 3 in a row.",
        "Keep your 3-day streak going: it needs you today.",
    ]


def test_secrets_stay_out_of_delivery_rows_and_logs_through_an_outage(
    receivers: StartReceiver, households: Callable[..., Household], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alex = receivers(script=[503, 503])
    refused = closed_port()
    home = households(
        {
            "alex": [alex.url("a", auth=f"user:{SECRET}@")],
            "sam": [f"json://user:{SECRET}@127.0.0.1:{refused}/b"],
        },
        max_attempts=3,
    )
    talk = home.add(notify=["alex", "sam"])

    home.fire(talk)
    seen = list(home.deliveries())
    while home.next_retry() is not None:
        home.drain(until=home.next_retry())
        seen.extend(home.deliveries())

    final = {r.channel.split()[0]: r.status for r in home.deliveries()}
    assert final == {"alex": DeliveryStatus.SENT, "sam": DeliveryStatus.GIVEN_UP}
    assert any("error=503" in r.last_error for r in seen)
    assert any("refused" in r.last_error.lower() for r in seen)
    assert "error=503" in caplog.text  # Apprise's own lines were logged, scrubbed
    for text in [caplog.text, *(r.channel for r in seen), *(r.last_error for r in seen)]:
        assert SECRET not in text
    assert all("****" in r.channel for r in seen)
    # The real credentials did travel, to the receiver only.
    auth = alex.requests[-1].headers["Authorization"].removeprefix("Basic ")
    assert base64.b64decode(auth).decode() == f"user:{SECRET}"


# --- the daemon's wiring ---------------------------------------------------------------------------


def test_make_nudger_reads_apprise_txt_and_delivers_with_the_streak(
    receivers: StartReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's "shows it is done": apprise.txt names `couple`, the ritual notifies `couple`."""
    for name in [n for n in os.environ if n.startswith("RITUAL_") or n == "CREDENTIALS_DIRECTORY"]:
        monkeypatch.delenv(name)
    couple = receivers()
    config = tmp_path / "config"
    config.mkdir()
    (config / "apprise.txt").write_text(f"couple={couple.url('')}\n", encoding="utf-8")
    settings = Settings(config_dir=config, data_dir=tmp_path / "data", send_timeout=TIMEOUT)
    clock = FakeClock(START)
    store = SqlStore.open(f"sqlite:///{tmp_path / 'ritual.db'}")
    try:
        service = RitualService(store, clock, ritual_file=tmp_path / "none.toml", default_timezone="UTC")
        ritual = ritual_from_table(
            {"name": "talk", "title": TITLE, "at": "20:30", "timezone": "UTC", "notify": ["couple"]}
        )
        talk = store.save_ritual(ritual, RitualSource.CLI, now=START, effective_from=date(2026, 11, 1))
        for day in (22, 23):
            service.record_done("talk", day=date(2026, 11, day))
        nudger = make_nudger(settings, service)

        clock.set(DUE)
        nudger.handle_due(talk)

        [got] = couple.requests
        assert got.body["title"] == TITLE
        assert "Streak: day 2 in a row." in got.body["message"]
        [occurrence] = store.occurrences(ritual_id=talk.id)
        assert occurrence.status is OccurrenceStatus.SENT
    finally:
        store.close()


@pytest.mark.parametrize(
    ("restart_after", "expected", "received"),
    [(timedelta(minutes=5), OccurrenceStatus.SENT, 1), (timedelta(hours=3), OccurrenceStatus.MISSED, 0)],
    ids=["within-grace-sent", "past-grace-missed"],
)
def test_a_claim_left_without_deliveries_is_taken_up_at_restart(
    receivers: StartReceiver,
    households: Callable[..., Household],
    restart_after: timedelta,
    expected: OccurrenceStatus,
    received: int,
) -> None:
    alex = receivers()
    home = households({"alex": [alex.url("a")]})
    talk = home.add(notify=["alex"])
    occurrence, _ = home.store.claim_occurrence(
        talk.id,
        day=DUE.date(),
        slot="20:30",
        kind=OccurrenceKind.DUE,
        due_at=DUE,
        status=OccurrenceStatus.PENDING,
        now=DUE,
    )  # what a daemon killed before writing the delivery rows left behind
    home.clock.set(DUE + restart_after)
    assert home.new_outbox().recover() == 1
    assert home.store.get_occurrence(occurrence.id).status is expected  # type: ignore[union-attr]
    assert len(alex.requests) == received
    assert home.new_outbox().recover() == 0, "taken up once"
