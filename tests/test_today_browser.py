"""The household's app in a real browser: Debian's Chromium driven by Playwright, at a phone's
390 px and a laptop's 1280 px, against the app on a real uvicorn server (a SQLite file, a fake
clock: Friday 27 Nov 2026, 19:30 in Berlin).

Each scenario of issue 21 runs at both widths; every page it passes is checked with axe-core
(fetched from the npm registry into a cache outside the repository at test time, loaded into the
page by the test) and must have no serious or critical violation, and no sideways scrolling.
Screenshots of the main pages land in the test's tmp dir.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.couple_site import FRIDAY, TOKENS, Couple, couple_home, serve

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
AXE_DIR = Path.home() / ".cache" / "ritual-scheduler-tests" / "axe"
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed: apt-get install chromium"
)
WIDTHS = {"phone": (390, 844), "laptop": (1280, 900)}


@dataclass
class Site:
    url: str
    couple: Couple
    shots: Path


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core from the npm registry, installed once into a cache dir outside the repository."""
    if not AXE_JS.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: axe-core cannot be fetched (apt-get install npm)")
        done = subprocess.run(
            [npm, "install", "--prefix", str(AXE_DIR), "--no-audit", "--no-fund", "axe-core@4"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0 or not AXE_JS.exists():
            pytest.skip(f"npm could not install axe-core: {done.stderr.strip()[-200:]}")
    return AXE_JS.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with couple_home(tmp_path) as couple, serve(couple.app()) as url:
        yield Site(url, couple, tmp_path)


@pytest.fixture(params=list(WIDTHS))
def width(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Person:
    """One person's phone or laptop: a browser context of its own (its own session cookie)."""

    def __init__(self, browser: Browser, site: Site, width: str, axe: str) -> None:
        w, h = WIDTHS[width]
        phone = width == "phone"
        # bypass_csp: only so the test can load axe-core; the pages' own policy is tested elsewhere.
        self.context = browser.new_context(
            viewport={"width": w, "height": h}, is_mobile=phone, has_touch=phone, bypass_csp=True
        )
        self.page = self.context.new_page()
        self.site = site
        self.width = width
        self.axe = axe

    def log_in(self, person: str) -> Page:
        """Open the person's login link, as `ritual token create ... --login-link` prints it."""
        self.page.goto(f"{self.site.url}/login?token={TOKENS[person]}")
        expect(self.page.get_by_role("heading", level=1)).to_have_text(f"Hello, {person.title()}")
        return self.page

    def card(self, title: str) -> Any:
        return self.page.locator("section.r", has=self.page.get_by_role("heading", name=title, exact=True))

    def check(self, name: str) -> None:
        """No sideways scrolling, no serious or critical axe violation; a screenshot kept."""
        page = self.page
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], (name, self.width, widths)
        page.add_script_tag(content=self.axe)
        result = page.evaluate("async () => JSON.stringify(await axe.run(document))")
        bad = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in json.loads(result)["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert bad == [], (name, self.width, bad)
        page.screenshot(path=str(self.site.shots / f"{name}-{self.width}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def people(browser: Browser, site: Site, width: str, axe_source: str) -> Iterator[dict[str, Person]]:
    made = {name: Person(browser, site, width, axe_source) for name in ("alex", "sam")}
    yield made
    for person in made.values():
        person.close()


TALK = "20 minutes, phones away"


def test_done_on_a_both_ritual_waits_for_alex_then_alex_keeps_it_and_undoes(
    people: dict[str, Person], site: Site
) -> None:
    sam, alex = people["sam"], people["alex"]
    sam.log_in("sam")
    sam.check("today-sam")
    sam.card(TALK).get_by_role("button", name=f"Done for me: {TALK}").click()
    expect(sam.page.locator(".notice")).to_have_text(f"Recorded '{TALK}'.")
    expect(sam.card(TALK).locator(".state")).to_have_text("waiting for Alex")

    alex.log_in("alex")
    expect(alex.card(TALK).locator(".state")).to_have_text("waiting for you")
    alex.card(TALK).get_by_role("button", name=f"Done for me: {TALK}").click()
    expect(alex.card(TALK).locator(".state")).to_have_text("kept")
    expect(alex.card(TALK).get_by_role("button", name=f"Done for me: {TALK}")).to_have_count(0)
    alex.check("today-kept")

    alex.card(TALK).get_by_role("button", name=f"Undo my Done of {TALK}").click()
    expect(alex.page.locator(".notice")).to_have_text(f"Took back your Done of '{TALK}'.")
    expect(alex.card(TALK).locator(".state")).to_have_text("waiting for you")
    assert site.couple.marks("talk") == [(FRIDAY, "sam", "")]


def test_skip_with_a_reason_and_back_fill_yesterday(people: dict[str, Person], site: Site) -> None:
    alex = people["alex"]
    page = alex.log_in("alex")
    run = alex.card("Morning run")
    run.get_by_text("Skip…").click()
    run.get_by_label("Reason (optional)").fill("knee hurts")
    run.get_by_role("button", name="Skip Morning run").click()
    expect(alex.card("Morning run").locator(".state")).to_have_text("excused")
    stored = site.couple.store.get_ritual("run")
    assert stored is not None
    assert [s.reason for s in site.couple.store.skips(stored.id)] == ["knee hurts"]

    journal = alex.card("Date night")
    journal.get_by_text("Past days").click()
    journal.get_by_role("button", name="Thu 26 Nov: not done; tap to mark it done").click()
    expect(page.locator(".notice")).to_have_text("Recorded 'Date night' for Thu 26 Nov.")
    alex.card("Date night").get_by_text("Past days").click()
    expect(
        alex.card("Date night").get_by_role("button", name="Thu 26 Nov: done by you; tap to undo")
    ).to_be_visible()
    alex.check("today-past-days")


def test_add_and_edit_a_ritual_and_see_its_page(people: dict[str, Person], site: Site) -> None:
    alex = people["alex"]
    page = alex.log_in("alex")
    page.get_by_role("link", name="Add a ritual").click()
    alex.check("add")
    page.get_by_label("Name").fill("walk")
    page.get_by_label("Title").fill("Evening walk")
    page.get_by_label("Every").select_option("week")
    page.get_by_label("On (due days").fill("sat")
    page.get_by_label("At (nudge times").fill("10:00")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Evening walk")
    expect(page.locator(".notice")).to_have_text("Added 'walk'.")
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("At (nudge times").fill("25:00")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("at: ")
    page.get_by_label("At (nudge times").fill("11:00")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".notice")).to_have_text("Saved 'walk'.")
    expect(page.locator("dl.def")).to_contain_text("weekly on sat at 11:00")

    page.goto(f"{site.url}/rituals/talk")
    expect(page.get_by_role("list", name="Legend")).to_be_visible()
    alex.check("ritual-page")


def test_household_pause_with_dates(people: dict[str, Person], site: Site) -> None:
    alex = people["alex"]
    page = alex.log_in("alex")
    page.get_by_role("link", name="Household").click()
    alex.check("household")
    page.get_by_label("Until").fill("2026-12-06")
    page.get_by_label("Reason (optional)").fill("holiday")
    page.get_by_role("button", name="Pause everything").click()
    expect(page.locator(".notice")).to_have_text("Everything is paused as asked.")
    page.get_by_role("link", name="Today").click()
    expect(page.locator(".notice.paused")).to_contain_text(
        "Everything is paused from Fri 27 Nov until Sun 6 Dec."
    )
    expect(alex.card("Morning run").locator(".state")).to_have_text("paused")
    alex.check("today-paused")


def test_dark_mode_follows_the_phone_and_keeps_its_contrast(
    browser: Browser, site: Site, axe_source: str
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, color_scheme="dark", bypass_csp=True
    )
    try:
        alex = Person.__new__(Person)
        alex.context, alex.page, alex.site, alex.width, alex.axe = (
            context,
            context.new_page(),
            site,
            "dark",
            axe_source,
        )
        page = alex.log_in("alex")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(18, 18, 18)"
        alex.check("today")
        page.goto(f"{site.url}/rituals/talk")
        alex.check("ritual-page")
    finally:
        context.close()
