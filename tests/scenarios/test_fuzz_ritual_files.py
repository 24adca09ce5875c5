"""Fuzzed ritual files: every file loads, or is refused with one line naming the file and the line.

Hypothesis writes whole ritual files: plausible ones, ones with wrong types, extreme values
(huge numbers, year 1 and 9999, zero and enormous durations), odd time zones, unicode, empty
and nested tables, inline arrays instead of [[ritual]], and then breaks some of them (cut off,
junk inserted, lines doubled, CRLF, a BOM, bytes that are not UTF-8). The property is the one
the design promises for bad input: ``load_ritual_file`` returns, or raises a RitualError whose
message is one line, starts with the file's path and, when the file has lines, names one of
them. Never another exception, never a hang (the profile's deadline).

The CLI path runs too: ``ritual check`` on a fuzzed file exits 1 with that same one line on
stderr when the file is bad, and the database is left exactly as it was.
"""

from __future__ import annotations

import math
import re
import string
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, note, settings
from hypothesis import strategies as st

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.store import SqlStore
from scheduler.app.service import RitualService
from scheduler.cli import App, main
from scheduler.domain.definitions import (
    DEFAULT_KEYS,
    FIRST_DATE,
    LAST_DATE,
    RITUAL_KEYS,
    Dimension,
    RitualFile,
    load_ritual_file,
    parse_ritual_file,
)
from scheduler.domain.errors import DefinitionError, RitualError, RitualFileError
from tests.conftest import NOW, RitualCli, snapshot
from tests.scenarios.conftest import figures, profile, scaled
from tests.support.daemon import InProcess, wait_for

pytestmark = pytest.mark.slow

# --- values ----------------------------------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/Berlin",
    "Pacific/Kiritimati",  # +14
    "Pacific/Chatham",  # +12:45 / +13:45
    "Asia/Kathmandu",  # +5:45
    "America/St_Johns",  # -3:30 with DST
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "Antarctica/Troll",  # a 2-hour DST shift
    "Etc/GMT+12",
    "America/Sao_Paulo",  # DST abolished; old rules in the data
    "Africa/Casablanca",  # Ramadan DST
]
BAD_ZONES = [
    "",
    " ",
    "Mars/Olympus_Mons",
    "europe/berlin",
    "Europe//Berlin",
    "../../../etc/passwd",
    "/etc/localtime",
    "UTC\x00",
    "Europe/Berlin\n",
    "Z" * 300,
    "+02:00",
    "GMT+2",
    "Europe/Berlin ",
]
DURATIONS = [
    "90m",
    "1d",
    "1h30m",
    "1w2d3h4m",
    " 2h ",
    "0m",
    "1s",
    "-5m",
    "367d",
    "53w",
    "3000000d",
    "400000w",
    "106751991d",
    "999999999w",
    "9" * 40 + "m",
    "90m\nsoon",
    "1 h",
    "m",
    "1H",
]
CLOCK_TIMES = [
    "20:30",
    "7:05",
    "00:00",
    "23:59",
    "24:00",
    "20:60",
    "8pm",
    "20:30:15",
    "２０:３０",
    "",
    "20:\n30",
]
CRONS = [
    "30 20 * * mon-fri",
    "*/15 * * * *",
    "0 0 31 2 *",
    "0 0 29 2 *",  # valid ones above this line (good() takes four); Feb 31 never comes
    "61 * * * *",
    "* * * *",
    "0 0 * * 7",
    "0 0 1-31/2 * *",
    "0 0 * * fri-sun",
    "0 0 5-1 * *",
    "0 0 */0 * *",
    "0 0 * * ５",
]
RRULES = [
    "FREQ=WEEKLY;BYDAY=FR",
    "FREQ=DAILY;INTERVAL=3",
    "FREQ=MONTHLY;BYMONTHDAY=31",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",  # valid ones above this line (good() takes four)
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=SECONDLY",
    "FREQ=MINUTELY;INTERVAL=1",
    "RRULE:FREQ=DAILY",
    "DTSTART:20260101T000000\nRRULE:FREQ=DAILY",
    "FREQ=DAILY;COUNT=0",
    "FREQ=DAILY;UNTIL=19000101",
    "FREQ=WEEKLY;BYDAY=XX",
    "FREQ=DAILY;BYHOUR=25",
]
ON_WORDS: list[object] = [
    "mon",
    "fri",
    "mon, wed",
    "first sat",
    "last",
    "last fri",
    "second tue",
    "5th mon",
    "15",
    15,
    [1, 15],
    "31",
    "32",
    "0",
    -1,
    2**64,
    "fryday",
    ["mon", "mon"],
    ["mon", 3],
    "",
    [],
]
DATES = ["2026-02-29", "2024-02-29", "9999-12-31", "9999-12-30", "0001-01-01", "1899-12-31", "3000-01-01"]
DATES += ["2026-13-01", "2026-1-5", " 2026-01-05 "]
HUGE = st.sampled_from([2**63 - 1, 2**63, -(2**63), 2**64 + 1, 10**40, -(10**40)])


