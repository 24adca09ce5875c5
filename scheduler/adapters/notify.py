"""Nudges through Apprise: channels from settings and config files, drop-in plugins, concurrent sends.

The only module that imports Apprise; its plugin objects never leave it. Secrets: every URL and its
private parts are registered with a filter on Apprise's logger before Apprise reads them, so no
log line, error message or send result carries a password or token (see ``_SecretGuard``).

How a send's outcome is known: Apprise's notify answers with a status per service, not a reason.
While a send runs, the filter also hands every Apprise record of that call (found through a
context variable that Apprise copies into its worker threads) to the send, at DEBUG detail, and
lets only what the application's log level asks for through. The reason is read from those
lines: ``error=503`` for HTTP services, ``Socket Exception: (535, ...)`` for SMTP, the errno of a
refused connection, or a plugin's own ``permanent:`` marker. Limits: services that log no status
are judged transient, and the wording is Apprise's (pinned to 2.x).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import dataclasses
import functools
import hashlib
import importlib.metadata
import logging
import re
import sys
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import parse_qsl, quote, unquote, urlencode

from apprise import Apprise, AppriseAsset, AppriseConfig, AppriseResultStatus, NotificationManager
from pydantic import SecretStr

from scheduler.domain.errors import RitualError
from scheduler.domain.messages import Action, Message

ENTRY_POINT_GROUP = "ritual_scheduler.plugins"
CONFIG_FILE_NAMES = ("apprise.yml", "apprise.yaml", "apprise.txt")
# Schemes whose nudges carry the one-tap actions as buttons instead of links in the body.
BUTTON_SCHEMES = frozenset({"ntfy", "ntfys"})
NTFY_MAX_ACTIONS = 3
ALL = "all"  # Apprise's tag for every channel

_APPRISE_LOGGER = "apprise"
# Loggers outside Apprise that may print a request line with a token in its path.
_SCRUBBED_LOGGERS = ("urllib3.connectionpool",)
_MIN_SECRET = 4  # shorter values cannot be scrubbed without mangling ordinary words
_GRACE = 1.0  # seconds past Apprise's own deadline before the send is cancelled from outside
_MAX_ERROR = 240
_SECRET_KEYS = frozenset(
    {"pass", "password", "secret", "token", "key", "apikey", "api_key", "auth", "access_token", "webhook"}
)


@functools.cache
def _registry() -> Any:
    """Apprise's plugin registry (a singleton whose methods carry no types), its plugins loaded."""
    manager = cast(Any, NotificationManager)()
    with warnings.catch_warnings():
        # Apprise's e-mail plugin imports the stdlib's deprecated imghdr (for PGPy) while the
        # plugins load: Apprise's business, not a warning for our users or our tests.
        warnings.filterwarnings("ignore", message="'imghdr' is deprecated", category=DeprecationWarning)
        manager.load_modules()
    return manager


# --- errors ----------------------------------------------------------------------------------------


class ChannelConfigError(RitualError):
    """Channels or plugins cannot be loaded; ``problems`` holds one line per fault."""

    def __init__(self, problems: Sequence[str]) -> None:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}")
        self.problems = tuple(problems)


class UnknownRecipientError(RitualError):
    """A ritual notifies a person or tag that no channel carries."""

    def __init__(self, names: Sequence[str], known: Sequence[str]) -> None:
        listed = ", ".join(f"'{name}'" for name in names)
        hint = f"known: {', '.join(known)}" if known else "no channels are configured"
        noun = "person or tag" if len(names) == 1 else "people or tags"
        super().__init__(f"no channel for {noun} {listed} ({hint})")
        self.names = tuple(names)


# --- values ----------------------------------------------------------------------------------------


