"""Send workers (issue 19): a burst shared by spawned processes, against real local receivers.

What the daemon gains is measured in bench/fire_lag.py; here, what must hold whoever sends:
every send arrives once with its content, each result is judged and in its batch's order,
no secret reaches a result, small batches and drop-in plugins stay in-process, a worker that
dies loses nothing, and no worker outlives its daemon.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scheduler.adapters.notify import Channels, load_channels, pool
from scheduler.domain.messages import Action, Message
from scheduler.startup import SEND_THREADS, SEND_WORKERS_FROM, start_send_workers
from tests.support.processes import alive, send_workers
from tests.support.receivers import Receiver, closed_port

LINK_KEY = b"k" * 32
TIMEOUT = 5.0
ROOT = Path(__file__).resolve().parents[1]


def load(urls: Mapping[str, Sequence[str]], plugin_paths: Sequence[Path] = ()) -> Channels:
    return load_channels(
        config_file=None, urls=urls, plugin_paths=plugin_paths, credentials_dir=None, link_key=LINK_KEY
    )


def running() -> pool.SendPool | None:
    """This process's send workers, if started."""
    return pool._Current.pool


def wait_ready(seconds: float = 60.0) -> pool.SendPool:
    deadline = time.monotonic() + seconds
    while pool._Current.pool is None or not pool._Current.pool.ready:
        assert time.monotonic() < deadline, "the send workers did not start"
        time.sleep(0.05)
    return pool._Current.pool


@pytest.fixture
def workers() -> Iterator[pool.SendPool]:
    """Two send workers, started and ready; stopped after the test."""
    pool.start_send_pool(2, SEND_THREADS)
    try:
        yield wait_ready()
    finally:
        pool.stop_send_pool()


def burst(count: int, prefix: str = "nudge") -> list[Message]:
    return [Message(title=f"{prefix}-{n:03d}", body=f"body of {n}") for n in range(count)]


def test_a_burst_goes_through_the_workers_and_arrives_once_each(
    receiver: Receiver, workers: pool.SendPool, apprise_builds: list[object]
) -> None:
    channels = load({"alex": [receiver.url("hook")]})
    messages = burst(pool.POOL_MIN_SENDS + 8)

    results = channels.send(list(channels) * len(messages), messages, timeout=TIMEOUT)

    assert [r.ok for r in results] == [True] * len(messages)
    assert sorted(r.title for r in receiver.requests) == [m.title for m in messages]
    bodies = {r.title: r.body["message"] for r in receiver.requests}
    assert bodies["nudge-007"] == "body of 7"
    assert apprise_builds == []  # nothing of it was sent from this process
    assert all(r.target == channels.channels[0].target for r in results)


def test_each_result_is_judged_in_the_worker_and_kept_in_the_batch_order(
    receiver: Receiver, workers: pool.SendPool
) -> None:
    refused = f"json://127.0.0.1:{closed_port()}/"
    channels = load(
        {
            "alex": [receiver.url("fine")],
            "sam": [receiver.url("status/503")],
            "kim": [receiver.url("status/404")],
            "lee": [refused],
        }
    )
    by_person = {person: channels.select([person])[0] for person in ("alex", "sam", "kim", "lee")}
    order = ["alex", "sam", "kim", "lee"] * 10
    messages = burst(len(order))

    results = channels.send([by_person[p] for p in order], messages, timeout=TIMEOUT)

    for person, result in zip(order, results, strict=True):
        assert result.target == by_person[person].target
        if person == "alex":
            assert (result.ok, result.error) == (True, "")
        elif person == "sam":
            assert (result.ok, result.permanent, result.http_status) == (False, False, 503)
            assert "error=503" in result.error
        elif person == "kim":
            assert (result.ok, result.permanent, result.http_status) == (False, True, 404)
        else:
            assert (result.ok, result.permanent) == (False, False)
            assert "refused" in result.error.lower()
        assert "\n" not in result.error
    assert receiver.paths().count("/fine") == 10


def test_no_secret_of_a_channel_comes_back_from_a_worker(receiver: Receiver, workers: pool.SendPool) -> None:
    channels = load({"alex": [f"json://alex:s3cretpass@127.0.0.1:{receiver.port}/status/401"]})
    messages = burst(pool.POOL_MIN_SENDS)

    results = channels.send(list(channels) * len(messages), messages, timeout=TIMEOUT)

    assert all(not r.ok and r.permanent for r in results)
    assert all("s3cretpass" not in f"{r.error} {r.masked_url}" for r in results)
    assert len(receiver.requests) == len(messages)