def sometimes(
    rare: st.SearchStrategy[Any], usual: st.SearchStrategy[Any], one_in: int
) -> st.SearchStrategy[Any]:
    """``rare`` about once in ``one_in`` draws (hypothesis favours small and edge values, so the
    rare branch sits in the middle of the range, not at 0)."""
    return st.integers(0, one_in - 1).flatmap(lambda n: rare if n == one_in // 2 else usual)


SLUG = st.from_regex(r"[a-z0-9][a-z0-9-]{0,12}", fullmatch=True)
CLOCK = st.times().map(lambda t: f"{t.hour}:{t.minute:02d}" if t.second % 2 else f"{t:%H:%M}")
DURATION = st.one_of(  # up to the longest the parser takes: 366 days
    st.integers(1, 366 * 24 * 60).map(lambda n: f"{n}m"),
    st.tuples(st.integers(0, 51), st.integers(0, 6), st.integers(0, 23), st.integers(1, 59)).map(
        lambda p: f"{p[0]}w{p[1]}d{p[2]}h{p[3]}m"
    ),
    st.sampled_from(["90m", "1d", "2h", "1w", "366d", "52w2d"]),
)
DATE = st.dates(FIRST_DATE, LAST_DATE)  # the range the parser takes; years 1 and 9999 are mistakes
WEEKDAY = st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun", "Monday", "SUNDAY"])


def good(key: str) -> st.SearchStrategy[object]:
    """Values ``key`` accepts (alone: combinations may still clash), extremes included."""
    choices: dict[str, st.SearchStrategy[object]] = {
        "name": SLUG,
        "title": st.text(min_size=1, max_size=30).filter(lambda t: t.strip() != "" and t.isprintable()),
        "description": st.text(max_size=40),
        "dimension": st.sampled_from([str(d) for d in Dimension]),
        "every": st.sampled_from(["day", "week", "month"]),
        "interval": st.integers(1, 52),
        "times": st.integers(1, 100),
        "on": st.one_of(WEEKDAY, st.lists(WEEKDAY, max_size=3, unique=True)),
        "at": st.one_of(CLOCK, st.lists(CLOCK, min_size=1, max_size=4)),
        "cron": st.sampled_from(CRONS[:4]),
        "rrule": st.sampled_from(RRULES[:4]),
        "timezone": st.sampled_from(ZONES),
        "day_starts_at": CLOCK,
        "week_starts": WEEKDAY,
        "remind_before": DURATION,
        "nag_after": DURATION,
        "catch_up_grace": DURATION,
        "quiet_hours": st.tuples(CLOCK, CLOCK).filter(lambda p: p[0] != p[1]).map("-".join),
        "notify": st.one_of(SLUG, st.lists(SLUG, max_size=3)),
        "people": st.one_of(SLUG, st.lists(SLUG, max_size=3)),
        "complete_when": st.just("either"),
        "start": st.one_of(DATE, DATE.map(date.isoformat)),
        "end": st.one_of(DATE, DATE.map(date.isoformat)),
        "discreet": st.booleans(),
        "freezes_per_month": st.integers(0, 31),
    }
    return choices.get(key, st.nothing())


def plausible(key: str) -> st.SearchStrategy[object]:
    """Mistakes a person might make with ``key``: near misses, wrong units, out of range."""
    choices: dict[str, st.SearchStrategy[object]] = {
        "name": st.sampled_from(["x" * 48, "x" * 49, "Talk", "", "-x", "päß", "a b", "talk\n"]),
        "title": st.sampled_from(["  ", "", "line\nbreak", "tab\there", "\u202e", "\x00"]),
        "description": st.just("\x00\x1b[31m\u2028"),
        "dimension": st.sampled_from(["Emotional", "love", ""]),
        "every": st.sampled_from(["year", "Day", "fortnight", "days"]),
        "interval": st.one_of(st.integers(-2, 0), st.integers(53, 60), HUGE),
        "times": st.one_of(st.integers(-1, 0), st.just(101), HUGE),
        "on": st.sampled_from(ON_WORDS),
        "at": st.one_of(st.sampled_from(CLOCK_TIMES), st.lists(st.sampled_from(CLOCK_TIMES), max_size=4)),
        "cron": st.sampled_from(CRONS),
        "rrule": st.sampled_from(RRULES),
        "timezone": st.sampled_from(BAD_ZONES),
        "day_starts_at": st.sampled_from(CLOCK_TIMES),
        "week_starts": st.sampled_from(["7", 0, "sonntag", "mo", ""]),
        "remind_before": st.sampled_from(DURATIONS),
        "nag_after": st.sampled_from(DURATIONS),
        "catch_up_grace": st.sampled_from(DURATIONS),
        "quiet_hours": st.sampled_from(["07:00-07:00", "22:00", "23:00-24:00", "a-b", "-", "22:00 - 07:00"]),
        "notify": st.sampled_from(["Ann", [""], [1], ",,", ["ann", ["ben"]]]),
        "people": st.sampled_from(["Ann Smith", ["ann", 2], "ann;ben"]),
        "complete_when": st.sampled_from(["both", "all", "Either"]),
        "start": st.sampled_from(DATES),
        "end": st.sampled_from(DATES),
        "discreet": st.sampled_from(["yes", 1, "true"]),
        "freezes_per_month": st.sampled_from([32, -1, 2**70]),
    }
    return choices.get(key, st.nothing())


AWARE = st.datetimes(
    timezones=st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
)
SCALARS: st.SearchStrategy[object] = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=string.printable, max_size=12),
    st.integers(),
    HUGE,
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(),
    st.times(),
    st.datetimes(),
    AWARE,
)
ANYTHING: st.SearchStrategy[object] = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=8), inner, max_size=3),
    ),
    max_leaves=6,
)
ODD_KEYS = st.one_of(
    st.sampled_from(["evry", "Name", "", "ñame", "name ", "ritual", "defaults", "on.x", "a\nb", "\u2028"]),
    st.text(max_size=10),
)
KEY_NAMES = sometimes(ODD_KEYS, st.sampled_from(RITUAL_KEYS), 8)
# [defaults] takes fewer keys; a ritual-only key there now and then is a mistake worth making.
DEFAULT_KEY_NAMES = sometimes(KEY_NAMES, st.sampled_from(DEFAULT_KEYS), 20)


