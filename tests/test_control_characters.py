"""NUL and other control characters are refused where they come in, on both engines (issue 15, item 9).

PostgreSQL cannot store NUL in text at all: ``{"note": "x\\u0000y"}`` reached it and came back
as a 503, "the database is not available". Now free text (a note, a reason, a person, a
description) may hold line breaks and tabs but no other control character, a name that is no
ritual name is looked up nowhere, and each refusal is a 400 with one line; SQLite, which would
have stored it, refuses the same. A ritual file with one names the file and the line.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.store import SqlStore
from scheduler.adapters.web import create_app
from scheduler.app.service import RitualService
from scheduler.app.stored import RitualSource, api_token_hash
from scheduler.domain.definitions import parse_ritual_file, ritual_from_table
from scheduler.domain.errors import RitualFileError
from tests.conftest import RitualCli
from tests.support.store import raw_engine

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

NOW = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)
TOKEN = "rt_control-characters"


@pytest.fixture
def api(store_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    store = SqlStore.open(store_url)
    ritual = ritual_from_table({"name": "walk", "at": "20:00", "timezone": "UTC", "start": "2026-11-01"})
    store.save_ritual(ritual, RitualSource.CLI, now=NOW, effective_from=date(2026, 11, 1))
    store.create_api_token("ha", api_token_hash(TOKEN), now=NOW)
    clock = FakeClock(NOW)
    service = RitualService(store, clock, ritual_file=tmp_path / "none.toml", default_timezone="UTC")
    app = create_app(service, key=b"k" * 32, clock=clock, public_url="http://x")
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        yield client, store_url
    store.close()


def counts(url: str) -> tuple[int, ...]:
    with raw_engine(url) as engine, engine.connect() as connection:
        return tuple(
            connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            for table in ("ritual", "completion", "skip", "pause")
        )


DONE, COMPLETIONS, RITUALS = "/api/v1/rituals/walk/done", "/api/v1/completions", "/api/v1/rituals"
REQUESTS = [
    pytest.param("POST", DONE, {"note": "x\u0000y"}, "note: ", id="note-nul"),
    pytest.param("POST", DONE, {"note": "\u001b[2J"}, "note: ", id="note-escape"),
    pytest.param("POST", DONE, {"by": "al\u0000ex"}, "by: ", id="by-nul"),
    pytest.param("POST", COMPLETIONS, {"ritual": "walk", "note": "\u0000"}, "note: ", id="completion"),
    pytest.param("POST", f"{RITUALS}/walk/pause", {"reason": "ill\u0000"}, "reason: ", id="pause-reason"),
    pytest.param("POST", RITUALS, {"name": "run", "description": "a\u0000b"}, "description: ", id="new"),
    pytest.param("PATCH", f"{RITUALS}/walk", {"description": "\u0007"}, "description: ", id="edit"),
    pytest.param("POST", RITUALS, {"name": "r\u0000n"}, "name: ", id="name-in-body"),
    pytest.param("POST", COMPLETIONS, {"ritual": "wa\u0000lk"}, "no ritual named 'wa\\x00lk'", id="lookup"),
]


@pytest.mark.parametrize(("method", "path", "body", "error"), REQUESTS)
def test_a_control_character_in_a_field_is_a_400_with_one_line(
    api: tuple[TestClient, str], method: str, path: str, body: dict[str, Any], error: str
) -> None:
    client, url = api
    before = counts(url)
    answer = client.request(method, path, json=body)
    assert answer.status_code in (400, 404), answer.text
    message = answer.json()["error"]
    assert message.startswith(error), message
    assert "\n" not in message and "\u0000" not in message and "\u001b" not in message
    assert counts(url) == before


@pytest.mark.parametrize("path", ["/api/v1/rituals/wa%00lk", "/api/v1/streaks?ritual=wa%00lk"])
def test_a_nul_in_a_name_in_the_url_is_an_unknown_ritual(api: tuple[TestClient, str], path: str) -> None:
    client, _ = api
    answer = client.get(path)
    assert (answer.status_code, answer.json()) == (
        404,
        {"error": "no ritual named 'wa\\x00lk' (see `ritual list`)"},
    )


def test_line_breaks_and_tabs_are_kept(api: tuple[TestClient, str]) -> None:
    client, _ = api
    answer = client.post("/api/v1/rituals/walk/done", json={"note": "two\nlines\tand a tab"})
    assert answer.status_code == 201
    assert answer.json()["completion"]["note"] == "two\nlines\tand a tab"


@pytest.mark.parametrize(
    ("value", "line"),
    [
        pytest.param('"\\u0000"', 3, id="escaped-nul"),
        pytest.param('"""a\nb\\u001bc"""', 3, id="escape-in-a-multi-line-string"),
    ],
)
def test_a_ritual_file_with_a_control_character_names_the_line(value: str, line: int) -> None:
    source = f'[[ritual]]\nname = "walk"\ndescription = {value}\n'
    with pytest.raises(RitualFileError) as caught:
        parse_ritual_file(source, "rituals.toml")
    assert str(caught.value).startswith(
        f"rituals.toml:{line}: ritual 'walk': control characters such as '\\x"
    )


def test_a_raw_nul_in_a_ritual_file_names_the_line() -> None:
    with pytest.raises(RitualFileError) as caught:
        parse_ritual_file('[[ritual]]\nname = "walk"\ntitle = "a\x00b"\n', "rituals.toml")
    assert str(caught.value).startswith("rituals.toml:3: not valid TOML")


def test_the_cli_refuses_an_escape_sequence_in_a_note(installed: RitualCli) -> None:
    result = installed("done", "tech-free-talk", "--note", "\x1b]0;owned\x07", code=2)
    assert result.stderr.strip() == "Error: note: control characters such as '\\x1b' cannot be stored"


def test_a_description_stored_before_the_rule_stays_readable(installed: RitualCli) -> None:
    store = SqlStore.open(f"sqlite:///{installed.database}")
    ritual = ritual_from_table({"name": "old", "at": "09:00", "description": "bell \x07 here"}, stored=True)
    store.save_ritual(ritual, RitualSource.CLI, now=NOW, effective_from=date(2026, 11, 1))
    store.close()
    assert "old" in {row["name"] for row in installed.json("list")}
    assert installed.json("show", "old")["description"] == "bell \x07 here"
