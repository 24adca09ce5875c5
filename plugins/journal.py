"""Append one line per nudge to a file: ``journal:///var/lib/ritual/nudges.log``.

A record of every nudge sent, for people who keep a journal or want a plain audit trail
(``tail -f`` it). Each line is ``<UTC time>\\t<title>\\t<body>`` with the body's line breaks
shown as `` / ``. ``journal://~/nudges.log`` writes under the home directory of the user the
daemon runs as. The folder must exist; the file is created on the first nudge.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from apprise.decorators import notify

log = logging.getLogger("apprise")


def journal_path(meta: dict[str, Any]) -> Path | None:
    """The file a ``journal://`` URL names.

    Apprise reads ``journal:///var/log/x`` as host ``var`` and path ``/log/x``, so the two are
    joined again; ``~`` as the host means the home directory.
    """
    host = meta.get("host") or ""
    rest = unquote(meta.get("fullpath") or "")
    if not host and not rest.strip("/"):
        return None
    if host == "~":
        return Path.home() / rest.lstrip("/")
    return Path("/" + unquote(host) + rest)


@notify(on="journal", name="Journal file")
def journal(body: str, title: str, notify_type: str, meta: dict[str, Any], *args: Any, **kwargs: Any) -> bool:
    path = journal_path(meta)
    if path is None:
        log.warning("permanent: journal:// needs a file, e.g. journal:///var/lib/ritual/nudges.log")
        return False
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    text = " / ".join(part.strip() for part in body.splitlines() if part.strip())
    line = f"{stamp}\t{title.strip()}\t{text}\n"
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as exc:
        # Retrying cannot create a folder or grant a permission: say so, once.
        log.warning("permanent: cannot append to %s: %s", path, exc.strerror or exc.__class__.__name__)
        return False
    except OSError as exc:  # a full disk may clear up: worth a retry
        log.warning("cannot append to %s: %s", path, exc.strerror or exc.__class__.__name__)
        return False
    return True
