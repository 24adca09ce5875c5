"""One channel: who it reaches, its masked URL, why it cannot send; and the errors of channels.

``Channel.url`` is the secret and never shown; ``masked`` and ``target`` are safe to print and store.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import SecretStr

from scheduler.domain.errors import RitualError

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
    URL's sha256, the id rows carried before, so migration 0005 re-keys those rows without
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

    @property
    def can_replace(self) -> bool:
        """Whether a delivered message can be replaced on the phones (ntfy's sequence ids)."""
        return self.scheme in BUTTON_SCHEMES
