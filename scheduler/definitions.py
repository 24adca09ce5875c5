"""The ritual file and ritual definitions: parsing and validation, pure.

One parser serves the file, ``ritual add``/``edit`` and the store (which keeps
each ritual as the normalized table this module writes), so every path through
the house validates the same way and says what is wrong the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from scheduler.cadence import Cadence
from scheduler.reminders import Reminders


class Dimension(StrEnum):
    """The seed article's five kinds of connection, plus rituals for yourself and the rest."""

    EMOTIONAL = "emotional"
    PHYSICAL = "physical"
    INTELLECTUAL = "intellectual"
    EXPERIENTIAL = "experiential"
    SPIRITUAL = "spiritual"
    SELF = "self"
    OTHER = "other"


CONNECTION_DIMENSIONS = (
    Dimension.EMOTIONAL,
    Dimension.PHYSICAL,
    Dimension.INTELLECTUAL,
    Dimension.EXPERIENTIAL,
    Dimension.SPIRITUAL,
)


class CompleteWhen(StrEnum):
    EITHER = "either"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class Ritual:
    name: str
    title: str
    cadence: Cadence
    reminders: Reminders
    description: str = ""
    dimension: Dimension = Dimension.OTHER
    notify: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    complete_when: CompleteWhen = CompleteWhen.EITHER
    start: date | None = None
    end: date | None = None
    discreet: bool = False
    freezes_per_month: int = 0


@dataclass(frozen=True, slots=True)
class RitualFile:
    path: str
    rituals: tuple[Ritual, ...]
    lines: Mapping[str, int]  # ritual name -> line of its [[ritual]] header


def parse_ritual_file(text: str, path: str, *, fallback_timezone: str = "UTC") -> RitualFile:
    """Parse and validate a whole ritual file; raise RitualFileError naming path, line and ritual."""
    raise NotImplementedError


def load_ritual_file(path: Path, *, fallback_timezone: str = "UTC") -> RitualFile:
    """Read and parse ``path``; unreadable or missing files raise RitualFileError too."""
    raise NotImplementedError


def ritual_from_table(
    table: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
    *,
    fallback_timezone: str = "UTC",
) -> Ritual:
    """Validate one ``[[ritual]]`` table (defaults applied first); raise DefinitionError(key, msg)."""
    raise NotImplementedError


def ritual_to_table(ritual: Ritual) -> dict[str, Any]:
    """The normalized, TOML- and JSON-able table of a ritual; ritual_from_table reads it back equal."""
    raise NotImplementedError


def cadence_to_table(cadence: Cadence) -> dict[str, Any]:
    """The cadence keys alone (every, interval, times, on, timezone, day_starts_at, week_starts, start)."""
    raise NotImplementedError


def cadence_from_table(table: Mapping[str, Any]) -> Cadence:
    raise NotImplementedError
