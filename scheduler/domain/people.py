"""The people of a household: who nudges reach, who did what. Pure.

A household may name no one (a single person's install: completions say nobody in
particular, as before) or its people with ``[people.NAME]`` in the settings. Every
completion, skip and pause says who: one of them, or ``household`` for both of them
together or for what the system did on everyone's behalf.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.domain.cadence import local_instant
from scheduler.domain.errors import RitualError

HOUSEHOLD = "household"  # both of them together, or the household as a whole
_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


class UnknownPersonError(RitualError):
    """A name is not one of the household's people; the message lists who is."""

    def __init__(self, name: str, known: Iterable[str], where: str = "") -> None:
        listed = ", ".join(known) or "nobody: add [people.NAME] to settings.toml"
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}unknown person '{name}' (the household: {listed})")
        self.name = name


@dataclass(frozen=True, slots=True)
class Person:
    """One person: a short key (``alex``), a name people read (``Alex``), their zone and quiet hours.

    Where nudges reach them is the channels' business: a channel carries their key as a tag.
    """

    key: str
    name: str = ""
    timezone: str | None = None
    quiet_hours: tuple[time, time] | None = None

    @property
    def shown(self) -> str:
        return self.name or self.key.capitalize()

    def quiet_until(self, now: datetime, fallback_zone: str) -> datetime | None:
        """When their quiet hours end, if ``now`` is inside them (their zone, else ``fallback_zone``);
        None when they are not quiet now. Quiet hours may wrap midnight (22:00-07:00)."""
        if self.quiet_hours is None:
            return None
        start, end = self.quiet_hours
        zone = ZoneInfo(self.timezone or fallback_zone)
        local = now.astimezone(zone)
        wall = local.time().replace(tzinfo=None)
        if start < end:
            inside, end_day = start <= wall < end, local.date()
        elif wall >= start:  # the evening side of hours that wrap midnight
            inside, end_day = True, local.date() + timedelta(days=1)
        else:
            inside, end_day = wall < end, local.date()
        return local_instant(zone, end_day, end) if inside else None


@dataclass(frozen=True, slots=True)
class Household:
    """Everyone nudges and completions can name; empty for a single person's install."""

    people: tuple[Person, ...] = ()

    def __iter__(self) -> Iterator[Person]:
        return iter(self.people)

    def __len__(self) -> int:
        return len(self.people)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(person.key for person in self.people)

    def get(self, key: str) -> Person | None:
        return next((person for person in self.people if person.key == key), None)

    def shown(self, key: str) -> str:
        """How a page or a nudge names ``key``: Alex, Sam, "both of you"."""
        if key == HOUSEHOLD:
            return "both of you"
        person = self.get(key)
        return person.shown if person else key

    def who(self, name: str, *, where: str = "") -> str:
        """``name`` as attribution: a person's key, ``household``, or "" (nobody said).

        Raises UnknownPersonError naming ``where`` (an option, a file and line) when the
        household has people and ``name`` is none of them.
        """
        key = name.strip().lower()
        if not key or key == HOUSEHOLD:
            return key
        if self.people and self.get(key) is None:
            raise UnknownPersonError(name.strip(), self.keys, where)
        return key


def person_key(name: str) -> str:
    """A person's key from the settings: lowercase letters, digits, '-' and '_'; ValueError otherwise."""
    key = name.strip().lower()
    if key == HOUSEHOLD:
        raise ValueError(f"'{HOUSEHOLD}' means all of you; give each person a name of their own")
    if not _KEY.fullmatch(key):
        raise ValueError(f"'{name}' is not a name for a person (lowercase letters, digits, '-', '_')")
    return key
