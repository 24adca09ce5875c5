"""Desktop notifications through ``notify-send``: ``desktop://`` (or ``desktop://?urgency=critical``).

For a household computer where the daemon runs in the user's session (the user unit of
``systemd/``): the nudge pops up on the desktop. ``notify-send`` comes with libnotify
(``apt install libnotify-bin``, ``dnf install libnotify``). A daemon running as a system service
has no desktop session to talk to; use ntfy or e-mail there.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from typing import Any

from apprise.decorators import notify

log = logging.getLogger("apprise")

URGENCIES = ("low", "normal", "critical")
SEND_TIMEOUT = 10.0  # seconds; notify-send answers at once unless the session bus hangs


@notify(on="desktop", name="Desktop (notify-send)")
def desktop(body: str, title: str, notify_type: str, meta: dict[str, Any], *args: Any, **kwargs: Any) -> bool:
    program = shutil.which("notify-send")
    if program is None:
        log.warning("permanent: notify-send is not installed (apt install libnotify-bin)")
        return False
    urgency = str((meta.get("qsd") or {}).get("urgency", "normal")).lower()
    if urgency not in URGENCIES:
        log.warning(
            "permanent: desktop:// urgency must be one of %s, not '%s'", ", ".join(URGENCIES), urgency
        )
        return False
    command = [program, f"--urgency={urgency}", "--app-name=ritual", title or "Ritual", body]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=SEND_TIMEOUT)
    except subprocess.CalledProcessError as exc:
        # Usually no session bus (DBUS_SESSION_BUS_ADDRESS unset); it may come back with the session.
        reason = " ".join((exc.stderr or "").split()) or f"exit status {exc.returncode}"
        log.warning("notify-send failed: %s", reason)
        return False
    except subprocess.TimeoutExpired:
        log.warning("notify-send did not answer within %g s", SEND_TIMEOUT)
        return False
    return True
