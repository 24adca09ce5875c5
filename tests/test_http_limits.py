"""Idle and slow HTTP clients cannot starve the daemon (issue 15, item 2).

With the open-file limit at 256, 250 idle connections to ``http_bind`` once used up every file
descriptor: API calls timed out, a due nudge failed to send, a reload failed, and asyncio logged
"socket.accept() out of system resource" two million times in 2.5 minutes. Now HTTP takes at
most half of the free descriptors, closes a connection that has not sent a request head within
a few seconds, makes room by closing the longest-waiting idle one, and that log line comes once
a minute. The real uvicorn runs here, on 127.0.0.1; the last test is the attack itself against
a real `ritual run` whose descriptor limit is 256.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scheduler.adapters import server as server_module
from scheduler.adapters.server import HttpServer, _AcceptErrors, connection_limit
from tests.support.daemon import ROOT, NotifySocket, next_minute, wait_for
from tests.support.receivers import Receiver


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The smallest ASGI app: reads the body, answers 200 "ok"."""
    assert scope["type"] == "http"
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def small_server() -> Iterator[HttpServer]:
    served = HttpServer(hello, "127.0.0.1", 0, max_connections=5, header_timeout=0.6)
    served.start()
    yield served
    served.stop()


def connect(server: HttpServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes ``sock`` within ``within`` seconds (EOF or a reset)."""
    sock.settimeout(within)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def answer_of(sock: socket.socket) -> bytes:
    """A whole answer of ``hello`` (its body is the last two bytes)."""
    sock.settimeout(5)
    data = b""
    while not data.endswith(b"\r\n\r\nok"):
        chunk = sock.recv(1024)
        if not chunk:
            break
        data += chunk
    return data


def get(server: HttpServer, path: str = "/") -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=5) as answer:
        return str(answer.read().decode())


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(small_server: HttpServer) -> None:
    sock = connect(small_server)
    started = time.monotonic()
    assert closed_by_server(sock, 5)
    assert 0.5 <= time.monotonic() - started < 3
    sock.close()


def test_a_request_head_sent_a_byte_at_a_time_is_cut_off(small_server: HttpServer) -> None:
    sock = connect(small_server)
    started = time.monotonic()
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    try:
        for byte in head:
            sock.send(bytes([byte]))
            time.sleep(0.05)
            if time.monotonic() - started > 3:
                break
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert time.monotonic() - started < 3, "still open after 3 s of trickling"
    sock.close()


def test_a_prompt_request_is_answered_and_its_keep_alive_ends_too(small_server: HttpServer) -> None:
    sock = connect(small_server)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer_of(sock).startswith(b"HTTP/1.1 200")
    assert closed_by_server(sock, 5), "an idle keep-alive connection is closed too"
    sock.close()


def test_when_all_connections_are_taken_the_longest_idle_one_makes_room(small_server: HttpServer) -> None:
    idle = [connect(small_server) for _ in range(5)]
    time.sleep(0.1)
    assert get(small_server) == "ok"  # the sixth is served...
    assert closed_by_server(idle[0], 0.4)  # ...and the one that waited longest was closed for it
    for sock in idle:
        sock.close()


def test_a_server_whose_connections_are_all_busy_turns_the_newcomer_away() -> None:
    release = threading.Event()

    async def slow(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 5)
        await hello(scope, receive, send)

    served = HttpServer(slow, "127.0.0.1", 0, max_connections=2, header_timeout=5)
    served.start()
    try:
        busy = [connect(served) for _ in range(2)]
        for sock in busy:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        newcomer = connect(served)
        assert closed_by_server(newcomer, 2)
        release.set()
        for sock in busy:
            assert answer_of(sock).startswith(b"HTTP/1.1 200")
            sock.close()
        newcomer.close()
    finally:
        release.set()
        served.stop()


def test_running_out_of_descriptors_is_one_log_line_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    handler = _AcceptErrors()
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.ERROR, logger="scheduler.adapters.server"):
            for _ in range(5000):
                handler(
                    loop,
                    {
                        "message": "socket.accept() out of system resource",
                        "exception": OSError(errno.EMFILE, "Too many open files"),
                    },
                )
    finally:
        loop.close()
    assert [r.getMessage() for r in caplog.records] == ["HTTP cannot accept connections: Too many open files"]
    assert not any(r.exc_info for r in caplog.records)


def test_http_takes_at_most_half_of_the_free_descriptors(monkeypatch: pytest.MonkeyPatch) -> None:
    used = sum(1 for _ in Path("/proc/self/fd").iterdir())
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (used + 100, 4096))
    assert connection_limit() == 50
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (used + 10_000, 10_000 + used))
    assert connection_limit() == server_module.MAX_CONNECTIONS
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (used + 3, 4096))
    assert connection_limit() == server_module.MIN_CONNECTIONS


# --- the attack, against a real daemon ---------------------------------------------------------------

FD_LIMIT = 256
IDLE = 300  # more idle connections than the daemon has descriptors


class Attacker:
    """Keeps ``count`` idle TCP connections open to a port, opening new ones as old ones close."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.count = count
        self.socks: list[socket.socket] = []
        self.opened = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", self.port))
        self.socks.append(sock)
        self.opened += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            alive = []
            for sock in self.socks:
                try:
                    gone = sock.recv(1) == b""
                except BlockingIOError:
                    gone = False
                except OSError:
                    gone = True
                if gone:
                    sock.close()
                else:
                    alive.append(sock)
            self.socks = alive
            while len(self.socks) < self.count:
                self._open()
            self._stop.wait(0.3)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)
        for sock in self.socks:
            sock.close()


