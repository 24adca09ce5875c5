"""What each nudge says: its message from the store's facts, and the one-tap links it carries.

The outbox asks for the messages of one attempt at once; the streaks they quote are read
together for the whole batch. The words themselves are the domain's (``domain.messages``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from scheduler.app.nudging import ON_TIME, snooze_depth
from scheduler.app.ports import Channel
from scheduler.app.stored import OccurrenceKind, OccurrenceRecord, StoredRitual
from scheduler.app.views import StreakView
from scheduler.domain import cadence as cad
from scheduler.domain.links import LinkAction, LinkClaim, expiry_for, link_url, sign
from scheduler.domain.messages import Action, Message, render_message

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
    """Who a channel reaches, as its links name them: the one person of ``people`` among its
    tags. A channel several people share (or none of them) names nobody (""): its link's page
    asks who did it."""
    theirs = [tag for tag in channel.tags if tag in people]
    return theirs[0] if len(theirs) == 1 else ""


def nudge_tag(occurrence_id: int) -> str:
    """The name a nudge keeps on the channels that can find it again (ntfy's tags)."""
    return f"nudge-{occurrence_id}"


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

    def cleared(self, stored: StoredRitual, occurrence: OccurrenceRecord, replaces: Sequence[int]) -> Message:
        """What replaces the nudges ``replaces`` (occurrence ids) once the period is kept:
        "Done: Evening walk" / "Alex did it." (discreet: "Ritual time" / "Done.")."""
        done_by = self.service.done_by(stored, occurrence.day)
        household = self.service.household
        names = " and ".join(household.shown(who) for who in done_by if who)
        if stored.ritual.discreet or self.discreet:
            title, body = "Ritual time", "Done."
        else:
            title = f"Done: {stored.ritual.title}"
            body = f"{names[0].upper()}{names[1:]} did it." if names else "Done for this time."
        return Message(title, body, replaces=tuple(nudge_tag(i) for i in replaces))

    def with_links(
        self, message: Message, stored: StoredRitual | None, occurrence: OccurrenceRecord, channel: Channel
    ) -> Message:
        """The message with this channel's person's Done/Snooze links (none for household nudges)."""
        if self.links is None or stored is None or stored.removed_at is not None or message.replaces:
            return message
        actions = self.links.actions(stored, occurrence, person_of(channel, self._people(stored)))
        return dataclasses.replace(message, actions=actions)

    def _people(self, stored: StoredRitual) -> Sequence[str]:
        """Who links may name: the household's people, else (no [people] at all) the ritual's."""
        return self.service.household.keys or stored.ritual.people

    def _streaks(self, rituals: Sequence[StoredRitual]) -> dict[int, StreakView]:
        """The streaks the messages of these rituals quote, read together."""
        unique = list({stored.id: stored for stored in rituals}.values())
        views = self.service.streaks_of(unique) if unique else []
        return {stored.id: view for stored, view in zip(unique, views, strict=True)}

    def _message(
        self, stored: StoredRitual | None, occurrence: OccurrenceRecord, streaks: Mapping[int, StreakView]
    ) -> Message:
        if stored is None:
            return self._digest()
        ritual = stored.ritual
        late_by = occurrence.created_at - occurrence.due_at
        streak, period, at_risk = 0, ritual.cadence.every, False
        if (view := streaks.get(stored.id)) is not None:
            streak, period, at_risk = view.summary.current_streak, view.summary.period, view.summary.at_risk
        if occurrence.kind is OccurrenceKind.CLEARED:
            return self.cleared(stored, occurrence, self.service.cleared_nudges(stored, occurrence))
        if occurrence.kind is OccurrenceKind.ESCALATE:
            return self._escalation(stored)
        return render_message(
            tag=nudge_tag(occurrence.id),
            title=ritual.title,
            description=ritual.description,
            partner=self._partner_line(stored, occurrence),
            extra=self._couple_lines(stored, occurrence),
            kind=occurrence.kind.reminder,
            streak=streak,
            period=period,
            at_risk=at_risk,
            late_by=late_by if late_by > ON_TIME else None,
            discreet=ritual.discreet or self.discreet,
        )

    def _partner_line(self, stored: StoredRitual, occurrence: OccurrenceRecord) -> str:
        """For a ritual two people keep together that one has done: "Sam did it; your turn."."""
        people = stored.ritual.people
        waiting = self.service.waiting_for(stored, occurrence.day)
        if not waiting or len(waiting) == len(people):
            return ""
        household = self.service.household
        done = [household.shown(person) for person in people if person not in waiting]
        return f"{' and '.join(done)} did it; your turn."

    def _escalation(self, stored: StoredRitual) -> Message:
        """ "Alex hasn't done the evening walk yet." (discreet: "A ritual is still open.")."""
        ritual = stored.ritual
        if ritual.discreet or self.discreet:
            return Message("Ritual time", "A ritual is still open.")
        household = self.service.household
        names = [household.shown(who) for who in ritual.people]
        title = ritual.title[:1].lower() + ritual.title[1:]
        if not names:
            body = f"Nobody has done {title} yet."
        else:
            verb = "hasn't" if len(names) == 1 else "haven't"
            body = f"{' and '.join(names)} {verb} done {title} yet."
        return Message(f"Still open: {ritual.title}", body)

    def _couple_lines(self, stored: StoredRitual, occurrence: OccurrenceRecord) -> list[str]:
        """Whose turn to plan, and on the planner's heads-up up to three ideas from the backlog."""
        ritual = stored.ritual
        lines: list[str] = []
        if ritual.turns:
            planner = self.service.household.shown(self.service.planner(stored, occurrence.day))
            if occurrence.kind is OccurrenceKind.BEFORE:
                lines.append(f"{planner}, your turn to plan this one.")
            else:
                lines.append(f"{planner} plans this one.")
        if occurrence.kind is OccurrenceKind.BEFORE:
            ideas = self.service.suggest_ideas(stored, occurrence)
            if ideas:
                lines.append("Ideas: " + "; ".join(idea.text for idea in ideas))
        if ritual.prompts and (question := self.service.prompt_of(stored, occurrence.day)):
            lines.append(f"A question for you two: {question}")
        return lines

    def _digest(self) -> Message:
        title, body = self.service.digest()
        return Message(title=title, body=body)
