"""Sending through Apprise, and judging what each send's outcome means.

Apprise's notify answers with a status per service, not a reason. The reason is read from the
call's log lines: ``error=503`` for HTTP services, ``Socket Exception: (535, ...)`` for SMTP, the
errno of a refused connection, or a plugin's own ``permanent:`` marker. Limits: services that log no
status are judged transient, and the wording is Apprise's (pinned to 2.x).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
import sys
import time
import weakref
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from apprise import Apprise, AppriseResultStatus

from scheduler.adapters.notify import ntfy
from scheduler.adapters.notify.channel import Channel
from scheduler.adapters.notify.secrets import GUARD, one_line
from scheduler.app.ports import SendResult
from scheduler.domain.messages import Action, Message

log = logging.getLogger("scheduler.adapters.notify")
NTFY_MAX_ACTIONS = 3
_GRACE = 1.0  # seconds past Apprise's own deadline before the send is cancelled from outside

# One judged notify: (ok, permanent, error, elapsed seconds, http status).
Outcome = tuple[bool, bool, str, float, int | None]


def widen_send_pool(threads: int) -> None:
    """Give Apprise's shared send pool room for a wide fan-out.

    Apprise runs every service call on one shared ThreadPoolExecutor that it creates
    lazily, under a lock, with Python's default size; this creates it first, the same
    way, with ``threads`` (scheduler.startup chooses how many, and says why). Once the
    pool exists nothing changes. If Apprise stops exposing it, its own pool is used and
    only fan-out speed suffers.
    """
    module = sys.modules.get("apprise.apprise")
    lock = getattr(module, "_shared_executor_lock", None)
    if module is None or lock is None or not hasattr(module, "_shared_executor"):
        return
    with lock:
        if getattr(module, "_shared_executor", None) is None:
            pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="apprise-send")
            setattr(module, "_shared_executor", pool)  # noqa: B010 - a private attribute, on purpose


async def send_all(channels: Sequence[Channel], message: Message, *, timeout: float) -> list[SendResult]:
    """Send to every channel at once; a slow or failing channel delays none of the others."""
    return await send_each(channels, [message] * len(channels), timeout=timeout)


async def send_each(
    channels: Sequence[Channel], messages: Sequence[Message], *, timeout: float
) -> list[SendResult]:
    """``send_all`` with each channel its own message (links name the person it reaches)."""
    sends = (send_one(c, m, timeout=timeout) for c, m in zip(channels, messages, strict=True))
    return list(await asyncio.gather(*sends))


async def send_one(channel: Channel, message: Message, *, timeout: float) -> SendResult:
    """Send one nudge to one channel through Apprise's async notify; never raises for a failed send."""
    if channel.problem is not None or channel._plugin is None:
        error = channel.problem or f"channel {channel.masked} is not loaded"
        return SendResult(channel.target, channel.masked, ok=False, permanent=True, error=error)
    if message.replaces:
        if not channel.buttons:  # only ntfy can replace a message on the phones
            return SendResult(channel.target, channel.masked, ok=True, error="this channel cannot replace")
        return await asyncio.to_thread(ntfy.replace, channel, message, timeout=timeout)
    started = time.perf_counter()
    try:
        plugin, body = _prepare(channel, message)
        sender = _sender(plugin, keep=plugin is channel._plugin)
    except Exception as exc:  # a plugin or Apprise bug must not take the other channels down
        error = one_line(f"{exc.__class__.__name__}: {exc}")
        return SendResult(channel.target, channel.masked, False, False, error, time.perf_counter() - started)
    ok, permanent, error, _, status = await notify_through(
        sender, body, message.title, message.body_format, timeout, quiet=not log.isEnabledFor(logging.DEBUG)
    )
    elapsed = time.perf_counter() - started
    return SendResult(channel.target, channel.masked, ok, permanent, error, elapsed, status)


async def notify_through(
    sender: Apprise, body: str, title: str, body_format: str, timeout: float, *, quiet: bool = True
) -> Outcome:
    """One notify through an Apprise object, judged: (ok, permanent, error, elapsed, http status).

    Apprise's own lines about this call go to judging it, not to the log (``quiet``): the caller
    logs one line per failure (the outbox, notify-test). With debug logging they show too.
    """
    started = time.perf_counter()
    body = body.strip() or title  # Apprise sends nothing without a body
    try:
        with GUARD.capturing(quiet=quiet) as capture:
            call = sender.async_notify(body=body, title=title, body_format=body_format, timeout=timeout)
            result = await asyncio.wait_for(call, timeout + _GRACE)
        ok, permanent, error, status = _judge(result.status, capture.records, timeout)
    except TimeoutError:
        ok, permanent, error, status = False, False, _timed_out(timeout), None
    except Exception as exc:  # a plugin or Apprise bug must not take the other channels down
        ok, permanent, error, status = False, False, one_line(f"{exc.__class__.__name__}: {exc}"), None
    return ok, permanent, error, time.perf_counter() - started, status


