"""The single-instance lock: a second holder is refused by name, and a killed holder frees it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scheduler.adapters.instance import InstanceLock, InstanceLockedError, read_holder, signal_daemon

STARTED = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

HOLD = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from scheduler.adapters.instance import InstanceLock
InstanceLock(Path(sys.argv[1])).acquire(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
print("held", flush=True)
sys.stdin.read()
"""


@contextmanager
def hold_in_child(path: Path) -> Iterator[subprocess.Popen[str]]:
    """A separate process holding the lock until the test is done with it."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    ) as child:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "held"
        try:
            yield child
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()


def test_a_second_holder_is_refused_with_who_holds_it(tmp_path: Path) -> None:
    path = tmp_path / "ritual.lock"
    with hold_in_child(path) as child:
        with pytest.raises(InstanceLockedError) as refused:
            InstanceLock(path).acquire(STARTED)
        message = str(refused.value)
        assert f"pid {child.pid} on {socket.gethostname()}, since 2026-11-24T08:00:00+00:00" in message
        assert "\n" not in message
        holder = read_holder(path)
        assert holder is not None
        assert holder.pid == child.pid


def test_a_killed_holder_frees_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "ritual.lock"
    with hold_in_child(path) as child:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert read_holder(path) is None  # the file still says who held it; the lock says nobody does
    lock = InstanceLock(path)
    lock.acquire(STARTED)
    holder = read_holder(path)
    assert holder is not None
    assert holder.pid == os.getpid()
    lock.release()
    assert read_holder(path) is None


def test_lock_file_is_private(tmp_path: Path) -> None:
    lock = InstanceLock(tmp_path / "data" / "ritual.lock")
    lock.acquire(STARTED)
    try:
        assert (tmp_path / "data" / "ritual.lock").stat().st_mode & 0o777 == 0o600
    finally:
        lock.release()


def test_signal_daemon_reaches_the_holder_and_nobody_else(tmp_path: Path) -> None:
    path = tmp_path / "ritual.lock"
    assert signal_daemon(path) is None
    with hold_in_child(path) as child:
        holder = signal_daemon(path, signal.SIGTERM)
        assert holder is not None
        assert holder.pid == child.pid
        assert child.wait(timeout=10) == -signal.SIGTERM
