"""The daemon's HTTP listener: uvicorn serving the web app on a thread of the daemon's process.

The only module that imports uvicorn. The socket is bound here, before uvicorn starts,
so a taken port or a bad address is one clear error naming ``http_bind`` instead of a
log line from a thread, and port 0 (tests) tells the real port at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import threading
import time
from typing import Any

import uvicorn

from scheduler.domain.errors import SettingsError

log = logging.getLogger("scheduler.adapters.server")

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


class _QuietServer(uvicorn.Server):
    """uvicorn without its tenth-of-a-second housekeeping tick: an idle daemon stays asleep.

    The tick only refreshes the Date header (switched off) and polls ``should_exit``;
    here ``stop`` wakes the loop instead.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

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
        self, app: Any, host: str, port: int, *, access_filter: logging.Filter | None = None
    ) -> None:
        self.host = host
        self.port = port
        self._app = app
        self._access_filter = access_filter
        self._server: _QuietServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        sock = bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        _quiet_logs(self._access_filter)
        config = uvicorn.Config(
            self._app,
            log_config=None,  # the daemon's logging, not uvicorn's own set-up
            lifespan="off",
            timeout_graceful_shutdown=5,
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
        log.info("serving links, the API and the today page on http://%s", self.address)
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
        sock.listen(128)
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
