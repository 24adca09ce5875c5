"""Signed one-tap links: the link security table of issue 6, malformed input, the key file, properties.

Two rows of the issue's table live elsewhere on purpose. "Replayed": `verify` has no memory
and accepts a token again (asserted below); that a second POST records nothing is the store's
idempotent completion. "GET-only": a GET shows a confirm page and never records; that is the
web layer's rule and is tested with the web app.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import hmac
import json
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.adapters.keyfile import LinkKeyError, load_or_create_key
from scheduler.domain import links
from scheduler.domain.errors import RitualError
from scheduler.domain.links import (
    MAX_OCCURRENCE,
    MAX_TOKEN_LENGTH,
    LinkAction,
    LinkClaim,
    LinkError,
    LinkFailure,
    expiry_for,
    key_fingerprint,
    sign,
    verify,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(100, 132))
NOW = datetime(2026, 11, 24, 20, 30, tzinfo=UTC)
EXPIRES = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
CLAIM = LinkClaim(occurrence=42, person="alice", action=LinkAction.DONE, expires=EXPIRES)
SNOOZE_CLAIM = LinkClaim(occurrence=42, person="alice", action=LinkAction.SNOOZE, expires=EXPIRES)
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def forge(payload: bytes, key: bytes = KEY) -> str:
    """A token built by hand from the documented format, not through `sign`."""
    mac = hmac.new(key, b"ritual-link/v1\n" + payload, hashlib.sha256).digest()
    return f"{b64(payload)}.{b64(mac)}"


def canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def edited(token: str, **changes: Any) -> str:
    """The token with its payload edited and its old signature kept: what a forger can do."""
    payload, signature = token.split(".")
    fields = json.loads(unb64(payload)) | changes
    return f"{b64(canonical(fields))}.{signature}"


def flip_last_signature_byte(token: str) -> str:
    payload, signature = token.split(".")
    raw = bytearray(unb64(signature))
    raw[-1] ^= 0x01
    return f"{payload}.{b64(bytes(raw))}"


def spliced(payload_from: str, signature_from: str) -> str:
    return f"{payload_from.partition('.')[0]}.{signature_from.partition('.')[2]}"


def assert_safe_message(error: Exception, token: str) -> None:
    """One line, and nothing of the token or the key in it."""
    message = str(error)
    assert message
    assert "\n" not in message
    assert message[0].islower()
    for secret in (token, *token.split("."), KEY.hex(), b64(KEY)):
        if len(secret) >= 8:
            assert secret not in message


# -- the link security table ---------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """A token, and what the URL it arrived on says about it."""

    token: Callable[[], str]
    now: datetime = NOW
    occurrence: int | None = 42
    person: str | None = "alice"
    action: LinkAction | None = None
    refused: LinkFailure | None = None  # None: accepted, and the claim is `expect`
    expect: LinkClaim = CLAIM


SECURITY_TABLE = [
    pytest.param(Attempt(lambda: sign(CLAIM, KEY)), id="valid: done link on its own URL"),
    pytest.param(
        Attempt(lambda: sign(CLAIM, KEY), occurrence=None, person=None),
        id="valid: the URL names only the token",
    ),
    pytest.param(
        Attempt(lambda: sign(SNOOZE_CLAIM, KEY), action=LinkAction.SNOOZE, expect=SNOOZE_CLAIM),
        id="valid: snooze link on the snooze URL",
    ),
    pytest.param(
        Attempt(lambda: sign(CLAIM, KEY), now=EXPIRES - timedelta(seconds=1)),
        id="valid: one second before expiry",
    ),
    pytest.param(
        Attempt(lambda: flip_last_signature_byte(sign(CLAIM, KEY)), refused=LinkFailure.TAMPERED),
        id="tampered signature: one bit flipped",
    ),
    pytest.param(
        Attempt(lambda: edited(sign(CLAIM, KEY), p="bob"), person="bob", refused=LinkFailure.TAMPERED),
        id="tampered payload: person changed without re-signing",
    ),
    pytest.param(
        Attempt(
            lambda: edited(sign(CLAIM, KEY), e=int((EXPIRES + timedelta(days=365)).timestamp())),
            now=EXPIRES + timedelta(days=1),
            refused=LinkFailure.TAMPERED,
        ),
        id="tampered payload: expiry extended without re-signing",
    ),
    pytest.param(
        Attempt(lambda: edited(sign(CLAIM, KEY), o=43), occurrence=43, refused=LinkFailure.TAMPERED),
        id="tampered payload: occurrence changed without re-signing",
    ),
    pytest.param(
        Attempt(
            lambda: spliced(sign(SNOOZE_CLAIM, KEY), sign(CLAIM, KEY)),
            action=LinkAction.SNOOZE,
            refused=LinkFailure.TAMPERED,
        ),
        id="tampered: a valid signature over another payload",
    ),
    pytest.param(
        Attempt(lambda: sign(CLAIM, OTHER_KEY), refused=LinkFailure.TAMPERED),
        id="wrong key: signed by another installation",
    ),
    pytest.param(
        Attempt(lambda: sign(CLAIM, KEY), occurrence=43, refused=LinkFailure.WRONG_OCCURRENCE),
        id="other occurrence: URL path names another occurrence",
    ),
    pytest.param(
        Attempt(lambda: sign(CLAIM, KEY), person="bob", refused=LinkFailure.WRONG_PERSON),
        id="other person: bob uses alice's link",
    ),
    pytest.param(
        Attempt(lambda: sign(CLAIM, KEY), person="Alice", refused=LinkFailure.WRONG_PERSON),
        id="other person: names compare exactly, case included",
    ),
    pytest.param(
        Attempt(lambda: sign(SNOOZE_CLAIM, KEY), action=LinkAction.DONE, refused=LinkFailure.WRONG_ACTION),
        id="other action: a snooze link posted to the done URL",
    ),
    pytest.param(
        Attempt(lambda: sign(CLAIM, KEY), now=EXPIRES, refused=LinkFailure.EXPIRED),
        id="expired: now == expires is expired",
    ),
    pytest.param(
        Attempt(lambda: sign(CLAIM, KEY), now=EXPIRES + timedelta(days=30), refused=LinkFailure.EXPIRED),
        id="expired: a month late",
    ),
    pytest.param(
        Attempt(
            lambda: sign(CLAIM, KEY),
            now=datetime(2026, 11, 25, 16, 0, tzinfo=ZoneInfo("Europe/Berlin")),
            refused=LinkFailure.EXPIRED,
        ),
        id="expired: now given in another zone is the same instant",
    ),
]


@pytest.mark.parametrize("attempt", SECURITY_TABLE)
def test_link_security_table(attempt: Attempt) -> None:
    token = attempt.token()
    check: dict[str, Any] = {
        "now": attempt.now,
        "occurrence": attempt.occurrence,
        "person": attempt.person,
        "action": attempt.action,
    }
    if attempt.refused is None:
        assert verify(token, KEY, **check) == attempt.expect
        return
    with pytest.raises(LinkError) as refused:
        verify(token, KEY, **check)
    assert refused.value.reason is attempt.refused
    assert isinstance(refused.value, RitualError)
    assert_safe_message(refused.value, token)


def test_replayed_token_verifies_again_because_idempotency_lives_in_the_store() -> None:
    token = sign(CLAIM, KEY)
    first = verify(token, KEY, now=NOW, occurrence=42, person="alice")
    again = verify(token, KEY, now=NOW + timedelta(minutes=5), occurrence=42, person="alice")
    assert first == again == CLAIM


@pytest.mark.parametrize(
    ("attempt", "message"),
    [
        pytest.param(
            Attempt(lambda: sign(CLAIM, KEY), now=EXPIRES),
            "link expired at 2026-11-25 15:00:00 UTC",
            id="expired",
        ),
        pytest.param(
            Attempt(lambda: sign(CLAIM, KEY), occurrence=7),
            "link is for occurrence '42', not '7'",
            id="other occurrence",
        ),
        pytest.param(
            Attempt(lambda: sign(CLAIM, KEY), person="bob\nINFO forged log line"),
            "link is for person 'alice', not 'bob\\nINFO forged log line'",
            id="other person, newline in the URL escaped",
        ),
        pytest.param(
            Attempt(lambda: sign(CLAIM, KEY), action=LinkAction.SNOOZE),
            "link is for 'done', not 'snooze'",
            id="other action",
        ),
        pytest.param(
            Attempt(lambda: sign(CLAIM, OTHER_KEY)),
            "link signature does not match (tampered, or signed with another key)",
            id="wrong key",
        ),
    ],
)
def test_refusals_say_why_in_one_line(attempt: Attempt, message: str) -> None:
    with pytest.raises(LinkError) as refused:
        verify(
            attempt.token(),
            KEY,
            now=attempt.now,
            occurrence=attempt.occurrence,
            person=attempt.person,
            action=attempt.action,
        )
    assert str(refused.value) == message


def test_a_mismatch_is_reported_before_expiry() -> None:
    """An edited URL is the stronger fault: it is what the log should say, expired or not."""
    with pytest.raises(LinkError) as refused:
        verify(sign(CLAIM, KEY), KEY, now=EXPIRES + timedelta(days=1), person="bob")
    assert refused.value.reason is LinkFailure.WRONG_PERSON


# -- the wire format ------------------------------------------------------------------------------


def test_token_is_documented_json_and_hmac_with_domain_prefix() -> None:
    token = sign(CLAIM, KEY)
    payload = unb64(token.split(".")[0])
    assert payload == b'{"a":"done","e":1795618800,"o":42,"p":"alice","v":1}'
    assert token == forge(payload)
    # Without the domain prefix the same key and payload give another signature.
    bare = hmac.new(KEY, payload, hashlib.sha256).digest()
    assert token.split(".")[1] != b64(bare)


def test_tokens_are_short_and_url_safe() -> None:
    token = sign(CLAIM, KEY)
    assert len(token) <= 120
    assert set(token) <= set(B64URL + ".")


def test_person_names_travel_as_utf8_not_escapes() -> None:
    claim = LinkClaim(occurrence=1, person="Zoë 🌙", action=LinkAction.DONE, expires=EXPIRES)
    payload = unb64(sign(claim, KEY).split(".")[0])
    assert "Zoë 🌙".encode() in payload


# -- malformed input --------------------------------------------------------------------------------

VALID = sign(CLAIM, KEY)
VALID_PAYLOAD, VALID_SIGNATURE = VALID.split(".")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param("garbage", id="garbage, no dot"),
        pytest.param(VALID_PAYLOAD + VALID_SIGNATURE, id="the dot removed"),
        pytest.param(".", id="only a dot"),
        pytest.param(VALID_PAYLOAD + ".", id="empty signature"),
        pytest.param("." + VALID_SIGNATURE, id="empty payload"),
        pytest.param(VALID + "." + VALID_SIGNATURE, id="extra dot and part"),
        pytest.param(VALID + ".", id="trailing dot"),
        pytest.param(VALID_PAYLOAD, id="truncated to the payload"),
        pytest.param(VALID[:-2], id="truncated signature"),
        pytest.param(VALID[:-1], id="signature one character short"),
        pytest.param(VALID + "A", id="signature one character long"),
        pytest.param(VALID + "=", id="base64 padding added"),
        pytest.param(VALID + " ", id="trailing space"),
        pytest.param(" " + VALID, id="leading space"),
        pytest.param(VALID.replace("-", "+").replace("_", "/") + "+", id="standard base64 alphabet"),
        pytest.param("!!!!.####", id="not base64 at all"),
        pytest.param("é" * 8 + "." + VALID_SIGNATURE, id="non-ascii payload"),
        pytest.param(VALID_PAYLOAD + "." + b64(b"\x00" * 16), id="signature of the wrong size"),
        pytest.param("A" * (MAX_TOKEN_LENGTH + 1), id="one character over the size limit"),
        pytest.param(VALID_PAYLOAD + "." + "A" * 5000, id="huge signature"),
    ],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(LinkError) as refused:
        verify(token, KEY, now=NOW)
    assert refused.value.reason is LinkFailure.MALFORMED
    assert_safe_message(refused.value, token)


def test_noncanonical_base64_spelling_of_a_valid_token_is_refused() -> None:
    """The last base64 character has spare bits the decoder ignores; a second spelling is refused."""
    last = VALID_SIGNATURE[-1]
    twin = B64URL[B64URL.index(last) ^ 0b01]  # 32 bytes -> 43 chars: the last char carries 2 spare bits
    assert unb64(VALID_SIGNATURE[:-1] + twin) == unb64(VALID_SIGNATURE)
    with pytest.raises(LinkError) as refused:
        verify(f"{VALID_PAYLOAD}.{VALID_SIGNATURE[:-1]}{twin}", KEY, now=NOW)
    assert refused.value.reason is LinkFailure.MALFORMED


class Untouchable:
    """Stands in for a module that must not be used."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"'{name}' was used on input that should have been refused unread")


