"""The service: the one place that joins the store, the clock and the pure domain.

The CLI, the daemon and the HTTP endpoints all call it, so a completion typed
in a terminal and one tapped on a phone take the same path.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, assert_never
from zoneinfo import ZoneInfo

from scheduler.app.ports import Changes, Clock, NoChanges, Store
from scheduler.app.stored import (
    ApiTokenRecord,
    CompletionRecord,
    DeliveryRecord,
    DeliveryStatus,
    IdeaRecord,
    LeaderInfo,
    OccurrenceKind,
    OccurrenceRecord,
    OccurrenceStatus,
    PauseRecord,
    Resumed,
    RitualSource,
    SkipRecord,
    StoredRitual,
    api_token_hash,
)
from scheduler.app.views import (
    CompletionView,
    DecidedNudge,
    DigestView,
    FailedDelivery,
    HeatmapView,
    Recorded,
    RitualDetail,
    RitualView,
    StatusView,
    StreakView,
    TodayEntry,
    TurnView,
    Upcoming,
)
from scheduler.domain import cadence as cad
from scheduler.domain import planning
from scheduler.domain.cadence import cadence_in_force
from scheduler.domain.definitions import (
    RITUAL_KEYS,
    SHIPPED_DECK,
    CompleteWhen,
    Ritual,
    RitualFile,
    check_text,
    is_ritual_name,
    load_ritual_file,
    ritual_from_table,
    ritual_to_table,
)
from scheduler.domain.errors import (
    ConflictError,
    DefinitionError,
    NotFoundError,
    RetiredRitualError,
    RitualError,
    RitualFileError,
    ScheduleError,
    UnknownCompletionError,
    UnknownRitualError,
    UsageError,
)
from scheduler.domain.history import history_of, is_paused_on, keeps_period, still_to_do
from scheduler.domain.people import HOUSEHOLD, Household
from scheduler.domain.reminders import Nudge, NudgeKind, check_schedule

if TYPE_CHECKING:
    from scheduler.app.exchange import ImportResult, Progress
    from scheduler.domain.prompts import Deck
    from scheduler.domain.report import Report, RitualInput
    from scheduler.domain.streaks import History
    from scheduler.domain.today import Standing
    from scheduler.domain.trends import ChartData

FAILED_DELIVERIES = (DeliveryStatus.FAILED, DeliveryStatus.GIVEN_UP)
FEED_DAYS = 60  # how far ahead a calendar feed lists the nudges
NEXT_DUE_DAYS = 40  # how far `ritual list` looks for each ritual's next due time
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


class RitualService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        ritual_file: Path,
        default_timezone: str,
        household: Household | None = None,
        changes: Changes | None = None,
    ) -> None:
        self.store = store
        self.changes: Changes = changes or NoChanges()
        self.clock = clock
        self.ritual_file = ritual_file
        self.default_timezone = default_timezone
        self.household = household or Household()

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
        left_out: list[RitualFileError] = []
        with self.store.transaction():
            stored = {s.name: s for s in self.store.list_rituals(include_removed=True)}
            for ritual in ritual_file.rituals:
                if problem := self._unknown_people(ritual):
                    key = problem.partition(":")[0]
                    line = ritual_file.lines.get(ritual.name)
                    if key == "people":  # the whole file waits, as it always did
                        raise RitualFileError(ritual_file.path, line, ritual.name, problem)
                    line = ritual_file.key_lines.get(ritual.name, {}).get(key) or line
                    error = RitualFileError(ritual_file.path, line, ritual.name, problem)
                    # whose turn or the question deck: this ritual stays as stored, the rest load
                    left_out.append(error)
                    continue
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
            if not left_out:  # a ritual left out is looked at again (and said again) next time
                self.store.set_meta(FILE_HASH_KEY, digest)
            if added or updated or retired:
                self._rituals_changed()
        if added or updated or retired:
            self._changed()
        said = None
        if left_out:
            more = f" (and {len(left_out) - 1} more)" if len(left_out) > 1 else ""
            said = f"{left_out[0]}{more}; that ritual is left as it was"
        return SyncReport(added=tuple(added), updated=tuple(updated), retired=tuple(retired), error=said)

    def _rituals_changed(self) -> None:
        """Mark that rituals changed, so a running daemon re-derives its timers at its next tick."""
        self.store.set_meta(RITUALS_CHANGED_KEY, secrets.token_hex(8))

    def _changed(self) -> None:
        """Tell whoever mirrors the rituals (Home Assistant) that something they show changed;
        called once per write, after it is stored. A failure to tell is logged, never raised."""
        try:
            self.changes.changed()
        except Exception:
            _log.exception("telling of a change failed")

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

    def rituals_named(self, names: Iterable[str]) -> dict[str, StoredRitual]:
        """The current rituals among ``names``, by name, in one read (a timer's batch)."""
        return self.store.rituals_named(list(names))

    def leader_info(self) -> LeaderInfo | None:
        """Who leads the daemons of this database (PostgreSQL; None on SQLite)."""
        return self.store.leader_info()

    def get(self, name: str) -> StoredRitual:
        """The active ritual of that name; UnknownRitualError, or RetiredRitualError when retired."""
        if not is_ritual_name(name):  # not even asked: "x\0" would be a database error on PostgreSQL
            raise UnknownRitualError(name)
        stored = self.store.get_ritual(name)
        if stored is None:
            if self.store.get_ritual(name, include_removed=True) is not None:
                raise RetiredRitualError(name)
            raise UnknownRitualError(name)
        return stored

    def household_today(self) -> date:
        """Today in the household's zone, for windows that span every ritual (reports, digest)."""
        return self.clock.now().astimezone(ZoneInfo(self.default_timezone)).date()

    def today(self, ritual: Ritual) -> date:
        return cad.ritual_date(ritual.cadence, self.clock.now())

    def detail(self, name: str) -> RitualDetail:
        """One ritual with everything recorded for it, its cadence history and its streak; a
        retired one too (``stored.removed_at`` says since when)."""
        stored = self.store.get_ritual(name, include_removed=True) if is_ritual_name(name) else None
        if stored is None:
            raise UnknownRitualError(name)
        versions = tuple(self.store.cadence_history(stored.id))
        completions = tuple(self.store.completions(stored.id))
        skips = tuple(self.store.skips(stored.id))
        pauses = tuple(self.store.pauses(stored.id))
        marks = [(c.day, c.by) for c in completions]
        history = history_of(stored.ritual, stored.created_at.date(), versions, marks, skips, pauses)
        from scheduler.domain.streaks import summarize

        today = self.today(stored.ritual)
        streak = StreakView(stored.ritual, summarize(history, today))
        paused = is_paused_on(pauses, today)
        planner = self.planner(stored, today) if stored.removed_at is None else ""
        return RitualDetail(
            stored, paused, versions, completions, skips, pauses, streak, today, history, planner
        )

    def overview(self, *, retired: bool = False) -> list[RitualView]:
        """Every active ritual (and with ``retired`` the retired ones), whether it is paused and
        when it is next due (`ritual list`)."""
        next_due: dict[str, datetime] = {}
        for item in self.upcoming(days=NEXT_DUE_DAYS):
            if item.nudge.kind is NudgeKind.DUE:
                next_due.setdefault(item.ritual.name, item.nudge.due)
        rituals = self.store.list_rituals(include_removed=retired)
        pauses = self.store.pauses_of([stored.id for stored in rituals])
        return [
            RitualView(
                stored,
                is_paused_on(pauses.get(stored.id, ()), self.today(stored.ritual)),
                next_due.get(stored.name),
            )
            for stored in rituals
        ]

    def report_inputs(self, names: Iterable[str] | None = None) -> list[RitualInput]:
        """What the reports need of each active ritual (or the named ones)."""
        from scheduler.domain.report import RitualInput  # reports only: `ritual done` need not load them

        return [RitualInput(s.ritual, h, today) for s, h, today in self.histories(names)]

    def report_window(self, window: str | None = None, since: date | None = None) -> tuple[date, date]:
        """The days a report covers: this calendar week (the default) or month, or ``since``..today.

        A ``since`` after today is a ValueError saying so.
        """
        from scheduler.domain import report as reports

        today = self.household_today()
        if since is not None:
            return reports.since_window(since, today)
        if window == "month":
            return reports.month_window(today)
        return reports.week_window(today)

    def report(self, first: date, last: date) -> Report:
        """Each ritual's periods in ``first..last``, who did what, and the balance of the five kinds."""
        from scheduler.domain.report import build_report

        return build_report(self.report_inputs(), first, last)

    def trends(self, first: date, last: date) -> ChartData:
        """What the report's chart shows for ``first..last``: kept share over time, and the balance."""
        from scheduler.domain.trends import chart_data

        return chart_data(self.report_inputs(), first, last)

    def digest(self) -> tuple[str, str]:
        """The weekly digest as it would be sent: its title and its text."""
        view = self.digest_view()
        return view.title, view.text

    def digest_view(self) -> DigestView:
        """The weekly digest as it would be sent, with the seven days it looks back over."""
        from scheduler.domain.report import (
            digest_text,
            digest_title,
            digest_window,
            least_served,
            suggestion_line,
        )

        today = self.household_today()
        first, last = digest_window(today)
        paused = [(p.start, p.until) for p in self.store.household_pauses()]
        inputs = self.report_inputs()
        rituals = {s.id: s.ritual for s in self.store.list_rituals()}
        ideas = [
            (rituals[i.ritual_id].name, rituals[i.ritual_id].dimension, i.text)
            for i in self.store.ideas()
            if i.state == "open" and i.ritual_id in rituals
        ]
        have = [s.name for s in self.store.list_rituals(include_removed=True)]
        suggestion = suggestion_line(least_served(inputs, today), _catalogue(), have, ideas)
        text = digest_text(inputs, today, paused=paused, suggestion=suggestion)
        return DigestView(digest_title(today), text, first, last)

    def heatmaps(self, names: Iterable[str] | None = None) -> list[HeatmapView]:
        """A year of squares per ritual (or the named ones), with the kind of period they count."""
        from scheduler.domain.heatmap import heatmap_cells
        from scheduler.domain.report import newest_cadence

        return [
            HeatmapView(
                item.ritual,
                newest_cadence(item.history).every,
                tuple(heatmap_cells(item.history, item.today)),
            )
            for item in self.report_inputs(names)
        ]

    def streaks(self, names: Iterable[str] | None = None) -> list[StreakView]:
        """Each active ritual's streaks (or the named ones'): `ritual streaks`."""
        chosen = self.store.list_rituals() if names is None else [self.get(name) for name in names]
        return self.streaks_of(chosen)

    def streaks_of(self, chosen: Sequence[StoredRitual]) -> list[StreakView]:
        """``streaks`` of these stored rituals (the nudges of one instant), read together."""
        from scheduler.domain.streaks import summarize

        return [StreakView(s.ritual, summarize(h, today)) for s, h, today in self.histories_of(chosen)]

    def today_entries(self, person: str = "", *, days: int = 0) -> list[TodayEntry]:
        """Each active ritual as the today page shows it: due today first, then this week, then
        later; within each, ``person``'s own rituals (those naming them) first. ``days``: the last
        days of each, one by one. No year of squares: that is the ritual's own page."""
        from scheduler.domain.today import Section, standing

        order = {Section.TODAY: 0, Section.WEEK: 1, Section.LATER: 2}
        ideas: dict[int, list[IdeaRecord]] = {}
        for idea in self.store.ideas(None):
            if idea.state == "open":
                ideas.setdefault(idea.ritual_id, []).append(idea)
        entries = [
            TodayEntry(
                stored,
                standing(history, today, days=days),
                planner=self.planner(stored, today),
                question=self.prompt_of(stored, today),
                ideas=tuple(ideas.get(stored.id, ())),
            )
            for stored, history, today in self.histories()
        ]

        def mine(entry: TodayEntry) -> bool:
            return bool(person) and person in entry.stored.ritual.people

        entries.sort(key=lambda e: (order[e.standing.section], not mine(e), e.stored.name))
        return entries

    def ritual_page(self, name: str) -> tuple[RitualDetail, Standing]:
        """One ritual with its history, and where it stands today with a year of squares."""
        from scheduler.domain.today import standing

        detail = self.detail(name)
        return detail, standing(detail.history, detail.today, year=True, days=14)

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
                history_of(
                    stored.ritual,
                    stored.created_at.date(),
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
        not a nudge held past its grace, on a paused day or of a period kept by now).

        A ritual whose cron or rrule cannot be planned (``schedule_problems`` says why) has none;
        the others are planned as usual.
        """
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
            planner = self._planner_of(stored) if ritual.turns else None
            try:
                planned = [
                    Upcoming(ritual, nudge, planner(nudge.day) if planner else "")
                    for nudge in planning.sendable(ritual, now, until, kept=kept, paused=paused)
                ]
            except ScheduleError:
                continue
            found.extend(planned)
        found.sort(key=lambda u: (u.nudge.due, u.ritual.name, u.nudge.slot))
        return found

    def next_sendable(self, name: str, *, within: timedelta = timedelta(days=8)) -> datetime | None:
        """When the ritual's next nudge goes out, as `ritual next` would list it (None: not within)."""
        stored = self.get(name)
        now = self.clock.now()
        kept, paused = self._kept_now(stored), partial(is_paused_on, self.store.pauses(stored.id))
        first = next(planning.sendable(stored.ritual, now, now + within, kept=kept, paused=paused), None)
        return None if first is None else first.due

    def schedule_problems(self, rituals: Iterable[StoredRitual] | None = None) -> dict[str, str]:
        """Why a current ritual's cron or rrule cannot be planned, by name: one stored before the
        rule that refuses it existed. It gets no nudges; `ritual check`, `ritual status` and the
        daemon's log say so, and `ritual edit` (or the ritual file) mends it."""
        problems: dict[str, str] = {}
        for stored in self.store.list_rituals() if rituals is None else rituals:
            try:
                check_schedule(stored.ritual.cadence, stored.ritual.reminders)
            except ScheduleError as error:
                problems[stored.name] = f"ritual '{stored.name}': {error}; it gets no nudges until mended"
        return problems

    def _kept_now(self, stored: StoredRitual) -> Callable[[Nudge], bool]:
        """Whether a nudge's period is kept by what is recorded now. Only a period begun by today
        can be, so no other is read; a later day of today's period is judged by today."""
        today, cadence = self.today(stored.ritual), stored.ritual.cadence

        @cache
        def kept_on(day: date) -> bool:
            return self.period_kept(stored, day)

        def kept(nudge: Nudge) -> bool:
            return cad.period_of(cadence, nudge.day).start <= today and kept_on(min(nudge.day, today))

        return kept

    # API tokens ---------------------------------------------------------------------------
    def create_token(
        self, name: str, *, person: str | None = None, feed: bool = False
    ) -> tuple[ApiTokenRecord, str]:
        """A new bearer token for the HTTP API and the pages: shown once, kept only as its hash.

        With ``person``, what its requests record is theirs. With ``feed``, it opens only that
        person's calendar feed (``/feed/TOKEN.ics``): a calendar app holding it records nothing.
        """
        if feed and not person:
            raise UsageError("--feed needs --person: a feed shows one person's rituals")
        who = self.household.who(person, where="--person") if person else None
        token = secrets.token_urlsafe(32)
        record = self.store.create_api_token(
            name,
            api_token_hash(token),
            now=self.clock.now(),
            person=who or None,
            kind="feed" if feed else "api",
        )
        return record, token

    def feed(self, token: str) -> list[Upcoming] | None:
        """The next FEED_DAYS of nudges of the rituals a feed token's person shares (those naming
        them, and those naming nobody); None for anything but an active feed token."""
        record = self.store.find_api_token(api_token_hash(token)) if token else None
        if record is None or record.kind != "feed" or self._person_gone(record):
            return None
        self.store.touch_api_token(record.id, now=self.clock.now())
        person = record.person or ""
        return [u for u in self.upcoming(FEED_DAYS) if not u.ritual.people or person in u.ritual.people]

    def revoke_token(self, name: str) -> None:
        if not self.store.revoke_api_token(name, now=self.clock.now()):
            raise RitualError(f"no active API token named '{name}' (see `ritual token list`)")

    def tokens(self) -> list[ApiTokenRecord]:
        return self.store.api_tokens()

    def token_state(self, record: ApiTokenRecord) -> str:
        """``active``, ``revoked``, or ``stopped`` (its person is no longer of the household)."""
        if not record.active:
            return "revoked"
        return "stopped" if self._person_gone(record) else "active"

    def _person_gone(self, record: ApiTokenRecord) -> bool:
        return bool(record.person) and self.household.get(record.person or "") is None

    def authenticate(self, token: str) -> ApiTokenRecord | None:
        """The active token with this secret (its last use noted), or None."""
        return self.token_by_hash(api_token_hash(token)) if token else None

    def token_by_hash(self, token_hash: str) -> ApiTokenRecord | None:
        """The active token with this hash, as a page session holds it (its last use noted).

        A token of someone no longer among the household's people works no more.
        """
        record = self.store.find_api_token(token_hash)
        if record is None or record.kind != "api" or self._person_gone(record):
            return None
        self.store.touch_api_token(record.id, now=self.clock.now())
        return record

    # one-tap links ----------------------------------------------------------------------
    def nudge(self, occurrence_id: int) -> tuple[OccurrenceRecord, StoredRitual] | None:
        """The nudge a link names and its (current) ritual; None when either is gone."""
        occurrence = self.store.get_occurrence(occurrence_id)
        if occurrence is None or occurrence.ritual_id is None:
            return None
        stored = self.store.ritual_by_id(occurrence.ritual_id)
        return None if stored is None else (occurrence, stored)

    def done_from(self, occurrence: OccurrenceRecord, person: str) -> bool:
        """Whether ``person`` already recorded a completion from this nudge's link."""
        if occurrence.ritual_id is None:
            return False
        key = str(occurrence.id)
        return any(
            c.occurrence == key and c.by == person for c in self.store.completions(occurrence.ritual_id)
        )

    # the daemon's record --------------------------------------------------------------
    def status(self, *, limit: int = 5) -> StatusView:
        """What `ritual status` shows: next nudges, the last ones decided, the outbox, the leader."""
        names = {s.id: s.name for s in self.store.list_rituals(include_removed=True)}
        last = self.store.occurrences(limit=limit)
        occurrences = {o.id: o for o in last}
        failed = self.store.deliveries(statuses=FAILED_DELIVERIES, limit=50)
        waiting = self.store.deliveries(statuses=WAITING_DELIVERIES)
        retrying = [d for d in waiting if d.status is DeliveryStatus.RETRY]
        for delivery in (*failed, *retrying):
            if delivery.occurrence_id not in occurrences:
                found = self.store.get_occurrence(delivery.occurrence_id)
                if found is not None:
                    occurrences[found.id] = found
        open_by_nudge: dict[int, list[DeliveryRecord]] = {}
        for delivery in waiting:
            open_by_nudge.setdefault(delivery.occurrence_id, []).append(delivery)

        def ritual_name(ritual_id: int | None) -> str:
            return "household" if ritual_id is None else names.get(ritual_id, "?")

        def listed(delivery: DeliveryRecord) -> FailedDelivery:
            occurrence = occurrences.get(delivery.occurrence_id)
            if occurrence is None:
                return FailedDelivery("?", "", delivery)
            return FailedDelivery(ritual_name(occurrence.ritual_id), occurrence.slot, delivery)

        def decided(occurrence: OccurrenceRecord) -> DecidedNudge:
            waiting = open_by_nudge.get(occurrence.id, ())
            state, note = nudge_state(occurrence, waiting, ZoneInfo(self.default_timezone))
            return DecidedNudge(ritual_name(occurrence.ritual_id), occurrence, state, note)

        return StatusView(
            rituals=len(self.store.list_rituals()),
            next=tuple(self.upcoming(days=8)[:limit]),
            last=tuple(decided(o) for o in last),
            pending=sum(d.status is not DeliveryStatus.RETRY for d in waiting),
            retrying=len(retrying),
            failed=tuple(listed(d) for d in failed),
            leader=self.store.leader_info(),
            household_pauses=tuple(self.current_household_pauses()),
            waiting=tuple(listed(d) for d in sorted(retrying, key=lambda d: d.id)),
            problems=tuple(self.schedule_problems().values()),
        )

    def retry(self, ids: Sequence[int] = ()) -> int:
        """Make failed, given-up and retrying deliveries (all, or these) due now; how many.

        Given ids must all name such a delivery, or nothing is changed: an unknown id is a
        NotFoundError, one that cannot be retried (sent, cancelled, being sent) a RitualError
        saying why.
        """
        if ids:
            found = {d.id: d for d in self.store.deliveries(ids=set(ids))}
            if unknown := [i for i in ids if i not in found]:
                listed = ", ".join(f"#{i}" for i in dict.fromkeys(unknown))
                noun = "delivery" if len(set(unknown)) == 1 else "deliveries"
                raise NotFoundError(f"no {noun} {listed} (`ritual status` lists the ids to retry)")
            for delivery_id in ids:
                if why := _not_retryable(found[delivery_id]):
                    raise RitualError(f"delivery #{delivery_id} {why}; nothing was retried")
        return self.store.retry_deliveries(now=self.clock.now(), ids=ids or None)

    def now(self) -> datetime:
        return self.clock.now()

    # moving history in and out ----------------------------------------------------------
    def export(self, fmt: str, progress: Progress | None = None) -> str:
        """Everything as JSON or CSV: a backup that round-trips through `import`; ``progress``
        hears (rituals read, rituals)."""
        from scheduler.app import exchange

        snapshot = exchange.read_snapshot(self.store, progress)
        return exchange.to_json(snapshot) if fmt == "json" else exchange.to_csv(snapshot)

    def import_file(
        self,
        path: Path,
        *,
        fmt: str | None = None,
        loop: bool = False,
        name: str | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> ImportResult:
        """Merge a backup (or a Loop Habit Tracker export) in; never overwrites what is stored.

        New rituals that do not name a zone (Loop's habits never do) get the household's: the
        ritual file's [defaults] timezone, else the settings'. ``progress`` hears (entries
        merged, entries) while it merges.
        """
        from scheduler.app import exchange

        zone = self.household_timezone()
        if loop:
            names = {s.name for s in self.store.list_rituals(include_removed=True)}
            loaded = exchange.load_loop(path, name=name)
            snapshot = exchange.loop_snapshot(loaded, names, zone)
        else:
            if exchange.is_sqlite(path):
                raise exchange.ImportFileError(
                    str(path), "a SQLite database, not a backup from `ritual export` (a Loop backup: --loop)"
                )
            text = exchange.read_text_file(path)
            kind = fmt or ("csv" if path.suffix.lower() == ".csv" else "json")
            parse = exchange.parse_csv if kind == "csv" else exchange.parse_json
            snapshot = parse(text, str(path), default_timezone=zone)
        result = exchange.apply_import(
            self.store, snapshot, now=self.clock.now(), dry_run=dry_run, progress=progress
        )
        if result.rituals_added and not dry_run:
            self._rituals_changed()
        if not dry_run:
            self._changed()
        return result

    # changing rituals -----------------------------------------------------------------
    def household_timezone(self) -> str:
        """The zone of a ritual that names none: the ritual file's [defaults], else the settings'."""
        zone = self.file_defaults().get("timezone")
        return zone.strip() if isinstance(zone, str) and zone.strip() else self.default_timezone

    def file_defaults(self) -> Mapping[str, Any]:
        """The ritual file's [defaults], so `ritual add` rituals share the household's zone."""
        try:
            loaded = self.read_ritual_file()
        except RitualError:
            return {}
        return loaded.defaults if loaded else {}

    def _unknown_people(self, ritual: Ritual) -> str | None:
        """Why the ritual's ``people`` are not all of the household (None when they are, or
        when the household names nobody)."""
        keys = self.household.keys
        for key, names in (("people", ritual.people), ("turns", ritual.turns)):
            unknown = [name for name in names if keys and name not in keys]
            if unknown:
                return f"{key}: unknown person '{unknown[0]}' (the household: {', '.join(keys)})"
        if ritual.prompts is not None:
            from scheduler.domain.prompts import DeckError

            try:
                self.deck(ritual)
            except DeckError as exc:
                return f"prompts: {exc}"
        return None

    # a question for the talk ----------------------------------------------------------------
    def deck(self, ritual: Ritual) -> Deck:
        """The question deck of a ritual with ``prompts``: the shipped one, or a file (a path
        relative to the ritual file's folder); DeckError when it cannot be used."""
        from scheduler.domain.prompts import load_deck

        source = ritual.prompts or SHIPPED_DECK
        if source == SHIPPED_DECK:
            from importlib.resources import files

            path = Path(str(files("scheduler") / "examples" / "questions.toml"))
        else:
            path = (self.ritual_file.parent / Path(source).expanduser()).resolve()
        stamp = path.stat().st_mtime_ns if path.exists() else 0
        return _cached_deck(path, stamp, load_deck)

    def prompt_of(self, stored: StoredRitual, day: date) -> str:
        """The question the nudges of ``stored`` carry on ``day`` ("" without prompts, or with a
        deck that cannot be read now: the nudge goes out without one)."""
        from scheduler.domain.prompts import DeckError, question_for

        ritual = stored.ritual
        if ritual.prompts is None:
            return ""
        try:
            deck = self.deck(ritual)
        except DeckError:
            return ""
        return question_for(deck, ritual.name, ritual.dimension, self.cadence_on(stored, day), day)

    def prompts(self, name: str | None = None) -> list[tuple[str, date, str]]:
        """Today's question of one ritual, or of every one with prompts: (ritual, day, question)."""
        chosen = [self.get(name)] if name else [s for s in self.store.list_rituals() if s.ritual.prompts]
        found = []
        for stored in chosen:
            if stored.ritual.prompts is None:
                raise UsageError(f"'{stored.name}' asks no questions: add prompts = \"deck\" to it")
            day = self.today(stored.ritual)
            question = self.prompt_of(stored, day)
            if not question:
                self.deck(stored.ritual)  # says why, as a DeckError
            found.append((stored.name, day, question))
        return found

    def _check_people(self, ritual: Ritual) -> None:
        if problem := self._unknown_people(ritual):
            key, _, message = problem.partition(": ")
            raise DefinitionError(key, message)

    def add(self, table: Mapping[str, Any]) -> StoredRitual:
        ritual = ritual_from_table(table, self.file_defaults(), fallback_timezone=self.default_timezone)
        self._check_people(ritual)
        existing = self.store.get_ritual(ritual.name, include_removed=True)
        if existing is not None and existing.removed_at is None:
            if existing.source is RitualSource.FILE:
                raise ConflictError(
                    f"ritual '{ritual.name}' already exists in {self.ritual_file}; change it there"
                )
            raise ConflictError(
                f"ritual '{ritual.name}' already exists; change it with `ritual edit {ritual.name}`"
            )
        with self.store.transaction():
            saved = self.store.save_ritual(
                ritual,
                RitualSource.CLI,
                now=self.clock.now(),
                effective_from=self._effective_from(ritual, existing),
            )
            self._rituals_changed()
        self._changed()
        return saved

    def edit(self, name: str, changes: Mapping[str, Any], unset: Iterable[str] = ()) -> StoredRitual:
        stored = self._owned_by_cli(name, "edit")
        table = ritual_to_table(stored.ritual)
        for key in unset:
            if key not in RITUAL_KEYS:
                import difflib

                close = difflib.get_close_matches(key, RITUAL_KEYS, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                raise UsageError(f"--unset {key}: not a ritual key{hint}")
            if key == "name":
                raise UsageError("--unset name: every ritual has a name")
            table.pop(key, None)
        table.update(changes)
        ritual = ritual_from_table(table, fallback_timezone=self.default_timezone)
        self._check_people(ritual)
        if ritual.name != name:
            raise DefinitionError("name", "a ritual cannot be renamed; add a new one instead")
        if ritual == stored.ritual:
            return stored
        with self.store.transaction():
            saved = self.store.save_ritual(
                ritual, RitualSource.CLI, now=self.clock.now(), effective_from=self.today(ritual)
            )
            self._rituals_changed()
        self._changed()
        return saved

    def remove(self, name: str) -> StoredRitual:
        stored = self._owned_by_cli(name, "remove")
        with self.store.transaction():
            self.store.remove_ritual(name, now=self.clock.now())
            self._rituals_changed()
        self._changed()
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
        again: bool = False,
        where: str = "--by",
        idea: int | None = None,
    ) -> Recorded:
        """Record a completion once per ritual day and person: the one recorded, or the one
        already there (``created`` False). ``again`` records another on purpose (``times > 1``).
        ``by`` is a person of the household, ``household`` (both of you) or "" (nobody said);
        ``where`` names what said it in the error for someone unknown."""
        by, note = _free_text("by", by), _free_text("note", note)
        by = self.household.who(by, where=where)
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
        if idea is not None and (chosen := self._idea_of(name, idea)[1]).state != "open":
            raise ConflictError(f"idea #{idea} of '{name}' is {chosen.state} already")
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
            again=again,
        )
        if idea is not None:
            self.idea_done(stored.name, idea, completion_id=record.id)
        if created:
            self._changed()
        return Recorded(stored.name, record, created)

    def completions(self, name: str | None = None) -> list[CompletionView]:
        """Every completion of one ritual, or of every active one, oldest first per ritual."""
        chosen = [self.get(name)] if name else self.store.list_rituals()
        return [CompletionView(s.name, c) for s in chosen for c in self.store.completions(s.id)]

    def delete_completion(self, completion_id: int) -> CompletionView:
        """Remove one completion by its id; UnknownCompletionError when there is none."""
        record = self.store.delete_completion(completion_id)
        if record is None:
            raise UnknownCompletionError(completion_id)
        self._changed()
        stored = self.store.ritual_by_id(record.ritual_id, include_removed=True)
        return CompletionView(stored.name if stored else None, record)

    def undo(
        self,
        name: str,
        *,
        day: date | None = None,
        by: str | None = None,
        mine: str = "",
        where: str = "--by",
    ) -> CompletionRecord:
        """Remove a completion: that day's (``day``), else the newest; only ``by``'s when given.

        Without ``by``, ``mine`` (the person asking: RITUAL_PERSON, ``me``, a token's person)
        limits it to their own completions and those of both of you; with neither, anyone's.
        When several people did it that day and nothing says whose, nothing is removed and
        the error names them.
        """
        stored = self.get(name)
        who = None if by is None else self.household.who(by, where=where)
        own = (self.household.who(mine), HOUSEHOLD) if who is None and mine else None
        recorded = [
            c
            for c in self.store.completions(stored.id, since=day)
            if (day is None or c.day == day) and (who is None or c.by == who) and (own is None or c.by in own)
        ]
        if not recorded:
            whose = f" by {who or 'nobody in particular'}" if who is not None else ""
            if own is not None:
                whose = f" by {own[0]} or both of you ({where} names someone else)"
            when = f" on {day}" if day is not None else ""
            raise NotFoundError(f"'{name}' has no completion{when}{whose} to undo")
        if day is not None and who is None and len({c.by for c in recorded}) > 1:
            names = ", ".join(sorted({c.by or "nobody in particular" for c in recorded}))
            raise UsageError(f"'{name}' was done on {day} by {names}: say whose with {where}")
        chosen = max(recorded, key=lambda c: (c.created_at, c.id))
        self.store.delete_completion(chosen.id)
        self._changed()
        return chosen

    def skip(
        self, name: str, *, day: date | None = None, reason: str = "", by: str = "", where: str = "--by"
    ) -> tuple[SkipRecord, bool]:
        """Excuse the period holding ``day`` (default today); an already skipped period is left as
        it is (False)."""
        reason = _free_text("reason", reason)
        who = self.household.who(_free_text("by", by), where=where)
        stored = self.get(name)
        day = day or self.today(stored.ritual)
        period = cad.period_of(self.cadence_on(stored, day), day)
        # The check and the write are one transaction: a skip sent twice at once (two taps,
        # a phone and the CLI) is stored once.
        with self.store.transaction():
            for existing in self.store.skips(stored.id):
                if existing.day in period:
                    return existing, False
            record = self.store.add_skip(stored.id, day=day, reason=reason, now=self.clock.now(), by=who)
        self._changed()
        return record, True

    def unskip(self, name: str, *, day: date | None = None) -> SkipRecord:
        """Take back the skip of the period holding ``day`` (default today)."""
        stored = self.get(name)
        day = day or self.today(stored.ritual)
        period = cad.period_of(self.cadence_on(stored, day), day)
        found = [skip for skip in self.store.skips(stored.id) if skip.day in period]
        if not found:
            raise NotFoundError(f"'{name}' is not skipped for the period holding {day}")
        for skip in found:
            self.store.delete_skip(skip.id)
        self._changed()
        return found[0]

    def pause(
        self,
        name: str | None,
        *,
        start: date | None = None,
        until: date | None = None,
        reason: str = "",
        by: str = "",
        where: str = "--by",
    ) -> tuple[PauseRecord, bool]:
        """Pause one ritual, or with ``name`` None the whole household (no nudges, periods excused).

        A pause already covering every one of those days is left as it is (False)."""
        reason = _free_text("reason", reason)
        who = self.household.who(_free_text("by", by), where=where)
        stored = None if name is None else self.get(name)
        start = start or (self.household_today() if stored is None else self.today(stored.ritual))
        if until is not None and until < start:
            raise UsageError(f"--until {until} is before --from {start}")
        ritual_id = None if stored is None else stored.id
        with self.store.transaction():  # checked and written at once, as a skip is
            pauses = self.store.household_pauses() if stored is None else self.store.pauses(stored.id)
            for existing in pauses:
                if (stored is None or existing.ritual_id is not None) and _covers(existing, start, until):
                    return existing, False
            record = self.store.add_pause(
                ritual_id, start=start, until=until, reason=reason, now=self.clock.now(), by=who
            )
        self._changed()
        return record, True

    def resume(self, name: str | None) -> Resumed:
        """End the running pause of a ritual (or with ``name`` None, the household's) and cancel
        the planned ones: it is due again from today on."""
        stored = None if name is None else self.get(name)
        today = self.household_today() if stored is None else self.today(stored.ritual)
        resumed = self.store.end_pauses(
            None if stored is None else stored.id, last_day=today - timedelta(days=1)
        )
        self._changed()
        return resumed

    def household_pauses(self) -> list[PauseRecord]:
        """The pauses of the whole household, running, planned and past."""
        return self.store.household_pauses()

    def current_household_pauses(self) -> list[PauseRecord]:
        """The household's pauses running today or planned ahead."""
        today = self.household_today()
        return [p for p in self.store.household_pauses() if p.until is None or p.until >= today]

    def is_paused(self, stored: StoredRitual) -> bool:
        return is_paused_on(self.store.pauses(stored.id), self.today(stored.ritual))

    def done_by(self, stored: StoredRitual, day: date) -> tuple[str, ...]:
        """Who did the ritual in the period holding ``day``, in the order they did it."""
        versions = self.store.cadence_history(stored.id)
        period = cad.period_of(cadence_in_force(versions, day, stored.ritual.cadence), day)
        recorded = self.store.completions(stored.id, since=period.start)
        return tuple(dict.fromkeys(c.by for c in recorded if c.day in period))

    def cleared_nudges(self, stored: StoredRitual, occurrence: OccurrenceRecord) -> list[int]:
        """The nudges of that ritual and day that went out: what a "done" update replaces."""
        reminding = {OccurrenceKind.DUE, OccurrenceKind.BEFORE, OccurrenceKind.NAG, OccurrenceKind.SNOOZE}
        sent = {OccurrenceStatus.SENT, OccurrenceStatus.LATE}
        return [
            o.id
            for o in self.store.occurrences(ritual_id=stored.id, since=occurrence.due_at - timedelta(days=2))
            if o.day == occurrence.day and o.kind in reminding and o.status in sent
        ]

    def waiting_for(self, stored: StoredRitual, day: date) -> tuple[str, ...]:
        """Who of a ritual kept together (``both``) has not done their part in the period holding
        ``day`` yet; empty for any other ritual."""
        ritual = stored.ritual
        if ritual.complete_when is not CompleteWhen.BOTH or not ritual.people:
            return ()
        versions = self.store.cadence_history(stored.id)
        period = cad.period_of(cadence_in_force(versions, day, ritual.cadence), day)
        marks = [(c.day, c.by) for c in self.store.completions(stored.id, since=period.start)]
        return still_to_do(ritual, versions, marks, day)

    def period_kept(self, stored: StoredRitual, day: date) -> bool:
        """Whether the period holding ``day`` is already kept (then its nudges are not sent)."""
        versions = self.store.cadence_history(stored.id)
        period = cad.period_of(cadence_in_force(versions, day, stored.ritual.cadence), day)
        marks = [(c.day, c.by) for c in self.store.completions(stored.id, since=period.start)]
        return keeps_period(stored.ritual, versions, marks, day)

    def cadence_on(self, stored: StoredRitual, day: date) -> cad.Cadence:
        """The cadence in force on ``day`` (effective-dated versions; the first covers earlier days)."""
        versions = self.store.cadence_history(stored.id)
        return cadence_in_force(versions, day, stored.ritual.cadence)

    # whose turn -------------------------------------------------------------------------
    def _planner_of(self, stored: StoredRitual) -> Callable[[date], str]:
        """Who plans the period holding a day: from the periods so far for this one and the past,
        and for a later one the rotation on from today's planner, one turn per period."""
        from scheduler.domain.turns import following, planners

        ritual = stored.ritual
        ((_, history, today),) = self.histories_of([stored])
        from scheduler.domain.streaks import outcomes

        judged = outcomes(history, today)
        swaps = self.store.turn_swaps(stored.id)
        found = planners(ritual.turns, ritual.turns_on, [(o.period.start, o.status) for o in judged], swaps)
        by_start = {o.period.start: who for o, who in zip(judged, found, strict=True)}
        current = found[-1] if found else ritual.turns[0]
        cadence = ritual.cadence
        this = cad.period_of(cadence, today)

        @cache
        def planner(day: date) -> str:
            period = cad.period_of(cadence, day)
            if period.start in by_start:
                return by_start[period.start]
            if period.start < this.start:
                return ritual.turns[0]
            steps = sum(1 for _ in cad.periods(cadence, this.end, period.start - timedelta(days=1)))
            return swaps.get(period.start) or following(ritual.turns, current, steps)

        return planner

    def planner(self, stored: StoredRitual, day: date) -> str:
        """Whose turn it is to plan the period holding ``day`` ("" for a ritual without turns)."""
        return self._planner_of(stored)(day) if stored.ritual.turns else ""

    def turn(self, name: str) -> TurnView:
        """This period's planner and the next one (`ritual turn NAME`)."""
        from scheduler.domain.turns import following

        stored = self.get(name)
        ritual = stored.ritual
        if not ritual.turns:
            raise UsageError(f'\'{name}\' takes no turns: add turns = ["alex", "sam"] to it')
        today = self.today(ritual)
        period = cad.period_of(ritual.cadence, today)
        planner = self.planner(stored, today)
        swapped = period.start in self.store.turn_swaps(stored.id)
        return TurnView(
            name, ritual.turns, planner, following(ritual.turns, planner), period.start, period.end, swapped
        )

    def swap_turn(self, name: str) -> TurnView:
        """Hand this period's planning to the next person in turns; the rotation goes on from them."""
        view = self.turn(name)
        stored = self.get(name)
        self.store.set_turn_swap(stored.id, view.period_start, view.next, now=self.clock.now())
        self._changed()  # the planner shows in Home Assistant
        return self.turn(name)

    # the idea backlog ---------------------------------------------------------------------
    def add_idea(self, name: str, text: str, *, by: str = "", note: str = "") -> IdeaRecord:
        text, note = _free_text("idea", text).strip(), _free_text("note", note)
        if not text:
            raise UsageError("an idea needs some words")
        who = self.household.who(_free_text("by", by), where="--by")
        stored = self.get(name)
        return self.store.add_idea(stored.id, text=text, note=note, by=who, now=self.clock.now())

    def ideas(self, name: str | None = None, *, everything: bool = False) -> list[tuple[str, IdeaRecord]]:
        """The ideas (ritual name, idea) of one ritual or all: open ones, or ``everything``."""
        chosen = {s.id: s.name for s in ([self.get(name)] if name else self.store.list_rituals())}
        found = self.store.ideas(self.get(name).id if name else None)
        return [
            (chosen[idea.ritual_id], idea)
            for idea in found
            if idea.ritual_id in chosen and (everything or idea.state == "open")
        ]

    def _idea_of(self, name: str, idea_id: int) -> tuple[StoredRitual, IdeaRecord]:
        stored = self.get(name)
        idea = self.store.get_idea(idea_id)
        if idea is None or idea.ritual_id != stored.id:
            raise NotFoundError(f"'{name}' has no idea #{idea_id} (see `ritual idea list {name}`)")
        return stored, idea

    def idea_done(self, name: str, idea_id: int, *, completion_id: int | None = None) -> IdeaRecord:
        """Mark an idea used, with the completion it belonged to (this period's newest, if any)."""
        stored, idea = self._idea_of(name, idea_id)
        if idea.state != "open":
            raise ConflictError(f"idea #{idea_id} of '{name}' is {idea.state} already")
        if completion_id is None:
            recent = self.store.completions(
                stored.id, since=cad.period_of(stored.ritual.cadence, self.today(stored.ritual)).start
            )
            completion_id = recent[-1].id if recent else None
        found = self.store.update_idea(idea_id, used_at=self.clock.now(), completion_id=completion_id)
        assert found is not None
        return found

    def drop_idea(self, name: str, idea_id: int) -> IdeaRecord:
        _, idea = self._idea_of(name, idea_id)
        if idea.state == "dropped":
            return idea
        found = self.store.update_idea(idea_id, dropped_at=self.clock.now())
        assert found is not None
        return found

    def pick_ideas(self, stored: StoredRitual, count: int = 3) -> list[IdeaRecord]:
        """The open ideas a heads-up would suggest now: least recently suggested first (never
        suggested before all), then oldest. Stamping what is suggested means the next pick
        never repeats the same three while there are more than three."""
        open_ideas = [i for i in self.store.ideas(stored.id) if i.state == "open"]
        never = datetime.min.replace(tzinfo=self.clock.now().tzinfo)
        open_ideas.sort(key=lambda i: (i.last_suggested_at or never, i.id))
        return open_ideas[:count]

    def suggest_ideas(self, stored: StoredRitual, occurrence: OccurrenceRecord) -> list[IdeaRecord]:
        """The ideas this nudge suggests: picked and recorded once, the same on every retry."""
        already = self.store.suggestions(stored.id, occurrence_id=occurrence.id)
        if not already:
            picked = self.pick_ideas(stored)
            if not picked:
                return []
            self.store.record_suggestions(
                stored.id, occurrence.id, occurrence.day, [i.id for i in picked], now=self.clock.now()
            )
            already = self.store.suggestions(stored.id, occurrence_id=occurrence.id)
        ideas = {i.id: i for i in self.store.ideas(stored.id)}
        return [ideas[idea_id] for _, _, idea_id in already if idea_id in ideas]

    def suggested_ideas(self, stored: StoredRitual, day: date) -> list[IdeaRecord]:
        """The open ideas suggested for the period holding ``day``: what a Done page asks about."""
        period = cad.period_of(self.cadence_on(stored, day), day)
        ideas = {i.id: i for i in self.store.ideas(stored.id) if i.state == "open"}
        wanted = [idea_id for _, on, idea_id in self.store.suggestions(stored.id) if on in period]
        return [ideas[idea_id] for idea_id in dict.fromkeys(wanted) if idea_id in ideas]


_NOON = time(12, 0)
_log = logging.getLogger(__name__)


@cache
def _catalogue() -> tuple[Ritual, ...]:
    """The example catalogue `ritual init` writes: what the digest suggests from."""
    from importlib.resources import files

    path = Path(str(files("scheduler") / "examples" / "rituals.example.toml"))
    try:
        return load_ritual_file(path).rituals
    except RitualError:
        return ()


@cache
def _cached_deck(path: Path, stamp: int, load: Callable[[Path], Deck]) -> Deck:
    """A deck file read once per change (``stamp`` is its modification time)."""
    return load(path)


def nudge_state(
    occurrence: OccurrenceRecord, waiting: Iterable[DeliveryRecord], zone: tzinfo
) -> tuple[str, str]:
    """How `ritual status` shows a nudge: its state and note, from it and its open deliveries.

    A nudge with a delivery waiting for its next try is ``retrying`` (even one recorded failed
    that `ritual retry` brought back); one still going out for the first time is ``sending``;
    otherwise it is what the daemon decided, with the daemon's note.
    """
    waiting = list(waiting)
    retrying = sorted((d for d in waiting if d.status is DeliveryStatus.RETRY), key=lambda d: d.id)
    if retrying:
        tries = ", ".join(
            f"#{d.id} at {d.next_attempt_at.astimezone(zone):%H:%M}" if d.next_attempt_at else f"#{d.id}"
            for d in retrying
        )
        return "retrying", f"next try {tries}"
    if occurrence.status is OccurrenceStatus.PENDING and occurrence.kind is OccurrenceKind.SNOOZE:
        return "snoozed", f"due {occurrence.due_at.astimezone(zone):%H:%M}"
    if occurrence.status is OccurrenceStatus.PENDING:
        return "sending", ""
    return occurrence.status.value, occurrence.note


def _not_retryable(delivery: DeliveryRecord) -> str:
    """Why `ritual retry` leaves this delivery alone ("" when it may be retried)."""
    match delivery.status:
        case DeliveryStatus.FAILED | DeliveryStatus.GIVEN_UP | DeliveryStatus.RETRY:
            return ""
        case DeliveryStatus.SENT:
            return "was delivered"
        case DeliveryStatus.CANCELLED:
            reason = f" ({delivery.last_error})" if delivery.last_error else ""
            return f"was cancelled{reason}"
        case DeliveryStatus.PENDING | DeliveryStatus.SENDING:
            return "is being sent (or waits for its snooze to end)"
        case _:
            assert_never(delivery.status)


def _covers(pause: PauseRecord, start: date, until: date | None) -> bool:
    """Whether ``pause`` already holds every day from ``start`` to ``until`` (None: open-ended)."""
    if pause.start > start:
        return False
    if pause.until is None:
        return True
    return until is not None and pause.until >= until


def _free_text(key: str, text: str) -> str:
    """A note, a reason or a person as given, or a one-line UsageError naming the field."""
    try:
        return check_text(text)
    except ValueError as exc:
        raise UsageError(f"{key}: {exc}") from None
