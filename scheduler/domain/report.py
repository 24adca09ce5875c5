"""Reports: the streak table, a window's period-by-period report, the balance, the weekly digest. Pure.

Everything here takes values (rituals, their histories, each ritual's own ritual-day
``today`` and a window of days) and returns values or text; the CLI and the service
read the store and the clock and hand the results to these functions.

Decisions the brief left open, kept in one place:

- **Windows** are inclusive day ranges ``first..last``. ``--week`` is the calendar week
  holding today (Monday..Sunday, ``week_window``), ``--month`` the calendar month
  (``month_window``), and ``--since DATE`` means ``DATE..today`` (``since_window``).
- **A window's periods** are the ritual's periods that overlap ``first..last``, judged
  whole (a week that started before the window still counts its Monday). Periods after
  the ritual's ``today`` do not exist yet and are not listed.
- **completion_rate** in a window is kept / (kept + missed) over its *closed* periods,
  as ``ritual streaks`` counts it; None when no period closed kept or missed.
- **Completions in a window** are the completions dated ``first..last`` that the streak
  contract counts (on or after the ritual's start, in a listed period). For a shared
  ritual with ``complete_when = both``, a completion counts once every listed person
  has one in that period (Alex and Sam both tapping "Done" is one date night, not two);
  ``by_person`` still shows each tap.
- **by_person** ("who did what") lists the ritual's people (0 when they did nothing; a
  completion by ``household``, both of you together, credits each of them)
  and anyone else who recorded one; completions recorded without a name show as
  ``unnamed`` on shared rituals and are left out on solo ones.
- **Balance** covers the five connection dimensions only; ``self`` and ``other`` are
  reported beside it and never counted in it. A ritual counts for its dimension when it
  has a period in the window. A dimension is **neglected** when no ritual of it ran in
  the window, or when its rituals had a missed period and not one completion. Excused
  periods (a skip, a pause: a season) and periods still open are never neglect; a dimension
  whose periods are all still open (nothing done, nothing missed) is "too early to tell".
- **share** is a dimension's completions over all connection completions (0 when none).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from scheduler.domain.cadence import Cadence, Every
from scheduler.domain.definitions import CONNECTION_DIMENSIONS, CompleteWhen, Dimension, Ritual
from scheduler.domain.people import HOUSEHOLD
from scheduler.domain.streaks import History, PeriodOutcome, PeriodStatus, StreakSummary, outcomes, summarize

UNNAMED = "unnamed"
OUTSIDE_BALANCE = (Dimension.SELF, Dimension.OTHER)
DIGEST_MAX_RITUALS = 12  # ritual lines in the digest before "and N more", so it stays under 25 lines

_CLOSING = "Small and steady counts for more than big and rare; a quiet week is a season, not a verdict."
_ONE_DAY = timedelta(days=1)
# Fixed English names: strftime's %a/%b follow the process locale, and the digest must not.
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class RitualInput:
    """One ritual as the reports need it; ``today`` is the ritual's own ritual day (its zone, day start)."""

    ritual: Ritual
    history: History
    today: date


@dataclass(frozen=True, slots=True)
class RitualReport:
    """One ritual's periods in a report window and what they add up to."""

    name: str
    title: str
    dimension: Dimension
    period: Every
    interval: int  # of the newest cadence: every 2 weeks reports "periods", not "weeks"
    people: tuple[str, ...]
    periods: tuple[PeriodOutcome, ...]  # the periods overlapping the window, oldest first
    kept: int
    missed: int
    excused: int
    open: int
    rest: int
    completions: int  # in the window; for a `both` ritual, once everyone did it (module docstring)
    completion_rate: float | None  # kept / (kept + missed) over the window's closed periods
    by_person: Mapping[str, int]  # who did what in the window (empty for solo rituals)

    @property
    def active(self) -> bool:
        """Whether the ritual had any period in the window (it may have ended or not started yet)."""
        return bool(self.periods)


