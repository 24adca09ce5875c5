"""Settings: where values come from, what wins, and errors that name the option and place."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scheduler.domain.errors import SettingsError
from scheduler.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "settings.example.toml"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    monkeypatch.setenv("RITUAL_CONFIG_DIR", str(folder))
    monkeypatch.setenv("RITUAL_DATA_DIR", str(tmp_path / "data"))
    for name in ("RITUAL_TIMEZONE", "RITUAL_DATABASE_URL", "RITUAL_DIGEST_ON", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    return folder


def test_the_packaged_settings_example_is_the_documented_one() -> None:
    packaged = ROOT / "scheduler" / "examples" / "settings.example.toml"
    assert packaged.read_bytes() == EXAMPLE.read_bytes()


def test_every_setting_the_example_documents_is_valid_when_uncommented(config: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    # "# key = value" and the "# [people.NAME]" tables with their "# key = ..." lines.
    uncommented = re.sub(r"^# (\[?[a-z_.]+\]? ?(=.*)?)$", r"\1", text, flags=re.M)
    assert uncommented.count("\n# ") < text.count("\n# ")
    (config / "settings.toml").write_text(uncommented, encoding="utf-8")
    settings = load_settings()
    assert settings.timezone == "Europe/Berlin"
    assert settings.digest_to == ["couple"]
    assert set(settings.people) == {"alex", "sam"}
    assert settings.me == "alex"
    alex = settings.household.get("alex")
    assert alex is not None and (alex.shown, alex.timezone) == ("Alex", "Europe/Berlin")
    assert "ntfy.example.lan" not in repr(settings)
    home = settings.home_assistant
    assert home is not None and home.masked == "mqtt://homeserver.lan:1883"
    assert (home.discovery_prefix, home.node_id) == ("homeassistant", "ritual_scheduler")
    assert "PASSWORD" not in repr(settings)


def test_environment_beats_dotenv_beats_the_settings_file(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (config / "settings.toml").write_text('timezone = "Asia/Tokyo"\nsend_timeout = 5\ndigest_at = "09:00"\n')
    (config / ".env").write_text("RITUAL_TIMEZONE=America/New_York\nRITUAL_SEND_TIMEOUT=7\n")
    monkeypatch.setenv("RITUAL_TIMEZONE", "Europe/Lisbon")
    settings = load_settings()
    assert (settings.timezone, settings.send_timeout, settings.digest_at) == ("Europe/Lisbon", 7.0, "09:00")


@pytest.mark.parametrize(
    ("where", "text", "message"),
    [
        ("file", 'digest_on = "fryday"\n', "settings.toml:1: digest_on: unknown weekday 'fryday'"),
        ("file", 'max_age = "soon"\n', "settings.toml:1: max_age: not a duration: 'soon'"),
        ("file", "send_timeout = 0\n", "settings.toml:1: send_timeout: Input should be greater than 0"),
        ("file", "timezone = \n", "settings.toml:1: not valid TOML"),
        (
            "file",
            'timezone = "UTC"\nx = ' + "[" * 600 + "]" * 600 + "\n",
            "settings.toml:2: arrays or tables nested more than 32 deep",
        ),
        (
            "file",
            "x = " + "{a = " * 40 + "1" + "}" * 40 + "\n",
            "settings.toml:1: arrays or tables nested more than 32 deep",
        ),
        (
            "file",
            '[people.alex]\nname = "Alex"\n\n[people.sam]\nquiet_hours = "22-7"\n',
            "settings.toml:5: people.sam.quiet_hours: not a time of day: '22' (use HH:MM, 24-hour)",
        ),
        ("file", '[people.sam]\ncolour = "blue"\n', "settings.toml:2: people.sam: unknown option 'colour'"),
        (
            "file",
            '[people.sam]\nname = "Sam"\nme = "sam"\n',
            "settings.toml:3: people.sam: unknown option 'me' (TOML puts every key after [people.sam]"
            " in that table: move it above)",
        ),
        (
            "file",
            'me = "alexx"\n[people.alex]\n[people.sam]\n',
            "settings.toml:1: me: unknown person 'alexx' (the household: alex, sam)",
        ),
        ("file", '[people]\nalex = ["ntfy://h/t", 2]\n', "settings.toml:2: people.alex[1]: Input should be"),
        (
            "file",
            '[people]\nalex = "ntfy://h/t"\n',
            "settings.toml:2: people.alex: must be a [people.NAME] table or a list of Apprise URLs",
        ),
        ("env", "Mars/Base", "RITUAL_TIMEZONE: unknown time zone 'Mars/Base'"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(
    config: Path, monkeypatch: pytest.MonkeyPatch, where: str, text: str, message: str
) -> None:
    if where == "file":
        (config / "settings.toml").write_text(text)
    else:
        monkeypatch.setenv("RITUAL_TIMEZONE", text)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_lock_sits_beside_the_sqlite_file(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings().lock_path == tmp_path / "data" / "ritual.lock"
    monkeypatch.setenv("RITUAL_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere' / 'house.db'}")
    assert load_settings().lock_path == tmp_path / "elsewhere" / "house.lock"
