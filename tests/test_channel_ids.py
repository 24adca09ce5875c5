"""No delivery row holds a guessable hash of a channel's URL (issue 15, item 3).

Each row stored the masked URL beside sha256(real URL). They differ only in the password, so a
word list found it: hash each guess put into the masked URL, compare. Now a channel's id is an
HMAC under the link key, computed in the notify adapter, and migration 0005 re-keys the rows an
older version wrote, keeping every one and keeping their retries pointed at their channel.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, insert, text

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.notify import channel_target
from scheduler.adapters.notify.channel import CHANNEL_PREFIX
from scheduler.adapters.store import SqlStore, migrate
from scheduler.adapters.store.engine import parse_url
from scheduler.app.stored import DeliveryStatus, OccurrenceKind, OccurrenceStatus, RitualSource
from scheduler.domain.definitions import ritual_from_table, ritual_to_table
from scheduler.domain.errors import StoreError
from scheduler.settings import Settings
from scheduler.wiring import load_household_channels, make_nudger, open_service
from tests.support.receivers import Receiver
from tests.support.store import raw_engine, stamped

KEY = b"k" * 32
NOW = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
PASSWORD = "hunter2"
WORD_LIST = ["123456", "password", "letmein", "hunter1", PASSWORD, "hunter3", "s3cret"]


def real_url(receiver: Receiver, password: str = PASSWORD) -> str:
    return f"json://ann:{password}@127.0.0.1:{receiver.port}/"


def everything_stored(url: str) -> str:
    """Every value of every row of every table, as one text: what a copy of the database gives away."""
    with raw_engine(url) as engine, engine.connect() as connection:
        schema = MetaData()
        schema.reflect(connection)
        return "\n".join(
            str(value)
            for table in schema.tables.values()
            for row in connection.execute(table.select())
            for value in row
        )


def test_a_channel_id_is_stable_keyed_and_reveals_nothing() -> None:
    url = "ntfy://ben:hunter2@ntfy.sh/rituals"
    target = channel_target(KEY, url)
    assert target == channel_target(KEY, url), "stable: the same channel is recognised"
    assert len(target) == 64 and set(target) <= set("0123456789abcdef")
    assert target != channel_target(KEY, url.replace("hunter2", "hunter3"))
    assert target != channel_target(b"o" * 32, url), "another key, another id"
    assert target != hashlib.sha256(url.encode()).hexdigest()


def settings_for(tmp_path: Path, receiver: Receiver, database: str | None = None) -> Settings:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "apprise.txt").write_text(f"couple={real_url(receiver)}\n", encoding="utf-8")
    values: dict[str, Any] = {"config_dir": config, "data_dir": tmp_path / "data", "timezone": "UTC"}
    if database is not None:
        values["database_url"] = database
    return Settings(**values)


def test_a_word_list_finds_no_password_in_the_outbox(tmp_path: Path, receiver: Receiver) -> None:
    """The attack of the issue, on rows the real outbox wrote for a real send."""
    settings = settings_for(tmp_path, receiver)
    service = open_service(settings, FakeClock(NOW))
    stored = service.add({"name": "talk", "at": "11:00", "timezone": "UTC", "notify": ["couple"]})
    occurrence, _ = service.store.claim_occurrence(
        stored.id,
        day=NOW.date(),
        slot="11:00",
        kind=OccurrenceKind.DUE,
        due_at=NOW,
        status=OccurrenceStatus.PENDING,
        now=NOW,
    )
    nudger = make_nudger(settings, service)
    (channel,) = load_household_channels(settings, strict=True)
    nudger.outbox._open([(stored, occurrence, ["couple"])])  # type: ignore[attr-defined]
    assert len(receiver.requests) == 1
    (row,) = service.store.deliveries()
    assert row.target == channel.target
    service.store.close()
    dump = everything_stored(settings.database)
    assert PASSWORD not in dump
    masked = row.channel.split(" ", 1)[1]
    canonical = channel.url.get_secret_value()
    for guess in WORD_LIST:
        candidates = (
            real_url(receiver, guess),
            masked.replace("****", guess),
            canonical.replace(PASSWORD, guess),
        )
        for candidate in candidates:
            assert hashlib.sha256(candidate.encode()).hexdigest() not in dump, guess
        guessed = canonical.replace(PASSWORD, guess)  # the URL as Apprise writes it: what was hashed
        assert hashlib.sha256(guessed.encode()).hexdigest() not in dump, guess


def old_database(url: str, canonical: str) -> tuple[str, int]:
    """A database as 0004 left it: a ritual, a nudge, and a delivery retrying through a channel
    whose target is sha256 of its real URL (``canonical``, as Apprise writes it). Returns that
    hash and the delivery's id."""
    ritual = ritual_from_table({"name": "talk", "at": "11:00", "timezone": "UTC", "notify": ["couple"]})
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    with raw_engine(url) as engine:
        migrate.upgrade(engine, parse_url(url), "0004")
        schema = MetaData()
        schema.reflect(engine)
        rows: dict[str, list[dict[str, Any]]] = {
            "ritual": [
                {
                    "id": 1,
                    "name": "talk",
                    "title": ritual.title,
                    "dimension": str(ritual.dimension),
                    "source": str(RitualSource.CLI),
                    "definition": json.dumps(ritual_to_table(ritual)),
                    "created_at": NOW - timedelta(days=3),
                    "updated_at": NOW - timedelta(days=3),
                    "removed_at": None,
                }
            ],
            "cadence_version": [
                {
                    "id": 1,
                    "ritual_id": 1,
                    "effective_from": date(2026, 11, 21),
                    "cadence": json.dumps({k: v for k, v in ritual_to_table(ritual).items() if k in CADENCE}),
                    "recorded_at": NOW - timedelta(days=3),
                }
            ],
            "occurrence": [
                {
                    "id": 1,
                    "ritual_id": 1,
                    "day": NOW.date(),
                    "slot": "11:00",
                    "kind": "due",
                    "due_at": NOW - timedelta(minutes=2),
                    "status": str(OccurrenceStatus.PENDING),
                    "created_at": NOW - timedelta(minutes=2),
                    "decided_at": None,
                    "note": "",
                    "epoch": 0,
                }
            ],
            "delivery": [
                {
                    "id": 7,
                    "occurrence_id": 1,
                    "channel": "couple json://ann:****@127.0.0.1/",
                    "target": digest,
                    "status": str(DeliveryStatus.RETRY),
                    "attempts": 1,
                    "last_error": "503",
                    "next_attempt_at": NOW - timedelta(seconds=1),
                    "idempotency_key": f"1:{digest}",
                    "created_at": NOW - timedelta(minutes=2),
                    "updated_at": NOW - timedelta(minutes=1),
                }
            ],
        }
        with engine.begin() as connection:
            for name, values in rows.items():
                table = schema.tables[name]
                connection.execute(
                    insert(table), [{k: v for k, v in r.items() if k in table.c} for r in values]
                )
    return digest, 7


