"""One tap from the nudge: Done/Snooze links in what channels receive, and snoozed re-nudges.

The outbox tests run the real AppriseOutbox against local receivers posing as ntfy and as a
json:// webhook; the daemon test serves the real HTTP app with uvicorn and taps the ntfy
button's URL the way the ntfy app would (a POST).
"""

from __future__ import annotations

import html
import re
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.sdnotify import Notifier
from scheduler.adapters.server import bind
from scheduler.adapters.store import SqlStore
from scheduler.app.compose import LinkMaker
from scheduler.app.nudging import snooze_depth, snoozed_slot
from scheduler.app.stored import DeliveryStatus, OccurrenceKind, OccurrenceStatus
from scheduler.domain.errors import ConflictError, SettingsError
from scheduler.domain.links import LinkAction, verify
from scheduler.settings import Settings
from scheduler.wiring import make_daemon, make_nudger
from tests.conftest import RitualCli
from tests.support.daemon import ROOT, wait_for
from tests.support.households import DUE, Household
from tests.support.receivers import Receiver, StartReceiver

KEY = b"k" * 32
BASE = "http://ritual.test:8470"
FAR_DUE = datetime(2031, 5, 6, 20, 30, tzinfo=UTC)
ACTION = re.compile(r"http, (Done|Snooze), (\S+), method=POST, clear=true")


def ntfy_url(receiver: Receiver, topic: str) -> str:
    return f"ntfy://127.0.0.1:{receiver.port}/{topic}"


def linked(home: Household, max_snoozes: int = 3) -> Household:
    """The household's outbox and nudger, now signing links as the daemon's do."""
    home.outbox.composer.links = LinkMaker(key=KEY, base=BASE, max_snoozes=max_snoozes)
    home.nudger.max_snoozes = max_snoozes
    return home


def buttons(receiver: Receiver, index: int = -1) -> dict[str, str]:
    """The ntfy buttons of a received nudge: label -> URL."""
    return dict(ACTION.findall(receiver.requests[index].headers["X-Actions"]))


def token_of(url: str) -> str:
    assert url.startswith(f"{BASE}/l/"), url
    return url.removeprefix(f"{BASE}/l/")


# --- links in nudges ---------------------------------------------------------------------------


def test_ntfy_gets_done_and_snooze_buttons_and_a_webhook_gets_the_links_in_the_body(
    receivers: StartReceiver, households: Callable[..., Household]
) -> None:
    phone, hook = receivers(), receivers()
    home = linked(households({"alex": [ntfy_url(phone, "alex")], "sam": [hook.url("sam")]}))
    talk = home.add(people=["alex", "sam"], notify=["alex", "sam"])
    occurrence = home.fire(talk)

    pressed = buttons(phone)
    assert list(pressed) == ["Done", "Snooze"]
    assert BASE not in phone.requests[0].body["message"], "ntfy shows buttons, not links"
    done = verify(token_of(pressed["Done"]), KEY, now=home.clock.now())
    snooze = verify(token_of(pressed["Snooze"]), KEY, now=home.clock.now())
    assert (done.occurrence, done.person, done.action) == (occurrence.id, "alex", LinkAction.DONE)
    assert (snooze.person, snooze.action) == ("alex", LinkAction.SNOOZE)

    body = hook.requests[0].body["message"]
    lines = dict(line.split(": ", 1) for line in body.splitlines() if line.startswith(("Done: ", "Snooze: ")))
    assert set(lines) == {"Done", "Snooze"}
    sams = verify(token_of(lines["Done"]), KEY, now=home.clock.now())
    assert (sams.occurrence, sams.person) == (occurrence.id, "sam"), "each person gets their own link"


