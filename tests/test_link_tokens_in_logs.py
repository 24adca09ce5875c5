"""One-tap link tokens never reach a log, at any level (issue 15, item 4).

A token records a completion (or a snooze) for a person: it is a secret like a password. `ritual
-v run` and `ritual -vv retry` once logged Apprise's payloads and headers with the full
``/l/<token>`` Done and Snooze links, and urllib3 the URL-encoded message of a GET in its request
line. Real channels receive the links here (json, form by POST and by GET, ntfy buttons), so the
test knows every token, and looks for it, raw and encoded, in everything that was logged.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

import pytest

from scheduler.adapters.notify import scrub
from scheduler.adapters.notify.secrets import hide_link_tokens
from scheduler.app.compose import LinkMaker
from scheduler.app.stored import DeliveryStatus, OccurrenceKind, OccurrenceStatus
from scheduler.settings import load_settings
from tests.conftest import RitualCli
from tests.support.daemon import ROOT
from tests.support.households import Household

KEY = b"k" * 32
BASE = "http://ritual.test:8470"
TOKEN = re.compile(re.escape(BASE) + r"/l/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)")


class AnyReceiver:
    """Takes every request (any method, any body) and keeps what arrived, decoded."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def _take(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                seen.append(unquote_plus(self.path) + str(dict(self.headers)) + unquote_plus(body.decode()))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = _take

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def tokens(self) -> set[str]:
        return {token for text in self.seen for token in TOKEN.findall(text)}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[AnyReceiver]:
    made = AnyReceiver()
    yield made
    made.close()


def channel_urls(port: int) -> list[str]:
    return [
        f"json://127.0.0.1:{port}/hook",
        f"form://127.0.0.1:{port}/form",
        f"form://127.0.0.1:{port}/get?method=GET",
        f"ntfy://127.0.0.1:{port}/alex",
    ]


def leaked(tokens: set[str], text: str) -> list[str]:
    """The tokens that appear in ``text``, in any of the spellings a log may use."""
    spellings = {form for token in tokens for form in (token, quote(token, safe=""), token[-20:])}
    return sorted(form for form in spellings if form in text)


def test_a_nudge_with_links_logs_no_token_at_debug(
    households: Any, receiver: AnyReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    home: Household = households({"alex": channel_urls(receiver.port)})
    home.outbox.composer.links = LinkMaker(key=KEY, base=BASE, max_snoozes=3)
    talk = home.add(people=["alex"], notify=["alex"])
    home.fire(talk)
    tokens = receiver.tokens()
    assert len(tokens) == 2, tokens  # Done and Snooze, the same for every channel of alex
    assert "JSON Payload" in caplog.text and "ntfy Headers" in caplog.text  # Apprise's DEBUG lines
    assert "%2Fl%2F****" in caplog.text  # the GET's URL-encoded message in urllib3's request line
    assert leaked(tokens, caplog.text) == []
    for record in caplog.records:
        assert leaked(tokens, record.getMessage()) == [], record.name


def test_any_librarys_record_is_scrubbed_once_channels_are_loaded(
    households: Any, receiver: AnyReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    households({"alex": channel_urls(receiver.port)})  # loading channels installs the guard
    token = "eyJhIjoiZG9uZSJ9.c2lnbmF0dXJlLW9mLWEtbGluaw"
    logging.getLogger("some.mqtt.library").debug("publishing %s", f"Done: {BASE}/l/{token}?o=1&p=alex")
    assert token not in caplog.text
    assert f"{BASE}/l/****?o=1&p=alex" in caplog.text
    try:
        raise RuntimeError(f"could not send {BASE}/l/{token}")
    except RuntimeError:
        logging.getLogger("some.plugin").exception("sending failed")
    assert "could not send" in caplog.text and token not in caplog.text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        pytest.param(f"{BASE}/l/abc.def?o=1&p=al", f"{BASE}/l/****?o=1&p=al", id="raw"),
        pytest.param(
            "http%3A%2F%2Fh%2Fl%2Fabc.def%3Fo%3D1", "http%3A%2F%2Fh%2Fl%2F****%3Fo%3D1", id="url-encoded"
        ),
        pytest.param(
            "http%253A%252F%252Fh%252Fl%252Fabc.def", "http%253A%252F%252Fh%252Fl%252F****", id="twice"
        ),
        pytest.param('"http:\\/\\/h\\/l\\/abc.def"', '"http:\\/\\/h\\/l\\/****"', id="json-escaped"),
        pytest.param(f"{BASE}/l/eyJhIjoiZG9uZ", f"{BASE}/l/****", id="cut-off"),
        pytest.param("see /lib/python and /l/", "see /lib/python and /l/", id="no-token"),
    ],
)
def test_link_tokens_are_blanked_in_every_spelling(text: str, shown: str) -> None:
    assert hide_link_tokens(text) == shown
    assert scrub(text) == shown


def test_ritual_vv_retry_logs_no_token(installed: RitualCli, receiver: AnyReceiver) -> None:
    """The run of the issue: `ritual -vv retry` of a failed nudge, its whole stderr."""
    (installed.config / "apprise.txt").write_text(
        "".join(f"couple={url}\n" for url in channel_urls(receiver.port)), encoding="utf-8"
    )
    env = {
        **os.environ,
        **{k: v for k, v in installed.env.items() if v},
        "RITUAL_PUBLIC_URL": BASE,
        "PYTHONPATH": str(ROOT),
    }
    env.pop("RITUAL_DATABASE_URL", None)
    previous = dict(os.environ)
    os.environ.update({k: v for k, v in env.items() if k.startswith("RITUAL_")})
    try:
        settings = load_settings()
    finally:
        os.environ.clear()
        os.environ.update(previous)
    from scheduler.wiring import load_household_channels, open_store

    channels = load_household_channels(settings, strict=True)
    store = open_store(settings)
    stored = store.get_ritual("tech-free-talk")
    assert stored is not None
    now = installed.clock.now()
    occurrence, _ = store.claim_occurrence(
        stored.id, day=date(2026, 11, 24), slot="09:00", kind=OccurrenceKind.DUE, due_at=now,
        status=OccurrenceStatus.PENDING, now=now,
    )  # fmt: skip
    rows = store.add_deliveries(occurrence.id, [(c.masked, c.target) for c in channels], now=now)
    for row in rows:
        store.finish_delivery(row.id, DeliveryStatus.FAILED, now=now, error="503")
    store.close()
    run = subprocess.run(
        [sys.executable, "-m", "scheduler", "-vv", "retry"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    tokens = receiver.tokens()
    assert len(tokens) == 2, (tokens, run.stdout)
    assert "DEBUG apprise" in run.stderr  # -vv shows Apprise's payloads...
    assert leaked(tokens, run.stderr + run.stdout) == []  # ...without the tokens
    assert leaked(tokens, unquote(run.stderr)) == []
