"""Wiring: the adapters and the use cases put together from the settings.

The CLI and the daemon build what they need here, so the use cases never read settings
and no adapter builds another.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from scheduler.adapters.keyfile import LinkKeyError, load_or_create_key
from scheduler.adapters.notify import Channels, find_config_file, load_channels
from scheduler.app.compose import LinkMaker
from scheduler.app.nudging import DigestPlan, Nudger
from scheduler.app.outbox import ChannelOutbox
from scheduler.app.ports import Clock
from scheduler.app.service import RitualService
from scheduler.domain.reminders import parse_duration
from scheduler.settings import Settings

log = logging.getLogger(__name__)

# The example plugins of plugins/: beside the package in a checkout, inside it once installed.
_CHECKOUT_PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
SHIPPED_PLUGINS = (
    _CHECKOUT_PLUGINS if _CHECKOUT_PLUGINS.is_dir() else Path(__file__).parent / "shipped_plugins"
)


def open_service(settings: Settings, clock: Clock) -> RitualService:
    """The service on the database the settings name (migrated to the current schema first)."""
    from scheduler.adapters.store import SqlStore

    return RitualService(
        SqlStore.open(settings.database),
        clock,
        ritual_file=settings.ritual_file_path,
        default_timezone=settings.default_timezone,
    )


def load_household_channels(settings: Settings, *, strict: bool) -> Channels:
    """Every channel the settings, the Apprise config and systemd credentials describe."""
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    folders = [SHIPPED_PLUGINS] if SHIPPED_PLUGINS.is_dir() else []
    return load_channels(
        config_file=settings.apprise_config or find_config_file(settings.config_dir),
        urls=settings.people,
        plugin_paths=[*folders, *settings.plugin_folders],
        credentials_dir=Path(credentials) if credentials else None,
        strict=strict,
    )


def make_links(settings: Settings) -> LinkMaker | None:
    """The link signer for nudges, or None (no links) when there is nowhere serving them or no key."""
    if settings.http_address is None and settings.public_url is None:
        return None
    try:
        key = load_or_create_key(settings.link_key_path)
    except LinkKeyError as exc:
        log.error("nudges go out without Done/Snooze links: %s", exc)
        return None
    return LinkMaker(
        key=key,
        base=settings.link_base,
        grace=parse_duration(settings.link_grace),
        max_snoozes=settings.max_snoozes,
    )


def make_nudger(settings: Settings, service: RitualService) -> Nudger:
    """The daemon's nudge path, wired to the channels the settings describe."""
    channels = load_household_channels(settings, strict=False)
    for problem in channels.problems:
        log.error("channel problem: %s", problem)
    outbox = ChannelOutbox(
        service,
        channels,
        service.clock,
        timeout=settings.send_timeout,
        max_attempts=settings.max_attempts,
        max_age=parse_duration(settings.max_age),
        discreet=settings.discreet,
        links=make_links(settings),
    )
    digest = None
    if settings.digest_on != "off":
        digest = DigestPlan.weekly(
            settings.digest_on, settings.digest_at, settings.default_timezone, settings.digest_to
        )
    return Nudger(
        service,
        outbox,
        service.clock,
        digest=digest,
        snooze=parse_duration(settings.snooze),
        max_snoozes=settings.max_snoozes,
    )
