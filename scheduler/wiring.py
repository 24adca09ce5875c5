"""Wiring: the adapters and the use cases put together from the settings.

The CLI and the daemon build what they need here, so the use cases never read settings
and no adapter builds another.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from scheduler.adapters.daemon import Daemon, LinkHooks, Running
from scheduler.adapters.instance import InstanceLock
from scheduler.adapters.keyfile import LinkKeyError, load_or_create_key
from scheduler.adapters.notify import Channels, find_config_file, load_channels
from scheduler.adapters.sdnotify import Notifier
from scheduler.adapters.store import SqlStore
from scheduler.app.compose import LinkMaker
from scheduler.app.nudging import DigestPlan, Nudger
from scheduler.app.outbox import ChannelOutbox
from scheduler.app.ports import Clock, Leadership, NoChanges
from scheduler.app.service import RitualService
from scheduler.domain.errors import RitualError
from scheduler.domain.reminders import parse_duration
from scheduler.settings import Settings
from scheduler.startup import prepare_sending, start_send_workers, stop_send_workers

if TYPE_CHECKING:
    from scheduler.adapters.mqtt import HomeAssistantBridge
    from scheduler.adapters.server import HttpServer

log = logging.getLogger(__name__)

# The example plugins of plugins/: beside the package in a checkout, inside it once installed.
_CHECKOUT_PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
SHIPPED_PLUGINS = (
    _CHECKOUT_PLUGINS if _CHECKOUT_PLUGINS.is_dir() else Path(__file__).parent / "shipped_plugins"
)


def open_store(settings: Settings) -> SqlStore:
    """The database the settings name, migrated to the current schema first (with the link key at
    hand for a migration that re-keys stored ids, read or created only if one needs it)."""
    return SqlStore.open(settings.database, link_key=lambda: load_or_create_key(settings.link_key_path))


def open_service(settings: Settings, clock: Clock) -> RitualService:
    """The service on the database the settings name (migrated to the current schema first)."""
    return RitualService(
        open_store(settings),
        clock,
        ritual_file=settings.ritual_file_path,
        default_timezone=settings.default_timezone,
        household=settings.household,
    )


def load_household_channels(settings: Settings, *, strict: bool) -> Channels:
    """Every channel the settings, the Apprise config and systemd credentials describe.

    Each channel's id in the outbox is keyed with the link key, so a key file that cannot be
    read or created is a LinkKeyError here, whatever ``strict`` says.
    """
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    folders = [SHIPPED_PLUGINS] if SHIPPED_PLUGINS.is_dir() else []
    return load_channels(
        config_file=settings.apprise_config or find_config_file(settings.config_dir),
        urls=settings.person_urls,
        person_tags=settings.person_tags,
        plugin_paths=[*folders, *settings.plugin_folders],
        credentials_dir=Path(credentials) if credentials else None,
        link_key=load_or_create_key(settings.link_key_path),
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
    prepare_sending()
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


class SettingsRuntime:
    """The daemon's world, built from the settings: what ``Daemon`` runs besides its timers.

    ``load_settings`` is asked again on every reload; ``make_nudger`` is the nudge path's
    factory (tests hand in one with a fake outbox).
    """

    def __init__(
        self,
        load_settings: Callable[[], Settings],
        *,
        clock: Clock,
        make_nudger: Callable[[Settings, RitualService], Nudger] = make_nudger,
    ) -> None:
        self._load_settings = load_settings
        self._clock = clock
        self._make_nudger = make_nudger
        self.settings = load_settings()
        self._lock: InstanceLock | None = None
        self._service: RitualService | None = None
        self._leadership: Leadership | None = None
        self._http: HttpServer | None = None
        self._http_base: str | None = None
        self._home: HomeAssistantBridge | None = None

    def start(self, hooks: LinkHooks) -> Running:
        from scheduler.adapters.store.leader import open_leadership

        settings = self.settings
        self._lock = InstanceLock(settings.lock_path)
        self._lock.acquire(self._clock.now())
        service = self._service = open_service(settings, self._clock)
        assert isinstance(service.store, SqlStore)
        self._leadership = open_leadership(settings.database, service.store)
        self._start_http(service, hooks)
        self.settings = self._with_link_base(settings)
        nudger = self._make_nudger(self.settings, service)
        sends = isinstance(nudger.outbox, ChannelOutbox) and len(nudger.outbox.channels) > 0
        start_send_workers(self.settings.send_workers, service.store.count_rituals() if sends else 0)
        return Running(
            service, self._leadership, nudger, self._http_base, self._home_changed, self._home_lead
        )

    def _home_lead(self, leading: bool) -> None:
        """Home Assistant through MQTT (when ``[home_assistant]`` is set): the leading daemon is the
        one client, and its service tells it of every write made here."""
        from scheduler.app.home import Home

        chosen, service = self.settings.home_assistant, self._service
        if not leading or chosen is None or service is None:
            self._stop_home()
            return
        if self._home is not None:
            return
        try:
            from scheduler.adapters.mqtt import Broker, HomeAssistantBridge
        except ImportError:
            log.error(
                "[home_assistant] needs paho-mqtt: pip install '.[mqtt]' in the checkout; nudging goes on"
            )
            return
        host, port, user, password, tls = chosen.broker
        self._home = HomeAssistantBridge(
            Home(service),
            Broker(host, port, user, password, tls, chosen.masked),
            discovery_prefix=chosen.discovery_prefix,
            node_id=chosen.node_id,
        )
        service.changes = self._home
        self._home.start()

    def _home_changed(self) -> None:
        if self._home is not None:
            self._home.changed()

    def _stop_home(self) -> None:
        home, self._home = self._home, None
        if home is not None:
            if self._service is not None:
                self._service.changes = NoChanges()
            home.stop()

    def _start_http(self, service: RitualService, hooks: LinkHooks) -> None:
        """Serve the links, the API and the today page (unless ``http_bind`` is off)."""
        from scheduler.adapters.server import HttpServer
        from scheduler.adapters.web import HideTokens, create_app

        settings = self.settings
        address = settings.http_address
        if address is None:
            return
        from scheduler.adapters.ics import ics_feed

        app = create_app(
            service,
            key=load_or_create_key(settings.link_key_path),
            clock=self._clock,
            public_url=settings.public_url or settings.link_base,
            snooze=hooks.snooze,
            done=hooks.done,
            calendar=ics_feed,
        )
        self._http = HttpServer(app, *address, access_filter=HideTokens())
        port = self._http.start()
        host = address[0] if address[0] not in ("0.0.0.0", "::") else "127.0.0.1"
        self._http_base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def _with_link_base(self, settings: Settings) -> Settings:
        """Links point at ``public_url``, else at where the server really listens (port 0 in tests)."""
        if settings.public_url or self._http_base is None:
            return settings
        return settings.model_copy(update={"public_url": self._http_base})

    def reload(self, running: Running) -> Nudger | None:
        try:
            settings = self._load_settings()
        except RitualError as exc:
            log.error("settings not reloaded, keeping the old ones: %s", exc)
            return None
        if settings.database != self.settings.database or settings.data_dir != self.settings.data_dir:
            log.warning("database or data_dir changed; restart the daemon to use them")
        running.service.ritual_file = settings.ritual_file_path
        running.service.default_timezone = settings.default_timezone
        running.service.household = settings.household
        if settings.http_bind != self.settings.http_bind:
            log.warning("http_bind changed; restart the daemon to listen there")
        if settings.home_assistant != self.settings.home_assistant:
            log.warning("[home_assistant] changed; restart the daemon to use it")
        self.settings = self._with_link_base(settings)
        try:
            return self._make_nudger(self.settings, running.service)
        except RitualError as exc:  # e.g. the link key file became unreadable
            log.error("channels not reloaded, keeping the old ones: %s", exc)
            return None

    def stop(self) -> None:
        stop_send_workers()
        self._stop_home()
        if self._http is not None:
            self._http.stop()
        if self._leadership is not None:
            self._leadership.close()
        if self._service is not None:
            self._service.store.close()
        if self._lock is not None:
            self._lock.release()


def make_daemon(
    load_settings: Callable[[], Settings],
    *,
    clock: Clock,
    systemd: Notifier,
    make_nudger: Callable[[Settings, RitualService], Nudger] = make_nudger,
) -> Daemon:
    """`ritual run`: the daemon on the world the settings describe."""
    return Daemon(
        SettingsRuntime(load_settings, clock=clock, make_nudger=make_nudger), clock=clock, systemd=systemd
    )
