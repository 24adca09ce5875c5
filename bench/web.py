"""Benchmark: the today page and a link tap, each against a baseline of the same app in one run.

12 daily rituals of a couple (Alex and Sam), each with 5 years of daily history, in a real
SQLite file; the app in process (Starlette's TestClient), so both sides of a ratio take the
same path through it. Prints p50 of:

- the today page (logged in as Alex) vs ``GET /api/v1/streaks`` on the same data: goal <= 1.5x
  (the page should cost little beyond reading the history);
- a link-tap ``POST /l/TOKEN`` (a Done from a nudge) vs the login page's ``POST /login``:
  goal <= 2x.

    python bench/web.py [--rituals 12] [--years 5] [--requests 40]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.store import SqlStore
from scheduler.adapters.web import create_app
from scheduler.app.service import RitualService
from scheduler.app.stored import OccurrenceKind, OccurrenceStatus, RitualSource, api_token_hash
from scheduler.domain.definitions import ritual_from_table
from scheduler.domain.links import LinkAction, LinkClaim, expiry_for, sign
from scheduler.domain.people import Household, Person

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

NOW = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)
KEY = b"w" * 32
TOKEN = "rt_bench-web-token"


def build(path: Path, rituals: int, years: int, seed: int = 21) -> tuple[int, int]:
    """The rituals and their history; returns (completions, the id of a nudge for the link)."""
    store = SqlStore.open(f"sqlite:///{path}")
    start = NOW.date() - timedelta(days=365 * years)
    ids = []
    for number in range(rituals):
        table = {
            "name": f"ritual-{number:02d}",
            "title": f"Ritual {number}",
            "every": "day",
            "at": "20:30",
            "timezone": "Europe/Berlin",
            "people": ["alex", "sam"],
            "complete_when": "both" if number % 3 == 0 else "either",
            "start": start.isoformat(),
        }
        ids.append(
            store.save_ritual(ritual_from_table(table), RitualSource.CLI, now=NOW, effective_from=start).id
        )
    occurrence, _ = store.claim_occurrence(
        ids[1],
        day=NOW.date(),
        slot="20:30",
        kind=OccurrenceKind.DUE,
        due_at=NOW,
        status=OccurrenceStatus.SENT,
        now=NOW,
    )
    store.create_api_token("alex-phone", api_token_hash(TOKEN), now=NOW, person="alex")
    store.close()
    rng = random.Random(seed)
    rows = []
    for ritual_id in ids:
        day = start
        while day < NOW.date():
            for person in ("alex", "sam"):
                if rng.random() < 0.8:
                    at = f"{day.isoformat()} 19:00:00.000000"
                    stamp = (at, day.isoformat(), person, "", "cli", f"{NOW:%Y-%m-%d %H:%M:%S.%f}")
                    rows.append((ritual_id, day.isoformat(), *stamp))
            day += timedelta(days=1)
    with sqlite3.connect(path) as db:
        db.executemany(
            "insert into completion (ritual_id, day, at, period_key, by_person, note, source, created_at)"
            " values (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    return len(rows), occurrence.id


def p50(requests: int, call: Callable[[], Any]) -> float:
    times = []
    for _ in range(requests):
        began = time.perf_counter()
        answer = call()
        times.append(time.perf_counter() - began)
        assert answer.status_code < 400, (answer.status_code, answer.text[:200])
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rituals", type=int, default=12)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        count, occurrence = build(path, args.rituals, args.years)
        print(f"{args.rituals} daily rituals, {count} completions over {args.years} years")
        store = SqlStore.open(f"sqlite:///{path}")
        clock = FakeClock(NOW)
        household = Household((Person("alex", "Alex"), Person("sam", "Sam")))
        service = RitualService(
            store, clock, ritual_file=path.with_suffix(".toml"), default_timezone="UTC", household=household
        )
        app = create_app(service, key=KEY, clock=clock, public_url="http://127.0.0.1")
        claim = LinkClaim(
            occurrence, "alex", LinkAction.DONE, expiry_for(NOW + timedelta(days=1), timedelta(0))
        )
        link = f"/l/{sign(claim, KEY)}"
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        with TestClient(app, follow_redirects=False) as client:
            client.get("/login", params={"token": TOKEN})  # the session cookie
            page = client.get("/")
            assert page.status_code == 200 and "Hello, Alex" in page.text
            client.post(link)  # the first tap records; the others answer "already recorded"
            for warm in ("/", "/api/v1/streaks", "/login"):
                client.get(warm, headers=bearer if warm.startswith("/api") else None)
            today = p50(args.requests, lambda: client.get("/"))
            streaks = p50(args.requests, lambda: client.get("/api/v1/streaks", headers=bearer))
            login_page = p50(args.requests, lambda: client.get("/login"))
            tap = p50(args.requests, lambda: client.post(link))
            login_post = p50(args.requests, lambda: client.post("/login", data={"token": TOKEN}))
        store.close()
        print(f"today page:           {today * 1000:7.1f} ms p50  ({len(page.content) // 1024} KiB)")
        print(f"GET /api/v1/streaks:  {streaks * 1000:7.1f} ms p50")
        print(f"login page (GET):     {login_page * 1000:7.1f} ms p50")
        print(f"link tap (POST):      {tap * 1000:7.1f} ms p50")
        print(f"login (POST):         {login_post * 1000:7.1f} ms p50")
        print(f"ratio today/streaks: {today / streaks:.2f}x (goal <= 1.5x)")
        print(f"ratio tap/login-post: {tap / login_post:.2f}x (goal <= 2x)")


if __name__ == "__main__":
    main()
