"""Home Assistant's view of the rituals: which entities there are, what they show, and what
their buttons and switch do. Plain data; the MQTT adapter turns it into discovery configs and
topics.

Per ritual: a sensor (the current streak, with the rest as attributes), a binary sensor (due
today and not kept yet), a "done" button per person; one switch pauses the whole household.
A button press and the switch take the same service calls as the API and the CLI.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from scheduler.app.service import RitualService
from scheduler.app.views import Recorded
from scheduler.domain.cadence import due_days, period_of
from scheduler.domain.streaks import PeriodStatus
from scheduler.domain.today import Section, standing

LINK_KEY = "home_assistant.link"  # the daemon's last known connection to the broker


class Kind(StrEnum):
    """Home Assistant's component names."""

    SENSOR = "sensor"
    BINARY_SENSOR = "binary_sensor"
    BUTTON = "button"
    SWITCH = "switch"


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity: its component, an id unique within the household, and what it belongs to."""

    kind: Kind
    object_id: str
    name: str
    ritual: str | None = None  # None: the household's switch
    person: str = ""  # a button: who it records as ("" when the household names nobody)
    icon: str = ""


@dataclass(frozen=True, slots=True)
class RitualState:
    """What a ritual's sensor and binary sensor show."""

    name: str
    streak: int
    due: bool
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LinkState:
    """The daemon's connection to the broker as it last recorded it."""

    state: str  # connected, failed, stopped
    since: datetime
    detail: str = ""


def slug(text: str) -> str:
    """``text`` as the letters, digits, _ and - Home Assistant allows in an object id."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


class Home:
    """The rituals as Home Assistant entities, read from and acted on through the service."""

    def __init__(self, service: RitualService) -> None:
        self.service = service

    def entities(self) -> list[Entity]:
        entities = [Entity(Kind.SWITCH, "household_paused", "Pause everything", icon="mdi:pause-circle")]
        household = self.service.household
        for stored in self.service.list_rituals():
            ritual = stored.ritual
            title = ritual.title or ritual.name
            key = slug(ritual.name)
            entities.append(
                Entity(Kind.SENSOR, f"{key}_streak", f"{title}: streak", ritual.name, icon="mdi:fire")
            )
            entities.append(Entity(Kind.BINARY_SENSOR, f"{key}_due", f"{title}: due", ritual.name))
            people = ritual.people or household.keys
            for person in people:
                entities.append(
                    Entity(
                        Kind.BUTTON,
                        f"{key}_done_{slug(person)}",
                        f"{household.shown(person)}: done",
                        ritual.name,
                        person,
                        "mdi:check",
                    )
                )
            if not people:
                entities.append(Entity(Kind.BUTTON, f"{key}_done", "Done", ritual.name, icon="mdi:check"))
        return entities

    def states(self) -> list[RitualState]:
        states = []
        for stored, history, today in self.service.histories():
            now = standing(history, today)
            summary = now.summary
            paused = self.service.is_paused(stored)
            is_open = now.period is not None and now.period.status is PeriodStatus.OPEN
            next_due = now.next_due
            if now.period is not None and now.period.status in (PeriodStatus.KEPT, PeriodStatus.EXCUSED):
                # this period is settled: the next due day is the following period's first
                cadence = self.service.cadence_on(stored, today)
                following = due_days(cadence, period_of(cadence, period_of(cadence, today).end))
                next_due = following[0] if following else None
            attributes = {
                "title": stored.ritual.title or stored.ritual.name,
                "longest": summary.longest_streak,
                "strength": round(summary.strength, 3),
                "at_risk": summary.at_risk,
                "next_due": next_due.isoformat() if next_due else None,
                "kept": now.kept,
                "paused": paused,
                "last_done": summary.last_completion.isoformat() if summary.last_completion else None,
            }
            if stored.ritual.turns:  # whose turn it is to plan this period
                attributes["planner"] = self.service.planner(stored, today)
            due = now.section is Section.TODAY and is_open and not paused
            states.append(RitualState(stored.name, summary.current_streak, due, attributes))
        return states

    def household_paused(self) -> bool:
        today = self.service.household_today()
        return any(
            pause.start <= today and (pause.until is None or pause.until >= today)
            for pause in self.service.household_pauses()
        )

    def press(self, entity: Entity) -> Recorded:
        """A "done" button: that person's completion for today, recorded once."""
        assert entity.kind is Kind.BUTTON and entity.ritual is not None
        return self.service.record_done(
            entity.ritual, by=entity.person, source="home-assistant", where="the Home Assistant button"
        )

    def set_paused(self, paused: bool) -> None:
        """The household switch: pause everything from today on, or resume."""
        if paused:
            self.service.pause(None, reason="Home Assistant", where="the Home Assistant switch")
        else:
            self.service.resume(None)

    def record_link(self, state: str, detail: str = "") -> None:
        """Note the connection's state where `ritual status` reads it (never the broker's URL)."""
        since = self.service.now().isoformat()
        self.service.store.set_meta(LINK_KEY, json.dumps({"state": state, "since": since, "detail": detail}))

    def link(self) -> LinkState | None:
        raw = self.service.store.get_meta(LINK_KEY)
        if not raw:
            return None
        data = json.loads(raw)
        return LinkState(data["state"], datetime.fromisoformat(data["since"]), data.get("detail", ""))
