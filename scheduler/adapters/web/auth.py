"""Who is asking: bearer tokens, the session cookie the login sets, and the today page's form tokens.

- ``/api/v1`` and the pages take ``Authorization: Bearer TOKEN``; the store keeps the token's
  sha256 only.
- The ``ritual_session`` cookie that ``/login`` sets is HttpOnly, SameSite=Strict, 30 days,
  HMAC-signed with the link key over the token's hash and an expiry, so revoking the token ends
  the session too.
- Each form of the today page carries an HMAC of (session token hash, ritual name) as a CSRF token.
- Request lines go to the access log with link and login tokens blanked out.
- Failed logins slow down the address they come from (``LoginThrottle``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import threading
from collections import OrderedDict
from datetime import datetime, timedelta

from starlette.requests import Request

from scheduler.app.ports import Clock
from scheduler.app.service import RitualService
from scheduler.app.stored import ApiTokenRecord

SESSION_COOKIE = "ritual_session"
SESSION_LIFETIME = timedelta(days=30)
_SESSION_PREFIX = b"ritual-session/v1\n"
_FORM_PREFIX = b"ritual-form/v1\n"
_LINK_PATH = re.compile(r"/(l|feed)/[^/?\s\"]+")
# ?token=, ?access_token= (how many clients send a bearer token in a URL), and their kin.
_TOKEN_QUERY = re.compile(r"([?&](?:[a-z_]*token|key|password|secret)=)[^&\s\"]+", re.IGNORECASE)


class Auth:
    """Finds the API token behind a request: a bearer header or a valid session cookie."""

    def __init__(self, service: RitualService, *, key: bytes, clock: Clock) -> None:
        self.service = service
        self.key = key
        self.clock = clock

    def page_user(self, request: Request) -> ApiTokenRecord | None:
        """The token behind a bearer header or a valid session cookie."""
        if request.headers.get("authorization"):
            return self.bearer(request)
        cookie = request.cookies.get(SESSION_COOKIE)
        token_hash = None if cookie is None else read_session(self.key, cookie, now=self.clock.now())
        return None if token_hash is None else self.service.token_by_hash(token_hash)

    # the API -----------------------------------------------------------------------------
    def bearer(self, request: Request) -> ApiTokenRecord | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.token_record(token.strip())

    def token_record(self, token: str) -> ApiTokenRecord | None:
        return self.service.authenticate(token)


# sessions and form tokens ------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def session_cookie(key: bytes, token_hash: str, expires: datetime) -> str:
    """``PAYLOAD.MAC``: the token's hash and an expiry, signed so the cookie cannot be made up."""
    payload = f"{token_hash}:{int(expires.timestamp())}".encode()
    mac = hmac.new(key, _SESSION_PREFIX + payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def read_session(key: bytes, cookie: str, *, now: datetime) -> str | None:
    """The token hash a genuine, unexpired session cookie holds; None for anything else."""
    try:
        payload_text, mac_text = cookie.split(".")
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except ValueError:
        return None
    expected = hmac.new(key, _SESSION_PREFIX + payload, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        return None
    token_hash, _, expires = payload.decode("ascii", errors="replace").partition(":")
    if not expires.isdigit() or int(expires) <= now.timestamp():
        return None
    return token_hash


def form_token(key: bytes, record: ApiTokenRecord, name: str) -> str:
    """The CSRF token of one ritual's Done form for one login (SameSite=Strict is the first guard)."""
    message = _FORM_PREFIX + f"{record.token_hash}\n{name}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class LoginThrottle:
    """A small back-off per address for failed logins.

    Tokens are 256-bit, so this is not what keeps them safe; it keeps a script from trying
    them at full speed and from filling the log. An address's first FREE_TRIES failures cost
    nothing (typos); from then on it waits 1 s, 2 s, 4 s ... (at most MAX_WAIT) after each
    failure before a token from it is even looked at. A success, or an hour without failures,
    forgets it. Behind a reverse proxy every login comes from the proxy's address.
    """

    FREE_TRIES = 5
    MAX_WAIT = timedelta(minutes=1)
    FORGET_AFTER = timedelta(hours=1)
    MAX_ADDRESSES = 10_000  # the oldest are forgotten first

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._failures: OrderedDict[str, tuple[int, datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, address: str) -> timedelta | None:
        """How long ``address`` must still wait before its next login is looked at (None: not)."""
        now = self.clock.now()
        with self._lock:
            count, last = self._failures.get(address, (0, now))
            if now - last >= self.FORGET_AFTER:
                self._failures.pop(address, None)
                return None
            if count < self.FREE_TRIES:
                return None
            left = last + self._backoff(count) - now
            return left if left > timedelta() else None

    def failed(self, address: str) -> None:
        now = self.clock.now()
        with self._lock:
            count, last = self._failures.pop(address, (0, now))
            self._failures[address] = (1 if now - last >= self.FORGET_AFTER else count + 1, now)
            while len(self._failures) > self.MAX_ADDRESSES:
                self._failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)

    def _backoff(self, count: int) -> timedelta:
        return min(timedelta(seconds=2 ** min(count - self.FREE_TRIES, 16)), self.MAX_WAIT)


def hide_tokens(text: str) -> str:
    """A request line fit for a log: link tokens and ``token=`` (``access_token=``...) values
    blanked out."""
    return _TOKEN_QUERY.sub(r"\1...", _LINK_PATH.sub(r"/\1/...", text))


class HideTokens(logging.Filter):
    """Attach to ``uvicorn.access``: its request lines would otherwise carry link and login tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(hide_tokens(a) if isinstance(a, str) else a for a in record.args)
        record.msg = hide_tokens(str(record.msg))
        return True
