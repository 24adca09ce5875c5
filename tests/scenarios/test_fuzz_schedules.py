"""Fuzzed cron and rrule strings: checking one, and planning a ritual that uses it, take bounded time.

An attack run found rrules that `ritual check` accepted and that then crashed (IndexError) or
wedged (a walk to the year 9999 at full CPU) every command and the daemon (issue 15). Hypothesis
writes rules from every part dateutil reads, with the values that once did that: BYSETPOS past
what a period holds, BYEASTER past its year, BYDAY ordinals past the period, parts that exclude
each other, huge counts and intervals, and junk. The properties:

- the ritual's definition (what `ritual check` and `ritual add` run per ritual) is read, or refused
  with a one-line DefinitionError naming ``cron`` or ``rrule``, within ``CHECK_SECONDS``;
- an accepted ritual is planned within ``PLAN_SECONDS``, for the windows the callers use (`ritual
  status`: 8 days, `ritual list` and the API: 40 days, the daemon: its first nudge in 40 days),
  and planning raises nothing but a ScheduleError;
- `ritual check` on a file of several fuzzed rituals answers within ``FILE_SECONDS``.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import example, given, note, settings
from hypothesis import strategies as st

from scheduler.adapters.clock import FakeClock
from scheduler.cli import App, main
from scheduler.domain.definitions import Ritual, ritual_from_table
from scheduler.domain.errors import DefinitionError, ScheduleError
from scheduler.domain.reminders import planned_nudges
from tests.scenarios.conftest import figures, profile, scaled

pytestmark = pytest.mark.slow

CHECK_SECONDS = 2.0  # checking one rule; before: up to minutes for a rule that never matches
PLAN_SECONDS = 3.0  # planning one accepted ritual for one window (every minute for 40 days fits)
FILE_SECONDS = 20.0  # `ritual check` of a whole fuzzed file, a process start included
NOW = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
ZONES = ["UTC", "Europe/Berlin", "America/St_Johns", "Australia/Lord_Howe", "Pacific/Kiritimati"]
ISSUE_RULES = [
    "FREQ=YEARLY;BYEASTER=400",
    "FREQ=MONTHLY;BYDAY=+53MO",
    "FREQ=HOURLY;BYSETPOS=-366",
    "FREQ=DAILY;BYSETPOS=2",
]

# --- rrule parts ---------------------------------------------------------------------------------

numbers = st.integers(-400, 400).map(str) | st.sampled_from(["0", "+1", "-1", "99999999999", "", "x", "1.5"])


def number_list(low: int, high: int) -> st.SearchStrategy[str]:
    """Comma lists of values in and around the part's range, signed or not."""
    value = st.integers(low, high).map(str) | st.integers(-high - 2, high + 2).map(str) | numbers
    return st.lists(value, min_size=1, max_size=4).map(",".join)


weekdays = st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU", "XX"])
byday = st.lists(
    st.tuples(st.none() | st.integers(-60, 60), weekdays, st.booleans()).map(
        lambda t: t[1] if t[0] is None else (f"{t[1]}({t[0]:+d})" if t[2] else f"{t[0]:+d}{t[1]}")
    ),
    min_size=1,
    max_size=3,
).map(",".join)
until = st.dates(date(1900, 1, 1), date(2100, 12, 31)).map(lambda d: f"{d:%Y%m%d}T000000Z")
PARTS: dict[str, st.SearchStrategy[str]] = {
    "INTERVAL": st.integers(1, 3000).map(str) | numbers,
    "COUNT": st.integers(1, 20_000).map(str) | numbers,
    "UNTIL": until,
    "WKST": weekdays,
    "BYMONTH": number_list(1, 12),
    "BYMONTHDAY": number_list(1, 31),
    "BYYEARDAY": number_list(1, 366),
    "BYWEEKNO": number_list(1, 53),
    "BYDAY": byday,
    "BYSETPOS": number_list(1, 366),
    "BYHOUR": number_list(0, 23),
    "BYMINUTE": number_list(0, 59),
    "BYSECOND": st.sampled_from(["0", "30"]),
    "BYEASTER": number_list(-100, 400),
}
FREQS = ["MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"]


