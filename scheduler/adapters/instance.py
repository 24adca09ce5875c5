"""One daemon per database: an exclusive lock file beside it that also says who holds it.

The lock is an ``flock`` on a ``.lock`` file beside the SQLite database (in the
data dir for other databases; see ``Settings.lock_path``), so it dies with its
process (a SIGKILL frees it). The file carries the holder's pid, host and start
time, which a second ``ritual run`` quotes when it refuses to start, ``ritual
status`` shows, and ``ritual reload`` uses to send SIGHUP.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from scheduler.domain.errors import RitualError


class InstanceLockedError(RitualError):
    """Another daemon already runs against this database."""


@dataclass(frozen=True, slots=True)
class Holder:
    pid: int
    host: str
    started_at: datetime

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, since {self.started_at.isoformat(timespec='seconds')}"


class InstanceLock:
    """Held for the daemon's whole life; released on exit (or by the kernel on a crash)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, started_at: datetime) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = read_holder(self.path)
            who = holder.describe() if holder else "another process"
            raise InstanceLockedError(
                f"{self.path}: another `ritual run` already serves this database ({who})"
            ) from None
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": started_at.isoformat()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def read_holder(path: Path) -> Holder | None:
    """Who holds the lock, or None when nobody does (the file may be stale: we test the lock)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # held: the content is current
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None  # nobody holds it; whatever it says is stale
        raw = os.read(fd, 4096)
    finally:
        os.close(fd)
    try:
        data = json.loads(raw)
        return Holder(int(data["pid"]), str(data["host"]), datetime.fromisoformat(data["started_at"]))
    except (ValueError, KeyError, TypeError):
        return None


class WakeDaemon:
    """The CLI's side of ``Changes``: a write here wakes the running daemon (SIGUSR1), which
    republishes what Home Assistant shows. No daemon on this host: nothing to tell."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def changed(self) -> None:
        signal_daemon(self.path, signal.SIGUSR1)


def signal_daemon(path: Path, signum: int = signal.SIGHUP) -> Holder | None:
    """Ask the running daemon (on this host) to reload; returns it, or None when none runs here."""
    holder = read_holder(path)
    if holder is None or holder.host != socket.gethostname():
        return None
    try:
        os.kill(holder.pid, signum)
    except ProcessLookupError:
        return None
    return holder
