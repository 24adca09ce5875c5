"""Settings: built once at the edge (the CLI) and handed down; never a mutable global.

Where a value comes from, strongest first: ``RITUAL_*`` environment variables,
a ``.env`` file in the config dir, ``settings.toml`` in the config dir, then
the defaults below. The config dir itself can only come from the environment
(``RITUAL_CONFIG_DIR``), because it says where the files are.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from scheduler.domain.errors import SettingsError

if TYPE_CHECKING:
    from scheduler.domain.people import Household

ENV_PREFIX = "RITUAL_"
SETTINGS_FILE = "settings.toml"
RITUALS_FILE = "rituals.toml"


def default_config_dir(environ: Mapping[str, str]) -> Path:
    if value := environ.get("RITUAL_CONFIG_DIR"):
        return Path(value).expanduser()
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", "~")) / ".config")
    return Path(base).expanduser() / "ritual"


def default_data_dir(environ: Mapping[str, str]) -> Path:
    # systemd's StateDirectory= hands the service its private, writable directory.
    if value := environ.get("STATE_DIRECTORY"):
        return Path(value.split(":")[0])
    base = environ.get("XDG_DATA_HOME") or str(Path(environ.get("HOME", "~")) / ".local" / "share")
    return Path(base).expanduser() / "ritual"


def system_timezone(environ: Mapping[str, str]) -> str:
    """The machine's IANA zone name, so rituals without one follow the household's clock."""
    candidates = []
    if tz := environ.get("TZ", "").lstrip(":"):
        candidates.append(tz)
    try:
        target = str(Path("/etc/localtime").resolve())
    except OSError:
        target = ""
    if "zoneinfo/" in target:
        candidates.append(target.split("zoneinfo/", 1)[1])
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    for name in candidates:
        if is_timezone(name):
            return name
    return "UTC"


def is_timezone(name: str) -> bool:
    if not name or name.startswith("/") or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


class PersonSettings(BaseModel):
    """One ``[people.NAME]`` table."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", description="How pages and nudges name them, e.g. Alex.")
    channels: list[SecretStr] = Field(
        default_factory=list, description="Apprise URLs, or tags of the Apprise config file."
    )
    timezone: str | None = Field(default=None, description="Their zone, for their quiet hours.")
    quiet_hours: str | None = Field(default=None, description='No nudges to them then, e.g. "22:00-07:00".')

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and not is_timezone(value):
            raise ValueError(f"unknown time zone '{value}'")
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        if value is not None:
            from scheduler.domain.definitions import parse_quiet_hours

            parse_quiet_hours(value)
        return value


MQTT_URL = re.compile(
    r"(?P<scheme>mqtts?)://(?:(?P<user>[^:@/]*)(?::(?P<password>[^@/]*))?@)?(?P<host>[^:@/]+)(?::(?P<port>\d+))?/?"
)