def value_of(key: str) -> st.SearchStrategy[object]:
    """Mostly a good value, sometimes a likely mistake, now and then anything at all."""
    if key not in RITUAL_KEYS:
        return ANYTHING
    return st.integers(0, 19).flatmap(
        lambda n: good(key) if n < 13 else plausible(key) if n < 18 else ANYTHING
    )


@st.composite
def ritual_table(draw: st.DrawFn, *, defaults: bool = False) -> dict[str, object]:
    table: dict[str, object] = {}
    if not defaults and draw(sometimes(st.just(False), st.just(True), 12)):
        table["name"] = draw(value_of("name"))
    for key in draw(st.lists(DEFAULT_KEY_NAMES if defaults else KEY_NAMES, max_size=6, unique=True)):
        table[key] = draw(value_of(key))
    return table


@dataclass(frozen=True)
class Document:
    defaults: dict[str, object] | None
    rituals: list[dict[str, object]]
    top: dict[str, object]  # keys before any table: mostly mistakes
    inline_rituals: bool  # ritual = [{...}] instead of [[ritual]]
    inline_defaults: bool
    comments: bool


DOCUMENTS = st.builds(
    Document,
    defaults=st.one_of(st.none(), ritual_table(defaults=True)),
    rituals=sometimes(st.just([]), st.lists(ritual_table(), min_size=1, max_size=4), 10),
    top=sometimes(st.dictionaries(ODD_KEYS, ANYTHING, min_size=1, max_size=2), st.just({}), 8),
    inline_rituals=sometimes(st.just(True), st.just(False), 8),
    inline_defaults=sometimes(st.just(True), st.just(False), 8),
    comments=st.booleans(),
)


# --- writing TOML ----------------------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_string(text: str, style: int = 0) -> str:
    """A TOML string: basic (escaped), or literal when it can be (style 1), so both readers run."""
    if style == 1 and "'" not in text and all(c == "\t" or (c >= " " and c != "\x7f") for c in text):
        return f"'{text}'"
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char < " " or char == "\x7f":
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


