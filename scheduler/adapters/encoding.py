"""The JSON (and CSV) of the typed views: one shape for the CLI's ``--json`` and the API.

The use cases hand out views (``scheduler.app.views``) and domain values; this module is
where they become JSON objects, so `ritual list --json` and ``GET /api/v1/rituals`` cannot
drift apart. Dates and times are ISO 8601 (times in UTC, with the offset).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta
from typing import Any

from scheduler.app.stored import (
    ApiTokenRecord,
    CompletionRecord,
    IdeaRecord,
    PauseRecord,
    SkipRecord,
    StoredRitual,
)
from scheduler.app.views import (
    CompletionView,
    DigestView,
    HeatmapView,
    Recorded,
    RitualDetail,
    RitualView,
    StatusView,
    StreakView,
    TurnView,
    Upcoming,
)
from scheduler.domain.definitions import cadence_to_table, ritual_to_table
from scheduler.domain.report import DimensionBalance, Report, RitualReport, people_counts
from scheduler.domain.streaks import PeriodOutcome

# A JSON object on its way to json.dumps: keys are names, values JSON-ready (dates still allowed).
JsonObject = dict[str, Any]

_ONE_DAY = timedelta(days=1)


def dumps(value: object, *, indent: int | None = None) -> str:
    """JSON text, dates and times as ISO 8601."""
    return json.dumps(value, indent=indent, ensure_ascii=False, default=_iso)


def _iso(value: object) -> object:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


# --- rituals -------------------------------------------------------------------------------------


def _ritual_json(stored: StoredRitual, paused: bool) -> JsonObject:
    body: JsonObject = dict(ritual_to_table(stored.ritual))
    body["source"] = stored.source.value
    body["paused"] = paused
    body["created_at"] = stored.created_at
    body["updated_at"] = stored.updated_at
    body["retired_at"] = stored.removed_at  # null while active; history is kept either way
    return body


def ritual_json(view: RitualView) -> JsonObject:
    """A ritual of ``ritual list --json`` and ``GET /api/v1/rituals``."""
    return {**_ritual_json(view.stored, view.paused), "next_due": view.next_due}


def detail_json(detail: RitualDetail) -> JsonObject:
    """The object of ``ritual show --json`` and ``GET /api/v1/rituals/{name}``."""
    return {
        **_ritual_json(detail.stored, detail.paused),
        "completions": [completion_json(c) for c in detail.completions],
        "skips": [skip_json(s) for s in detail.skips],
        "pauses": [pause_json(p) for p in detail.pauses],
        "streak": streak_json(detail.streak),
        "cadence_versions": [
            {"effective_from": v.effective_from, "cadence": cadence_to_table(v.cadence)}
            for v in detail.versions
        ],
        "planner": detail.planner or None,
    }


def completion_json(record: CompletionRecord) -> JsonObject:
    return {
        "id": record.id,
        "day": record.day,
        "at": record.at,
        "period": record.period_key,
        "by": record.by or None,
        "note": record.note or None,
        "source": record.source,
        "occurrence": record.occurrence,
    }


def completion_view_json(view: CompletionView) -> JsonObject:
    """A completion with its ritual's name: ``GET /api/v1/completions``."""
    return {"ritual": view.ritual, **completion_json(view.completion)}


def recorded_json(recorded: Recorded) -> JsonObject:
    """``ritual done --json`` and the API's done: the completion, and whether it is new."""
    return {
        "name": recorded.name,
        "created": recorded.created,
        "completion": completion_json(recorded.completion),
    }


def skip_json(record: SkipRecord) -> JsonObject:
    return {"id": record.id, "day": record.day, "reason": record.reason or None, "by": record.by or None}


def pause_json(record: PauseRecord) -> JsonObject:
    """A pause; ``household`` says it pauses every ritual (`ritual pause --all`)."""
    return {
        "id": record.id,
        "from": record.start,
        "until": record.until,
        "reason": record.reason or None,
        "by": record.by or None,
        "household": record.household,
    }