# One Apprise object per plugin, built on its first send and reused by every later one: building
# it costs more than the rest of our share of a send (its locale loads gettext's catalogue each
# time). A notify call keeps its state in the call, not in the object, so concurrent sends through
# one object are safe; Apprise is pinned to 2.x. Keyed weakly: a reloaded channel's old plugin and
# its Apprise go together; a plugin built for one message (ntfy buttons) never repeats, so it is
# wrapped once and not kept.
_SENDERS: weakref.WeakKeyDictionary[Any, Apprise] = weakref.WeakKeyDictionary()


def _sender(plugin: Any, *, keep: bool = True) -> Apprise:
    """The Apprise object that sends through ``plugin``."""
    found = _SENDERS.get(plugin)
    if found is None:
        found = Apprise(asset=plugin.asset)
        found.add(plugin)
        if keep:
            _SENDERS[plugin] = found
    return found


def _prepare(channel: Channel, message: Message) -> tuple[Any, str]:
    """The plugin and body for this message: buttons where the channel has them, links otherwise."""
    url = message_url(channel, message)
    if url is None:
        return channel._plugin, message.body_with_links()
    with GUARD.capturing(quiet=True):
        plugin = Apprise.instantiate(url, asset=channel._plugin.asset, suppress_exceptions=True)
    if plugin is None:
        return channel._plugin, message.body_with_links()
    return plugin, message.body


def message_url(channel: Channel, message: Message) -> str | None:
    """The URL of a plugin made for this one message, or None when the channel's own serves.

    The hook for one-tap actions: ntfy receives them as ``http`` (POST) or ``view`` (GET) buttons
    through its ``actions`` option on a plugin built for this message, and the message's tag
    through its ``tags`` option; every other channel gets the actions as links at the end of the body.
    """
    if not (channel.buttons and (message.actions or message.tag)):
        return None
    real = channel.url.get_secret_value()
    base, _, query = real.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    if message.actions:
        existing = [value for key, value in pairs if key == "actions" and value]
        header = "; ".join([*existing, ntfy_actions(message.actions)])
        pairs = [(key, value) for key, value in pairs if key != "actions"] + [("actions", header)]
    if message.tag:  # so the message can be found, and replaced, once it is done (ntfy.py)
        tags = [value for key, value in pairs if key == "tags" and value]
        pairs = [(key, value) for key, value in pairs if key != "tags"] + [
            ("tags", ",".join([*tags, message.tag]))
        ]
    return f"{base}?{urlencode(pairs, quote_via=quote)}"


def ntfy_actions(actions: Sequence[Action]) -> str:
    """ntfy's ``X-Actions`` value: a POST becomes an ``http`` button, a GET a ``view`` button."""
    parts = []
    for action in actions[:NTFY_MAX_ACTIONS]:
        label = action.label.replace('"', "'")
        if re.search(r"[,;=]", label):
            label = f'"{label}"'
        if action.method == "GET":
            parts.append(f"view, {label}, {action.url}")
        else:
            parts.append(f"http, {label}, {action.url}, method={action.method}, clear=true")
    return "; ".join(parts)


_HTTP_RE = re.compile(r"\berror=(\d{3})\d*\b")
_SMTP_RE = re.compile(r"Socket Exception: \((\d{3}),")
_ERRNO_RE = re.compile(r"\[Errno -?\d+\] [^'\")\]]+")
_EXCEPTION_RE = re.compile(r" Exception: (?P<reason>.+)$", re.S)
_PERMANENT = "permanent:"


def _judge(
    status: Any, records: Sequence[tuple[int, str]], timeout: float
) -> tuple[bool, bool, str, int | None]:
    """(ok, permanent, error, http status) from Apprise's status and the call's log lines."""
    if status == AppriseResultStatus.SUCCESS:
        return True, False, "", None
    if status == AppriseResultStatus.TIMEOUT:
        return False, False, _timed_out(timeout), None
    if status == AppriseResultStatus.NOMATCH:
        return False, True, "apprise did not dispatch the channel (is its plugin disabled?)", None
    warnings = [message for level, message in records if level >= logging.WARNING]
    everything = [message for _level, message in records]
    for message in warnings:
        if match := _HTTP_RE.search(message):
            code = int(match.group(1))
            permanent = 400 <= code < 500 and code not in {408, 429}
            return False, permanent, one_line(message), code
    reasons = [m["reason"] for line in everything if (m := _EXCEPTION_RE.search(line))]
    for text in [*everything, *reasons]:
        if text.strip().lower().startswith(_PERMANENT):
            return False, True, one_line(text.strip()[len(_PERMANENT) :]), None
    for message in everything:
        if match := _SMTP_RE.search(message):
            code = int(match.group(1))
            return False, code >= 500, one_line(message.partition("Socket Exception: ")[2]), None
    headline = next((m for m in warnings if not m.startswith("<class ")), "") or "delivery failed"
    detail = next((m.group(0) for line in everything if (m := _ERRNO_RE.search(line))), "")
    detail = detail or next((reason for reason in reasons if reason.strip()), "")
    error = f"{one_line(headline)} ({one_line(detail)})" if detail else one_line(headline)
    return False, False, error, None


def _timed_out(timeout: float) -> str:
    return f"no answer within {timeout:g} s"
