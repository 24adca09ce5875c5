"""The daemon's HTTP listener: uvicorn serving the web app on a thread of the daemon's process.

The only module that imports uvicorn. The socket is bound here, before uvicorn starts,
so a taken port or a bad address is one clear error naming ``http_bind`` instead of a
log line from a thread, and port 0 (tests) tells the real port at once.

Nudging must never depend on the HTTP side, which shares the process and its file
descriptors: idle connections once used them all up (the open-file limit), and then the
database and the sends failed too. So HTTP takes at most half of the descriptors free at
start (and never more than ``MAX_CONNECTIONS``); a connection that has not sent a whole
request head within ``HEADER_TIMEOUT`` is closed, and when the connections are all taken
the one that has waited longest for a request gives way to the newcomer. The flood of
"socket.accept() out of system resource" that asyncio logs when descriptors do run out is
cut to a line a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from scheduler.domain.errors import SettingsError

log = logging.getLogger("scheduler.adapters.server")

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
MAX_CONNECTIONS = 100  # more than a household's phones, scripts and Home Assistant ever open
MIN_CONNECTIONS = 8
HEADER_TIMEOUT = 10.0  # seconds from connecting (or the last answer) to a whole request head
KEEP_ALIVE = 5.0  # seconds an idle keep-alive connection stays open
BACKLOG = 64  # connections the kernel queues, and accepts asyncio makes per wake-up
ACCEPT_ERROR_EVERY = 60.0  # seconds between two log lines about running out of descriptors
_ACCEPT_ERROR = "socket.accept() out of system resource"


def connection_limit() -> int:
    """How many HTTP connections may be open at once: half of the descriptors this process has free
    (the rest stay for the database, the sends and the log), at most MAX_CONNECTIONS."""
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return MAX_CONNECTIONS
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    try:
        used = sum(1 for _ in Path("/proc/self/fd").iterdir())
    except OSError:
        used = 64  # a guess, where /proc is not to be had
    return max(MIN_CONNECTIONS, min(MAX_CONNECTIONS, (soft - used) // 2))


class _GuardedProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, with a deadline for the request head and room made under load.

    uvicorn closes a keep-alive connection after ``timeout_keep_alive`` of silence, but a fresh
    connection that sends nothing, or a request head a byte at a time, it keeps forever. Each
    connection here has ``header_timeout`` from its start (and from each answer) to a complete
    request head. Past ``max_connections`` the connection that has waited longest for one is
    closed to make room, or the newcomer itself when every other is busy with a request.
    """

    max_connections: ClassVar[int] = MAX_CONNECTIONS
    header_timeout: ClassVar[float] = HEADER_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._await_request()
        live = [other for other in self.connections if not other.transport.is_closing()]
        if len(live) > self.max_connections:
            self._make_room(live)

    def _await_request(self) -> None:
        """From now on, a request head must be complete within ``header_timeout``."""
        if self._deadline is not None:
            self._deadline.cancel()
        self._awaited_after = self.cycle  # a new request replaces the cycle
        self._waiting_since = self.loop.time()
        self._deadline = self.loop.call_later(self.header_timeout, self._header_timed_out)

    @property
    def waiting(self) -> bool:
        """Whether no request has begun since the connection opened or its last answer went out."""
        return self.cycle is self._awaited_after

    def _header_timed_out(self) -> None:
        if self.waiting and not self.transport.is_closing():
            self.transport.close()

    def _make_room(self, live: list[Any]) -> None:
        idle = [
            other
            for other in live
            if other is not self and isinstance(other, _GuardedProtocol) and other.waiting
        ]
        if idle:
            min(idle, key=lambda other: other._waiting_since).transport.abort()
        else:
            self.transport.abort()

    def on_response_complete(self) -> None:
        self._await_request()  # first: a pipelined request the call below begins is not waiting
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().connection_lost(exc)


