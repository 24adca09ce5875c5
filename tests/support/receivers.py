"""A local HTTP server playing a push service (ntfy, a json:// webhook) at the far end of a nudge.

One class for every test that wants a real socket behind Apprise, the outbox or a `ritual run`
process: nothing of Apprise is mocked, so what the receiver records is what a phone would get.
Tests usually take the ``receivers``/``receiver`` fixtures of tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

Answer = Callable[[str, Mapping[str, Any]], int]
"""Decides the status code of one request from its path and JSON body (called under a lock)."""


@dataclass(frozen=True)
class Received:
    """One request as it arrived, and what it was answered."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    answered: int
    at: float = field(default_factory=time.monotonic)  # the clock asyncio's loop.time() reads too
    wall: float = field(default_factory=time.time)  # to compare with times other processes took

    @property
    def title(self) -> str:
        return str(self.body.get("title"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a real push server's backlog: a burst at one instant queues, not resets


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers it.

    The answer: ``/status/NNN`` answers NNN; otherwise the next code of ``script``, then 200 for
    ever; or, given ``answer``, whatever it decides. ``/slow`` holds its answer back until the
    receiver closes (5 s at most), to play a channel that never answers in time. ``port`` fixes
    the port, for a push server that comes back where it was.
    """

    def __init__(self, script: Sequence[int] = (), *, port: int = 0, answer: Answer | None = None) -> None:
        self.script = list(script)
        self.release = threading.Event()
        self._answer = answer
        self._lock = threading.Lock()
        self._requests: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._serve(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", port), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length", "0"))
        raw = request.rfile.read(length)
        if len(raw) < length:  # the sender was killed mid-request: nothing was delivered
            request.send_response(400)
            request.end_headers()
            return
        body = json.loads(raw or b"{}")
        with self._lock:
            code = self._decide(request.path, body)
            self._requests.append(Received(request.path, dict(request.headers), body, code))
        if request.path.strip("/").split("/")[0] == "slow":
            self.release.wait(timeout=5)
        request.send_response(code)
        request.send_header("Content-Type", "application/json")
        request.end_headers()
        request.wfile.write(b"{}")

    def _decide(self, path: str, body: Mapping[str, Any]) -> int:
        if self._answer is not None:
            return self._answer(path, body)
        parts = path.strip("/").split("/")
        if parts[0] == "status" and len(parts) > 1:
            return int(parts[1])
        return self.script.pop(0) if self.script else 200

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "", *, scheme: str = "json", auth: str = "") -> str:
        """An Apprise URL for this receiver, e.g. ``url("topic", scheme="ntfy")``."""
        return f"{scheme}://{auth}127.0.0.1:{self.port}/{path}"

    @property
    def requests(self) -> list[Received]:
        """What arrived so far, oldest first (a copy: handler threads may still be adding)."""
        with self._lock:
            return list(self._requests)

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def titles(self) -> list[str]:
        return [r.title for r in self.requests]

    def bodies(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests]

    def delivered(self) -> int:
        """How many requests were answered with success."""
        return sum(r.answered == 200 for r in self.requests)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class StartReceiver(Protocol):
    """The ``receivers`` fixture: starts one more receiver; every one is closed after the test."""

    def __call__(
        self, script: Sequence[int] = (), *, port: int = 0, answer: Answer | None = None
    ) -> Receiver: ...


def closed_port() -> int:
    """A port nothing listens on: connecting to it is refused until a receiver takes it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BurstReceiver:
    """A leaner receiver for bursts of thousands of requests: every POST answered 200.

    One asyncio loop in a thread of its own reads the request line, the headers and the
    ``Content-Length`` body by hand and closes the connection. ``Receiver`` (a thread and an
    e-mail header parser per request) tops out at about 500 requests a second in a test
    process on this machine's two cores, which is less than two daemons send: measured
    against it, a second daemon could not look faster than the receiver. A request whose
    sender died mid-body is not recorded, as in ``Receiver``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[Received] = []
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            serving = asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)
            self._server = self._loop.run_until_complete(serving)
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="burst-receiver", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the burst receiver did not start")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            _method, path, _version = head[0].split(" ", 2)
            headers = dict(line.split(":", 1) for line in head[1:] if ":" in line)
            headers = {name.strip(): value.strip() for name, value in headers.items()}
            length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
            raw = await reader.readexactly(length) if length else b""
            received = Received(path, headers, json.loads(raw or b"{}"), 200)
            with self._lock:
                self._requests.append(received)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                b"Connection: close\r\n\r\n{}"
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def requests(self) -> list[Received]:
        """What arrived so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def close(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()
            self._loop.stop()

        asyncio.run_coroutine_threadsafe(stop(), self._loop)
        self._thread.join(timeout=10)
        self._loop.close()