@dataclass(frozen=True, slots=True)
class DimensionBalance:
    dimension: Dimension
    rituals: int  # rituals of this dimension with a period in the window
    kept: int
    missed: int
    completions: int
    share: float  # of all completions in the five connection dimensions; 0 for self/other
    neglected: bool  # always False for self/other
    open: int = 0  # periods still running: with nothing done or missed yet, too early to judge


@dataclass(frozen=True, slots=True)
class Report:
    first: date
    last: date
    rituals: tuple[RitualReport, ...]
    balance: tuple[DimensionBalance, ...]  # the five connection dimensions, in CONNECTION_DIMENSIONS order
    outside: tuple[DimensionBalance, ...]  # self and other: shown, not counted in the balance
    verdict: str


# --- windows --------------------------------------------------------------------------------------


def week_window(today: date) -> tuple[date, date]:
    """The calendar week holding ``today``, Monday to Sunday."""
    monday = today - timedelta(days=today.weekday())
    return monday, monday + timedelta(days=6)


def month_window(today: date) -> tuple[date, date]:
    """The calendar month holding ``today``, first to last day."""
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - _ONE_DAY


def since_window(since: date, today: date) -> tuple[date, date]:
    """``--since DATE``: from DATE up to and including today."""
    if since > today:
        raise ValueError(f"'{since.isoformat()}' is after today ({today.isoformat()})")
    return since, today


# --- ritual report --------------------------------------------------------------------------------


def build_report(items: Sequence[RitualInput], first: date, last: date) -> Report:
    """Each ritual's periods in ``first..last`` and the balance across the connection dimensions."""
    if last < first:
        raise ValueError(f"the report window ends '{last}' before it starts '{first}'")
    rituals = tuple(ritual_report(item, first, last) for item in items)
    balance = tuple(_dimension(dimension, rituals, connection=True) for dimension in CONNECTION_DIMENSIONS)
    total = sum(entry.completions for entry in balance)
    if total:
        balance = tuple(replace(entry, share=entry.completions / total) for entry in balance)
    outside = tuple(_dimension(dimension, rituals, connection=False) for dimension in OUTSIDE_BALANCE)
    return Report(first, last, rituals, balance, outside, balance_verdict(balance))


def ritual_report(item: RitualInput, first: date, last: date) -> RitualReport:
    """One ritual's share of a report: its periods overlapping ``first..last`` and their counts."""
    ritual, history = item.ritual, item.history
    listed = outcomes(history, item.today)
    window = tuple(o for o in listed if o.period.start <= last and o.period.end > first)
    counts = dict.fromkeys(PeriodStatus, 0)
    for outcome in window:
        counts[outcome.status] += 1
    closed = [o for o in window if o.period.end <= item.today]
    kept_closed = sum(1 for o in closed if o.status is PeriodStatus.KEPT)
    judged = kept_closed + counts[PeriodStatus.MISSED]
    counted = _counted_in_window(history, listed, first, last)
    newest = newest_cadence(history)
    return RitualReport(
        name=ritual.name,
        title=ritual.title,
        dimension=ritual.dimension,
        period=newest.every,
        interval=newest.interval,
        people=ritual.people,
        periods=window,
        kept=counts[PeriodStatus.KEPT],
        missed=counts[PeriodStatus.MISSED],
        excused=counts[PeriodStatus.EXCUSED],
        open=counts[PeriodStatus.OPEN],
        rest=counts[PeriodStatus.REST],
        completions=_completions(history, counted),
        completion_rate=kept_closed / judged if judged else None,
        by_person=people_counts(ritual.people, (by for _, by in counted)),
    )


def newest_cadence(history: History) -> Cadence:
    """The cadence in force now: its period kind is the one reported, as ``ritual streaks`` does."""
    return max(history.versions, key=lambda version: version[0])[1]


def _counted_in_window(
    history: History, listed: Sequence[PeriodOutcome], first: date, last: date
) -> list[tuple[int, str]]:
    """(period index, by) for each completion dated in the window that the streak contract counts."""
    if not listed:
        return []
    starts = [o.period.start for o in listed]
    newest_end = listed[-1].period.end
    lo = max(first, history.start)
    found: list[tuple[int, str]] = []
    for day, by in history.completions:
        if lo <= day <= last and day < newest_end:
            found.append((bisect_right(starts, day) - 1, by))
    return found


