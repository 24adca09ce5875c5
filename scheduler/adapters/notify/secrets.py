"""The secret guard: no log line, error or result of ours or Apprise's carries a password or token.

Every URL and its private parts are registered with a filter on Apprise's logger before Apprise
reads them. While a send runs, the filter also hands Apprise's records of that call to the send
(found through a context variable Apprise copies into its worker threads), at DEBUG detail, and
lets only what the application's log level asks for through.

A nudge's one-tap links carry tokens that record a completion: Apprise logs them at DEBUG in
payloads and headers, urllib3 in the query of a GET. They are blanked by their shape (``/l/``
and the token, raw, URL-encoded or JSON-escaped) rather than registered one by one, which would
grow without end in a daemon. Once channels load, the application's own log handlers get a
filter for them too, so no other library's record carries one either.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote

from scheduler.adapters.notify.registry import registry

APPRISE_LOGGER = "apprise"
# Loggers outside Apprise that may print a request line with a token in its path or query.
_SCRUBBED_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager")
_MIN_SECRET = 4  # shorter values cannot be scrubbed without mangling ordinary words
_MAX_ERROR = 240
_SECRET_KEYS = frozenset(
    {"pass", "password", "secret", "token", "key", "apikey", "api_key", "auth", "access_token", "webhook"}
)


@dataclass(slots=True)
class _Capture:
    records: list[tuple[int, str]] = field(default_factory=list)
    quiet: bool = False  # keep the records from the application's log (loading reports them itself)


_CAPTURE: contextvars.ContextVar[_Capture | None] = contextvars.ContextVar("ritual_capture", default=None)


class _SecretGuard(logging.Filter):
    """Scrubs registered secrets from every record and hands Apprise's records to the running call.

    While a capture is running, Apprise's logger is lowered to DEBUG so the detail needed to judge
    a failure exists; records below the level the application had set are kept from its handlers.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()
        self._depth = 0
        self._saved_level = logging.NOTSET
        self._floor: int | None = None

    def add(self, values: Iterable[str]) -> None:
        fresh = {v for v in values if len(v) >= _MIN_SECRET} - set(self._secrets)
        if fresh:
            with self._lock:
                self._secrets = tuple(sorted({*self._secrets, *fresh}, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "****")
        return hide_link_tokens(text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record still must not leak
            message = str(record.msg)
        record.msg, record.args = self.scrub(message), None
        if record.name != APPRISE_LOGGER:
            return True
        capture = _CAPTURE.get()
        if capture is not None:
            capture.records.append((record.levelno, record.msg))
            if capture.quiet:
                return False
        floor = self._floor
        return floor is None or record.levelno >= floor

    @contextlib.contextmanager
    def capturing(self, *, quiet: bool) -> Iterator[_Capture]:
        capture = _Capture(quiet=quiet)
        token = _CAPTURE.set(capture)
        self._lower_level()
        try:
            yield capture
        finally:
            self._restore_level()
            _CAPTURE.reset(token)

    def _lower_level(self) -> None:
        with self._lock:
            if self._depth == 0:
                logger = logging.getLogger(APPRISE_LOGGER)
                self._saved_level = logger.level
                effective = logger.getEffectiveLevel()
                if effective > logging.DEBUG:
                    self._floor = effective
                    logger.setLevel(logging.DEBUG)
            self._depth += 1

    def _restore_level(self) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._floor is not None:
                logging.getLogger(APPRISE_LOGGER).setLevel(self._saved_level)
                self._floor = None


GUARD = _SecretGuard()

# A link token after "/l/": its separators raw, JSON-escaped, URL-encoded or encoded twice.
_LINK_TOKEN_RE = re.compile(r"(?P<sep>/|\\/|%2[Ff]|%252[Ff])l(?P=sep)[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)?")


def hide_link_tokens(text: str) -> str:
    """``text`` with the token of every one-tap link (``.../l/TOKEN``) replaced by ``****``."""
    if "l" not in text:
        return text
    return _LINK_TOKEN_RE.sub(lambda found: f"{found['sep']}l{found['sep']}****", text)


class _ScrubOnTheWayOut(logging.Filter):
    """On the application's log handlers: no logger's record carries a link token.

    Only link tokens: the URLs registered with the guard include whole secret-free ones, whose
    masked form our own lines name on purpose ("delivered via alex ntfy://host/topic").
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record still must not leak
            message = str(record.msg)
        scrubbed = hide_link_tokens(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        if record.exc_info and not record.exc_text:  # a traceback's messages too: formatted once, here
            record.exc_text = hide_link_tokens(logging.Formatter().formatException(record.exc_info))
        return True


_ON_THE_WAY_OUT = _ScrubOnTheWayOut()


def install_guard() -> None:
    for name in (APPRISE_LOGGER, *_SCRUBBED_LOGGERS):
        logger = logging.getLogger(name)
        if GUARD not in logger.filters:
            logger.addFilter(GUARD)
    for handler in logging.getLogger().handlers:
        if _ON_THE_WAY_OUT not in handler.filters:
            handler.addFilter(_ON_THE_WAY_OUT)


def scrub(text: str) -> str:
    """``text`` with every secret of every loaded channel replaced by ``****``."""
    return GUARD.scrub(text)


_SPLIT_RE = re.compile(r"[/:@?&=,;#\s]+")
_HOSTLIKE_RE = re.compile(r"^(localhost|[a-z0-9-]+(\.[a-z0-9-]+)+)(:\d+)?$", re.I)


def _variants(value: str) -> set[str]:
    return {value, unquote(value), quote(value, safe="")}


def diff_secrets(real: str, masked: str) -> set[str]:
    """What Apprise's privacy form hides: the parts of the real URL missing from the masked one."""
    shown = set(_SPLIT_RE.split(masked))
    hidden = {part for part in _SPLIT_RE.split(real) if part and part not in shown}
    return {v for part in hidden for v in _variants(part)}


def raw_secrets(raw: str) -> set[str]:
    """The parts of a URL that may be secret whatever its scheme: password, token-like host, keys."""
    secrets = _variants(raw.strip())
    scheme, _, rest = raw.partition("://")
    authority, _, _path = rest.partition("/")
    authority = authority.partition("?")[0]
    userinfo, at, host = authority.rpartition("@")
    if at:
        user, _, password = userinfo.partition(":")
        secrets |= _variants(password) | _variants(userinfo)
        if not password:
            secrets |= _variants(user)  # a bare token in the user part (ntfy://tk_xxx@host)
    # A host that is no host name may be a token (tgram://bot-token/...); a custom plugin's is a path.
    custom = scheme.lower() in registry() and getattr(registry()[scheme.lower()], "category", "") == "custom"
    if host and not custom and not _HOSTLIKE_RE.match(host):
        secrets |= {v for part in host.split(":") for v in _variants(part)}
    for key, value in parse_qsl(raw.partition("?")[2]):
        if key.lower() in _SECRET_KEYS:
            secrets |= _variants(value)
    return {s for s in secrets if s and s != scheme}


def yaml_secrets(text: str) -> set[str]:
    """Values of password/token keys in a YAML config, which never appear in a URL."""
    keys = "|".join(sorted(_SECRET_KEYS))
    pattern = re.compile(rf"^\s*-?\s*(?:{keys})\s*:\s*[\"']?([^\"'#\s]+)", re.I | re.M)
    return {v for match in pattern.finditer(text) for v in _variants(match.group(1))}


def service_and_host(private: str) -> str:
    """How a channel is shown and stored: its scheme and host, ``ntfy://ntfy.example.lan/…``.

    Apprise's private form hides passwords and tokens, yet keeps a URL's path and options, and
    there an ntfy topic or a chat id is the secret; so everything after the host is left out.
    """
    scheme, sep, rest = private.partition("://")
    if not sep:
        return "****"
    authority = rest.partition("/")[0].partition("?")[0]
    userinfo, at, host = authority.rpartition("@")
    tail = "/…" if rest[len(authority) :].strip("/") else "/"
    return f"{scheme.lower()}://{'****@' if at or userinfo else ''}{host}{tail}"


def mask_raw(raw: str) -> str:
    """A URL Apprise could not load, shown without anything that may be secret."""
    scheme, sep, rest = raw.partition("://")
    if not sep:
        return "****"
    authority, slash, remainder = rest.partition("/")
    authority, question, _query = authority.partition("?")
    _userinfo, at, host = authority.rpartition("@")
    shown = host if _HOSTLIKE_RE.match(host) else ("****" if host else "")
    tail = "/****" if remainder or question else slash
    return f"{scheme.lower()}://{'****@' if at else ''}{shown}{tail}"


def one_line(text: str) -> str:
    """A scrubbed, single-line message with a lower-case start and no trailing full stop."""
    line = re.sub(r"\s+", " ", scrub(text)).strip().replace("., ", ", ").rstrip(".")
    if re.match(r"[A-Z][a-z]*\b", line):  # "Failed to ..." but not "ImportError" or "JSON"
        line = line[0].lower() + line[1:]
    return line if len(line) <= _MAX_ERROR else line[: _MAX_ERROR - 1] + "…"
