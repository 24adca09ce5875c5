"""Two `ritual run` daemons on one PostgreSQL schema: one leads, the other takes over.

Real processes, a real PostgreSQL, a real local receiver for Apprise's json:// and real
minutes (rituals are timed to the minute), so it is slow: about 2.5 to 3.5 minutes.
Timeline, with M the first due minute (two rituals are due at M, M+1 and M+2 each):

- both daemons start before M; exactly one leads and fires M's nudges;
- 3 s before M+1 the leader is SIGKILLed: the standby takes over (and fires M+1's nudges,
  late if need be); the killed one restarts and stands by;
- 2 s before M+2 the leader's backend is ended with pg_terminate_backend: the leader fences
  itself, and one daemon leads again with a higher epoch and fires M+2's nudges;
- across the run every occurrence key is in the table as sent (or late) and reached the
  receiver exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, NamedTuple

import psycopg
import pytest

from scheduler.adapters.store.engine import schema_lock_key
from scheduler.adapters.store.leader import APPLICATION_NAME, LEADER_LOCK
from tests.conftest import POSTGRES_ENV, libpq_url
from tests.support.daemon import ROOT, NotifySocket, next_minute, wait_for
from tests.support.receivers import Receiver

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TAKEOVER_LIMIT = 30.0  # seconds, the bound
MINUTES = 3  # due minutes M, M+1, M+2
PER_MINUTE = 2  # rituals due at each of them
HOST = socket.gethostname()


class Node:
    """One `ritual run` with a data dir (its instance lock file) and a notify socket of its own."""

    def __init__(self, name: str, home: Path, env: dict[str, str]) -> None:
        self.name = name
        self.home = home
        home.mkdir()
        self.notify = NotifySocket(home / "notify.sock")
        self.env = {**env, "RITUAL_DATA_DIR": str(home / "data"), "NOTIFY_SOCKET": str(self.notify.path)}
        self.log_path = home / "daemon.log"
        self._log: IO[str] = self.log_path.open("a")
        self.process: subprocess.Popen[bytes] | None = None
        self.pids: list[int] = []

    def start(self) -> None:
        self.notify.drain()
        self.notify.messages.clear()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scheduler", "run"],
            env=self.env,
            stderr=self._log,
            cwd=self.home,
        )
        self.pids.append(self.process.pid)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def ready(self) -> bool:
        return any("READY=1" in m for m in self.notify.drain())

    def status(self) -> str:
        """The last STATUS= this daemon sent ("" before any)."""
        lines = [line for m in self.notify.drain() for line in m.splitlines() if line.startswith("STATUS=")]
        return lines[-1].removeprefix("STATUS=") if lines else ""

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> int | None:
        """SIGTERM and wait; the exit code (None when it had to be killed)."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()
        self.notify.close()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8")


def leads(node: Node) -> bool:
    return node.status().startswith("serving ")


def stands_by_for(node: Node, leader: Node) -> bool:
    return node.status() == f"standby: {HOST} {leader.pid} leads"


