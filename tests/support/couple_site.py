"""A couple's installation for the page tests: Alex and Sam, a few rituals, a token each.

The store is a real SQLite file, the clock a fake one (Friday 27 Nov 2026, 19:30 in Berlin).
``serve`` runs the app on a real uvicorn server in a thread for the browser tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.store import SqlStore
from scheduler.adapters.web import create_app
from scheduler.app.service import RitualService
from scheduler.app.stored import RitualSource, api_token_hash
from scheduler.domain.definitions import ritual_from_table
from scheduler.domain.people import Household, Person

NOW = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)
FRIDAY = date(2026, 11, 27)
KEY = b"c" * 32
TOKENS = {"alex": "rt_alex-page-token", "sam": "rt_sam-page-token"}
RITUALS: list[dict[str, Any]] = [
    {
        "name": "date-night",
        "title": "Date night",
        "every": "week",
        "on": "fri",
        "at": "19:00",
        "people": ["alex", "sam"],
        "start": "2026-11-01",
    },
    {
        "name": "talk",
        "title": "20 minutes, phones away",
        "every": "day",
        "at": "20:30",
        "people": ["alex", "sam"],
        "complete_when": "both",
        "start": "2026-11-01",
    },
    {
        "name": "journal",
        "title": "Journal",
        "every": "day",
        "at": "21:00",
        "people": ["sam"],
        "start": "2026-11-01",
    },
    {
        "name": "run",
        "title": "Morning run",
        "every": "day",
        "at": "07:00",
        "people": ["alex"],
        "start": "2026-11-01",
    },
]


@dataclass
class Couple:
    store: SqlStore
    clock: FakeClock
    service: RitualService
    db: Path

    def app(self) -> Any:
        from scheduler.adapters.ics import ics_feed

        return create_app(
            self.service, key=KEY, clock=self.clock, public_url="http://127.0.0.1:8470", calendar=ics_feed
        )

    def marks(self, name: str) -> list[tuple[date, str, str]]:
        """(day, by, note) of each completion of ``name``."""
        stored = self.store.get_ritual(name)
        assert stored is not None
        return [(c.day, c.by, c.note) for c in self.store.completions(stored.id)]


@contextmanager
def couple_home(tmp_path: Path) -> Iterator[Couple]:
    db = tmp_path / "ritual.db"
    store = SqlStore.open(f"sqlite:///{db}")
    for table in RITUALS:
        ritual = ritual_from_table({"timezone": "Europe/Berlin", "start": "2026-11-01", **table})
        assert ritual.start is not None
        store.save_ritual(ritual, RitualSource.CLI, now=NOW, effective_from=ritual.start)
    for person, token in TOKENS.items():
        store.create_api_token(f"{person}-phone", api_token_hash(token), now=NOW, person=person)
    clock = FakeClock(NOW)
    service = RitualService(
        store,
        clock,
        ritual_file=tmp_path / "none.toml",
        default_timezone="Europe/Berlin",
        household=Household((Person("alex", "Alex"), Person("sam", "Sam"))),
    )
    try:
        yield Couple(store, clock, service, db)
    finally:
        store.close()


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """The app on a real uvicorn server on a free port of 127.0.0.1; yields its base URL."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
