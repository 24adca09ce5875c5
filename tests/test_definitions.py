"""The ritual file: what it accepts, what it refuses and the one line it says about it."""

from __future__ import annotations

import json
import textwrap
import tomllib
from dataclasses import replace
from datetime import date, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.domain.cadence import (
    Cadence,
    DayOfMonth,
    DueDay,
    Every,
    NthWeekday,
    Weekday,
    parse_due_days,
    period_of,
)
from scheduler.domain.definitions import (
    CONNECTION_DIMENSIONS,
    FIRST_DATE,
    LAST_DATE,
    CompleteWhen,
    Dimension,
    Ritual,
    RitualFile,
    cadence_from_table,
    cadence_to_table,
    load_ritual_file,
    parse_ritual_file,
    render_ritual_toml,
    ritual_from_table,
    ritual_to_table,
    toml_too_deep,
)
from scheduler.domain.errors import DefinitionError, RitualFileError
from scheduler.domain.reminders import Reminders, check_rrule

ROOT = Path(__file__).resolve().parent.parent
NOT_CONTROL = dict.fromkeys([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
CONFIG_EXAMPLE = ROOT / "config" / "rituals.example.toml"
PACKAGE_EXAMPLE = ROOT / "scheduler" / "examples" / "rituals.example.toml"


def parse(text: str, fallback_timezone: str = "UTC") -> RitualFile:
    """Parse a test file written as an indented triple-quoted string; its first line is line 1."""
    return parse_ritual_file(
        textwrap.dedent(text).lstrip("\n"), "rituals.toml", fallback_timezone=fallback_timezone
    )


def only(text: str, fallback_timezone: str = "UTC") -> Ritual:
    (ritual,) = parse(text, fallback_timezone).rituals
    return ritual


# --- files that are refused, and exactly what they are told ---------------------------------------

LONG_NAME = "a" * 49


def rrule_error(expression: str) -> str:
    """The reminders module owns the wording of rrule errors; the file only places them."""
    with pytest.raises(ValueError) as caught:
        check_rrule(expression)
    return str(caught.value)


BAD_FILES = [
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        every = day
        """,
        "rituals.toml:3: not valid TOML: invalid value",
        id="toml-syntax-error",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        at = ["20:30"
        """,
        "rituals.toml:3: not valid TOML: unclosed array",
        id="toml-error-at-end-of-document",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        name = "talk"
        """,
        "rituals.toml:3: not valid TOML: cannot overwrite a value",
        id="toml-key-given-twice",
    ),
    pytest.param(
        """
        # my rituals
        title = "ours"

        [[ritual]]
        name = "walk"
        """,
        "rituals.toml:2: unknown top-level key 'title' (expected [defaults] and [[ritual]])",
        id="unknown-top-level-key",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"

        [[rituals]]
        name = "talk"
        """,
        "rituals.toml:4: unknown top-level key 'rituals' (expected [defaults] and [[ritual]])",
        id="unknown-top-level-table",
    ),
    pytest.param(
        """
        [ritual]
        name = "walk"
        """,
        "rituals.toml:1: each ritual must be its own table: write [[ritual]]",
        id="ritual-as-single-table",
    ),
    pytest.param(
        """
        [[defaults]]
        timezone = "UTC"
        """,
        "rituals.toml:1: defaults must be one table: write [defaults]",
        id="defaults-as-array",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"

        [[ritual]]
        title = "Talk"
        """,
        "rituals.toml:4: ritual #2: name is required",
        id="name-missing",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "Date Night"
        """,
        "rituals.toml:2: ritual #1: name must be a lowercase slug (letters, digits, '-'): 'Date Night'",
        id="name-not-a-slug",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "-walk"
        """,
        "rituals.toml:2: ritual #1: name must be a lowercase slug (letters, digits, '-'): '-walk'",
        id="name-starts-with-dash",
    ),
    pytest.param(
        f"""
        [[ritual]]
        name = "{LONG_NAME}"
        """,
        f"rituals.toml:2: ritual #1: name must be a lowercase slug (letters, digits, '-'): "
        f"'{LONG_NAME[:37]}...'",
        id="name-longer-than-48",
    ),
    pytest.param(
        """
        [[ritual]]
        name = 7
        """,
        "rituals.toml:2: ritual #1: name must be a lowercase slug (letters, digits, '-'): 7",
        id="name-not-a-string",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        evry = "day"
        """,
        "rituals.toml:3: ritual 'walk': unknown key 'evry' (did you mean 'every'?)",
        id="unknown-key-with-suggestion",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        colour = "green"
        """,
        "rituals.toml:3: ritual 'walk': unknown key 'colour'",
        id="unknown-key-without-suggestion",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        "evry" = "day"
        """,
        "rituals.toml:3: ritual 'walk': unknown key 'evry' (did you mean 'every'?)",
        id="unknown-quoted-key",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"

        [ritual.extra]
        colour = "green"
        """,
        "rituals.toml:4: ritual 'walk': unknown key 'extra'",
        id="unknown-sub-table",
    ),
    pytest.param(
        """
        [defaults]
        timezone = "UTC"
        timzone = "Europe/Berlin"

        [[ritual]]
        name = "walk"
        """,
        "rituals.toml:3: [defaults]: unknown key 'timzone' (did you mean 'timezone'?)",
        id="unknown-key-in-defaults",
    ),
    pytest.param(
        """
        [defaults]
        every = "week"
        """,
        "rituals.toml:2: [defaults]: key 'every' belongs in each [[ritual]], not in [defaults]",
        id="ritual-only-key-in-defaults",
    ),
    pytest.param(
        """
        [defaults]
        timezone = "Mars/Olympus"
        """,
        "rituals.toml:2: [defaults]: unknown time zone 'Mars/Olympus'",
        id="bad-value-in-defaults",
    ),
    pytest.param(
        """
        # Our rituals.

        [defaults]
        timezone = "Europe/Berlin"
        notify = ["couple"]

        [[ritual]]
        name = "tech-free-talk"
        at = "20:30"

        [[ritual]]
        name = "date-night"
        every = "week"
        on = "fryday"
        at = "19:00"
        """,
        "rituals.toml:14: ritual 'date-night': unknown weekday 'fryday'",
        id="unknown-weekday",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "date-night"
        every = "week"
        on = "15"
        """,
        "rituals.toml:4: ritual 'date-night': '15' is a day of the month; only a monthly ritual can use it",
        id="day-of-month-on-weekly",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "date-night"
        every = "week"
        on = "fri, friday"
        """,
        "rituals.toml:4: ritual 'date-night': 'fri' is listed twice",
        id="due-day-twice",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        on = true
        """,
        "rituals.toml:3: ritual 'walk': on must be a day or a list of days like 'mon, wed', not true",
        id="on-not-a-string",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        times = "two"
        """,
        "rituals.toml:3: ritual 'walk': times must be a whole number, not 'two'",
        id="times-a-string",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        times = true
        """,
        "rituals.toml:3: ritual 'walk': times must be a whole number, not true",
        id="times-a-bool-is-not-a-number",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        times = 1.5
        """,
        "rituals.toml:3: ritual 'walk': times must be a whole number, not 1.5",
        id="times-a-float",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        times = 0
        """,
        "rituals.toml:3: ritual 'walk': times must be between 1 and 100, not 0",
        id="times-zero",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        every = "week"
        interval = 53
        """,
        "rituals.toml:4: ritual 'walk': interval must be between 1 and 52, not 53",
        id="interval-too-large",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        every = "fortnight"
        """,
        "rituals.toml:3: ritual 'walk': every must be day, week or month, not 'fortnight'",
        id="every-unknown",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        dimension = "romance"
        """,
        "rituals.toml:3: ritual 'walk': dimension must be emotional, physical, intellectual, "
        "experiential, spiritual, self or other, not 'romance'",
        id="dimension-unknown",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        discreet = "yes"
        """,
        "rituals.toml:3: ritual 'walk': discreet must be true or false, not 'yes'",
        id="discreet-not-a-bool",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        title = "  "
        """,
        "rituals.toml:3: ritual 'walk': title must not be empty",
        id="title-blank",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        description = 5
        """,
        "rituals.toml:3: ritual 'walk': description must be a string, not 5",
        id="description-not-a-string",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        at = ["20:30", "25:00"]
        """,
        "rituals.toml:3: ritual 'walk': not a time of day: '25:00' (use HH:MM, 24-hour)",
        id="at-not-a-time",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        at = 2030
        """,
        "rituals.toml:3: ritual 'walk': at must be a time like '20:30' or a list of them, not 2030",
        id="at-a-number",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        day_starts_at = "3am"
        """,
        "rituals.toml:3: ritual 'walk': not a time of day: '3am' (use HH:MM, 24-hour)",
        id="day-starts-at-not-a-time",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        nag_after = "90x"
        """,
        "rituals.toml:3: ritual 'walk': not a duration: '90x' (try 90m, 2h, 1d)",
        id="duration-malformed",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        remind_before = 90
        """,
        "rituals.toml:3: ritual 'walk': remind_before must be a duration like '90m', not 90",
        id="duration-a-number",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        quiet_hours = "22:00"
        """,
        "rituals.toml:3: ritual 'walk': quiet_hours must be a time range like '22:00-07:00', not '22:00'",
        id="quiet-hours-not-a-range",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        quiet_hours = "22:00-22:00"
        """,
        "rituals.toml:3: ritual 'walk': quiet_hours must start and end at different times, not '22:00-22:00'",
        id="quiet-hours-empty",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        at = "07:00"
        cron = "0 7 * * mon-fri"
        """,
        "rituals.toml:4: ritual 'walk': cron cannot be combined with at (cron sets its own times)",
        id="cron-with-at",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        at = "07:00"
        rrule = "FREQ=DAILY"
        """,
        "rituals.toml:4: ritual 'walk': rrule cannot be combined with at (rrule sets its own times)",
        id="rrule-with-at",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        cron = "0 7 * * *"
        rrule = "FREQ=DAILY"
        """,
        "rituals.toml:4: ritual 'walk': rrule cannot be combined with cron; use one of them",
        id="rrule-with-cron",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        cron = "61 7 * * *"
        """,
        "rituals.toml:3: ritual 'walk': cron minute field: '61' is out of range 0..59",
        id="cron-invalid",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        rrule = "FREQ=SOMETIMES"
        """,
        f"rituals.toml:3: ritual 'walk': {rrule_error('FREQ=SOMETIMES')}",
        id="rrule-invalid",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        timezone = "Europe/Berln"
        """,
        "rituals.toml:3: ritual 'walk': unknown time zone 'Europe/Berln'",
        id="timezone-unknown",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        week_starts = "moon"
        """,
        "rituals.toml:3: ritual 'walk': week_starts must be a weekday like 'mon', not 'moon'",
        id="week-starts-unknown",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        notify = ["couple", "My Phone"]
        """,
        "rituals.toml:3: ritual 'walk': notify entries must be lowercase slugs (letters, digits, '-'): "
        "'My Phone'",
        id="notify-not-a-slug",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        people = [1, 2]
        """,
        "rituals.toml:3: ritual 'walk': people must be a name or a list of names, not [1, 2]",
        id="people-not-strings",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "hug"
        people = ["alex"]
        complete_when = "both"
        """,
        "rituals.toml:4: ritual 'hug': complete_when = 'both' needs at least two people",
        id="complete-when-both-with-one-person",
    ),
    pytest.param(
        """
        [defaults]
        complete_when = "both"

        [[ritual]]
        name = "hug"
        """,
        "rituals.toml:4: ritual 'hug': complete_when = 'both' needs at least two people",
        id="complete-when-both-from-defaults",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "hug"
        complete_when = "all"
        """,
        "rituals.toml:3: ritual 'hug': complete_when must be either or both, not 'all'",
        id="complete-when-unknown",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        start = "31.01.2026"
        """,
        "rituals.toml:3: ritual 'walk': start must be a date like 2026-01-31, not '31.01.2026'",
        id="start-not-a-date",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        start = 2026-01-31T10:00:00
        """,
        "rituals.toml:3: ritual 'walk': start must be a date like 2026-01-31, not 2026-01-31T10:00:00",
        id="start-a-date-time",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        start = 2026-03-01
        end = "2026-02-28"
        """,
        "rituals.toml:4: ritual 'walk': end 2026-02-28 is before start 2026-03-01",
        id="end-before-start",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        freezes_per_month = 32
        """,
        "rituals.toml:3: ritual 'walk': freezes_per_month must be between 0 and 31, not 32",
        id="freezes-too-many",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        at = "21:00"

        [[ritual]]
        name = "walk"
        at = "07:00"
        """,
        "rituals.toml:6: duplicate ritual name 'walk' (first at line 1)",
        id="duplicate-name",
    ),
    pytest.param(
        '''
        [[ritual]]
        name = "walk"
        description = """
        Keys inside a string are text:
        every = "day"
        """
        every = "weak"
        ''',
        "rituals.toml:7: ritual 'walk': every must be day, week or month, not 'weak'",
        id="line-after-multi-line-string",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        description = '''
        [[ritual]]
        '''
        at = [
            "20:30",  # evening
            "21:00",
        ]
        nag_after = "soon"
        """,
        "rituals.toml:10: ritual 'walk': not a duration: 'soon' (try 90m, 2h, 1d)",
        id="line-after-multi-line-array-and-literal-string",
    ),
    # Values beyond what the rest of the house can compute with are refused here, naming the key.
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        remind_before = "3000000d"
        """,
        "rituals.toml:3: ritual 'walk': remind_before must be at most 366d (a year), not '3000000d'",
        id="remind-before-thousands-of-years",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        nag_after = "400000w"
        """,
        "rituals.toml:3: ritual 'walk': nag_after must be at most 366d (a year), not '400000w'",
        id="nag-after-thousands-of-years",
    ),
    pytest.param(
        """
        [defaults]
        catch_up_grace = "53w"
        """,
        "rituals.toml:2: [defaults]: catch_up_grace must be at most 366d (a year), not '53w'",
        id="catch-up-grace-over-a-year",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        every = "week"
        start = 9999-12-30
        """,
        "rituals.toml:4: ritual 'walk': start must be from 1900-01-01 to 2999-12-31, not 9999-12-30",
        id="start-in-year-9999",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        start = "0001-01-01"
        """,
        "rituals.toml:3: ritual 'walk': start must be from 1900-01-01 to 2999-12-31, not 0001-01-01",
        id="start-in-year-1",
    ),
    pytest.param(
        """
        [[ritual]]
        name = "walk"
        end = 3000-01-01
        """,
        "rituals.toml:3: ritual 'walk': end must be from 1900-01-01 to 2999-12-31, not 3000-01-01",
        id="end-in-year-3000",
    ),
    # A key or value holding a line break (or another character that does not print) is quoted escaped.
    pytest.param(
        r"""
        [[ritual]]
        name = "walk"
        nag_after = "90m\nsoon"
        """,
        r"rituals.toml:3: ritual 'walk': not a duration: '90m\nsoon' (try 90m, 2h, 1d)",
        id="line-break-in-a-duration",
    ),
    pytest.param(
        r"""
        [[ritual]]
        name = "walk"
        quiet_hours = "22:00-07:\u202800"
        """,
        r"rituals.toml:3: ritual 'walk': not a time of day: '07:\u202800' (use HH:MM, 24-hour)",
        id="line-separator-in-quiet-hours",
    ),
    pytest.param(
        r"""
        [[ritual]]
        name = "walk"
        every = "month"
        on = "first fr\u001bi"
        """,
        r"rituals.toml:4: ritual 'walk': unknown weekday 'fr\x1bi'",
        id="terminal-escape-in-on",
    ),
    pytest.param(
        r"""
        [[ritual]]
        name = "walk"
        "every\n" = "day"
        """,
        r"rituals.toml:3: ritual 'walk': unknown key 'every\n' (did you mean 'every'?)",
        id="line-break-in-a-key",
    ),
    pytest.param(
        r"""
        [defaults]
        "at\r" = "20:30"
        """,
        r"rituals.toml:2: [defaults]: unknown key 'at\r'",
        id="carriage-return-in-a-defaults-key",
    ),
    pytest.param(
        r"""
        "a\nb" = 1
        """,
        r"rituals.toml:1: unknown top-level key 'a\nb' (expected [defaults] and [[ritual]])",
        id="line-break-in-a-top-level-key",
    ),
    pytest.param(
        f"""
        [[ritual]]
        name = "walk"
        "{"x" * 60}" = 1
        """,
        f"rituals.toml:3: ritual 'walk': unknown key '{'x' * 37}...'",
        id="long-key-is-cut",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_bad_file_is_refused_with_one_line_naming_the_place(text: str, message: str) -> None:
    with pytest.raises(RitualFileError) as caught:
        parse(text)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_file_error_keeps_its_parts() -> None:
    with pytest.raises(RitualFileError) as caught:
        parse(
            """
            [[ritual]]
            name = "walk"
            on = "fryday"
            """
        )
    error = caught.value
    assert (error.path, error.line, error.ritual, error.message) == (
        "rituals.toml",
        3,
        "walk",
        "unknown weekday 'fryday'",
    )


# --- files that are accepted, and what they mean --------------------------------------------------


def test_minimal_ritual_gets_every_default() -> None:
    ritual = only(
        """
        [[ritual]]
        name = "date-night"
        """,
        fallback_timezone="Europe/Paris",
    )
    assert ritual == Ritual(
        name="date-night",
        title="Date night",
        cadence=Cadence(timezone="Europe/Paris"),
        reminders=Reminders(catch_up_grace=timedelta(hours=2)),
    )


def test_defaults_apply_and_a_ritual_overrides_them() -> None:
    file = parse(
        """
        [defaults]
        timezone = "Europe/Berlin"
        notify = ["couple"]
        day_starts_at = "03:00"
        discreet = true
        dimension = "emotional"

        [[ritual]]
        name = "talk"

        [[ritual]]
        name = "journal"
        notify = "me"
        timezone = "Asia/Tokyo"
        discreet = false
        dimension = "self"
        """
    )
    talk, journal = file.rituals
    assert (talk.cadence.timezone, talk.cadence.day_starts_at) == ("Europe/Berlin", time(3, 0))
    assert (talk.notify, talk.discreet, talk.dimension) == (("couple",), True, Dimension.EMOTIONAL)
    assert (journal.cadence.timezone, journal.cadence.day_starts_at) == ("Asia/Tokyo", time(3, 0))
    assert (journal.notify, journal.discreet, journal.dimension) == (("me",), False, Dimension.SELF)
    assert file.defaults["timezone"] == "Europe/Berlin"
    assert file.lines == {"talk": 8, "journal": 11}


def test_a_full_ritual_reads_every_key() -> None:
    ritual = only(
        """
        [[ritual]]
        name = "date-night"
        title = "Date night, phones off"
        description = "Just us."
        dimension = "experiential"
        every = "week"
        interval = 2
        times = 1
        on = "fri, sat"
        at = ["19:00", "18:00", "19:00"]
        timezone = "Europe/Berlin"
        day_starts_at = "04:30"
        week_starts = "sunday"
        remind_before = "1d"
        nag_after = "1h30m"
        quiet_hours = "23:00-06:30"
        catch_up_grace = "30m"
        notify = "alex, sam"
        people = ["alex", "sam", "alex"]
        complete_when = "both"
        start = 2026-01-02
        end = "2026-12-31"
        discreet = true
        freezes_per_month = 2
        """
    )
    assert ritual == Ritual(
        name="date-night",
        title="Date night, phones off",
        description="Just us.",
        dimension=Dimension.EXPERIENTIAL,
        cadence=Cadence(
            every=Every.WEEK,
            interval=2,
            times=1,
            on=(Weekday(4), Weekday(5)),
            timezone="Europe/Berlin",
            day_starts_at=time(4, 30),
            week_starts=6,
            anchor=date(2026, 1, 2),
        ),
        reminders=Reminders(
            at=(time(18, 0), time(19, 0)),
            remind_before=timedelta(days=1),
            nag_after=timedelta(minutes=90),
            quiet_hours=(time(23, 0), time(6, 30)),
            catch_up_grace=timedelta(minutes=30),
        ),
        notify=("alex", "sam"),
        people=("alex", "sam"),
        complete_when=CompleteWhen.BOTH,
        start=date(2026, 1, 2),
        end=date(2026, 12, 31),
        discreet=True,
        freezes_per_month=2,
    )


@pytest.mark.parametrize(
    ("every", "on", "expected"),
    [
        pytest.param("day", '"mon, wed"', (Weekday(0), Weekday(2)), id="comma-separated-string"),
        pytest.param("day", '["wed", "mon"]', (Weekday(0), Weekday(2)), id="list-in-any-order"),
        pytest.param("day", '"weekdays"', tuple(Weekday(d) for d in range(5)), id="weekday-group"),
        pytest.param("week", '"FRI"', (Weekday(4),), id="upper-case-weekday"),
        pytest.param("month", '"first sat"', (NthWeekday(1, 5),), id="nth-weekday"),
        pytest.param("month", "15", (DayOfMonth(15),), id="month-day-as-number"),
        pytest.param("month", '[1, "last"]', (DayOfMonth(1), DayOfMonth(-1)), id="month-days-mixed"),
        pytest.param("week", "[]", (), id="empty-list-means-every-day"),
    ],
)
def test_on_accepts_the_written_forms(every: str, on: str, expected: tuple[DueDay, ...]) -> None:
    ritual = only(
        f"""
        [[ritual]]
        name = "walk"
        every = "{every}"
        on = {on}
        """
    )
    assert ritual.cadence.on == expected


def test_cron_and_rrule_replace_at() -> None:
    cron, rrule = parse(
        """
        [[ritual]]
        name = "hug"
        cron = "15 7 * * mon-fri"

        [[ritual]]
        name = "meaning-talk"
        every = "week"
        rrule = "FREQ=WEEKLY;BYDAY=SU;BYHOUR=17;BYMINUTE=0"
        """
    ).rituals
    assert (cron.reminders.cron, cron.reminders.at) == ("15 7 * * mon-fri", ())
    assert rrule.reminders.rrule == "FREQ=WEEKLY;BYDAY=SU;BYHOUR=17;BYMINUTE=0"


def test_empty_file_has_no_rituals() -> None:
    assert parse("# nothing yet\n") == RitualFile(path="rituals.toml", rituals=(), lines={})


# --- the pure table parser ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        pytest.param({"name": "walk", "on": "fryday"}, "on", "unknown weekday 'fryday'", id="value"),
        pytest.param(
            {"name": "walk", "evry": "day"}, "evry", "unknown key 'evry' (did you mean 'every'?)", id="key"
        ),
        pytest.param({}, "name", "name is required", id="no-name"),
        pytest.param(
            {"name": "walk", "at": "20:30", "remind_before": "3000000d"},
            "remind_before",
            "remind_before must be at most 366d (a year), not '3000000d'",
            id="remind-before-past-the-calendar",
        ),
        pytest.param(
            {"name": "walk", "every": "month", "start": date(9999, 12, 30)},
            "start",
            "start must be from 1900-01-01 to 2999-12-31, not 9999-12-30",
            id="start-past-the-calendar",
        ),
    ],
)
def test_table_errors_name_the_key(table: dict[str, object], key: str, message: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        ritual_from_table(table)
    assert (caught.value.key, caught.value.message) == (key, message)


def test_the_edges_of_the_ranges_are_taken() -> None:
    """The longest durations and the first and last dates load, and their periods stay on the calendar."""
    ritual = only(
        """
        [[ritual]]
        name = "walk"
        every = "month"
        interval = 52
        at = "20:30"
        remind_before = "366d"
        nag_after = "52w2d"
        catch_up_grace = "366d"
        start = 1900-01-01
        end = "2999-12-31"
        """
    )
    year = timedelta(days=366)
    assert (ritual.start, ritual.end) == (FIRST_DATE, LAST_DATE) == (date(1900, 1, 1), date(2999, 12, 31))
    reminders = ritual.reminders
    assert reminders.remind_before == reminders.nag_after == reminders.catch_up_grace == year
    for cadence in (ritual.cadence, replace(ritual.cadence, every=Every.WEEK, week_starts=6)):
        assert period_of(cadence, FIRST_DATE).start <= FIRST_DATE
        assert period_of(cadence, LAST_DATE).end > LAST_DATE


def test_table_defaults_are_checked_too() -> None:
    with pytest.raises(DefinitionError) as caught:
        ritual_from_table({"name": "walk"}, {"every": "week"})
    assert caught.value.key == "every"


def test_cadence_table_refuses_other_keys() -> None:
    with pytest.raises(DefinitionError, match=r"unknown key 'at'"):
        cadence_from_table({"every": "day", "at": "20:30"})


# --- round trips ----------------------------------------------------------------------------------

slugs = st.from_regex(r"[a-z0-9][a-z0-9-]{0,47}", fullmatch=True)
clock_times = st.builds(time, st.integers(0, 23), st.integers(0, 59))
durations = st.integers(1, 60 * 24 * 60).map(lambda minutes: timedelta(minutes=minutes))
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))
zones = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"])
titles = st.text(
    st.characters(codec="utf-8", categories=("L", "M", "N", "P", "S", "Zs")), min_size=1, max_size=40
).filter(lambda text: text.strip() != "" and text.isprintable())
month_days = st.one_of(
    st.builds(Weekday, st.integers(0, 6)),
    st.builds(NthWeekday, st.sampled_from([1, 2, 3, 4, 5, -1]), st.integers(0, 6)),
    st.builds(DayOfMonth, st.sampled_from([*range(1, 32), -1])),
)
CRONS = ["30 20 * * *", "0 7 * * mon-fri", "*/15 9-17 1,15 * *"]
RRULES = ["FREQ=DAILY", "FREQ=WEEKLY;BYDAY=SU;BYHOUR=17;BYMINUTE=0", "FREQ=MONTHLY;BYMONTHDAY=-1"]