class SecretLike(Protocol):
    def get_secret_value(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Channel:
    """One configured target. ``url`` is the secret; ``masked`` and ``target`` are safe to show."""

    tags: tuple[str, ...]
    url: SecretStr = field(repr=False)
    masked: str
    target: str  # sha256 of the real URL: a stable id without the secret
    scheme: str
    service: str  # Apprise's service name, e.g. "ntfy"
    source: str  # where it was configured: "apprise.yml", "people.alice[0]"
    problem: str | None = None  # why it cannot send; its sends fail permanently
    _plugin: Any = field(default=None, repr=False, compare=False)

    @property
    def buttons(self) -> bool:
        """Whether actions arrive as buttons (ntfy) rather than links in the body."""
        return self.scheme in BUTTON_SCHEMES


@dataclass(frozen=True, slots=True)
class Channels:
    """Everything configured, with the problems found on the way (empty when loaded strictly)."""

    channels: tuple[Channel, ...] = ()
    problems: tuple[str, ...] = ()
    plugins: tuple[str, ...] = ()  # "journal (plugins/journal.py)"

    def __iter__(self) -> Iterator[Channel]:
        return iter(self.channels)

    def __len__(self) -> int:
        return len(self.channels)

    @property
    def names(self) -> tuple[str, ...]:
        """Every person and tag that some channel carries."""
        return tuple(sorted({tag for channel in self.channels for tag in channel.tags}))

    def select(self, names: Sequence[str]) -> list[Channel]:
        """The channels of these people/tags (a ritual's ``notify``), each once."""
        wanted = {name.strip().lower() for name in names}
        known = self.names
        unknown = sorted(wanted - set(known) - {ALL})
        if unknown:
            raise UnknownRecipientError(unknown, known)
        return [c for c in self.channels if ALL in wanted or wanted.intersection(c.tags)]


@dataclass(frozen=True, slots=True)
class SendResult:
    """One channel's outcome; ``error`` is one masked line, empty when ``ok``."""

    target: str
    masked_url: str
    ok: bool
    permanent: bool = False
    error: str = ""
    elapsed: float = 0.0
    http_status: int | None = None


# --- the secret guard ------------------------------------------------------------------------------


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
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record still must not leak
            message = str(record.msg)
        record.msg, record.args = self.scrub(message), None
        if record.name != _APPRISE_LOGGER:
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
                logger = logging.getLogger(_APPRISE_LOGGER)
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
                logging.getLogger(_APPRISE_LOGGER).setLevel(self._saved_level)
                self._floor = None


_GUARD = _SecretGuard()


def _install_guard() -> None:
    for name in (_APPRISE_LOGGER, *_SCRUBBED_LOGGERS):
        logger = logging.getLogger(name)
        if _GUARD not in logger.filters:
            logger.addFilter(_GUARD)


def scrub(text: str) -> str:
    """``text`` with every secret of every loaded channel replaced by ``****``."""
    return _GUARD.scrub(text)


# --- loading ---------------------------------------------------------------------------------------


def find_config_file(folder: Path) -> Path | None:
    """The Apprise config file in ``folder`` (``apprise.yml``, ``apprise.yaml`` or ``apprise.txt``)."""
    for name in CONFIG_FILE_NAMES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def load_channels(
    *,
    config_file: Path | None,
    urls: Mapping[str, Sequence[str | SecretLike]],
    plugin_paths: Sequence[Path],
    credentials_dir: Path | None,
    strict: bool = True,
    urls_source: str = "people",
    entry_point_group: str = ENTRY_POINT_GROUP,
) -> Channels:
    """Load plugins, then channels from the config file, systemd credentials and settings.

    ``urls`` maps a person or tag to Apprise URLs. With ``strict`` any problem raises
    ChannelConfigError; otherwise problems are returned beside the channels, and a broken URL
    whose people are known becomes a channel whose sends fail permanently with that problem.
    """
    _install_guard()
    _registry()
    plugins, problems = _load_plugins(plugin_paths, entry_point_group)
    loader = _Loader()
    credentials = find_config_file(credentials_dir) if credentials_dir else None
    for path in _distinct(config_file, credentials):
        loader.config_file(path)
    for name, values in urls.items():
        for index, value in enumerate(values):
            raw = value if isinstance(value, str) else value.get_secret_value()
            loader.url(raw.strip(), tags=(name.strip().lower(),), source=f"{urls_source}.{name}[{index}]")
    problems = list(dict.fromkeys([*problems, *loader.problems]))
    if strict and problems:
        raise ChannelConfigError(problems)
    return Channels(_merged(loader.channels), tuple(problems), tuple(plugins))


def _distinct(*paths: Path | None) -> list[Path]:
    """The config files to read, each once (the setting may already name the credential)."""
    seen: dict[Path, Path] = {}
    for path in paths:
        if path is not None:
            seen.setdefault(path.resolve(), path)
    return list(seen.values())


def _merged(channels: Iterable[Channel]) -> tuple[Channel, ...]:
    """One channel per target, carrying the tags of every place that names it."""
    by_target: dict[str, Channel] = {}
    for channel in channels:
        first = by_target.setdefault(channel.target, channel)
        if first is not channel:
            by_target[channel.target] = dataclasses.replace(
                first, tags=tuple(sorted({*first.tags, *channel.tags}))
            )
    return tuple(by_target.values())


# Plugins ------------------------------------------------------------------------------------------

_LOADED_RE = re.compile(r"^Loaded custom notification: (?P<scheme>[^:]+)://")
_IMPORT_FAILED_RE = re.compile(r"^Module exception raised from .* \(name=[^)]*\) (?P<reason>.*)$", re.S)
_TAKEN_RE = re.compile(r"^The schema \((?P<scheme>[^)]*?)(?:://)?\) is already defined")
_entry_point_schemes: dict[str, tuple[str, ...]] = {}


def _load_plugins(paths: Sequence[Path], group: str) -> tuple[list[str], list[str]]:
    """Import every plugin file and entry point; returns (loaded plugins, problems)."""
    loaded: list[str] = []
    problems: list[str] = []
    for folder in paths:
        if folder.is_file():
            files = [folder]
        elif folder.is_dir():
            files = sorted(p for p in folder.glob("*.py") if not p.name.startswith((".", "_")))
        else:
            continue  # an optional folder (the config dir's plugins/) that does not exist
        for file in files:
            schemes, problem = _load_plugin_file(file)
            loaded.extend(f"{scheme} ({file})" for scheme in schemes)
            if problem:
                problems.append(problem)
    for entry in importlib.metadata.entry_points(group=group):
        schemes, problem = _load_entry_point(entry)
        loaded.extend(f"{scheme} (entry point {entry.name})" for scheme in schemes)
        if problem:
            problems.append(problem)
    return loaded, problems


# Schemes each plugin file registered, by (path, mtime, size): Apprise registers a file's
# schemes once per process, and importing the same unchanged file again (a daemon reload,
# `ritual check` after a send) reports nothing new. An edited file is imported again.
_LOADED_FILES: dict[tuple[str, int, int], tuple[str, ...]] = {}


def _load_plugin_file(file: Path) -> tuple[tuple[str, ...], str | None]:
    """Import one drop-in file with Apprise's custom-plugin loader (again after an edit)."""
    try:
        facts = file.stat()
    except OSError as exc:
        return (), f"{file}: cannot read the plugin ({exc.__class__.__name__})"
    key = (str(file.resolve()), facts.st_mtime_ns, facts.st_size)
    if key in _LOADED_FILES:
        return _LOADED_FILES[key], None
    schemes, problem = _import_plugin_file(file)
    if problem is None:
        _LOADED_FILES[key] = schemes
    return schemes, problem


def _import_plugin_file(file: Path) -> tuple[tuple[str, ...], str | None]:
    try:
        compile(file.read_text(encoding="utf-8"), str(file), "exec")
    except SyntaxError as exc:
        return (), f"{file}:{exc.lineno}: SyntaxError: {exc.msg}"
    except (OSError, UnicodeDecodeError) as exc:
        return (), f"{file}: cannot read the plugin ({exc.__class__.__name__})"
    with _GUARD.capturing(quiet=True) as capture:
        _registry().module_detection([str(file)], cache=False)
    schemes: list[str] = []
    for _level, message in capture.records:
        if loaded := _LOADED_RE.match(message):
            schemes.append(loaded["scheme"])
        elif failed := _IMPORT_FAILED_RE.match(message):
            return (), f"{file}: cannot import: {_one_line(failed['reason'])}"
        elif taken := _TAKEN_RE.match(message):
            return tuple(schemes), f"{file}: scheme '{taken['scheme']}' is already taken"
    if not schemes:
        return (), f"{file}: no @notify(on=...) plugin in it"
    return tuple(schemes), None


def _load_entry_point(entry: importlib.metadata.EntryPoint) -> tuple[tuple[str, ...], str | None]:
    """Import a third-party package's plugin module so its @notify decorators register."""
    if entry.value in _entry_point_schemes:
        return _entry_point_schemes[entry.value], None
    before = set(_registry().schemas())
    try:
        with _GUARD.capturing(quiet=True):
            entry.load()
    except Exception as exc:
        reason = _one_line(f"{exc.__class__.__name__}: {exc}")
        return (), f"plugin entry point '{entry.name}' ({entry.value}): {reason}"
    schemes = tuple(sorted(set(_registry().schemas()) - before))
    _entry_point_schemes[entry.value] = schemes
    return schemes, None


# Channels -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    """A URL found in a config file, with the line it is on and the tags written beside it."""

    line: int
    url: str
    tags: tuple[str, ...]
    has_options: bool  # a YAML key with options below it: the URL alone may not be complete


class _Loader:
    """Turns URLs and config files into channels and one-line problems."""

    def __init__(self) -> None:
        self.asset = AppriseAsset()
        self.channels: list[Channel] = []
        self.problems: list[str] = []

    def url(self, raw: str, *, tags: tuple[str, ...], source: str) -> None:
        _GUARD.add(_raw_secrets(raw))
        plugin, problem = _instantiate(raw, self.asset, tags)
        if problem is not None:
            self._broken(raw, tags, source, problem)
        else:
            self.channels.append(_channel_of(plugin, tags=tags, source=source))

    def config_file(self, path: Path) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.problems.append(f"{path}: no such Apprise config file")
            return
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(f"{path}: cannot read the Apprise config ({exc.__class__.__name__})")
            return
        is_yaml = path.suffix.lower() in {".yml", ".yaml"} or (
            path.suffix.lower() != ".txt" and re.search(r"^\s*(version|urls)\s*:", text, re.M) is not None
        )
        entries = _scan_yaml(text) if is_yaml else _scan_text(text)
        # Before Apprise reads (and logs) the file: every URL in it, even on a line that is broken.
        for token in _ANY_URL_RE.findall(text):
            _GUARD.add(_raw_secrets(token.rstrip(":")))
        if is_yaml:
            _GUARD.add(_yaml_secrets(text))
        broken = self._diagnose(path, entries)
        config = AppriseConfig(asset=self.asset)
        with _GUARD.capturing(quiet=True) as capture:
            added = config.add_config(text, asset=self.asset, format="yaml" if is_yaml else "text")
            plugins = config.services() if added else []
        if not added:
            self.problems.append(f"{path}: not an Apprise config (neither its TEXT nor its YAML form)")
            return
        self._unexplained(path, entries, broken, capture.records)
        for plugin in plugins:
            # A plugin disabled for a missing package was diagnosed above, which kept a failing
            # channel with the reason; Apprise may still hand back its object (growl does).
            if not getattr(plugin, "enabled", True):
                continue
            self.channels.append(_channel_of(plugin, tags=(), source=str(path)))

    def _diagnose(self, path: Path, entries: Sequence[_Entry]) -> set[int]:
        """Report the config lines Apprise will drop, with a reason; returns their line numbers."""
        broken: set[int] = set()
        for entry in entries:
            _, problem = _instantiate(entry.url, self.asset, entry.tags)
            if problem is None or (entry.has_options and not _hopeless(entry.url)):
                continue
            broken.add(entry.line)
            self._broken(entry.url, entry.tags, f"{path}:{entry.line}", problem)
        return broken

    def _unexplained(
        self, path: Path, entries: Sequence[_Entry], broken: set[int], records: Sequence[tuple[int, str]]
    ) -> None:
        """Apprise errors the diagnosis did not foresee: YAML syntax, a YAML entry with bad options."""
        for index, (level, message) in enumerate(records):
            if level < logging.ERROR:
                continue
            following = records[index + 1][1] if index + 1 < len(records) else ""
            line, reason = _explain(message, following, entries)
            if line in broken or (line is None and (broken or self._has_problem(path))):
                continue
            where = f"{path}:{line}" if line is not None else str(path)
            if line is not None:
                broken.add(line)
                entry = next((e for e in entries if e.line == line), None)
                if entry is not None:
                    self._broken(entry.url, entry.tags, where, reason, report=False)
            self.problems.append(f"{where}: {reason}")

    def _has_problem(self, path: Path) -> bool:
        return any(problem.startswith(f"{path}:") for problem in self.problems)

    def _broken(
        self, raw: str, tags: tuple[str, ...], source: str, problem: str, *, report: bool = True
    ) -> None:
        """Record the problem; keep a failing channel for its people so their nudges show it."""
        if report:
            self.problems.append(f"{source}: {problem}")
        if tags:
            scheme = raw.partition("://")[0].lower()
            self.channels.append(
                Channel(tags, SecretStr(raw), _mask_raw(raw), _target(raw), scheme, scheme, source, problem)
            )


def _instantiate(raw: str, asset: Any, tags: Sequence[str]) -> tuple[Any, str | None]:
    """Apprise's plugin for ``raw``, or a one-line reason it has none."""
    scheme = raw.partition("://")[0].lower()
    masked = _mask_raw(raw)
    if "://" not in raw:
        return None, f"not an Apprise URL ({masked})"
    with _GUARD.capturing(quiet=True):
        try:
            plugin = Apprise.instantiate(raw, asset=asset, tag=list(tags), suppress_exceptions=False)
        except Exception as exc:
            name = _service_name(scheme)
            return None, f"not a valid {name} URL ({masked}): {_one_line(str(exc))}"
    if plugin is not None:
        return plugin, None
    if scheme not in _registry():
        return None, f"unknown scheme '{scheme}' ({masked})"
    if not _registry()[scheme].enabled:
        return None, f"'{scheme}' {_requirement(scheme)} ({masked})"
    return None, f"not a valid {_service_name(scheme)} URL ({masked})"


def _hopeless(raw: str) -> bool:
    """A URL no option below it can rescue: its scheme is unknown or its plugin disabled."""
    scheme = raw.partition("://")[0].lower()
    return scheme not in _registry() or not _registry()[scheme].enabled


def _service_name(scheme: str) -> str:
    return str(_registry()[scheme].service_name) if scheme in _registry() else scheme


def _requirement(scheme: str) -> str:
    """Why a plugin is disabled, from its declared requirements (what Apprise's details() shows)."""
    requirements = getattr(_registry()[scheme], "requirements", None) or {}
    packages = requirements.get("packages_required") or []
    if isinstance(packages, str):
        packages = [packages]
    if packages:
        return f"needs {', '.join(str(p) for p in packages)} (pip install it)"
    details = str(requirements.get("details") or "").strip()
    return f"is not available here: {_one_line(details)}" if details else "is disabled on this system"


def _channel_of(plugin: Any, *, tags: Sequence[str], source: str) -> Channel:
    real = _real_url(plugin)
    target = _target(real)
    masked = str(plugin.url(privacy=True))
    if masked.endswith("://"):  # a custom plugin shows only its scheme: add the target to tell them apart
        masked = f"{masked} ({target[:8]})"
    else:
        _GUARD.add(_diff_secrets(real, masked))
    _GUARD.add(_raw_secrets(real))
    scheme = real.partition("://")[0].lower()
    problem = None if plugin.enabled else f"'{scheme}' {_requirement(scheme)} ({masked})"
    all_tags = tuple(sorted({*tags, *(str(tag) for tag in plugin.tags)}))
    return Channel(
        all_tags, SecretStr(real), masked, target, scheme, str(plugin.service_name), source, problem, plugin
    )


def _real_url(plugin: Any) -> str:
    """The URL that identifies the channel: Apprise's own, or the custom plugin's full URL."""
    if getattr(plugin, "category", "") == "custom":
        # A custom plugin's url() is only its scheme; the URL it was built from sits in its defaults.
        url = getattr(plugin, "_default_args", {}).get("url")
        if isinstance(url, str) and url:
            return url
    return str(plugin.url(privacy=False))


def _target(real: str) -> str:
    return hashlib.sha256(real.encode("utf-8")).hexdigest()


# Secrets and masks --------------------------------------------------------------------------------

_SPLIT_RE = re.compile(r"[/:@?&=,;#\s]+")
_HOSTLIKE_RE = re.compile(r"^(localhost|[a-z0-9-]+(\.[a-z0-9-]+)+)(:\d+)?$", re.I)


def _variants(value: str) -> set[str]:
    return {value, unquote(value), quote(value, safe="")}


def _diff_secrets(real: str, masked: str) -> set[str]:
    """What Apprise's privacy form hides: the parts of the real URL missing from the masked one."""
    shown = set(_SPLIT_RE.split(masked))
    hidden = {part for part in _SPLIT_RE.split(real) if part and part not in shown}
    return {v for part in hidden for v in _variants(part)}


def _raw_secrets(raw: str) -> set[str]:
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
    custom = (
        scheme.lower() in _registry() and getattr(_registry()[scheme.lower()], "category", "") == "custom"
    )
    if host and not custom and not _HOSTLIKE_RE.match(host):
        secrets |= {v for part in host.split(":") for v in _variants(part)}
    for key, value in parse_qsl(raw.partition("?")[2]):
        if key.lower() in _SECRET_KEYS:
            secrets |= _variants(value)
    return {s for s in secrets if s and s != scheme}


def _yaml_secrets(text: str) -> set[str]:
    """Values of password/token keys in a YAML config, which never appear in a URL."""
    keys = "|".join(sorted(_SECRET_KEYS))
    pattern = re.compile(rf"^\s*-?\s*(?:{keys})\s*:\s*[\"']?([^\"'#\s]+)", re.I | re.M)
    return {v for match in pattern.finditer(text) for v in _variants(match.group(1))}


def _mask_raw(raw: str) -> str:
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


# Config file scanning -----------------------------------------------------------------------------

_ANY_URL_RE = re.compile(r"[a-z0-9]{1,32}://[^\s\"'\[\]{},]+", re.I)
_TEXT_URL_RE = re.compile(r"^(?:(?P<tags>[^=]*?)\s*=\s*)?(?P<url>[a-z0-9]{1,32}://\S*)$", re.I)
_TEXT_GROUP_RE = re.compile(r"^(?P<groups>[a-z0-9,_ \t-]+?)\s*=\s*(?P<tags>[a-z0-9,_ \t-]+)$", re.I)
_YAML_URL_RE = re.compile(
    r"^(?P<indent>\s*)(?:-\s+|urls\s*:\s+)?[\"']?(?P<url>[a-z0-9]{1,32}://[^\s\"']*?)[\"']?"
    r"(?P<colon>:)?\s*(?:#.*)?$",
    re.I,
)
_YAML_TAG_RE = re.compile(r"^\s*-?\s*tags?\s*:\s*[\"']?(?P<tags>[^\"'#]*)", re.I)


def _words(text: str | None) -> tuple[str, ...]:
    """Tag names from ``alice, couple`` or ``2:couple`` (a priority prefix is not part of the name)."""
    words = re.split(r"[\s,]+", (text or "").strip().lower())
    return tuple(word.rpartition(":")[2] if word[:1].isdigit() else word for word in words if word)


def _scan_text(text: str) -> list[_Entry]:
    found: list[tuple[int, str, tuple[str, ...]]] = []
    groups: dict[str, set[str]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;" or line.startswith("include "):
            continue
        if match := _TEXT_URL_RE.match(line):
            found.append((number, match["url"], _words(match["tags"])))
        elif match := _TEXT_GROUP_RE.match(line):
            for group in _words(match["groups"]):
                groups.setdefault(group, set()).update(_words(match["tags"]))
    return [_Entry(line, url, _with_groups(tags, groups), False) for line, url, tags in found]


def _with_groups(tags: tuple[str, ...], groups: Mapping[str, set[str]]) -> tuple[str, ...]:
    names = set(tags)
    while True:
        more = {group for group, members in groups.items() if members & names} - names
        if not more:
            return tuple(sorted(names))
        names |= more


def _scan_yaml(text: str) -> list[_Entry]:
    lines = text.splitlines()
    entries: list[_Entry] = []
    for index, raw in enumerate(lines):
        match = _YAML_URL_RE.match(raw)
        if not match:
            continue
        indent = len(match["indent"])
        tags: list[str] = []
        for below in lines[index + 1 :]:
            if below.strip() and len(below) - len(below.lstrip()) <= indent:
                break
            if tag := _YAML_TAG_RE.match(below):
                tags.extend(_words(tag["tags"]))
        entries.append(_Entry(index + 1, match["url"], tuple(sorted(set(tags))), bool(match["colon"])))
    return entries


def _explain(message: str, following: str, entries: Sequence[_Entry]) -> tuple[int | None, str]:
    """(config line, one-line reason) for an Apprise error met while loading a config file."""
    if following.startswith("YAML Exception:"):
        # PyYAML: "expected ',' or '}', but got '<stream end>'" plus marks "line 4, column 1".
        lines = re.findall(r"line (\d+)", following)
        texts = [t for t in following.splitlines()[1:] if t.strip() and not t[0].isspace()]
        detail = _one_line(texts[-1]) if texts else "cannot parse it"
        return (int(lines[-1]) if lines else None), f"not valid YAML: {detail}"
    line = _line_ref(message, entries)
    if re.search(r"entry #\d+", message):
        reason = "cannot load this entry"
    else:
        reason = _one_line(re.sub(r"\s*on line \d+\.?", "", message))
    if following.startswith("Loading Exception: "):
        reason = f"{reason}: {_one_line(following.removeprefix('Loading Exception: '))}"
    return line, reason


def _line_ref(message: str, entries: Sequence[_Entry]) -> int | None:
    """The config line an Apprise message points at (``on line 4`` or ``entry #2``)."""
    if match := re.search(r"on line (\d+)", message):
        return int(match.group(1))
    if (match := re.search(r"entry #(\d+)", message)) and 0 < int(match.group(1)) <= len(entries):
        return entries[int(match.group(1)) - 1].line
    return None


# --- sending ---------------------------------------------------------------------------------------


SEND_THREADS = 64


def _widen_send_pool() -> None:
    """Give Apprise's shared send pool room for a wide fan-out.

    Apprise runs every service call on one shared ThreadPoolExecutor created with
    Python's default size (cores + 4: 6 on a 2-core home server), so 50 channels went
    out in nine waves (bench/fanout.py: 9x one channel). Sends wait on the network,
    not the CPU, so more threads cost little. Apprise creates the pool lazily under a
    lock; we create it first, the same way. If Apprise stops exposing it, its own pool
    is used and only fan-out speed suffers.
    """
    module = sys.modules.get("apprise.apprise")
    lock = getattr(module, "_shared_executor_lock", None)
    if module is None or lock is None or not hasattr(module, "_shared_executor"):
        return
    with lock:
        if getattr(module, "_shared_executor", None) is None:
            pool = concurrent.futures.ThreadPoolExecutor(SEND_THREADS, thread_name_prefix="apprise-send")
            setattr(module, "_shared_executor", pool)  # noqa: B010 - a private attribute, on purpose


async def send_all(channels: Sequence[Channel], message: Message, *, timeout: float) -> list[SendResult]:
    """Send to every channel at once; a slow or failing channel delays none of the others."""
    return await send_each(channels, [message] * len(channels), timeout=timeout)


async def send_each(
    channels: Sequence[Channel], messages: Sequence[Message], *, timeout: float
) -> list[SendResult]:
    """``send_all`` with each channel its own message (links name the person it reaches)."""
    _widen_send_pool()
    sends = (send_one(c, m, timeout=timeout) for c, m in zip(channels, messages, strict=True))
    return list(await asyncio.gather(*sends))


async def send_one(channel: Channel, message: Message, *, timeout: float) -> SendResult:
    """Send one nudge to one channel through Apprise's async notify; never raises for a failed send."""
    if channel.problem is not None or channel._plugin is None:
        error = channel.problem or f"channel {channel.masked} is not loaded"
        return SendResult(channel.target, channel.masked, ok=False, permanent=True, error=error)
    started = time.perf_counter()
    try:
        plugin, body = _prepare(channel, message)
        body = body.strip() or message.title  # Apprise sends nothing without a body
        with _GUARD.capturing(quiet=False) as capture:
            apobj = Apprise(asset=plugin.asset)
            apobj.add(plugin)
            call = apobj.async_notify(
                body=body, title=message.title, body_format=message.body_format, timeout=timeout
            )
            result = await asyncio.wait_for(call, timeout + _GRACE)
        ok, permanent, error, status = _judge(result.status, capture.records, timeout)
    except TimeoutError:
        ok, permanent, error, status = False, False, _timed_out(timeout), None
    except Exception as exc:  # a plugin or Apprise bug must not take the other channels down
        ok, permanent, error, status = False, False, _one_line(f"{exc.__class__.__name__}: {exc}"), None
    elapsed = time.perf_counter() - started
    return SendResult(channel.target, channel.masked, ok, permanent, error, elapsed, status)


def _prepare(channel: Channel, message: Message) -> tuple[Any, str]:
    """The plugin and body for this message: buttons where the channel has them, links otherwise.

    The hook for one-tap actions: ntfy receives them as ``http`` (POST) or ``view`` (GET) buttons
    through its ``actions`` option on a plugin built for this message; every other channel gets
    them as links at the end of the body.
    """
    if not (message.actions and channel.buttons):
        return channel._plugin, message.body_with_links()
    real = channel.url.get_secret_value()
    base, _, query = real.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    existing = [value for key, value in pairs if key == "actions" and value]
    header = "; ".join([*existing, ntfy_actions(message.actions)])
    pairs = [(key, value) for key, value in pairs if key != "actions"] + [("actions", header)]
    with _GUARD.capturing(quiet=True):
        plugin = Apprise.instantiate(
            f"{base}?{urlencode(pairs, quote_via=quote)}",
            asset=channel._plugin.asset,
            suppress_exceptions=True,
        )
    if plugin is None:
        return channel._plugin, message.body_with_links()
    return plugin, message.body


def ntfy_actions(actions: Sequence[Action]) -> str:
    """ntfy's ``X-Actions`` value: a POST becomes an ``http`` button, a GET a ``view`` button."""
    parts = []
    for action in actions[:NTFY_MAX_ACTIONS]:
        label = action.label.replace('"', "'")
        if re.search(r"[,;=]", label):
            label = f'"{label}"'
        if action.method == "GET":
            parts.append(f"view, {label}, {action.url}")
        else:
            parts.append(f"http, {label}, {action.url}, method={action.method}, clear=true")
    return "; ".join(parts)


# Judging an outcome -------------------------------------------------------------------------------

_HTTP_RE = re.compile(r"\berror=(\d{3})\d*\b")
_SMTP_RE = re.compile(r"Socket Exception: \((\d{3}),")
_ERRNO_RE = re.compile(r"\[Errno -?\d+\] [^'\")\]]+")
_EXCEPTION_RE = re.compile(r" Exception: (?P<reason>.+)$", re.S)
_PERMANENT = "permanent:"


def _judge(
    status: Any, records: Sequence[tuple[int, str]], timeout: float
) -> tuple[bool, bool, str, int | None]:
    """(ok, permanent, error, http status) from Apprise's status and the call's log lines."""
    if status == AppriseResultStatus.SUCCESS:
        return True, False, "", None
    if status == AppriseResultStatus.TIMEOUT:
        return False, False, _timed_out(timeout), None
    if status == AppriseResultStatus.NOMATCH:
        return False, True, "apprise did not dispatch the channel (is its plugin disabled?)", None
    warnings = [message for level, message in records if level >= logging.WARNING]
    everything = [message for _level, message in records]
    for message in warnings:
        if match := _HTTP_RE.search(message):
            code = int(match.group(1))
            permanent = 400 <= code < 500 and code not in {408, 429}
            return False, permanent, _one_line(message), code
    reasons = [m["reason"] for line in everything if (m := _EXCEPTION_RE.search(line))]
    for text in [*everything, *reasons]:
        if text.strip().lower().startswith(_PERMANENT):
            return False, True, _one_line(text.strip()[len(_PERMANENT) :]), None
    for message in everything:
        if match := _SMTP_RE.search(message):
            code = int(match.group(1))
            return False, code >= 500, _one_line(message.partition("Socket Exception: ")[2]), None
    headline = next((m for m in warnings if not m.startswith("<class ")), "") or "delivery failed"
    detail = next((m.group(0) for line in everything if (m := _ERRNO_RE.search(line))), "")
    detail = detail or next((reason for reason in reasons if reason.strip()), "")
    error = f"{_one_line(headline)} ({_one_line(detail)})" if detail else _one_line(headline)
    return False, False, error, None


def _timed_out(timeout: float) -> str:
    return f"no answer within {timeout:g} s"


def _one_line(text: str) -> str:
    """A scrubbed, single-line message with a lower-case start and no trailing full stop."""
    line = re.sub(r"\s+", " ", scrub(text)).strip().replace("., ", ", ").rstrip(".")
    if re.match(r"[A-Z][a-z]*\b", line):  # "Failed to ..." but not "ImportError" or "JSON"
        line = line[0].lower() + line[1:]
    return line if len(line) <= _MAX_ERROR else line[: _MAX_ERROR - 1] + "…"
