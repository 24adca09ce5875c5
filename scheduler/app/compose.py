"""What each nudge says: its message from the store's facts, and the one-tap links it carries.

The outbox asks for the messages of one attempt at once; the streaks they quote are read
together for the whole batch. The words themselves are the domain's (``domain.messages``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from scheduler.app.nudging import ON_TIME, snooze_depth
from scheduler.app.ports import Channel
from scheduler.app.stored import OccurrenceRecord, StoredRitual
from scheduler.domain import cadence as cad
from scheduler.domain.links import LinkAction, LinkClaim, expiry_for, link_url, sign
from scheduler.domain.messages import Action, Message, render_message
from scheduler.domain.reminders import NudgeKind

if TYPE_CHECKING:
    from scheduler.app.service import RitualService


@dataclass(frozen=True, slots=True)
class LinkMaker:
    """Signs the Done and Snooze links a nudge carries, for the person each channel reaches."""

    key: bytes = b""
    base: str = ""  # the daemon's public URL, no trailing slash
    grace: timedelta = timedelta(hours=12)  # how long a link outlives its period
    max_snoozes: int = 3

    def actions(self, stored: StoredRitual, occurrence: OccurrenceRecord, person: str) -> tuple[Action, ...]:
        cadence = stored.ritual.cadence
        period = cad.period_of(cadence, occurrence.day)
        expires = expiry_for(cad.day_start(cadence, period.end), self.grace)
        wanted = [LinkAction.DONE]
        if snooze_depth(occurrence.slot) < self.max_snoozes:
            wanted.append(LinkAction.SNOOZE)
        return tuple(
            Action(
                action.value.capitalize(),
                link_url(self.base, sign(LinkClaim(occurrence.id, person, action, expires), self.key)),
            )
            for action in wanted
        )


def person_of(channel: Channel, people: Sequence[str]) -> str:
    """Who a channel reaches, as a link names them: a tag that is one of the ritual's people,
    else the channel's first tag, else nobody in particular ("")."""
    return next((tag for tag in channel.tags if tag in people), channel.tags[0] if channel.tags else "")


class Composer:
    """Writes the messages of one attempt: title, body, streak, and each person's links."""

    def __init__(
        self, service: RitualService, *, discreet: bool = False, links: LinkMaker | None = None
    ) -> None:
        self.service = service
        self.discreet = discreet
        self.links = links

    def messages(self, nudges: Sequence[tuple[StoredRitual | None, OccurrenceRecord]]) -> dict[int, Message]:
        """Each occurrence's message (by occurrence id), the streaks read once for all of them."""
        streaks = self._streaks([s for s, _ in nudges if s is not None and s.removed_at is None])
        return {occurrence.id: self._message(stored, occurrence, streaks) for stored, occurrence in nudges}

    def with_links(
        self, message: Message, stored: StoredRitual | None, occurrence: OccurrenceRecord, channel: Channel
    ) -> Message:
        """The message with this channel's person's Done/Snooze links (none for household nudges)."""
        if self.links is None or stored is None or stored.removed_at is not None:
            return message
        actions = self.links.actions(stored, occurrence, person_of(channel, stored.ritual.people))
        return Message(message.title, message.body, message.body_format, actions)

    def _streaks(self, rituals: Sequence[StoredRitual]) -> dict[int, dict[str, Any]]:
        """The streak rows the messages of these rituals quote, read together."""
        unique = list({stored.id: stored for stored in rituals}.values())
        rows = self.service.streak_rows_of(unique) if unique else []
        return {stored.id: row for stored, row in zip(unique, rows, strict=True)}

    def _message(
        self, stored: StoredRitual | None, occurrence: OccurrenceRecord, streaks: Mapping[int, dict[str, Any]]
    ) -> Message:
        if stored is None:
            return self._digest()
        ritual = stored.ritual
        late_by = occurrence.created_at - occurrence.due_at
        streak, period, at_risk = 0, ritual.cadence.every.value, False
        if (row := streaks.get(stored.id)) is not None:
            streak, period, at_risk = row["current_streak"], row["period"], row["at_risk"]
        kinds = {kind.value: kind for kind in NudgeKind}
        kind = kinds.get(str(occurrence.kind), NudgeKind.DUE)
        return render_message(
            title=ritual.title,
            description=ritual.description,
            kind=kind,
            streak=streak,
            period=period,
            at_risk=at_risk,
            late_by=late_by if late_by > ON_TIME else None,
            discreet=ritual.discreet or self.discreet,
        )

    def _digest(self) -> Message:
        from scheduler.domain.report import digest_text, digest_title

        today = self.service.household_today()
        return Message(title=digest_title(today), body=digest_text(self.service.report_inputs(), today))
