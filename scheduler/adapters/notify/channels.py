"""The household's channels: choosing them by person or tag, and sending through them.

``Channels`` is what the application's Channels port asks for (``scheduler.app.ports``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from scheduler.adapters.notify.channel import ALL, Channel, UnknownRecipientError
from scheduler.adapters.notify.pool import send_batch
from scheduler.app.ports import SendResult
from scheduler.domain.messages import Message


@dataclass(frozen=True, slots=True)
class Channels:
    """Everything configured, with the problems found on the way (empty when loaded strictly)."""

    channels: tuple[Channel, ...] = ()
    problems: tuple[str, ...] = ()
    plugins: tuple[str, ...] = ()  # "journal (plugins/journal.py)"

    def __iter__(self) -> Iterator[Channel]:
        return iter(self.channels)

    def __len__(self) -> int:
        return len(self.channels)

    @property
    def names(self) -> tuple[str, ...]:
        """Every person and tag that some channel carries."""
        return tuple(sorted({tag for channel in self.channels for tag in channel.tags}))

    def select(self, names: Sequence[str]) -> list[Channel]:
        """The channels of these people/tags (a ritual's ``notify``), each once."""
        wanted = {name.strip().lower() for name in names}
        known = self.names
        unknown = sorted(wanted - set(known) - {ALL})
        if unknown:
            raise UnknownRecipientError(unknown, known)
        return [c for c in self.channels if ALL in wanted or wanted.intersection(c.tags)]

    def send(
        self, channels: Sequence[Any], messages: Sequence[Message], *, timeout: float
    ) -> list[SendResult]:
        """Send each message to its channel at once (channels from this set's ``select``)."""
        chosen = [channel if isinstance(channel, Channel) else self._own(channel) for channel in channels]
        return send_batch(chosen, messages, timeout=timeout)

    def _own(self, channel: Any) -> Channel:
        """This set's channel for a port-level one (matched by its target)."""
        for mine in self.channels:
            if mine.target == channel.target:
                return mine
        raise ValueError(f"channel {channel.masked} is not one of these channels")
