"""What a nudge says: title and body rendered from plain facts about a ritual.

Pure: no I/O, no clock, no Apprise. The notifier decides per channel whether the one-tap
links become buttons (ntfy) or lines of text at the end of the body (everything else).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from scheduler.domain.cadence import Every
from scheduler.domain.reminders import NudgeKind

BodyFormat = Literal["text", "markdown"]

DISCREET_TITLE = "Ritual time"
_DISCREET_BODY = {
    NudgeKind.DUE: "Time for one of your rituals.",
    NudgeKind.BEFORE: "One of your rituals is coming up.",
    NudgeKind.NAG: "One of your rituals is still open.",
}
# A body when the ritual has no description or streak yet: Apprise sends nothing without one.
_PLAIN_BODY = {
    NudgeKind.DUE: "It's time.",
    NudgeKind.BEFORE: "A heads-up for later.",
    NudgeKind.NAG: "There is still time {this_period}.",
}
_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Action:
    """A one-tap link ("Done", "Snooze"); ``method`` is what a button sends, a text link is a GET.

    The daemon serves a confirm page on GET and records only on POST, so a link that mail
    scanners fetch never completes a ritual by itself.
    """

    label: str
    url: str
    method: Literal["GET", "POST"] = "POST"


@dataclass(frozen=True, slots=True)
class Message:
    """One nudge as channels receive it; ``actions`` become buttons where a channel has them."""

    title: str
    body: str
    body_format: BodyFormat = "text"
    actions: tuple[Action, ...] = field(default=())
    # A name the channel keeps with the message so it can be found again (``nudge-42``), and
    # the names of messages this one replaces on the phones (a "done" update), where a channel can.
    tag: str = ""
    replaces: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Accept any sequence of actions but keep the value hashable and immutable.
        object.__setattr__(self, "actions", tuple(self.actions))
        object.__setattr__(self, "replaces", tuple(self.replaces))

    def body_with_links(self) -> str:
        """The body with each action appended as a line, for channels without buttons."""
        if not self.actions:
            return self.body
        if self.body_format == "markdown":
            links = [f"[{action.label}]({action.url})" for action in self.actions]
        else:
            links = [f"{action.label}: {action.url}" for action in self.actions]
        return "\n\n".join(part for part in (self.body, "\n".join(links)) if part)


def render_message(
    *,
    title: str,
    description: str = "",
    partner: str = "",
    extra: Sequence[str] = (),
    kind: NudgeKind = NudgeKind.DUE,
    streak: int = 0,
    period: Every | str = Every.DAY,
    at_risk: bool = False,
    late_by: timedelta | None = None,
    actions: Sequence[Action] = (),
    discreet: bool = False,
    body_format: BodyFormat = "text",
    tag: str = "",
) -> Message:
    """Render a nudge for one ritual.

    ``streak`` is the current streak in ``period`` units (day, week, month) and ``at_risk`` says
    the open period still has to be kept for it to go on. ``partner`` says who of a couple did
    their part already; ``extra`` lines (whose turn, ideas, a question) follow it. ``discreet``
    keeps the ritual's title, description, partner, extra lines and streak off the lock screen.
    """
    every = Every(period)
    late = late_note(late_by)
    if discreet:
        body = " ".join(part for part in (_DISCREET_BODY[kind], late) if part)
        return Message(DISCREET_TITLE, body, body_format, tuple(actions), tag=tag)
    lines = [
        description.strip(),
        partner,
        *extra,
        streak_line(streak, every),
        risk_line(streak, every, at_risk),
        late,
    ]
    body = "\n".join(line for line in lines if line)
    if not body:
        body = _PLAIN_BODY[kind].format(this_period=every.kind.this)
    return Message(_title_for(kind, title), body, body_format, tuple(actions), tag=tag)


def _title_for(kind: NudgeKind, title: str) -> str:
    if kind == NudgeKind.BEFORE:
        return f"Coming up: {title}"
    if kind == NudgeKind.NAG:
        return f"Still open: {title}"
    return title


def streak_line(streak: int, period: Every = Every.DAY) -> str:
    """``day 12 in a row``; empty before the first kept period."""
    if streak <= 0:
        return ""
    if streak == 1:
        return f"Streak: {period.kind.unit} 1."
    return f"Streak: {period.kind.unit} {streak} in a row."


def risk_line(streak: int, period: Every, at_risk: bool) -> str:
    """A warm warning that the streak ends unless the open period is kept."""
    if not at_risk or streak <= 0:
        return ""
    return f"Keep your {streak}-{period.kind.unit} streak going: it needs you {period.kind.this}."


def late_note(late_by: timedelta | None) -> str:
    """``(sent 25 min late)`` for a nudge caught up after downtime; empty under a minute."""
    if late_by is None or late_by < _MINUTE:
        return ""
    return f"(sent {format_delay(late_by)} late)"


def format_delay(delay: timedelta) -> str:
    """``25 min``, ``2 h 5 min``, ``1 d 3 h``: short enough for a lock screen."""
    minutes = int(delay.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"