def toml_value(value: object, style: int = 0) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return hex(value) if style == 1 and value >= 0 else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value, style)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item, style) for item in value) + "]"
    if isinstance(value, dict):
        return inline_table(value, style)
    raise TypeError(f"no TOML for {value!r}")


def inline_table(table: dict[str, Any], style: int = 0) -> str:
    items = ", ".join(f"{toml_key(k)} = {toml_value(v, style)}" for k, v in table.items())
    return "{ " + items + " }" if items else "{}"


def render(document: Document, style: int) -> str:
    lines: list[str] = []
    comment = "  # a comment" if document.comments else ""
    for key, value in document.top.items():
        lines.append(f"{toml_key(key)} = {toml_value(value, style)}")
    if document.defaults is not None and document.inline_defaults:
        lines.append(f"defaults = {inline_table(document.defaults, style)}")
    if document.rituals and document.inline_rituals:
        lines.append("ritual = [" + ", ".join(inline_table(t, style) for t in document.rituals) + "]")
    if document.defaults is not None and not document.inline_defaults:
        lines += ["", f"[defaults]{comment}"]
        lines += [f"{toml_key(k)} = {toml_value(v, style)}" for k, v in document.defaults.items()]
    if not document.inline_rituals:
        for table in document.rituals:
            lines += ["", f"[[ritual]]{comment}"]
            lines += [f"{toml_key(k)} = {toml_value(v, style)}{comment}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


# --- breaking it -----------------------------------------------------------------------------------

JUNK = ['"', "'", "[", "]", "=", "\n", "#", "\x00", "\\", '"""', "\r", "{", "}", ",", "\ufeff", "ü", "\u2028"]
JUNK += ["[[ritual]]\n", "[defaults]\n", "= =", "\t", "name = ", "\n[[ritual]]\nname = 'x'\n", "0x", "1e999"]


@st.composite
def broken(draw: st.DrawFn, text: str) -> tuple[str, str]:
    """The text, possibly damaged; and what was done to it, for the failure report."""
    how = draw(st.sampled_from(["intact"] * 5 + ["cut", "junk", "delete", "double", "crlf", "bom", "cr"]))
    at = draw(st.integers(0, len(text)))
    if how == "cut":
        return text[:at], how
    if how == "junk":
        return text[:at] + draw(st.sampled_from(JUNK)) + text[at:], how
    if how == "delete":
        return text[:at] + text[at + draw(st.integers(1, 5)) :], how
    if how == "double":
        lines = text.split("\n")
        index = draw(st.integers(0, len(lines) - 1))
        return "\n".join(lines[: index + 1] + lines[index:]), how
    if how == "crlf":
        return text.replace("\n", "\r\n"), how
    if how == "bom":
        return "\ufeff" + text, how
    if how == "cr":
        return text.replace("\n", "\r", 1), how
    return text, how


@st.composite
def ritual_files(draw: st.DrawFn) -> tuple[bytes, str]:
    """The bytes of a fuzzed ritual file, and a label of how it was made."""
    document = draw(DOCUMENTS)
    text, how = draw(broken(render(document, draw(st.integers(0, 1)))))
    data = text.encode("utf-8", errors="surrogatepass")
    if draw(sometimes(st.just(True), st.just(False), 20)):  # not UTF-8 at some byte
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe2\x82"])) + data[at:]
        how += "+bad-utf8"
    return data, how


# --- the property ----------------------------------------------------------------------------------


def line_count(data: bytes) -> int:
    """Lines as the parser counts them (by newline), after a BOM."""
    return data.count(b"\n") + 1


def check_refusal(error: RitualError, path: Path, data: bytes) -> None:
    """The contract of a refused file: one line, naming the file and (there are lines) a line."""
    message = str(error)
    assert isinstance(error, RitualFileError), (type(error), message)
    assert message.strip(), "an empty message"
    assert len(message.splitlines()) == 1, f"not one line: {message!r}"
    assert message.startswith(f"{path}:"), f"does not name the file first: {message!r}"
    assert error.line is not None, f"no line number: {message!r}"
    assert 1 <= error.line <= line_count(data), f"line {error.line} outside the file: {message!r}"
    assert message.startswith(f"{path}:{error.line}: "), message


@dataclass(frozen=True)
class Outcome:
    loaded: RitualFile | None
    refusal: RitualError | None


def fuzz_once(path: Path, data: bytes) -> Outcome:
    """Write and load the file; anything but a RitualError escaping fails the test."""
    path.write_bytes(data)
    try:
        loaded = load_ritual_file(path, fallback_timezone="Europe/Berlin")
    except RitualError as exc:
        check_refusal(exc, path, data)
        return Outcome(None, exc)
    # What loads has real values: a name per ritual, each name once.
    names = [ritual.name for ritual in loaded.rituals]
    assert len(set(names)) == len(names)
    assert set(loaded.lines) == set(names)
    return Outcome(loaded, None)


def summary(message: str) -> str:
    """What a refusal is about, without path, line, quoted values and numbers."""
    return re.sub(r"'[^']*'|\d+", "_", message.split(": ", 1)[-1])[:48]


@pytest.mark.timeout(scaled(120, 3600))
def test_every_fuzzed_file_loads_or_is_refused_in_one_line(tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "rituals.toml"
    damage: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    refusals: Counter[str] = Counter()

    @settings(profile())
    @given(ritual_files())
    def run(case: tuple[bytes, str]) -> None:
        data, how = case
        note(f"how: {how}; file: {data!r}")
        outcome = fuzz_once(path, data)
        damage[how] += 1
        if outcome.refusal is None:
            outcomes["loaded"] += 1
            outcomes["rituals loaded"] += len(outcome.loaded.rituals) if outcome.loaded else 0
        else:
            outcomes["refused"] += 1
            refusals[summary(str(outcome.refusal))] += 1

    run()
    figures(
        "fuzzed ritual files",
        examples=sum(damage.values()),
        loaded=f"{outcomes['loaded']} files, {outcomes['rituals loaded']} rituals",
        refused_in_one_line=outcomes["refused"],
        damage=dict(damage.most_common()),
        kinds_of_refusal=len(refusals),
        commonest_refusals=[m for m, _ in refusals.most_common(6)],
    )
    assert outcomes["loaded"] > 0 and outcomes["refused"] > 0, outcomes


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('[[ritual]]\nname = "talk"\nnag_after = "90m\\nsoon"\n', id="duration"),
        pytest.param('[[ritual]]\nname = "talk"\nat = "20:\\n30"\n', id="time-of-day"),
        pytest.param('[[ritual]]\nname = "talk"\nquiet_hours = "22:00-07:\\n00"\n', id="quiet-hours"),
        pytest.param('[[ritual]]\nname = "talk"\n"every\\n" = "day"\n', id="unknown-key"),
        pytest.param('"a\\nb" = 1\n', id="unknown-top-level-key"),
    ],
)
def test_an_escaped_newline_in_a_bad_value_still_gives_one_line(text: str) -> None:
    with pytest.raises(RitualFileError) as caught:
        parse_ritual_file(text, "rituals.toml")
    assert str(caught.value).startswith("rituals.toml:")
    assert len(str(caught.value).splitlines()) == 1, str(caught.value)
    assert "\\n" in str(caught.value), str(caught.value)  # shown escaped, as it was written


