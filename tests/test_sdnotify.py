"""sd_notify against real datagram sockets standing in for systemd: exact bytes, or silence when absent."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.adapters.sdnotify import STATUS_MAX_BYTES, Notifier


@dataclass
class Manager:
    """The service manager's end: a bound datagram socket and the NOTIFY_SOCKET value naming it."""

    sock: socket.socket
    notify_socket: str

    def received(self) -> bytes:
        # A local datagram is queued by the time sendto returns, so a non-blocking read is enough.
        return self.sock.recv(8192)

    def pending(self) -> int:
        count = 0
        while True:
            try:
                self.sock.recv(8192)
            except BlockingIOError:
                return count
            count += 1


def bind_manager(kind: str, tmp_path: Path) -> Manager:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setblocking(False)
    if kind == "path":
        path = tmp_path / "notify"
        assert len(str(path)) < 100, "AF_UNIX paths are limited to 108 bytes"
        sock.bind(str(path))
        return Manager(sock, str(path))
    name = f"ritual-test-{uuid.uuid4().hex}"
    sock.bind("\0" + name)
    return Manager(sock, "@" + name)


@pytest.fixture(params=["path", "abstract"])
def manager(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Manager]:
    bound = bind_manager(request.param, tmp_path)
    yield bound
    bound.sock.close()


@pytest.fixture
def notifier(manager: Manager) -> Iterator[Notifier]:
    with Notifier.from_environ({"NOTIFY_SOCKET": manager.notify_socket}) as opened:
        yield opened


MESSAGES: list[tuple[str, Callable[[Notifier], bool], bytes]] = [
    ("ready", lambda n: n.ready(), b"READY=1"),
    ("ready with status", lambda n: n.ready("watching 5 rituals"), b"READY=1\nSTATUS=watching 5 rituals"),
    ("status", lambda n: n.status("next nudge 20:30"), b"STATUS=next nudge 20:30"),
    ("status is utf-8", lambda n: n.status("Zeit für uns"), "STATUS=Zeit für uns".encode()),
    ("status folds lines", lambda n: n.status("reloaded\n  2 rituals\n"), b"STATUS=reloaded 2 rituals"),
    ("watchdog", lambda n: n.watchdog(), b"WATCHDOG=1"),
    ("stopping", lambda n: n.stopping(), b"STOPPING=1"),
    ("reloading", lambda n: n.reloading(123_456_789), b"RELOADING=1\nMONOTONIC_USEC=123456789"),
    ("send keeps field order", lambda n: n.send(STATUS="x", ERRNO=5), b"STATUS=x\nERRNO=5"),
]


@pytest.mark.parametrize(("call", "expected"), [m[1:] for m in MESSAGES], ids=[m[0] for m in MESSAGES])
def test_each_message_arrives_byte_exact(
    manager: Manager, notifier: Notifier, call: Callable[[Notifier], bool], expected: bytes
) -> None:
    assert call(notifier) is True
    assert manager.received() == expected
    assert manager.pending() == 0


def test_one_socket_serves_many_messages(manager: Manager, notifier: Notifier) -> None:
    notifier.ready()
    notifier.watchdog()
    notifier.stopping()
    assert [manager.received() for _ in range(3)] == [b"READY=1", b"WATCHDOG=1", b"STOPPING=1"]


@pytest.mark.parametrize(
    "environ",
    [
        pytest.param({}, id="no NOTIFY_SOCKET"),
        pytest.param({"NOTIFY_SOCKET": ""}, id="empty"),
        pytest.param({"NOTIFY_SOCKET": "@"}, id="bare @"),
        pytest.param({"NOTIFY_SOCKET": "relative/notify"}, id="relative path"),
        pytest.param({"NOTIFY_SOCKET": "vsock:2:1234"}, id="vsock is not supported"),
    ],
)
def test_without_a_usable_socket_every_call_is_a_quiet_no_op(environ: dict[str, str]) -> None:
    with Notifier.from_environ(environ) as notifier:
        assert notifier.enabled is False
        results = [
            notifier.ready("up"),
            notifier.status("s"),
            notifier.watchdog(),
            notifier.stopping(),
            notifier.reloading(1),
            notifier.send(X_CUSTOM="1"),
        ]
        assert results == [False] * 6


def test_a_missing_socket_file_never_raises_and_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="scheduler.adapters.sdnotify")
    missing = tmp_path / "gone" / "notify"
    with Notifier.from_environ({"NOTIFY_SOCKET": str(missing)}) as notifier:
        assert notifier.enabled is True
        assert [notifier.ready(), notifier.watchdog(), notifier.stopping()] == [False, False, False]
    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].levelno == logging.DEBUG
    assert str(missing) in failures[0].getMessage()