def test_oversized_input_is_refused_before_decoding_or_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(links, "base64", Untouchable())
    monkeypatch.setattr(links, "hmac", Untouchable())
    monkeypatch.setattr(links, "json", Untouchable())
    huge = "A" * 1_000_000 + "." + "A" * 43
    with pytest.raises(LinkError) as refused:
        verify(huge, KEY, now=NOW)
    assert refused.value.reason is LinkFailure.MALFORMED
    assert str(refused.value) == "link is malformed: 1000044 characters long, at most 4096 are allowed"


def test_the_size_limit_is_inclusive() -> None:
    at_limit = "A" * (MAX_TOKEN_LENGTH - 44) + "." + "A" * 43
    assert len(at_limit) == MAX_TOKEN_LENGTH
    with pytest.raises(LinkError) as refused:
        verify(at_limit, KEY, now=NOW)
    assert refused.value.reason is LinkFailure.TAMPERED  # decoded and checked, not cut off by size


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"not json", id="not JSON"),
        pytest.param(b"\xff\xfe", id="not UTF-8"),
        pytest.param(b"[1,2,3]", id="a JSON list"),
        pytest.param(canonical({"a": "done", "e": 1795618800, "o": 42, "p": "alice"}), id="no version"),
        pytest.param(
            canonical({"a": "done", "e": 1795618800, "o": 42, "p": "alice", "v": 1, "x": 0}), id="extra field"
        ),
        pytest.param(
            canonical({"a": "done", "e": 1795618800, "o": 42, "p": "alice", "v": 2}), id="version 2"
        ),
        pytest.param(
            canonical({"a": "done", "e": 1795618800, "o": 42, "p": "alice", "v": True}), id="version true"
        ),
        pytest.param(
            canonical({"a": "done", "e": 1795618800, "o": "42", "p": "alice", "v": 1}), id="id a string"
        ),
        pytest.param(
            canonical({"a": "done", "e": 1795618800, "o": True, "p": "alice", "v": 1}), id="id a bool"
        ),
        pytest.param(
            canonical({"a": "done", "e": 1795618800, "o": -1, "p": "alice", "v": 1}), id="id negative"
        ),
        pytest.param(
            canonical({"a": "done", "e": 1795618800.5, "o": 42, "p": "alice", "v": 1}), id="expiry float"
        ),
        pytest.param(
            canonical({"a": "done", "e": 10**20, "o": 42, "p": "alice", "v": 1}), id="expiry past 9999"
        ),
        pytest.param(
            canonical({"a": "done", "e": -1, "o": 42, "p": "alice", "v": 1}), id="expiry before 1970"
        ),
        pytest.param(
            canonical({"a": "delete", "e": 1795618800, "o": 42, "p": "alice", "v": 1}), id="bad action"
        ),
        pytest.param(
            canonical({"a": "done", "e": 1795618800, "o": 42, "p": 5, "v": 1}), id="person a number"
        ),
        pytest.param(
            canonical({"a": "done", "e": 1795618800, "o": 42, "p": "x" * 300, "v": 1}), id="person too long"
        ),
    ],
)
def test_genuinely_signed_but_unexpected_payloads_are_refused(payload: bytes) -> None:
    """Defence in depth: even a payload signed with the key is parsed strictly."""
    token = forge(payload)
    with pytest.raises(LinkError) as refused:
        verify(token, KEY, now=NOW)
    assert refused.value.reason is LinkFailure.MALFORMED
    assert_safe_message(refused.value, token)