def _completions(history: History, counted: Sequence[tuple[int, str]]) -> int:
    """Completions in the window; for ``both``, per period the fewest any listed person recorded."""
    if history.complete_when is not CompleteWhen.BOTH or not history.people:
        return len(counted)
    per_period: dict[int, dict[str, int]] = {}
    for index, by in counted:
        if by in history.people or by == HOUSEHOLD:
            tally = per_period.setdefault(index, dict.fromkeys(history.people, 0))
            for person in history.people if by == HOUSEHOLD else (by,):
                tally[person] += 1
    return sum(min(tally.values()) for tally in per_period.values())


def people_counts(people: Sequence[str], names: Iterable[str]) -> dict[str, int]:
    """Who did what: listed people first (0 included), then others by name; see the module docstring."""
    counts = dict.fromkeys(people, 0)
    others: dict[str, int] = {}
    for name in names:
        if name == HOUSEHOLD and people:  # both of you together: each gets the credit
            for person in people:
                counts[person] += 1
        elif name in counts:
            counts[name] += 1
        elif name or people:
            key = name or UNNAMED
            others[key] = others.get(key, 0) + 1
    return counts | dict(sorted(others.items()))


def _dimension(
    dimension: Dimension, rituals: Sequence[RitualReport], *, connection: bool
) -> DimensionBalance:
    mine = [r for r in rituals if r.dimension is dimension and r.active]
    kept = sum(r.kept for r in mine)
    missed = sum(r.missed for r in mine)
    completions = sum(r.completions for r in mine)
    neglected = connection and (not mine or (completions == 0 and missed > 0))
    still_open = sum(r.open for r in mine)
    return DimensionBalance(dimension, len(mine), kept, missed, completions, 0.0, neglected, still_open)


def balance_verdict(balance: Sequence[DimensionBalance], *, gentle: bool = False) -> str:
    """One line: which kinds of connection got the time, which were neglected (softer when ``gentle``)."""
    if not any(entry.rituals for entry in balance):
        return "no rituals ran in this window yet"
    lead = _leaders(balance)
    absent = [str(e.dimension) for e in balance if e.neglected and not e.rituals]
    missed = [str(e.dimension) for e in balance if e.neglected and e.rituals]
    early = [str(e.dimension) for e in balance if _too_early(e)]
    # Rituals there, nothing done, nothing missed, nothing open: every period excused or paused.
    rested = [
        str(e.dimension)
        for e in balance
        if e.rituals and not e.completions and not e.neglected and not _too_early(e)
    ]
    notes = []
    if missed:
        if gentle:
            notes.append(f"{_join(missed)} could use a little time")
        else:
            notes.append(f"{_join(missed)} {'was' if len(missed) == 1 else 'were'} neglected")
    if early:
        notes.append(f"too early to tell for {_join(early)}")
    if rested:
        notes.append(f"{_join(rested)} rested (excused or paused)")
    if absent:
        verb = "has" if len(absent) == 1 else "have"
        notes.append(f"{_join(absent)} {verb} no ritual{' yet' if gentle else ''}")
    if not notes:
        notes.append("no kind of connection was left out")
    return "; ".join([lead, *notes])


def _too_early(entry: DimensionBalance) -> bool:
    """A dimension whose rituals have only open periods (or open and excused ones) in the window:
    nothing done, nothing missed, so neither kept up nor left out (not enough history yet: a
    household's first days, or a weekly ritual early in its week)."""
    return bool(entry.rituals) and entry.open > 0 and not (entry.completions or entry.missed or entry.kept)


