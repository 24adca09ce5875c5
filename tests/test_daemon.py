"""`ritual run`: the real start path in-process, and the real process end to end.

The end-to-end test waits for a real minute boundary (rituals are timed to the
minute), so it is marked slow; it still runs in CI.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.sdnotify import Notifier
from scheduler.adapters.store import SqlStore
from scheduler.app.nudging import Nudger
from scheduler.app.service import RitualService
from scheduler.app.stored import OccurrenceStatus, RitualSource
from scheduler.domain.definitions import ritual_from_table
from scheduler.settings import Settings
from scheduler.wiring import make_daemon
from tests.support.daemon import ROOT, InProcess, NotifySocket, next_minute, wait_for
from tests.support.fakes import FakeOutbox
from tests.support.receivers import Receiver

# -- the start path, in-process ---------------------------------------------------------------------


def test_an_overdue_nudge_is_handled_by_the_real_start_path(tmp_path: Path) -> None:
    """Nothing relies on APScheduler remembering a job: start decides from the database."""
    # Far from the real clock, so no armed timer can go off during the test.
    due = datetime(2031, 5, 6, 9, 0, tzinfo=UTC)
    clock = FakeClock(due - timedelta(days=1))
    settings = Settings(
        config_dir=tmp_path / "config", data_dir=tmp_path / "data", timezone="UTC", http_bind="127.0.0.1:0"
    )
    store = SqlStore.open(settings.database)
    ritual = ritual_from_table({"name": "talk", "at": "09:00", "timezone": "UTC", "start": "2031-05-01"})
    stored = store.save_ritual(ritual, RitualSource.CLI, now=clock.now(), effective_from=date(2031, 5, 1))
    store.close()
    clock.set(due + timedelta(minutes=25))  # the daemon was down at 09:00
    outboxes: list[FakeOutbox] = []

    def make_nudger(_settings: Settings, service: RitualService) -> Nudger:
        outbox = FakeOutbox(service.store, clock)
        outboxes.append(outbox)
        return Nudger(service, outbox, clock)

    daemon = make_daemon(
        lambda: settings, clock=clock, make_nudger=make_nudger, systemd=Notifier.from_environ({})
    )
    runner = threading.Thread(target=daemon.run)
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while not (outboxes and outboxes[0].sent) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        daemon.request_stop()
        runner.join(timeout=20)
    assert not runner.is_alive()
    assert [s[1:] for s in outboxes[0].sent] == [(date(2031, 5, 6), "09:00", outboxes[0].sent[0][3])]
    assert outboxes[0].sent[0][3].value == "late"
    store = SqlStore.open(settings.database)
    (occurrence,) = store.occurrences(ritual_id=stored.id)
    assert (occurrence.status, occurrence.note) == (OccurrenceStatus.LATE, "sent 25 min late")
    store.close()


# -- the real process -------------------------------------------------------------------------------


@pytest.mark.slow
def test_ritual_run_nudges_once_and_never_again_after_a_kill(tmp_path: Path, receiver: Receiver) -> None:
    config, data = tmp_path / "config", tmp_path / "data"
    config.mkdir()
    due = next_minute()
    rituals = config / "rituals.toml"
    rituals.write_text(
        f'[[ritual]]\nname = "talk"\ntitle = "Phones away"\ntimezone = "UTC"\n'
        f'at = "{due:%H:%M}"\nnotify = ["couple"]\n',
        encoding="utf-8",
    )
    (config / "apprise.txt").write_text(f"couple=json://127.0.0.1:{receiver.port}/\n", encoding="utf-8")
    notify = NotifySocket(tmp_path / "notify.sock")
    env = {
        **os.environ,
        "RITUAL_CONFIG_DIR": str(config),
        "RITUAL_DATA_DIR": str(data),
        "NOTIFY_SOCKET": str(notify.path),
        "WATCHDOG_USEC": "2000000",
        "RITUAL_HTTP_BIND": "127.0.0.1:0",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("RITUAL_DATABASE_URL", None)
    log = (tmp_path / "daemon.log").open("w")

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "scheduler", "run"], env=env, stderr=log, cwd=tmp_path)

    yesterday = subprocess.run(
        [sys.executable, "-m", "scheduler", "done", "talk", "--date", "yesterday"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert yesterday.returncode == 0, yesterday.stderr
    daemon = start()
    try:
        assert wait_for(lambda: any("READY=1" in m for m in notify.drain()), 30), "no READY=1"
        # A broken file, then a reload: the old ritual keeps its timer.
        good = rituals.read_text(encoding="utf-8")
        rituals.write_text(good + '\n[[ritual]]\nname = "x"\non = "fryday"\n', encoding="utf-8")
        daemon.send_signal(signal.SIGHUP)
        assert wait_for(
            lambda: "keeping the rituals stored before" in (tmp_path / "daemon.log").read_text(), 15
        )
        wait = (due - datetime.now(UTC)).total_seconds() + 30
        assert wait_for(lambda: len(receiver.bodies()) >= 1, wait), "the nudge never arrived"
        time.sleep(1)
        assert len(receiver.bodies()) == 1
        assert receiver.bodies()[0]["title"] == "Phones away"
        assert "Streak: day 1." in str(receiver.bodies()[0]["message"])
        assert any(m == "WATCHDOG=1" for m in notify.drain())
        daemon.send_signal(signal.SIGKILL)
        daemon.wait()
        notify.messages.clear()
        daemon = start()
        assert wait_for(lambda: any("READY=1" in m for m in notify.drain()), 30), "no READY=1 after restart"
        time.sleep(2)
        assert len(receiver.bodies()) == 1, "a restart must not nudge the same key again"
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
        assert any("STOPPING=1" in m for m in notify.drain())
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        log.close()
        notify.close()
    output = (tmp_path / "daemon.log").read_text()
    assert "Traceback" not in output
    assert f"127.0.0.1:{receiver.port}" in output or "delivered" in output


def test_a_second_daemon_is_refused_by_name(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "RITUAL_CONFIG_DIR": str(tmp_path / "config"),
        "RITUAL_DATA_DIR": str(tmp_path / "data"),
        "RITUAL_HTTP_BIND": "127.0.0.1:0",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("NOTIFY_SOCKET", None)
    first = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "run"], env=env, stderr=subprocess.PIPE, cwd=tmp_path
    )
    try:
        lock = tmp_path / "data" / "ritual.lock"
        assert wait_for(lambda: lock.exists() and lock.stat().st_size > 0, 30)
        second = subprocess.run(
            [sys.executable, "-m", "scheduler", "run"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 1
        assert f"already serves this database (pid {first.pid} on" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
        assert first.stderr is not None
        first.stderr.close()
    assert first.returncode == 0


@pytest.fixture
def inprocess(tmp_path: Path) -> Iterator[InProcess]:
    made = InProcess(tmp_path, datetime(2031, 5, 6, 8, 0, tzinfo=UTC))
    made.add("talk", "09:00")
    made.start()
    yield made
    made.stop()


def test_a_clock_jumping_forward_then_back_nudges_once(inprocess: InProcess) -> None:
    inprocess.clock.set(datetime(2031, 5, 6, 10, 30, tzinfo=UTC))  # forward past 09:00, within grace
    inprocess.daemon.tick()
    assert inprocess.sent == [("talk", date(2031, 5, 6), "09:00", "late")]
    inprocess.clock.set(datetime(2031, 5, 6, 9, 30, tzinfo=UTC))  # back an hour
    inprocess.daemon.tick()
    inprocess.clock.set(datetime(2031, 5, 6, 10, 45, tzinfo=UTC))
    inprocess.daemon.tick()
    assert len(inprocess.sent) == 1


def test_a_ritual_added_by_another_process_is_picked_up_at_the_next_tick(inprocess: InProcess) -> None:
    inprocess.add("walk", "08:30")
    inprocess.clock.set(datetime(2031, 5, 6, 8, 30, 30, tzinfo=UTC))
    inprocess.daemon.tick()
    assert inprocess.sent == [("walk", date(2031, 5, 6), "08:30", "send")]


def test_rituals_due_at_one_instant_share_one_timer_and_one_batch(tmp_path: Path) -> None:
    made = InProcess(tmp_path, datetime(2031, 5, 6, 8, 0, tzinfo=UTC))
    for name in ("talk", "walk", "hug"):
        made.add(name, "09:00")
    made.add("journal", "21:00")
    made.start()
    try:
        day = datetime(2031, 5, 6, tzinfo=UTC)
        assert made.daemon.timers == {
            day.replace(hour=9): ("hug", "talk", "walk"),
            day.replace(hour=21): ("journal",),
        }
        made.clock.set(day.replace(hour=9, second=20))
        made.daemon.tick()  # the timer's instant has passed: the tick fires it as one batch
        assert sorted(name for name, *_ in made.sent) == ["hug", "talk", "walk"]
        assert made.outboxes[-1].batches == [3]
        tomorrow = day + timedelta(days=1)
        assert made.daemon.timers == {
            day.replace(hour=21): ("journal",),
            tomorrow.replace(hour=9): ("hug", "talk", "walk"),
        }
    finally:
        made.stop()


def test_the_status_line_names_the_next_nudge_that_goes_out_not_one_already_done(tmp_path: Path) -> None:
    made = InProcess(tmp_path, datetime(2031, 5, 5, 8, 0, tzinfo=UTC))
    made.add("talk", "09:00")
    made.add("walk", "18:00")
    made.start()
    try:
        assert made.daemon.status_line() == "serving 2 rituals; next: talk at Mon 09:00"
        store = SqlStore.open(made.settings.database)
        other = RitualService(store, made.clock, ritual_file=tmp_path / "none", default_timezone="UTC")
        other.record_done("talk")  # done before its nudge: the daemon still wakes, but sends nothing
        store.close()
        assert made.daemon.status_line() == "serving 2 rituals; next: walk at Mon 18:00"
    finally:
        made.stop()
