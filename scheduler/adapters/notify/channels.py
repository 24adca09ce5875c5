"""Channels as the rest of the house sees them: who they reach, a masked URL, why one cannot send.

``Channel.url`` is the secret and never shown; ``masked`` and ``target`` are safe to print and store.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import SecretStr

from scheduler.app.ports import SendResult
from scheduler.domain.errors import RitualError
from scheduler.domain.messages import Message

# Schemes whose nudges carry the one-tap actions as buttons instead of links in the body.
BUTTON_SCHEMES = frozenset({"ntfy", "ntfys"})
ALL = "all"  # Apprise's tag for every channel


class ChannelConfigError(RitualError):
    """Channels or plugins cannot be loaded; ``problems`` holds one line per fault."""

    def __init__(self, problems: Sequence[str]) -> None:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}")
        self.problems = tuple(problems)


class UnknownRecipientError(RitualError):
    """A ritual notifies a person or tag that no channel carries."""

    def __init__(self, names: Sequence[str], known: Sequence[str]) -> None:
        listed = ", ".join(f"'{name}'" for name in names)
        hint = f"known: {', '.join(known)}" if known else "no channels are configured"
        noun = "person or tag" if len(names) == 1 else "people or tags"
        super().__init__(f"no channel for {noun} {listed} ({hint})")
        self.names = tuple(names)


class SecretLike(Protocol):
    def get_secret_value(self) -> str: ...


CHANNEL_PREFIX = b"ritual-channel/v1\n"


def channel_target(key: bytes, url: str) -> str:
    """A stable id for a channel's real URL that reveals nothing of it: an HMAC under the link key.

    A plain hash of the URL let anyone holding the database test guessed passwords against it
    offline (the masked URL beside it gives away everything else). The HMAC is taken over the
    URL's sha256, the id rows carried before, so migration 0004 re-keys those rows without
    knowing any URL and their retries still find their channel.
    """
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()
    return hmac.new(key, CHANNEL_PREFIX + digest.encode("ascii"), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Channel:
    """One configured target. ``url`` is the secret; ``masked`` and ``target`` are safe to show."""

    tags: tuple[str, ...]
    url: SecretStr = field(repr=False)
    masked: str
    target: str  # channel_target() of the real URL: a stable id that reveals nothing of it
    scheme: str
    service: str  # Apprise's service name, e.g. "ntfy"
    source: str  # where it was configured: "apprise.yml", "people.alice[0]"
    problem: str | None = None  # why it cannot send; its sends fail permanently
    _plugin: Any = field(default=None, repr=False, compare=False)

    @property
    def buttons(self) -> bool:
        """Whether actions arrive as buttons (ntfy) rather than links in the body."""
        return self.scheme in BUTTON_SCHEMES


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
        import asyncio

        from scheduler.adapters.notify.send import send_each

        chosen = [channel if isinstance(channel, Channel) else self._own(channel) for channel in channels]
        return asyncio.run(send_each(chosen, messages, timeout=timeout))

    def _own(self, channel: Any) -> Channel:
        """This set's channel for a port-level one (matched by its target)."""
        for mine in self.channels:
            if mine.target == channel.target:
                return mine
        raise ValueError(f"channel {channel.masked} is not one of these channels")
