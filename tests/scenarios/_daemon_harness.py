"""A real `ritual run` process and what it talks to, for the crash-storm and concurrency scenarios.

One ``Installation`` is a config dir, a data dir and a database (a SQLite file in the data
dir, or the PostgreSQL URL a test hands in), with an Apprise ``json://`` channel pointed at
a local receiver (the ``receiver`` fixture, tests/support/receivers.py). ``DaemonProcess``
starts `ritual run` as a subprocess under a fake systemd notify socket (READY=1 says it is
up; a watchdog of 2 s makes its reconcile tick run every second) and kills it. The HTTP side
is off (``RITUAL_HTTP_BIND=off``), so daemons of parallel tests never meet on a port.

Run as a module, this file is the concurrency scenario's worker process: it runs a list of
`ritual` commands in-process, each through click's ``main`` as a real command runs (its
own settings, store and close), and writes what each did to a JSON file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tests.support.processes import alive, children

if TYPE_CHECKING:
    from scheduler.adapters.store import SqlStore
    from scheduler.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CHANNEL_TAG = "house"


# -- what the daemon talks to ---------------------------------------------------------------


class NotifySocket:
    """A datagram socket posing as systemd's NOTIFY_SOCKET."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.setblocking(False)

    def drain(self) -> list[str]:
        messages = []
        while True:
            try:
                messages.append(self._sock.recv(4096).decode())
            except BlockingIOError:
                return messages

    def close(self) -> None:
        self._sock.close()