def _limit_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


@pytest.mark.slow
def test_hundreds_of_idle_connections_cannot_delay_a_nudge_or_the_api(
    tmp_path: Path, receiver: Receiver
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < IDLE + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, IDLE + 1000), hard))
    config, data = tmp_path / "config", tmp_path / "data"
    config.mkdir()
    due = next_minute(margin=25)
    (config / "rituals.toml").write_text(
        f'[[ritual]]\nname = "talk"\ntimezone = "UTC"\nat = "{due:%H:%M}"\nnotify = ["couple"]\n',
        encoding="utf-8",
    )
    (config / "apprise.txt").write_text(f"couple=json://127.0.0.1:{receiver.port}/\n", encoding="utf-8")
    env = {
        **os.environ,
        "RITUAL_CONFIG_DIR": str(config),
        "RITUAL_DATA_DIR": str(data),
        "RITUAL_HTTP_BIND": "127.0.0.1:0",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("RITUAL_DATABASE_URL", None)
    token = subprocess.run(
        [sys.executable, "-m", "scheduler", "token", "create", "ha"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[-1]
    notify = NotifySocket(tmp_path / "notify.sock")
    env["NOTIFY_SOCKET"] = str(notify.path)
    log_path = tmp_path / "daemon.log"
    log = log_path.open("w")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "-v", "run"],
        env=env,
        stderr=log,
        cwd=tmp_path,
        preexec_fn=_limit_descriptors,  # noqa: PLW1509 - the child only sets its own limit
    )
    attacker: Attacker | None = None
    try:
        assert wait_for(lambda: any("READY=1" in m for m in notify.drain()), 30), log_path.read_text()
        serving = next(line for line in log_path.read_text().splitlines() if "serving links" in line)
        port = int(serving.split("http://127.0.0.1:")[1].split()[0])
        attacker = Attacker(port, IDLE)
        attacker.start()
        time.sleep(3)  # the descriptors are under siege now
        answers = []
        while datetime.now(UTC) < due:
            started = time.monotonic()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/rituals", headers={"Authorization": f"Bearer {token}"}
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                assert answer.status == 200
            answers.append(time.monotonic() - started)
            time.sleep(2)
        assert wait_for(lambda: receiver.requests, 30), "the nudge never arrived"
        arrived = datetime.now(UTC)
        assert (arrived - due).total_seconds() < 20, f"the nudge came {arrived - due} late"
        assert answers and max(answers) < 5, answers
        assert attacker.opened >= IDLE
    finally:
        if attacker is not None:
            attacker.stop()
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
            log.close()
            notify.close()
    assert daemon.returncode == 0
    text = log_path.read_text()
    assert "Traceback" not in text
    assert text.count("out of system resource") + text.count("cannot accept connections") <= 2
    assert len(text) < 20_000, f"{len(text)} bytes of log"
    assert len(receiver.requests) == 1
