"""Signed, expiring one-tap links: the token a nudge's Done/Snooze button carries.

A token is ``PAYLOAD.SIGNATURE``, both base64url without padding:

- PAYLOAD is compact JSON with sorted keys, UTF-8:
  ``{"a":"done","e":1795000000,"o":42,"p":"alice","v":1}`` (action, expiry in Unix
  seconds, occurrence id, person, format version). It is readable by whoever holds
  the link: it authenticates, it does not hide.
- SIGNATURE is HMAC-SHA256(key, b"ritual-link/v1\\n" + PAYLOAD bytes). The prefix keeps
  link signatures apart from anything else the same key may ever sign.

``verify`` is pure and has no memory: a replayed token verifies again, so a double tap
must be made harmless by the store (a completion is idempotent per occurrence and
person), and "GET never records" is the web layer's rule. Neither belongs here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from scheduler.domain.errors import RitualError

DOMAIN_PREFIX = b"ritual-link/v1\n"
VERSION = 1
MIN_KEY_BYTES = 32
NEW_KEY_BYTES = 32
MAX_TOKEN_LENGTH = 4096  # longer input is refused before any decoding or hashing
MAX_PERSON_BYTES = 256  # keeps every token we sign well under MAX_TOKEN_LENGTH
MAX_OCCURRENCE = 2**63 - 1  # the database's integer range
_MAX_EXPIRY = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())
_MAC_BYTES = hashlib.sha256().digest_size
_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_PAYLOAD_KEYS = frozenset({"a", "e", "o", "p", "v"})


class LinkAction(StrEnum):
    DONE = "done"
    SNOOZE = "snooze"


_ACTIONS = frozenset(action.value for action in LinkAction)


class LinkFailure(StrEnum):
    """Why a link was refused; the web layer picks the page and the status from it."""

    MALFORMED = "malformed"
    TAMPERED = "tampered"  # also: signed with another key (the two cannot be told apart)
    EXPIRED = "expired"
    WRONG_OCCURRENCE = "wrong occurrence"
    WRONG_PERSON = "wrong person"
    WRONG_ACTION = "wrong action"


class LinkError(RitualError):
    """A link was refused; the message is safe to log and show: never the token, never the key."""

    def __init__(self, reason: LinkFailure, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LinkClaim:
    """What a link says: this person may mark (or snooze) this occurrence until `expires`."""

    occurrence: int
    person: str
    action: LinkAction
    expires: datetime  # aware; normalised to UTC; whole seconds

    def __post_init__(self) -> None:
        if type(self.occurrence) is not int or not 0 <= self.occurrence <= MAX_OCCURRENCE:
            raise ValueError(f"occurrence must be an id from 0 to 2**63-1, not '{self.occurrence!r}'")
        if not isinstance(self.person, str):
            raise ValueError(f"person must be a string, not '{self.person!r}'")
        try:
            size = len(self.person.encode("utf-8"))
        except UnicodeEncodeError:
            raise ValueError(f"person '{_shown(self.person)}' is not valid unicode text") from None
        if size > MAX_PERSON_BYTES:
            raise ValueError(f"person '{_shown(self.person)}' is longer than {MAX_PERSON_BYTES} bytes")
        if self.action not in _ACTIONS:
            raise ValueError(f"unknown action '{_shown(str(self.action))}'")
        object.__setattr__(self, "action", LinkAction(self.action))
        if not isinstance(self.expires, datetime) or self.expires.utcoffset() is None:
            raise ValueError(f"expires must be an aware datetime, not '{self.expires!r}'")
        if self.expires.microsecond:
            raise ValueError(f"expires '{self.expires.isoformat()}' must be in whole seconds")
        object.__setattr__(self, "expires", self.expires.astimezone(UTC))


def sign(claim: LinkClaim, key: bytes) -> str:
    """Turn a claim into a URL-safe token that only the holder of `key` can have made."""
    _check_key(key)
    payload = _encode_payload(claim)
    return f"{_b64encode(payload)}.{_b64encode(_mac(key, payload))}"


def verify(
    token: str,
    key: bytes,
    *,
    now: datetime,
    occurrence: int | None = None,
    person: str | None = None,
    action: LinkAction | None = None,
) -> LinkClaim:
    """Return the claim a genuine, unexpired token carries, or raise LinkError saying why not.

    The signature is checked (in constant time) before the payload is parsed. When the URL
    also names the occurrence, person or action, the claim must agree; then it must not have
    expired (``now >= expires`` is expired).
    """
    _check_key(key)
    if now.utcoffset() is None:
        raise ValueError(f"now must be an aware datetime, not '{now!r}'")
    payload, signature = _split(token)
    if not hmac.compare_digest(signature, _mac(key, payload)):
        raise LinkError(
            LinkFailure.TAMPERED, "link signature does not match (tampered, or signed with another key)"
        )
    claim = _decode_payload(payload)
    _check_binding(claim, occurrence, person, action)
    if now >= claim.expires:
        raise LinkError(LinkFailure.EXPIRED, f"link expired at {claim.expires:%Y-%m-%d %H:%M:%S} UTC")
    return claim


def expiry_for(period_end: datetime, grace: timedelta = timedelta(hours=12)) -> datetime:
    """When a link for a period stops working: the period's close plus a grace, in whole UTC seconds.

    Rounded up, so a link never dies before the period it records has closed.
    """
    if period_end.utcoffset() is None:
        raise ValueError(f"period end must be an aware datetime, not '{period_end!r}'")
    if grace < timedelta(0):
        raise ValueError(f"grace must not be negative, not '{grace}'")
    expires = (period_end + grace).astimezone(UTC)
    if expires.microsecond:
        expires = expires.replace(microsecond=0) + timedelta(seconds=1)
    return expires


def link_url(base: str, token: str) -> str:
    """Where a link points: the daemon's ``/l/TOKEN`` page under its public base URL."""
    return f"{base.rstrip('/')}/l/{token}"