def _leaders(balance: Sequence[DimensionBalance]) -> str:
    """The fewest dimensions that together got more than half of the completions, said in words."""
    ranked = sorted((e for e in balance if e.completions), key=lambda e: -e.completions)  # stable sort
    if not ranked:
        return "nothing was recorded in this window yet"
    names = [str(e.dimension) for e in ranked]
    if len(ranked) == 1:
        return f"{names[0]} got all of your time"
    count, covered = 0, 0.0
    while covered <= 0.5 and count < len(ranked):
        covered += ranked[count].share
        count += 1
    if count == 1:
        return f"{names[0]} got most of your time"
    if count == 2:
        return f"{_join(names[:2])} {'shared' if len(ranked) == 2 else 'got most of'} your time"
    return f"your time was spread across {_join(names)}"


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def report_text(report: Report) -> str:
    """The report as plain text: a line per ritual, then the balance and its verdict."""
    lines = [f"Report {report.first.isoformat()} to {report.last.isoformat()}", ""]
    if not report.rituals:
        lines.append("no rituals")
    for ritual in report.rituals:
        rate = "-" if ritual.completion_rate is None else f"{ritual.completion_rate:.0%}"
        line = (
            f"{ritual.name} ({ritual.dimension}, {ritual.period}): kept {ritual.kept}, "
            f"missed {ritual.missed}, excused {ritual.excused}, open {ritual.open}; rate {rate}"
        )
        if ritual.by_person:
            line += "; by " + ", ".join(f"{name} {count}" for name, count in ritual.by_person.items())
        lines.append(line)
    lines += ["", "Balance (completions, share):"]
    for entry in report.balance:
        flag = "" if not entry.neglected else "  neglected" if entry.rituals else "  no ritual"
        lines.append(f"  {entry.dimension:<13}{entry.completions:>4}  {entry.share:>4.0%}{flag}")
    for entry in report.outside:
        lines.append(f"  {entry.dimension:<13}{entry.completions:>4}  (not in the balance)")
    lines += ["", report.verdict[:1].upper() + report.verdict[1:] + "."]
    return "\n".join(lines) + "\n"


# --- the weekly digest ----------------------------------------------------------------------------


def digest_window(today: date) -> tuple[date, date]:
    """The digest looks back over the last seven ritual days, today included."""
    return today - timedelta(days=6), today


def digest_title(today: date) -> str:
    first, last = digest_window(today)
    return f"Your week of rituals: {_short_day(first)} - {_short_day(last)} {last.year}"


def least_served(items: Sequence[RitualInput], today: date) -> Dimension:
    """The kind of connection that got the least time in the digest's seven days (fewest
    completions; the first of the five on a tie), rituals of it or not."""
    first, last = digest_window(today)
    balance = build_report(items, first, last).balance if items else ()
    done = {entry.dimension: entry.completions for entry in balance}
    return min(CONNECTION_DIMENSIONS, key=lambda dimension: done.get(dimension, 0))


def suggestion_line(
    dimension: Dimension,
    catalogue: Sequence[Ritual],
    have: Iterable[str],
    ideas: Sequence[tuple[str, Dimension, str]],
) -> str:
    """One line for the digest: a catalogue ritual of the least-served kind the household does
    not have yet, else an unused idea ((ritual name, its dimension, text); one of that kind
    first); "" when there is neither."""
    taken = set(have)
    kind = f"{dimension.value.capitalize()} connection"
    missing = [ritual for ritual in catalogue if ritual.dimension is dimension and ritual.name not in taken]
    if missing:
        pick = missing[0]
        return f"{kind} got the least time: how about '{pick.title}' ({pick.name} in the example catalogue)?"
    chosen = sorted(ideas, key=lambda idea: idea[1] is not dimension)
    if chosen:
        name, _, text = chosen[0]
        return f"{kind} got the least time: an idea from your list for {name}: {text}."
    return ""