def wait_for(condition: Callable[[], bool], seconds: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def sleep_until(when: datetime) -> None:
    delay = (when - datetime.now(UTC)).total_seconds()
    if delay > 0:
        time.sleep(delay)


def next_minute(margin: float) -> datetime:
    """The next whole minute at least ``margin`` seconds away."""
    now = datetime.now(UTC)
    target = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while (target - now).total_seconds() < margin:
        target += timedelta(minutes=1)
    return target


# -- one installation -------------------------------------------------------------------------


@dataclass
class Installation:
    root: Path
    receiver_port: int
    database_url: str | None = None  # None: SQLite in the data dir
    environ: Mapping[str, str] = field(default_factory=dict)  # more settings, e.g. RITUAL_SEND_WORKERS

    def __post_init__(self) -> None:
        self.config.mkdir(parents=True, exist_ok=True)
        (self.config / "apprise.txt").write_text(
            f"{CHANNEL_TAG}=json://127.0.0.1:{self.receiver_port}/\n", encoding="utf-8"
        )

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def sqlite_file(self) -> Path | None:
        return None if self.database_url else self.data / "ritual.db"

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.data / 'ritual.db'}"

    @property
    def backend(self) -> str:
        return "postgres" if self.database_url else "sqlite"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of every process of this installation (daemon, CLI, workers)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RITUAL_", "NOTIFY_", "WATCHDOG_"))}
        env.update(
            HOME=str(self.root),
            XDG_CONFIG_HOME=str(self.root / "xdg-config"),
            XDG_DATA_HOME=str(self.root / "xdg-data"),
            PYTHONPATH=str(ROOT),
            RITUAL_CONFIG_DIR=str(self.config),
            RITUAL_DATA_DIR=str(self.data),
            RITUAL_TIMEZONE="UTC",
            RITUAL_HTTP_BIND="off",
            RITUAL_DIGEST_ON="off",
            RITUAL_SEND_TIMEOUT="5",
            RITUAL_LOG_LEVEL="info",
        )
        if self.database_url:
            env["RITUAL_DATABASE_URL"] = self.database_url
        env.update(self.environ)
        env.update(extra)
        return env

    def write_rituals(self, rituals: Sequence[Mapping[str, object]]) -> None:
        from scheduler.domain.definitions import render_ritual_toml, ritual_from_table

        # The project's own writer, so the file is exactly what the project itself would write.
        text = "\n".join(render_ritual_toml(ritual_from_table(dict(ritual))) for ritual in rituals)
        (self.config / "rituals.toml").write_text(text, encoding="utf-8")

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """`ritual ARGS` as its own process."""
        return subprocess.run(
            [sys.executable, "-m", "scheduler", *args],
            env=self.env(),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def settings(self, **overrides: Any) -> Settings:
        """The daemon's settings, for an in-process daemon on the same installation."""
        from pydantic import SecretStr

        from scheduler.settings import Settings

        values: dict[str, Any] = {
            "config_dir": self.config,
            "data_dir": self.data,
            "timezone": "UTC",
            "http_bind": "off",
            "digest_on": "off",
            "send_timeout": 5.0,
        }
        if self.database_url:
            values["database_url"] = SecretStr(self.database_url)
        values.update(overrides)
        return Settings(**values)

    @contextlib.contextmanager
    def store(self) -> Iterator[SqlStore]:
        from scheduler.adapters.store import SqlStore

        opened = SqlStore.open(self.url)
        try:
            yield opened
        finally:
            opened.close()

    def integrity(self) -> str | None:
        """``PRAGMA integrity_check`` of the SQLite file ("ok" when sound); None on PostgreSQL."""
        if self.sqlite_file is None:
            return None
        with contextlib.closing(sqlite3.connect(self.sqlite_file)) as db:
            return "; ".join(str(row[0]) for row in db.execute("PRAGMA integrity_check"))


# -- the daemon as a process ------------------------------------------------------------------


@dataclass
class DaemonProcess:
    """`ritual run` as systemd would run it, killed and restarted at will; all runs log to one file."""

    installation: Installation
    log_path: Path
    notify: NotifySocket
    starts: int = 0
    _process: subprocess.Popen[bytes] | None = None
    children_at_kill: list[int] = field(default_factory=list)
    _log: IO[bytes] | None = None
    _ready: bool = False

    def start(self) -> None:
        assert self._process is None or self._process.poll() is not None, "already running"
        self.notify.drain()
        if self._log is None:
            self._log = self.log_path.open("ab")
        env = self.installation.env(NOTIFY_SOCKET=str(self.notify.path), WATCHDOG_USEC="2000000")
        self._ready = False
        self._process = subprocess.Popen(
            [sys.executable, "-m", "scheduler", "run"],
            env=env,
            cwd=self.installation.root,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        self.starts += 1

    def ready(self) -> bool:
        """Whether the running daemon has said READY=1 (start-up, catch-up included, is over)."""
        if not self._ready and any("READY=1" in message for message in self.notify.drain()):
            self._ready = True
        return self._ready

    def wait_ready(self, seconds: float = 30) -> bool:
        return wait_for(self.ready, seconds, step=0.02)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """SIGKILL, nothing else: the child processes it had (send workers) are kept in
        ``children_at_kill`` for ``orphans`` to look at."""
        assert self._process is not None
        self.children_at_kill = children(self._process.pid)
        self._process.send_signal(signal.SIGKILL)
        self._process.wait(timeout=30)

    def orphans(self, within: float = 10.0) -> list[int]:
        """The children the daemon had when killed that are still running ``within`` s later."""
        wait_for(lambda: not [pid for pid in self.children_at_kill if alive(pid)], within, step=0.2)
        return [pid for pid in self.children_at_kill if alive(pid)]

    def stop(self) -> int:
        """SIGTERM, as systemd stops it; its exit status."""
        assert self._process is not None
        self._process.send_signal(signal.SIGTERM)
        return self._process.wait(timeout=60)

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=30)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


# -- the concurrency scenario's worker process ------------------------------------------------


def run_commands(job_file: Path, result_file: Path) -> None:
    """Run the job's commands one after another, in-process, from the job's start instant."""
    import click

    job = json.loads(job_file.read_text(encoding="utf-8"))
    os.environ.update(job["env"])
    from scheduler.cli import main

    # Warm up before the start line: a first command imports the store and its database driver
    # (half a second each, four with eight processes on two cores), which is start-up cost, not
    # contention. Every timed command still opens and closes the store on its own.
    with contextlib.redirect_stdout(io.StringIO()):
        main.main(args=["list"], prog_name="ritual", standalone_mode=False)
    delay = float(job["start_at"]) - time.time()
    if delay > 0:
        time.sleep(delay)
    results = []
    sink = io.StringIO()
    for command in job["commands"]:
        began = time.time()
        error = ""
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                main.main(args=command["args"], prog_name="ritual", standalone_mode=False)
        except click.ClickException as exc:
            error = exc.format_message()
        except Exception as exc:  # report it: the test fails on any error
            error = f"{type(exc).__name__}: {exc}"
        sink.seek(0)
        sink.truncate()
        results.append({"id": command["id"], "began": began, "ended": time.time(), "error": error})
    result_file.write_text(json.dumps(results), encoding="utf-8")


if __name__ == "__main__":
    run_commands(Path(sys.argv[1]), Path(sys.argv[2]))
