"""Store: open (migrating first), then read and write rituals, what people did, and nudges."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from itertools import groupby, islice
from operator import itemgetter
from typing import Any, TypeVar, overload

from sqlalchemy import ColumnElement, Engine, and_, func, insert, or_, update
from sqlalchemy import select as select_columns
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, select

from scheduler.adapters.store import migrate
from scheduler.adapters.store.engine import (
    WRITE_OPTION,
    make_engine,
    one_line,
    parse_url,
    prepare_sqlite_file,
    sqlite_path,
    where,
)
from scheduler.adapters.store.tables import (
    ApiTokenRow,
    CadenceVersionRow,
    CompletionRow,
    DeliveryRow,
    IdeaRow,
    IdeaSuggestionRow,
    MetaRow,
    OccurrenceRow,
    PauseRow,
    RitualRow,
    SkipRow,
    TurnSwapRow,
)
from scheduler.app.stored import (
    ApiTokenRecord,
    CompletionRecord,
    DeliveryOutcome,
    DeliveryRecord,
    DeliveryStatus,
    IdeaRecord,
    LeaderInfo,
    OccurrenceClaim,
    OccurrenceKey,
    OccurrenceKind,
    OccurrenceRecord,
    OccurrenceStatus,
    PauseRecord,
    Resumed,
    RitualSource,
    SkipRecord,
    StoredRitual,
)
from scheduler.domain.cadence import CadenceVersion
from scheduler.domain.definitions import (
    Ritual,
    RitualTable,
    cadence_from_table,
    cadence_to_table,
    ritual_from_table,
    ritual_to_table,
)
from scheduler.domain.errors import ConflictError, StoreError, UnknownRitualError

_Enum = TypeVar("_Enum", bound=StrEnum)
_PerRitual = TypeVar("_PerRitual", SkipRow, PauseRow, CadenceVersionRow)
_Record = TypeVar("_Record")
# One row's column values, for an INSERT ... RETURNING or a row constructor.
_Columns = dict[str, Any]

# A receiver's error can be a whole HTML page; the outbox keeps the start of it.
MAX_ERROR_LENGTH = 500

# Meta keys of the leader election (scheduler.adapters.store.leader): the epoch fences claims.
LEADER_EPOCH_KEY = "leader.epoch"
LEADER_HOLDER_KEY = "leader.holder"
LEADER_SINCE_KEY = "leader.since"


class SqlStore:
    def __init__(self, engine: Engine, url: URL) -> None:
        """Use ``SqlStore.open``; this only wires an engine whose schema is already current."""
        self._engine = engine
        self._url = url
        self._local = threading.local()  # the session of this thread's transaction(), if any

    @classmethod
    def open(cls, url: str, *, link_key: Callable[[], bytes] | None = None) -> SqlStore:
        """Connect, create the SQLite file (0600, WAL, busy timeout) if needed, migrate to head.

        ``link_key`` gives the link-signing key to a migration that re-keys stored ids with it
        (asked only when one runs and has rows to re-key); without it such a migration stops
        with a StoreError and changes nothing. Raises SchemaTooNewError when the database
        carries a revision this code does not know.
        """
        parsed = parse_url(url)
        path = sqlite_path(parsed)
        if path is not None:
            prepare_sqlite_file(path)
        engine = make_engine(parsed)
        try:
            migrate.ensure_current(engine, parsed, link_key=link_key)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, parsed)

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several writes into one transaction (nested calls join the outer one)."""
        if self._active_session() is not None:
            yield
            return
        with self._new_session(write=True) as session:
            self._local.session = session
            try:
                yield
                session.commit()
            finally:
                self._local.session = None

    # sessions ------------------------------------------------------------
    def _active_session(self) -> Session | None:
        session: Session | None = getattr(self._local, "session", None)
        return session

    @contextmanager
    def _new_session(self, *, write: bool) -> Iterator[Session]:
        try:
            with Session(self._engine, expire_on_commit=False) as session:
                if write:
                    session.connection(execution_options={WRITE_OPTION: True})
                yield session
        except DBAPIError as exc:
            raise StoreError(f"database '{where(self._url)}': {one_line(exc, self._url)}") from None

    @contextmanager
    def _session(self, *, write: bool = False) -> Iterator[Session]:
        """The session of the surrounding transaction(), or a short one of its own."""
        active = self._active_session()
        if active is not None:
            yield active
            return
        with self._new_session(write=write) as session:
            yield session
            if write:
                session.commit()

    # rituals -------------------------------------------------------------
    def get_ritual(self, name: str, *, include_removed: bool = False) -> StoredRitual | None:
        with self._session() as session:
            row = _ritual_row(session, name)
            if row is None or (row.removed_at is not None and not include_removed):
                return None
            return _stored_ritual(row)

    def ritual_by_id(self, ritual_id: int, *, include_removed: bool = False) -> StoredRitual | None:
        """The ritual an occurrence names (one row read, not the whole list)."""
        with self._session() as session:
            row = session.get(RitualRow, ritual_id)
            if row is None or (row.removed_at is not None and not include_removed):
                return None
            return _stored_ritual(row)

    def rituals_named(self, names: Collection[str]) -> dict[str, StoredRitual]:
        """The current (not removed) rituals among ``names``, by name, in one read."""
        found: dict[str, StoredRitual] = {}
        with self._session() as session:
            wanted = list(dict.fromkeys(names))
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                current = col(RitualRow.removed_at).is_(None)
                query = select(RitualRow).where(col(RitualRow.name).in_(chunk), current)
                found.update((row.name, _stored_ritual(row)) for row in session.exec(query))
        return found

    def rituals_by_id(
        self, ritual_ids: Collection[int], *, include_removed: bool = False
    ) -> dict[int, StoredRitual]:
        """``ritual_by_id`` of many rituals in one read, by id; an unknown (or, unless asked
        for, removed) one is absent."""
        found: dict[int, StoredRitual] = {}
        with self._session() as session:
            for chunk in _chunks(ritual_ids):
                query = select(RitualRow).where(col(RitualRow.id).in_(chunk))
                if not include_removed:
                    query = query.where(col(RitualRow.removed_at).is_(None))
                for row in session.exec(query):
                    stored = _stored_ritual(row)
                    found[stored.id] = stored
        return found

    def list_rituals(self, *, include_removed: bool = False) -> list[StoredRitual]:
        with self._session() as session:
            query = select(RitualRow).order_by(col(RitualRow.name))
            if not include_removed:
                query = query.where(col(RitualRow.removed_at).is_(None))
            return [_stored_ritual(row) for row in session.exec(query)]

    def count_rituals(self) -> int:
        with self._session() as session:
            query = select(func.count()).select_from(RitualRow).where(col(RitualRow.removed_at).is_(None))
            return int(session.exec(query).one())

    def save_ritual(
        self, ritual: Ritual, source: RitualSource, *, now: datetime, effective_from: date
    ) -> StoredRitual:
        """Insert or update by name (reviving a removed one); a changed cadence appends a version."""
        _aware(now=now)
        definition = _dumps(ritual_to_table(ritual))
        with self._session(write=True) as session:
            row = _ritual_row(session, ritual.name)
            if row is None:
                row = RitualRow(
                    name=ritual.name,
                    title=ritual.title,
                    dimension=str(ritual.dimension),
                    source=str(source),
                    definition=definition,
                    created_at=now,
                    updated_at=now,
                )
            else:
                row.title = ritual.title
                row.dimension = str(ritual.dimension)
                row.source = str(source)
                row.definition = definition
                row.updated_at = now
                row.removed_at = None
            session.add(row)
            session.flush()
            _record_cadence(session, _row_id(row), ritual, effective_from, now)
            return _stored_ritual(row)

    def remove_ritual(self, name: str, *, now: datetime) -> None:
        """Retire the ritual; its completions, skips and pauses are kept."""
        _aware(now=now)
        with self._session(write=True) as session:
            row = _ritual_row(session, name)
            if row is None or row.removed_at is not None:
                raise UnknownRitualError(name)
            row.removed_at = now
            row.updated_at = now
            session.add(row)

    def cadence_history(self, ritual_id: int) -> list[CadenceVersion]:
        """All cadence versions, oldest first."""
        return self.cadence_histories([ritual_id]).get(ritual_id, [])

    def cadence_histories(self, ritual_ids: Collection[int]) -> dict[int, list[CadenceVersion]]:
        """``cadence_history`` of many rituals in one read; a ritual without versions is absent."""
        return self._by_ritual(
            CadenceVersionRow,
            ritual_ids,
            _cadence_version,
            col(CadenceVersionRow.effective_from),
            col(CadenceVersionRow.id),
        )

    def _by_ritual(
        self,
        table: type[_PerRitual],
        ritual_ids: Collection[int],
        record: Callable[[_PerRitual], _Record],
        *order: Mapped[Any],
    ) -> dict[int, list[_Record]]:
        """The rows of ``table`` belonging to these rituals, as records, grouped by ritual id."""
        found: dict[int, list[_Record]] = {}
        with self._session() as session:
            for chunk in _chunks(ritual_ids):
                query = select(table).where(col(table.ritual_id).in_(chunk)).order_by(*order)
                for row in session.exec(query):
                    assert row.ritual_id is not None  # asked for by ritual id
                    found.setdefault(row.ritual_id, []).append(record(row))
        return found

    # what people did -----------------------------------------------------
    def add_completion(
        self,
        ritual_id: int,
        *,
        day: date,
        at: datetime,
        period_key: str,
        by: str,
        note: str,
        source: str,
        occurrence: str | None,
        now: datetime,
        again: bool = False,
    ) -> tuple[CompletionRecord, bool]:
        """Record a completion once per (ritual, day, person): a repeat returns the one already
        there and False. With ``again``, a further one on purpose (numbered after the others).
        A repeat tap on one nudge's link by one person is the same completion too."""
        _aware(at=at, now=now)
        with self._session(write=True) as session:
            _require_ritual(session, ritual_id)
            if occurrence is not None:
                existing = _find_completion(session, ritual_id, occurrence, by)
                if existing is not None:
                    return _completion(existing), False
            for _ in range(3):  # a racing writer may take the number; each try re-reads
                number = _next_again(session, ritual_id, day, by) if again else 0
                if not again and (existing := _same_day(session, ritual_id, day, by)) is not None:
                    return _completion(existing), False
                row = CompletionRow(
                    ritual_id=ritual_id,
                    day=day,
                    at=at,
                    period_key=period_key,
                    by_person=by,
                    note=note,
                    source=source,
                    occurrence=occurrence,
                    created_at=now,
                    again=number,
                )
                try:
                    # A savepoint, so losing the race leaves the surrounding transaction usable.
                    with session.begin_nested():
                        session.add(row)
                except IntegrityError:
                    if occurrence is not None and (
                        found := _find_completion(session, ritual_id, occurrence, by)
                    ):
                        return _completion(found), False
                    continue
                return _completion(row), True
            raise StoreError(f"completion of ritual {ritual_id} on {day}: kept colliding with another writer")

    def delete_completion(self, completion_id: int) -> CompletionRecord | None:
        with self._session(write=True) as session:
            row = session.get(CompletionRow, completion_id)
            if row is None:
                return None
            record = _completion(row)
            session.delete(row)
            return record

    def completions(self, ritual_id: int, *, since: date | None = None) -> list[CompletionRecord]:
        """Oldest first (by day, then at, then id)."""
        with self._session() as session:
            query = (
                select(CompletionRow)
                .where(CompletionRow.ritual_id == ritual_id)
                .order_by(col(CompletionRow.day), col(CompletionRow.at), col(CompletionRow.id))
            )
            if since is not None:
                query = query.where(col(CompletionRow.day) >= since)
            return [_completion(row) for row in session.exec(query)]

    def completion_marks(self, ritual_id: int) -> list[tuple[date, str]]:
        """(day, by) of every completion, oldest first: all the streak maths needs, read lean.

        Reports over years of history read hundreds of thousands of rows; two columns
        without ORM objects keep that close to the cost of the read itself.
        """
        return self.completion_marks_of([ritual_id]).get(ritual_id, [])

    def completion_marks_of(
        self, ritual_ids: Collection[int], *, since: date | None = None
    ) -> dict[int, list[tuple[date, str]]]:
        """``completion_marks`` of many rituals in one read (those on or after ``since``, if
        given); a ritual without any is absent."""
        # Years of history are hundreds of thousands of rows: read them through the
        # driver's own cursor (SQLAlchemy's result layer costs three times the read),
        # and parse SQLite's ISO date text with date.fromisoformat.
        mark = "?" if self._engine.dialect.paramstyle == "qmark" else "%s"
        # SQLite keeps a day as ISO text; PostgreSQL compares a date with a date.
        bound_since: object = since.isoformat() if since is not None and mark == "?" else since
        found: dict[int, list[tuple[date, str]]] = {}
        with self._session() as session:
            cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                for chunk in _chunks(ritual_ids):
                    marks = ", ".join([mark] * len(chunk))
                    after = "" if since is None else f" and day >= {mark}"
                    sql = (
                        "select ritual_id, day, by_person from completion"
                        f" where ritual_id in ({marks}){after} and again is not null"
                        " order by ritual_id, day"
                    )
                    cursor.execute(sql, (*chunk, *([] if since is None else [bound_since])))
                    rows = cursor.fetchall()
                    if len(chunk) == 1:  # the common report: no grouping to do
                        if rows:
                            found[chunk[0]] = _marks(rows)
                        continue
                    for ritual_id, group in groupby(rows, key=itemgetter(0)):
                        found[ritual_id] = _marks(list(group))
            finally:
                cursor.close()
        return found

    def last_completion(self, ritual_id: int) -> CompletionRecord | None:
        """The most recently recorded (highest id), for `ritual undo`."""
        with self._session() as session:
            query = (
                select(CompletionRow)
                .where(CompletionRow.ritual_id == ritual_id)
                .order_by(col(CompletionRow.id).desc())
                .limit(1)
            )
            row = session.exec(query).first()
            return None if row is None else _completion(row)

    def add_skip(self, ritual_id: int, *, day: date, reason: str, now: datetime, by: str = "") -> SkipRecord:
        _aware(now=now)
        with self._session(write=True) as session:
            _require_ritual(session, ritual_id)
            row = SkipRow(ritual_id=ritual_id, day=day, reason=reason, created_at=now, by_person=by)
            session.add(row)
            session.flush()
            return _skip(row)

    def delete_skip(self, skip_id: int) -> SkipRecord | None:
        with self._session(write=True) as session:
            row = session.get(SkipRow, skip_id)
            if row is None:
                return None
            record = _skip(row)
            session.delete(row)
            return record

    def skips(self, ritual_id: int) -> list[SkipRecord]:
        return self.skips_of([ritual_id]).get(ritual_id, [])

    def skips_of(self, ritual_ids: Collection[int]) -> dict[int, list[SkipRecord]]:
        """``skips`` of many rituals in one read; a ritual without any is absent."""
        return self._by_ritual(SkipRow, ritual_ids, _skip, col(SkipRow.day), col(SkipRow.id))

    def add_pause(
        self,
        ritual_id: int | None,
        *,
        start: date,
        until: date | None,
        reason: str,
        now: datetime,
        by: str = "",
    ) -> PauseRecord:
        """Pause one ritual, or the whole household (``ritual_id`` None)."""
        _aware(now=now)
        if until is not None and until < start:
            raise ValueError(f"pause ends '{until}' before it starts '{start}'")
        with self._session(write=True) as session:
            if ritual_id is not None:
                _require_ritual(session, ritual_id)
            row = PauseRow(
                ritual_id=ritual_id, start=start, until=until, reason=reason, created_at=now, by_person=by
            )
            session.add(row)
            session.flush()
            return _pause(row)

    def end_pauses(self, ritual_id: int | None, *, last_day: date) -> Resumed:
        """End the pauses of one ritual (or the household's, ``ritual_id`` None) after ``last_day``.

        A pause running on ``last_day`` now ends that day; one starting the day after (today,
        when resuming) is dropped and counts as ended; one planned later is cancelled (deleted).
        """
        ended = cancelled = 0
        with self._session(write=True) as session:
            query = select(PauseRow).where(
                _of_ritual_column(PauseRow.ritual_id, ritual_id),
                col(PauseRow.until).is_(None) | (col(PauseRow.until) > last_day),
            )
            today = last_day + timedelta(days=1)
            for row in session.exec(query):
                if row.start > last_day:  # it would cover no day now
                    session.delete(row)
                else:
                    row.until = last_day
                    session.add(row)
                if row.start > today:
                    cancelled += 1
                else:  # running, or begun today
                    ended += 1
        return Resumed(ended, cancelled)

    def pauses(self, ritual_id: int) -> list[PauseRecord]:
        return self.pauses_of([ritual_id]).get(ritual_id, [])

    def pauses_of(self, ritual_ids: Collection[int]) -> dict[int, list[PauseRecord]]:
        """``pauses`` of many rituals in one read, each with the household's pauses too (which
        stop every ritual); a ritual with none is absent."""
        found = self._by_ritual(PauseRow, ritual_ids, _pause, col(PauseRow.start), col(PauseRow.id))
        household = self.household_pauses()
        if household:
            for ritual_id in ritual_ids:
                found[ritual_id] = sorted(
                    [*found.get(ritual_id, []), *household], key=lambda p: (p.start, p.id)
                )
        return found

    def household_pauses(self) -> list[PauseRecord]:
        """The pauses of the whole household, oldest first."""
        with self._session() as session:
            query = (
                select(PauseRow)
                .where(col(PauseRow.ritual_id).is_(None))
                .order_by(col(PauseRow.start), col(PauseRow.id))
            )
            return [_pause(row) for row in session.exec(query)]

    # whose turn: the swapped periods --------------------------------------
    def turn_swaps(self, ritual_id: int) -> dict[date, str]:
        """The periods (by start) whose planner was swapped, and who plans them."""
        with self._session() as session:
            query = select(TurnSwapRow).where(TurnSwapRow.ritual_id == ritual_id)
            return {row.period_start: row.person for row in session.exec(query)}

    def set_turn_swap(self, ritual_id: int, period_start: date, person: str, *, now: datetime) -> None:
        """Name the planner of the period starting ``period_start`` (one row per period)."""
        _aware(now=now)
        with self._session(write=True) as session:
            _require_ritual(session, ritual_id)
            query = select(TurnSwapRow).where(
                TurnSwapRow.ritual_id == ritual_id, TurnSwapRow.period_start == period_start
            )
            row = session.exec(query).first() or TurnSwapRow(
                ritual_id=ritual_id, period_start=period_start, person=person, created_at=now
            )
            row.person, row.created_at = person, now
            session.add(row)

    # the idea backlog ------------------------------------------------------
    def add_idea(self, ritual_id: int, *, text: str, note: str, by: str, now: datetime) -> IdeaRecord:
        _aware(now=now)
        with self._session(write=True) as session:
            _require_ritual(session, ritual_id)
            row = IdeaRow(ritual_id=ritual_id, text=text, note=note, by_person=by, created_at=now)
            session.add(row)
            session.flush()
            return _idea(row)

    def ideas(self, ritual_id: int | None = None) -> list[IdeaRecord]:
        """Every idea (of one ritual, or all), oldest first."""
        with self._session() as session:
            query = select(IdeaRow).order_by(col(IdeaRow.ritual_id), col(IdeaRow.id))
            if ritual_id is not None:
                query = query.where(IdeaRow.ritual_id == ritual_id)
            return [_idea(row) for row in session.exec(query)]

    def get_idea(self, idea_id: int) -> IdeaRecord | None:
        with self._session() as session:
            row = session.get(IdeaRow, idea_id)
            return None if row is None else _idea(row)

    def update_idea(
        self,
        idea_id: int,
        *,
        used_at: datetime | None = None,
        completion_id: int | None = None,
        dropped_at: datetime | None = None,
    ) -> IdeaRecord | None:
        """Mark an idea used (with the completion it belonged to) or dropped."""
        with self._session(write=True) as session:
            row = session.get(IdeaRow, idea_id)
            if row is None:
                return None
            if used_at is not None:
                row.used_at, row.completion_id = used_at, completion_id
            if dropped_at is not None:
                row.dropped_at = dropped_at
            session.add(row)
            session.flush()
            return _idea(row)

    def record_suggestions(
        self, ritual_id: int, occurrence_id: int, day: date, idea_ids: Sequence[int], *, now: datetime
    ) -> None:
        """Which ideas a nudge suggested; each is stamped as suggested ``now``. Once per nudge."""
        _aware(now=now)
        with self._session(write=True) as session:
            taken = select(IdeaSuggestionRow).where(IdeaSuggestionRow.occurrence_id == occurrence_id)
            if session.exec(taken).first() is not None:
                return
            for idea_id in idea_ids:
                session.add(
                    IdeaSuggestionRow(
                        ritual_id=ritual_id, occurrence_id=occurrence_id, idea_id=idea_id, day=day
                    )
                )
                row = session.get(IdeaRow, idea_id)
                if row is not None:
                    row.last_suggested_at = now
                    session.add(row)

    def suggestions(self, ritual_id: int, *, occurrence_id: int | None = None) -> list[tuple[int, date, int]]:
        """(occurrence id, day, idea id) of what nudges of this ritual suggested, oldest first."""
        with self._session() as session:
            query = (
                select(IdeaSuggestionRow)
                .where(IdeaSuggestionRow.ritual_id == ritual_id)
                .order_by(col(IdeaSuggestionRow.id))
            )
            if occurrence_id is not None:
                query = query.where(IdeaSuggestionRow.occurrence_id == occurrence_id)
            return [(row.occurrence_id, row.day, row.idea_id) for row in session.exec(query)]

    # occurrences: the exactly-once guard ----------------------------------
    @overload
    def claim_occurrence(
        self,
        ritual_id: int | None,
        *,
        day: date,
        slot: str,
        kind: OccurrenceKind,
        due_at: datetime,
        status: OccurrenceStatus,
        now: datetime,
        note: str = "",
        epoch: None = None,
    ) -> tuple[OccurrenceRecord, bool]: ...

    @overload
    def claim_occurrence(
        self,
        ritual_id: int | None,
        *,
        day: date,
        slot: str,
        kind: OccurrenceKind,
        due_at: datetime,
        status: OccurrenceStatus,
        now: datetime,
        note: str = "",
        epoch: int | None,
    ) -> tuple[OccurrenceRecord | None, bool]: ...

    def claim_occurrence(
        self,
        ritual_id: int | None,
        *,
        day: date,
        slot: str,
        kind: OccurrenceKind,
        due_at: datetime,
        status: OccurrenceStatus,
        now: datetime,
        note: str = "",
        epoch: int | None = None,
    ) -> tuple[OccurrenceRecord | None, bool]:
        """Record the nudge (ritual_id, day, slot) before anything is sent; True for exactly one
        caller however many processes race, the others get the winner's row and False.

        ``ritual_id`` None keys a household-wide nudge (digest, test) by (day, slot) alone.
        A status other than
        pending counts as decided at ``now``.

        With ``epoch`` (the caller's leader epoch) the claim is fenced: it happens only while
        the stored leader epoch still equals it, checked in the same transaction; a deposed
        leader gets False and the row already there, or None when there is none.
        """
        claim = OccurrenceClaim(ritual_id, day, slot, kind, due_at, status, note)
        return self.claim_occurrences([claim], now=now, epoch=epoch)[0]

    def claim_occurrences(
        self, claims: Sequence[OccurrenceClaim], *, now: datetime, epoch: int | None = None
    ) -> list[tuple[OccurrenceRecord | None, bool]]:
        """``claim_occurrence`` for many nudges in one transaction, in the order given.

        The keys already taken are read in one query and the rest inserted together, so a
        batch of rituals due at one instant costs a few statements, not a few per nudge. The
        same key twice in one batch is claimed once (the second gets False).
        """
        _aware(now=now)
        rows: list[_Columns] = []
        for claim in claims:
            _aware(due_at=claim.due_at)
            status = _member(OccurrenceStatus, claim.status, "occurrence status")
            rows.append(
                {
                    "ritual_id": claim.ritual_id,
                    "day": claim.day,
                    "slot": claim.slot,
                    "kind": str(_member(OccurrenceKind, claim.kind, "occurrence kind")),
                    "due_at": claim.due_at,
                    "status": str(status),
                    "created_at": now,
                    "decided_at": None if status is OccurrenceStatus.PENDING else now,
                    "note": claim.note,
                    "epoch": epoch or 0,
                }
            )
        if not rows:
            return []
        keys = [(row["ritual_id"], row["day"], row["slot"]) for row in rows]
        with self._session(write=True) as session:
            wanted = {ritual_id for ritual_id, _, _ in keys if ritual_id is not None}
            if unknown := wanted - _existing_ritual_ids(session, wanted):
                raise StoreError(f"no ritual with id '{min(unknown)}' in the store")
            taken: dict[OccurrenceKey, OccurrenceRow | int] = dict(_occurrences_by_key(session, keys))
            fenced = epoch is not None and _leader_epoch(session, lock=_SHARE) != epoch
            plan: list[tuple[OccurrenceRow | int | None, bool]] = []  # a stored row, or a new one's index
            new: list[_Columns] = []
            for key, row in zip(keys, rows, strict=True):
                if (existing := taken.get(key)) is not None:
                    plan.append((existing, False))
                elif fenced:
                    plan.append((None, False))
                else:
                    taken[key] = len(new)
                    plan.append((len(new), True))
                    new.append(row)
            try:
                # A savepoint, so losing a race leaves the surrounding transaction usable. One
                # multi-row INSERT ... RETURNING, rows back in the order of ``new``.
                with session.begin_nested():
                    statement = insert(OccurrenceRow).returning(OccurrenceRow, sort_by_parameter_order=True)
                    inserted = list(session.scalars(statement, new)) if new else []
            except IntegrityError:
                # Another writer took one of the keys after the read (a PostgreSQL writer
                # outside this store's lock): claim one at a time, each key on its own.
                return [_claim_one(session, row) for row in rows]
            rows_of = [inserted[found] if isinstance(found, int) else found for found, _ in plan]
            return [
                (None if row is None else _occurrence(row), made)
                for row, (_, made) in zip(rows_of, plan, strict=True)
            ]

    def decide_occurrence(
        self,
        occurrence_id: int,
        status: OccurrenceStatus,
        *,
        now: datetime,
        note: str | None = None,
        expect: OccurrenceStatus | None = None,
    ) -> bool:
        """Set the outcome; with ``expect``, only if the status is still that (compare-and-set).

        Returns whether a row changed: False for an unknown id or when someone decided first.
        ``note`` None keeps the note; back to pending clears decided_at.
        """
        return bool(self.decide_occurrences([occurrence_id], status, now=now, note=note, expect=expect))

    def get_occurrence(self, occurrence_id: int) -> OccurrenceRecord | None:
        with self._session() as session:
            row = session.get(OccurrenceRow, occurrence_id)
            return None if row is None else _occurrence(row)

    def occurrences_by_id(self, occurrence_ids: Collection[int]) -> dict[int, OccurrenceRecord]:
        """``get_occurrence`` of many in one read, by id; an unknown id is absent."""
        found: dict[int, OccurrenceRecord] = {}
        with self._session() as session:
            for chunk in _chunks(occurrence_ids):
                query = select_columns(*_OCCURRENCE_COLUMNS).where(col(OccurrenceRow.id).in_(chunk))
                for values in session.execute(query):
                    occurrence = _occurrence_of(values)
                    found[occurrence.id] = occurrence
        return found

    def occurrences_of(
        self, ritual_ids: Collection[int], *, since: datetime
    ) -> dict[int, list[OccurrenceRecord]]:
        """``occurrences(ritual_id=..., since=since)`` of many rituals in one read, grouped by
        ritual, each newest first (by due_at, then id); a ritual with none is absent."""
        _aware(since=since)
        found: dict[int, list[OccurrenceRecord]] = {}
        with self._session() as session:
            for chunk in _chunks(ritual_ids):
                query = select_columns(*_OCCURRENCE_COLUMNS).where(
                    col(OccurrenceRow.ritual_id).in_(chunk), col(OccurrenceRow.due_at) >= since
                )
                for values in session.execute(query):
                    occurrence = _occurrence_of(values)
                    assert occurrence.ritual_id is not None  # asked for by ritual id
                    found.setdefault(occurrence.ritual_id, []).append(occurrence)
        for recent in found.values():
            recent.sort(key=lambda o: (o.due_at, o.id), reverse=True)
        return found

    def last_occurrence(self, ritual_id: int | None) -> OccurrenceRecord | None:
        """The one due last (ties: the later claimed): where catching up after downtime starts.

        ``ritual_id`` None means the household-wide nudges. Snoozed re-nudges are not planned,
        so they never count: one due in half an hour must not hide what is due before it.
        """
        with self._session() as session:
            query = (
                select(OccurrenceRow)
                .where(_of_ritual(ritual_id), col(OccurrenceRow.kind) != str(OccurrenceKind.SNOOZE))
                .order_by(col(OccurrenceRow.due_at).desc(), col(OccurrenceRow.id).desc())
                .limit(1)
            )
            row = session.exec(query).first()
            return None if row is None else _occurrence(row)

    def occurrences(
        self,
        *,
        ritual_id: int | None = None,
        since: datetime | None = None,
        statuses: Collection[OccurrenceStatus] | None = None,
        limit: int | None = None,
    ) -> list[OccurrenceRecord]:
        """Newest first (by due_at, then id); ``ritual_id`` None means every ritual and the
        household; ``since`` keeps those due at or after it."""
        query = select(OccurrenceRow).order_by(col(OccurrenceRow.due_at).desc(), col(OccurrenceRow.id).desc())
        if ritual_id is not None:
            query = query.where(OccurrenceRow.ritual_id == ritual_id)
        if since is not None:
            _aware(since=since)
            query = query.where(col(OccurrenceRow.due_at) >= since)
        if statuses is not None:
            wanted = [str(_member(OccurrenceStatus, s, "occurrence status")) for s in statuses]
            query = query.where(col(OccurrenceRow.status).in_(wanted))
        if limit is not None:
            query = query.limit(limit)
        with self._session() as session:
            return [_occurrence(row) for row in session.exec(query)]

    def last_due_times(self, ritual_ids: Collection[int]) -> dict[int, datetime]:
        """Each ritual's ``last_occurrence`` due time, in one query; a ritual with none is absent."""
        found: dict[int, datetime] = {}
        with self._session() as session:
            for chunk in _chunks(ritual_ids):
                query = (
                    select(OccurrenceRow.ritual_id, func.max(OccurrenceRow.due_at))
                    .where(
                        col(OccurrenceRow.ritual_id).in_(chunk),
                        col(OccurrenceRow.kind) != str(OccurrenceKind.SNOOZE),
                    )
                    .group_by(col(OccurrenceRow.ritual_id))
                )
                for ritual_id, due_at in session.exec(query):
                    if ritual_id is not None and due_at is not None:
                        found[ritual_id] = _utc(due_at)
        return found

    def occurrence_keys(self, ritual_ids: Collection[int], *, since: datetime) -> set[OccurrenceKey]:
        """The (ritual_id, day, slot) keys of the rituals' occurrences due at or after ``since``."""
        _aware(since=since)
        found: set[OccurrenceKey] = set()
        with self._session() as session:
            for chunk in _chunks(ritual_ids):
                query = select(
                    col(OccurrenceRow.ritual_id), col(OccurrenceRow.day), col(OccurrenceRow.slot)
                ).where(col(OccurrenceRow.ritual_id).in_(chunk), col(OccurrenceRow.due_at) >= since)
                found.update((ritual_id, day, slot) for ritual_id, day, slot in session.exec(query))
        return found

    def decide_occurrences(
        self,
        occurrence_ids: Collection[int],
        status: OccurrenceStatus,
        *,
        now: datetime,
        note: str | None = None,
        expect: OccurrenceStatus | None = None,
    ) -> set[int]:
        """``decide_occurrence`` for many in one transaction; the ids whose row changed."""
        _aware(now=now)
        status = _member(OccurrenceStatus, status, "occurrence status")
        values: _Columns = {
            "status": str(status),
            "decided_at": None if status is OccurrenceStatus.PENDING else now,
        }
        if note is not None:
            values["note"] = note
        changed: set[int] = set()
        with self._session(write=True) as session:
            for chunk in _chunks(occurrence_ids):
                statement = update(OccurrenceRow).where(col(OccurrenceRow.id).in_(chunk))
                if expect is not None:
                    expected = _member(OccurrenceStatus, expect, "occurrence status")
                    statement = statement.where(col(OccurrenceRow.status) == str(expected))
                statement = statement.values(values).returning(col(OccurrenceRow.id))
                changed.update(session.scalars(statement.execution_options(synchronize_session=False)))
        return changed

    # deliveries: the outbox ----------------------------------------------
    def add_deliveries(
        self,
        occurrence_id: int,
        channels: Sequence[tuple[str, str]],
        *,
        now: datetime,
        not_before: datetime | None = None,
    ) -> list[DeliveryRecord]:
        """Write one pending row per (channel, target) before sending; pairs already there come
        back as they are. Returned in the order of ``channels``.

        ``channel`` is what people read (person or tag and the URL in Apprise's privacy form),
        ``target`` identifies the real URL (the notify adapter's keyed channel id). Both are
        stored as given: masking the secret out of ``channel`` is the caller's job.
        ``not_before`` holds new rows back until then (a snoozed nudge), so ``due_deliveries``
        hands them out at that time.
        """
        return self.add_deliveries_many([(occurrence_id, channels)], now=now, not_before=not_before)[0]

    def add_deliveries_many(
        self,
        wanted: Sequence[tuple[int, Sequence[tuple[str, str]]]],
        *,
        now: datetime,
        not_before: datetime | None = None,
    ) -> list[list[DeliveryRecord]]:
        """``add_deliveries`` for many occurrences in one transaction: the rows already there read
        in one query, the new ones inserted together. One list per item of ``wanted``."""
        _aware(now=now)
        for _, channels in wanted:
            for channel, target in channels:
                if not target:
                    raise ValueError(f"delivery target for channel '{channel}' is empty")
        occurrence_ids = [occurrence_id for occurrence_id, _ in wanted]
        with self._session(write=True) as session:
            known: set[int] = set()
            there: dict[tuple[int, str], DeliveryRow | int] = {}
            for chunk in _chunks(occurrence_ids):
                ids = select(col(OccurrenceRow.id)).where(col(OccurrenceRow.id).in_(chunk))
                known.update(i for i in session.exec(ids) if i)
                query = select(DeliveryRow).where(col(DeliveryRow.occurrence_id).in_(chunk))
                there.update(((row.occurrence_id, row.target), row) for row in session.exec(query))
            if unknown := set(occurrence_ids) - known:
                raise StoreError(f"no occurrence with id '{min(unknown)}' in the store")
            new: list[_Columns] = []
            placed: list[list[DeliveryRow | int]] = []  # a stored row, or a new one's index
            for occurrence_id, channels in wanted:
                rows: list[DeliveryRow | int] = []
                for channel, target in channels:
                    row = there.get((occurrence_id, target))
                    if row is None:
                        row = there[(occurrence_id, target)] = len(new)
                        new.append(_delivery_values(occurrence_id, channel, target, now, not_before))
                    rows.append(row)
                placed.append(rows)
            try:
                with session.begin_nested():
                    statement = insert(DeliveryRow).returning(DeliveryRow, sort_by_parameter_order=True)
                    inserted = list(session.scalars(statement, new)) if new else []
            except IntegrityError:
                # Another writer added one of them after the read: one row at a time.
                return [
                    [
                        _delivery(_add_delivery(session, occurrence_id, channel, target, now, not_before))
                        for channel, target in channels
                    ]
                    for occurrence_id, channels in wanted
                ]
            return [[_delivery(inserted[r] if isinstance(r, int) else r) for r in rows] for rows in placed]

    def claim_delivery(
        self, delivery_id: int, *, now: datetime, lease_until: datetime, epoch: int | None = None
    ) -> DeliveryRecord | None:
        """Take a due delivery for sending (compare-and-set), counting the attempt; None when
        another sender has it or it is not due.

        The claim holds until ``lease_until``: a sender that died mid-send leaves a row that
        becomes claimable again then, so a crash re-sends at most once per lease. With
        ``epoch`` it is also None once the stored leader epoch moved on (a fenced claim).
        """
        claimed = self.claim_deliveries([delivery_id], now=now, lease_until=lease_until, epoch=epoch)
        return claimed[0] if claimed else None

    def claim_deliveries(
        self, delivery_ids: Sequence[int], *, now: datetime, lease_until: datetime, epoch: int | None = None
    ) -> list[DeliveryRecord]:
        """``claim_delivery`` for many rows in one transaction: those this call claimed, by id."""
        _aware(now=now, lease_until=lease_until)
        if lease_until <= now:
            raise ValueError(f"lease must end after now, got '{lease_until.isoformat()}'")
        if not delivery_ids:
            return []
        statement = _claim(col(DeliveryRow.id).in_(list(delivery_ids)), now=now, lease_until=lease_until)
        with self._session(write=True) as session:
            if epoch is not None and _leader_epoch(session, lock=_SHARE) != epoch:
                return []
            rows = session.scalars(statement).all()
            return sorted((_delivery(row) for row in rows), key=lambda record: record.id)

    def claim_due_deliveries(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[DeliveryRecord]:
        """Claim up to ``limit`` due deliveries (``due_deliveries``' order), whoever wrote them.

        On PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED``: senders draining the outbox
        at once each take rows the others are not taking, and the compare-and-set of the claim
        still gives a row to exactly one of them. Not fenced by the leader epoch: any daemon may
        send what is due.
        """
        _aware(now=now, lease_until=lease_until)
        if lease_until <= now:
            raise ValueError(f"lease must end after now, got '{lease_until.isoformat()}'")
        due = (
            select(col(DeliveryRow.id))
            .where(_claimable(now))
            .order_by(col(DeliveryRow.created_at), col(DeliveryRow.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = _claim(col(DeliveryRow.id).in_(due.scalar_subquery()), now=now, lease_until=lease_until)
        with self._session(write=True) as session:
            rows = session.scalars(statement).all()
            return sorted((_delivery(row) for row in rows), key=lambda record: record.id)

    def finish_delivery(
        self,
        delivery_id: int,
        status: DeliveryStatus,
        *,
        now: datetime,
        error: str = "",
        next_attempt_at: datetime | None = None,
        attempt: int | None = None,
    ) -> None:
        """Record a send's outcome (``error`` already masked; long ones are cut).

        With ``attempt`` (the claimed record's attempts) the write happens only while that
        claim still holds, so a sender whose lease ran out cannot overwrite a newer outcome.
        """
        outcome = DeliveryOutcome(delivery_id, status, error, next_attempt_at, attempt)
        self.finish_deliveries([outcome], now=now)

    def finish_deliveries(self, outcomes: Sequence[DeliveryOutcome], *, now: datetime) -> None:
        """``finish_delivery`` for many rows in one transaction.

        Outcomes that write the same values (a batch of nudges all sent at their first
        attempt) share one UPDATE ... WHERE id IN (...).
        """
        _aware(now=now)
        alike: dict[tuple[DeliveryStatus, str, datetime | None, int | None], list[int]] = {}
        for outcome in outcomes:
            if outcome.next_attempt_at is not None:
                _aware(next_attempt_at=outcome.next_attempt_at)
            status = _member(DeliveryStatus, outcome.status, "delivery status")
            if status is DeliveryStatus.SENDING:
                raise ValueError("a delivery becomes 'sending' only through claim_delivery")
            key = (status, outcome.error[:MAX_ERROR_LENGTH], outcome.next_attempt_at, outcome.attempt)
            alike.setdefault(key, []).append(outcome.delivery_id)
        if not alike:
            return
        with self._session(write=True) as session:
            for (status, error, next_attempt_at, attempt), ids in alike.items():
                for chunk in _chunks(ids):
                    statement = update(DeliveryRow).where(col(DeliveryRow.id).in_(chunk))
                    if attempt is not None:
                        statement = statement.where(
                            col(DeliveryRow.status) == str(DeliveryStatus.SENDING),
                            col(DeliveryRow.attempts) == attempt,
                        )
                    statement = statement.values(
                        status=str(status), last_error=error, next_attempt_at=next_attempt_at, updated_at=now
                    ).returning(col(DeliveryRow.id))
                    changed = set(session.scalars(statement.execution_options(synchronize_session=False)))
                    if attempt is None and (lost := set(chunk) - changed):
                        raise StoreError(f"no delivery with id '{min(lost)}' in the store")

    def due_deliveries(self, now: datetime, limit: int = 100) -> list[DeliveryRecord]:
        """What a sender should claim now: pending or retry rows that are due, and sending rows
        whose lease ran out; oldest first (by created_at, then id)."""
        _aware(now=now)
        query = (
            select(DeliveryRow)
            .where(_claimable(now))
            .order_by(col(DeliveryRow.created_at), col(DeliveryRow.id))
            .limit(limit)
        )
        with self._session() as session:
            return [_delivery(row) for row in session.exec(query)]

    def delivery_statuses(self, occurrence_ids: Collection[int]) -> dict[int, set[DeliveryStatus]]:
        """The statuses each occurrence's delivery rows are in, in one query."""
        found: dict[int, set[DeliveryStatus]] = {}
        with self._session() as session:
            for chunk in _chunks(occurrence_ids):
                query = select(DeliveryRow.occurrence_id, DeliveryRow.status).where(
                    col(DeliveryRow.occurrence_id).in_(chunk)
                )
                for occurrence_id, status in session.exec(query):
                    found.setdefault(occurrence_id, set()).add(DeliveryStatus(status))
        return found

    def sent_targets(self, occurrence_ids: Collection[int]) -> dict[int, set[str]]:
        """The targets each occurrence's sent deliveries went to, in one query; an occurrence
        with none sent is absent."""
        found: dict[int, set[str]] = {}
        with self._session() as session:
            for chunk in _chunks(occurrence_ids):
                query = select(DeliveryRow.occurrence_id, DeliveryRow.target).where(
                    col(DeliveryRow.occurrence_id).in_(chunk),
                    col(DeliveryRow.status) == str(DeliveryStatus.SENT),
                )
                for occurrence_id, target in session.exec(query):
                    found.setdefault(occurrence_id, set()).add(target)
        return found

    def deliveries(
        self,
        *,
        occurrence_id: int | None = None,
        statuses: Collection[DeliveryStatus] | None = None,
        limit: int | None = None,
        ids: Collection[int] | None = None,
    ) -> list[DeliveryRecord]:
        """Newest first (by id), for `ritual status` and `ritual retry`."""
        query = select(DeliveryRow).order_by(col(DeliveryRow.id).desc())
        if occurrence_id is not None:
            query = query.where(DeliveryRow.occurrence_id == occurrence_id)
        if ids is not None:
            query = query.where(col(DeliveryRow.id).in_(list(ids)))
        if statuses is not None:
            wanted = [str(_member(DeliveryStatus, s, "delivery status")) for s in statuses]
            query = query.where(col(DeliveryRow.status).in_(wanted))
        if limit is not None:
            query = query.limit(limit)
        with self._session() as session:
            return [_delivery(row) for row in session.exec(query)]

    def retry_deliveries(self, *, now: datetime, ids: Collection[int] | None = None) -> int:
        """Make failed, given-up and retrying deliveries (all, or those of ``ids``) due again now;
        return how many. Their attempt count is kept."""
        _aware(now=now)
        if ids is not None and not ids:
            return 0
        again = [str(DeliveryStatus.FAILED), str(DeliveryStatus.GIVEN_UP), str(DeliveryStatus.RETRY)]
        statement = update(DeliveryRow).where(col(DeliveryRow.status).in_(again))
        if ids is not None:
            statement = statement.where(col(DeliveryRow.id).in_(list(ids)))
        statement = statement.values(status=str(DeliveryStatus.RETRY), next_attempt_at=now, updated_at=now)
        with self._session(write=True) as session:
            return session.exec(statement).rowcount

    # API tokens: only their sha256 is stored ------------------------------
    def create_api_token(
        self, name: str, token_hash: str, *, now: datetime, person: str | None = None, kind: str = "api"
    ) -> ApiTokenRecord:
        """Keep a new token's hash under ``name``; a name still in use by an active token is refused."""
        _aware(now=now)
        if not name:
            raise ValueError("token name is empty")
        with self._session(write=True) as session:
            if _active_token_row(session, name) is not None:
                raise ConflictError(f"an active token named '{name}' exists (revoke it first)")
            row = ApiTokenRow(name=name, token_hash=token_hash, created_at=now, person=person, kind=kind)
            try:
                with session.begin_nested():
                    session.add(row)
            except IntegrityError:
                raise ConflictError(f"token '{name}' collides with an existing token") from None
            return _api_token(row)

    def find_api_token(self, token_hash: str) -> ApiTokenRecord | None:
        """The active token with this hash; None when unknown or revoked."""
        query = select(ApiTokenRow).where(
            ApiTokenRow.token_hash == token_hash, col(ApiTokenRow.revoked_at).is_(None)
        )
        with self._session() as session:
            row = session.exec(query).first()
            return None if row is None else _api_token(row)

    def touch_api_token(self, token_id: int, *, now: datetime) -> None:
        """Note when a token was last used, so `ritual token list` shows forgotten ones."""
        _aware(now=now)
        statement = update(ApiTokenRow).where(col(ApiTokenRow.id) == token_id).values(last_used_at=now)
        with self._session(write=True) as session:
            session.exec(statement)

    def revoke_api_token(self, name: str, *, now: datetime) -> bool:
        """Revoke the active token named ``name``; False when there is none."""
        _aware(now=now)
        with self._session(write=True) as session:
            row = _active_token_row(session, name)
            if row is None:
                return False
            row.revoked_at = now
            session.add(row)
            return True

    def api_tokens(self, *, include_revoked: bool = True) -> list[ApiTokenRecord]:
        """Every token (revoked ones too unless asked not to), by name, then oldest first."""
        query = select(ApiTokenRow).order_by(col(ApiTokenRow.name), col(ApiTokenRow.id))
        if not include_revoked:
            query = query.where(col(ApiTokenRow.revoked_at).is_(None))
        with self._session() as session:
            return [_api_token(row) for row in session.exec(query)]

    # small key/value state (e.g. the ritual file's last synced hash) ----
    def get_meta(self, key: str) -> str | None:
        with self._session() as session:
            row = session.get(MetaRow, key)
            return None if row is None else row.value

    def set_meta(self, key: str, value: str) -> None:
        with self._session(write=True) as session:
            _put_meta(session, key, value)

    # leader election (scheduler.adapters.store.leader): an epoch that fences claims ------
    def bump_leader_epoch(self, holder: str, now: datetime) -> int:
        """Start a new leader epoch held by ``holder`` ("host pid") since ``now``; return it.

        The first is 1. Claims fenced with an older epoch are refused from the commit on.
        """
        _aware(now=now)
        with self._session(write=True) as session:
            epoch = (_leader_epoch(session, lock=_UPDATE) or 0) + 1
            _put_meta(session, LEADER_EPOCH_KEY, str(epoch))
            _put_meta(session, LEADER_HOLDER_KEY, holder)
            _put_meta(session, LEADER_SINCE_KEY, now.astimezone(UTC).isoformat())
            return epoch

    def leader_info(self) -> LeaderInfo | None:
        """The last elected leader (epoch, holder, since); None when none was ever elected.

        It says who took the lead last, not that it still holds it.
        """
        with self._session() as session:
            epoch = _leader_epoch(session)
            if epoch is None:
                return None
            holder = session.exec(select(MetaRow.value).where(MetaRow.key == LEADER_HOLDER_KEY)).first()
            since = session.exec(select(MetaRow.value).where(MetaRow.key == LEADER_SINCE_KEY)).first()
        return LeaderInfo(
            epoch=epoch, holder=holder or "", since=None if since is None else datetime.fromisoformat(since)
        )


# queries -------------------------------------------------------------------
def _ritual_row(session: Session, name: str) -> RitualRow | None:
    return session.exec(select(RitualRow).where(RitualRow.name == name)).first()


def _require_ritual(session: Session, ritual_id: int) -> None:
    if session.get(RitualRow, ritual_id) is None:
        raise StoreError(f"no ritual with id '{ritual_id}' in the store")


def _cadence_rows(session: Session, ritual_id: int) -> list[CadenceVersionRow]:
    query = (
        select(CadenceVersionRow)
        .where(CadenceVersionRow.ritual_id == ritual_id)
        .order_by(col(CadenceVersionRow.effective_from), col(CadenceVersionRow.id))
    )
    return list(session.exec(query))


def _active_token_row(session: Session, name: str) -> ApiTokenRow | None:
    query = select(ApiTokenRow).where(ApiTokenRow.name == name, col(ApiTokenRow.revoked_at).is_(None))
    return session.exec(query).first()


def _find_completion(session: Session, ritual_id: int, occurrence: str, by: str) -> CompletionRow | None:
    query = select(CompletionRow).where(
        CompletionRow.ritual_id == ritual_id,
        CompletionRow.occurrence == occurrence,
        CompletionRow.by_person == by,
    )
    return session.exec(query).first()


def _same_day(session: Session, ritual_id: int, day: date, by: str) -> CompletionRow | None:
    """This person's completion of this ritual day (the first one, not a repeat)."""
    query = select(CompletionRow).where(
        CompletionRow.ritual_id == ritual_id,
        CompletionRow.day == day,
        CompletionRow.by_person == by,
        CompletionRow.again == 0,
    )
    return session.exec(query).first()


def _next_again(session: Session, ritual_id: int, day: date, by: str) -> int:
    """The number of the next repeat of this person's completion of this day (0 if none yet)."""
    query = select(func.max(CompletionRow.again)).where(
        CompletionRow.ritual_id == ritual_id, CompletionRow.day == day, CompletionRow.by_person == by
    )
    highest = session.exec(query).first()
    return 0 if highest is None else int(highest) + 1


def _put_meta(session: Session, key: str, value: str) -> None:
    row = session.get(MetaRow, key)
    if row is None:
        row = MetaRow(key=key, value=value)
    else:
        row.value = value
    session.add(row)


_SHARE = "share"
_UPDATE = "update"


def _leader_epoch(session: Session, *, lock: str | None = None) -> int | None:
    """The stored leader epoch; ``lock`` share or update keeps it from moving until commit
    (PostgreSQL row locks; SQLite's single writer does the same)."""
    query = select(MetaRow.value).where(MetaRow.key == LEADER_EPOCH_KEY)
    if lock is not None:
        query = query.with_for_update(read=lock == _SHARE)
    value = session.exec(query).first()
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise StoreError(f"meta '{LEADER_EPOCH_KEY}' is not a number: '{value[:40]}'") from None


def _of_ritual_column(column: Any, ritual_id: int | None) -> ColumnElement[bool]:
    """``column`` is ``ritual_id``, or NULL for the household's own rows."""
    return col(column).is_(None) if ritual_id is None else col(column) == ritual_id


def _of_ritual(ritual_id: int | None) -> ColumnElement[bool]:
    column = col(OccurrenceRow.ritual_id)
    return column.is_(None) if ritual_id is None else column == ritual_id


def _find_occurrence(session: Session, ritual_id: int | None, day: date, slot: str) -> OccurrenceRow | None:
    query = select(OccurrenceRow).where(
        _of_ritual(ritual_id), OccurrenceRow.day == day, OccurrenceRow.slot == slot
    )
    return session.exec(query).first()


def _claim_one(session: Session, values: _Columns) -> tuple[OccurrenceRecord | None, bool]:
    """Claim one key on its own savepoint: the slow path, after a batch lost a race."""
    key = (values["ritual_id"], values["day"], values["slot"])
    existing = _find_occurrence(session, *key)
    if existing is not None:
        return _occurrence(existing), False
    row = OccurrenceRow(**values)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        existing = _find_occurrence(session, *key)
        if existing is None:
            raise
        return _occurrence(existing), False
    return _occurrence(row), True


def _existing_ritual_ids(session: Session, ritual_ids: Collection[int]) -> set[int]:
    found: set[int] = set()
    for chunk in _chunks(ritual_ids):
        query = select(col(RitualRow.id)).where(col(RitualRow.id).in_(chunk))
        found.update(ritual_id for ritual_id in session.exec(query) if ritual_id is not None)
    return found


def _occurrences_by_key(
    session: Session, keys: Collection[OccurrenceKey]
) -> dict[OccurrenceKey, OccurrenceRow]:
    """The occurrences already stored under these (ritual_id, day, slot) keys (read by ritual and day)."""
    days = {day for _, day, _ in keys}
    ritual_ids = {ritual_id for ritual_id, _, _ in keys if ritual_id is not None}
    queries = [
        select(OccurrenceRow).where(col(OccurrenceRow.ritual_id).in_(chunk), col(OccurrenceRow.day).in_(days))
        for chunk in _chunks(ritual_ids)
    ]
    if any(ritual_id is None for ritual_id, _, _ in keys):
        queries.append(select(OccurrenceRow).where(_of_ritual(None), col(OccurrenceRow.day).in_(days)))
    wanted = set(keys)
    found: dict[OccurrenceKey, OccurrenceRow] = {}
    for query in queries:
        for row in session.exec(query):
            if (key := (row.ritual_id, row.day, row.slot)) in wanted:
                found[key] = row
    return found


# Bound parameters per IN (...) list: well inside SQLite's and PostgreSQL's limits.
_CHUNK = 500


def _chunks(values: Iterable[int]) -> Iterator[list[int]]:
    """``values`` (deduplicated) in lists of at most _CHUNK, for IN (...) clauses."""
    it = iter(dict.fromkeys(values))
    while chunk := list(islice(it, _CHUNK)):
        yield chunk


def _marks(rows: Sequence[Any]) -> list[tuple[date, str]]:
    """(day, by) pairs from (ritual_id, day, by_person) rows; SQLite gives the day as text."""
    if rows and isinstance(rows[0][1], str):
        parse = date.fromisoformat
        return [(parse(day), by) for _, day, by in rows]
    return [(day, by) for _, day, by in rows]


def _find_delivery(session: Session, occurrence_id: int, target: str) -> DeliveryRow | None:
    query = select(DeliveryRow).where(
        DeliveryRow.occurrence_id == occurrence_id, DeliveryRow.target == target
    )
    return session.exec(query).first()


def _add_delivery(
    session: Session,
    occurrence_id: int,
    channel: str,
    target: str,
    now: datetime,
    not_before: datetime | None = None,
) -> DeliveryRow:
    if not target:
        raise ValueError(f"delivery target for channel '{channel}' is empty")
    existing = _find_delivery(session, occurrence_id, target)
    if existing is not None:
        return existing
    row = DeliveryRow(**_delivery_values(occurrence_id, channel, target, now, not_before))
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        existing = _find_delivery(session, occurrence_id, target)
        if existing is None:
            raise
        return existing
    return row


def _delivery_values(
    occurrence_id: int, channel: str, target: str, now: datetime, not_before: datetime | None
) -> _Columns:
    """A new pending delivery row's columns."""
    return {
        "occurrence_id": occurrence_id,
        "channel": channel,
        "target": target,
        "status": str(DeliveryStatus.PENDING),
        "idempotency_key": f"{occurrence_id}:{target}",
        "next_attempt_at": not_before,
        "created_at": now,
        "updated_at": now,
    }


def _claim(chosen: Any, *, now: datetime, lease_until: datetime) -> Any:
    """The UPDATE that leases the ``chosen`` deliveries still claimable at ``now`` (compare-and-set:
    a row another sender took meanwhile is left out) and returns them."""
    return (
        update(DeliveryRow)
        .where(chosen, _claimable(now))
        .values(
            status=str(DeliveryStatus.SENDING),
            attempts=col(DeliveryRow.attempts) + 1,
            next_attempt_at=lease_until,
            updated_at=now,
        )
        .returning(DeliveryRow)
        .execution_options(synchronize_session=False)
    )


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Due pending/retry rows, and sending rows whose lease (next_attempt_at) has run out."""
    status = col(DeliveryRow.status)
    next_attempt = col(DeliveryRow.next_attempt_at)
    waiting = [str(DeliveryStatus.PENDING), str(DeliveryStatus.RETRY)]
    return or_(
        and_(status.in_(waiting), or_(next_attempt.is_(None), next_attempt <= now)),
        and_(status == str(DeliveryStatus.SENDING), next_attempt <= now),
    )


def _record_cadence(
    session: Session, ritual_id: int, ritual: Ritual, effective_from: date, now: datetime
) -> None:
    """Keep the cadence history: the new cadence is in force from ``effective_from`` on.

    Versions dated on or after ``effective_from`` are superseded by it (two edits on one
    day keep the last); nothing is written when the cadence in force already matches.
    """
    versions = _cadence_rows(session, ritual_id)
    if versions and versions[-1].effective_from <= effective_from and _same_cadence(versions[-1], ritual):
        return
    kept = [row for row in versions if row.effective_from < effective_from]
    for row in versions[len(kept) :]:
        session.delete(row)
    if kept and _same_cadence(kept[-1], ritual):
        return
    session.add(
        CadenceVersionRow(
            ritual_id=ritual_id,
            effective_from=effective_from,
            cadence=_dumps(cadence_to_table(ritual.cadence)),
            recorded_at=now,
        )
    )


def _same_cadence(row: CadenceVersionRow, ritual: Ritual) -> bool:
    return cadence_from_table(json.loads(row.cadence)) == ritual.cadence


# rows -> records -----------------------------------------------------------
def _dumps(table: RitualTable) -> str:
    return json.dumps(table, sort_keys=True, ensure_ascii=False)


def _row_id(
    row: RitualRow | CompletionRow | SkipRow | PauseRow | OccurrenceRow | DeliveryRow | ApiTokenRow | IdeaRow,
) -> int:
    if row.id is None:
        raise StoreError(f"{type(row).__name__} has no id after flush")
    return row.id


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _member(enum: type[_Enum], value: str, what: str) -> _Enum:
    try:
        return enum(str(value))
    except ValueError:
        raise ValueError(f"unknown {what} '{value}'") from None


def _aware(**values: datetime) -> None:
    """Refuse naive datetimes up front: the store keeps instants, and a naive one is ambiguous."""
    for name, value in values.items():
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be an aware datetime, got naive '{value.isoformat()}'")


def _stored_ritual(row: RitualRow) -> StoredRitual:
    return StoredRitual(
        id=_row_id(row),
        ritual=ritual_from_table(json.loads(row.definition), stored=True),
        source=RitualSource(row.source),
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
        removed_at=None if row.removed_at is None else _utc(row.removed_at),
    )


def _cadence_version(row: CadenceVersionRow) -> CadenceVersion:
    return CadenceVersion(
        effective_from=row.effective_from,
        cadence=cadence_from_table(json.loads(row.cadence)),
        recorded_at=row.recorded_at,
    )


def _completion(row: CompletionRow) -> CompletionRecord:
    return CompletionRecord(
        id=_row_id(row),
        ritual_id=row.ritual_id,
        day=row.day,
        at=_utc(row.at),
        period_key=row.period_key,
        by=row.by_person,
        note=row.note,
        source=row.source,
        occurrence=row.occurrence,
        created_at=_utc(row.created_at),
        again=row.again,
    )


def _idea(row: IdeaRow) -> IdeaRecord:
    return IdeaRecord(
        id=_row_id(row),
        ritual_id=row.ritual_id,
        text=row.text,
        note=row.note,
        by=row.by_person,
        created_at=_utc(row.created_at),
        completion_id=row.completion_id,
        used_at=None if row.used_at is None else _utc(row.used_at),
        dropped_at=None if row.dropped_at is None else _utc(row.dropped_at),
        last_suggested_at=None if row.last_suggested_at is None else _utc(row.last_suggested_at),
    )


def _skip(row: SkipRow) -> SkipRecord:
    return SkipRecord(
        id=_row_id(row),
        ritual_id=row.ritual_id,
        day=row.day,
        reason=row.reason,
        created_at=_utc(row.created_at),
        by=row.by_person,
    )


def _pause(row: PauseRow) -> PauseRecord:
    return PauseRecord(
        id=_row_id(row),
        ritual_id=row.ritual_id,
        start=row.start,
        until=row.until,
        reason=row.reason,
        created_at=_utc(row.created_at),
        by=row.by_person,
    )


def _occurrence(row: OccurrenceRow) -> OccurrenceRecord:
    return OccurrenceRecord(
        id=_row_id(row),
        ritual_id=row.ritual_id,
        day=row.day,
        slot=row.slot,
        kind=OccurrenceKind(row.kind),
        due_at=_utc(row.due_at),
        status=OccurrenceStatus(row.status),
        created_at=_utc(row.created_at),
        decided_at=None if row.decided_at is None else _utc(row.decided_at),
        note=row.note,
        epoch=row.epoch,
    )


# The occurrence table's columns in OccurrenceRecord's order: read as plain rows, thousands
# of them (the leader tick's set reads) cost a fraction of building the ORM objects.
_OCCURRENCE_COLUMNS = (
    col(OccurrenceRow.id),
    col(OccurrenceRow.ritual_id),
    col(OccurrenceRow.day),
    col(OccurrenceRow.slot),
    col(OccurrenceRow.kind),
    col(OccurrenceRow.due_at),
    col(OccurrenceRow.status),
    col(OccurrenceRow.created_at),
    col(OccurrenceRow.decided_at),
    col(OccurrenceRow.note),
    col(OccurrenceRow.epoch),
)


def _occurrence_of(values: Sequence[Any]) -> OccurrenceRecord:
    """``_occurrence`` of a row of _OCCURRENCE_COLUMNS."""
    occurrence_id, ritual_id, day, slot, kind, due_at, status, created_at, decided_at, note, epoch = values
    return OccurrenceRecord(
        id=occurrence_id,
        ritual_id=ritual_id,
        day=day,
        slot=slot,
        kind=OccurrenceKind(kind),
        due_at=_utc(due_at),
        status=OccurrenceStatus(status),
        created_at=_utc(created_at),
        decided_at=None if decided_at is None else _utc(decided_at),
        note=note,
        epoch=epoch,
    )


def _delivery(row: DeliveryRow) -> DeliveryRecord:
    return DeliveryRecord(
        id=_row_id(row),
        occurrence_id=row.occurrence_id,
        channel=row.channel,
        target=row.target,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        last_error=row.last_error,
        next_attempt_at=None if row.next_attempt_at is None else _utc(row.next_attempt_at),
        idempotency_key=row.idempotency_key,
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
    )


def _api_token(row: ApiTokenRow) -> ApiTokenRecord:
    return ApiTokenRecord(
        id=_row_id(row),
        name=row.name,
        token_hash=row.token_hash,
        created_at=_utc(row.created_at),
        revoked_at=None if row.revoked_at is None else _utc(row.revoked_at),
        last_used_at=None if row.last_used_at is None else _utc(row.last_used_at),
        person=row.person,
        kind=row.kind,
    )