def key_fingerprint(key: bytes) -> str:
    """A short name for a key (first 8 hex of its SHA-256) that shows which one is in use, not what it is."""
    return hashlib.sha256(key).hexdigest()[:8]


# -- tokens ---------------------------------------------------------------------------------


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
        size = len(key) if isinstance(key, bytes) else 0
        raise ValueError(f"link key is too short ({size} bytes; at least {MIN_KEY_BYTES} are needed)")


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, DOMAIN_PREFIX + payload, hashlib.sha256).digest()


def _encode_payload(claim: LinkClaim) -> bytes:
    fields = {
        "a": claim.action.value,
        "e": int(claim.expires.timestamp()),
        "o": claim.occurrence,
        "p": claim.person,
        "v": VERSION,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _malformed(why: str) -> LinkError:
    return LinkError(LinkFailure.MALFORMED, f"link is malformed: {why}")


def _split(token: str) -> tuple[bytes, bytes]:
    """The payload and signature bytes of a token, refusing anything but the one canonical spelling."""
    if not isinstance(token, str) or not token:
        raise _malformed("empty")
    if len(token) > MAX_TOKEN_LENGTH:
        raise _malformed(f"{len(token)} characters long, at most {MAX_TOKEN_LENGTH} are allowed")
    parts = token.split(".")
    if len(parts) != 2:
        raise _malformed("expected two parts separated by one dot")
    payload, signature = (_b64decode(part) for part in parts)
    if len(signature) != _MAC_BYTES:
        raise _malformed("the signature has the wrong length")
    return payload, signature


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    # The stdlib decoder skips stray characters and ignores the last character's spare bits;
    # re-encoding and comparing leaves exactly one spelling per token.
    if not text or not _B64URL.issuperset(text) or len(text) % 4 == 1:
        raise _malformed("not base64url text")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64encode(data) != text:
        raise _malformed("not base64url text")
    return data


def _decode_payload(payload: bytes) -> LinkClaim:
    """Parse a payload whose signature already checked; anything unexpected is still refused."""
    try:
        fields = json.loads(payload.decode("utf-8"))
    except ValueError:
        raise _malformed("the payload is not JSON") from None
    if not isinstance(fields, dict) or fields.keys() != _PAYLOAD_KEYS:
        raise _malformed("the payload has unexpected fields")
    if type(fields["v"]) is not int or fields["v"] != VERSION:
        raise _malformed(f"link format version '{_shown(str(fields['v']))}' is not supported")
    expires = fields["e"]
    if type(expires) is not int or not 0 <= expires <= _MAX_EXPIRY:
        raise _malformed("the expiry is not a time")
    if fields["a"] not in _ACTIONS:
        raise _malformed("the action is unknown")
    try:
        return LinkClaim(
            occurrence=fields["o"],
            person=fields["p"],
            action=LinkAction(fields["a"]),
            expires=datetime.fromtimestamp(expires, UTC),
        )
    except ValueError:
        raise _malformed("the payload holds a value out of range") from None


def _check_binding(
    claim: LinkClaim, occurrence: int | None, person: str | None, action: LinkAction | None
) -> None:
    """The URL's own occurrence, person and action (when it names them) must be the signed ones."""
    if occurrence is not None and claim.occurrence != occurrence:
        raise LinkError(
            LinkFailure.WRONG_OCCURRENCE,
            f"link is for occurrence '{claim.occurrence}', not '{_shown(str(occurrence))}'",
        )
    if person is not None and claim.person != person:
        raise LinkError(
            LinkFailure.WRONG_PERSON,
            f"link is for person '{_shown(claim.person)}', not '{_shown(person)}'",
        )
    if action is not None and claim.action != action:
        raise LinkError(
            LinkFailure.WRONG_ACTION,
            f"link is for '{claim.action}', not '{_shown(str(action))}'",
        )


def _shown(text: str, limit: int = 40) -> str:
    """A value fit for a one-line message: control and separator characters escaped, long text cut."""
    cut = text[:limit]
    shown = "".join(char if char.isprintable() else repr(char)[1:-1] for char in cut)
    return shown + ("..." if len(text) > limit else "")
