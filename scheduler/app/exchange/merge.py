"""Importing: a snapshot merged into the store, only adding, all in one transaction.

A ritual that is already there is kept as it is; a bad file or a failure half-way changes
nothing, and importing a file twice adds nothing the second time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from scheduler.app.exchange.snapshot import (
    CompletionEntry,
    ImportFileError,
    PauseEntry,
    Progress,
    RitualEntry,
    SkipEntry,
    Snapshot,
)
from scheduler.app.ports import Store
from scheduler.app.stored import StoredRitual
from scheduler.domain import cadence as cad
from scheduler.domain.cadence import cadence_in_force
from scheduler.domain.definitions import (
    cadence_from_table,
    ritual_from_table,
)

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class RitualMerge:
    """What an import did (or would do) to one ritual: how it met the store, and the entries it
    added to it against those already there."""

    name: str
    how: str  # "new", "same" (stored, same definition), "differs" (stored, kept as it is), "stored"
    retired: bool = False  # new, and retired as the file says (removed; archived in Loop)
    completions: tuple[int, int] = (0, 0)  # (added, already there)
    skips: tuple[int, int] = (0, 0)
    pauses: tuple[int, int] = (0, 0)
    label: str = ""  # where it came from, when the file says: "Loop habit 'Vegan' (#4)"

    @property
    def changed(self) -> bool:
        return self.how in ("new", "differs") or any(
            added for added, _ in (self.completions, self.skips, self.pauses)
        )

    def line(self) -> str:
        """``vegan-2: Loop habit 'Vegan' (#4), a new ritual: 20 completions, 3 skips``."""
        how = {
            "new": "a new ritual",
            "same": "the ritual stored here (the same definition)",
            "differs": "the ritual stored here (defined differently: kept as stored)",
            "stored": "goes into the ritual stored here",
        }[self.how]
        if self.retired:
            how += ", retired (its history kept: `ritual show`, `ritual list --all`)"
        if self.label:
            how = f"{self.label} {how}" if self.how == "stored" else f"{self.label}, {how}"
        kinds = ((self.completions, "completion"), (self.skips, "skip"), (self.pauses, "pause"))
        counts = [_count(added, noun) for (added, _), noun in kinds if added]
        if there := sum(present for (_, present), _ in kinds):
            counts.append(f"{there} already there")
        return f"{self.name}: {how}: {', '.join(counts) or 'nothing to add'}"


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did (or, for a dry run, would do)."""

    rituals_added: tuple[str, ...] = ()
    rituals_kept: tuple[str, ...] = ()  # already in the store with the same definition
    rituals_conflicting: tuple[str, ...] = ()  # already in the store, defined differently: kept as they are
    completions_added: int = 0
    completions_present: int = 0
    skips_added: int = 0
    skips_present: int = 0
    pauses_added: int = 0
    pauses_present: int = 0
    dry_run: bool = False
    rituals: tuple[RitualMerge, ...] = ()  # each ritual the file names, in the file's order

    def lines(self) -> list[str]:
        """A line per ritual: every one the file names for a dry run, those it changes otherwise."""
        return [merge.line() for merge in self.rituals if self.dry_run or merge.changed]

    @property
    def changed(self) -> bool:
        return bool(self.rituals_added or self.completions_added or self.skips_added or self.pauses_added)

    def summary(self) -> str:
        """One short line for the CLI: ``added 2 rituals, 40 completions; 3 already there``."""
        verb = "would add" if self.dry_run else "added"
        added = [
            _count(len(self.rituals_added), "ritual"),
            _count(self.completions_added, "completion"),
            _count(self.skips_added, "skip"),
            _count(self.pauses_added, "pause"),
        ]
        text = f"{verb} {', '.join(added)}"
        present = self.completions_present + self.skips_present + self.pauses_present + len(self.rituals_kept)
        if present:
            text += f"; {present} already there"
        if self.rituals_conflicting:
            names = ", ".join(f"'{name}'" for name in self.rituals_conflicting)
            text += f"; kept {names} as stored (defined differently in the file)"
        return text


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


class _DryRunDone(Exception):
    """Raised inside the import's transaction to roll a dry run back after counting."""

    def __init__(self, result: ImportResult) -> None:
        super().__init__("dry run")
        self.result = result


class _Ticker:
    """Counts the entries merged and tells ``progress`` now and then (about 200 times at most)."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total = total
        self.done = 0
        self.progress = progress
        self.step = max(1, total // 200)

    def tick(self) -> None:
        self.done += 1
        if self.progress is not None and (self.done % self.step == 0 or self.done == self.total):
            self.progress(self.done, self.total)


def apply_import(
    store: Store,
    snapshot: Snapshot,
    *,
    now: datetime,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Merge a snapshot into the store, never overwriting: all of it in one transaction, or nothing.

    A ritual whose name is taken is kept as it is (a differing definition is reported as a
    conflict); its completions, skips and pauses are still added. A completion is already
    there when the store holds one with the same ritual, day, time and person: each stored
    one matches one in the file, so re-importing adds nothing and real repeats (two back-filled
    completions on one day) survive a round trip. A dry run does the same work inside the
    transaction and rolls it back, so its counts are exact. Do not call it with dry_run inside
    an open ``store.transaction()``: the rollback would have to undo the caller's work too.
    ``progress`` hears (entries merged, entries) as rituals, completions, skips and pauses go in.
    """
    if now.utcoffset() is None:
        raise ValueError(f"now must be an aware datetime, got naive '{now.isoformat()}'")
    try:
        with store.transaction():
            entries = (snapshot.rituals, snapshot.completions, snapshot.skips, snapshot.pauses)
            ticker = _Ticker(sum(map(len, entries)), progress)
            result = _merge(store, snapshot, now, dry_run=dry_run, ticker=ticker)
            if dry_run:
                raise _DryRunDone(result)
    except _DryRunDone as done:
        return done.result
    return result


def _merge(
    store: Store, snapshot: Snapshot, now: datetime, *, dry_run: bool, ticker: _Ticker
) -> ImportResult:
    stored = {s.name: s for s in store.list_rituals(include_removed=True)}
    added: list[str] = []
    kept: list[str] = []
    conflicting: list[str] = []
    how: dict[str, tuple[str, bool]] = {}
    for entry in snapshot.rituals:
        existing = stored.get(entry.name)
        if existing is None:
            stored[entry.name] = _create_ritual(store, entry, snapshot, now)
            added.append(entry.name)
            how[entry.name] = ("new", entry.removed)
        elif existing.ritual == ritual_from_table(entry.table):
            kept.append(entry.name)
            how[entry.name] = ("same", False)
        else:
            conflicting.append(entry.name)
            how[entry.name] = ("differs", False)
        ticker.tick()
    completions = _add_completions(store, stored, snapshot.completions, now, ticker)
    skips = _add_skips(store, stored, snapshot.skips, now, ticker)
    pauses = _add_pauses(store, stored, snapshot.pauses, now, ticker)
    labels = dict(snapshot.labels)
    names = list(dict.fromkeys([*labels, *how, *completions, *skips, *pauses]))
    merges = tuple(
        RitualMerge(
            name,
            how.get(name, ("stored", False))[0],
            how.get(name, ("stored", False))[1],
            completions.get(name, (0, 0)),
            skips.get(name, (0, 0)),
            pauses.get(name, (0, 0)),
            labels.get(name, ""),
        )
        for name in names
    )

    def total(counts: Mapping[str, tuple[int, int]], index: int) -> int:
        return sum(pair[index] for pair in counts.values())

    return ImportResult(
        rituals_added=tuple(added),
        rituals_kept=tuple(kept),
        rituals_conflicting=tuple(conflicting),
        completions_added=total(completions, 0),
        completions_present=total(completions, 1),
        skips_added=total(skips, 0),
        skips_present=total(skips, 1),
        pauses_added=total(pauses, 0),
        pauses_present=total(pauses, 1),
        dry_run=dry_run,
        rituals=merges,
    )


def _create_ritual(store: Store, entry: RitualEntry, snapshot: Snapshot, now: datetime) -> StoredRitual:
    """Save a new ritual so its cadence history reads as in the file: oldest version first."""
    ritual = ritual_from_table(entry.table)
    for day, table in entry.cadence_versions:
        earlier = replace(ritual, cadence=cadence_from_table(table))
        store.save_ritual(earlier, entry.source, now=now, effective_from=day)
    if entry.cadence_versions:
        effective_from = entry.cadence_versions[-1][0]
    else:
        # A hand-written file without a history: the cadence counts from the start, or from
        # the oldest completion in the file, or from today.
        days = [c.day for c in snapshot.completions if c.ritual == entry.name]
        effective_from = ritual.start or min(days, default=cad.ritual_date(ritual.cadence, now))
    saved = store.save_ritual(ritual, entry.source, now=now, effective_from=effective_from)
    if not entry.removed:
        return saved
    store.remove_ritual(entry.name, now=now)
    return replace(saved, removed_at=now)


def _target(stored: Mapping[str, StoredRitual], name: str, origin: str) -> StoredRitual:
    target = stored.get(name)
    if target is None:
        raise ImportFileError(origin, f"no ritual named '{name}' in the file or in the store")
    return target


def _by_ritual(entries: Iterable[_T], name: Callable[[_T], str]) -> dict[str, list[_T]]:
    grouped: dict[str, list[_T]] = {}
    for entry in entries:
        grouped.setdefault(name(entry), []).append(entry)
    return grouped


def _add_completions(
    store: Store,
    stored: Mapping[str, StoredRitual],
    entries: Iterable[CompletionEntry],
    now: datetime,
    ticker: _Ticker,
) -> dict[str, tuple[int, int]]:
    counts: dict[str, tuple[int, int]] = {}
    for name, group in _by_ritual(entries, lambda c: c.ritual).items():
        added = present = 0
        target = _target(stored, name, group[0].origin)
        recorded = store.completions(target.id)
        there = Counter((c.day, c.at, c.by) for c in recorded)
        done_that_day = {(c.day, c.by) for c in recorded}  # a further one of a day is a repeat
        versions = store.cadence_history(target.id)
        for entry in group:
            ticker.tick()
            key = (entry.day, entry.at, entry.by)
            if there[key]:
                there[key] -= 1
                present += 1
                continue
            cadence = cadence_in_force(versions, entry.day, target.ritual.cadence)
            _record, created = store.add_completion(
                target.id,
                day=entry.day,
                at=entry.at,
                period_key=cad.period_of(cadence, entry.day).key,
                by=entry.by,
                note=entry.note,
                source=entry.source,
                occurrence=entry.occurrence,
                now=now,
                again=(entry.day, entry.by) in done_that_day,
            )
            done_that_day.add((entry.day, entry.by))
            # An occurrence key the same person already used is a repeat of that completion.
            added, present = (added + 1, present) if created else (added, present + 1)
        counts[name] = (added, present)
    return counts


def _add_skips(
    store: Store,
    stored: Mapping[str, StoredRitual],
    entries: Iterable[SkipEntry],
    now: datetime,
    ticker: _Ticker,
) -> dict[str, tuple[int, int]]:
    counts: dict[str, tuple[int, int]] = {}
    for name, group in _by_ritual(entries, lambda s: s.ritual).items():
        added = present = 0
        target = _target(stored, name, group[0].origin)
        there = Counter(s.day for s in store.skips(target.id))
        for entry in group:
            ticker.tick()
            if there[entry.day]:
                there[entry.day] -= 1
                present += 1
            else:
                store.add_skip(target.id, day=entry.day, reason=entry.reason, now=now)
                added += 1
        counts[name] = (added, present)
    return counts


def _add_pauses(
    store: Store,
    stored: Mapping[str, StoredRitual],
    entries: Iterable[PauseEntry],
    now: datetime,
    ticker: _Ticker,
) -> dict[str, tuple[int, int]]:
    counts: dict[str, tuple[int, int]] = {}
    for name, group in _by_ritual(entries, lambda p: p.ritual).items():
        added = present = 0
        target = _target(stored, name, group[0].origin)
        there = Counter((p.start, p.until) for p in store.pauses(target.id))
        for entry in group:
            ticker.tick()
            key = (entry.start, entry.until)
            if there[key]:
                there[key] -= 1
                present += 1
            else:
                store.add_pause(target.id, start=entry.start, until=entry.until, reason=entry.reason, now=now)
                added += 1
        counts[name] = (added, present)
    return counts