# --- the CLI ---------------------------------------------------------------------------------------


def invoke(cli: RitualCli, *args: str) -> Result:
    """A `ritual` command as RitualCli runs it, with the exit code left to the caller."""
    env = {name: value or None for name, value in cli.env.items()}
    return CliRunner().invoke(main, list(args), obj=App(clock=cli.clock), env=env)


@pytest.mark.timeout(scaled(120, 3600))
def test_ritual_check_refuses_a_fuzzed_file_with_one_line_and_stores_nothing(tmp_path: Path) -> None:
    cli = RitualCli(tmp_path, FakeClock(NOW))
    cli("init")
    path = cli.config / "rituals.toml"
    outcomes: Counter[str] = Counter()

    @settings(profile(), max_examples=scaled(30, 1_000), deadline=timedelta(seconds=10))
    @given(ritual_files())
    def run(case: tuple[bytes, str]) -> None:
        data, how = case
        note(f"how: {how}; file: {data!r}")
        outcome = fuzz_once(path, data)
        before = snapshot(cli.database)
        result = cli("check", code=1 if outcome.refusal else 0)
        if outcome.loaded is not None:
            assert result.stderr == "", result.stderr
            assert result.stdout.startswith("ok: "), result.stdout
            outcomes["ok"] += 1
            # What `check` accepted (and stored) can be used: listed, and its streaks shown.
            for command in (["list", "--json"], ["streaks", "--json"]):
                used = invoke(cli, *command)
                assert used.exit_code == 0, (command, used.output, used.exception)
            return
        # The error the parser gave, once, and nothing else on stderr.
        assert result.stderr == f"error: {outcome.refusal}\n", result.stderr
        assert result.stdout.startswith("failed: "), result.stdout
        assert snapshot(cli.database) == before, "a refused file changed the database"
        outcomes["refused"] += 1

    run()
    figures(
        "ritual check on fuzzed files",
        runs=sum(outcomes.values()),
        exit_0_and_usable=outcomes["ok"],
        exit_1_one_line_db_untouched=outcomes["refused"],
    )
    assert outcomes["refused"] > 0 and outcomes["ok"] > 0, outcomes


