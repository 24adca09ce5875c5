"""A daemon to test against: in-process under a fake clock, or as a process and its helpers.

``InProcess`` runs the real start path on a thread with a recording outbox; ``NotifySocket``
plays systemd for a real `ritual run`; ``next_minute`` and ``wait_for`` pace tests that wait
for real time.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.sdnotify import Notifier
from scheduler.adapters.store import SqlStore
from scheduler.app.nudging import Nudger
from scheduler.app.service import RitualService
from scheduler.settings import Settings
from scheduler.wiring import make_daemon
from tests.support.fakes import FakeOutbox

ROOT = Path(__file__).resolve().parents[2]
"""The checkout, for PYTHONPATH of `python -m scheduler` subprocesses."""


class NotifySocket:
    """A datagram socket posing as systemd's NOTIFY_SOCKET; collects what the daemon says."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []

    def drain(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                return self.messages

    def close(self) -> None:
        self.sock.close()


def wait_for(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.1)
    return False


def next_minute(margin: float = 8.0) -> datetime:
    """The next whole minute at least ``margin`` seconds away."""
    now = datetime.now(UTC)
    target = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if (target - now).total_seconds() < margin:
        target += timedelta(minutes=1)
    return target


class InProcess:
    """A daemon on a thread under a fake clock far from the real one, with a recording outbox."""

    def __init__(self, tmp_path: Path, now: datetime, **settings: Any) -> None:
        self.clock = FakeClock(now)
        self.settings = Settings(
            config_dir=tmp_path / "config",
            data_dir=tmp_path / "data",
            timezone="UTC",
            digest_on="off",
            http_bind="127.0.0.1:0",
            **settings,
        )
        self.outboxes: list[FakeOutbox] = []

        def make_nudger(_settings: Settings, service: RitualService) -> Nudger:
            outbox = FakeOutbox(service.store, self.clock)
            self.outboxes.append(outbox)
            return Nudger(service, outbox, self.clock)

        self.daemon = make_daemon(
            lambda: self.settings,
            clock=self.clock,
            make_nudger=make_nudger,
            systemd=Notifier.from_environ({}),
        )
        self.thread = threading.Thread(target=self.daemon.run)

    def add(self, name: str, at: str) -> None:
        """Add a ritual as another process would (`ritual add` on the same database)."""
        store = SqlStore.open(self.settings.database)
        service = RitualService(store, self.clock, ritual_file=Path("/nonexistent"), default_timezone="UTC")
        service.add({"name": name, "at": at, "timezone": "UTC"})
        store.close()

    def start(self) -> None:
        self.thread.start()
        assert self.daemon.started.wait(20), "the daemon did not finish starting"

    def stop(self) -> None:
        self.daemon.request_stop()
        self.thread.join(timeout=20)
        assert not self.thread.is_alive()

    @property
    def sent(self) -> list[tuple[str, date, str, str]]:
        return [(name, day, slot, decision.value) for name, day, slot, decision in self.outboxes[-1].sent]