class HomeAssistantSettings(BaseModel):
    """The ``[home_assistant]`` table: the broker Home Assistant listens to, and where."""

    model_config = ConfigDict(extra="forbid")

    mqtt: SecretStr = Field(description='The broker, e.g. "mqtt://user:pass@host:1883" (a secret).')
    discovery_prefix: str = Field(default="homeassistant", description="Home Assistant's discovery prefix.")
    node_id: str = Field(
        default="ritual_scheduler", description="Names this household's topics and entities."
    )

    @field_validator("mqtt")
    @classmethod
    def _broker(cls, value: SecretStr) -> SecretStr:
        match = MQTT_URL.fullmatch(value.get_secret_value().strip())
        if match is None or (match["port"] is not None and not 0 < int(match["port"]) < 65536):
            # never echoed: the URL may carry a password
            raise ValueError("must be mqtt://USER:PASSWORD@HOST:PORT (or mqtts://)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("discovery_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        value = value.strip().strip("/")
        if not value or any(c in value for c in "+#\0") or any(c.isspace() for c in value):
            raise ValueError(f"'{value}' is not an MQTT topic prefix (no spaces, + or #)")
        return value

    @field_validator("node_id")
    @classmethod
    def _node(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", value):
            raise ValueError(f"'{value}' may hold only letters, digits, _ and -")
        return value

    @property
    def broker(self) -> tuple[str, int, str | None, str | None, bool]:
        """(host, port, user, password, tls) of the broker."""
        match = MQTT_URL.fullmatch(self.mqtt.get_secret_value())
        assert match is not None
        tls = match["scheme"] == "mqtts"
        port = int(match["port"]) if match["port"] else (8883 if tls else 1883)
        from urllib.parse import unquote

        user = unquote(match["user"]) if match["user"] else None
        password = unquote(match["password"]) if match["password"] is not None else None
        return match["host"], port, user, password, tls

    @property
    def masked(self) -> str:
        """The broker by its scheme, host and port only, for messages (the URL may hold a password)."""
        host, port, _user, _password, tls = self.broker
        return f"{'mqtts' if tls else 'mqtt'}://{host}:{port}"


class Settings(BaseSettings):
    """Everything a command or the daemon may be configured with."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True, env_file_encoding="utf-8"
    )

    config_dir: Path = Field(description="Folder of settings.toml, rituals.toml and plugins.")
    data_dir: Path = Field(description="Folder of the SQLite database and the daemon's state.")
    database_url: SecretStr | None = Field(
        default=None, description="SQLAlchemy URL; default: a SQLite file in data_dir."
    )
    rituals_file: Path | None = Field(default=None, description="Default: config_dir/rituals.toml.")
    timezone: str | None = Field(
        default=None, description="Zone for rituals that name none; default: the system's."
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    # Nudges --------------------------------------------------------------------------
    people: dict[str, PersonSettings | list[SecretStr]] = Field(
        default_factory=dict,
        description="The household: [people.NAME] tables (name, channels, timezone, quiet_hours), or "
        "NAME = [Apprise URLs]. URLs carry tokens: prefer an Apprise config file and tags.",
    )
    me: str | None = Field(
        default=None,
        description="The person this machine's `ritual done` records as (RITUAL_PERSON wins).",
    )
    apprise_config: Path | None = Field(
        default=None,
        description="Apprise config (text or YAML). Default: apprise.yml or apprise.txt in config_dir, "
        "or apprise.yml in systemd's $CREDENTIALS_DIRECTORY.",
    )
    plugin_paths: list[Path] = Field(
        default_factory=list,
        description="Extra folders of Apprise plugin files (config_dir/plugins is read too).",
    )
    discreet: bool = Field(default=False, description="Lock-screen-safe nudges for every ritual.")
    send_timeout: float = Field(default=15.0, gt=0, le=300, description="Seconds one channel may take.")
    send_workers: int | None = Field(
        default=None,
        ge=0,
        le=32,
        description="Processes that share a burst of sends; default: one per core, started with the "
        "daemon from 100 stored rituals (with a channel), else by the first burst of 32 sends; 0: never.",
    )
    max_attempts: int = Field(default=8, ge=1, le=100, description="Tries before a delivery is given up.")
    max_age: str = Field(default="1d", description="How long a failing delivery is retried, e.g. 6h.")

    home_assistant: HomeAssistantSettings | None = Field(
        default=None,
        description="[home_assistant] mqtt, discovery_prefix, node_id: entities through MQTT discovery.",
    )

    # One-tap links, the API and the today page ------------------------------------------
    http_bind: str = Field(
        default="127.0.0.1:8470",
        description="HOST:PORT the daemon serves links, the API and the today page on; 'off' for none.",
    )
    public_url: str | None = Field(
        default=None,
        description="Base URL the links in nudges use (a LAN address or VPN name); default: http://http_bind.",
    )
    snooze: str = Field(default="30m", description="How long a Snooze waits before nudging again.")
    max_snoozes: int = Field(default=3, ge=0, le=20, description="Snoozes allowed per nudge.")
    link_grace: str = Field(default="12h", description="How long a link outlives the period it belongs to.")

    digest_on: str = Field(default="sun", description="Weekday the weekly digest goes out; 'off' for none.")
    digest_at: str = Field(default="18:00", description="Time of the weekly digest (household zone).")
    digest_to: list[str] = Field(default_factory=list, description="People or tags; default: everyone.")

    @field_validator("people")
    @classmethod
    def _people_keys(
        cls, value: dict[str, PersonSettings | list[SecretStr]]
    ) -> dict[str, PersonSettings | list[SecretStr]]:
        from scheduler.domain.people import person_key

        return {person_key(key): person for key, person in value.items()}

    @field_validator("me")
    @classmethod
    def _me(cls, value: str | None, info: ValidationInfo) -> str | None:
        me = None if value is None or not value.strip() else value.strip().lower()
        people = info.data.get("people") or {}
        if me is not None and people and me != "household" and me not in people:
            raise ValueError(f"unknown person '{me}' (the household: {', '.join(people)})")
        return me

    @field_validator("digest_on")
    @classmethod
    def _digest_day(cls, value: str) -> str:
        if value.strip().lower() == "off":
            return "off"
        from scheduler.domain.cadence import Every, parse_due_days

        parse_due_days(Every.WEEK, [value])
        return value.strip().lower()

    @field_validator("digest_at")
    @classmethod
    def _digest_time(cls, value: str) -> str:
        from scheduler.domain.reminders import parse_clock_time

        parse_clock_time(value)
        return value

    @field_validator("max_age", "snooze", "link_grace")
    @classmethod
    def _duration(cls, value: str) -> str:
        from scheduler.domain.reminders import parse_duration

        parse_duration(value)
        return value

    @field_validator("http_bind")
    @classmethod
    def _bind(cls, value: str) -> str:
        value = value.strip()
        if value.lower() == "off":
            return "off"
        split_bind(value)
        return value

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError(f"'{value}' is not an http:// or https:// base URL")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None and not is_timezone(value):
            raise ValueError(f"unknown time zone '{value}'")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init values, so it must rank below env and .env.
        return env_settings, dotenv_settings, init_settings, file_secret_settings

    @property
    def ritual_file_path(self) -> Path:
        return self.rituals_file or self.config_dir / RITUALS_FILE

    @property
    def settings_file_path(self) -> Path:
        return self.config_dir / SETTINGS_FILE

    @property
    def database(self) -> str:
        """The database URL to connect to (a secret: never print it, see ``database_display``)."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.data_dir / 'ritual.db'}"

    @property
    def plugin_folders(self) -> list[Path]:
        return [*self.plugin_paths, self.config_dir / "plugins"]

    @property
    def link_key_path(self) -> Path:
        """The one-tap links' signing key: systemd's credential when given, else in the data dir."""
        if credentials := os.environ.get("CREDENTIALS_DIRECTORY"):
            candidate = Path(credentials) / "link-signing.key"
            if candidate.is_file():
                return candidate
        return self.data_dir / "link-signing.key"

    @property
    def lock_path(self) -> Path:
        """The one-daemon lock: beside the SQLite file (ritual.db -> ritual.lock), else in data_dir."""
        if self.database.startswith("sqlite:///"):
            return Path(self.database.removeprefix("sqlite:///")).with_suffix(".lock")
        return self.data_dir / "ritual.lock"

    @property
    def database_display(self) -> str:
        """The database with any password masked, for messages and `ritual status`."""
        if self.database.startswith("sqlite:///"):
            return self.database.removeprefix("sqlite:///")
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", self.database)

    @property
    def http_address(self) -> tuple[str, int] | None:
        """Where the daemon serves HTTP, or None when ``http_bind`` is off."""
        return None if self.http_bind == "off" else split_bind(self.http_bind)

    @property
    def link_base(self) -> str:
        """The start of every link a nudge carries (no trailing slash)."""
        if self.public_url:
            return self.public_url
        host, port = self.http_address or ("127.0.0.1", 8470)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    @property
    def default_timezone(self) -> str:
        return self.timezone or system_timezone(os.environ)

    @property
    def household(self) -> Household:
        """The people of ``[people]``, in the order written."""
        from scheduler.domain.definitions import parse_quiet_hours
        from scheduler.domain.people import Household, Person

        people = []
        for key, entry in self.people.items():
            if isinstance(entry, PersonSettings):
                quiet = parse_quiet_hours(entry.quiet_hours) if entry.quiet_hours else None
                people.append(Person(key, entry.name.strip(), entry.timezone, quiet))
            else:
                people.append(Person(key))
        return Household(tuple(people))

    @property
    def person_urls(self) -> dict[str, list[SecretStr]]:
        """Each person's own Apprise URLs (their channels that are URLs, not tags)."""
        return {
            key: [url for url in _channels(entry) if "://" in url.get_secret_value()]
            for key, entry in self.people.items()
        }

    @property
    def person_tags(self) -> dict[str, list[str]]:
        """Each person's channels named by a tag of the Apprise config (``alex-phone``), not a URL."""
        return {
            key: [
                url.get_secret_value().strip().lower()
                for url in _channels(entry)
                if "://" not in url.get_secret_value()
            ]
            for key, entry in self.people.items()
        }

    @property
    def person(self) -> str | None:
        """Who `ritual done` records as when ``--by`` is not given: RITUAL_PERSON, else ``me``."""
        chosen = os.environ.get("RITUAL_PERSON", "").strip().lower()
        return chosen or self.me


def _channels(entry: PersonSettings | list[SecretStr]) -> list[SecretStr]:
    return entry.channels if isinstance(entry, PersonSettings) else entry


def _is_url(value: SecretStr) -> bool:
    return "://" in value.get_secret_value()


def split_bind(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8470`` for IPv6) as a pair; ValueError names what is wrong."""
    host, sep, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"'{value}' is not HOST:PORT (e.g. 127.0.0.1:8470)")
    return host, int(port)


def load_settings() -> Settings:
    """Build the settings from the process environment, ``.env`` and ``settings.toml``.

    Raises SettingsError with one line naming the option and where it was set.
    """
    env = os.environ
    config_dir = default_config_dir(env)
    settings_file = config_dir / SETTINGS_FILE
    from_file = _read_settings_file(settings_file)
    values: dict[str, Any] = {"config_dir": config_dir, "data_dir": default_data_dir(env)}
    values.update(from_file)
    env_file = config_dir / ".env"
    try:
        return Settings(_env_file=env_file if env_file.is_file() else None, **values)
    except ValidationError as exc:
        raise _settings_error(exc, settings_file, from_file, env) from None


def _read_settings_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read settings ({exc.__class__.__name__})") from None
    import tomllib  # only when there is a settings.toml: most commands start without one

    from scheduler.domain.definitions import MAX_TOML_NESTING, toml_too_deep

    if (deep := toml_too_deep(text)) is not None:
        raise SettingsError(f"{path}:{deep}: arrays or tables nested more than {MAX_TOML_NESTING} deep")
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise SettingsError(f"{path}: nested too deeply to read") from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column \d+\)", message)
        where = f"{path}:{match.group(1)}" if match else str(path)
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        raise SettingsError(f"{where}: not valid TOML: {reason}") from None
    known = set(Settings.model_fields) - {"config_dir"}
    for key in data:
        if key not in known:
            raise SettingsError(f"{path}:{_line_of(text, key)}: unknown setting '{key}'")
    return data


def _line_of(text: str, key: str) -> int:
    return _line_of_path(text, (key,))


def _line_of_path(text: str, path: Sequence[str]) -> int:
    """The line of ``a.b.c`` in a TOML text: ``c =`` under ``[a.b]``, else the nearest table or key
    that holds it, else 1."""
    lines = text.splitlines()

    def assigns(line: str, key: str) -> bool:
        return re.match(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=", line) is not None

    for depth in range(len(path) - 1, -1, -1):
        header = re.compile(rf"^\s*\[\s*{re.escape('.'.join(path[:depth]))}\s*\]") if depth else None
        start = 0
        if header is not None:
            found = [n for n, line in enumerate(lines) if header.match(line)]
            if not found:
                continue
            start = found[0] + 1
        for number in range(start, len(lines)):
            if number > start and lines[number].lstrip().startswith("[") and header is not None:
                break
            if header is None and lines[number].lstrip().startswith("["):
                break
            if assigns(lines[number], path[depth]):
                return number + 1
        if header is not None:
            return start
    return 1


def _settings_error(
    exc: ValidationError, settings_file: Path, from_file: Mapping[str, Any], env: Mapping[str, str]
) -> SettingsError:
    # A person is a table or a list of URLs: of the two branches' complaints, the one that got
    # deeper is about what was written.
    errors = sorted(exc.errors(), key=lambda e: -len(e["loc"]))
    error = errors[0]
    parts = [part for part in error["loc"] if not _is_branch(part)]
    path = [str(part) for part in parts if isinstance(part, str)]
    key = path[0] if path else "settings"
    message = str(error["msg"]).removeprefix("Value error, ")
    line_path = path or [key]
    if error["type"] == "extra_forbidden":
        message = f"unknown option '{path[-1]}'"
        if len(path) > 2 and path[-1] in Settings.model_fields:
            message += f" (TOML puts every key after [{'.'.join(path[:-1])}] in that table: move it above)"
        path = path[:-1]
    elif len(errors) > 1 and len(errors[1]["loc"]) == len(error["loc"]) and key == "people":
        message = "must be a [people.NAME] table or a list of Apprise URLs"
    dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts[: len(path) + 1])
    dotted = dotted.removeprefix(".") if path else key
    if error["type"] == "extra_forbidden":
        dotted = ".".join(path)
    env_name = f"{ENV_PREFIX}{key.upper()}"
    if env_name in env:
        where = env_name
    elif key in from_file:
        text = settings_file.read_text(encoding="utf-8")
        where = f"{settings_file}:{_line_of_path(text, line_path)}: {dotted}"
    else:
        where = dotted
    return SettingsError(f"{where}: {message}")


def _is_branch(part: object) -> bool:
    """Whether a part of a pydantic error's location names a union's branch, not a key."""
    return isinstance(part, str) and (part == PersonSettings.__name__ or "[" in part)