@st.composite
def cadences(draw: st.DrawFn) -> Cadence:
    every = draw(st.sampled_from(Every))
    on_days = st.sets(st.builds(Weekday, st.integers(0, 6)) if every is not Every.MONTH else month_days)
    on = parse_due_days(every, [str(due) for due in draw(on_days)])
    return Cadence(
        every=every,
        interval=draw(st.integers(1, 52)),
        times=draw(st.integers(1, 100)),
        on=on,
        timezone=draw(zones),
        day_starts_at=draw(clock_times),
        week_starts=draw(st.integers(0, 6)),
        anchor=draw(st.none() | days),
    )


@st.composite
def rituals(draw: st.DrawFn) -> Ritual:
    name = draw(slugs)
    cadence = draw(cadences())
    end = draw(st.none() | days)
    if cadence.anchor is not None and end is not None and end < cadence.anchor:
        end = cadence.anchor
    schedule = draw(st.sampled_from(["at", "cron", "rrule"]))
    people = tuple(draw(st.lists(slugs, unique=True, max_size=3)))
    return Ritual(
        name=name,
        title=draw(titles),
        cadence=cadence,
        reminders=Reminders(
            at=tuple(sorted(draw(st.sets(clock_times, max_size=4)))) if schedule == "at" else (),
            remind_before=draw(st.none() | durations),
            nag_after=draw(st.none() | durations),
            quiet_hours=draw(st.none() | st.tuples(clock_times, clock_times).filter(lambda q: q[0] != q[1])),
            cron=draw(st.sampled_from(CRONS)) if schedule == "cron" else None,
            rrule=draw(st.sampled_from(RRULES)) if schedule == "rrule" else None,
            catch_up_grace=draw(durations),
        ),
        # Any text but control characters other than tab and line breaks (refused, see check_text).
        description=draw(st.text(max_size=80).filter(lambda t: t == t.translate(NOT_CONTROL))),
        dimension=draw(st.sampled_from(Dimension)),
        notify=tuple(draw(st.lists(slugs, unique=True, max_size=3))),
        people=people,
        complete_when=draw(st.sampled_from(CompleteWhen)) if len(people) >= 2 else CompleteWhen.EITHER,
        start=cadence.anchor,
        end=end,
        discreet=draw(st.booleans()),
        freezes_per_month=draw(st.integers(0, 31)),
    )