# Off the calendar: a weekly or monthly period from the last days of 9999 ends in year 10000, and a
# reminder thousands of years before or after its time has no date. `check` refuses them, naming the
# key; the last values it takes (a start in 2999, durations of a year) work in every command.
OFF_THE_CALENDAR = [
    pytest.param('every = "week"\nstart = 9999-12-30', "streaks", "start", id="weekly-from-9999-12-30"),
    pytest.param('every = "month"\nstart = 9999-12-30', "show", "start", id="monthly-from-9999-12-30"),
    pytest.param('remind_before = "3000000d"', "list", "remind_before", id="remind-before-8000-years"),
    pytest.param('nag_after = "400000w"', "status", "nag_after", id="nag-after-7700-years"),
    pytest.param('every = "week"\nstart = 2999-12-31', "streaks", None, id="weekly-from-2999-12-31"),
    pytest.param('every = "month"\nstart = 2999-12-31', "show", None, id="monthly-from-2999-12-31"),
    pytest.param('every = "week"\ninterval = 52\nend = 2999-12-31', "report", None, id="weekly-until-2999"),
    pytest.param('remind_before = "366d"', "list", None, id="remind-before-a-year"),
    pytest.param('nag_after = "52w2d"', "status", None, id="nag-after-a-year"),
]


@pytest.mark.parametrize(("ritual", "command", "refused"), OFF_THE_CALENDAR)
def test_what_check_accepts_can_be_listed_and_reported(
    tmp_path: Path, ritual: str, command: str, refused: str | None
) -> None:
    cli = RitualCli(tmp_path, FakeClock(NOW))
    cli.config.mkdir(parents=True)
    (cli.config / "rituals.toml").write_text(
        f'[[ritual]]\nname = "x"\nat = "20:30"\n{ritual}\n', encoding="utf-8"
    )
    checked = invoke(cli, "check")
    if refused is not None:  # in one line naming the file, the line and the key (the last line)
        assert checked.exit_code == 1, checked.output
        where = f"error: {cli.config / 'rituals.toml'}:{4 + ritual.count(chr(10))}: ritual 'x'"
        assert checked.stderr.startswith(f"{where}: {refused} must be "), checked.stderr
        assert len(checked.stderr.splitlines()) == 1
        return
    assert checked.exit_code == 0, (checked.output, checked.exception)
    args = [command, "x"] if command == "show" else [command]
    used = invoke(cli, *args)
    assert used.exit_code == 0, (used.output, used.exception)


def test_the_daemon_starts_with_every_ritual_check_accepts(tmp_path: Path) -> None:
    """remind_before = '3000000d' once got past `ritual add` and killed `ritual run` at start
    (OverflowError in the start-up reconcile); now it is refused, and the longest taken runs."""
    daemon = InProcess(tmp_path, datetime(2031, 5, 5, 5, 0, tzinfo=UTC))
    store = SqlStore.open(daemon.settings.database)
    service = RitualService(store, daemon.clock, ritual_file=Path("/nonexistent"), default_timezone="UTC")
    with pytest.raises(DefinitionError) as caught:
        service.add({"name": "far-ahead", "at": "20:30", "timezone": "UTC", "remind_before": "3000000d"})
    assert caught.value.key == "remind_before"
    year = "366d"
    service.add(
        {"name": "far-ahead", "at": "20:30", "timezone": "UTC", "remind_before": year, "nag_after": year}
    )
    service.add({"name": "talk", "at": "09:00", "timezone": "UTC"})
    store.close()
    died: list[BaseException] = []

    def run() -> None:
        try:
            daemon.daemon.run()
        except BaseException as exc:  # reported below, not as an unhandled thread exception
            died.append(exc)

    daemon.thread = threading.Thread(target=run)
    daemon.thread.start()
    try:
        wait_for(
            lambda: died or (daemon.daemon._scheduler is not None and daemon.daemon._scheduler.running), 20
        )
        assert died == [], died
    finally:
        daemon.daemon.request_stop()
        daemon.thread.join(timeout=20)
