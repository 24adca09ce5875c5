"""Loading channels: Apprise config files, systemd credentials and per-person URLs; a line per fault."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apprise import Apprise, AppriseAsset, AppriseConfig
from pydantic import SecretStr

from scheduler.adapters.notify.channel import Channel, ChannelConfigError, SecretLike, channel_target
from scheduler.adapters.notify.channels import Channels
from scheduler.adapters.notify.plugins import ENTRY_POINT_GROUP, load_plugins
from scheduler.adapters.notify.registry import registry
from scheduler.adapters.notify.secrets import (
    GUARD,
    diff_secrets,
    install_guard,
    mask_raw,
    one_line,
    raw_secrets,
    service_and_host,
    yaml_secrets,
)

CONFIG_FILE_NAMES = ("apprise.yml", "apprise.yaml", "apprise.txt")


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
    link_key: bytes,
    strict: bool = True,
    urls_source: str = "people",
    entry_point_group: str = ENTRY_POINT_GROUP,
    person_tags: Mapping[str, Sequence[str]] | None = None,
) -> Channels:
    """Load plugins, then channels from the config file, systemd credentials and settings.

    ``urls`` maps a person or tag to Apprise URLs; ``person_tags`` maps a person to tags of
    the config file whose channels reach them too (``alex = ["alex-phone"]``): those
    channels carry the person's name as a tag as well. ``link_key`` keys each channel's
    ``target`` (``channel_target``), the id the outbox stores. With ``strict`` any problem raises
    ChannelConfigError; otherwise problems are returned beside the channels, and a broken URL
    whose people are known becomes a channel whose sends fail permanently with that problem.
    """
    install_guard()
    registry()
    plugins, problems = load_plugins(plugin_paths, entry_point_group)
    loader = _Loader(link_key)
    credentials = find_config_file(credentials_dir) if credentials_dir else None
    for path in _distinct(config_file, credentials):
        loader.config_file(path)
    for name, values in urls.items():
        for index, value in enumerate(values):
            raw = value if isinstance(value, str) else value.get_secret_value()
            loader.url(raw.strip(), tags=(name.strip().lower(),), source=f"{urls_source}.{name}[{index}]")
    channels = _merged(loader.channels)
    for person, tags in (person_tags or {}).items():
        wanted = {tag.strip().lower() for tag in tags}
        known = {tag for channel in channels for tag in channel.tags}
        for tag in sorted(wanted - known):
            if _TAG_RE.fullmatch(tag):
                problems.append(f"{urls_source}.{person}: no channel carries the tag '{tag}'")
            else:  # a URL gone wrong ("ntfy:/host/topic"): it may hold a secret, so never shown
                problems.append(
                    f"{urls_source}.{person}: a channel is neither an Apprise URL (scheme://...)"
                    f" nor a tag ({mask_raw(tag)})"
                )
        channels = tuple(
            dataclasses.replace(c, tags=tuple(sorted({*c.tags, person}))) if wanted & set(c.tags) else c
            for c in channels
        )
    problems = list(dict.fromkeys([*problems, *loader.problems]))
    if strict and problems:
        raise ChannelConfigError(problems)
    return Channels(channels, tuple(problems), tuple(plugins))


_TAG_RE = re.compile(r"[a-z0-9][a-z0-9_.-]*")  # what Apprise takes as a tag


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


@dataclass(frozen=True, slots=True)
class _Entry:
    """A URL found in a config file, with the line it is on and the tags written beside it."""

    line: int
    url: str
    tags: tuple[str, ...]
    has_options: bool  # a YAML key with options below it: the URL alone may not be complete


class _Loader:
    """Turns URLs and config files into channels and one-line problems."""

    def __init__(self, link_key: bytes) -> None:
        self.link_key = link_key
        self.asset = AppriseAsset()
        self.channels: list[Channel] = []
        self.problems: list[str] = []

    def url(self, raw: str, *, tags: tuple[str, ...], source: str) -> None:
        GUARD.add(raw_secrets(raw))
        plugin, problem = _instantiate(raw, self.asset, tags)
        if problem is not None:
            self._broken(raw, tags, source, problem)
        else:
            self.channels.append(_channel_of(plugin, self.link_key, tags=tags, source=source))

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
        if not is_yaml:
            self.problems.extend(f"{path}:{line}: {why}" for line, why in _not_channels(text, entries))
        # Before Apprise reads (and logs) the file: every URL in it, even on a line that is broken.
        for token in _ANY_URL_RE.findall(text):
            GUARD.add(raw_secrets(token.rstrip(":")))
        if is_yaml:
            GUARD.add(yaml_secrets(text))
        broken = self._diagnose(path, entries)
        config = AppriseConfig(asset=self.asset)
        with GUARD.capturing(quiet=True) as capture:
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
            self.channels.append(_channel_of(plugin, self.link_key, tags=(), source=str(path)))

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
            target = channel_target(self.link_key, raw)
            self.channels.append(
                Channel(tags, SecretStr(raw), mask_raw(raw), target, scheme, scheme, source, problem)
            )


def _instantiate(raw: str, asset: Any, tags: Sequence[str]) -> tuple[Any, str | None]:
    """Apprise's plugin for ``raw``, or a one-line reason it has none."""
    scheme = raw.partition("://")[0].lower()
    masked = mask_raw(raw)
    if "://" not in raw:
        return None, f"not an Apprise URL ({masked})"
    with GUARD.capturing(quiet=True):
        try:
            plugin = Apprise.instantiate(raw, asset=asset, tag=list(tags), suppress_exceptions=False)
        except Exception as exc:
            name = _service_name(scheme)
            return None, f"not a valid {name} URL ({masked}): {one_line(str(exc))}"
    if plugin is not None:
        return plugin, None
    if scheme not in registry():
        return None, f"unknown scheme '{scheme}' ({masked})"
    if not registry()[scheme].enabled:
        return None, f"'{scheme}' {_requirement(scheme)} ({masked})"
    return None, f"not a valid {_service_name(scheme)} URL ({masked})"