@settings(max_examples=150)
@given(rituals())
def test_ritual_table_reads_back_equal(ritual: Ritual) -> None:
    table = ritual_to_table(ritual)
    assert ritual_from_table(table, fallback_timezone="Asia/Tokyo") == ritual
    assert json.loads(json.dumps(table)) == table  # JSON-able as it stands


@given(rituals())
def test_rendered_toml_reads_back_to_the_same_table_and_ritual(ritual: Ritual) -> None:
    text = render_ritual_toml(ritual)
    assert tomllib.loads(text) == {"ritual": [ritual_to_table(ritual)]}
    assert parse_ritual_file(text, "export.toml").rituals == (ritual,)


@given(cadences())
def test_cadence_table_reads_back_equal(cadence: Cadence) -> None:
    assert cadence_from_table(cadence_to_table(cadence)) == cadence


@settings(max_examples=50)
@given(st.lists(rituals(), min_size=1, max_size=5, unique_by=lambda r: r.name), st.data())
def test_lines_point_at_each_ritual_and_at_the_bad_key(batch: list[Ritual], data: st.DataObject) -> None:
    """Rendered blocks (strings holding quotes, brackets and '#') in one file: every line is found."""
    blocks = [render_ritual_toml(ritual) for ritual in batch]
    text = "\n".join(blocks)
    headers = [number for number, line in enumerate(text.split("\n"), 1) if line == "[[ritual]]"]
    lines = dict(zip((r.name for r in batch), headers, strict=True))
    assert parse_ritual_file(text, "r.toml").lines == lines
    victim = data.draw(st.integers(0, len(batch) - 1))
    blocks[victim] += 'evry = "day"\n'
    bad_text = "\n".join(blocks)
    with pytest.raises(RitualFileError) as caught:
        parse_ritual_file(bad_text, "r.toml")
    assert caught.value.line == bad_text.split("\n").index('evry = "day"') + 1
    assert caught.value.ritual == batch[victim].name