# -- claims, signing and keys ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: LinkClaim(-1, "alice", LinkAction.DONE, EXPIRES), id="negative occurrence"),
        pytest.param(lambda: LinkClaim(True, "alice", LinkAction.DONE, EXPIRES), id="bool occurrence"),
        pytest.param(
            lambda: LinkClaim(MAX_OCCURRENCE + 1, "a", LinkAction.DONE, EXPIRES), id="occurrence > int64"
        ),
        pytest.param(lambda: LinkClaim(1, "x" * 257, LinkAction.DONE, EXPIRES), id="person over 256 bytes"),
        pytest.param(
            lambda: LinkClaim(1, "é" * 129, LinkAction.DONE, EXPIRES), id="person over 256 utf-8 bytes"
        ),
        pytest.param(lambda: LinkClaim(1, "\udc80", LinkAction.DONE, EXPIRES), id="person a lone surrogate"),
        pytest.param(lambda: LinkClaim(1, "a", "delete", EXPIRES), id="unknown action"),  # type: ignore[arg-type]
        pytest.param(lambda: LinkClaim(1, "a", LinkAction.DONE, datetime(2026, 11, 25)), id="naive expiry"),
        pytest.param(
            lambda: LinkClaim(1, "a", LinkAction.DONE, EXPIRES.replace(microsecond=5)), id="sub-second expiry"
        ),
    ],
)
def test_a_claim_that_cannot_be_signed_faithfully_is_refused(make: Callable[[], LinkClaim]) -> None:
    with pytest.raises(ValueError, match=r"^[a-z]"):
        make()


