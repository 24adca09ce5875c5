"""A ritual in words, as people read it: ``weekly on fri at 19:00``, ``heads-up 1d before``. Pure."""

from __future__ import annotations

from datetime import date

from scheduler.domain.definitions import Ritual
from scheduler.domain.reminders import format_duration


def describe_cadence(ritual: Ritual) -> str:
    """``daily at 20:30``, ``weekly on fri at 19:00``, ``2x every 2 weeks``."""
    cadence = ritual.cadence
    kind = cadence.every.kind
    if cadence.interval == 1:
        text = f"{cadence.times}x {kind.per}" if cadence.times > 1 else kind.adverb
    else:
        text = f"every {cadence.interval} {kind.plural}"
        text = f"{cadence.times}x {text}" if cadence.times > 1 else text
    if cadence.on:
        text += " on " + ", ".join(str(d) for d in cadence.on)
    reminders = ritual.reminders
    if reminders.at:
        text += " at " + ", ".join(t.strftime("%H:%M") for t in reminders.at)
    elif reminders.cron:
        text += f" (cron {reminders.cron})"
    elif reminders.rrule:
        text += " (rrule)"
    return text


def describe_reminders(ritual: Ritual) -> str:
    parts = []
    reminders = ritual.reminders
    if reminders.remind_before:
        parts.append(f"heads-up {format_duration(reminders.remind_before)} before")
    if reminders.nag_after:
        parts.append(f"again {format_duration(reminders.nag_after)} after if not done")
    if reminders.quiet_hours:
        start, end = reminders.quiet_hours
        parts.append(f"quiet {start:%H:%M}-{end:%H:%M}")
    return "; ".join(parts)


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 day``, ``2 days``, ``0 deliveries`` (with ``plural`` where adding an s is wrong)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def human_day(day: date) -> str:
    """``Fri 27 Nov 2026``."""
    return f"{day:%a} {day.day} {day:%b %Y}"
