"""ntfy: replacing a nudge already on the phones, which Apprise 2.x cannot do.

ntfy (2.16 and later) updates a delivered notification when a new message is published to
``/<topic>/<sequence id>``, and a message's own id serves as its sequence id. So a nudge
goes out through Apprise as always, with a tag of its own (``nudge-<occurrence>``); to
replace it ("Done by Alex" on the other phone), this module asks the topic for the message
carrying that tag (``GET /<topic>/json?poll=1&tags=...``) and publishes the update under its
id. Where the server, the auth and the topics are comes from Apprise's own parsed plugin,
so no URL is read twice. Older servers publish the update as a new message instead: a
harmless extra notification.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode

from scheduler.adapters.notify.channel import Channel
from scheduler.adapters.notify.secrets import one_line
from scheduler.app.ports import SendResult
from scheduler.domain.messages import Message

_LOOKBACK = "48h"  # how far back the topic is searched for the nudge to replace
_DONE_TAG = "white_check_mark"  # ntfy shows this tag as ✅


def replace(channel: Channel, message: Message, *, timeout: float) -> SendResult:
    """Replace the messages tagged ``message.replaces`` on ``channel``'s ntfy topics with
    ``message``; blocking (the caller runs it on a worker thread)."""
    started = time.perf_counter()
    plugin = channel._plugin
    try:
        base, headers = _server(plugin)
        replaced = 0
        for topic in list(getattr(plugin, "topics", [])):
            for tag in message.replaces:
                for sequence in _messages_tagged(base, topic, tag, headers, timeout):
                    _publish_update(base, topic, sequence, message, headers, timeout)
                    replaced += 1
    except urllib.error.HTTPError as exc:
        permanent = 400 <= exc.code < 500 and exc.code not in {408, 429}
        error = one_line(f"ntfy answered {exc.code} {exc.reason}")
        return SendResult(channel.target, channel.masked, False, permanent, error, _since(started), exc.code)
    except (OSError, ValueError) as exc:
        error = one_line(f"{exc.__class__.__name__}: {exc}")
        return SendResult(channel.target, channel.masked, False, False, error, _since(started))
    error = "" if replaced else "no nudge to replace on the topic (already gone, or an older ntfy)"
    return SendResult(channel.target, channel.masked, True, False, error, _since(started))


def _since(started: float) -> float:
    return time.perf_counter() - started


def _server(plugin: Any) -> tuple[str, dict[str, str]]:
    """The server's base URL and the auth headers, as the Apprise plugin was configured."""
    if str(getattr(plugin, "mode", "")) == "cloud":
        base = str(getattr(plugin, "cloud_notify_url", "https://ntfy.sh"))
    else:
        scheme = "https" if getattr(plugin, "secure", False) else "http"
        port = getattr(plugin, "port", None)
        base = f"{scheme}://{plugin.host}" + (f":{port}" if isinstance(port, int) else "")
    headers = {"User-Agent": "ritual-scheduler"}
    auth = str(getattr(plugin, "auth", ""))
    if auth == "token" and getattr(plugin, "token", None):
        headers["Authorization"] = f"Bearer {plugin.token}"
    elif getattr(plugin, "user", None):
        pair = f"{plugin.user}:{getattr(plugin, 'password', '') or ''}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    return base.rstrip("/"), headers


def _messages_tagged(
    base: str, topic: str, tag: str, headers: dict[str, str], timeout: float
) -> Sequence[str]:
    """The ids of the cached messages of ``topic`` carrying ``tag``, oldest first."""
    query = urlencode({"poll": "1", "since": _LOOKBACK, "tags": tag})
    request = urllib.request.Request(f"{base}/{quote(topic, safe='')}/json?{query}", headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        lines = answer.read().decode("utf-8", errors="replace").splitlines()
    found = []
    for line in lines:
        if not line.strip():
            continue
        event = json.loads(line)
        if event.get("event", "message") == "message" and tag in (event.get("tags") or []):
            found.append(str(event["id"]))
    return found


def _publish_update(
    base: str, topic: str, sequence: str, message: Message, headers: dict[str, str], timeout: float
) -> None:
    """Publish ``message`` as the new content of the notification with id ``sequence``."""
    sent = {**headers, "X-Title": message.title, "X-Tags": _DONE_TAG, "Content-Type": "text/plain"}
    path = f"{base}/{quote(topic, safe='')}/{quote(sequence, safe='')}"
    request = urllib.request.Request(path, data=message.body.encode("utf-8"), headers=sent, method="POST")
    with urllib.request.urlopen(request, timeout=timeout):
        pass
