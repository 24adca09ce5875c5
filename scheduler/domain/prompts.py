"""A question for the talk: which question of a deck a ritual's nudges carry on a day. Pure.

A deck is a set of questions by kind of connection: the one shipped with ritual-scheduler
(``prompts = "deck"``) or a file of one's own, TOML (a list per kind) or text (a question
a line). A ritual is asked its own dimension's questions (all of them when there are none
of its kind). Each period of the ritual gets the next question of the deck in an order
shuffled once per ritual (by its name), so every nudge of one day (both people's, the
heads-up, the nag) carries the same question, and any run of periods as long as the deck
asks each question once: none comes again until the whole deck has been asked.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from scheduler.domain import cadence as cad
from scheduler.domain.definitions import CONNECTION_DIMENSIONS, Dimension
from scheduler.domain.errors import RitualError

ANY_KIND = "any"  # the questions of a text deck, asked of every ritual


class DeckError(RitualError):
    """A deck that cannot be used: missing, unreadable, empty, or not a deck at all."""


@dataclass(frozen=True, slots=True)
class Deck:
    source: str  # "deck" or the file's path, for messages
    questions: Mapping[str, tuple[str, ...]]  # kind -> questions, in the file's order

    def for_kind(self, dimension: Dimension) -> tuple[str, ...]:
        """The questions a ritual of ``dimension`` is asked: its kind's, else every one."""
        own = self.questions.get(str(dimension), ())
        return own or tuple(q for questions in self.questions.values() for q in questions)


def parse_deck(text: str, source: str) -> Deck:
    """A TOML deck (``emotional = ["...", ...]``) or a text one (a question a line, ``#`` comments)."""
    if source.endswith(".toml"):
        import tomllib

        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise DeckError(f"deck {source} is not valid TOML: {exc}") from None
        kinds = [str(kind) for kind in CONNECTION_DIMENSIONS]
        questions: dict[str, tuple[str, ...]] = {}
        for kind, items in document.items():
            if kind not in kinds:
                raise DeckError(f"deck {source}: unknown kind '{kind}' (the kinds: {', '.join(kinds)})")
            if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
                raise DeckError(f"deck {source}: {kind} must be a list of questions")
            questions[kind] = tuple(dict.fromkeys(item.strip() for item in items if item.strip()))
    else:
        lines = (line.strip() for line in text.splitlines())
        questions = {ANY_KIND: tuple(dict.fromkeys(q for q in lines if q and not q.startswith("#")))}
    if not any(questions.values()):
        raise DeckError(f"deck {source} holds no questions")
    return Deck(source, questions)


def load_deck(path: Path) -> Deck:
    """Read and parse a deck file; DeckError says what is wrong in one line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DeckError(f"no deck file {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DeckError(f"cannot read deck {path} ({exc})") from None
    return parse_deck(text, str(path))


def question_for(deck: Deck, name: str, dimension: Dimension, cadence: cad.Cadence, day: date) -> str:
    """The question of ritual ``name`` for the period holding ``day``."""
    order = list(deck.for_kind(dimension))
    random.Random(name).shuffle(order)  # one order per ritual, gone through period by period
    return order[period_number(cadence, day) % len(order)]


def period_number(cadence: cad.Cadence, day: date) -> int:
    """How many of the cadence's periods lie between the calendar's start and ``day``'s."""
    period = cad.period_of(cadence, day)
    if cadence.every is cad.Every.MONTH:
        return (period.start.year * 12 + period.start.month - 1) // cadence.interval
    return period.start.toordinal() // max(1, (period.end - period.start).days)