def test_table_keeps_a_stable_readable_order() -> None:
    ritual = only(
        """
        [[ritual]]
        discreet = true
        at = "20:30"
        name = "talk"
        nag_after = "90m"
        """
    )
    assert list(ritual_to_table(ritual)) == [
        "name",
        "title",
        "dimension",
        "every",
        "interval",
        "times",
        "on",
        "at",
        "timezone",
        "day_starts_at",
        "week_starts",
        "nag_after",
        "discreet",
    ]


def test_rendered_toml_escapes_what_toml_needs() -> None:
    ritual = only(
        r"""
        [[ritual]]
        name = "talk"
        title = "\"Us\" \\ them"
        description = "line one\nline two\ttabbed ok"
        """
    )
    text = render_ritual_toml(ritual)
    assert 'title = "\\"Us\\" \\\\ them"' in text
    assert 'description = "line one\\nline two\\ttabbed ok"' in text
    assert parse_ritual_file(text, "x.toml").rituals == (ritual,)
    # A control character an older version let into the store is still written escaped.
    kept = ritual_from_table({"name": "talk", "description": "a \u0001 b"}, stored=True)
    assert 'description = "a \\u0001 b"' in render_ritual_toml(kept)


# --- reading the file from disk -------------------------------------------------------------------


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    path = tmp_path / "rituals.toml"
    with pytest.raises(RitualFileError) as caught:
        load_ritual_file(path)
    assert str(caught.value) == f"{path}: no such file (run `ritual init` to create one)"