def test_ntfy_buttons_and_tags_are_built_in_the_worker(receiver: Receiver, workers: pool.SendPool) -> None:
    channels = load({"alex": [receiver.url("topic", scheme="ntfy")]})
    done = Action("Done", "https://ritual.example/d/abc123")
    messages = [
        Message(title=f"hug-{n:02d}", body="Hug", actions=(done,), tag=f"nudge-{n}")
        for n in range(pool.POOL_MIN_SENDS)
    ]

    results = channels.send(list(channels) * len(messages), messages, timeout=TIMEOUT)

    assert all(r.ok for r in results)
    assert len(receiver.requests) == len(messages)
    for request in receiver.requests:
        assert (
            request.headers["X-Actions"]
            == "http, Done, https://ritual.example/d/abc123, method=POST, clear=true"
        )
        number = request.body["title"].removeprefix("hug-").lstrip("0") or "0"
        assert f"nudge-{number}" in request.headers["X-Tags"]


def test_a_small_batch_and_a_drop_in_plugin_are_sent_in_process(
    receiver: Receiver, workers: pool.SendPool, apprise_builds: list[object], tmp_path: Path
) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "jot.py").write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path
            from apprise.decorators import notify

            @notify(on="jot")
            def jot(body, title, notify_type, *args, **kwargs):
                with open({str(tmp_path / "jot.txt")!r}, "a") as out:
                    out.write(title + "\\n")
                return True
            """
        )
    )
    channels = load({"alex": [receiver.url("hook")], "sam": ["jot://here"]}, plugin_paths=[folder])
    hook, jot = channels.select(["alex"])[0], channels.select(["sam"])[0]

    small = burst(pool.POOL_MIN_SENDS - 1, "small")
    assert all(r.ok for r in channels.send([hook] * len(small), small, timeout=TIMEOUT))
    assert len(apprise_builds) == 1  # the hook's one Apprise object, here

    plugin_burst = burst(pool.POOL_MIN_SENDS + 1, "jot")
    results = channels.send([jot] * len(plugin_burst), plugin_burst, timeout=TIMEOUT)
    assert all(r.ok for r in results), results[0]
    lines = (tmp_path / "jot.txt").read_text().splitlines()
    assert sorted(lines) == [m.title for m in plugin_burst]  # written by this process's plugin


def test_a_killed_worker_loses_no_send_and_the_next_burst_has_workers_again(
    receiver: Receiver, workers: pool.SendPool
) -> None:
    channels = load({"alex": [receiver.url("hook")]})
    children = send_workers(os.getpid())
    assert len(children) >= 2
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    first = burst(pool.POOL_MIN_SENDS, "first")

    results = channels.send(list(channels) * len(first), first, timeout=TIMEOUT)

    # Each send either went out in-process after all or failed as transient (the outbox retries it).
    assert all(r.ok or not r.permanent for r in results)
    arrived = {r.title for r in receiver.requests}
    assert {m.title for m, r in zip(first, results, strict=True) if r.ok} <= arrived
    second = burst(pool.POOL_MIN_SENDS, "second")
    channels.send(list(channels) * len(second), second, timeout=TIMEOUT)  # starts them again
    wait_ready()
    third = burst(pool.POOL_MIN_SENDS, "third")
    assert all(r.ok for r in channels.send(list(channels) * len(third), third, timeout=TIMEOUT))
    assert sorted(r.title for r in receiver.requests if r.title.startswith("third")) == [
        m.title for m in third
    ]


ORPHAN_PARENT = """
import os, sys, time
from scheduler.adapters.notify.pool import _Current, start_send_pool

if __name__ == "__main__":
    start_send_pool(2, 4)
    while _Current.pool is None or not _Current.pool.ready:
        time.sleep(0.05)
    print("ready", flush=True)
    time.sleep(60)
