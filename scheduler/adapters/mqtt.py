"""Home Assistant through MQTT discovery: the only module that imports paho-mqtt.

One client per daemon. On connect it says "online" on the availability topic (the last will
says "offline" when the daemon dies; a clean stop says it too), publishes a retained discovery
config per entity under ``<prefix>/<component>/<node_id>/<object_id>/config`` and the states,
and listens for button presses and the household switch. Whatever ``Home`` lists no more (a
removed ritual) has its retained config cleared with an empty payload, also when it was
removed while the daemon was down. All publishing and every service call happen on one worker
thread; paho's network thread only hands messages over.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import re
import threading
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from scheduler.app.home import Entity, Home, Kind
from scheduler.domain.errors import RitualError

log = logging.getLogger("scheduler.adapters.mqtt")

ONLINE, OFFLINE = "online", "offline"
ON, OFF = "ON", "OFF"
PRESS = "PRESS"
MIN_RETRY, MAX_RETRY = 1, 120  # seconds between reconnects: doubling from MIN to MAX


@dataclass(frozen=True, slots=True)
class Broker:
    """Where the broker is and how to log in (the password is a secret: never logged)."""

    host: str
    port: int
    user: str | None
    password: str | None
    tls: bool
    shown: str  # mqtt://host:port, for log lines


class HomeAssistantBridge:
    """Mirrors ``Home`` onto MQTT and turns commands into its calls; ``changed`` republishes."""

    def __init__(self, home: Home, broker: Broker, *, discovery_prefix: str, node_id: str) -> None:
        self.home = home
        self.broker = broker
        self.prefix = discovery_prefix
        self.node_id = node_id
        self.availability_topic = f"{node_id}/availability"
        self.paused_topic = f"{node_id}/household/paused"
        self._queue: queue.Queue[tuple[Any, ...] | None] = queue.Queue()
        self._refresh_pending = threading.Event()
        self._published: dict[str, str] = {}  # topic -> payload last published (this connection)
        self._wanted: set[str] = set()  # the config topics of the entities Home lists now
        self._state_topics: set[str] = set()  # the state topics of the rituals Home lists now
        self._commands: dict[str, Entity] = {}
        self._connected = threading.Event()
        self._link = ""  # the state last logged, so a retry loop logs one line, not one per try
        self._worker = threading.Thread(target=self._work, name="home-assistant", daemon=True)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"ritual-scheduler-{node_id}")
        if broker.user is not None:
            client.username_pw_set(broker.user, broker.password)
        if broker.tls:
            client.tls_set()
        client.will_set(self.availability_topic, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(MIN_RETRY, MAX_RETRY)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client

    # life cycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background (retrying with back-off) and start the worker."""
        self._worker.start()
        self._client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self._client.loop_start()

    def stop(self) -> None:
        """Say "offline" (a clean disconnect sends no last will), disconnect, stop the threads."""
        self._queue.put(None)
        self._worker.join(timeout=10)
        if self._connected.is_set():
            info = self._client.publish(self.availability_topic, OFFLINE, qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):  # not sent: the last will says it
                info.wait_for_publish(timeout=5)
        self._client.disconnect()
        self._client.loop_stop()
        try:
            self.home.record_link("stopped")
        except Exception:
            log.exception("Home Assistant: recording the stop failed")

    def changed(self) -> None:
        """Something a ritual shows changed (or a tick passed): republish what differs."""
        if not self._refresh_pending.is_set():
            self._refresh_pending.set()
            self._queue.put(("refresh",))

    # paho's network thread: hand over, nothing else -------------------------------------------
    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: Any,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            self._queue.put(
                (
                    "link",
                    "failed",
                    f"the broker at {self.broker.shown} refused the connection: {reason.getName()} "
                    "(check [home_assistant] mqtt); retrying with back-off",
                )
            )
            return
        client.publish(self.availability_topic, ONLINE, qos=1, retain=True)
        client.subscribe(
            [
                (f"{self.node_id}/command/#", 1),
                (f"{self.prefix}/+/{self.node_id}/+/config", 1),
                (self.availability_topic, 1),
            ]
        )
        self._connected.set()
        self._queue.put(("link", "connected", f"connected to {self.broker.shown}"))
        self._queue.put(("connected",))

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        self._queue.put(
            ("link", "failed", f"cannot reach the MQTT broker at {self.broker.shown}; retrying with back-off")
        )

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: Any,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        if was and reason.is_failure:
            self._queue.put(
                ("link", "failed", f"lost the MQTT broker at {self.broker.shown}; reconnecting with back-off")
            )

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._queue.put(("message", message.topic, bytes(message.payload), bool(message.retain)))

    # the worker: every publish and every service call -----------------------------------------
    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                self._handle(item)
            except Exception:  # one bad message or refresh must not stop the next
                log.exception("Home Assistant: handling %s failed", item[0])

    def _handle(self, item: tuple[Any, ...]) -> None:
        match item:
            case ("refresh",):
                self._refresh_pending.clear()
                self._refresh()
            case ("connected",):
                self._published.clear()
                self._refresh()
            case ("link", state, line):
                self._note_link(state, line)
            case ("message", topic, payload, retained):
                self._message(topic, payload, retained)

    def _note_link(self, state: str, line: str) -> None:
        if line == self._link:
            return
        self._link = line
        (log.info if state == "connected" else log.error)("Home Assistant: %s", line)
        self.home.record_link(state, "" if state == "connected" else line)

    def _publish(self, topic: str, payload: str) -> None:
        if self._published.get(topic) == payload or not self._connected.is_set():
            return
        info = self._client.publish(topic, payload, qos=1, retain=True)
        if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._published[topic] = payload

    def _refresh(self) -> None:
        """Publish the configs and states that differ from what went out, clear the stale ones."""
        entities = self.home.entities()
        configs = {self.config_topic(entity): self.config(entity) for entity in entities}
        for topic in self._wanted - set(configs):
            self._publish(topic, "")
        self._wanted = set(configs)
        self._commands = {
            self.command_topic(entity): entity
            for entity in entities
            if entity.kind in (Kind.BUTTON, Kind.SWITCH)
        }
        for topic, config in configs.items():
            self._publish(topic, json.dumps(config, sort_keys=True))
        states = {self.state_topic(state.name): state for state in self.home.states()}
        for topic in self._state_topics - set(states):  # a ritual gone: its state goes too
            self._publish(topic, "")
        self._state_topics = set(states)
        for topic, state in states.items():
            body = {"streak": state.streak, "due": ON if state.due else OFF, "attributes": state.attributes}
            self._publish(topic, json.dumps(body, sort_keys=True))
        self._publish(self.paused_topic, ON if self.home.household_paused() else OFF)

    def _message(self, topic: str, payload: bytes, retained: bool) -> None:
        if topic == self.availability_topic:
            # Another daemon's "offline" (a deposed leader's clean stop or last will, arriving
            # after this one took over) would leave every entity unavailable: say it again.
            if payload == OFFLINE.encode() and self._connected.is_set():
                self._client.publish(topic, ONLINE, qos=1, retain=True)
            return
        if topic.endswith("/config"):
            # A config of ours left from before (a ritual removed while the daemon was down).
            if payload and topic not in self._wanted and self._wanted:
                self._published.pop(topic, None)
                self._client.publish(topic, "", qos=1, retain=True)
            return
        entity = self._commands.get(topic)
        if entity is None or retained:
            return  # a command is only ever acted on as it is sent, never replayed
        text = payload.decode("utf-8", "replace").strip()
        try:
            if entity.kind is Kind.BUTTON:
                recorded = self.home.press(entity)
                if recorded.created:
                    log.info("Home Assistant: '%s' done by %s", recorded.name, entity.person or "nobody said")
            elif text.upper() in (ON, OFF):
                self.home.set_paused(text.upper() == ON)
                log.info("Home Assistant: household %s", "paused" if text.upper() == ON else "resumed")
        except RitualError as exc:
            log.warning("Home Assistant: %s refused: %s", entity.name, exc)

    # topics and configs (Home Assistant's MQTT discovery) -------------------------------------
    def config_topic(self, entity: Entity) -> str:
        return f"{self.prefix}/{entity.kind}/{self.node_id}/{entity.object_id}/config"

    def state_topic(self, ritual: str) -> str:
        return f"{self.node_id}/ritual/{ritual}"

    def command_topic(self, entity: Entity) -> str:
        return f"{self.node_id}/command/{entity.object_id}"

    def config(self, entity: Entity) -> dict[str, Any]:
        """The discovery config: Home Assistant's documented keys, grouped under one device."""
        config: dict[str, Any] = {
            "name": entity.name,
            "unique_id": f"{self.node_id}_{entity.object_id}",
            # Home Assistant 2025.10 replaced object_id with default_entity_id (domain.slug).
            "default_entity_id": f"{entity.kind}.{entity_slug(f'{self.node_id}_{entity.object_id}')}",
            "availability": [
                {
                    "topic": self.availability_topic,
                    "payload_available": ONLINE,
                    "payload_not_available": OFFLINE,
                }
            ],
            "device": {
                "identifiers": [self.node_id],
                "name": "Rituals",
                "manufacturer": "ritual-scheduler",
                "model": "ritual-scheduler",
            },
            "origin": {"name": "ritual-scheduler"},
            "qos": 1,
        }
        if entity.icon:
            config["icon"] = entity.icon
        match entity.kind:
            case Kind.SENSOR:
                assert entity.ritual is not None
                config |= {
                    "state_topic": self.state_topic(entity.ritual),
                    "value_template": "{{ value_json.streak }}",
                    "json_attributes_topic": self.state_topic(entity.ritual),
                    "json_attributes_template": "{{ value_json.attributes | tojson }}",
                    "unit_of_measurement": "periods",
                    "state_class": "measurement",
                }
            case Kind.BINARY_SENSOR:
                assert entity.ritual is not None
                config |= {
                    "state_topic": self.state_topic(entity.ritual),
                    "value_template": "{{ value_json.due }}",
                    "payload_on": ON,
                    "payload_off": OFF,
                }
            case Kind.BUTTON:
                config |= {"command_topic": self.command_topic(entity), "payload_press": PRESS}
            case Kind.SWITCH:
                config |= {
                    "command_topic": self.command_topic(entity),
                    "state_topic": self.paused_topic,
                    "payload_on": ON,
                    "payload_off": OFF,
                }
        return config


def entity_slug(text: str) -> str:
    """``text`` as Home Assistant's entity ids must be: lower case letters, digits and single
    underscores (``tech-free-talk`` becomes ``tech_free_talk``)."""
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9]", "_", text.lower())).strip("_")