def test_claim_expiry_is_normalised_to_utc() -> None:
    berlin = datetime(2026, 11, 25, 16, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    claim = LinkClaim(1, "a", LinkAction.DONE, berlin)
    assert claim.expires.tzinfo is UTC
    assert claim.expires == EXPIRES
    assert verify(sign(claim, KEY), KEY, now=NOW).expires.tzinfo is UTC


@pytest.mark.parametrize("key", [b"", b"k" * 31], ids=["empty key", "31-byte key"])
def test_short_keys_are_refused_by_sign_and_verify(key: bytes) -> None:
    with pytest.raises(ValueError, match="link key is too short"):
        sign(CLAIM, key)
    with pytest.raises(ValueError, match="link key is too short"):
        verify(VALID, key, now=NOW)


def test_verify_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        verify(VALID, KEY, now=datetime(2026, 11, 24, 20, 30))


@pytest.mark.parametrize(
    ("period_end", "grace", "expected"),
    [
        pytest.param(
            datetime(2026, 11, 25, 3, 0, tzinfo=ZoneInfo("Europe/Berlin")),
            timedelta(hours=12),
            datetime(2026, 11, 25, 14, 0, tzinfo=UTC),
            id="daily period closing 03:00 Berlin, default grace",
        ),
        pytest.param(
            datetime(2026, 3, 29, 3, 0, tzinfo=ZoneInfo("Europe/Berlin")),
            timedelta(hours=12),
            datetime(2026, 3, 29, 13, 0, tzinfo=UTC),
            id="period closing on the spring-forward day",
        ),
        pytest.param(
            datetime(2026, 11, 30, 0, 0, tzinfo=UTC),
            timedelta(0),
            datetime(2026, 11, 30, 0, 0, tzinfo=UTC),
            id="no grace",
        ),
        pytest.param(
            datetime(2026, 11, 30, 0, 0, tzinfo=UTC),
            timedelta(days=2),
            datetime(2026, 12, 2, 0, 0, tzinfo=UTC),
            id="two days of grace",
        ),
        pytest.param(
            datetime(2026, 11, 30, 0, 0, 0, 1, tzinfo=UTC),
            timedelta(0),
            datetime(2026, 11, 30, 0, 0, 1, tzinfo=UTC),
            id="sub-second end rounds up, never early",
        ),
    ],
)
def test_expiry_for(period_end: datetime, grace: timedelta, expected: datetime) -> None:
    expires = expiry_for(period_end, grace)
    assert expires == expected
    assert expires.tzinfo is UTC
    assert expires.microsecond == 0
    LinkClaim(1, "a", LinkAction.DONE, expires)  # always signable


def test_expiry_for_default_grace_is_twelve_hours() -> None:
    assert expiry_for(EXPIRES) == EXPIRES + timedelta(hours=12)


@pytest.mark.parametrize(
    ("period_end", "grace"),
    [
        pytest.param(datetime(2026, 11, 30), timedelta(hours=12), id="naive period end"),
        pytest.param(EXPIRES, timedelta(seconds=-1), id="negative grace"),
    ],
)
def test_expiry_for_refuses(period_end: datetime, grace: timedelta) -> None:
    with pytest.raises(ValueError, match=r"^[a-z]"):
        expiry_for(period_end, grace)


def test_key_fingerprint_names_a_key_without_revealing_it() -> None:
    fingerprint = key_fingerprint(KEY)
    assert fingerprint == hashlib.sha256(KEY).hexdigest()[:8]
    assert len(fingerprint) == 8
    assert int(fingerprint, 16) >= 0
    assert key_fingerprint(OTHER_KEY) != fingerprint
    assert fingerprint not in KEY.hex()


# -- the key file -----------------------------------------------------------------------------------


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_file_is_created_private_and_read_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "state" / "link.key"
    key = load_or_create_key(path)
    assert len(key) == 32
    assert mode_of(path) == 0o600
    assert mode_of(path.parent) == 0o700
    assert path.read_text() == b64(key) + "\n"
    assert load_or_create_key(path) == key
    assert [entry.name for entry in tmp_path.joinpath("state").iterdir()] == [
        "link.key"
    ]  # no temp files left
    assert b64(key) not in caplog.text
    assert key.hex() not in caplog.text


def test_two_new_key_files_differ(tmp_path: Path) -> None:
    assert load_or_create_key(tmp_path / "a.key") != load_or_create_key(tmp_path / "b.key")


def test_an_existing_parent_directory_keeps_its_mode(tmp_path: Path) -> None:
    tmp_path.joinpath("etc").mkdir(mode=0o755)
    tmp_path.joinpath("etc").chmod(0o755)
    load_or_create_key(tmp_path / "etc" / "link.key")
    assert mode_of(tmp_path / "etc") == 0o755


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            base64.b64encode(bytes(range(200, 240))).decode() + "\n", id="standard base64, openssl style"
        ),
        pytest.param(b64(bytes(range(200, 240))), id="base64url without padding or newline"),
        pytest.param("  " + b64(bytes(range(200, 240))) + "\n\n", id="surrounding whitespace"),
    ],
)
def test_existing_key_file_is_read_not_replaced(tmp_path: Path, text: str) -> None:
    path = tmp_path / "link.key"
    path.write_text(text)
    path.chmod(0o600)
    assert load_or_create_key(path) == bytes(range(200, 240))
    assert path.read_text() == text


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        pytest.param(
            b64(b"k" * 16).encode() + b"\n",
            "holds a 16-byte key; at least 32 bytes are needed",
            id="too short",
        ),
        pytest.param(
            b64(b"k" * 31).encode(), "holds a 31-byte key; at least 32 bytes are needed", id="one byte short"
        ),
        pytest.param(b"", "does not hold one line of base64 text", id="empty"),
        pytest.param(bytes(range(256)), "does not hold one line of base64 text", id="raw binary"),
        pytest.param(b"not base64 at all!\n", "does not hold one line of base64 text", id="prose"),
        pytest.param(b"abcd\nefgh\n", "does not hold one line of base64 text", id="two lines"),
        pytest.param(b"abcde", "does not hold one line of base64 text", id="impossible base64 length"),
    ],
)
def test_unusable_key_file_is_refused_by_name(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "link.key"
    path.write_bytes(content)
    with pytest.raises(LinkKeyError) as refused:
        load_or_create_key(path)
    assert str(refused.value) == f"key file '{path}' {problem}"
    assert path.read_bytes() == content  # never replaced: links already sent depend on it


def test_key_file_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "link.key"
    path.mkdir()
    with pytest.raises(LinkKeyError) as refused:
        load_or_create_key(path)
    assert str(refused.value) == f"key file '{path}' is a directory, not a file"
    assert isinstance(refused.value, RitualError)


def test_key_file_that_is_a_dangling_link_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "link.key"
    path.symlink_to(tmp_path / "nowhere")
    with pytest.raises(LinkKeyError, match="dangling symbolic link"):
        load_or_create_key(path)
    assert not (tmp_path / "nowhere").exists()


def test_key_file_behind_a_symlink_is_read(tmp_path: Path) -> None:
    """Container secrets are often mounted as symbolic links."""
    real = tmp_path / "secret"
    real.write_text(b64(KEY))
    (tmp_path / "link.key").symlink_to(real)
    assert load_or_create_key(tmp_path / "link.key") == KEY


def test_key_file_whose_parent_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("")
    path = tmp_path / "state" / "link.key"
    with pytest.raises(LinkKeyError) as refused:
        load_or_create_key(path)
    assert str(refused.value) == f"cannot read key file '{path}': Not a directory"


def test_key_file_that_cannot_be_written_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "open", disk_full)
    path = tmp_path / "link.key"
    with pytest.raises(LinkKeyError) as refused:
        load_or_create_key(path)
    assert str(refused.value) == f"cannot create key file '{path}': No space left on device"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_key_file_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "link.key"
    path.write_text(b64(KEY))
    path.chmod(0)
    with pytest.raises(LinkKeyError, match=f"^cannot read key file '{path}': "):
        load_or_create_key(path)


