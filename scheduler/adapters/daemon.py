"""`ritual run`: APScheduler as an in-memory timer, the database as the truth.

The daemon keeps one timer per instant at which some ritual's next nudge is
due (every ritual due at 20:30 shares one), plus a reconcile tick about once a
minute; a timer handles all its rituals as one batch. Nothing it needs survives in APScheduler: at start,
on every reload and whenever the rituals change (any process marks that in the
database) the timers are derived again from the rituals table, and what is due
is decided from the occurrences table (see ``nudges.py``), so a restart, a
suspend or a clock jump never double-nudges. The tick also handles a timer
whose time passed without firing, and pings the systemd watchdog: a dead timer
thread stops the pings and systemd restarts it. This is the only module that imports APScheduler.
"""

from __future__ import annotations

import concurrent.futures
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from types import FrameType
from typing import Protocol

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from scheduler.adapters.sdnotify import Notifier
from scheduler.app.nudging import Nudger
from scheduler.app.ports import Clock, Leadership
from scheduler.app.service import RitualService
from scheduler.app.stored import StoredRitual
from scheduler.domain.errors import RitualError, ScheduleError

log = logging.getLogger("scheduler.adapters.daemon")

TICK_SECONDS = 60.0
LEADER_CHECK_SECONDS = 5.0
DRAIN_SECONDS = 1.0  # how often every daemon of a shared database looks for due deliveries
DIGEST_JOB = "digest"


# Rituals handled per batch when the daemon looks at all of them (start, reload, a change).
RECONCILE_BATCH = 1000
# Many rituals due at one instant are handled in chunks this size, a few at once, so one chunk's
# deciding and composing overlaps another's sends (bench/fire_lag.py).
FIRE_CHUNK = 100
FIRE_THREADS = 4


def serving_line(count: int, nearest: tuple[str, datetime] | None) -> str:
    """A leader's STATUS= line: ``serving 12 rituals; next: date-night at Fri 19:00`` (the next
    nudge's ritual and local time), or ``...; no nudge due soon``."""
    serving = f"serving {count} ritual{'' if count == 1 else 's'}"
    if nearest is None:
        return f"{serving}; no nudge due soon"
    name, local = nearest
    return f"{serving}; next: {name} at {local:%a %H:%M}"


@dataclass(frozen=True, slots=True)
class LinkHooks:
    """What the pages call back into the daemon for: a Snooze, and a Done (to tell the other phones)."""

    snooze: Callable[[int, str], None]
    done: Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Running:
    """What starting built: the service, who leads, the nudge path, and where HTTP listens."""

    service: RitualService
    leadership: Leadership
    nudger: Nudger
    http_base: str | None = None  # None: http_bind is off
    on_change: Callable[[], None] | None = None  # what mirrors the rituals (Home Assistant), if any
    on_lead: Callable[[bool], None] | None = None  # told when this daemon takes or loses the lead


class Runtime(Protocol):
    """Everything the daemon runs besides its timers, built from the settings by the entry point
    (``scheduler.wiring``): the instance lock, the store and service, the leader election, the
    HTTP listener, and the nudge path wired to the channels."""

    def start(self, hooks: LinkHooks) -> Running:
        """Take the instance lock and open everything; ``hooks`` is what the links' pages call."""
        ...

    def reload(self, running: Running) -> Nudger | None:
        """Re-read the settings into the running service; the new nudge path, or None to keep the old."""
        ...

    def stop(self) -> None:
        """Stop HTTP, step down, close the store, release the lock (whatever was started)."""
        ...


def _instant_job(when: datetime) -> str:
    return f"due:{when.isoformat()}"


