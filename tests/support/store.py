"""Looking under the store: a raw engine, its tables and revision stamps, and rows of an older database.

For tests that build old schemas, seed them with plain SQL and check what an upgrade kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, inspect

from scheduler.adapters.store import migrate
from scheduler.adapters.store.engine import make_engine, parse_url, prepare_sqlite_file, sqlite_path
from scheduler.domain.cadence import Cadence
from scheduler.domain.definitions import cadence_to_table, ritual_from_table, ritual_to_table


@contextmanager
def raw_engine(url: str) -> Iterator[Engine]:
    """An engine set up like the store's, for looking under it and for building old schemas."""
    parsed = parse_url(url)
    path = sqlite_path(parsed)
    if path is not None:
        prepare_sqlite_file(path)
    engine = make_engine(parsed)
    try:
        yield engine
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    with raw_engine(url) as engine, engine.connect() as connection:
        return set(inspect(connection).get_table_names())


def stamped(url: str) -> set[str]:
    with raw_engine(url) as engine, engine.connect() as connection:
        return migrate.current_revisions(connection)


# What an older database holds: rows for every table, as plain column values. A later
# revision that adds a required column extends these rows; columns a revision does not
# have yet are left out when seeding it.
SEED_AT = datetime(2026, 2, 1, 21, 15, 30, 123456, tzinfo=UTC)
SEED: dict[str, list[dict[str, Any]]] = {
    "ritual": [
        {
            "id": 1,
            "name": "talk",
            "title": "Talk",
            "dimension": "emotional",
            "source": "file",
            "definition": json.dumps(
                ritual_to_table(
                    ritual_from_table({"name": "talk", "dimension": "emotional", "title": "Talk"})
                )
            ),
            "created_at": SEED_AT,
            "updated_at": SEED_AT,
            "removed_at": None,
        }
    ],
    "cadence_version": [
        {
            "id": 1,
            "ritual_id": 1,
            "effective_from": date(2026, 1, 1),
            "cadence": json.dumps(cadence_to_table(Cadence())),
            "recorded_at": SEED_AT,
        }
    ],
    "completion": [
        {
            "id": number,
            "ritual_id": 1,
            "day": date(2026, 1, number),
            "at": SEED_AT.replace(day=number, month=1),
            "period_key": f"2026-01-{number:02d}",
            "by_person": by,
            "note": f"note {number}",
            "source": "link" if occurrence else "cli",
            "occurrence": occurrence,
            "created_at": SEED_AT,
        }
        for number, by, occurrence in [
            (1, "ann", "talk/2026-01-01/20:30"),
            (2, "ben", "talk/2026-01-01/20:30"),
            (3, "", None),
            (4, "", None),
        ]
    ],
    "skip": [{"id": 1, "ritual_id": 1, "day": date(2026, 1, 9), "reason": "ill", "created_at": SEED_AT}],
    "pause": [
        {
            "id": 1,
            "ritual_id": 1,
            "start": date(2026, 1, 10),
            "until": None,
            "reason": "travel",
            "created_at": SEED_AT,
        }
    ],
    "meta": [{"key": "ritual_file_hash", "value": "abc123"}],
    # From 0002 on.
    "occurrence": [
        {
            "id": 1,
            "ritual_id": 1,
            "day": date(2026, 1, 5),
            "slot": "20:30",
            "kind": "due",
            "due_at": SEED_AT,
            "status": "sent",
            "created_at": SEED_AT,
            "decided_at": SEED_AT,
            "note": "sent 25 min late",
            "epoch": 3,
        }
    ],
    "delivery": [
        {
            "id": 1,
            "occurrence_id": 1,
            "channel": "ann: json://127.0.0.1/",
            "target": "f" * 64,
            "status": "given_up",
            "attempts": 5,
            "last_error": "503",
            "next_attempt_at": None,
            "idempotency_key": f"1:{'f' * 64}",
            "created_at": SEED_AT,
            "updated_at": SEED_AT,
        }
    ],
}