def digest_text(
    items: Sequence[RitualInput],
    today: date,
    *,
    paused: Sequence[tuple[date, date | None]] = (),
    suggestion: str = "",
) -> str:
    """The weekly digest body: short, warm, plain text, the same for the same input.

    ``paused`` are the household's pauses (first day, last day or None) that touch the last
    seven days or lie ahead: the digest says so, as a season rather than a gap.
    """
    if not items:
        return "No rituals yet. Add one with `ritual add` and this digest will fill in.\n"
    first, last = digest_window(today)
    report = build_report(items, first, last)
    summaries = [summarize(item.history, item.today) for item in items]
    shown = [(r, s) for r, s in zip(report.rituals, summaries, strict=True) if r.active]
    lines = ["Here is how the last seven days went.", ""]
    for start, until in paused:
        if until is None or until >= first:
            span = f"from {_short_day(start)}" + (f" to {_short_day(until)}" if until else " on")
            lines += [f"Everything is paused {span}: no nudges, and no streak breaks.", ""]
    lines += [f"- {r.title}: {_digest_line(r, s)}" for r, s in shown[:DIGEST_MAX_RITUALS]]
    if len(shown) > DIGEST_MAX_RITUALS:
        lines.append(f"- and {len(shown) - DIGEST_MAX_RITUALS} more")
    if not shown:
        lines.append("- nothing was due this week")
    lines += ["", _longest_line(items, summaries)]
    at_risk = [(item, s) for item, s in zip(items, summaries, strict=True) if s.at_risk]
    if at_risk:
        runs = ", ".join(f"{item.ritual.title} ({_run(s, item.history)} so far)" for item, s in at_risk)
        lines.append(f"Still open, if the day allows: {runs}.")
    verdict = balance_verdict(report.balance, gentle=True)
    lines += [f"Balance: {verdict}."]
    if suggestion:
        lines.append(suggestion)
    lines.append("")
    lines.append(
        "Small and steady counts for more than big and rare; a quiet week is a season, not a verdict."
    )
    return "\n".join(lines) + "\n"


def _digest_line(ritual: RitualReport, summary: StreakSummary) -> str:
    every = ritual.period
    if every.kind.fixed_days == 1:  # day by day: counted, not the newest period alone
        judged = ritual.kept + ritual.missed
        unit = "day" if ritual.interval == 1 else "period"
        if judged:
            text = f"kept {ritual.kept} of {judged} {unit}{'s' if judged != 1 else ''}"
        elif ritual.excused:
            text = "resting this week"
        else:
            text = "nothing due yet"
        if ritual.excused and judged:
            text += f", {ritual.excused} excused"
    else:
        text = _newest_phrase(ritual)
    if summary.current_streak >= 2:
        text += f", {_count_units(summary.current_streak, every, ritual.interval)} in a row"
    return text


def _newest_phrase(ritual: RitualReport) -> str:
    unit = ritual.period.kind.unit if ritual.interval == 1 else "period"
    status = ritual.periods[-1].status
    return {
        PeriodStatus.KEPT: f"done this {unit}",
        PeriodStatus.OPEN: f"this {unit} is still open",
        PeriodStatus.EXCUSED: f"resting this {unit}",
        PeriodStatus.REST: f"nothing due this {unit}",
        PeriodStatus.MISSED: f"not done in its last {unit}",
    }[status]


def _count_units(count: int, every: Every, interval: int) -> str:
    unit = every.kind.unit if interval == 1 else "period"
    return f"{count} {unit}{'s' if count != 1 else ''}"


def _run(summary: StreakSummary, history: History) -> str:
    return _count_units(summary.current_streak, summary.period, newest_cadence(history).interval)


def _longest_line(items: Sequence[RitualInput], summaries: Sequence[StreakSummary]) -> str:
    """The running streak that has lasted longest in days (a 4-week run beats a 12-day one)."""
    best: tuple[float, int] | None = None
    for index, (item, summary) in enumerate(zip(items, summaries, strict=True)):
        if summary.current_streak:
            interval = newest_cadence(item.history).interval
            days = summary.current_streak * summary.period.kind.average_days * interval
            if best is None or days > best[0]:
                best = (days, index)
    if best is None:
        return "No streak is running right now; any day is a fine day to begin one."
    item, summary = items[best[1]], summaries[best[1]]
    return f"Longest streak right now: {item.ritual.title}, {_run(summary, item.history)} in a row."


def _short_day(day: date) -> str:
    return f"{_DAY_NAMES[day.weekday()]} {day.day} {_MONTH_NAMES[day.month - 1]}"
