"""Telling systemd how the daemon is doing: readiness, status lines, watchdog pings, stop and reload.

The protocol is small enough to speak without libsystemd: each notification is one datagram of
newline-separated ``KEY=VALUE`` lines sent to the AF_UNIX socket named by ``$NOTIFY_SOCKET``
(a leading ``@`` means Linux's abstract namespace). Outside systemd there is no socket and every
call is a cheap no-op, so the daemon calls these unconditionally. A notification is a courtesy,
never a reason to stop: sending never raises and never blocks.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Self

log = logging.getLogger(__name__)

# systemd drops a datagram of PIPE_BUF (4096) bytes or more; a long status line is cut well below that.
STATUS_MAX_BYTES = 1024
_FIELD_NAME = re.compile(r"[A-Z][A-Z0-9_]*\Z")


class Notifier:
    """One daemon's line to its service manager; build it with `from_environ` at the edge."""

    def __init__(
        self, address: str | None, *, watchdog_usec: int | None = None, watchdog_pid: int | None = None
    ) -> None:
        """`address` is ``$NOTIFY_SOCKET`` as systemd wrote it; None or unusable means "not under systemd"."""
        self._address = _socket_address(address)
        self._watchdog_usec = watchdog_usec
        self._watchdog_pid = watchdog_pid
        self._socket: socket.socket | None = None
        self._closed = False
        self._failure_logged = False
        self._lock = threading.Lock()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Self:
        """Read ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID``; unreadable values disarm."""
        return cls(
            environ.get("NOTIFY_SOCKET"),
            watchdog_usec=_positive_int(environ.get("WATCHDOG_USEC")),
            watchdog_pid=_watchdog_pid(environ),
        )

    @property
    def enabled(self) -> bool:
        """Whether systemd named a socket to notify (and this notifier is not closed)."""
        return self._address is not None and not self._closed

    def ready(self, status: str | None = None) -> bool:
        """Start-up (or a reload) is complete: `systemctl start` returns and dependants may start."""
        if status is None:
            return self.send(READY=1)
        return self.send(READY=1, STATUS=_one_line(status))

    def status(self, text: str) -> bool:
        """A line for `systemctl status` ("watching 5 rituals, next nudge 20:30")."""
        return self.send(STATUS=_one_line(text))

    def watchdog(self) -> bool:
        """Proof of life; without it for WatchdogSec, systemd kills and restarts the service."""
        return self.send(WATCHDOG=1)

    def stopping(self) -> bool:
        """Shutdown has begun, so systemd reports "deactivating" rather than a hang."""
        return self.send(STOPPING=1)

    def reloading(self, monotonic_usec: int) -> bool:
        """A reload has begun; send `ready` when it is done.

        systemd 253 and later match the reload by ``MONOTONIC_USEC`` (CLOCK_MONOTONIC in
        microseconds, e.g. ``time.monotonic_ns() // 1000`` read by the caller); older
        versions ignore both lines.
        """
        return self.send(RELOADING=1, MONOTONIC_USEC=monotonic_usec)

    def send(self, **fields: str | int) -> bool:
        """Send one datagram of ``KEY=VALUE`` lines in the order given; True if it was handed over.

        A malformed field is a programming error and raises ValueError even without a socket.
        """
        message = _encode(fields)
        if not self.enabled:
            return False
        with self._lock:
            return self._send_locked(message)

    def watchdog_interval(self) -> float | None:
        """Seconds between watchdog pings (half of WatchdogSec), or None when no watchdog is armed.

        The watchdog is armed for this process only if ``WATCHDOG_PID`` is unset or names it,
        so a child that inherited the environment does not ping on its parent's behalf.
        """
        if self._watchdog_usec is None:
            return None
        if self._watchdog_pid is not None and self._watchdog_pid != os.getpid():
            return None
        return self._watchdog_usec / 2 / 1_000_000

    def close(self) -> None:
        """Release the socket; later calls are no-ops."""
        with self._lock:
            self._closed = True
            if self._socket is not None:
                self._socket.close()
                self._socket = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _send_locked(self, message: bytes) -> bool:
        if self._closed or self._address is None:
            return False
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._socket.setblocking(False)
            self._socket.sendto(message, self._address)
        except OSError as error:
            self._log_failure_once(error)
            return False
        return True

    def _log_failure_once(self, error: OSError) -> None:
        # A missing or full socket stays that way; one line says so without flooding the journal.
        if not self._failure_logged:
            self._failure_logged = True
            log.debug("sd_notify to '%s' failed: %s", _printable(self._address), error)


def _socket_address(raw: str | None) -> str | None:
    if not raw:
        return None
    if raw.startswith("@") and len(raw) > 1:
        return "\0" + raw[1:]
    if raw.startswith("/"):
        return raw
    log.debug("ignoring unsupported NOTIFY_SOCKET '%s'", raw)
    return None


def _printable(address: str | None) -> str:
    return "" if address is None else address.replace("\0", "@", 1)


def _positive_int(raw: str | None) -> int | None:
    if raw is None or not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if value > 0 else None


def _watchdog_pid(environ: Mapping[str, str]) -> int | None:
    if "WATCHDOG_PID" not in environ:
        return None
    # A WATCHDOG_PID we cannot read names no process of ours: 0 never equals os.getpid().
    return _positive_int(environ["WATCHDOG_PID"]) or 0


def _one_line(text: str) -> str:
    flat = " ".join(part.strip() for part in text.splitlines() if part.strip())
    encoded = flat.encode()
    if len(encoded) <= STATUS_MAX_BYTES:
        return flat
    return encoded[: STATUS_MAX_BYTES - 3].decode(errors="ignore") + "…"


def _encode(fields: Mapping[str, str | int]) -> bytes:
    if not fields:
        raise ValueError("an sd_notify message needs at least one field")
    lines = []
    for key, value in fields.items():
        if not _FIELD_NAME.match(key):
            raise ValueError(f"invalid sd_notify field name '{key}'")
        text = str(value)
        if "\n" in text:
            escaped = text.replace("\n", "\\n")
            raise ValueError(f"newline in sd_notify value '{escaped}'")
        lines.append(f"{key}={text}")
    return "\n".join(lines).encode()