def upcoming_json(item: Upcoming) -> JsonObject:
    """A nudge of ``ritual next --json``: when (UTC and the ritual's local time), which day, which slot."""
    return {
        "name": item.ritual.name,
        "due": item.nudge.due,
        "local": item.nudge.due.astimezone(item.ritual.cadence.zone),
        "day": item.nudge.day,
        "slot": item.nudge.slot,
        "kind": item.nudge.kind.value,
        "planner": item.planner or None,
    }


def turn_json(view: TurnView) -> JsonObject:
    """``ritual turn NAME --json`` and ``GET /api/v1/rituals/{name}/turn``."""
    return {
        "ritual": view.ritual,
        "turns": list(view.turns),
        "planner": view.planner,
        "next": view.next,
        "period_start": view.period_start,
        "period_end": view.period_end,
        "swapped": view.swapped,
    }


def idea_json(ritual: str, item: IdeaRecord) -> JsonObject:
    """An idea of ``ritual idea list --json`` and ``GET /api/v1/ideas``."""
    return {
        "id": item.id,
        "ritual": ritual,
        "text": item.text,
        "note": item.note,
        "by": item.by or None,
        "state": item.state,
        "created_at": item.created_at,
        "completion_id": item.completion_id,
        "last_suggested_at": item.last_suggested_at,
    }


def token_json(record: ApiTokenRecord, state: str) -> JsonObject:
    """A token without its secret: ``ritual token list --json``; ``state`` active, revoked or stopped."""
    return {
        "name": record.name,
        "state": state,
        "created_at": record.created_at,
        "last_used_at": record.last_used_at,
        "revoked_at": record.revoked_at,
        "person": record.person,
        "kind": record.kind,  # api (the API and the pages) or feed (only the calendar feed)
    }


def status_json(view: StatusView) -> JsonObject:
    """What the service knows of ``ritual status --json`` (the CLI adds the daemon's own lock)."""
    return {
        "rituals": view.rituals,
        "problems": list(view.problems),
        "household_pauses": [pause_json(p) for p in view.household_pauses],
        "next": [
            {
                "name": u.ritual.name,
                "due": u.nudge.due,
                "local": u.nudge.due.astimezone(u.ritual.cadence.zone),
                "kind": u.nudge.kind.value,
            }
            for u in view.next
        ],
        "last": [
            {
                "name": n.name,
                "day": n.occurrence.day,
                "slot": n.occurrence.slot,
                "due_at": n.occurrence.due_at,
                "status": n.state,
                "note": n.note,
            }
            for n in view.last
        ],
        "deliveries": {
            "pending": view.pending,
            "retrying": view.retrying,
            "failed": [
                {
                    "id": f.delivery.id,
                    "name": f.name,
                    "slot": f.slot,
                    "channel": f.delivery.channel,
                    "status": f.delivery.status.value,
                    "attempts": f.delivery.attempts,
                    "last_error": f.delivery.last_error,
                }
                for f in view.failed
            ],
            "waiting": [
                {
                    "id": w.delivery.id,
                    "name": w.name,
                    "slot": w.slot,
                    "channel": w.delivery.channel,
                    "attempts": w.delivery.attempts,
                    "last_error": w.delivery.last_error,
                    "next_try": w.delivery.next_attempt_at,
                }
                for w in view.waiting
            ],
        },
    }


CSV_HEADER = (
    "ritual",
    "dimension",
    "period_start",
    "period_end",
    "status",
    "done",
    "target",
    "excuse",
    "by",
)


# --- streaks and reports ------------------------------------------------------------------------


def streak_json(view: StreakView) -> JsonObject:
    """The object ``ritual streaks --json`` prints for one ritual (and ``show``'s ``streak``)."""
    summary = view.summary
    return {
        "name": view.ritual.name,
        "title": view.ritual.title,
        "dimension": str(view.ritual.dimension),
        "period": str(summary.period),
        "current_streak": summary.current_streak,
        "longest_streak": summary.longest_streak,
        "completion_rate": _round(summary.completion_rate),
        "strength": round(summary.strength, 3),
        "at_risk": summary.at_risk,
        "periods_until_break": summary.periods_until_break,
        "last_completion": summary.last_completion.isoformat() if summary.last_completion else None,
        "kept": summary.kept,
        "missed": summary.missed,
        "excused": summary.excused,
        "freezes_used": summary.freezes_used,
    }


