"""The `ritual` group and what its commands share: settings built once, the service opened on first use.

Heavy modules (the store, rich) are imported inside the commands that need them, so
`ritual --help` and `ritual done` start quickly.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from scheduler import __version__
from scheduler.domain.errors import RitualError, UsageError

if TYPE_CHECKING:
    from scheduler.adapters.store import SqlStore
    from scheduler.app.ports import Clock
    from scheduler.app.service import RitualService
    from scheduler.settings import Settings


F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("scheduler")


class RitualCommandError(click.ClickException):
    """A RitualError shown as click shows errors: one line on stderr, the error's exit code."""

    def __init__(self, error: RitualError) -> None:
        super().__init__(str(error))
        self.exit_code: int = error.exit_code  # type: ignore[misc]


class RitualGroup(click.Group):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The process's own entry (the `ritual` script, `python -m scheduler`); CliRunner calls main()."""
        kwargs.setdefault("obj", App(own_process=True))
        return self.main(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RitualError as exc:
            raise RitualCommandError(exc) from None
        except BrokenPipeError:
            raise
        except OSError as exc:  # a file or folder the command could not use: one line, not a traceback
            raise RitualCommandError(RitualError(describe_os_error(exc))) from None


@dataclass
class App:
    """What the commands share: settings built once, the store opened on first use."""

    verbose: int = 0
    clock: Clock | None = None  # tests hand in a FakeClock; the real one otherwise
    own_process: bool = False  # the command is the whole process (not CliRunner): see _starting
    _settings: Settings | None = None
    _store: SqlStore | None = None
    _service: RitualService | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            with self._starting():
                from scheduler.settings import load_settings

                self._settings = load_settings()
        return self._settings

    def service(self, *, sync: bool = True) -> RitualService:
        if self._service is None:
            with self._starting():
                from scheduler.adapters.clock import SystemClock
                from scheduler.adapters.store import SqlStore
                from scheduler.app.service import RitualService

                settings = self.settings
                self._store = SqlStore.open(settings.database, link_key=partial(_link_key, settings))
                service = RitualService(
                    self._store,
                    self.clock or SystemClock(),
                    ritual_file=settings.ritual_file_path,
                    default_timezone=settings.default_timezone,
                    household=settings.household,
                )
                if settings.home_assistant is not None:
                    from scheduler.adapters.instance import WakeDaemon

                    service.changes = WakeDaemon(settings.lock_path)
                report = service.sync() if sync else None
            self._service = service
            if report is not None:
                if report.error:
                    click.echo(f"warning: {report.error} (using the rituals stored before)", err=True)
                for name in report.retired:
                    click.echo(f"note: ritual '{name}' left the ritual file; retired, history kept", err=True)
        return self._service

    def _starting(self) -> AbstractContextManager[None]:
        from scheduler.startup import frozen_start

        return frozen_start(self.own_process)

    def tell_daemon(self) -> None:
        """A running daemon re-reads the rituals now rather than at its next tick."""
        from scheduler.adapters.instance import signal_daemon

        signal_daemon(self.settings.lock_path)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def describe_os_error(exc: OSError) -> str:
    """``cannot use '/proc/x': No such file or directory``: the file and the reason, in one line."""
    reason = exc.strerror or exc.__class__.__name__
    return f"cannot use '{exc.filename}': {reason}" if exc.filename is not None else reason


def output_file(path: Path, option: str) -> Path:
    """A file the command will write, checked before any work is done: its folder must exist
    and be writable, and it must not be a folder. A RitualError (exit 1) names the option."""
    if path.is_dir():
        raise RitualError(f"{option} {path}: is a folder; give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise RitualError(f"{option} {path}: no such folder '{folder}'")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise RitualError(f"{option} {path}: cannot write in '{folder}' (permission denied)")
    return path


def write_output(path: Path, data: str | bytes, option: str) -> None:
    """Write ``data`` to ``path`` (0600: backups hold the household's record); one-line errors."""
    try:
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
        path.chmod(0o600)
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise RitualError(f"{option} {path}: cannot write ({reason})") from None


def _link_key(settings: Settings) -> bytes:
    """The link key, for a migration that re-keys stored channel ids (imported only then)."""
    from scheduler.adapters.keyfile import load_or_create_key

    return load_or_create_key(settings.link_key_path)


def pass_app(func: F) -> F:
    return click.pass_obj(func)  # type: ignore[return-value]


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(func)


@click.group(cls=RitualGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(__version__, prog_name="ritual")
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """Keep a household's recurring rituals alive: nudges, one-tap done, streaks."""
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s")
    app = ctx.obj if isinstance(ctx.obj, App) else App()
    app.verbose = verbose
    ctx.obj = app
    ctx.call_on_close(app.close)


def local_time(when: datetime, ritual: Any) -> str:
    local = when.astimezone(ritual.cadence.zone)
    return f"{local:%a %d %b %H:%M}"


def parse_day(text: str, today: date, option: str) -> date:
    lowered = text.strip().lower()
    if lowered == "today":
        return today
    if lowered == "yesterday":
        return today - timedelta(days=1)
    try:
        return date.fromisoformat(lowered)
    except ValueError:
        raise UsageError(f"{option}: not a date: '{text}' (use YYYY-MM-DD, today or yesterday)") from None


def parse_at(text: str, ritual: Any) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--at: not a date and time: '{text}' (use 'YYYY-MM-DD HH:MM')") from None
    if value.tzinfo is None:
        from scheduler.domain.cadence import local_instant

        return local_instant(ritual.cadence.zone, value.date(), value.time())
    return value
