"""The shipped systemd units: the directives the daemon relies on, and systemd's own verdict on the files.

A careless edit (a dropped hardening line, a typo systemd silently ignores) fails here rather than
on someone's home server.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

UNITS_DIR = Path(__file__).resolve().parent.parent / "systemd"
SYSTEM_UNIT = UNITS_DIR / "ritual-scheduler.service"
USER_UNIT = UNITS_DIR / "ritual-scheduler-user.service"
SYSTEM_EXEC = "/opt/ritual-scheduler/bin/ritual"
USER_EXEC = "%h/.local/share/ritual-scheduler/venv/bin/ritual"

Unit = dict[str, dict[str, list[str]]]


def parse_unit(text: str) -> Unit:
    """Read a unit file the way systemd does for our purposes: sections, comments, repeated keys.

    Every assignment of a key is kept in order, because systemd accumulates some settings
    (SystemCallFilter=, LoadCredential=) and lets the last one win for others.
    """
    unit: Unit = {}
    section: dict[str, list[str]] | None = None
    logical = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not logical and (not line or line.startswith(("#", ";"))):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        line, logical = logical + line, ""
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], defaultdict(list))
            continue
        key, sep, value = line.partition("=")
        if not sep or section is None:
            raise ValueError(f"line {number} is neither a section nor an assignment: '{raw}'")
        section[key.strip()].append(value.strip())
    return unit


def load(path: Path) -> Unit:
    return parse_unit(path.read_text(encoding="utf-8"))


# --- the parser itself ------------------------------------------------------------------------


def test_parser_keeps_repeated_keys_in_order_and_joins_continuations() -> None:
    unit = parse_unit(
        "# comment\n[Service]\n; another\nSystemCallFilter=@system-service\n"
        "SystemCallFilter=~@privileged \\\n  @resources\nCapabilityBoundingSet=\n"
    )
    assert unit["Service"]["SystemCallFilter"] == ["@system-service", "~@privileged  @resources"]
    assert unit["Service"]["CapabilityBoundingSet"] == [""]


def test_parser_rejects_text_outside_a_section() -> None:
    with pytest.raises(ValueError, match="line 1"):
        parse_unit("Type=notify\n")


# --- must-have directives ---------------------------------------------------------------------

# (section, key, effective value) that both units need: the daemon's contract with systemd.
LIFE_CYCLE = [
    ("Service", "Type", "notify"),
    ("Service", "NotifyAccess", "main"),
    ("Service", "ExecReload", "/bin/kill -HUP $MAINPID"),
    ("Service", "KillSignal", "SIGTERM"),
    ("Service", "TimeoutStopSec", "30"),
    ("Service", "Restart", "on-failure"),
    ("Service", "RestartSec", "5"),
    ("Service", "WatchdogSec", "3min"),
    ("Service", "LimitNOFILE", "1024"),
    ("Service", "UMask", "0077"),
]

# Sandboxing that needs no privileges, so both units carry it.
SECCOMP_HARDENING = [
    ("Service", "NoNewPrivileges", "yes"),
    ("Service", "RestrictSUIDSGID", "yes"),
    ("Service", "RestrictNamespaces", "yes"),
    ("Service", "RestrictRealtime", "yes"),
    ("Service", "LockPersonality", "yes"),
    ("Service", "MemoryDenyWriteExecute", "yes"),
    ("Service", "SystemCallArchitectures", "native"),
    ("Service", "SystemCallErrorNumber", "EPERM"),
]

# Mount-namespace sandboxing: system services always, user services through PrivateUsers=.
NAMESPACE_HARDENING = [
    ("Service", "ProtectSystem", "strict"),
    ("Service", "PrivateTmp", "yes"),
    ("Service", "PrivateDevices", "yes"),
    ("Service", "PrivateIPC", "yes"),
    ("Service", "PrivateUsers", "yes"),
    ("Service", "PrivateMounts", "yes"),
    ("Service", "ProtectKernelTunables", "yes"),
    ("Service", "ProtectKernelModules", "yes"),
    ("Service", "ProtectKernelLogs", "yes"),
    ("Service", "ProtectClock", "yes"),
    ("Service", "ProtectHostname", "yes"),
]

SYSTEM_ONLY = [
    ("Service", "ExecStart", f"{SYSTEM_EXEC} run"),
    ("Service", "DynamicUser", "yes"),
    ("Service", "StateDirectory", "ritual"),
    ("Service", "ConfigurationDirectory", "ritual"),
    ("Service", "ProtectHome", "yes"),
    ("Service", "ProtectControlGroups", "yes"),
    ("Service", "ProtectProc", "invisible"),
    ("Service", "ProcSubset", "pid"),
    ("Install", "WantedBy", "multi-user.target"),
]

USER_ONLY = [
    ("Service", "ExecStart", f"{USER_EXEC} run"),
    ("Service", "ConfigurationDirectory", "ritual"),
    ("Service", "ProtectHome", "read-only"),
    ("Service", "ReadWritePaths", "%h/.local/share/ritual"),
    ("Service", "KeyringMode", "private"),
    ("Install", "WantedBy", "default.target"),
]


def directive_cases(path: Path, table: list[tuple[str, str, str]]) -> list[pytest.ParameterSet]:
    return [pytest.param(path, s, k, v, id=f"{path.stem}: {k}={v}") for s, k, v in table]


@pytest.mark.parametrize(
    ("path", "section", "key", "expected"),
    [
        *directive_cases(SYSTEM_UNIT, LIFE_CYCLE + SECCOMP_HARDENING + NAMESPACE_HARDENING + SYSTEM_ONLY),
        *directive_cases(USER_UNIT, LIFE_CYCLE + SECCOMP_HARDENING + NAMESPACE_HARDENING + USER_ONLY),
    ],
)
def test_must_have_directive(path: Path, section: str, key: str, expected: str) -> None:
    values = load(path).get(section, {}).get(key)
    assert values, f"{path.name}: [{section}] {key}= is missing"
    assert values[-1] == expected, f"{path.name}: [{section}] {key}= is {values!r}"


# Settings systemd accumulates: the whole list must be exactly this, or an added line widens it.
ACCUMULATED = [
    ("SystemCallFilter", ["@system-service", "~@privileged @resources"]),
    ("RestrictAddressFamilies", ["AF_UNIX AF_INET AF_INET6"]),
    ("CapabilityBoundingSet", [""]),
    ("AmbientCapabilities", [""]),
]


@pytest.mark.parametrize("path", [SYSTEM_UNIT, USER_UNIT], ids=["system", "user"])
@pytest.mark.parametrize(("key", "expected"), ACCUMULATED, ids=[key for key, _ in ACCUMULATED])
def test_accumulating_setting_is_exactly(path: Path, key: str, expected: list[str]) -> None:
    assert load(path)["Service"][key] == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param(
            SYSTEM_UNIT,
            ["RITUAL_CONFIG_DIR=/etc/ritual", "PYTHONUNBUFFERED=1"],
            id="system",
        ),
        pytest.param(
            USER_UNIT,
            ["RITUAL_CONFIG_DIR=%E/ritual", "RITUAL_DATA_DIR=%h/.local/share/ritual", "PYTHONUNBUFFERED=1"],
            id="user",
        ),
    ],
)
def test_environment(path: Path, expected: list[str]) -> None:
    assert load(path)["Service"]["Environment"] == expected


@pytest.mark.parametrize(
    ("path", "config"),
    [pytest.param(SYSTEM_UNIT, "/etc/ritual", id="system"), pytest.param(USER_UNIT, "%E/ritual", id="user")],
)
def test_secrets_come_as_credentials_from_the_config_dir(path: Path, config: str) -> None:
    assert load(path)["Service"]["LoadCredential"] == [
        f"apprise.yml:{config}/credentials/apprise.yml",
        f"link-signing.key:{config}/credentials/link-signing.key",
    ]


def test_system_unit_starts_after_the_network_and_a_synced_clock() -> None:
    unit = load(SYSTEM_UNIT)["Unit"]
    assert unit["Wants"] == ["network-online.target"]
    assert unit["After"] == ["network-online.target", "time-sync.target"]


# A user manager cannot run a service as another user, and systemd 252 refuses these outright
# in user units (or, for StateDirectory=, puts it in ~/.config where the CLI would not look).
NOT_IN_USER_UNITS = [
    "DynamicUser",
    "User",
    "Group",
    "StateDirectory",
    "ProtectProc",
    "ProcSubset",
    "ProtectControlGroups",
    "RemoveIPC",
]


@pytest.mark.parametrize("key", NOT_IN_USER_UNITS)
def test_user_unit_leaves_out(key: str) -> None:
    assert key not in load(USER_UNIT)["Service"]


def test_user_unit_writes_exactly_where_the_cli_keeps_its_database() -> None:
    service = load(USER_UNIT)["Service"]
    data_dir = "%h/.local/share/ritual"
    assert f"RITUAL_DATA_DIR={data_dir}" in service["Environment"]
    assert service["ReadWritePaths"] == [data_dir]
    assert service["ExecStartPre"] == [f"+/bin/mkdir -p -m 0700 {data_dir}"]


@pytest.mark.parametrize("path", [SYSTEM_UNIT, USER_UNIT], ids=["system", "user"])
def test_every_directive_is_explained_by_a_comment(path: Path) -> None:
    """Teaching example: each block of settings sits under a comment that says why."""
    uncommented = []
    previous = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith("#") and previous.strip() == "":
            uncommented.append(line)
        previous = line
    assert uncommented == []


# --- systemd's verdict ------------------------------------------------------------------------


@dataclass(frozen=True)
class Analyze:
    path: str
    version: int


def systemd_analyze() -> Analyze | None:
    path = shutil.which("systemd-analyze")
    if path is None:
        return None
    first = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout
    match = re.match(r"systemd (\d+)", first)
    return Analyze(path, int(match.group(1))) if match else None


ANALYZE = systemd_analyze()
# --recursive-errors= and security --offline= arrived in systemd 250.
needs_analyze = pytest.mark.skipif(
    ANALYZE is None or ANALYZE.version < 250,
    reason="needs systemd-analyze from systemd 250 or later",
)


@dataclass(frozen=True)
class Flavour:
    source: Path
    exec_path: str
    manager_flags: tuple[str, ...]


FLAVOURS = {
    "system": Flavour(SYSTEM_UNIT, SYSTEM_EXEC, ()),
    "user": Flavour(USER_UNIT, USER_EXEC, ("--user",)),
}


def installable_copy(flavour: Flavour, tmp_path: Path, extra: str = "") -> Path:
    """The unit under its installed name, with ExecStart= pointing at a fake program that exists.

    verify rejects an ExecStart= binary that is missing, and the real one lives in a venv.
    """
    fake = tmp_path / "bin" / "ritual"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    text = flavour.source.read_text(encoding="utf-8")
    assert text.count(f"ExecStart={flavour.exec_path} ") == 1
    text = text.replace(f"ExecStart={flavour.exec_path} ", f"ExecStart={fake} ") + extra
    copy = tmp_path / "units" / "ritual-scheduler.service"
    copy.parent.mkdir()
    copy.write_text(text, encoding="utf-8")
    return copy


def run_analyze(flavour: Flavour, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    # A user manager needs $XDG_RUNTIME_DIR even to load units; a test must not touch the real one.
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "SYSTEMD_COLORS": "0", "LC_ALL": "C"}
    return subprocess.run(
        [ANALYZE.path, *flavour.manager_flags, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def about_our_unit(output: str, copy: Path) -> list[str]:
    """The lines verify writes about our unit; anything else concerns the host's own units.

    verify reports a unit file's parse problems as ``<path>:<line>: ...`` and the loaded
    unit's problems as ``<unit name>: ...``; host units it loads for dependencies (targets,
    network-online) are named by their own paths and names, which we neither own nor judge.
    """
    ours = (f"{copy}:", f"{copy.name}:")
    return [line for line in output.splitlines() if line.startswith(ours)]


@needs_analyze
@pytest.mark.parametrize("flavour", FLAVOURS.values(), ids=FLAVOURS.keys())
def test_systemd_analyze_verify_is_clean(flavour: Flavour, tmp_path: Path) -> None:
    copy = installable_copy(flavour, tmp_path)
    result = run_analyze(flavour, tmp_path, "verify", "--man=no", "--recursive-errors=no", str(copy))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert about_our_unit(output, copy) == []


@needs_analyze
@pytest.mark.parametrize("flavour", FLAVOURS.values(), ids=FLAVOURS.keys())
def test_verify_check_catches_directives_systemd_would_ignore(flavour: Flavour, tmp_path: Path) -> None:
    """verify exits 0 on a typo'd or unparsable directive; only its warnings reveal the mistake."""
    copy = installable_copy(flavour, tmp_path, extra="[Service]\nProtectSystm=strict\nWatchdogSec=soon\n")
    result = run_analyze(flavour, tmp_path, "verify", "--man=no", "--recursive-errors=no", str(copy))
    flagged = about_our_unit(result.stdout + result.stderr, copy)
    assert any("ProtectSystm" in line for line in flagged), flagged
    assert any("soon" in line for line in flagged), flagged


# Measured with systemd 252 (see systemd/README.md): 1.1 for the system unit and 1.9 for the
# user unit (whose offline score counts "no User=" as root). The ceilings leave room for
# newer systemd versions adding checks, not for dropping hardening.
EXPOSURE_CEILING = {"system": 1.5, "user": 2.3}


@needs_analyze
@pytest.mark.parametrize("flavour", FLAVOURS.values(), ids=FLAVOURS.keys())
def test_security_exposure_stays_low(flavour: Flavour, tmp_path: Path) -> None:
    name = next(key for key, value in FLAVOURS.items() if value is flavour)
    result = run_analyze(flavour, tmp_path, "security", "--offline=yes", "--no-pager", str(flavour.source))
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= EXPOSURE_CEILING[name], result.stdout