CADENCE = ("every", "interval", "times", "on", "timezone", "day_starts_at", "week_starts", "start")


def test_the_upgrade_rekeys_old_rows_and_their_retry_still_finds_the_channel(
    tmp_path: Path, receiver: Receiver, store_url: str
) -> None:
    settings = settings_for(tmp_path, receiver, database=store_url)
    (channel,) = load_household_channels(settings, strict=True)
    digest, delivery_id = old_database(store_url, channel.url.get_secret_value())
    service = open_service(settings, FakeClock(NOW))  # migrates, with the settings' link key
    try:
        assert stamped(store_url) == {migrate.HEAD}
        (row,) = service.store.deliveries()
        assert (row.id, row.status, row.attempts) == (delivery_id, DeliveryStatus.RETRY, 1)
        assert row.target == channel.target != digest
        assert row.idempotency_key == f"1:{channel.target}"
        assert make_nudger(settings, service).deliver_due() == 1  # the retry finds its channel
        assert len(receiver.requests) == 1
        (row,) = service.store.deliveries()
        assert row.status is DeliveryStatus.SENT
    finally:
        service.store.close()
    assert digest not in everything_stored(store_url)


def test_an_old_database_is_not_upgraded_without_the_link_key(store_url: str) -> None:
    digest, _ = old_database(store_url, "json://ann:hunter2@127.0.0.1:9/")
    with pytest.raises(StoreError, match="re-keys its channel ids with the link key"):
        SqlStore.open(store_url)
    assert stamped(store_url) == {"0004"}, "the whole upgrade rolled back"
    with raw_engine(store_url) as engine, engine.connect() as connection:
        assert connection.execute(text("SELECT target FROM delivery")).scalar() == digest


def test_a_custom_plugins_short_id_in_its_label_is_rekeyed_too(store_url: str) -> None:
    """A custom plugin's masked URL is only its scheme, so its label carried target[:8]."""
    digest = hashlib.sha256(b"journal://mine").hexdigest()
    with raw_engine(store_url) as engine:
        migrate.upgrade(engine, parse_url(store_url), "0004")
        schema = MetaData()
        schema.reflect(engine)
        occurrence = {"id": 1, "ritual_id": None, "day": NOW.date(), "slot": "digest", "kind": "digest"}
        occurrence |= {"due_at": NOW, "status": "sent", "created_at": NOW, "note": "", "epoch": 0}
        delivery = {
            "id": 1,
            "occurrence_id": 1,
            "channel": f"all journal:// ({digest[:8]})",
            "target": digest,
        }
        delivery |= {"status": "sent", "attempts": 1, "last_error": "", "idempotency_key": f"1:{digest}"}
        delivery |= {"created_at": NOW, "updated_at": NOW}
        with engine.begin() as connection:
            connection.execute(insert(schema.tables["occurrence"]), [occurrence])
            connection.execute(insert(schema.tables["delivery"]), [delivery])
    store = SqlStore.open(store_url, link_key=lambda: KEY)
    try:
        (row,) = store.deliveries()
        assert row.channel == f"all journal:// ({row.target[:8]})"
        assert digest[:8] not in row.channel
    finally:
        store.close()


def test_the_migration_keys_ids_as_the_adapter_does() -> None:
    import importlib

    revision = importlib.import_module("scheduler.adapters.store.migrations.versions.0005_channel_hmac")
    assert revision.CHANNEL_PREFIX == CHANNEL_PREFIX
    url = "json://ann:hunter2@127.0.0.1:9/"
    assert revision.keyed(KEY, hashlib.sha256(url.encode()).hexdigest()) == channel_target(KEY, url)