@st.composite
def rrules(draw: st.DrawFn) -> str:
    freq = draw(st.sampled_from([*FREQS, *FREQS, "SECONDLY", "SOMETIMES"]))
    names = draw(st.lists(st.sampled_from(sorted(PARTS)), unique=True, max_size=4))
    parts = [f"FREQ={freq}", *(f"{name}={draw(PARTS[name])}" for name in names)]
    if draw(st.integers(0, 9)) == 0:  # now and then: junk where a part should be
        parts.insert(draw(st.integers(0, len(parts))), draw(st.text(max_size=12)))
    return ";".join(draw(st.permutations(parts)))


# --- cron fields ---------------------------------------------------------------------------------


def cron_field(low: int, high: int, names: list[str]) -> st.SearchStrategy[str]:
    """Mostly values in range, now and then one just outside it, a step of 0 or a bad name."""
    value = st.integers(low, high).map(str)
    single = value | value | st.sampled_from(["*", "*", *names, str(low - 1), str(high + 1)])
    ranged = st.tuples(st.integers(low, high), st.integers(low, high)).map(lambda t: f"{min(t)}-{max(t)}")
    stepped = st.tuples(single | ranged, st.integers(0, high)).map(lambda t: f"{t[0]}/{t[1]}")
    return st.lists(single | single | ranged | stepped, min_size=1, max_size=3).map(",".join)


MONTHS = ["jan", "feb", "jun", "dec", "nope"]
DAYS = ["mon", "fri", "sun", "fry"]
crons = st.tuples(
    cron_field(0, 59, []),
    cron_field(0, 23, []),
    cron_field(1, 31, []),
    cron_field(1, 12, MONTHS),
    cron_field(0, 7, DAYS),
).map(" ".join) | st.text(max_size=20)


# --- the properties ------------------------------------------------------------------------------

tables = st.fixed_dictionaries(
    {"timezone": st.sampled_from(ZONES)},
    optional={"start": st.dates(date(1990, 1, 1), date(2027, 12, 31)).map(date.isoformat)},
)


def timed_check(key: str, rule: str, table: dict[str, str]) -> Ritual | None:
    started = time.process_time()
    try:
        ritual = ritual_from_table({"name": "fuzz", key: rule, **table})
    except DefinitionError as error:
        assert "\n" not in str(error), error
        assert error.key is not None
        ritual = None
    elapsed = time.process_time() - started
    assert elapsed < CHECK_SECONDS, f"checking {rule!r} took {elapsed:.2f} s"
    return ritual


def timed_plans(ritual: Ritual) -> int:
    """Plan as `ritual status` (8 days), `ritual list` (40 days) and the daemon (the first nudge).

    Checking and planning only compute, so they are timed in this process's CPU seconds: a rule
    that wedges the planner burns them all the same, while a machine busy with other work does
    not make a bounded rule look slow (every minute for 40 days takes ~1.9 s on CI's cores)."""
    planned = 0
    for days, first_only in ((8, False), (40, False), (40, True)):
        started = time.process_time()
        nudges = planned_nudges(ritual.cadence, ritual.reminders, NOW, NOW + timedelta(days=days))
        try:
            found = [next(nudges, None)] if first_only else list(nudges)
        except ScheduleError as error:  # gave up on a rule that went too long without a match
            assert "\n" not in str(error) and error.key in ("cron", "rrule")
            found = []
        elapsed = time.process_time() - started
        assert elapsed < PLAN_SECONDS, f"planning {days} days took {elapsed:.2f} s"
        planned += len(found)
    return planned


