"""Upcoming nudges as an iCalendar feed, for calendar apps. The only module that imports icalendar."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from icalendar import Calendar, Event, Timezone

from scheduler.domain.reminders import NudgeKind

if TYPE_CHECKING:
    from scheduler.app.views import Upcoming


EVENT_LENGTH = timedelta(minutes=30)  # how long a ritual blocks in a calendar: a guess, kept simple
DISCREET_SUMMARY = "Ritual time"


def ics_feed(upcoming: Sequence[Upcoming], *, generated_at: datetime) -> bytes:
    """The upcoming ritual times as an iCalendar feed, one event per DUE nudge.

    UIDs are the occurrence keys, so a calendar that re-subscribes updates events instead of
    duplicating them; the same input gives the same bytes. Discreet rituals show neither their
    title, description nor dimension.
    """
    if generated_at.utcoffset() is None:
        raise ValueError(f"generated_at must be an aware datetime, got naive '{generated_at.isoformat()}'")
    stamp = generated_at.astimezone(UTC)
    due = sorted(
        (u for u in upcoming if u.nudge.kind is NudgeKind.DUE),
        key=lambda u: (u.nudge.due, u.ritual.name, u.nudge.slot),
    )
    calendar = Calendar()
    calendar.add("prodid", "-//ritual-scheduler//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "Rituals")
    for zone in _zones(due):
        calendar.add_component(zone)
    for item in due:
        calendar.add_component(_event(item, stamp))
    return bytes(calendar.to_ical())


def _zones(due: Sequence[Upcoming]) -> list[Timezone]:
    """VTIMEZONE components for the zones in use, sorted, covering whole years around the events."""
    if not due:
        return []
    first = date(min(u.nudge.due for u in due).year - 1, 12, 1)
    last = date(max(u.nudge.due for u in due).year + 1, 1, 31)
    zones: list[Timezone] = []
    for name in sorted({u.ritual.cadence.timezone for u in due} - {"UTC"}):
        try:
            zones.append(Timezone.from_tzid(name, first_date=first, last_date=last))
        except ValueError:  # a zone icalendar cannot describe: the TZID alone still names it
            continue
    return zones


def _event(item: Upcoming, stamp: datetime) -> Event:
    ritual, nudge = item.ritual, item.nudge
    event = Event()
    event.add("uid", f"{ritual.name}/{nudge.day.isoformat()}/{nudge.slot}@ritual-scheduler")
    event.add("dtstamp", stamp)
    event.add("dtstart", nudge.due.astimezone(ritual.cadence.zone))
    event.add("duration", EVENT_LENGTH)
    event.add("summary", DISCREET_SUMMARY if ritual.discreet else ritual.title)
    if not ritual.discreet:
        if ritual.description:
            event.add("description", ritual.description)
        event.add("categories", [str(ritual.dimension)])
    return event