def test_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "rituals.toml"
    path.write_bytes(b'[[ritual]]\nname = "caf\xe9"\n')
    with pytest.raises(RitualFileError) as caught:
        load_ritual_file(path)
    assert str(caught.value) == f"{path}:2: not UTF-8 text"


def test_file_with_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "rituals.toml"
    path.write_bytes(b'\xef\xbb\xbf[[ritual]]\nname = "walk"\n')
    loaded = load_ritual_file(path, fallback_timezone="Europe/Berlin")
    assert [r.name for r in loaded.rituals] == ["walk"]
    assert loaded.rituals[0].cadence.timezone == "Europe/Berlin"
    assert loaded.path == str(path)


# --- the shipped catalogue ------------------------------------------------------------------------


def test_packaged_example_is_the_config_example() -> None:
    assert PACKAGE_EXAMPLE.read_bytes() == CONFIG_EXAMPLE.read_bytes()


def test_example_catalogue_parses_and_covers_every_connection_dimension() -> None:
    catalogue = load_ritual_file(CONFIG_EXAMPLE)
    assert len(catalogue.rituals) >= 10
    assert set(CONNECTION_DIMENSIONS) <= {ritual.dimension for ritual in catalogue.rituals}
    assert all(ritual.description and ritual.reminders.at for ritual in catalogue.rituals)
    assert all(ritual.cadence.timezone == "Europe/Berlin" for ritual in catalogue.rituals)