def test_a_full_queue_drops_the_message_instead_of_blocking(manager: Manager, notifier: Notifier) -> None:
    # Nobody reads: the kernel's per-socket datagram queue fills (max_dgram_qlen, 10 by default)
    # and a blocking sender would hang here until the test timeout.
    results = [notifier.watchdog() for _ in range(500)]
    assert results[0] is True
    assert False in results
    assert manager.pending() == results.count(True)


def test_after_close_calls_are_no_ops(manager: Manager) -> None:
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": manager.notify_socket})
    assert notifier.ready() is True
    notifier.close()
    assert notifier.enabled is False
    assert notifier.watchdog() is False
    notifier.close()  # closing twice is fine
    assert manager.received() == b"READY=1"
    assert manager.pending() == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"STATUS": "a\nb"}, "newline in sd_notify value 'a\\nb'", id="newline in a value"),
        pytest.param({"status": "x"}, "invalid sd_notify field name 'status'", id="lower-case name"),
        pytest.param({"_X": "x"}, "invalid sd_notify field name '_X'", id="leading underscore"),
        pytest.param({}, "an sd_notify message needs at least one field", id="nothing to send"),
    ],
)
@pytest.mark.parametrize("environ", [{}, {"NOTIFY_SOCKET": "/nonexistent/notify"}], ids=["off", "on"])
def test_malformed_fields_are_a_programming_error_even_without_systemd(
    fields: dict[str, str], message: str, environ: dict[str, str]
) -> None:
    with Notifier.from_environ(environ) as notifier, pytest.raises(ValueError) as raised:
        notifier.send(**fields)
    assert str(raised.value) == message


@given(text=st.text(max_size=3000))
def test_any_status_text_becomes_exactly_one_bounded_status_line(text: str) -> None:
    name = f"ritual-prop-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind("\0" + name)
        receiver.setblocking(False)
        with Notifier.from_environ({"NOTIFY_SOCKET": "@" + name}) as notifier:
            assert notifier.status(text) is True
        datagram = receiver.recv(8192)
    assert datagram.startswith(b"STATUS=")
    assert b"\n" not in datagram
    assert len(datagram) <= len(b"STATUS=") + STATUS_MAX_BYTES
    shown = datagram.decode().removeprefix("STATUS=")
    if len(text.encode()) <= STATUS_MAX_BYTES or not text.split():
        assert shown.split() == text.split()  # every word kept, only the line breaks folded
    else:
        words = shown.removesuffix("…").split()
        assert words[:-1] == text.split()[: len(words) - 1]
        assert text.split()[len(words) - 1].startswith(words[-1])


OWN = str(os.getpid())
OTHER = str(os.getpid() + 1)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param({}, None, id="unset"),
        pytest.param({"WATCHDOG_USEC": "180000000"}, 90.0, id="3min pings every 90s"),
        pytest.param({"WATCHDOG_USEC": "1000000"}, 0.5, id="1s pings every half second"),
        pytest.param({"WATCHDOG_USEC": "180000000", "WATCHDOG_PID": OWN}, 90.0, id="pid is ours"),
        pytest.param({"WATCHDOG_USEC": "180000000", "WATCHDOG_PID": OTHER}, None, id="pid is another's"),
        pytest.param({"WATCHDOG_USEC": "180000000", "WATCHDOG_PID": "abc"}, None, id="garbage pid"),
        pytest.param({"WATCHDOG_USEC": "180000000", "WATCHDOG_PID": ""}, None, id="empty pid"),
        pytest.param({"WATCHDOG_USEC": "garbage"}, None, id="garbage usec"),
        pytest.param({"WATCHDOG_USEC": ""}, None, id="empty usec"),
        pytest.param({"WATCHDOG_USEC": "0"}, None, id="zero usec"),
        pytest.param({"WATCHDOG_USEC": "-5"}, None, id="negative usec"),
        pytest.param({"WATCHDOG_USEC": "1.5e6"}, None, id="not an integer"),
        pytest.param({"WATCHDOG_USEC": "²"}, None, id="unicode digit"),
        pytest.param({"WATCHDOG_PID": OWN}, None, id="pid without usec"),
    ],
)
def test_watchdog_interval(environ: dict[str, str], expected: float | None) -> None:
    with Notifier.from_environ(environ) as notifier:
        assert notifier.watchdog_interval() == expected
