"""Paper cuts a new user hit (issue 18), each tried as they tried it, through the CLI."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.adapters.store import SqlStore
from scheduler.app.stored import DeliveryStatus as Ds
from scheduler.app.stored import OccurrenceKind, OccurrenceStatus
from scheduler.domain.trends import chart_data
from tests.conftest import RitualCli, rows, snapshot

# --- every option that takes a path: one line, exit 1, never a traceback ---------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "-o", "{missing}/x.json"], "--output {missing}/x.json: no such folder '{missing}'"),
        (["export", "--format", "ics", "-o", "{missing}/x.ics"], "--output {missing}/x.ics: no such folder"),
        (["export", "-o", "/proc/x.json"], "--output /proc/x.json: cannot write"),
        (["report", "--chart", "{missing}/x.png"], "--chart {missing}/x.png: no such folder '{missing}'"),
        (["report", "--chart", "/proc/x.svg"], "--chart /proc/x.svg: cannot write"),
        (["export", "-o", "{home}"], "--output {home}: is a folder; give a file name"),
        (["import", "{missing}/backup.json"], "{missing}/backup.json: no such file"),
        (["import", "{home}"], "{home}: is a folder, not a file"),
        (["import", "--loop", "{missing}/Loop.zip"], "{missing}/Loop.zip: no such file"),
    ],
)
def test_a_path_that_cannot_be_used_is_one_line_and_exit_1(
    installed: RitualCli, tmp_path: Path, args: list[str], message: str
) -> None:
    # /proc: a folder nobody can write a file in, root included (the tests may run as root).
    places = {"missing": str(tmp_path / "nonexistent"), "home": str(tmp_path)}
    result = installed(*[arg.format(**places) for arg in args], code=1)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert message.format(**places) in line


def test_a_data_folder_that_cannot_be_made_is_one_line(ritual: RitualCli, tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder", encoding="utf-8")
    ritual.env["RITUAL_DATA_DIR"] = str(blocked / "data")
    result = ritual("init", code=1)
    (line,) = result.stderr.splitlines()
    assert line == f"Error: cannot create the data folder '{blocked / 'data'}': Not a directory"


def test_an_export_file_is_written_private(installed: RitualCli, tmp_path: Path) -> None:
    target = tmp_path / "backup.json"
    installed("export", "-o", str(target))
    assert target.stat().st_mode & 0o777 == 0o600


# --- every read command takes --json (the README says so) ------------------------------------------

READ_COMMANDS = ["list", "show", "next", "streaks", "report", "digest", "status", "check", "token list"]


@pytest.mark.parametrize("command", READ_COMMANDS)
def test_every_read_command_takes_json(command: str) -> None:
    import click

    from scheduler.cli import main

    found: click.Command = main
    for word in command.split():
        assert isinstance(found, click.Group)
        found = found.commands[word]
    assert "--json" in [name for param in found.params for name in getattr(param, "opts", [])]


def test_digest_json_is_the_digest_and_its_days(installed: RitualCli) -> None:
    digest = installed.json("digest")
    assert digest["title"].startswith("Your week of rituals")
    assert digest["text"] == installed("digest").stdout.split("\n", 2)[2].rstrip("\n") + "\n"
    assert (digest["first"], digest["last"]) == ("2026-11-18", "2026-11-24")


def test_heatmap_json_is_json_not_the_calendar(installed: RitualCli) -> None:
    installed("done", "tech-free-talk", "--date", "yesterday")
    (talk,) = installed.json("streaks", "tech-free-talk", "--heatmap")
    assert (talk["name"], talk["period"], talk["last"]) == ("tech-free-talk", "day", "2026-11-24")
    assert len(talk["cells"]) == 365
    assert talk["cells"][-2:] == [
        {"day": "2026-11-23", "status": "kept", "done": 1},
        {"day": "2026-11-24", "status": "open", "done": 0},
    ]
    assert talk["cells"][0]["status"] is None  # before the ritual began


# --- 80 columns: tables and the heatmap fit a terminal, names stay whole ---------------------------

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
LONG_NAME = "bedtime-ritual-for-the-two-of-us"


@pytest.fixture
def terminal(installed: RitualCli, monkeypatch: pytest.MonkeyPatch) -> RitualCli:
    """The CLI's stdout as a terminal 80 columns wide (CliRunner's stream claims to be a tty)."""
    import click.testing

    monkeypatch.setattr(click.testing._NamedTextIOWrapper, "isatty", lambda self: True)
    installed.env["COLUMNS"] = "80"
    installed.env["LINES"] = "40"
    installed(
        "add", LONG_NAME, "--title", "Lights out together, phones in the other room",
        "--every", "day", "--at", "22:30", "--dimension", "physical",
    )  # fmt: skip
    installed("done", LONG_NAME, "--date", "yesterday")
    return installed


def screen(result_text: str) -> list[str]:
    return [ANSI.sub("", line).rstrip() for line in result_text.splitlines()]


@pytest.mark.parametrize(
    "args",
    [
        ["list"],
        ["streaks"],
        ["next", "--days", "2"],
        ["show", LONG_NAME],
        ["streaks", LONG_NAME, "--heatmap"],
        ["streaks", "date-night", "--heatmap"],
        ["streaks", "new-experience", "--heatmap"],
    ],
)
def test_at_80_columns_nothing_wraps_and_names_stay_whole(terminal: RitualCli, args: list[str]) -> None:
    lines = screen(terminal(*args).stdout)
    assert lines
    assert max(len(line) for line in lines) <= 80, "\n".join(lines)
    assert all("…" not in line for line in lines)
    if args in (["list"], ["streaks"], ["streaks", LONG_NAME, "--heatmap"]):
        assert any(LONG_NAME in line for line in lines)
    if "--heatmap" in args:  # no line wrapped: header, months, the rows (7 days, or 1), the legend
        rows = 7 if args[1] == LONG_NAME else 1
        assert len([line for line in lines if line]) == 3 + rows, "\n".join(lines)


def test_the_heatmap_shows_the_whole_year_compact_at_80_columns(terminal: RitualCli) -> None:
    lines = screen(terminal("streaks", LONG_NAME, "--heatmap").stdout)
    assert lines[0] == f"{LONG_NAME} (daily), 2025-11-25 to 2026-11-24"
    monday = next(line for line in lines if line.startswith("Mon"))
    assert len(monday) == 4 + 53  # one character per week: the year fits, squares side by side


def test_a_narrower_terminal_shows_the_newest_weeks_and_says_which(
    terminal: RitualCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal.env["COLUMNS"] = "40"
    lines = screen(terminal("streaks", "tech-free-talk", "--heatmap").stdout)
    # 36 whole weeks, from a Monday (the header itself wraps at 40 columns)
    assert " ".join(lines[:2]) == "tech-free-talk (daily), 2026-03-23 to 2026-11-24"
    assert max(len(line) for line in lines) <= 40


def test_a_table_too_wide_for_the_terminal_becomes_a_block_per_row(terminal: RitualCli) -> None:
    terminal.env["COLUMNS"] = "50"
    lines = screen(terminal("streaks").stdout)
    assert LONG_NAME in lines
    block = lines[lines.index(LONG_NAME) + 1 :][:2]
    assert block == [
        "  per day; current 1; longest 1; rate 100%;",
        "  strength 5%; at risk; last done 2026-11-23",
    ]
    assert max(len(line) for line in lines) <= 50


# --- one model of a delivery's state in `ritual status` and `ritual retry` -------------------------


@pytest.fixture
def outbox(installed: RitualCli) -> Iterator[tuple[RitualCli, dict[str, int]]]:
    """A nudge of tech-free-talk claimed at 20:30 with three deliveries: one retrying after a 503,
    one failed for good, one delivered. Yields the CLI and the delivery ids by name."""
    store = SqlStore.open(f"sqlite:///{installed.database}")
    stored = store.get_ritual("tech-free-talk")
    assert stored is not None
    now = installed.clock.now()
    occurrence, _ = store.claim_occurrence(
        stored.id, day=date(2026, 11, 24), slot="20:30", kind=OccurrenceKind.DUE, due_at=now,
        status=OccurrenceStatus.PENDING, now=now, note="sent on time",
    )  # fmt: skip
    rows = store.add_deliveries(
        occurrence.id,
        [
            ("couple ntfy://a/****", "a" * 64),
            ("alex mailto://****", "b" * 64),
            ("sam tgram://****", "c" * 64),
        ],
        now=now,
    )
    ids = {"retrying": rows[0].id, "failed": rows[1].id, "sent": rows[2].id}
    store.claim_deliveries(list(ids.values()), now=now, lease_until=now + timedelta(seconds=30))
    store.finish_delivery(
        ids["retrying"], Ds.RETRY, now=now, error="503", next_attempt_at=now + timedelta(minutes=5)
    )
    store.finish_delivery(ids["failed"], Ds.FAILED, now=now, error="401: unauthorized")
    store.finish_delivery(ids["sent"], Ds.SENT, now=now)
    store.close()
    yield installed, ids


def test_status_lists_retrying_deliveries_with_their_ids(outbox: tuple[RitualCli, dict[str, int]]) -> None:
    cli, ids = outbox
    out = cli("status").stdout
    assert "deliveries: 0 pending, 1 retrying, 1 failed" in out
    assert (
        f"  retrying #{ids['retrying']} tech-free-talk 20:30 via couple ntfy://a/****: 503 (1 try so far; "
        in out
    )
    assert f"`ritual retry {ids['retrying']}` sends now)" in out
    assert f"  failed #{ids['failed']} tech-free-talk 20:30 via alex mailto://****: 401: unauthorized" in out
    status = cli.json("status")
    assert [w["id"] for w in status["deliveries"]["waiting"]] == [ids["retrying"]]
    assert status["deliveries"]["waiting"][0]["next_try"] == "2026-11-24T11:05:00+00:00"
    (nudge,) = status["last"]
    assert (nudge["status"], nudge["note"]) == ("retrying", f"next try #{ids['retrying']} at 12:05")  # Berlin
    last = out.splitlines()[out.splitlines().index("last nudges") :]
    line = next(line for line in last if "tech-free-talk" in line)
    assert "retrying" in line and "pending" not in line and "sent on time" not in line


def test_retry_takes_retrying_deliveries_too(outbox: tuple[RitualCli, dict[str, int]]) -> None:
    cli, _ = outbox
    out = cli("retry").stdout  # no channel is configured here, so both are tried and fail for good
    assert out == "retried 2 deliveries; 2 still failed, 0 will retry\n"
    assert cli.json("status")["deliveries"]["waiting"] == []


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("unknown", "Error: no delivery #999 (`ritual status` lists the ids to retry)"),
        ("sent", "Error: delivery #{sent} was delivered; nothing was retried"),
    ],
)
def test_retry_of_an_id_it_cannot_retry_exits_1_and_says_why(
    outbox: tuple[RitualCli, dict[str, int]], which: str, message: str
) -> None:
    cli, ids = outbox
    before = snapshot(cli.database)
    asked = "999" if which == "unknown" else str(ids[which])
    result = cli("retry", str(ids["failed"]), asked, code=1)
    assert result.stderr.strip() == message.format(**ids)
    assert snapshot(cli.database) == before


def test_retry_of_a_retrying_delivery_makes_it_due_now(outbox: tuple[RitualCli, dict[str, int]]) -> None:
    cli, ids = outbox
    cli("retry", str(ids["retrying"]))
    (row,) = rows(cli.database, f"select attempts, status from delivery where id = {ids['retrying']}")
    assert row == (2, "failed")  # tried at once: no channel is configured here, so it failed for good


# --- edit, add and retired rituals ---------------------------------------------------------------


def test_unsetting_a_key_that_does_not_exist_is_refused(installed: RitualCli) -> None:
    installed("add", "stretch", "--at", "07:15")
    before = snapshot(installed.database)
    result = installed("edit", "stretch", "--unset", "colour", code=2)
    assert result.stderr.strip() == "Error: --unset colour: not a ritual key"
    assert "did you mean 'title'?" in installed("edit", "stretch", "--unset", "titel", code=2).stderr
    assert snapshot(installed.database) == before


def test_unsetting_a_key_that_is_not_set_says_nothing_changed(installed: RitualCli) -> None:
    installed("add", "stretch", "--at", "07:15")
    before = snapshot(installed.database)
    out = installed("edit", "stretch", "--unset", "nag-after").stdout
    assert out == "'stretch' already reads so; nothing changed: daily at 07:15\n"
    assert snapshot(installed.database) == before


def test_adding_a_name_the_file_defines_points_at_the_file(installed: RitualCli) -> None:
    result = installed("add", "tech-free-talk", code=1)
    where = installed.config / "rituals.toml"
    assert (
        result.stderr.strip() == f"Error: ritual 'tech-free-talk' already exists in {where}; change it there"
    )
    installed("add", "stretch")
    hint = installed("add", "stretch", code=1).stderr.strip()
    assert hint == "Error: ritual 'stretch' already exists; change it with `ritual edit stretch`"
    installed("edit", "stretch", "--at", "07:30")  # the hint works


def test_a_retired_ritual_is_shown_as_retired_with_its_history(installed: RitualCli) -> None:
    installed("add", "stretch", "--at", "07:15")
    installed("done", "stretch", "--date", "yesterday", "--note", "sore")
    installed("remove", "stretch", "--yes")
    out = installed("show", "stretch").stdout
    assert "defined by `ritual add`; retired on Tue 24 Nov 2026, its history kept" in out
    assert "(`ritual add stretch` brings it back)" in out
    assert "sore" in out and "last completion" in out
    assert installed.json("show", "stretch")["retired_at"] == "2026-11-24T11:00:00+00:00"
    assert "stretch" not in [r["name"] for r in installed.json("list")]
    listed = {r["name"]: r["retired_at"] for r in installed.json("list", "--all")}
    assert listed["stretch"] == "2026-11-24T11:00:00+00:00" and listed["tech-free-talk"] is None
    line = next(line for line in installed("list", "--all").stdout.splitlines() if line.startswith("stretch"))
    assert line.endswith("retired")
    refused = installed("done", "stretch", code=1).stderr.strip()
    assert refused == (
        "Error: ritual 'stretch' is retired; its history is kept (`ritual show stretch`, `ritual list --all`)"
    )


def test_one_ritual_is_one_ritual(ritual: RitualCli) -> None:
    ritual("add", "stretch", "--at", "07:15")
    assert ritual("status").stdout.splitlines()[1] == f"database: {ritual.database}, 1 ritual"
    assert f"ok: 0 rituals in {ritual.config / 'rituals.toml'}, 1 ritual stored in" in ritual("check").stdout


def test_counts_of_one_are_singular(installed: RitualCli) -> None:
    installed("done", "tech-free-talk", "--date", "yesterday")
    out = installed("show", "tech-free-talk", "--limit", "1").stdout
    assert "streak: 1 day (longest 1)" in out
    assert "last completion\n" in out
    installed("done", "date-night", "--date", "2026-11-20")
    assert "streak: 1 week (longest 1)" in installed("show", "date-night").stdout
    assert "no nudges in the next 1 day\n" in installed("next", "--days", "1", "new-experience").stdout


# --- ritual check: its summary, channels that are not channels, links a phone cannot open ----------


def test_check_summary_counts_problems_not_zero_rituals(installed: RitualCli) -> None:
    ritual_file = installed.config / "rituals.toml"
    ritual_file.write_text('[[ritual]]\nname = "walk"\nevery = "dai"\n', encoding="utf-8")
    result = installed("check", code=1)
    assert result.stderr.startswith(f"error: {ritual_file}:3: ritual 'walk': every must be")
    summary = next(line for line in result.stdout.splitlines() if line.startswith("failed"))
    assert summary == (
        f"failed: 1 problem (above); {ritual_file} could not be read, 12 rituals stored in "
        f"{installed.database}"
    )
    ritual_file.write_text('[[ritual]]\nname = "walk"\n', encoding="utf-8")
    assert installed("check").stdout.startswith(f"ok: 1 ritual in {ritual_file}, 1 ritual stored in")


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (
            "couple=not a url at all",
            "apprise.txt:1: 'couple=' is followed by no URL (a channel line is couple=scheme://...), "
            "and no channel in this file has the tags after it",
        ),
        ("couple", "apprise.txt:1: not an Apprise URL (a channel line is [tags=]scheme://...)"),
    ],
)
def test_a_line_that_makes_no_channel_fails_check(installed: RitualCli, line: str, problem: str) -> None:
    (installed.config / "apprise.txt").write_text(line + "\n", encoding="utf-8")
    result = installed("check", code=1)
    assert result.stderr == f"error: {installed.config}/{problem}\n"
    assert result.stdout.startswith("failed: 1 problem (above);")
    tried = installed("notify-test", code=1)
    assert tried.stderr.splitlines()[0] == f"problem: {installed.config}/{problem}"


def test_a_group_of_tags_some_channel_has_is_fine(installed: RitualCli) -> None:
    text = "alex=json://127.0.0.1:9/\ncouple = alex, sam\n"
    (installed.config / "apprise.txt").write_text(text, encoding="utf-8")
    assert "channels: 1, reaching alex, couple" in installed("check").stdout


LINK_NOTE = (
    "note: Done/Snooze links point at http://127.0.0.1:8470, which only this machine can open; for phones "
    'set http_bind = "0.0.0.0:8470" and public_url = "http://HOST:8470" in {settings} (HOST: this '
    "machine's name or address on your network)"
)


def test_init_and_check_say_when_links_cannot_reach_a_phone(ritual: RitualCli) -> None:
    note = LINK_NOTE.format(settings=ritual.config / "settings.toml")
    assert note in ritual("init").stdout.splitlines()
    assert note in ritual("check").stdout.splitlines()
    assert ritual.json("check")["notes"] == [note.removeprefix("note: ")]
    ritual.env["RITUAL_HTTP_BIND"] = "0.0.0.0:8470"
    assert 'which no phone can open; set public_url = "http://HOST:8470"' in ritual("check").stdout
    ritual.env["RITUAL_PUBLIC_URL"] = "http://homeserver.lan:8470"
    assert "note:" not in ritual("check").stdout
    ritual.env["RITUAL_PUBLIC_URL"] = ""
    ritual.env["RITUAL_HTTP_BIND"] = "off"
    assert "note:" not in ritual("check").stdout


# --- the chart: every ritual's line can be told apart ----------------------------------------------


@pytest.mark.parametrize("count", [12, 40, 41])
def test_every_ritual_in_the_chart_has_a_line_of_its_own(count: int) -> None:
    from scheduler.adapters.charts import _draw
    from scheduler.domain.cadence import Cadence, Every
    from scheduler.domain.definitions import Dimension, Ritual
    from scheduler.domain.reminders import Reminders
    from scheduler.domain.report import RitualInput
    from scheduler.domain.streaks import Done, History

    start, today = date(2026, 3, 1), date(2026, 3, 11)
    cadence = Cadence(every=Every.DAY)
    rituals = [
        RitualInput(
            Ritual(
                name=f"ritual-{n}", title=f"Ritual {n}", cadence=cadence, reminders=Reminders(),
                dimension=Dimension.EMOTIONAL,
            ),
            History(versions=((start, cadence),), start=start, completions=(Done(today),)),
            today,
        )
        for n in range(count)
    ]  # fmt: skip
    figure = _draw(chart_data(rituals, date(2026, 2, 25), date(2026, 3, 15)))
    lines = figure.axes[0].get_lines()
    looks = {(line.get_color(), line.get_linestyle(), line.get_marker()) for line in lines}
    assert len(lines) == count
    assert len(looks) == count


def test_line_styles_stay_distinct_for_hundreds_of_rituals() -> None:
    from scheduler.adapters.charts import series_styles

    assert len(set(series_styles(400))) == 400


# --- a failed send is one line, ours ---------------------------------------------------------------


def test_a_failed_send_is_one_line_not_apprises_too(
    installed: RitualCli, caplog: pytest.LogCaptureFixture
) -> None:
    (installed.config / "apprise.txt").write_text("couple=json://127.0.0.1:9/\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        result = installed("notify-test", code=1)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("apprise")] == []
    _header, line = result.stdout.splitlines()
    assert line.startswith("failed, would retry  couple") and "Connection refused" in line


def test_a_failed_send_leaves_apprises_lines_out_of_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from scheduler.adapters.notify import load_channels
    from scheduler.domain.messages import Message
    from tests.support.households import LINK_KEY

    channels = load_channels(
        config_file=None,
        urls={"alex": ["json://127.0.0.1:9/"]},
        plugin_paths=[],
        credentials_dir=None,
        link_key=LINK_KEY,
    )
    with caplog.at_level(logging.WARNING):
        (result,) = channels.send(list(channels), [Message(title="t", body="b")], timeout=5)
    assert not result.ok
    assert [r for r in caplog.records if r.name.startswith("apprise")] == []


# --- the STATUS= line the READMEs show is the one the daemon sends ---------------------------------

STATUS_LINE = re.compile(
    r"serving \d+ rituals?; (next: [a-z0-9-]+ at (Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d\d:\d\d|no nudge due soon)"
)


def test_the_readmes_status_examples_are_the_daemons_line() -> None:
    from zoneinfo import ZoneInfo

    from scheduler.adapters.daemon import serving_line

    root = Path(__file__).resolve().parents[1]
    shown = [
        example
        for readme in ("README.md", "systemd/README.md")
        for example in re.findall(r'"(serving [^"]*)"', (root / readme).read_text(encoding="utf-8"))
    ]
    assert len(shown) >= 3
    for example in shown:
        elided = example.replace("next: ...", "next: any-ritual at Mon 00:00")  # "..." stands for any
        assert STATUS_LINE.fullmatch(elided), example
    friday = datetime(2026, 11, 27, 19, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    lines = [
        serving_line(12, ("date-night", friday)),
        serving_line(1, ("talk", friday)),
        serving_line(0, None),
    ]
    assert lines == [
        "serving 12 rituals; next: date-night at Fri 19:00",
        "serving 1 ritual; next: talk at Fri 19:00",
        "serving 0 rituals; no nudge due soon",
    ]
    assert all(STATUS_LINE.fullmatch(line) for line in lines)


# --- shell completion ------------------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_the_script_click_generates(ritual: RitualCli, shell: str) -> None:
    from click.testing import CliRunner

    from scheduler.cli import App, main

    printed = ritual("completion", shell).stdout
    generated = CliRunner().invoke(
        main, [], obj=App(), prog_name="ritual", env={"_RITUAL_COMPLETE": f"{shell}_source"}
    )
    assert generated.exit_code == 0
    assert printed == generated.stdout
    assert "_RITUAL_COMPLETE" in printed


def test_completion_completes_commands() -> None:
    from click.shell_completion import ShellComplete

    from scheduler.cli import main

    complete = ShellComplete(main, {}, "ritual", "_RITUAL_COMPLETE")
    assert [c.value for c in complete.get_completions(["st"], "st")] == ["status", "streaks"]
    assert [c.value for c in complete.get_completions(["completion"], "")] == ["bash", "zsh", "fish"]


def test_completion_of_an_unknown_shell_is_a_usage_error(ritual: RitualCli) -> None:
    assert (
        "'powershell' is not one of 'bash', 'zsh', 'fish'"
        in ritual("completion", "powershell", code=2).stderr
    )


# --- progress bars for long imports and exports: on a terminal only --------------------------------


def big_backup(tmp_path: Path, rituals: int = 3, days: int = 200) -> Path:
    """A backup in `ritual export`'s JSON with ``rituals`` daily rituals done every day."""
    import json

    first = date(2026, 11, 23) - timedelta(days=days)
    document: dict[str, object] = {"format": "ritual-scheduler", "version": 1, "skips": [], "pauses": []}
    document["rituals"] = [
        {"definition": {"name": f"r{n}", "timezone": "UTC", "start": first.isoformat()}, "cadence": []}
        for n in range(rituals)
    ]
    document["completions"] = [
        {"ritual": f"r{n}", "day": (first + timedelta(days=d)).isoformat(),
         "at": f"{first + timedelta(days=d)}T12:00:00+00:00"}
        for n in range(rituals)
        for d in range(days)
    ]  # fmt: skip
    path = tmp_path / "big.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_an_import_tells_its_progress_to_the_end(ritual: RitualCli, tmp_path: Path) -> None:
    from scheduler.adapters.store import SqlStore
    from scheduler.app import exchange

    snapshot = exchange.parse_json(
        big_backup(tmp_path).read_text(encoding="utf-8"), "big.json", default_timezone="UTC"
    )
    heard: list[tuple[int, int]] = []
    store = SqlStore.open(f"sqlite:///{tmp_path / 'ritual.db'}")
    exchange.apply_import(store, snapshot, now=ritual.clock.now(), progress=lambda d, t: heard.append((d, t)))
    assert heard[-1] == (603, 603)
    assert [done for done, _ in heard] == sorted({done for done, _ in heard})
    assert len(heard) <= 201
    read: list[tuple[int, int]] = []
    exchange.read_snapshot(store, lambda d, t: read.append((d, t)))
    store.close()
    assert read == [(1, 3), (2, 3), (3, 3)]


def test_import_and_export_show_a_bar_on_a_terminal(
    installed: RitualCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import click.testing

    from scheduler.cli import render

    monkeypatch.setattr(click.testing._NamedTextIOWrapper, "isatty", lambda self: True)
    monkeypatch.setattr(render, "PROGRESS_AFTER", 0.0)
    result = installed("import", str(big_backup(tmp_path)))
    assert result.stdout.startswith("added 3 rituals, 600 completions, 0 skips, 0 pauses\n  r0: a new ritual")
    assert "importing" in result.stderr and "/603" in result.stderr
    exported = installed("export", "-o", str(tmp_path / "out.json"))
    assert "exporting" in exported.stderr and "/15" in exported.stderr


def test_import_and_export_show_no_bar_when_piped(installed: RitualCli, tmp_path: Path) -> None:
    result = installed("import", str(big_backup(tmp_path)))
    assert result.stderr == ""
    assert installed("export", "-o", str(tmp_path / "out.json")).stderr == f"wrote {tmp_path / 'out.json'}\n"
