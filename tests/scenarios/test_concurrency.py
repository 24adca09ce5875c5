"""Concurrency (issue 8): `ritual done` and `ritual skip` from 8 processes at once while the daemon
fires, and not one "database is locked".

Eight worker processes (``_daemon_harness`` run as a module) each run their share of the
commands back to back, in-process through click's ``main`` as the console script runs them:
every command builds its own settings, opens the store (engine, schema check, ritual-file
sync) and closes it. They start together half a second before a minute boundary on which
every ritual falls due, so the daemon claims and sends its nudges in the middle of the
stream. Each command carries its own id (the completion's note, the skip's reason) and the
test then finds each one's effect, once, in the database, and counts completions per
ritual, day and person and skips per ritual and day.

CI: 200 commands. ``RITUAL_SCENARIO_SCALE=full``: 1,000.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.scenarios._daemon_harness import (
    CHANNEL_TAG,
    ROOT,
    DaemonProcess,
    Installation,
    NotifySocket,
    next_minute,
    wait_for,
)
from tests.scenarios.conftest import figures, scaled
from tests.support.receivers import Receiver

COMMANDS = scaled(200, 1000)
WORKERS = 8
RITUALS = 40
PEOPLE = ("alex", "sam")
LOCKED = ("database is locked", "database table is locked")


def make_commands(rng: random.Random, names: list[str], today: str, count: int) -> list[dict[str, Any]]:
    """Three done for every skip, on today or one of the six days before, each with its own id.

    Each done is one more on purpose (``--again``): a person's second of a day is otherwise the
    same completion, and here every command must leave its own row."""
    days = [(datetime.fromisoformat(today) - timedelta(days=n)).date().isoformat() for n in range(7)]
    commands = []
    for n in range(count):
        cid = f"cmd-{n:04d}"
        name, day = rng.choice(names), rng.choice(days)
        if rng.random() < 0.75:
            by = rng.choice(PEOPLE)
            args = ["done", name, "--date", day, "--by", by, "--note", cid, "--again"]
            commands.append({"id": cid, "args": args, "kind": "done", "key": [name, day, by]})
        else:
            args = ["skip", name, "--date", day, "--reason", cid]
            commands.append({"id": cid, "args": args, "kind": "skip", "key": [name, day]})
    return commands


def decided(installation: Installation) -> int:
    with installation.store() as store:
        return sum(1 for o in store.occurrences() if o.status.value != "pending")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * share), len(ordered) - 1)]


@pytest.mark.slow
@pytest.mark.timeout(scaled(180, 600))
def test_done_and_skip_from_eight_processes_while_the_daemon_fires(
    tmp_path: Path, receiver: Receiver, database_url: str | None
) -> None:
    seed = int(os.environ.get("RITUAL_SCENARIO_SEED") or random.SystemRandom().randrange(10**9))
    rng = random.Random(seed)
    installation = Installation(tmp_path, receiver.port, database_url)
    # Far enough for the workers to start and import everything before it.
    boundary = next_minute(margin=10.0)
    names = [f"busy-{i:02d}" for i in range(RITUALS)]
    installation.write_rituals(
        [
            {
                "name": name,
                "title": name,
                "timezone": "UTC",
                "at": f"{boundary:%H:%M}",
                "notify": [CHANNEL_TAG],
            }
            for name in names
        ]
    )
    commands = make_commands(rng, names, datetime.now(UTC).date().isoformat(), COMMANDS)
    start_at = boundary.timestamp() - 0.5
    notify = NotifySocket(tmp_path / "notify.sock")
    daemon = DaemonProcess(installation, tmp_path / "daemon.log", notify)
    workers: list[subprocess.Popen[str]] = []
    try:
        daemon.start()
        assert daemon.wait_ready(), "the daemon never said READY=1"
        for n in range(WORKERS):
            job = tmp_path / f"job-{n}.json"
            job.write_text(
                json.dumps(
                    {"env": installation.env(), "start_at": start_at, "commands": commands[n::WORKERS]}
                ),
                encoding="utf-8",
            )
            workers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tests.scenarios._daemon_harness",
                        str(job),
                        str(tmp_path / f"out-{n}.json"),
                    ],
                    env=installation.env(),
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        outputs = [worker.communicate(timeout=scaled(150, 500))[1] for worker in workers]
        codes = [worker.returncode for worker in workers]
        # The daemon's part: every ritual's nudge at the boundary decided (sent, or suppressed when a
        # `done` for today came first).
        assert wait_for(lambda: decided(installation) == RITUALS, 30), "the daemon did not decide every nudge"
        assert daemon.stop() == 0, "the daemon did not stop cleanly on SIGTERM"
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.communicate()
        daemon.close()
        notify.close()
    assert codes == [0] * WORKERS, [out[-2000:] for out in outputs if out]
    results = [r for n in range(WORKERS) for r in json.loads((tmp_path / f"out-{n}.json").read_text())]
    errors = [r for r in results if r["error"]]
    locked = [r for r in errors if any(text in r["error"].lower() for text in LOCKED)]
    log = daemon.log_text()
    locked_in_logs = sum(text.count(phrase) for text in [log, *outputs] for phrase in LOCKED)

    with installation.store() as store:
        rituals = {s.id: s.name for s in store.list_rituals()}
        completions = [c for ritual_id in rituals for c in store.completions(ritual_id)]
        skips = [s for ritual_id in rituals for s in store.skips(ritual_id)]
        occurrences = store.occurrences()
    done_ids = Counter(c.note for c in completions)
    skip_ids = Counter(s.reason for s in skips)
    expected_done = Counter(tuple(c["key"]) for c in commands if c["kind"] == "done")
    # A skip of a day already skipped leaves the first as it is (issue 20): one per key, the reason
    # of the command that got there first.
    expected_skip = Counter({tuple(c["key"]): 1 for c in commands if c["kind"] == "skip"})
    stored_done = Counter((rituals[c.ritual_id], c.day.isoformat(), c.by) for c in completions)
    stored_skip = Counter((rituals[s.ritual_id], s.day.isoformat()) for s in skips)
    absent = [c["id"] for c in commands if c["kind"] == "done" and done_ids[c["id"]] != 1]
    skipped_by = {(rituals[s.ritual_id], s.day.isoformat()): s.reason for s in skips}
    absent += [
        c["id"]
        for c in commands
        if c["kind"] == "skip" and (skip_ids[c["id"]] > 1 or skipped_by.get(tuple(c["key"])) is None)
    ]

    first = min(r["began"] for r in results)
    last = max(r["ended"] for r in results)
    latencies = [r["ended"] - r["began"] for r in results]
    during = [r for r in receiver.requests if first <= r.wall <= last]
    figures(
        f"concurrency ({installation.backend})",
        seed=seed,
        commands=len(results),
        processes=WORKERS,
        done_skip=f"{sum(expected_done.values())}/{sum(expected_skip.values())}",
        wall_s=f"{last - first:.2f}",
        throughput=f"{len(results) / (last - first):.0f} commands/s",
        latency_ms=", ".join(
            f"{label} {value * 1000:.0f}"
            for label, value in (
                ("p50", percentile(latencies, 0.5)),
                ("p95", percentile(latencies, 0.95)),
                ("max", max(latencies)),
            )
        ),
        slowest=", ".join(
            f"{r['id']} {r['ended'] - r['began']:.2f}s at {r['began'] - boundary.timestamp():+.1f}s"
            for r in sorted(results, key=lambda r: r["began"] - r["ended"])[:3]
        ),
        errors=len(errors),
        database_locked=len(locked) + locked_in_logs,
        nudges_received=f"{len(receiver.requests)} ({len(during)} while the commands ran)",
        occurrences=dict(Counter(o.status.value for o in occurrences)),
        integrity=installation.integrity() or "n/a (PostgreSQL)",
    )
    assert not locked and not locked_in_logs, locked[:5]
    assert not errors, errors[:5]
    assert len(results) == COMMANDS
    assert not absent, f"commands whose effect is not stored exactly once: {absent[:10]}"
    assert stored_done == expected_done
    assert stored_skip == expected_skip
    statuses = Counter(o.status.value for o in occurrences)
    assert set(statuses) <= {"sent", "suppressed"}, statuses
    assert sorted(r.title for r in receiver.requests) == sorted(
        name
        for name in names
        if any(rituals.get(o.ritual_id or 0) == name and o.status.value == "sent" for o in occurrences)
    ), "every sent nudge arrives once"
    assert installation.integrity() in (None, "ok")
    assert "Traceback" not in log