class Daemon:
    """One running `ritual run`: lock, store, timers, signals, systemd notifications."""

    def __init__(self, runtime: Runtime, *, clock: Clock, systemd: Notifier) -> None:
        self._runtime = runtime
        self._clock = clock
        self._systemd = systemd
        self._stop = threading.Event()
        self.started = threading.Event()  # set once timers run and HTTP (if any) listens
        self._reload = threading.Event()
        self._changed = threading.Event()  # another process wrote (SIGUSR1): tell the mirrors
        self._wake = threading.Event()
        self._service: RitualService | None = None
        self._nudger: Nudger | None = None
        self._scheduler: BackgroundScheduler | None = None
        self._http_base: str | None = None  # where the HTTP server really listens
        self._rebuild_lock = threading.Lock()
        self._armed: dict[str, datetime | None] = {}  # ritual name -> when its next nudge is due
        self._due_at: dict[datetime, set[str]] = {}  # an instant's timer -> the rituals it fires
        self._timers_lock = threading.Lock()  # the two maps above, from timer and main threads
        self._zones: dict[str, tzinfo] = {}
        self._digest_at: datetime | None = None
        self._seen_version = ""
        self._tick_seconds = TICK_SECONDS
        self._leadership: Leadership | None = None
        self._running: Running | None = None
        self._check_seconds: float | None = None  # how often leadership is checked; None: never
        self._standby_line = ""  # the STATUS= a standby last sent
        self._drain_seconds: float | None = None  # how often the outbox is drained; None: never

    # life cycle -------------------------------------------------------------------------
    def run(self) -> int:
        try:
            # Handlers first: a `ritual done` while the daemon starts sends SIGUSR1, whose default
            # would end it.
            self._install_signal_handlers()
            self._open()
            self._elect()
            self._systemd.ready(self.status_line())
            self.started.set()
            log.info("started: %s", self.status_line())
            self._serve()
            log.info("stopping: finishing in-flight sends")
            self._systemd.stopping()
            self._stop_timers(wait=True)
        finally:
            self._runtime.stop()
            self._systemd.close()
        log.info("stopped")
        return 0

    def _serve(self) -> None:
        """The main thread's loop: signals, and the reconcile tick between them.

        The tick runs here rather than as a scheduler job, so an idle daemon wakes once per
        tick (a scheduler job would also wake the scheduler's and a worker's thread).
        """
        next_tick = time.monotonic() + self._tick_seconds
        next_check = time.monotonic() + (self._check_seconds or 0.0)
        next_drain = time.monotonic() + (self._drain_seconds or 0.0)
        while not self._stop.is_set():
            wake_at = next_tick if self._check_seconds is None else min(next_tick, next_check)
            if self._drain_seconds is not None:
                wake_at = min(wake_at, next_drain)
            self._wake.wait(max(wake_at - time.monotonic(), 0.0))
            self._wake.clear()
            if self._reload.is_set() and not self._stop.is_set():
                self._reload.clear()
                self._do_reload()
            if self._changed.is_set() and not self._stop.is_set():
                self._changed.clear()
                self._tell_change()
            if self._check_seconds is not None and time.monotonic() >= next_check:
                self._check_leadership()
                next_check = time.monotonic() + self._check_seconds
            if time.monotonic() >= next_tick and not self._stop.is_set():
                self._scheduled_tick()
                next_tick = time.monotonic() + self._tick_seconds
            if self._drain_seconds is not None and time.monotonic() >= next_drain and not self._stop.is_set():
                # A chunk that found work may have left more: the next one at once.
                next_drain = time.monotonic() + (0.0 if self._drain() else self._drain_seconds)

    # leading or standing by (PostgreSQL: one leader among the daemons of a database) -------
    @property
    def leading(self) -> bool:
        """Whether this daemon fires nudges (its timers run); a standby only serves HTTP."""
        return self._scheduler is not None

    def _elect(self) -> bool:
        """Take the lead if it is free: then decide what is overdue and arm the timers."""
        assert self._leadership is not None and self._nudger is not None
        if not self._leadership.try_lead():
            return False
        self._nudger.epoch = self._leadership.epoch
        self._start_scheduler()
        self._tell_lead(True)
        return True

    def _tell_lead(self, leading: bool) -> None:
        """Only the leader mirrors the rituals (one MQTT client per household, whatever the standbys)."""
        on_lead = None if self._running is None else self._running.on_lead
        if on_lead is not None:
            try:
                on_lead(leading)
            except Exception:
                log.exception("starting or stopping Home Assistant failed")

    def _check_leadership(self) -> None:
        """Every few seconds: a leader that cannot prove it holds the lock stops firing at once;
        a standby tries to take a lead that has come free."""
        assert self._leadership is not None
        if self.leading:
            if not self._leadership.check():
                log.warning("lost the lead; standing by and trying again")
                self._stop_timers(wait=False)
                self._tell_lead(False)
                self._systemd.status(self.status_line())
        elif self._elect():
            log.info("took the lead: %s", self.status_line())
            self._systemd.status(self.status_line())
        elif (line := self.status_line()) != self._standby_line:
            self._standby_line = line  # who leads changed (or became known): say so at once
            self._systemd.status(line)

    def _stop_timers(self, *, wait: bool) -> None:
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=wait)
        with self._timers_lock:
            self._armed.clear()
            self._due_at.clear()
        self._digest_at = None

    def _drain(self) -> int:
        """Send one chunk of the outbox's due deliveries, leading or not (a shared database's
        daemons all send; only the leader decides nudges); how many it took."""
        if self._nudger is None:
            return 0
        try:
            return self._nudger.drain()
        except Exception:  # a failed chunk is due again once its lease is over
            log.exception("sending due deliveries failed")
            return 0

    def _scheduled_tick(self) -> None:
        """A tick, unless the timer thread died: then no watchdog ping, so systemd restarts us."""
        # BackgroundScheduler keeps its timer thread in ``_thread``; nothing public tells if it died.
        thread = getattr(self._scheduler, "_thread", None)
        if isinstance(thread, threading.Thread) and not thread.is_alive():
            log.error("the timer thread has stopped; waiting for the watchdog to restart the daemon")
            return
        self.tick()

    def request_stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def request_reload(self) -> None:
        self._reload.set()
        self._wake.set()

    def request_change(self) -> None:
        """Another process recorded something (`ritual done`): what mirrors the rituals updates."""
        self._changed.set()
        self._wake.set()

    def _tell_change(self) -> None:
        on_change = None if self._running is None else self._running.on_change
        if on_change is not None:
            try:
                on_change()
            except Exception:
                log.exception("telling Home Assistant of a change failed")

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # tests may run the daemon in a thread; they call request_* instead

        def on_stop(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s", signal.Signals(signum).name)
            self.request_stop()

        def on_reload(_signum: int, _frame: FrameType | None) -> None:
            self.request_reload()

        def on_change(_signum: int, _frame: FrameType | None) -> None:
            self.request_change()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_reload)
        signal.signal(signal.SIGUSR1, on_change)

    def _open(self) -> None:
        running = self._runtime.start(LinkHooks(self._snooze, self._done))
        self._running = running
        self._service = running.service
        self._leadership = running.leadership
        self._nudger = running.nudger
        self._http_base = running.http_base
        self._sync()
        if running.leadership.contested:
            self._check_seconds = LEADER_CHECK_SECONDS
            self._drain_seconds = DRAIN_SECONDS

    @property
    def timers(self) -> dict[datetime, tuple[str, ...]]:
        """The armed timers: each instant and the rituals it fires, for status and tests."""
        with self._timers_lock:
            return {when: tuple(sorted(names)) for when, names in sorted(self._due_at.items())}

    @property
    def http_base(self) -> str | None:
        """Where the HTTP server listens (``http://127.0.0.1:8470``), once started; None if off."""
        return self._http_base

    def _done(self, occurrence_id: int) -> None:
        """A Done tapped on a link: the other phones are told now rather than at the next tick."""
        if self._nudger is None or not self.leading:
            return  # a standby leaves it to the leader's tick
        try:
            found = self._service.nudge(occurrence_id) if self._service is not None else None
            if found is not None:
                occurrence, stored = found
                self._nudger.clear_kept(stored, occurrence.day)
        except Exception:  # the Done is recorded; telling the other phones can wait for the tick
            log.exception("telling the other phones of nudge %s failed", occurrence_id)

    def _snooze(self, occurrence_id: int, person: str) -> None:
        assert self._nudger is not None
        self._nudger.snooze(occurrence_id, person)

    def _sync(self) -> None:
        assert self._service is not None
        report = self._service.sync()
        if report.error:
            log.error("ritual file not loaded, keeping the rituals stored before: %s", report.error)
        for name in report.added:
            log.info("ritual '%s' added from the ritual file", name)
        for name in report.updated:
            log.info("ritual '%s' changed in the ritual file", name)
        for name in report.retired:
            log.info("ritual '%s' left the ritual file; retired", name)

    def _start_scheduler(self) -> None:
        interval = self._systemd.watchdog_interval()
        self._tick_seconds = TICK_SECONDS if interval is None else min(TICK_SECONDS, interval)
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(8)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        # What is overdue is decided from the database before any timer is armed, so a
        # nudge missed while the daemon was down is handled once, by policy; first, what a
        # daemon that died mid-nudge left half-done is finished.
        assert self._nudger is not None
        if taken := self._nudger.recover():
            log.info("took up %d nudge(s) a stopped daemon left half-done", taken)
        self._reconcile()
        self._scheduler.start()

    def _do_reload(self) -> None:
        log.info("reloading settings and the ritual file")
        self._systemd.reloading(time.monotonic_ns() // 1000)
        assert self._running is not None
        nudger = self._runtime.reload(self._running)
        if nudger is not None:
            self._nudger = nudger
            if self._leadership is not None and self.leading:
                nudger.epoch = self._leadership.epoch
        self._sync()
        if self.leading:
            self._reconcile()
        self._systemd.ready(self.status_line())
        log.info("reloaded: %s", self.status_line())

    # the work -------------------------------------------------------------------------
    def tick(self) -> None:
        """The reconcile tick: watchdog, changed rituals, overdue timers, retries.

        Cheap when nothing happened: one look at the ritual file's hash, one at the
        rituals' change marker, and a pass over the armed times; only a change, or a timer
        whose time passed without firing (a suspend, a clock jump), costs more.
        """
        self._systemd.watchdog()
        self._tell_change()  # a new day or period changes what is due, with nobody writing
        if not self.leading:
            self._systemd.status(self.status_line())
            return
        try:
            assert self._service is not None and self._nudger is not None
            self._sync()
            if self._service.rituals_version() != self._seen_version:
                self._reconcile()
            else:
                now = self._clock.now()
                with self._timers_lock:
                    overdue = [name for name, when in self._armed.items() if when is not None and when <= now]
                if overdue:
                    self._handle_names(overdue)
                if self._digest_at is not None and self._digest_at <= now:
                    self._handle_digest()
            self._nudger.deliver_due()
            self._systemd.status(self.status_line())
        except Exception:  # one bad tick must not stop the next
            log.exception("reconcile tick failed")

    def _reconcile(self) -> None:
        """Handle what is due for every ritual, then arm each ritual's timer for its next nudge."""
        assert self._service is not None and self._nudger is not None
        with self._rebuild_lock:
            self._seen_version = self._service.rituals_version()
            rituals = self._service.list_rituals()
            self._nudger.know_rituals(rituals, self._seen_version)
            # A cron or rrule refused since it was stored is left out (and said so), so it can
            # neither fail its batch nor hold the start or a reload up.
            problems = self._service.schedule_problems(rituals)
            for problem in problems.values():
                log.error("%s", problem)
            rituals = [stored for stored in rituals if stored.name not in problems]
            wanted = {stored.name for stored in rituals}
            for start in range(0, len(rituals), RECONCILE_BATCH):
                self._handle_many(rituals[start : start + RECONCILE_BATCH])
            for name in set(self._armed) - wanted:
                self._disarm(name)
            self._handle_digest()

    def _fire_instant(self, when: datetime) -> None:
        """An instant's timer went off: handle every ritual due then, arm their next timers.

        Their ``_armed`` times stay until each is re-armed, so a batch that fails is taken up
        by the next tick.
        """
        with self._timers_lock:
            names = sorted(self._due_at.pop(when, ()))
        chunks = [names[start : start + FIRE_CHUNK] for start in range(0, len(names), FIRE_CHUNK)]
        if len(chunks) == 1:
            self._fire_chunk(chunks[0], when)
            return
        with concurrent.futures.ThreadPoolExecutor(FIRE_THREADS, thread_name_prefix="fire") as chunked:
            for chunk in chunks:
                chunked.submit(self._fire_chunk, chunk, when)

    def _fire_chunk(self, names: Sequence[str], when: datetime) -> None:
        try:
            self._handle_names(names)
        except Exception:
            log.exception("nudging the %d ritual(s) due at %s failed", len(names), when.isoformat())

    def _handle_names(self, names: Sequence[str]) -> None:
        assert self._service is not None
        found = self._service.rituals_named(names)
        for name in names:
            if name not in found:
                self._disarm(name)  # removed meanwhile
        self._handle_many([found[name] for name in names if name in found])

    def _handle_many(self, rituals: Sequence[StoredRitual]) -> None:
        """Decide and send what is due for these rituals as one batch, then re-arm them.

        Should the batch fail, each ritual is tried on its own, so one bad ritual cannot
        hold back the others.
        """
        assert self._nudger is not None
        if not rituals:
            return
        try:
            self._nudger.handle_due_many(rituals)
        except Exception as error:
            if len(rituals) == 1:
                if not isinstance(error, ScheduleError):
                    raise
                self._unplannable(rituals[0], error)
                return
            log.exception("nudging %d rituals together failed; trying each on its own", len(rituals))
            for stored in rituals:
                try:
                    self._handle_many([stored])
                except Exception:
                    log.exception("nudging '%s' failed", stored.name)
            return
        for stored in rituals:
            self._zones[stored.name] = stored.ritual.cadence.zone
            try:
                self._arm(stored.name, self._nudger.next_wakeup(stored))
            except ScheduleError as error:
                self._unplannable(stored, error)

    def _unplannable(self, stored: StoredRitual, error: ScheduleError) -> None:
        """A ritual whose rule gave up mid-walk: said in one line, no timer; the others go on."""
        log.error("ritual '%s': %s; it gets no nudges until mended", stored.name, error)
        self._disarm(stored.name)

    def _handle_digest(self) -> None:
        assert self._nudger is not None
        self._nudger.handle_digest()
        self._digest_at = self._nudger.next_digest()
        self._arm_job(DIGEST_JOB, self._digest_at, self._fire_digest)

    def _fire_digest(self) -> None:
        try:
            self._handle_digest()
        except Exception:
            log.exception("sending the weekly digest failed")

    def _arm(self, name: str, when: datetime | None) -> None:
        """Move ``name`` to the timer of ``when`` (None: no timer), creating or dropping the
        instant's timer when the ritual is its first or last."""
        with self._timers_lock:
            before = self._armed.get(name)
            self._armed[name] = when
            if before is not None and (group := self._due_at.get(before)) is not None:
                if before == when and name in group:
                    return
                group.discard(name)
                if not group:
                    del self._due_at[before]
                    self._arm_job(_instant_job(before), None, self._fire_instant)
            if when is not None:
                group = self._due_at.setdefault(when, set())
                if not group:
                    self._arm_job(_instant_job(when), when, self._fire_instant, when)
                group.add(name)

    def _disarm(self, name: str) -> None:
        self._arm(name, None)
        with self._timers_lock:
            self._armed.pop(name, None)

    def _arm_job(self, job_id: str, when: datetime | None, func: Callable[..., None], *args: object) -> None:
        if self._scheduler is None:
            return
        if when is None:
            if self._scheduler.get_job(job_id) is not None:
                self._scheduler.remove_job(job_id)
            return
        self._scheduler.add_job(
            func, "date", args=list(args), id=job_id, replace_existing=True, run_date=when
        )

    def status_line(self) -> str:
        """systemd's STATUS=, from the armed timers (no planning on every tick)."""
        if not self.leading:
            info = None if self._service is None else self._service.leader_info()
            return f"standby: {info.holder} leads" if info else "standby: waiting for the lead"
        nearest = self._nearest_sendable()
        if nearest is None:
            return serving_line(len(self._armed), None)
        when, name = nearest
        zone = self._zones.get(name)
        return serving_line(len(self._armed), (name, when.astimezone(zone) if zone else when))

    def _nearest_sendable(self, looked_at: int = 3) -> tuple[datetime, str] | None:
        """The next nudge that goes out, as `ritual next` says: the soonest timers are asked
        whether their nudge is sent (not kept or paused by now); a few, so a tick stays cheap."""
        with self._timers_lock:
            armed = sorted((when, name) for name, when in self._armed.items() if when is not None)
        best: tuple[datetime, str] | None = None
        for when, name in armed[:looked_at]:
            if best is not None and best[0] <= when:
                return best
            try:
                sent = None if self._service is None else self._service.next_sendable(name)
            except RitualError:
                sent = when
            if sent is not None and (best is None or sent < best[0]):
                best = (sent, name)
        if len(armed) > looked_at and (best is None or armed[looked_at][0] < best[0]):
            return armed[looked_at]
        return best
