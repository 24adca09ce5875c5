"""`ritual notify-test`, `check` and `retry` against a real local receiver."""

from __future__ import annotations

from datetime import date

import pytest

from scheduler.adapters.store import SqlStore
from scheduler.app.stored import DeliveryStatus, OccurrenceKind, OccurrenceStatus
from scheduler.settings import load_settings
from tests.conftest import RitualCli
from tests.support.receivers import Receiver


@pytest.fixture
def wired(installed: RitualCli, receiver: Receiver) -> RitualCli:
    (installed.config / "apprise.txt").write_text(
        f"couple=json://127.0.0.1:{receiver.port}/\n", encoding="utf-8"
    )
    return installed


def test_notify_test_delivers_and_reports_each_channel(wired: RitualCli, receiver: Receiver) -> None:
    out = wired("notify-test").stdout.splitlines()
    assert out[0].split() == ["outcome", "reaches", "channel"]
    assert out[1].split()[:3] == ["ok", "couple", "json://127.0.0.1:" + str(receiver.port) + "/…"]
    assert [r["title"] for r in receiver.bodies()] == ["Ritual time (test)"]


def test_notify_test_to_an_unknown_person_is_refused(wired: RitualCli, receiver: Receiver) -> None:
    result = wired("notify-test", "--to", "carol", code=1)
    assert "no channel for person or tag 'carol'" in result.stderr
    assert receiver.bodies() == []


def test_notify_test_reports_a_dead_channel_and_exits_1(installed: RitualCli) -> None:
    (installed.config / "apprise.txt").write_text("couple=json://user:s3cret@127.0.0.1:9/\n")
    result = installed("notify-test", code=1)
    assert result.stdout.splitlines()[1].startswith("failed, would retry  couple   json://****@127.0.0.1:9/…")
    assert "s3cret" not in result.output


def test_check_lists_channels_and_flags_notify_names_without_one(wired: RitualCli) -> None:
    assert "channels: 1, reaching couple" in wired("check").stdout
    wired("add", "solo", "--at", "07:00", "--notify", "carol")
    result = wired("check", code=1)
    assert "ritual 'solo': notify names no channel: carol" in result.stderr


def use_env(wired: RitualCli, monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    """Point this process's environment at the installation, as the CLI runner does."""
    for key, value in {**wired.env, **extra}.items():
        if value:
            monkeypatch.setenv(key, value)
        else:
            monkeypatch.delenv(key, raising=False)


def test_retry_sends_a_failed_delivery_again(
    wired: RitualCli, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scheduler.wiring import load_household_channels

    use_env(wired, monkeypatch)
    settings = load_settings()
    (channel,) = load_household_channels(settings, strict=True)
    store = SqlStore.open(f"sqlite:///{wired.database}")
    stored = store.get_ritual("tech-free-talk")
    assert stored is not None
    now = wired.clock.now()
    occurrence, _ = store.claim_occurrence(
        stored.id, day=date(2026, 11, 24), slot="09:00", kind=OccurrenceKind.DUE, due_at=now,
        status=OccurrenceStatus.PENDING, now=now,
    )  # fmt: skip
    (row,) = store.add_deliveries(occurrence.id, [(f"couple {channel.masked}", channel.target)], now=now)
    store.finish_delivery(row.id, DeliveryStatus.FAILED, now=now, error="401: unauthorized")
    store.close()
    status = wired.json("status")
    assert [f["last_error"] for f in status["deliveries"]["failed"]] == ["401: unauthorized"]
    assert "retried 1 delivery; 0 still failed" in wired("retry").stdout
    assert [r["title"] for r in receiver.bodies()] == ["20 minutes, phones away"]
    assert wired.json("status")["deliveries"]["failed"] == []
    assert "nothing to retry" in wired("retry").stdout


def test_the_digest_reaches_a_real_receiver_with_the_week_in_it(
    wired: RitualCli, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scheduler.app.service import RitualService
    from scheduler.wiring import make_nudger

    wired("done", "tech-free-talk", "--date", "yesterday")
    use_env(wired, monkeypatch, RITUAL_DIGEST_ON="tue")
    settings = load_settings()
    store = SqlStore.open(f"sqlite:///{wired.database}")
    service = RitualService(store, wired.clock, ritual_file=settings.ritual_file_path, default_timezone="UTC")
    nudger = make_nudger(settings, service)
    wired.clock.set(wired.clock.now().replace(hour=17, minute=0))  # Tuesday 18:00 in Berlin
    assert [v.decision.value for v in nudger.handle_digest()] == ["send"]
    store.close()
    (digest,) = receiver.bodies()
    assert str(digest["title"]).startswith("Your week of rituals")
    assert "20 minutes, phones away" in str(digest["message"])