def test_fuzzed_rrules_are_checked_and_planned_in_bounded_time() -> None:
    seen = {"accepted": 0, "refused": 0, "nudges": 0}

    @settings(profile(), deadline=None)
    @given(rrules(), tables)
    @example("FREQ=YEARLY;BYEASTER=400", {"timezone": "UTC"})
    @example("FREQ=MONTHLY;BYDAY=+53MO", {"timezone": "UTC"})
    @example("FREQ=HOURLY;BYSETPOS=-366", {"timezone": "UTC"})
    @example("FREQ=DAILY;BYSETPOS=2", {"timezone": "UTC"})
    @example("FREQ=DAILY;BYMONTH=2;BYYEARDAY=1", {"timezone": "UTC"})
    @example("FREQ=MINUTELY;COUNT=10000", {"timezone": "UTC", "start": "1990-01-01"})
    @example("FREQ=MINUTELY", {"timezone": "Europe/Berlin"})
    def run(rule: str, table: dict[str, str]) -> None:
        note(f"rrule: {rule!r}")
        ritual = timed_check("rrule", rule, table)
        seen["accepted" if ritual else "refused"] += 1
        if ritual is not None:
            seen["nudges"] += timed_plans(ritual)

    run()
    figures("fuzzed rrules", **seen)
    assert seen["accepted"] and seen["refused"], seen


def test_fuzzed_crons_are_checked_and_planned_in_bounded_time() -> None:
    seen = {"accepted": 0, "refused": 0, "nudges": 0}

    @settings(profile(), deadline=None)
    @given(crons, tables)
    @example("0 9 30 2 *", {"timezone": "UTC"})
    @example("* * * * *", {"timezone": "Australia/Lord_Howe"})
    def run(rule: str, table: dict[str, str]) -> None:
        note(f"cron: {rule!r}")
        ritual = timed_check("cron", rule, table)
        seen["accepted" if ritual else "refused"] += 1
        if ritual is not None:
            seen["nudges"] += timed_plans(ritual)

    run()
    figures("fuzzed crons", **seen)
    assert seen["accepted"] and seen["refused"], seen


def test_ritual_check_of_a_fuzzed_file_answers_in_bounded_time(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The whole command, as a person runs it: settings, the file, the store, every ritual."""
    home = tmp_path_factory.mktemp("home")
    config = home / "config"
    config.mkdir()
    env = {"RITUAL_CONFIG_DIR": str(config), "RITUAL_DATA_DIR": str(home / "data"), "RITUAL_TIMEZONE": "UTC"}

    @settings(profile(), max_examples=scaled(25, 500), deadline=None)
    @given(st.lists(st.tuples(st.sampled_from(["rrule", "cron"]), rrules() | crons), min_size=1, max_size=5))
    def run(rules: list[tuple[str, str]]) -> None:
        blocks = [
            f'[[ritual]]\nname = "r{index}"\n{key} = {_toml(rule)}\n'
            for index, (key, rule) in enumerate(rules)
        ]
        (config / "rituals.toml").write_text("\n".join(blocks), encoding="utf-8")
        started = time.monotonic()
        result = CliRunner().invoke(main, ["check"], obj=App(clock=FakeClock(NOW)), env=env)
        elapsed = time.monotonic() - started
        assert elapsed < FILE_SECONDS, f"`ritual check` took {elapsed:.1f} s"
        assert result.exit_code in (0, 1), (result.output, result.exception)
        if result.exit_code == 1:
            errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
            assert errors and all(str(config / "rituals.toml") in line for line in errors), result.stderr

    run()


def _toml(text: str) -> str:
    """A TOML basic string of any text (control characters escaped)."""
    escaped = "".join(
        f"\\u{ord(char):04X}" if ord(char) < 0x20 or ord(char) == 0x7F or char in '"\\' else char
        for char in text
    )
    return f'"{escaped}"'


def test_the_issue_rules_are_refused_in_a_file_at_their_line(tmp_path: Path) -> None:
    from scheduler.domain.definitions import parse_ritual_file
    from scheduler.domain.errors import RitualFileError

    for rule in ISSUE_RULES:
        text = f'[[ritual]]\nname = "talk"\nat = "20:30"\n\n[[ritual]]\nname = "x"\nrrule = "{rule}"\n'
        with pytest.raises(RitualFileError) as caught:
            parse_ritual_file(text, str(tmp_path / "rituals.toml"))
        assert str(caught.value).startswith(f"{tmp_path / 'rituals.toml'}:7: ritual 'x': not a valid rrule: ")
