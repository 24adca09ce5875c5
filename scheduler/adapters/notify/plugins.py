"""Drop-in channel plugins: files in a folder, or entry points of installed packages, keyed by scheme."""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Sequence
from pathlib import Path

from scheduler.adapters.notify.registry import registry
from scheduler.adapters.notify.secrets import GUARD, one_line

ENTRY_POINT_GROUP = "ritual_scheduler.plugins"
_LOADED_RE = re.compile(r"^Loaded custom notification: (?P<scheme>[^:]+)://")
_IMPORT_FAILED_RE = re.compile(r"^Module exception raised from .* \(name=[^)]*\) (?P<reason>.*)$", re.S)
_TAKEN_RE = re.compile(r"^The schema \((?P<scheme>[^)]*?)(?:://)?\) is already defined")
_entry_point_schemes: dict[str, tuple[str, ...]] = {}


def load_plugins(paths: Sequence[Path], group: str) -> tuple[list[str], list[str]]:
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
    with GUARD.capturing(quiet=True) as capture:
        registry().module_detection([str(file)], cache=False)
    schemes: list[str] = []
    for _level, message in capture.records:
        if loaded := _LOADED_RE.match(message):
            schemes.append(loaded["scheme"])
        elif failed := _IMPORT_FAILED_RE.match(message):
            return (), f"{file}: cannot import: {one_line(failed['reason'])}"
        elif taken := _TAKEN_RE.match(message):
            return tuple(schemes), f"{file}: scheme '{taken['scheme']}' is already taken"
    if not schemes:
        return (), f"{file}: no @notify(on=...) plugin in it"
    return tuple(schemes), None


def _load_entry_point(entry: importlib.metadata.EntryPoint) -> tuple[tuple[str, ...], str | None]:
    """Import a third-party package's plugin module so its @notify decorators register."""
    if entry.value in _entry_point_schemes:
        return _entry_point_schemes[entry.value], None
    before = set(registry().schemas())
    try:
        with GUARD.capturing(quiet=True):
            entry.load()
    except Exception as exc:
        reason = one_line(f"{exc.__class__.__name__}: {exc}")
        return (), f"plugin entry point '{entry.name}' ({entry.value}): {reason}"
    schemes = tuple(sorted(set(registry().schemas()) - before))
    _entry_point_schemes[entry.value] = schemes
    return schemes, None