def heatmap_json(view: HeatmapView) -> JsonObject:
    """A ritual's year of squares, ``ritual streaks --heatmap --json``: one cell per day (daily
    rituals) or per period (from its first day); ``status`` null before the start or after the end."""
    return {
        "name": view.ritual.name,
        "period": str(view.every),
        "first": view.cells[0].day if view.cells else None,
        "last": view.cells[-1].day if view.cells else None,
        "cells": [
            {"day": cell.day, "status": None if cell.status is None else str(cell.status), "done": cell.done}
            for cell in view.cells
        ],
    }


def digest_json(view: DigestView) -> JsonObject:
    """``ritual digest --json``: the digest as it would be sent, and the days it covers."""
    return {"title": view.title, "text": view.text, "first": view.first, "last": view.last}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def report_json(report: Report) -> JsonObject:
    """The object ``ritual report --json`` prints (period ``end`` is the period's last day, inclusive)."""
    return {
        "first": report.first.isoformat(),
        "last": report.last.isoformat(),
        "rituals": [_report_ritual_json(ritual) for ritual in report.rituals],
        "balance": {
            "dimensions": [_balance_json(entry) for entry in report.balance],
            "outside": [
                {
                    "dimension": str(e.dimension),
                    "rituals": e.rituals,
                    "kept": e.kept,
                    "missed": e.missed,
                    "completions": e.completions,
                }
                for e in report.outside
            ],
            "verdict": report.verdict,
        },
    }


def _report_ritual_json(ritual: RitualReport) -> JsonObject:
    return {
        "name": ritual.name,
        "title": ritual.title,
        "dimension": str(ritual.dimension),
        "period": str(ritual.period),
        "kept": ritual.kept,
        "missed": ritual.missed,
        "excused": ritual.excused,
        "open": ritual.open,
        "rest": ritual.rest,
        "completions": ritual.completions,
        "completion_rate": _round(ritual.completion_rate),
        "by_person": dict(ritual.by_person),
        "periods": [_period_json(ritual, outcome) for outcome in ritual.periods],
    }


def _period_json(ritual: RitualReport, outcome: PeriodOutcome) -> JsonObject:
    return {
        "key": outcome.period.key,
        "start": outcome.period.start.isoformat(),
        "end": (outcome.period.end - _ONE_DAY).isoformat(),
        "status": str(outcome.status),
        "done": outcome.done,
        "target": outcome.target,
        "excuse": str(outcome.excuse) if outcome.excuse else None,
        "by_person": _period_people(ritual, outcome),
    }


def _period_people(ritual: RitualReport, outcome: PeriodOutcome) -> dict[str, int]:
    """A period's who-did-what, named as the ritual's is (listed people zero-filled)."""
    names = [name for name, count in outcome.by_person.items() for _ in range(count)]
    return people_counts(ritual.people, names)


def _balance_json(entry: DimensionBalance) -> JsonObject:
    return {
        "dimension": str(entry.dimension),
        "rituals": entry.rituals,
        "kept": entry.kept,
        "missed": entry.missed,
        "completions": entry.completions,
        "share": round(entry.share, 3),
        "neglected": entry.neglected,
    }


def report_csv(report: Report) -> str:
    """One row per ritual per period (header first); the balance lives in the JSON and the text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for ritual in report.rituals:
        for outcome in ritual.periods:
            people = _period_people(ritual, outcome)
            writer.writerow(
                (
                    ritual.name,
                    str(ritual.dimension),
                    outcome.period.start.isoformat(),
                    (outcome.period.end - _ONE_DAY).isoformat(),
                    str(outcome.status),
                    outcome.done,
                    outcome.target,
                    str(outcome.excuse) if outcome.excuse else "",
                    ";".join(f"{name}={count}" for name, count in people.items()),
                )
            )
    return buffer.getvalue()