@pytest.mark.parametrize(
    ("name", "every", "on", "at", "extra"),
    [
        pytest.param("tech-free-talk", Every.DAY, (), time(20, 30), {"nag_after": "1h30m"}, id="talk"),
        pytest.param(
            "date-night", Every.WEEK, (Weekday(4),), time(19, 0), {"remind_before": "1d"}, id="date"
        ),
        pytest.param("new-experience", Every.MONTH, (NthWeekday(1, 5),), time(10, 0), {}, id="new"),
    ],
)
def test_example_catalogue_holds_the_seed_practices(
    name: str, every: Every, on: tuple[DueDay, ...], at: time, extra: dict[str, str]
) -> None:
    by_name = {ritual.name: ritual for ritual in load_ritual_file(CONFIG_EXAMPLE).rituals}
    ritual = by_name[name]
    assert (ritual.cadence.every, ritual.cadence.on, ritual.reminders.at) == (every, on, (at,))
    assert ritual.notify == ("couple",)
    assert ritual.cadence.day_starts_at == time(3, 0)
    table = ritual_to_table(ritual)
    assert {key: table[key] for key in extra} == extra


def test_a_fifty_ritual_file_parses() -> None:
    """The size the benchmarks assume; every ritual stays findable by its header line."""
    catalogue = CONFIG_EXAMPLE.read_text(encoding="utf-8")
    header, _, body = catalogue.partition("\n[[ritual]]\n")
    blocks = ["\n[[ritual]]\n" + block for block in body.split("\n[[ritual]]\n")]
    text = header + "".join(
        block.replace('name = "', f'name = "n{copy}-', 1) for copy in range(5) for block in blocks
    )
    parsed = parse_ritual_file(text, "big.toml")
    assert len(parsed.rituals) == 5 * len(blocks) >= 50
    lines = text.split("\n")
    assert all(lines[line - 1] == "[[ritual]]" for line in parsed.lines.values())