def test_racing_creators_agree_on_the_first_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "link.key"
    theirs = bytes(range(50, 82))
    real_link = os.link

    def another_process_wins(source: Path, target: Path) -> None:
        Path(target).write_text(b64(theirs) + "\n")
        real_link(source, target)

    monkeypatch.setattr(os, "link", another_process_wins)
    assert load_or_create_key(path) == theirs
    assert [entry.name for entry in tmp_path.iterdir()] == ["link.key"]


def test_without_hard_links_the_key_is_created_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsupported(source: Path, target: Path) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", unsupported)
    path = tmp_path / "link.key"
    key = load_or_create_key(path)
    assert mode_of(path) == 0o600
    assert path.read_text() == b64(key) + "\n"
    assert [entry.name for entry in tmp_path.iterdir()] == ["link.key"]


def test_a_created_key_signs_links_another_load_verifies(tmp_path: Path) -> None:
    path = tmp_path / "link.key"
    token = sign(CLAIM, load_or_create_key(path))
    assert verify(token, load_or_create_key(path), now=NOW) == CLAIM


# -- properties ---------------------------------------------------------------------------------

claims = st.builds(
    LinkClaim,
    occurrence=st.integers(min_value=0, max_value=MAX_OCCURRENCE),
    person=st.text(max_size=64),
    action=st.sampled_from(LinkAction),
    expires=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ).map(lambda moment: moment.replace(microsecond=0)),
)


