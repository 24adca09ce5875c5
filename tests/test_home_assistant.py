"""Home Assistant through MQTT discovery, against the real Mosquitto (RITUAL_TEST_MQTT_HOST).

Each test uses its own discovery prefix and node id, so retained messages of one test never
reach another, and clears every retained topic it left behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.mqtt import MAX_RETRY
from scheduler.adapters.store import SqlStore
from scheduler.app.home import Home, Kind
from scheduler.app.service import RitualService
from scheduler.domain.errors import SettingsError
from scheduler.domain.people import Household, Person
from scheduler.settings import HomeAssistantSettings, load_settings
from tests.support.daemon import ROOT, InProcess, wait_for

SECRET = "s3cret-pw"


def broker() -> tuple[str, int]:
    where = os.environ.get("RITUAL_TEST_MQTT_HOST")
    if not where:
        pytest.skip("set RITUAL_TEST_MQTT_HOST=127.0.0.1:1883 (a running Mosquitto) to test Home Assistant")
    host, _, port = where.rpartition(":")
    return host, int(port)


class Watcher:
    """A client that keeps the last payload of every topic under the test's prefix and node,
    and every payload in the order they came."""

    def __init__(self, host: str, port: int, topics: list[str]) -> None:
        self.seen: dict[str, bytes] = {}
        self.arrived: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        for topic in topics:
            self.client.subscribe(topic, qos=1)
        self.client.loop_start()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.seen[message.topic] = bytes(message.payload)
            self.arrived.append((message.topic, bytes(message.payload)))

    def get(self, topic: str) -> bytes | None:
        with self.lock:
            return self.seen.get(topic)

    def json(self, topic: str) -> Any:
        payload = self.get(topic)
        return json.loads(payload) if payload else None

    def press(self, topic: str, payload: str) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        with self.lock:
            left = [topic for topic, payload in self.seen.items() if payload]
        for topic in left:  # retained messages outlive the test otherwise
            self.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        self.client.disconnect()
        self.client.loop_stop()


class Setup:
    def __init__(self, tmp_path: Path, port: int, host: str = "127.0.0.1") -> None:
        self.prefix = f"ha-test-{uuid.uuid4().hex[:8]}"
        self.node = f"n{uuid.uuid4().hex[:8]}"
        self.config = tmp_path / "config"
        self.config.mkdir()
        self.log_path = tmp_path / "daemon.log"
        (self.config / "settings.toml").write_text(
            'me = "alex"\n\n[people.alex]\nname = "Alex"\n\n[people.sam]\nname = "Sam"\n\n'
            f'[home_assistant]\nmqtt = "mqtt://ritual:{SECRET}@{host}:{port}"\n'
            f'discovery_prefix = "{self.prefix}"\nnode_id = "{self.node}"\n',
            encoding="utf-8",
        )
        self.rituals = self.config / "rituals.toml"
        self.rituals.write_text(
            '[[ritual]]\nname = "talk"\ntitle = "Phones away"\ntimezone = "UTC"\nat = "20:30"\n\n'
            '[[ritual]]\nname = "hug"\ntimezone = "UTC"\nat = "07:00"\n\n'
            '[[ritual]]\nname = "walk"\ntimezone = "UTC"\nat = "18:00"\npeople = ["sam"]\n',
            encoding="utf-8",
        )
        self.env = {
            **os.environ,
            "RITUAL_CONFIG_DIR": str(self.config),
            "RITUAL_DATA_DIR": str(tmp_path / "data"),
            "RITUAL_HTTP_BIND": f"127.0.0.1:{_free_port()}",
            "RITUAL_DIGEST_ON": "off",
            "PYTHONPATH": str(ROOT),
        }
        self.env.pop("RITUAL_DATABASE_URL", None)
        self.env.pop("RITUAL_PERSON", None)
        self.tmp_path = tmp_path
        self.daemon: subprocess.Popen[bytes] | None = None

    def ritual(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scheduler", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            cwd=self.tmp_path,
        )

    def start(self) -> None:
        with self.log_path.open("w") as log:
            self.daemon = subprocess.Popen(
                [sys.executable, "-m", "scheduler", "run"], env=self.env, stderr=log, cwd=self.tmp_path
            )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def stop(self) -> None:
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()

    def config_topic(self, kind: str, object_id: str) -> str:
        return f"{self.prefix}/{kind}/{self.node}/{object_id}/config"


@pytest.fixture
def home(tmp_path: Path) -> Iterator[tuple[Setup, Watcher]]:
    host, port = broker()
    setup = Setup(tmp_path, port, host)
    watcher = Watcher(host, port, [f"{setup.prefix}/#", f"{setup.node}/#"])
    try:
        yield setup, watcher
    finally:
        setup.stop()
        watcher.close()


@pytest.mark.mqtt
def test_discovery_states_buttons_switch_and_going_offline(home: tuple[Setup, Watcher]) -> None:
    setup, watcher = home
    setup.start()
    sensor = setup.config_topic("sensor", "talk_streak")
    assert wait_for(lambda: watcher.get(sensor), 30), setup.log()
    # Every entity: a sensor and a binary sensor per ritual, a button per person, one switch.
    expected = [
        ("sensor", "talk_streak"),
        ("binary_sensor", "talk_due"),
        ("button", "talk_done_alex"),
        ("button", "talk_done_sam"),
        ("sensor", "hug_streak"),
        ("binary_sensor", "hug_due"),
        ("button", "hug_done_alex"),
        ("button", "hug_done_sam"),
        ("sensor", "walk_streak"),
        ("binary_sensor", "walk_due"),
        ("button", "walk_done_sam"),
        ("switch", "household_paused"),
    ]
    assert wait_for(lambda: all(watcher.get(setup.config_topic(*e)) for e in expected), 10)
    for kind, object_id in expected:
        config = watcher.json(setup.config_topic(kind, object_id))
        assert config["unique_id"] == f"{setup.node}_{object_id}"
        assert config["default_entity_id"] == f"{kind}.{setup.node}_{object_id}"
        assert config["device"]["name"] == "Rituals"
        assert config["device"]["identifiers"] == [setup.node]
        assert config["availability"] == [
            {
                "topic": f"{setup.node}/availability",
                "payload_available": "online",
                "payload_not_available": "offline",
            }
        ]
        if kind in ("sensor", "binary_sensor", "switch"):
            assert config["state_topic"]
        if kind in ("button", "switch"):
            assert config["command_topic"]
    assert watcher.json(setup.config_topic("button", "talk_done_alex"))["name"] == "Alex: done"
    assert watcher.json(sensor)["json_attributes_topic"] == watcher.json(sensor)["state_topic"]
    assert watcher.get(f"{setup.node}/availability") == b"online"
    assert watcher.get(setup.config_topic("button", "walk_done_alex")) is None  # walk is Sam's alone

    # `ritual done` in another process: the sensor shows it within seconds.
    state_topic = watcher.json(sensor)["state_topic"]
    assert wait_for(lambda: watcher.json(state_topic), 10)
    assert watcher.json(state_topic)["streak"] == 0
    assert watcher.json(state_topic)["due"] in ("ON", "OFF")
    assert set(watcher.json(state_topic)["attributes"]) >= {"longest", "strength", "at_risk", "next_due"}
    done = setup.ritual("done", "talk")
    assert done.returncode == 0, done.stderr
    assert wait_for(lambda: watcher.json(state_topic)["streak"] == 1, 5), watcher.json(state_topic)
    assert watcher.json(state_topic)["due"] == "OFF"

    # Sam's button on hug, pressed twice: one completion, by Sam.
    button = watcher.json(setup.config_topic("button", "hug_done_sam"))
    watcher.press(button["command_topic"], button["payload_press"])
    watcher.press(button["command_topic"], button["payload_press"])
    hug_state = watcher.json(setup.config_topic("sensor", "hug_streak"))["state_topic"]
    assert wait_for(lambda: (watcher.json(hug_state) or {}).get("streak") == 1, 5)
    store = SqlStore.open(f"sqlite:///{setup.tmp_path / 'data' / 'ritual.db'}")
    try:
        hug = store.get_ritual("hug")
        assert hug is not None
        assert [(c.by, c.source) for c in store.completions(hug.id)] == [("sam", "home-assistant")]
    finally:
        store.close()

    # A skip through the API (the daemon's own service): walk is due no more today.
    walk_state = watcher.json(setup.config_topic("binary_sensor", "walk_due"))["state_topic"]
    assert watcher.json(walk_state)["due"] == "ON"
    token = setup.ritual("token", "create", "phone", "--person", "sam")
    assert token.returncode == 0, token.stderr
    skipped = httpx.post(
        f"http://{setup.env['RITUAL_HTTP_BIND']}/api/v1/rituals/walk/skip",
        headers={"Authorization": f"Bearer {token.stdout.strip()}"},
        json={"reason": "rain"},
        timeout=10,
    )
    assert skipped.status_code == 201, skipped.text
    assert wait_for(lambda: watcher.json(walk_state)["due"] == "OFF", 5)

    # The switch pauses the whole household, and says so.
    switch = watcher.json(setup.config_topic("switch", "household_paused"))
    assert watcher.get(switch["state_topic"]) == b"OFF"
    watcher.press(switch["command_topic"], "ON")
    assert wait_for(lambda: watcher.get(switch["state_topic"]) == b"ON", 5)
    status = setup.ritual("status")
    assert "household: paused" in status.stdout, status.stdout
    assert f"home assistant: mqtt://127.0.0.1:{broker()[1]}: connected since " in status.stdout
    watcher.press(switch["command_topic"], "OFF")
    assert wait_for(lambda: watcher.get(switch["state_topic"]) == b"OFF", 5)

    # A ritual leaves the file: its entities go (empty retained configs).
    setup.rituals.write_text(
        '[[ritual]]\nname = "talk"\ntitle = "Phones away"\ntimezone = "UTC"\nat = "20:30"\n',
        encoding="utf-8",
    )
    assert setup.ritual("reload").returncode == 0
    for kind, object_id in expected:
        topic = setup.config_topic(kind, object_id)
        if object_id.startswith(("hug", "walk")):
            assert wait_for(lambda topic=topic: watcher.get(topic) == b"", 10), topic
        else:
            assert watcher.get(topic)
    for gone in ("hug", "walk"):  # and their retained states
        assert wait_for(lambda gone=gone: watcher.get(f"{setup.node}/ritual/{gone}") == b"", 10), gone
    assert watcher.json(f"{setup.node}/ritual/talk")

    # Stopped: the entities show unavailable.
    setup.stop()
    assert setup.daemon is not None and setup.daemon.returncode == 0
    assert wait_for(lambda: watcher.get(f"{setup.node}/availability") == b"offline", 5)
    log = setup.log()
    assert SECRET not in log and "Traceback" not in log
    for killed in (False, True):  # what the daemon last said, after a clean stop and after a kill
        status = setup.ritual("status")
        assert status.returncode == 0 and not status.stderr, status.stderr
        assert "home assistant: mqtt://127.0.0.1" in status.stdout
        if not killed:
            setup.start()
            assert wait_for(lambda: watcher.get(f"{setup.node}/availability") == b"online", 30)
            setup.daemon.kill()
            setup.daemon.wait()


@pytest.mark.mqtt
def test_a_killed_daemon_goes_offline_by_its_last_will(home: tuple[Setup, Watcher]) -> None:
    setup, watcher = home
    setup.start()
    availability = f"{setup.node}/availability"
    assert wait_for(lambda: watcher.get(availability) == b"online", 30), setup.log()
    assert setup.daemon is not None
    setup.daemon.kill()
    setup.daemon.wait()
    # The broker notices the dead client when its socket closes and sends the last will.
    assert wait_for(lambda: watcher.get(availability) == b"offline", 10)


@pytest.mark.mqtt
def test_a_stray_offline_from_another_daemon_is_answered_with_online(home: tuple[Setup, Watcher]) -> None:
    # On a takeover the deposed leader's "offline" (its clean stop, or its last will when the
    # broker notices it late) can arrive after the new leader said "online".
    setup, watcher = home
    setup.start()
    availability = f"{setup.node}/availability"
    assert wait_for(lambda: watcher.get(availability) == b"online", 30), setup.log()
    before = len(watcher.arrived)
    watcher.client.publish(availability, b"offline", qos=1, retain=True).wait_for_publish(5)

    def said() -> list[bytes]:
        return [payload for topic, payload in watcher.arrived[before:] if topic == availability]

    assert wait_for(lambda: said()[-1:] == [b"online"], 5), said()
    assert said() == [b"offline", b"online"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_no_broker_is_one_log_line_and_nudging_goes_on(tmp_path: Path) -> None:
    port = _free_port()
    setup = Setup(tmp_path, port)
    setup.start()
    try:
        line = (
            f"Home Assistant: cannot reach the MQTT broker at mqtt://127.0.0.1:{port}; retrying with back-off"
        )
        assert wait_for(lambda: line in setup.log(), 30), setup.log()
        assert wait_for(lambda: "started:" in setup.log(), 30), setup.log()
        wait_for(lambda: False, 4)  # a few retries (1 s, 2 s, ...) go by
        assert setup.log().count(line) == 1
        status = setup.ritual("status")
        assert f"home assistant: mqtt://127.0.0.1:{port}: failed (cannot reach" in status.stdout, (
            status.stdout
        )
        done = setup.ritual("done", "talk")
        assert done.returncode == 0, done.stderr
    finally:
        setup.stop()
    log = setup.log()
    assert SECRET not in log and "Traceback" not in log


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('mqtt = "http://u:pw-secret@host"', "home_assistant.mqtt: must be mqtt://USER:PASSWORD@HOST:PORT"),
        ('mqtt = "mqtt://host"\nnode_id = "a b"', "home_assistant.node_id: 'a b' may hold only"),
        ('mqtt = "mqtt://host"\ndiscovery_prefix = "ha/#"', "home_assistant.discovery_prefix: 'ha/#' is not"),
        ('mqtt = "mqtt://host"\nretain = true', "settings.toml:5: home_assistant: unknown option 'retain'"),
        ('node_id = "x"', "home_assistant.mqtt: Field required"),
    ],
)
def test_a_broken_home_assistant_setting_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str, message: str
) -> None:
    (tmp_path / "settings.toml").write_text(
        f'timezone = "UTC"\n\n[home_assistant]\n{table}\n', encoding="utf-8"
    )
    monkeypatch.setenv("RITUAL_CONFIG_DIR", str(tmp_path))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    text = str(caught.value)
    assert text.startswith(f"{tmp_path / 'settings.toml'}:"), text
    assert message in text
    assert "pw-secret" not in text and "\n" not in text


def test_check_and_status_show_the_broker_without_its_password(tmp_path: Path) -> None:
    setup = Setup(tmp_path, 1883)
    check = setup.ritual("check")
    assert "home assistant: mqtt://127.0.0.1:1883, discovery under" in check.stdout, (
        check.stdout + check.stderr
    )
    status = setup.ritual("status", "--json")
    shown = json.loads(status.stdout)["home_assistant"]
    assert shown["broker"] == "mqtt://127.0.0.1:1883"
    assert shown["state"].startswith("not connected")
    assert SECRET not in check.stdout + status.stdout


@pytest.fixture
def locked_broker(tmp_path: Path) -> Iterator[int]:
    """A Mosquitto of its own on a free port that lets in only ritual/right-pw."""
    broker()  # the same switch as the other broker tests
    if shutil.which("mosquitto") is None or shutil.which("mosquitto_passwd") is None:
        pytest.skip("needs mosquitto and mosquitto_passwd on PATH (apt install mosquitto)")
    port = _free_port()
    passwords = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "ritual", "right-pw"], check=True)
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwords}\npersistence false\n"
        # As root mosquitto would become the user mosquitto, who cannot read pytest's folders.
        + ("user root\n" if os.geteuid() == 0 else ""),
        encoding="utf-8",
    )
    process = subprocess.Popen(
        ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        assert wait_for(lambda: _answers(port), 10), "the test's own mosquitto did not start"
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


@pytest.mark.mqtt
def test_wrong_credentials_are_one_log_line_without_the_password(tmp_path: Path, locked_broker: int) -> None:
    setup = Setup(tmp_path, locked_broker)  # logs in as ritual with SECRET, not right-pw
    setup.start()
    try:
        line = (
            f"Home Assistant: the broker at mqtt://127.0.0.1:{locked_broker} refused the connection: "
            "Not authorized (check [home_assistant] mqtt); retrying with back-off"
        )
        assert wait_for(lambda: line in setup.log(), 30), setup.log()
        wait_for(lambda: False, 4)  # a few retries go by
        assert setup.log().count(line) == 1
        status = setup.ritual("status")
        assert f"home assistant: mqtt://127.0.0.1:{locked_broker}: failed (the broker" in status.stdout
    finally:
        setup.stop()
    assert setup.daemon is not None and setup.daemon.returncode == 0
    log = setup.log()
    assert SECRET not in log and "Traceback" not in log


@pytest.mark.mqtt
def test_a_ritual_removed_while_the_daemon_was_down_loses_its_entities(home: tuple[Setup, Watcher]) -> None:
    setup, watcher = home
    setup.start()
    hug = setup.config_topic("sensor", "hug_streak")
    assert wait_for(lambda: watcher.get(hug), 30), setup.log()
    setup.stop()
    setup.rituals.write_text('[[ritual]]\nname = "talk"\ntimezone = "UTC"\nat = "20:30"\n', encoding="utf-8")
    setup.start()
    assert wait_for(lambda: watcher.get(hug) == b"", 30), setup.log()
    assert watcher.get(setup.config_topic("button", "hug_done_sam")) == b""
    assert watcher.get(setup.config_topic("sensor", "talk_streak"))


# --- the application side, no broker -------------------------------------------------------------

DAY_ONE = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday
# The in-process daemon's fake clock runs ahead of the real one: its timers, on real time, never fire.
AHEAD = datetime(2031, 5, 6, 9, 0, tzinfo=UTC)


class Counting:
    """A Changes that counts how often it is told."""

    def __init__(self) -> None:
        self.told = 0

    def changed(self) -> None:
        self.told += 1


@pytest.fixture
def couple(tmp_path: Path) -> Iterator[tuple[RitualService, FakeClock]]:
    clock = FakeClock(DAY_ONE)
    store = SqlStore.open(f"sqlite:///{tmp_path / 'ritual.db'}")
    household = Household((Person("alex", "Alex"), Person("sam", "Sam")))
    service = RitualService(
        store, clock, ritual_file=tmp_path / "none.toml", default_timezone="UTC", household=household
    )
    yield service, clock
    store.close()


def test_every_write_tells_changes_once_and_a_repeat_tells_nothing(
    couple: tuple[RitualService, FakeClock],
) -> None:
    service, _clock = couple
    changes = service.changes = Counting()
    writes: list[tuple[str, Callable[[], object]]] = [
        ("add", lambda: service.add({"name": "talk", "at": "20:30", "timezone": "UTC"})),
        ("edit", lambda: service.edit("talk", {"at": "21:00"})),
        ("done", lambda: service.record_done("talk", by="alex")),
        ("undo", lambda: service.undo("talk", by="alex")),
        ("skip", lambda: service.skip("talk", by="sam")),
        ("unskip", lambda: service.unskip("talk")),
        ("pause", lambda: service.pause("talk", by="sam")),
        ("resume", lambda: service.resume("talk")),
        ("pause all", lambda: service.pause(None, by="sam")),
        ("resume all", lambda: service.resume(None)),
        ("remove", lambda: service.remove("talk")),
    ]
    for what, write in writes:
        before = changes.told
        write()
        assert changes.told == before + 1, what
    service.add({"name": "hug", "at": "07:00", "timezone": "UTC"})
    service.record_done("hug", by="alex")
    before = changes.told
    assert not service.record_done("hug", by="alex").created
    assert changes.told == before
    assert service.skip("hug")[1]  # a first skip is a write
    assert not service.skip("hug")[1]  # skipped already: nothing stored, nothing told
    assert changes.told == before + 1
    service.edit("hug", {"turns": ["alex", "sam"]})
    before = changes.told
    service.swap_turn("hug")  # the planner is an attribute Home Assistant shows
    assert changes.told == before + 1


def test_home_shows_streak_due_and_the_next_day(couple: tuple[RitualService, FakeClock]) -> None:
    service, clock = couple
    service.add({"name": "talk", "title": "Phones away", "at": "20:30", "timezone": "UTC"})
    service.add({"name": "walk", "at": "18:00", "timezone": "UTC", "people": ["sam"]})
    home = Home(service)
    names = [(e.kind.value, e.object_id, e.name, e.person) for e in home.entities()]
    assert names == [
        ("switch", "household_paused", "Pause everything", ""),
        ("sensor", "talk_streak", "Phones away: streak", ""),
        ("binary_sensor", "talk_due", "Phones away: due", ""),
        ("button", "talk_done_alex", "Alex: done", "alex"),
        ("button", "talk_done_sam", "Sam: done", "sam"),
        ("sensor", "walk_streak", "Walk: streak", ""),
        ("binary_sensor", "walk_due", "Walk: due", ""),
        ("button", "walk_done_sam", "Sam: done", "sam"),
    ]

    def talk() -> tuple[int, bool, dict[str, Any]]:
        state = next(s for s in home.states() if s.name == "talk")
        return state.streak, state.due, state.attributes

    assert talk()[:2] == (0, True)
    button = next(e for e in home.entities() if e.object_id == "talk_done_sam")
    assert home.press(button).created and not home.press(button).created
    streak, due, attributes = talk()
    assert (streak, due, attributes["kept"], attributes["at_risk"]) == (1, False, True, False)
    assert attributes["next_due"] == "2026-11-25" and attributes["last_done"] == "2026-11-24"
    clock.advance(timedelta(days=1))  # a new period: due again, the streak at risk until kept
    streak, due, attributes = talk()
    assert (streak, due, attributes["at_risk"], attributes["next_due"]) == (1, True, True, "2026-11-25")
    home.set_paused(True)
    assert home.household_paused() and talk()[1] is False and talk()[2]["paused"] is True
    assert service.current_household_pauses()[0].reason == "Home Assistant"
    home.set_paused(False)
    assert not home.household_paused() and talk()[1] is True


def test_a_household_of_nobody_gets_one_done_button(tmp_path: Path) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 'ritual.db'}")
    try:
        service = RitualService(
            store, FakeClock(DAY_ONE), ritual_file=tmp_path / "none.toml", default_timezone="UTC"
        )
        service.add({"name": "journal", "at": "21:00", "timezone": "UTC"})
        buttons = [e for e in Home(service).entities() if e.kind is Kind.BUTTON]
        assert [(b.object_id, b.name, b.person) for b in buttons] == [("journal_done", "Done", "")]
        assert Home(service).press(buttons[0]).completion.by == ""
    finally:
        store.close()


@pytest.mark.mqtt
def test_a_new_day_shows_at_the_daemons_tick(tmp_path: Path) -> None:
    host, port = broker()
    node = f"n{uuid.uuid4().hex[:8]}"
    home = HomeAssistantSettings(
        mqtt=SecretStr(f"mqtt://{host}:{port}"), discovery_prefix=f"ha-test-{node}", node_id=node
    )
    running = InProcess(tmp_path, AHEAD, home_assistant=home)
    running.add("talk", "20:30")
    watcher = Watcher(host, port, [f"ha-test-{node}/#", f"{node}/#"])
    running.start()
    try:
        state = f"{node}/ritual/talk"
        assert wait_for(lambda: (watcher.json(state) or {}).get("due") == "ON", 10)
        store = SqlStore.open(running.settings.database)
        other = RitualService(store, running.clock, ritual_file=Path("/nonexistent"), default_timezone="UTC")
        other.record_done("talk")
        store.close()
        running.daemon.tick()  # a write nobody told the daemon of (another host) shows at its tick
        assert wait_for(lambda: watcher.json(state)["due"] == "OFF", 5)
        assert watcher.json(state)["streak"] == 1
        running.clock.advance(timedelta(days=1))
        running.daemon.tick()
        assert wait_for(lambda: watcher.json(state)["due"] == "ON", 5)
        assert watcher.json(state)["attributes"]["at_risk"] is True
    finally:
        running.stop()
        assert wait_for(lambda: watcher.get(f"{node}/availability") == b"offline", 5)
        watcher.close()


# --- the README's Home Assistant section ----------------------------------------------------------


def _readme_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("\n## Home Assistant\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_settings_load_and_its_error_example_is_what_a_mistake_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    section = _readme_section()
    block = section.split("```toml\n", 1)[1].split("```", 1)[0]
    monkeypatch.setenv("RITUAL_CONFIG_DIR", str(tmp_path))
    (tmp_path / "settings.toml").write_text(block, encoding="utf-8")
    home = load_settings().home_assistant
    assert home is not None and home.masked == "mqtt://homeserver.lan:1883"
    assert "`mqtt://homeserver.lan:1883`" in section
    (tmp_path / "settings.toml").write_text(block.replace('"ritual_scheduler"', '"a b"'), encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    shown = str(caught.value).replace(str(tmp_path) + "/", "")
    assert f"`{shown}`" in " ".join(section.split())


def test_the_readme_entity_table_is_what_home_assistant_gets(couple: tuple[RitualService, FakeClock]) -> None:
    service, _clock = couple
    service.add({"name": "talk", "at": "20:30", "timezone": "UTC"})
    home = Home(service)
    section = _readme_section()
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    documented = [row.split("`")[1] for row in rows]
    made = [
        f"{e.kind}.<node_id>_{e.object_id}".replace("talk", "RITUAL")
        .replace("alex", "PERSON")
        .replace("sam", "PERSON")
        for e in home.entities()
    ]
    assert sorted(documented) == sorted(set(made))
    attributes = re.findall(r"`(\w+)`", rows[0].split("attributes:", 1)[1])
    assert attributes[:-1] == list(home.states()[0].attributes)
    service.edit("talk", {"turns": ["sam", "alex"]})
    (state,) = home.states()
    assert attributes == list(state.attributes) and state.attributes["planner"] == "sam"
    assert f"(up to {MAX_RETRY // 60} minutes)" in " ".join(section.split()).replace("two", "2")


def test_without_a_broker_nudges_still_go_out(tmp_path: Path) -> None:
    dead = HomeAssistantSettings(mqtt=SecretStr(f"mqtt://127.0.0.1:{_free_port()}"))
    running = InProcess(tmp_path, AHEAD, home_assistant=dead)
    running.add("talk", "09:30")
    running.start()
    try:
        running.clock.set(AHEAD.replace(minute=30, second=20))
        running.daemon.tick()
        assert running.sent == [("talk", AHEAD.date(), "09:30", "send")]
    finally:
        running.stop()


@pytest.mark.mqtt
@pytest.mark.postgres
def test_on_postgresql_only_the_leader_is_the_mqtt_client(
    home: tuple[Setup, Watcher], postgres_url: str, tmp_path: Path
) -> None:
    setup, watcher = home
    setup.env["RITUAL_DATABASE_URL"] = postgres_url
    availability = f"{setup.node}/availability"
    setup.start()
    assert wait_for(lambda: watcher.get(availability) == b"online", 30), setup.log()
    standby_log = tmp_path / "standby.log"
    with standby_log.open("w") as log:
        standby = subprocess.Popen(
            [sys.executable, "-m", "scheduler", "run"],
            env={**setup.env, "RITUAL_DATA_DIR": str(tmp_path / "standby"), "RITUAL_HTTP_BIND": "off"},
            stderr=log,
            cwd=tmp_path,
        )
    try:
        assert wait_for(lambda: "started: standby" in standby_log.read_text(), 30), standby_log.read_text()
        assert "Home Assistant" not in standby_log.read_text()
        assert setup.daemon is not None
        setup.daemon.kill()  # the leader dies: its last will says offline, the standby takes over
        setup.daemon.wait()
        assert wait_for(lambda: "Home Assistant: connected" in standby_log.read_text(), 60), (
            standby_log.read_text()
        )
        assert wait_for(lambda: watcher.get(availability) == b"online", 10)
        standby.send_signal(signal.SIGTERM)
        assert standby.wait(timeout=30) == 0
        assert wait_for(lambda: watcher.get(availability) == b"offline", 5)
    finally:
        if standby.poll() is None:
            standby.kill()
            standby.wait()


def test_without_paho_the_daemon_says_so_in_one_line_and_check_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name in [m for m in sys.modules if m == "paho" or m.startswith(("paho.", "scheduler.adapters.mqtt"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "paho", None)  # import paho now fails, as when it is not installed
    missing = "[home_assistant] needs paho-mqtt: pip install '.[mqtt]' in the checkout"
    running = InProcess(tmp_path, AHEAD, home_assistant=HomeAssistantSettings(mqtt=SecretStr("mqtt://h")))
    running.add("talk", "09:30")
    running.start()
    try:
        running.clock.set(AHEAD.replace(minute=30, second=20))
        running.daemon.tick()
        assert running.sent == [("talk", AHEAD.date(), "09:30", "send")]
    finally:
        running.stop()
    assert [r.getMessage() for r in caplog.records if "paho" in r.getMessage()] == [
        f"{missing}; nudging goes on"
    ]
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None if name == "paho" else object())
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "settings.toml").write_text('[home_assistant]\nmqtt = "mqtt://h"\n', encoding="utf-8")
    monkeypatch.setenv("RITUAL_CONFIG_DIR", str(config))
    monkeypatch.setenv("RITUAL_DATA_DIR", str(tmp_path / "data"))
    from click.testing import CliRunner

    from scheduler.cli import main

    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 1
    assert f"error: {missing}" in result.stderr


def test_entity_ids_are_what_home_assistant_allows() -> None:
    from scheduler.adapters.mqtt import entity_slug

    # the README's example: a ritual's hyphens become underscores in its entity id
    assert f"sensor.{entity_slug('ritual_scheduler_tech-free-talk_streak')}" == (
        "sensor.ritual_scheduler_tech_free_talk_streak"
    )
    assert "sensor.ritual_scheduler_tech_free_talk_streak" in " ".join(_readme_section().split())
    assert entity_slug("Home-1__tech-free-talk_done_Alex") == "home_1_tech_free_talk_done_alex"