def test_a_link_lives_until_the_period_closes_plus_the_grace(
    receivers: StartReceiver, households: Callable[..., Household]
) -> None:
    phone = receivers()
    home = linked(households({"alex": [ntfy_url(phone, "alex")]}))
    home.outbox.composer.links = LinkMaker(key=KEY, base=BASE, grace=timedelta(hours=6))
    home.fire(home.add(notify=["alex"]))
    claim = verify(token_of(buttons(phone)["Done"]), KEY, now=home.clock.now())
    # A daily ritual in UTC: the period closes at midnight after DUE's day.
    assert claim.expires == datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def test_without_links_configured_nudges_carry_no_actions(
    receivers: StartReceiver, households: Callable[..., Household]
) -> None:
    phone = receivers()
    home = households({"alex": [ntfy_url(phone, "alex")]})
    home.fire(home.add(notify=["alex"]))
    assert "X-Actions" not in phone.requests[0].headers


# --- snooze ----------------------------------------------------------------------------------------


def test_snooze_nudges_the_snoozer_again_after_the_snooze_time(
    receivers: StartReceiver, households: Callable[..., Household]
) -> None:
    alex_phone, sam_phone = receivers(), receivers()
    home = linked(households({"alex": [ntfy_url(alex_phone, "a")], "sam": [ntfy_url(sam_phone, "s")]}))
    talk = home.add(people=["alex", "sam"], notify=["alex", "sam"])
    first = home.fire(talk)
    later = home.nudger.snooze(first.id, "alex")
    assert (later.kind, later.slot, later.due_at) == (
        OccurrenceKind.SNOOZE,
        "20:30~z1",
        DUE + timedelta(minutes=30),
    )
    again = home.nudger.snooze(first.id, "alex")  # a double tap asks for the same re-nudge
    assert again.id == later.id

    home.clock.set(DUE + timedelta(minutes=29))
    assert home.outbox.deliver_due() == 0, "nothing before the snooze is over"
    home.clock.set(DUE + timedelta(minutes=30))
    assert home.outbox.deliver_due() == 1, "one row: alex's channel only, queued once"
    assert (len(alex_phone.requests), len(sam_phone.requests)) == (2, 1)
    assert home.store.get_occurrence(later.id).status is OccurrenceStatus.SENT  # type: ignore[union-attr]
    assert buttons(alex_phone)["Snooze"], "a snoozed nudge can be snoozed again"
    # The re-nudge is not part of the plan: tomorrow's nudge still fires on time.
    tomorrow = home.fire(talk)
    assert (tomorrow.day, tomorrow.slot) == (date(2026, 11, 25), "20:30")


def test_snoozing_stops_at_max_snoozes_and_the_last_nudge_has_no_snooze_button(
    receivers: StartReceiver, households: Callable[..., Household]
) -> None:
    phone = receivers()
    home = linked(households({"alex": [ntfy_url(phone, "a")]}), max_snoozes=2)
    occurrence = home.fire(home.add(notify=["alex"]))
    for depth in (1, 2):
        occurrence = home.nudger.snooze(occurrence.id, "alex")
        home.clock.set(occurrence.due_at)
        assert home.outbox.deliver_due() == 1
        assert snooze_depth(occurrence.slot) == depth
    assert list(buttons(phone)) == ["Done"]
    with pytest.raises(ConflictError, match=r"snoozed 2 times already \(max_snoozes = 2\)"):
        home.nudger.snooze(occurrence.id, "alex")


def test_done_before_the_snooze_ends_cancels_the_re_nudge(
    receivers: StartReceiver, households: Callable[..., Household]
) -> None:
    phone = receivers()
    home = linked(households({"alex": [ntfy_url(phone, "a")]}))
    talk = home.add(notify=["alex"])
    later = home.nudger.snooze(home.fire(talk).id, "alex")
    home.clock.set(DUE + timedelta(minutes=10))
    home.service.record_done("talk", by="alex")
    home.clock.set(later.due_at)
    assert home.outbox.deliver_due() == 1
    assert len(phone.requests) == 1, "the re-nudge was not sent"
    [row] = home.store.deliveries(occurrence_id=later.id)
    assert row.status is DeliveryStatus.CANCELLED
    assert home.store.get_occurrence(later.id).status is OccurrenceStatus.SUPPRESSED  # type: ignore[union-attr]
    with pytest.raises(ConflictError, match="already done for this period"):
        home.nudger.snooze(later.id, "alex")