"""


def test_the_workers_end_when_their_daemon_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(ORPHAN_PARENT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env
    ) as parent:
        try:
            assert parent.stdout is not None
            assert parent.stdout.readline().strip() == "ready"
            children = send_workers(parent.pid)
            assert len(children) >= 2
            parent.send_signal(signal.SIGKILL)
            parent.wait(10)
            deadline = time.monotonic() + 10
            while any(alive(pid) for pid in children) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not [pid for pid in children if alive(pid)]
        finally:
            if parent.poll() is None:
                parent.kill()


@pytest.mark.parametrize(
    ("setting", "rituals", "workers", "started"),
    [
        (None, SEND_WORKERS_FROM, os.cpu_count(), True),
        (None, SEND_WORKERS_FROM - 1, os.cpu_count(), False),
        (0, 10_000, 0, False),
        (1, 0, 1, True),
    ],
    ids=["default-many-rituals", "default-few-rituals", "off", "one-set"],
)
def test_how_many_workers_the_daemon_starts(
    setting: int | None, rituals: int, workers: int | None, started: bool
) -> None:
    if setting is None and (os.cpu_count() or 1) < 2:
        pytest.skip("one core: the default starts no send workers")
    try:
        start_send_workers(setting, rituals)
        assert pool._Current.workers == workers
        assert (pool._Current.pool is not None) is started
    finally:
        pool.stop_send_pool()
    assert pool._Current.pool is None and pool._Current.workers == 0


def test_by_default_the_first_burst_starts_the_workers_and_a_handful_never_does(
    receiver: Receiver, apprise_builds: list[object]
) -> None:
    channels = load({"alex": [receiver.url("hook")]})
    try:
        pool.start_send_pool(2, SEND_THREADS, now=False)  # the default below SEND_WORKERS_FROM rituals
        handful = burst(pool.POOL_MIN_SENDS - 1, "handful")
        assert all(r.ok for r in channels.send(list(channels) * len(handful), handful, timeout=TIMEOUT))
        assert running() is None

        first = burst(pool.POOL_MIN_SENDS, "first")
        assert all(r.ok for r in channels.send(list(channels) * len(first), first, timeout=TIMEOUT))
        assert running() is not None  # started by it, for the next burst
        wait_ready()
        built = len(apprise_builds)
        second = burst(pool.POOL_MIN_SENDS, "second")
        assert all(r.ok for r in channels.send(list(channels) * len(second), second, timeout=TIMEOUT))
        assert len(apprise_builds) == built  # the workers sent it
        assert len(receiver.requests) == len(handful) + len(first) + len(second)
    finally:
        pool.stop_send_pool()


@pytest.mark.parametrize(
    ("channel", "rituals", "started"),
    [
        (True, SEND_WORKERS_FROM, True),
        (False, SEND_WORKERS_FROM, False),
        (True, SEND_WORKERS_FROM - 1, False),
    ],
    ids=["many-rituals-and-a-channel", "no-channel", "few-rituals"],
)
def test_the_daemon_starts_its_workers_with_itself_only_for_many_rituals_and_a_channel(
    tmp_path: Path, receiver: Receiver, channel: bool, rituals: int, started: bool
) -> None:
    from scheduler.adapters.clock import FakeClock
    from scheduler.adapters.daemon import LinkHooks
    from scheduler.adapters.store import SqlStore
    from scheduler.app.stored import RitualSource
    from scheduler.domain.definitions import ritual_from_table
    from scheduler.settings import Settings
    from scheduler.wiring import SettingsRuntime

    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: the default starts no send workers")
    now = datetime(2031, 5, 6, 9, 0, tzinfo=UTC)
    people = {"alex": [receiver.url("hook")]} if channel else {}
    settings = Settings(
        config_dir=tmp_path / "config",
        data_dir=tmp_path / "data",
        timezone="UTC",
        http_bind="off",
        people=people,
    )
    store = SqlStore.open(settings.database)
    for n in range(rituals):
        ritual = ritual_from_table({"name": f"r{n:03d}", "at": "09:00", "timezone": "UTC"})
        store.save_ritual(ritual, RitualSource.CLI, now=now, effective_from=now.date())
    store.close()
    runtime = SettingsRuntime(lambda: settings, clock=FakeClock(now))
    runtime.start(LinkHooks(snooze=lambda _id, _person: None, done=lambda _id: None))
    try:
        assert (running() is not None) is started
    finally:
        runtime.stop()
    assert running() is None