@given(claim=claims)
def test_sign_then_verify_round_trips(claim: LinkClaim) -> None:
    token = sign(claim, KEY)
    assert len(token) <= MAX_TOKEN_LENGTH
    just_before = claim.expires - timedelta(seconds=1)
    verified = verify(
        token, KEY, now=just_before, occurrence=claim.occurrence, person=claim.person, action=claim.action
    )
    assert verified == claim
    with pytest.raises(LinkError):
        verify(token, KEY, now=claim.expires)


@given(claim=claims, data=st.data())
def test_any_single_character_change_is_refused(claim: LinkClaim, data: st.DataObject) -> None:
    token = sign(claim, KEY)
    index = data.draw(st.integers(min_value=0, max_value=len(token) - 1), label="index")
    replacement = data.draw(
        st.sampled_from(B64URL + ".=+/ %é").filter(lambda char: char != token[index]), label="replacement"
    )
    changed = token[:index] + replacement + token[index + 1 :]
    with pytest.raises(LinkError) as refused:
        verify(changed, KEY, now=claim.expires - timedelta(seconds=1))
    assert refused.value.reason in {LinkFailure.MALFORMED, LinkFailure.TAMPERED}
    assert_safe_message(refused.value, changed)


def test_every_single_character_change_of_one_token_is_refused() -> None:
    """Exhaustive over one token, so the rare spare-bit twins of base64 are certainly tried."""
    accepted = []
    for index, original in enumerate(VALID):
        for replacement in B64URL + ".=+/ %é":
            if replacement == original:
                continue
            changed = VALID[:index] + replacement + VALID[index + 1 :]
            try:
                verify(changed, KEY, now=NOW)
            except LinkError:
                continue
            accepted.append((index, replacement))
    assert accepted == []


@given(text=st.text(max_size=200))
def test_arbitrary_text_is_refused_with_a_link_error_only(text: str) -> None:
    with pytest.raises(LinkError) as refused:
        verify(text, KEY, now=NOW)
    assert refused.value.reason in {LinkFailure.MALFORMED, LinkFailure.TAMPERED}
    message = str(refused.value)
    assert "\n" not in message
    assert len(text) < 12 or text not in message