def test_snoozed_slots_name_their_depth() -> None:
    assert [snoozed_slot(s) for s in ("20:30", "20:30~z1", "nag/20:30~z2")] == [
        "20:30~z1",
        "20:30~z2",
        "nag/20:30~z3",
    ]
    assert [snooze_depth(s) for s in ("20:30", "20:30~z1", "x~zz")] == [0, 1, 0]


# --- the daemon serves the links ----------------------------------------------------------------------


class Running:
    """The real daemon (real outbox, real uvicorn) on a thread, under a fake clock."""

    def __init__(self, tmp_path: Path, phone: Receiver) -> None:
        # Far from the real clock, so APScheduler's real-time timers never go off in the test.
        self.clock = FakeClock(FAR_DUE - timedelta(hours=1))
        config = tmp_path / "config"
        config.mkdir()
        (config / "rituals.toml").write_text(
            '[[ritual]]\nname = "talk"\ntitle = "Phones away"\ntimezone = "UTC"\nat = "20:30"\n'
            'start = "2031-05-01"\npeople = ["alex"]\nnotify = ["alex"]\n',
            encoding="utf-8",
        )
        (config / "apprise.txt").write_text(f"alex={ntfy_url(phone, 'alex')}\n", encoding="utf-8")
        self.settings = Settings(
            config_dir=config, data_dir=tmp_path / "data", digest_on="off", http_bind="127.0.0.1:0"
        )
        self.daemon = make_daemon(
            lambda: self.settings,
            clock=self.clock,
            make_nudger=make_nudger,
            systemd=Notifier.from_environ({}),
        )
        self.thread = threading.Thread(target=self.daemon.run)

    def completions(self) -> list[tuple[date, str, str]]:
        store = SqlStore.open(self.settings.database)
        try:
            talk = store.get_ritual("talk")
            assert talk is not None
            return [(c.day, c.by, c.source) for c in store.completions(talk.id)]
        finally:
            store.close()


@pytest.fixture
def running(tmp_path: Path, receivers: StartReceiver) -> Iterator[tuple[Running, Receiver]]:
    phone = receivers()
    made = Running(tmp_path, phone)
    made.thread.start()
    assert made.daemon.started.wait(20)
    yield made, phone
    made.daemon.request_stop()
    made.thread.join(timeout=20)
    assert not made.thread.is_alive()


def post(url: str) -> tuple[int, str]:
    request = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_tapping_the_ntfy_done_button_records_it_once(running: tuple[Running, Receiver]) -> None:
    daemon, phone = running
    daemon.clock.set(FAR_DUE)
    daemon.daemon.tick()
    assert wait_for(lambda: bool(phone.requests), 20)
    done = buttons(phone)["Done"]
    assert done.startswith(f"{daemon.daemon.http_base}/l/")

    with urllib.request.urlopen(done, timeout=10) as page:  # what a link preview fetches
        assert "Mark 'Phones away' for Tue 6 May done?" in html.unescape(page.read().decode())
    assert daemon.completions() == [], "GET never records"

    status, page_text = post(done)
    assert (status, "Recorded:" in page_text) == (200, True)
    status, page_text = post(done)  # the tap repeated
    assert (status, "Already recorded" in page_text) == (200, True)
    assert daemon.completions() == [(date(2031, 5, 6), "alex", "link")]

    tampered = done[:-3] + ("AAA" if not done.endswith("AAA") else "BBB")
    status, page_text = post(tampered)
    assert status == 403
    assert daemon.completions() == [(date(2031, 5, 6), "alex", "link")]