# --- nesting: refused in one line, never a RecursionError (issue 15, item 5) ----------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param('[[ritual]]\nname = "talk"\nx = ' + "[" * 600 + "]" * 600 + "\n", 3, id="arrays"),
        pytest.param("x = " + "{a = " * 600 + "1" + "}" * 600 + "\n", 1, id="inline-tables"),
        pytest.param("x = [\n" + "[\n" * 40 + "]\n" * 41, 33, id="over-many-lines"),
        pytest.param(
            'x = """\n' + "[" * 40 + '\n"""\ny = ' + "[{a = " * 20 + "1" + "}]" * 20, 4, id="after-a-string"
        ),
    ],
)
def test_a_file_nested_too_deep_is_refused_in_one_line_naming_the_line(text: str, line: int) -> None:
    with pytest.raises(RitualFileError) as caught:
        parse_ritual_file(text, "rituals.toml")
    assert str(caught.value) == (
        f"rituals.toml:{line}: arrays or tables nested more than 32 deep; a ritual file needs three"
    )


def test_brackets_in_strings_and_comments_are_no_nesting() -> None:
    text = '[[ritual]]\nname = "talk"\ndescription = "' + "[" * 100 + '"  # ' + "{" * 100 + "\n"
    (ritual,) = parse_ritual_file(text, "rituals.toml").rituals
    assert ritual.description == "[" * 100
    assert toml_too_deep("x = " + "[" * 32 + "]" * 32) is None
    assert toml_too_deep("x = " + "[" * 33 + "]" * 33) == 1