def _hopeless(raw: str) -> bool:
    """A URL no option below it can rescue: its scheme is unknown or its plugin disabled."""
    scheme = raw.partition("://")[0].lower()
    return scheme not in registry() or not registry()[scheme].enabled


def _service_name(scheme: str) -> str:
    return str(registry()[scheme].service_name) if scheme in registry() else scheme


def _requirement(scheme: str) -> str:
    """Why a plugin is disabled, from its declared requirements (what Apprise's details() shows)."""
    requirements = getattr(registry()[scheme], "requirements", None) or {}
    packages = requirements.get("packages_required") or []
    if isinstance(packages, str):
        packages = [packages]
    if packages:
        return f"needs {', '.join(str(p) for p in packages)} (pip install it)"
    details = str(requirements.get("details") or "").strip()
    return f"is not available here: {one_line(details)}" if details else "is disabled on this system"


def _channel_of(plugin: Any, link_key: bytes, *, tags: Sequence[str], source: str) -> Channel:
    real = _real_url(plugin)
    target = channel_target(link_key, real)
    private = str(plugin.url(privacy=True))
    if private.endswith("://"):  # a custom plugin shows only its scheme: add the target to tell them apart
        masked = f"{private} ({target[:8]})"
    else:
        GUARD.add(diff_secrets(real, private))
        masked = service_and_host(private)
    GUARD.add(raw_secrets(real))
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


_TEXT_WORDS_RE = re.compile(r"^[a-z0-9,_ \t-]+$", re.I)


def _not_channels(text: str, entries: Sequence[_Entry]) -> list[tuple[int, str]]:
    """Lines of a TEXT config that Apprise takes quietly but that make no channel: words with no
    URL, and a group (``couple = alex, sam``) naming tags no URL in the file carries (as
    ``couple=not a url at all`` is read). With an ``include`` line the tags may live elsewhere, so
    groups are then left alone. The words after ``=`` are never shown: they may be a token."""
    tagged = {tag for entry in entries for tag in entry.tags}
    lines = [(number, raw.strip()) for number, raw in enumerate(text.splitlines(), start=1)]
    includes = any(line.startswith("include ") for _, line in lines)
    found: list[tuple[int, str]] = []
    for number, line in lines:
        if not line or line[0] in "#;" or _TEXT_URL_RE.match(line):
            continue
        if match := _TEXT_GROUP_RE.match(line):
            if not includes and not set(_words(match["tags"])) & tagged:
                left = ",".join(_words(match["groups"]))
                found.append(
                    (
                        number,
                        f"'{left}=' is followed by no URL (a channel line is {left}=scheme://...), "
                        "and no channel in this file has the tags after it",
                    )
                )
        elif _TEXT_WORDS_RE.match(line):
            found.append((number, "not an Apprise URL (a channel line is [tags=]scheme://...)"))
    return found


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
        detail = one_line(texts[-1]) if texts else "cannot parse it"
        return (int(lines[-1]) if lines else None), f"not valid YAML: {detail}"
    line = _line_ref(message, entries)
    if re.search(r"entry #\d+", message):
        reason = "cannot load this entry"
    else:
        reason = one_line(re.sub(r"\s*on line \d+\.?", "", message))
    if following.startswith("Loading Exception: "):
        reason = f"{reason}: {one_line(following.removeprefix('Loading Exception: '))}"
    return line, reason


def _line_ref(message: str, entries: Sequence[_Entry]) -> int | None:
    """The config line an Apprise message points at (``on line 4`` or ``entry #2``)."""
    if match := re.search(r"on line (\d+)", message):
        return int(match.group(1))
    if (match := re.search(r"entry #(\d+)", message)) and 0 < int(match.group(1)) <= len(entries):
        return entries[int(match.group(1)) - 1].line
    return None