def guarded_protocol(max_connections: int, header_timeout: float = HEADER_TIMEOUT) -> type[H11Protocol]:
    """The protocol class for one server's limits."""
    limits = {"max_connections": max_connections, "header_timeout": header_timeout}
    return type("GuardedProtocol", (_GuardedProtocol,), limits)


class _AcceptErrors:
    """The HTTP loop's exception handler: running out of descriptors is one line a minute.

    asyncio logs "socket.accept() out of system resource" with a traceback for every accept
    that fails, and retries each second once per failure, so an exhausted process wrote
    thousands of lines a second. Everything else goes to asyncio's default handler.
    """

    def __init__(self) -> None:
        self._last = -ACCEPT_ERROR_EVERY
        self._since = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != _ACCEPT_ERROR:
            loop.default_exception_handler(context)
            return
        self._since += 1
        now = time.monotonic()
        if now - self._last < ACCEPT_ERROR_EVERY:
            return
        error = context.get("exception")
        reason = getattr(error, "strerror", None) or error or "out of resources"
        more = f" ({self._since} times since the last such line)" if self._since > 1 else ""
        log.error("HTTP cannot accept connections: %s%s", reason, more)
        self._last, self._since = now, 0


class _QuietServer(uvicorn.Server):
    """uvicorn without its tenth-of-a-second housekeeping tick: an idle daemon stays asleep.

    The tick only refreshes the Date header (switched off) and polls ``should_exit``;
    here ``stop`` wakes the loop instead.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().set_exception_handler(_AcceptErrors())
        await super().startup(sockets)

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._exit = asyncio.Event()
        if not self.should_exit:
            await self._exit.wait()

    def wake_to_exit(self) -> None:
        self.should_exit = True
        if self._loop is not None and self._exit is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                self._loop.call_soon_threadsafe(self._exit.set)


class HttpServer:
    """uvicorn on its own thread; ``start`` binds and returns the port, ``stop`` drains and ends."""

    def __init__(
        self,
        app: Any,
        host: str,
        port: int,
        *,
        access_filter: logging.Filter | None = None,
        max_connections: int | None = None,
        header_timeout: float = HEADER_TIMEOUT,
    ) -> None:
        self.host = host
        self.port = port
        self._app = app
        self._access_filter = access_filter
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self._server: _QuietServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        limit = self.max_connections = self.max_connections or connection_limit()
        sock = bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        _quiet_logs(self._access_filter)
        config = uvicorn.Config(
            self._app,
            http=guarded_protocol(limit, self.header_timeout),
            log_config=None,  # the daemon's logging, not uvicorn's own set-up
            lifespan="off",
            timeout_graceful_shutdown=5,
            timeout_keep_alive=int(KEEP_ALIVE),
            # A backstop: uvicorn answers 503 once connections (closing ones included) or running
            # requests reach this. The guarded protocol keeps the open ones at ``limit``.
            limit_concurrency=2 * limit,
            backlog=BACKLOG,
            h11_max_incomplete_event_size=16 * 1024,  # a request head larger than this is a 400
            server_header=False,
            date_header=False,
            proxy_headers=False,
        )
        server = _QuietServer(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="http", daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not server.started:
            self.stop()
            raise SettingsError(f"http_bind {self.address}: the HTTP server did not start (see the log)")
        log.info(
            "serving links, the API and the today page on http://%s (at most %d connections)",
            self.address,
            limit,
        )
        return self.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.wake_to_exit()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)
        self._server = self._thread = None

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or a one-line SettingsError naming http_bind."""
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise SettingsError(f"http_bind {shown}: unknown host '{host}'") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
        raise SettingsError(f"http_bind {shown}: cannot listen: {reason}") from None
    sock.setblocking(False)
    return sock


def _quiet_logs(access_filter: logging.Filter | None) -> None:
    """uvicorn's request lines carry link and login tokens: the web app's filter blanks them
    before any handler sees them. uvicorn's own start/stop chatter would repeat what this
    module logs."""
    access = logging.getLogger("uvicorn.access")
    if access_filter is not None and not any(type(f) is type(access_filter) for f in access.filters):
        access.addFilter(access_filter)
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
