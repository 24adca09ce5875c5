"""The service: the one place that joins the store, the clock and the pure domain.

The CLI, the daemon and the HTTP endpoints all call it, so a completion typed
in a terminal and one tapped on a phone take the same path.
"""

from __future__ import annotations

import gc
import hashlib
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from scheduler.adapters.clock import Clock
from scheduler.adapters.store import (
    ApiTokenRecord,
    CadenceVersion,
    CompletionRecord,
    DeliveryStatus,
    PauseRecord,
    RitualSource,
    SkipRecord,
    Store,
    StoredRitual,
    api_token_hash,
    cadence_in_force,
)
from scheduler.domain import cadence as cad
from scheduler.domain import planning
from scheduler.domain.definitions import (
    Ritual,
    RitualFile,
    load_ritual_file,
    ritual_from_table,
    ritual_to_table,
)
from scheduler.domain.errors import (
    ConflictError,
    DefinitionError,
    RitualError,
    RitualFileError,
    UnknownRitualError,
    UsageError,
)
from scheduler.domain.reminders import Nudge

if TYPE_CHECKING:
    from scheduler.app.exchange import ImportResult
    from scheduler.domain.report import RitualInput
    from scheduler.domain.streaks import History

FAILED_DELIVERIES = (DeliveryStatus.FAILED, DeliveryStatus.GIVEN_UP)
WAITING_DELIVERIES = (DeliveryStatus.PENDING, DeliveryStatus.RETRY, DeliveryStatus.SENDING)
RITUALS_CHANGED_KEY = "rituals.changed"
FILE_HASH_KEY = "rituals_file.sha256"


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What a sync of the ritual file into the store did (or why it could not)."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    retired: tuple[str, ...] = ()
    error: str | None = None
    unchanged: bool = False


@dataclass(frozen=True, slots=True)
class RitualDetail:
    """A ritual with everything people recorded for it."""

    stored: StoredRitual
    versions: tuple[CadenceVersion, ...]
    completions: tuple[CompletionRecord, ...]
    skips: tuple[SkipRecord, ...]
    pauses: tuple[PauseRecord, ...]
    today: date
    history: History = field(repr=False)


@dataclass(frozen=True, slots=True)
class Upcoming:
    ritual: Ritual
    nudge: Nudge


