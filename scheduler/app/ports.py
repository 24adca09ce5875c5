"""The ports: what the use cases need from the world, as small interfaces.

Adapters implement them (the SQL store, the system clock, the Apprise channels);
tests hand in fakes. Nothing here names a library.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """Something that says what time it is, always as an aware UTC datetime."""

    def now(self) -> datetime: ...