def test_tapping_snooze_queues_a_re_nudge_that_arrives_after_the_snooze(
    running: tuple[Running, Receiver],
) -> None:
    daemon, phone = running
    daemon.clock.set(FAR_DUE)
    daemon.daemon.tick()
    assert wait_for(lambda: bool(phone.requests), 20)
    status, page_text = post(buttons(phone)["Snooze"])
    assert (status, "you will be nudged again" in page_text) == (200, True)
    daemon.clock.set(FAR_DUE + timedelta(minutes=30))
    daemon.daemon.tick()
    assert wait_for(lambda: len(phone.requests) == 2, 20)
    assert phone.requests[1].body["title"] == "Phones away"


# --- http_bind -------------------------------------------------------------------------------------------


def test_a_taken_port_is_one_line_naming_http_bind() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(SettingsError) as refused:
            bind("127.0.0.1", port)
    assert str(refused.value) == f"http_bind 127.0.0.1:{port}: cannot listen: address already in use"


def test_ritual_run_refuses_a_taken_port_in_one_line(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "RITUAL_CONFIG_DIR": str(tmp_path / "config"),
        "RITUAL_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(ROOT),
    }
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env["RITUAL_HTTP_BIND"] = f"127.0.0.1:{port}"
        run = subprocess.run(
            [sys.executable, "-m", "scheduler", "run"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if line.startswith("Error")]
    assert errors == [f"Error: http_bind 127.0.0.1:{port}: cannot listen: address already in use"], run.stderr


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("http_bind", "localhost", "'localhost' is not HOST:PORT (e.g. 127.0.0.1:8470)"),
        ("http_bind", "127.0.0.1:99999", "'127.0.0.1:99999' is not HOST:PORT (e.g. 127.0.0.1:8470)"),
        ("public_url", "ritual.lan:8470", "'ritual.lan:8470' is not an http:// or https:// base URL"),
        ("snooze", "soon", "soon"),
    ],
)
def test_bad_http_settings_name_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: str, value: str, message: str
) -> None:
    from scheduler.settings import load_settings

    monkeypatch.setenv("RITUAL_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("RITUAL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(f"RITUAL_{option.upper()}", value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert str(refused.value).startswith(f"RITUAL_{option.upper()}: ")
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_links_point_at_public_url_else_at_http_bind(tmp_path: Path) -> None:
    plain = Settings(config_dir=tmp_path, data_dir=tmp_path)
    assert plain.link_base == "http://127.0.0.1:8470"
    vpn = Settings(config_dir=tmp_path, data_dir=tmp_path, public_url="https://ritual.home.arpa/")
    assert vpn.link_base == "https://ritual.home.arpa"
    six = Settings(config_dir=tmp_path, data_dir=tmp_path, http_bind="[::1]:9000")
    assert (six.http_address, six.link_base) == (("::1", 9000), "http://[::1]:9000")
    off = Settings(config_dir=tmp_path, data_dir=tmp_path, http_bind="off")
    assert off.http_address is None


def test_status_says_where_the_links_point(installed: RitualCli) -> None:
    assert installed.json("status")["web"] == {"bind": "127.0.0.1:8470", "url": "http://127.0.0.1:8470"}
    installed.env["RITUAL_PUBLIC_URL"] = "https://ritual.home.arpa"
    assert "web: https://ritual.home.arpa (today page" in installed("status").output
    installed.env["RITUAL_HTTP_BIND"] = "off"
    del installed.env["RITUAL_PUBLIC_URL"]
    assert installed.json("status")["web"] == {"bind": "off", "url": None}


def test_one_snooze_allowed_is_said_in_the_singular(
    receivers: StartReceiver, households: Callable[..., Household]
) -> None:
    phone = receivers()
    home = linked(households({"alex": [ntfy_url(phone, "a")]}), max_snoozes=1)
    occurrence = home.nudger.snooze(home.fire(home.add(notify=["alex"])).id, "alex")
    with pytest.raises(ConflictError, match=r"snoozed 1 time already \(max_snoozes = 1\)"):
        home.nudger.snooze(occurrence.id, "alex")
