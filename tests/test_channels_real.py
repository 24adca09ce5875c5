"""Nudges through the outbox to real servers other than HTTP: an SMTP server and an MQTT broker.

The SMTP server is aiosmtpd in a thread on 127.0.0.1; the MQTT broker is the Mosquitto that
``.ci/run`` starts (the MQTT test is skipped, saying how to start one, when none answers).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

import paho.mqtt.client as mqtt
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from scheduler.app.stored import DeliveryStatus, OccurrenceStatus
from tests.support.households import DESCRIPTION, TITLE, Household

SMTP_USER = "ritual"
SMTP_PASSWORD = "pw-s3cret-smtp"
FROM = "ritual@home.example"
TO = "alex@home.example"
MQTT_DEFAULT = "127.0.0.1:1883"
WAIT = 5.0  # seconds a receiver thread may take to hand over what it got


# --- SMTP ------------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """What the SMTP server saw: the logins tried and the messages accepted."""

    accept_password: str = SMTP_PASSWORD
    logins: list[tuple[str, str]] = field(default_factory=list)
    messages: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        login = cast(LoginPassword, data)
        user, password = login.login.decode(), login.password.decode()
        self.logins.append((user, password))
        # handled=False: the server answers 535 itself on a refusal.
        return AuthResult(success=(user, password) == (SMTP_USER, self.accept_password), handled=False)

    def mail(self, index: int = 0) -> EmailMessage:
        content = self.messages[index].original_content or b""
        mail = message_from_bytes(content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        return mail


class LocalSmtp(Controller):
    """aiosmtpd's threaded controller on a free port (it cannot bind port 0 by itself)."""

    def _trigger_server(self) -> None:
        server = cast(asyncio.Server, self.server)
        self.port = int(server.sockets[0].getsockname()[1])
        super()._trigger_server()  # type: ignore[no-untyped-call]


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    # Plain SMTP with AUTH on a local port: no TLS to set up, and the password still travels.
    controller = LocalSmtp(
        mailbox, hostname="127.0.0.1", port=0, authenticator=mailbox.authenticate, auth_require_tls=False
    )
    controller.start()
    yield mailbox, controller.port
    controller.stop()


def mailto(port: int) -> str:
    """Apprise's form for an unencrypted local SMTP server on a custom port, with a login."""
    return f"mailto://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{port}?from={FROM}&to={TO}&mode=insecure"


@pytest.mark.parametrize(
    ("accept_password", "status", "occurrence"),
    [
        (SMTP_PASSWORD, DeliveryStatus.SENT, OccurrenceStatus.SENT),
        ("another one", DeliveryStatus.FAILED, OccurrenceStatus.FAILED),  # 535: bad credentials
    ],
    ids=["delivered", "login-refused-fails-permanently"],
)
def test_a_mailto_nudge_reaches_an_smtp_server_without_leaking_the_password(
    smtp: tuple[Mailbox, int],
    households: Callable[..., Household],
    caplog: pytest.LogCaptureFixture,
    accept_password: str,
    status: DeliveryStatus,
    occurrence: OccurrenceStatus,
) -> None:
    caplog.set_level(logging.DEBUG, logger="apprise")
    caplog.set_level(logging.DEBUG, logger="scheduler")
    mailbox, port = smtp
    mailbox.accept_password = accept_password
    home = households({"alex": [mailto(port)]})
    talk = home.add(notify=["alex"])

    home.fire(talk)

    [row] = home.deliveries()
    assert (row.status, row.attempts) == (status, 1), row.last_error
    assert home.occurrence(talk).status is occurrence
    # The real password did travel (smtplib tries PLAIN, then LOGIN when refused).
    assert set(mailbox.logins) == {(SMTP_USER, SMTP_PASSWORD)}
    assert "SMTP" in caplog.text  # Apprise's own lines were logged, at DEBUG
    for text in (caplog.text, row.channel, row.last_error):
        assert SMTP_PASSWORD not in text
    if status is DeliveryStatus.SENT:
        [envelope] = mailbox.messages
        assert (envelope.mail_from, envelope.rcpt_tos) == (FROM, [TO])
        mail = mailbox.mail()
        assert mail["Subject"] == TITLE
        assert DESCRIPTION in mail.get_content()
    else:
        assert mailbox.messages == []
        assert "535" in row.last_error


# --- MQTT ------------------------------------------------------------------------------------------


def mqtt_broker() -> tuple[str, int]:
    """The broker from RITUAL_TEST_MQTT_HOST (host:port), else the local one; skip if none answers."""
    where = os.environ.get("RITUAL_TEST_MQTT_HOST") or MQTT_DEFAULT
    host, _, port = where.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=1.0).close()
    except (OSError, ValueError):
        pytest.skip(
            f"no MQTT broker at {where}: start mosquitto (mosquitto -d -c /etc/mosquitto/mosquitto.conf) "
            "or set RITUAL_TEST_MQTT_HOST; .ci/run starts it"
        )
    return host, int(port)


@dataclass
class Subscriber:
    """A paho client subscribed to one topic before anything is published to it."""

    client: mqtt.Client
    topic: str
    ready: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)
    payloads: list[bytes] = field(default_factory=list)

    def on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Properties | None
    ) -> None:
        client.subscribe(self.topic, qos=1)

    def on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        props: Properties | None,
    ) -> None:
        self.ready.set()

    def on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.payloads.append(bytes(message.payload))
        self.arrived.set()


@pytest.fixture
def subscriber() -> Iterator[tuple[Subscriber, str]]:
    host, port = mqtt_broker()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    watcher = Subscriber(client, f"ritual-test/{uuid.uuid4().hex}")
    client.on_connect = watcher.on_connect
    client.on_subscribe = watcher.on_subscribe
    client.on_message = watcher.on_message
    client.connect(host, port)
    client.loop_start()
    try:
        assert watcher.ready.wait(WAIT), "the test subscriber never got its subscription"
        yield watcher, f"mqtt://{host}:{port}/{watcher.topic}"
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.mark.mqtt
def test_an_mqtt_nudge_reaches_a_subscriber(
    subscriber: tuple[Subscriber, str], households: Callable[..., Household]
) -> None:
    watcher, url = subscriber
    home = households({"alex": [url]})
    talk = home.add(notify=["alex"])

    home.fire(talk)

    assert watcher.arrived.wait(WAIT), "nothing arrived on the topic"
    [payload] = watcher.payloads
    # MQTT has no title field: Apprise puts the title on the first line.
    assert payload.decode().splitlines() == [TITLE, DESCRIPTION]
    [row] = home.deliveries()
    assert (row.status, row.attempts) == (DeliveryStatus.SENT, 1)
    assert home.occurrence(talk).status is OccurrenceStatus.SENT