def status_json(env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "scheduler", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded: dict[str, Any] = json.loads(done.stdout)
    return loaded


class Leader(NamedTuple):
    pid: int
    epoch: int
    since: datetime


class Occurrence(NamedTuple):
    name: str
    day: date
    slot: str
    status: str
    epoch: int
    claimed_at: datetime
    id: int


def leader_of(env: dict[str, str]) -> Leader:
    """`ritual status --json`'s leader: the holder's pid, the epoch and when it was elected."""
    leader = status_json(env)["leader"]
    assert leader is not None, "no leader recorded"
    host, pid = str(leader["holder"]).rsplit(" ", 1)
    assert host == HOST
    return Leader(int(pid), int(leader["epoch"]), datetime.fromisoformat(leader["since"]))


def took(since: datetime, elected: list[Leader], env: dict[str, str]) -> str:
    """Record the new leader; how long after ``since`` it was elected (and `ritual status` showed it)."""
    seen = datetime.now(UTC)
    elected.append(leader_of(env))
    takeover = (elected[-1].since - since).total_seconds()
    assert 0 < takeover < TAKEOVER_LIMIT, (since, elected[-1])
    return f"{takeover:.1f} s (status showed it after {(seen - since).total_seconds():.1f} s)"


def sleep_until(when: datetime) -> None:
    time.sleep(max((when - datetime.now(UTC)).total_seconds(), 0.0))


def exactly_one_leads(a: Node, b: Node) -> tuple[Node, Node] | None:
    """(leader, standby) once one daemon says it serves and the other stands by for it."""
    for leader, standby in ((a, b), (b, a)):
        if leads(leader) and stands_by_for(standby, leader):
            return leader, standby
    return None


def settle(a: Node, b: Node, seconds: float) -> tuple[Node, Node]:
    found: list[tuple[Node, Node]] = []

    def check() -> bool:
        pair = exactly_one_leads(a, b)
        if pair is not None:
            found.append(pair)
        return pair is not None

    assert wait_for(check, seconds), f"not exactly one leader: a={a.status()!r} b={b.status()!r}"
    return found[-1]


@pytest.mark.timeout(360)
def test_two_daemons_fail_over_without_a_lost_or_double_nudge(
    tmp_path: Path, postgres_url: str, receiver: Receiver
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    first = next_minute(margin=15.0)
    titles: dict[str, str] = {}  # title -> ritual name
    blocks = []
    for minute in range(MINUTES):
        due = first + timedelta(minutes=minute)
        for n in range(PER_MINUTE):
            name = f"r{minute}{n}"
            titles[f"Ritual {name}"] = name
            blocks.append(
                f'[[ritual]]\nname = "{name}"\ntitle = "Ritual {name}"\ntimezone = "UTC"\n'
                f'at = "{due:%H:%M}"\nnotify = ["couple"]\n'
            )
    (config / "rituals.toml").write_text("\n".join(blocks), encoding="utf-8")
    (config / "apprise.txt").write_text(f"couple=json://127.0.0.1:{receiver.port}/\n", encoding="utf-8")
    env = {
        **os.environ,
        "RITUAL_CONFIG_DIR": str(config),
        "RITUAL_DATABASE_URL": postgres_url,
        "RITUAL_HTTP_BIND": "127.0.0.1:0",
        "RITUAL_DIGEST_ON": "off",
        "WATCHDOG_USEC": "2000000",  # a tick every second: standbys refresh their STATUS= often
        "PYTHONPATH": str(ROOT),
    }
    env.pop(POSTGRES_ENV, None)
    a, b = Node("a", tmp_path / "a", env), Node("b", tmp_path / "b", env)
    figures: dict[str, object] = {}
    try:
        # 1. Both start at once: exactly one leads, and `ritual status` names it.
        a.start()
        b.start()
        assert wait_for(a.ready, 30), f"a: no READY=1\n{a.log()}"
        assert wait_for(b.ready, 30), f"b: no READY=1\n{b.log()}"
        leader, standby = settle(a, b, 15)
        elected = [leader_of(a.env)]
        assert elected[0].pid == leader.pid
        figures["first leader"] = f"{leader.name} (epoch {elected[0].epoch})"

        # 2. M's nudges come from the first leader; 3 s before M+1 it is SIGKILLed.
        sleep_until(first + timedelta(seconds=30))
        assert wait_for(lambda: len(receiver.bodies()) >= PER_MINUTE, 20), "M's nudges never arrived"
        sleep_until(first + timedelta(minutes=1, seconds=-3))
        assert exactly_one_leads(leader, standby) == (leader, standby), "the leader changed on its own"
        killed_at = datetime.now(UTC)
        leader.kill()
        assert wait_for(lambda: leader_of(a.env).pid == standby.pid, TAKEOVER_LIMIT), (
            f"no takeover within {TAKEOVER_LIMIT:.0f} s of a SIGKILL\n{standby.log()}"
        )
        figures["takeover after SIGKILL"] = took(killed_at, elected, a.env)
        assert elected[1].epoch > elected[0].epoch
        assert wait_for(lambda: leads(standby), 10), standby.status()
        leader.start()  # the killed one comes back as a standby
        assert wait_for(leader.ready, 30), f"no READY=1 after the restart\n{leader.log()}"
        leader, standby = settle(leader, standby, 15)
        assert leader_of(a.env) == elected[1], "a restarted daemon must not take the lead"
        assert leader.pid == elected[1].pid

        # 3. 2 s before M+2 the leader's own session is ended on the server.
        sleep_until(first + timedelta(minutes=2, seconds=-2))
        assert exactly_one_leads(leader, standby) == (leader, standby), "the leader changed on its own"
        with psycopg.connect(libpq_url(postgres_url), autocommit=True) as db:
            key_row = db.execute(f"SELECT {schema_lock_key(LEADER_LOCK)}").fetchone()
            assert key_row is not None
            key = int(key_row[0])
            holders = db.execute(
                "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
                " AND l.classid::bigint = %s AND l.objid::bigint = %s AND s.application_name = %s",
                ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF, APPLICATION_NAME),
            ).fetchall()
            assert len(holders) == 1, f"the leader lock's sessions: {holders}"
            terminated_at = datetime.now(UTC)
            ended = db.execute("SELECT pg_terminate_backend(%s)", (holders[0][0],)).fetchone()
            assert ended == (True,)
        assert wait_for(lambda: leader_of(a.env).epoch > elected[1].epoch, TAKEOVER_LIMIT), (
            f"no new epoch within {TAKEOVER_LIMIT:.0f} s of pg_terminate_backend\n{leader.log()}"
        )
        figures["re-election after pg_terminate_backend"] = took(terminated_at, elected, a.env)
        # It notices at its next leader check (every 5 s); its timers are fenced meanwhile.
        assert wait_for(lambda: "lost the lead" in leader.log(), 15), "the deposed leader never noticed"
        now_leader, _ = settle(leader, standby, 15)
        assert now_leader.pid == elected[2].pid
        which = "the same daemon" if now_leader is leader else "the other daemon"
        figures["leader after it"] = f"{which} (epoch {elected[2].epoch})"

        # 4. M+2's nudges, then a quiet spell in which no duplicate may arrive.
        sleep_until(first + timedelta(minutes=2, seconds=5))
        total = MINUTES * PER_MINUTE
        assert wait_for(lambda: len(receiver.bodies()) >= total, 30), f"{len(receiver.bodies())} of {total}"
        time.sleep(5)
        assert exactly_one_leads(a, b) is not None
        codes = {a.name: a.stop(), b.name: b.stop()}
    finally:
        a.close()
        b.close()
    assert codes == {"a": 0, "b": 0}

    arrived = Counter(str(body.get("title")) for body in receiver.bodies())
    duplicates = {title: count for title, count in arrived.items() if count > 1}
    with psycopg.connect(libpq_url(postgres_url)) as db:
        occurrences = [
            Occurrence(*row)
            for row in db.execute(
                "SELECT r.name, o.day, o.slot, o.status, o.epoch, o.created_at, o.id FROM occurrence o"
                " JOIN ritual r ON r.id = o.ritual_id ORDER BY o.due_at, r.name"
            ).fetchall()
        ]
        deliveries = Counter(
            (occurrence_id, status)
            for occurrence_id, status in db.execute("SELECT occurrence_id, status FROM delivery").fetchall()
        )
    logs = {node.name: node.log() for node in (a, b)}
    figures["nudges"] = sum(arrived.values())
    figures["duplicates"] = duplicates
    figures["occurrences"] = [f"{o.name} {o.status} e{o.epoch} {o.claimed_at:%H:%M:%S}" for o in occurrences]
    figures["delivered per daemon"] = {n: log.count(" delivered via ") for n, log in logs.items()}
    figures["fenced claims"] = {n: log.count("not claimed, no longer the leader") for n, log in logs.items()}
    for label, value in figures.items():
        print(f"failover: {label}: {value}")

    assert duplicates == {}
    assert set(arrived) == set(titles), "every ritual's nudge reached the receiver"
    assert sorted(o.name for o in occurrences) == sorted(titles.values()), "one occurrence per ritual"
    assert len({(o.name, o.day, o.slot) for o in occurrences}) == len(occurrences)
    assert all(o.status in ("sent", "late") for o in occurrences), occurrences
    for o in occurrences:
        assert deliveries[(o.id, "sent")] == 1, (o, deliveries)
        # Fencing: nothing is claimed with an epoch once the next one has been elected (both
        # times are taken just before their transactions, which the writer lock orders: 1 s slack).
        later = [e for e in elected if e.epoch > o.epoch]
        assert not later or o.claimed_at < later[0].since + timedelta(seconds=1), (o, later[0])
    assert sum(deliveries.values()) == len(occurrences)
    for name, output in logs.items():
        assert "Traceback" not in output, f"{name}:\n{output}"
