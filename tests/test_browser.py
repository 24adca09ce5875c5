"""The today page in a real browser: Debian's Chromium, driven by Playwright, against a real server.

uvicorn serves the app on a free port of 127.0.0.1 from a thread; the store is a SQLite file and
the clock a fake one (Friday 27 Nov 2026, 19:30 in Berlin), so the page always shows the same day.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.store import SqlStore
from scheduler.adapters.web import create_app
from scheduler.app.service import RitualService
from scheduler.app.stored import RitualSource, api_token_hash
from scheduler.domain.definitions import ritual_from_table
from tests.support.couple_site import serve

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed: apt-get install chromium"
)

NOW = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)
TOKEN = "rt_browser-test-token"
KEY = b"b" * 32
RITUALS = [
    {
        "name": "date-night",
        "every": "week",
        "on": "fri",
        "at": "19:00",
        "timezone": "Europe/Berlin",
        "start": "2026-11-01",
    },
    # A daily ritual a year old: its heatmap is the widest thing on the page.
    {
        "name": "evening-walk",
        "every": "day",
        "at": "20:30",
        "timezone": "Europe/Berlin",
        "start": "2025-11-01",
    },
]


@dataclass(frozen=True)
class Site:
    url: str
    db: Path


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """The app on a real uvicorn server in a thread, over a SQLite store with two rituals and a token."""
    db = tmp_path / "ritual.db"
    store = SqlStore.open(f"sqlite:///{db}")
    for table in RITUALS:
        ritual = ritual_from_table(table)
        assert ritual.start is not None
        store.save_ritual(ritual, RitualSource.CLI, now=NOW, effective_from=ritual.start)
    store.create_api_token("phone", api_token_hash(TOKEN), now=NOW)
    clock = FakeClock(NOW)
    service = RitualService(
        store, clock, ritual_file=tmp_path / "none.toml", default_timezone="Europe/Berlin"
    )
    app = create_app(service, key=KEY, clock=clock, public_url="http://127.0.0.1")
    try:
        with serve(app) as url:
            yield Site(url, db)
    finally:
        store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the module; each test opens its own context (cookies start empty)."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def log_in(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/login")
    page.get_by_label("Your token").fill(TOKEN)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{site.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("The household's rituals")


def completions(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "select ritual.name, completion.day, completion.source from completion "
            "join ritual on ritual.id = completion.ritual_id"
        ).fetchall()


def test_log_in_press_done_and_the_streak_goes_up(site: Site, browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    log_in(page, site)
    date_night = page.locator("section.r", has=page.get_by_role("heading", name="Date night"))
    streak = date_night.locator(".streak")
    expect(streak).to_have_text("0")
    assert completions(site.db) == []

    page.get_by_role("button", name="Done date-night", exact=True).click()
    expect(page.locator(".notice")).to_have_text("Recorded 'Date night'.")
    expect(streak).to_have_text("1")
    expect(date_night.locator(".state")).to_have_text("kept")
    assert completions(site.db) == [("date-night", date(2026, 11, 27).isoformat(), "web")]

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{site.url}/login")
    page.goto(f"{site.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    context.close()


def test_the_pages_fit_a_phone_without_sideways_scrolling(site: Site, browser: Browser) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    fits = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    page.goto(f"{site.url}/login")
    assert page.evaluate(fits)
    log_in(page, site)
    expect(page.locator("section.r")).to_have_count(2)
    widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], widths
    assert widths[1] == 390
    context.close()


# --- framing: issue 15, item 7 ---------------------------------------------------------------------


@pytest.fixture
def framer(site: Site) -> Iterator[str]:
    """Another origin on the same host (another port): a page that frames the today page."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    document = (
        f'<!doctype html><title>framer</title><iframe name="victim" src="{site.url}/"></iframe>'.encode()
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_another_port_cannot_frame_the_logged_in_today_page(
    site: Site, browser: Browser, framer: str
) -> None:
    """127.0.0.1 on another port is the same site, so the strict session cookie goes along;
    only the page's own refusal to be framed keeps its Done buttons out of a clickjacker's frame."""
    context = browser.new_context()
    page = context.new_page()
    log_in(page, site)
    page.goto(framer)
    page.wait_for_timeout(500)
    (victim,) = [frame for frame in page.frames if frame.name == "victim"]
    assert victim.locator("button").count() == 0, "the framed today page rendered its buttons"
    context.close()


def test_the_pages_keep_their_style_under_their_policy(site: Site, browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    refused: list[str] = []
    page.on(
        "console",
        lambda message: refused.append(message.text) if "Content Security" in message.text else None,
    )
    log_in(page, site)
    background = page.get_by_role("button", name="Done date-night", exact=True).evaluate(
        "button => getComputedStyle(button).backgroundColor"
    )
    assert background == "rgb(27, 94, 32)"  # the style sheet's green: the policy lets it apply
    assert refused == []
    context.close()