class RitualService:
    def __init__(self, store: Store, clock: Clock, *, ritual_file: Path, default_timezone: str) -> None:
        self.store = store
        self.clock = clock
        self.ritual_file = ritual_file
        self.default_timezone = default_timezone

    # the ritual file ---------------------------------------------------------------
    def read_ritual_file(self) -> RitualFile | None:
        """Parse the ritual file; None when there is none."""
        if not self.ritual_file.exists():
            return None
        return load_ritual_file(self.ritual_file, fallback_timezone=self.default_timezone)

    def sync(self, *, strict: bool = False) -> SyncReport:
        """Bring the store in line with the ritual file, when the file changed since the last sync.

        The file owns the rituals it defines; a name that `ritual add` created is never
        silently overwritten. A broken file changes nothing: with ``strict`` it raises,
        otherwise the report carries the one-line error and the stored rituals stay.
        """
        try:
            text = self.ritual_file.read_bytes()
        except FileNotFoundError:
            return SyncReport(unchanged=True)
        except OSError as exc:
            return self._sync_failed(RitualFileError(str(self.ritual_file), None, None, str(exc)), strict)
        digest = hashlib.sha256(text + self.default_timezone.encode()).hexdigest()
        if self.store.get_meta(FILE_HASH_KEY) == digest:
            return SyncReport(unchanged=True)
        try:
            loaded = self.read_ritual_file()
            if loaded is None:  # deleted between the two reads
                return SyncReport(unchanged=True)
            return self._apply_file(loaded, digest)
        except RitualError as exc:
            return self._sync_failed(exc, strict)

    def _sync_failed(self, error: RitualError, strict: bool) -> SyncReport:
        if strict:
            raise error
        return SyncReport(error=str(error))

    def _apply_file(self, ritual_file: RitualFile, digest: str) -> SyncReport:
        now = self.clock.now()
        added: list[str] = []
        updated: list[str] = []
        retired: list[str] = []
        with self.store.transaction():
            stored = {s.name: s for s in self.store.list_rituals(include_removed=True)}
            for ritual in ritual_file.rituals:
                existing = stored.get(ritual.name)
                if existing and existing.source is RitualSource.CLI and existing.removed_at is None:
                    line = ritual_file.lines.get(ritual.name)
                    raise ConflictError(
                        f"{ritual_file.path}:{line}: ritual '{ritual.name}' already exists, created with "
                        f"`ritual add`; rename one, or `ritual remove {ritual.name}` first"
                    )
                if existing and existing.removed_at is None and existing.ritual == ritual:
                    continue
                self.store.save_ritual(
                    ritual,
                    RitualSource.FILE,
                    now=now,
                    effective_from=self._effective_from(ritual, existing),
                )
                (updated if existing and existing.removed_at is None else added).append(ritual.name)
            in_file = {r.name for r in ritual_file.rituals}
            for name, existing in stored.items():
                if (
                    existing.source is RitualSource.FILE
                    and existing.removed_at is None
                    and name not in in_file
                ):
                    self.store.remove_ritual(name, now=now)
                    retired.append(name)
            self.store.set_meta(FILE_HASH_KEY, digest)
            if added or updated or retired:
                self._rituals_changed()
        return SyncReport(added=tuple(added), updated=tuple(updated), retired=tuple(retired))

    def _rituals_changed(self) -> None:
        """Mark that rituals changed, so a running daemon re-derives its timers at its next tick."""
        self.store.set_meta(RITUALS_CHANGED_KEY, secrets.token_hex(8))

    def rituals_version(self) -> str:
        """Changes whenever any ritual is added, edited or removed, by any process."""
        return self.store.get_meta(RITUALS_CHANGED_KEY) or ""

    def _effective_from(self, ritual: Ritual, existing: StoredRitual | None) -> date:
        """A new ritual's first cadence counts from its start; a change counts from today on."""
        today = cad.ritual_date(ritual.cadence, self.clock.now())
        return ritual.start or today if existing is None else today

    # reading ------------------------------------------------------------------------
    def list_rituals(self) -> list[StoredRitual]:
        return self.store.list_rituals()

    def get(self, name: str) -> StoredRitual:
        stored = self.store.get_ritual(name)
        if stored is None:
            raise UnknownRitualError(name)
        return stored

    def household_today(self) -> date:
        """Today in the household's zone, for windows that span every ritual (reports, digest)."""
        return self.clock.now().astimezone(ZoneInfo(self.default_timezone)).date()

    def today(self, ritual: Ritual) -> date:
        return cad.ritual_date(ritual.cadence, self.clock.now())

    def detail(self, name: str) -> RitualDetail:
        stored = self.get(name)
        versions = tuple(self.store.cadence_history(stored.id))
        completions = tuple(self.store.completions(stored.id))
        skips = tuple(self.store.skips(stored.id))
        pauses = tuple(self.store.pauses(stored.id))
        history = build_history(stored, versions, [(c.day, c.by) for c in completions], skips, pauses)
        return RitualDetail(stored, versions, completions, skips, pauses, self.today(stored.ritual), history)

    def report_inputs(self, names: Iterable[str] | None = None) -> list[RitualInput]:
        """What the reports need of each active ritual (or the named ones)."""
        from scheduler.domain.report import RitualInput  # reports only: `ritual done` need not load them

        with collector_paused():
            return [RitualInput(s.ritual, h, today) for s, h, today in self.histories(names)]

    def streak_rows(self, names: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """The objects of `ritual streaks --json`, one per ritual."""
        chosen = self.store.list_rituals() if names is None else [self.get(name) for name in names]
        return self.streak_rows_of(chosen)

    def streak_rows_of(self, chosen: Sequence[StoredRitual]) -> list[dict[str, Any]]:
        """``streak_rows`` of these stored rituals (the nudges of one instant), read together."""
        from scheduler.domain.report import RitualInput, streak_row

        with collector_paused():
            return [streak_row(RitualInput(s.ritual, h, today)) for s, h, today in self.histories_of(chosen)]

    def histories(self, names: Iterable[str] | None = None) -> list[tuple[StoredRitual, History, date]]:
        """Each active ritual (or the named ones) with its streak history and ritual-day today."""
        chosen = self.store.list_rituals() if names is None else [self.get(name) for name in names]
        return self.histories_of(chosen)

    def histories_of(self, chosen: Sequence[StoredRitual]) -> list[tuple[StoredRitual, History, date]]:
        """``histories`` of these stored rituals: four queries in all, however many there are."""
        ids = [stored.id for stored in chosen]
        versions = self.store.cadence_histories(ids)
        marks = self.store.completion_marks_of(ids)
        skips = self.store.skips_of(ids)
        pauses = self.store.pauses_of(ids)
        return [
            (
                stored,
                build_history(
                    stored,
                    versions.get(stored.id, ()),
                    marks.get(stored.id, []),
                    skips.get(stored.id, ()),
                    pauses.get(stored.id, ()),
                ),
                self.today(stored.ritual),
            )
            for stored in chosen
        ]

    def upcoming(self, days: int, names: Iterable[str] | None = None) -> list[Upcoming]:
        """What the daemon will send in the next ``days`` days, soonest first (``planning.sendable``:
        not a nudge held past its grace, on a paused day or of a period kept by now)."""
        now = self.clock.now()
        until = now + timedelta(days=days)
        wanted = set(names) if names is not None else None
        found: list[Upcoming] = []
        for stored in self.store.list_rituals():
            ritual = stored.ritual
            if wanted is not None and ritual.name not in wanted:
                continue
            pauses = self.store.pauses(stored.id)
            kept, paused = self._kept_now(stored), partial(is_paused_on, pauses)
            for nudge in planning.sendable(ritual, now, until, kept=kept, paused=paused):
                found.append(Upcoming(ritual, nudge))
        found.sort(key=lambda u: (u.nudge.due, u.ritual.name, u.nudge.slot))
        return found

    def _kept_now(self, stored: StoredRitual) -> Callable[[Nudge], bool]:
        """Whether a nudge's period is kept by what is recorded now. Only a period begun by today
        can be, so no other is read; a later day of today's period is judged by today."""
        from scheduler.app.nudging import period_kept  # nudging imports this module

        today, cadence = self.today(stored.ritual), stored.ritual.cadence

        @cache
        def kept_on(day: date) -> bool:
            return period_kept(self, stored, day)

        def kept(nudge: Nudge) -> bool:
            return cad.period_of(cadence, nudge.day).start <= today and kept_on(min(nudge.day, today))

        return kept

    # API tokens ---------------------------------------------------------------------------
    def create_token(self, name: str) -> tuple[ApiTokenRecord, str]:
        """A new bearer token for the HTTP API: shown once, kept only as its hash."""
        token = secrets.token_urlsafe(32)
        record = self.store.create_api_token(name, api_token_hash(token), now=self.clock.now())
        return record, token

    def revoke_token(self, name: str) -> None:
        if not self.store.revoke_api_token(name, now=self.clock.now()):
            raise RitualError(f"no active API token named '{name}' (see `ritual token list`)")

    def tokens(self) -> list[ApiTokenRecord]:
        return self.store.api_tokens()

    # the daemon's record --------------------------------------------------------------
    def status(self, *, limit: int = 5) -> dict[str, Any]:
        """What `ritual status` shows: next nudges, the last ones decided, the outbox."""
        names = {s.id: s.name for s in self.store.list_rituals(include_removed=True)}
        upcoming = self.upcoming(days=8)[:limit]
        last = self.store.occurrences(limit=limit)
        occurrences = {o.id: o for o in last}
        failed = self.store.deliveries(statuses=FAILED_DELIVERIES, limit=50)
        for delivery in failed:
            if delivery.occurrence_id not in occurrences:
                found = self.store.get_occurrence(delivery.occurrence_id)
                if found is not None:
                    occurrences[found.id] = found
        waiting = self.store.deliveries(statuses=WAITING_DELIVERIES)

        def ritual_name(ritual_id: int | None) -> str:
            return "household" if ritual_id is None else names.get(ritual_id, "?")

        def name_of(occurrence_id: int) -> str:
            occurrence = occurrences.get(occurrence_id)
            return ritual_name(occurrence.ritual_id) if occurrence else "?"

        return {
            "rituals": len(self.store.list_rituals()),
            "next": [
                {
                    "name": u.ritual.name,
                    "due": u.nudge.due,
                    "local": u.nudge.due.astimezone(u.ritual.cadence.zone),
                    "kind": u.nudge.kind.value,
                }
                for u in upcoming
            ],
            "last": [
                {
                    "name": ritual_name(o.ritual_id),
                    "day": o.day,
                    "slot": o.slot,
                    "due_at": o.due_at,
                    "status": o.status.value,
                    "note": o.note,
                }
                for o in last
            ],
            "deliveries": {
                "pending": sum(d.status is DeliveryStatus.PENDING for d in waiting),
                "retrying": sum(d.status is DeliveryStatus.RETRY for d in waiting),
                "failed": [
                    {
                        "id": d.id,
                        "name": name_of(d.occurrence_id),
                        "slot": occurrences[d.occurrence_id].slot if d.occurrence_id in occurrences else "",
                        "channel": d.channel,
                        "status": d.status.value,
                        "attempts": d.attempts,
                        "last_error": d.last_error,
                    }
                    for d in failed
                ],
            },
        }

    # moving history in and out ----------------------------------------------------------
    def export(self, fmt: str, *, days: int = 60) -> str | bytes:
        """Everything as JSON or CSV (round-trips through `import`), or upcoming nudges as ICS."""
        from scheduler.app import exchange

        if fmt == "ics":
            return exchange.ics_feed(self.upcoming(days), generated_at=self.clock.now())
        snapshot = exchange.read_snapshot(self.store)
        return exchange.to_json(snapshot) if fmt == "json" else exchange.to_csv(snapshot)

    def import_file(
        self,
        path: Path,
        *,
        fmt: str | None = None,
        loop: bool = False,
        name: str | None = None,
        dry_run: bool = False,
    ) -> ImportResult:
        """Merge a backup (or a Loop Habit Tracker export) in; never overwrites what is stored."""
        from scheduler.app import exchange

        if loop:
            names = {s.name for s in self.store.list_rituals(include_removed=True)}
            loaded = exchange.load_loop(path, name=name)
            snapshot = exchange.loop_snapshot(loaded, names, self.default_timezone)
        else:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise exchange.ImportFileError(str(path), f"cannot read ({exc.__class__.__name__})") from None
            kind = fmt or ("csv" if path.suffix.lower() == ".csv" else "json")
            parse = exchange.parse_csv if kind == "csv" else exchange.parse_json
            snapshot = parse(text, str(path), default_timezone=self.default_timezone)
        result = exchange.apply_import(self.store, snapshot, now=self.clock.now(), dry_run=dry_run)
        if result.rituals_added and not dry_run:
            self._rituals_changed()
        return result

    # changing rituals -----------------------------------------------------------------
    def file_defaults(self) -> Mapping[str, Any]:
        """The ritual file's [defaults], so `ritual add` rituals share the household's zone."""
        try:
            loaded = self.read_ritual_file()
        except RitualError:
            return {}
        return loaded.defaults if loaded else {}

    def add(self, table: Mapping[str, Any]) -> StoredRitual:
        ritual = ritual_from_table(table, self.file_defaults(), fallback_timezone=self.default_timezone)
        existing = self.store.get_ritual(ritual.name, include_removed=True)
        if existing is not None and existing.removed_at is None:
            where = "the ritual file" if existing.source is RitualSource.FILE else "`ritual add`"
            raise ConflictError(f"ritual '{ritual.name}' already exists (from {where}); use `ritual edit`")
        with self.store.transaction():
            saved = self.store.save_ritual(
                ritual,
                RitualSource.CLI,
                now=self.clock.now(),
                effective_from=self._effective_from(ritual, existing),
            )
            self._rituals_changed()
        return saved

    def edit(self, name: str, changes: Mapping[str, Any], unset: Iterable[str] = ()) -> StoredRitual:
        stored = self._owned_by_cli(name, "edit")
        table = ritual_to_table(stored.ritual)
        for key in unset:
            table.pop(key, None)
        table.update(changes)
        ritual = ritual_from_table(table, fallback_timezone=self.default_timezone)
        if ritual.name != name:
            raise DefinitionError("name", "a ritual cannot be renamed; add a new one instead")
        if ritual == stored.ritual:
            return stored
        with self.store.transaction():
            saved = self.store.save_ritual(
                ritual, RitualSource.CLI, now=self.clock.now(), effective_from=self.today(ritual)
            )
            self._rituals_changed()
        return saved

    def remove(self, name: str) -> StoredRitual:
        stored = self._owned_by_cli(name, "remove")
        with self.store.transaction():
            self.store.remove_ritual(name, now=self.clock.now())
            self._rituals_changed()
        return stored

    def _owned_by_cli(self, name: str, verb: str) -> StoredRitual:
        stored = self.get(name)
        if stored.source is RitualSource.FILE:
            raise ConflictError(
                f"ritual '{name}' is defined in {self.ritual_file}; {verb} it there "
                "(the file wins for the rituals it defines)"
            )
        return stored

    # what people did -------------------------------------------------------------------
    def record_done(
        self,
        name: str,
        *,
        day: date | None = None,
        at: datetime | None = None,
        by: str = "",
        note: str = "",
        source: str = "cli",
        occurrence: str | None = None,
    ) -> tuple[StoredRitual, CompletionRecord, bool]:
        """Record a completion; returns it and whether it is new (False: already recorded)."""
        stored = self.get(name)
        ritual = stored.ritual
        now = self.clock.now()
        if at is not None:
            if at > now:
                raise UsageError(f"--at {at.isoformat(timespec='minutes')} is in the future")
            day = cad.ritual_date(ritual.cadence, at)
        today = self.today(ritual)
        if day is None:
            day = today
        if day > today:
            raise UsageError(f"--date {day} is in the future (today is {today} for '{name}')")
        if ritual.start is not None and day < ritual.start:
            raise UsageError(f"--date {day} is before '{name}' starts ({ritual.start})")
        if at is None:
            # A back-filled day is stamped at noon local time; only today gets the real moment.
            at = now if day == today else cad.local_instant(ritual.cadence.zone, day, _NOON)
        cadence = self.cadence_on(stored, day)
        period = cad.period_of(cadence, day)
        record, created = self.store.add_completion(
            stored.id,
            day=day,
            at=at,
            period_key=period.key,
            by=by,
            note=note,
            source=source,
            occurrence=occurrence,
            now=now,
        )
        return stored, record, created

    def undo(self, name: str) -> CompletionRecord:
        stored = self.get(name)
        last = self.store.last_completion(stored.id)
        if last is None:
            raise RitualError(f"'{name}' has no completion to undo")
        self.store.delete_completion(last.id)
        return last

    def skip(self, name: str, *, day: date | None = None, reason: str = "") -> SkipRecord:
        stored = self.get(name)
        today = self.today(stored.ritual)
        day = day or today
        return self.store.add_skip(stored.id, day=day, reason=reason, now=self.clock.now())

    def pause(
        self, name: str, *, start: date | None = None, until: date | None = None, reason: str = ""
    ) -> PauseRecord:
        stored = self.get(name)
        start = start or self.today(stored.ritual)
        if until is not None and until < start:
            raise UsageError(f"--until {until} is before --from {start}")
        return self.store.add_pause(stored.id, start=start, until=until, reason=reason, now=self.clock.now())

    def resume(self, name: str) -> int:
        """End the pauses running today: the ritual is due again from today on."""
        stored = self.get(name)
        yesterday = self.today(stored.ritual) - timedelta(days=1)
        return self.store.end_pauses(stored.id, last_day=yesterday)

    def is_paused(self, stored: StoredRitual) -> bool:
        return is_paused_on(self.store.pauses(stored.id), self.today(stored.ritual))

    def cadence_on(self, stored: StoredRitual, day: date) -> cad.Cadence:
        """The cadence in force on ``day`` (effective-dated versions; the first covers earlier days)."""
        versions = self.store.cadence_history(stored.id)
        return cadence_in_force(versions, day, stored.ritual.cadence)


_NOON = time(12, 0)


def build_history(
    stored: StoredRitual,
    versions: Iterable[CadenceVersion],
    completions: Sequence[tuple[date, str]],
    skips: Iterable[SkipRecord],
    pauses: Iterable[PauseRecord],
) -> History:
    """The streak contract's view of one ritual, from what the store holds."""
    from scheduler.domain.streaks import History, PausedSpan

    ritual = stored.ritual
    version_pairs = tuple((v.effective_from, v.cadence) for v in versions) or (
        (ritual.start or stored.created_at.date(), ritual.cadence),
    )
    # Without an explicit start, a ritual counts from its first cadence or its earliest
    # back-filled completion, whichever is older, so back-filling is never wasted.
    earliest = min(completions, default=None)  # (day, by) pairs: the earliest day, compared in C
    start = ritual.start or min(version_pairs[0][0], earliest[0] if earliest else version_pairs[0][0])
    if ritual.start is None and version_pairs[0][0] > start:
        version_pairs = ((start, version_pairs[0][1]), *version_pairs[1:])
    return History(
        versions=version_pairs,
        start=start,
        completions=completions,
        skips=tuple(s.day for s in skips),
        pauses=tuple(PausedSpan(p.start, p.until) for p in pauses),
        end=ritual.end,
        people=ritual.people,
        complete_when=ritual.complete_when,
        freezes_per_month=ritual.freezes_per_month,
    )


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large, cycle-free structures.

    Reports build hundreds of thousands of small tuples; the collector would rescan
    them again and again as the heap grows (measured: half the time of `ritual streaks`
    over ten years of history). They hold no cycles, so nothing is lost by waiting.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def outside_dates(ritual: Ritual, day: date) -> bool:
    return (ritual.start is not None and day < ritual.start) or (ritual.end is not None and day > ritual.end)


def is_paused_on(pauses: Iterable[PauseRecord], day: date) -> bool:
    return any(p.start <= day and (p.until is None or day <= p.until) for p in pauses)
