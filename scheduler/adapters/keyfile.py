"""The link-signing key on disk: read it, or create it once, privately and atomically.

The key file holds the key as one line of base64 text (base64url or standard, padding
optional, so ``openssl rand -base64 32`` output works); raw binary files are refused.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
from pathlib import Path

from scheduler.domain.errors import RitualError
from scheduler.domain.links import MIN_KEY_BYTES, NEW_KEY_BYTES

_B64_ANY = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=")


class LinkKeyError(RitualError):
    """The link key file cannot be used; the message names the file, never the key."""


def load_or_create_key(path: Path) -> bytes:
    """Read the link key from `path`, or create it (32 random bytes, mode 0600) if there is none.

    Creation is atomic: the key is written to a private temporary file and hard-linked into
    place, so a crash never leaves a half-written key and two racing starts agree on one key.
    """
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    created = _create_key(path)
    if created is not None:
        return created
    try:  # another process created it first: use theirs
        return _read_key(path)
    except FileNotFoundError:
        raise LinkKeyError(f"key file '{path}' is a dangling symbolic link") from None


def _read_key(path: Path) -> bytes:
    """The key in an existing file; FileNotFoundError when there is none yet."""
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise LinkKeyError(f"key file '{path}' is a directory, not a file")
        if not stat.S_ISREG(mode):
            raise LinkKeyError(f"key file '{path}' is not a regular file")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as error:
        raise LinkKeyError(f"cannot read key file '{path}': {error.strerror or error}") from None
    key = _decode_key_text(raw)
    if key is None:
        raise LinkKeyError(f"key file '{path}' does not hold one line of base64 text")
    if len(key) < MIN_KEY_BYTES:
        raise LinkKeyError(
            f"key file '{path}' holds a {len(key)}-byte key; at least {MIN_KEY_BYTES} bytes are needed"
        )
    return key


def _decode_key_text(raw: bytes) -> bytes | None:
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    if not text or not _B64_ANY.issuperset(text):
        return None
    text = text.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        return None


def _create_key(path: Path) -> bytes | None:
    """Write a fresh key to `path`; None if another process got there first."""
    key = secrets.token_bytes(NEW_KEY_BYTES)
    content = (_b64encode(key) + "\n").encode("ascii")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        _write_private(temporary, content)
        try:
            os.link(temporary, path)
        except FileExistsError:
            return None
        except OSError:  # a file system without hard links: exclusive create in place
            try:
                _write_private(path, content)
            except FileExistsError:
                return None
        finally:
            temporary.unlink(missing_ok=True)
        _sync_directory(path.parent)
    except OSError as error:
        raise LinkKeyError(f"cannot create key file '{path}': {error.strerror or error}") from None
    return key


def _write_private(path: Path, content: bytes) -> None:
    """Create `path` (it must not exist) readable by its owner only, and make the content durable."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(descriptor, view) :]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sync_directory(directory: Path) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
