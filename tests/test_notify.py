"""The notifier against real receivers: local HTTP servers speaking Apprise's json:// and ntfy://.

No mock of Apprise: every nudge leaves through Apprise and arrives over a socket, a drop-in
plugin file, or the shipped journal/desktop plugins. Secrets are checked everywhere they could
surface: errors, results, channel reprs and the captured log.
"""

from __future__ import annotations

import asyncio
import json
import logging
import textwrap
import zlib
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from scheduler.adapters.notify import (
    Channel,
    ChannelConfigError,
    Channels,
    SendResult,
    UnknownRecipientError,
    find_config_file,
    load_channels,
    send_all,
    send_one,
)
from scheduler.domain.messages import (
    DISCREET_TITLE,
    Action,
    Message,
    format_delay,
    render_message,
)
from scheduler.domain.reminders import NudgeKind
from tests.support.receivers import Receiver, StartReceiver, closed_port

SHIPPED_PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
TIMEOUT = 0.5
SECRET = "s3cret"
LINK_KEY = b"k" * 32


def load(
    urls: Mapping[str, Sequence[str]] | None = None,
    *,
    config_file: Path | None = None,
    plugin_paths: Sequence[Path] = (),
    credentials_dir: Path | None = None,
    strict: bool = True,
) -> Channels:
    return load_channels(
        config_file=config_file,
        urls=urls or {},
        plugin_paths=plugin_paths,
        credentials_dir=credentials_dir,
        link_key=LINK_KEY,
        strict=strict,
    )


def send(channels: Sequence[Channel], message: Message, timeout: float = TIMEOUT) -> list[SendResult]:
    return asyncio.run(send_all(channels, message, timeout=timeout))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


TALK = render_message(
    title="20 minutes, phones away",
    description="Sit together and talk.",
    streak=12,
    at_risk=True,
)


# --- content arrives -------------------------------------------------------------------------------


def test_json_and_ntfy_receivers_get_the_title_and_body(receiver: Receiver) -> None:
    channels = load({"couple": [receiver.url("hook"), receiver.url("rituals", scheme="ntfy")]})

    results = send(list(channels), TALK)

    assert [r.ok for r in results] == [True, True], results
    by_path = {r.path: r.body for r in receiver.requests}
    assert by_path["/hook"]["title"] == "20 minutes, phones away"
    assert "Sit together and talk." in by_path["/hook"]["message"]
    assert "Streak: day 12 in a row." in by_path["/hook"]["message"]
    # ntfy:// is plain http (ntfys:// is https); the topic travels in the JSON body.
    assert by_path["/"]["topic"] == "rituals"
    assert by_path["/"]["title"] == "20 minutes, phones away"
    assert "Keep your 12-day streak going" in by_path["/"]["message"]


@pytest.mark.parametrize("scheme", ["json", "ntfy"])
def test_discreet_mode_keeps_the_ritual_off_the_lock_screen(receiver: Receiver, scheme: str) -> None:
    channels = load({"alice": [receiver.url("topic", scheme=scheme)]})
    message = render_message(title="Date night", description="Candles at 19:00", streak=3, discreet=True)

    [result] = send(list(channels), message)

    assert result.ok
    [got] = receiver.requests
    assert got.body["title"] == DISCREET_TITLE
    text = json.dumps(got.body)
    assert "Date night" not in text
    assert "Candles" not in text
    assert "Streak" not in text


@pytest.mark.parametrize(
    ("names", "reached"),
    [
        (["alice"], {"alice"}),
        (["bob"], {"bob"}),
        (["couple"], {"alice", "bob"}),  # a group tag from the config file
        (["alice", "couple"], {"alice", "bob"}),  # each channel once
        (["all"], {"alice", "bob"}),
    ],
    ids=["alice-only", "bob-only", "group-reaches-both", "overlap-sends-once", "all"],
)
def test_tags_route_people_to_their_own_receivers(
    receivers: StartReceiver, tmp_path: Path, names: list[str], reached: set[str]
) -> None:
    alice, bob = receivers(), receivers()
    config = write(
        tmp_path / "apprise.txt",
        f"""
        # one line per person; couple is a group of both
        alice={alice.url("alice")}
        bob={bob.url("bob", scheme="ntfy")}
        couple=alice,bob
        """,
    )
    channels = load(config_file=config)

    results = send(channels.select(names), TALK)

    assert all(r.ok for r in results)
    got = {"alice"} if alice.requests else set()
    got |= {"bob"} if bob.requests else set()
    assert got == reached
    assert len(alice.requests) <= 1
    assert len(bob.requests) <= 1


def test_actions_are_ntfy_buttons_and_links_elsewhere(receiver: Receiver) -> None:
    channels = load({"alice": [receiver.url("topic", scheme="ntfy"), receiver.url("hook")]})
    done = Action("Done", "https://ritual.example/d/abc123")
    snooze = Action("Snooze, 1 h", "https://ritual.example/s/abc123", method="GET")
    message = render_message(title="Hug", actions=[done, snooze])

    assert all(r.ok for r in send(list(channels), message))

    by_path = {r.path: r for r in receiver.requests}
    ntfy, hook = by_path["/"], by_path["/hook"]
    assert ntfy.headers["X-Actions"] == (
        "http, Done, https://ritual.example/d/abc123, method=POST, clear=true; "
        'view, "Snooze, 1 h", https://ritual.example/s/abc123'
    )
    assert "https://ritual.example" not in ntfy.body["message"]
    assert hook.body["message"].endswith(
        "Done: https://ritual.example/d/abc123\nSnooze, 1 h: https://ritual.example/s/abc123"
    )


# --- failures: permanent or transient --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "permanent", "status"),
    [
        ("status/503", False, 503),
        ("status/500", False, 500),
        ("status/429", False, 429),
        ("status/408", False, 408),
        ("status/401", True, 401),
        ("status/403", True, 403),
        ("status/404", True, 404),
    ],
    ids=[
        "503-unavailable-retry",
        "500-server-error-retry",
        "429-rate-limited-retry",
        "408-request-timeout-retry",
        "401-bad-credentials-give-up",
        "403-forbidden-give-up",
        "404-wrong-url-give-up",
    ],
)
def test_http_answers_are_classified(receiver: Receiver, path: str, permanent: bool, status: int) -> None:
    channels = load({"alice": [receiver.url(path)]})

    [result] = send(list(channels), TALK)

    assert not result.ok
    assert result.permanent is permanent
    assert result.http_status == status
    assert f"error={status}" in result.error
    assert "\n" not in result.error
    assert len(receiver.requests) == 1  # Apprise itself does not retry: the outbox does


def test_connection_refused_is_transient() -> None:
    channels = load({"alice": [f"json://127.0.0.1:{closed_port()}/"]})

    [result] = send(list(channels), TALK)

    assert (result.ok, result.permanent) == (False, False)
    assert "connection" in result.error.lower()
    assert "refused" in result.error.lower()


def test_a_slow_channel_times_out_without_delaying_the_others(receiver: Receiver) -> None:
    channels = load({"alice": [receiver.url("slow")], "bob": [receiver.url("fast")]})
    slow, fast = channels.select(["alice"])[0], channels.select(["bob"])[0]

    async def both_timed() -> tuple[list[SendResult], float, float]:
        started = asyncio.get_running_loop().time()
        results = await send_all([slow, fast], TALK, timeout=TIMEOUT)
        return results, started, asyncio.get_running_loop().time() - started

    (slow_result, fast_result), started, total = asyncio.run(both_timed())
    arrived = {r.path: r.at - started for r in receiver.requests}

    assert fast_result.ok
    assert arrived["/fast"] < TIMEOUT / 2  # delivered while the slow one was still waiting
    assert fast_result.elapsed < TIMEOUT / 2
    assert (slow_result.ok, slow_result.permanent) == (False, False)
    assert slow_result.error == "no answer within 0.5 s"
    assert TIMEOUT <= slow_result.elapsed < TIMEOUT + 0.5
    assert total < TIMEOUT + 0.5  # concurrent: about one timeout, not the sum
    assert set(receiver.paths()) == {"/slow", "/fast"}


def test_send_one_reports_one_result_for_one_channel(receiver: Receiver) -> None:
    [channel] = load({"alice": [receiver.url("one")]})

    result = asyncio.run(send_one(channel, TALK, timeout=TIMEOUT))

    assert result.ok
    assert result.target == channel.target
    assert result.masked_url == channel.masked
    assert receiver.paths() == ["/one"]


def test_a_channel_builds_its_apprise_object_once_and_a_failure_is_still_judged_per_send(
    receiver: Receiver, apprise_builds: list[object]
) -> None:
    ok, failing = load({"alice": [receiver.url("one")], "bob": [receiver.url("status/503")]})

    results = [send([ok, failing], TALK) for _ in range(3)]

    assert len(apprise_builds) == 2  # one per channel, not one per send
    assert [[r.ok for r in pair] for pair in results] == [[True, False]] * 3
    assert all(pair[1].http_status == 503 and not pair[1].permanent for pair in results)
    assert receiver.paths().count("/one") == 3


# --- plugins ---------------------------------------------------------------------------------------


def test_a_plugin_file_dropped_in_a_folder_receives_the_nudge(tmp_path: Path) -> None:
    out = tmp_path / "catcher.out"
    write(
        tmp_path / "plugins" / "catcher.py",
        f"""
        from apprise.decorators import notify

        @notify(on="nudgecatcher", name="Test catcher")
        def catch(body, title, notify_type, meta, *args, **kwargs):
            with open({str(out)!r}, "a", encoding="utf-8") as handle:
                handle.write(title + "|" + body + "|" + meta["host"] + "\\n")
        """,
    )
    channels = load({"alice": ["nudgecatcher://kitchen"]}, plugin_paths=[tmp_path / "plugins"])

    [result] = send(list(channels), render_message(title="Hug", description="A long one."))

    assert result.ok, result
    assert out.read_text(encoding="utf-8") == "Hug|A long one.|kitchen\n"
    assert f"nudgecatcher ({tmp_path / 'plugins' / 'catcher.py'})" in channels.plugins
    assert channels.select(["alice"])[0].service == "Test catcher"


@pytest.mark.parametrize(
    ("code", "permanent", "error"),
    [
        ("log.warning('lamp bridge busy'); return False", False, "lamp bridge busy"),
        (
            "log.warning('permanent: blink-lamp is not installed'); return False",
            True,
            "blink-lamp is not installed",
        ),
        ("raise RuntimeError('permanent: no such room')", True, "no such room"),
        ("raise RuntimeError('bridge unreachable')", False, "bridge unreachable"),
        ("return False", False, "failed to send Lamp notification"),
    ],
    ids=["logged-transient", "logged-permanent", "raised-permanent", "raised-transient", "silent-false"],
)
def test_a_plugin_says_why_and_whether_to_retry(
    tmp_path: Path, code: str, permanent: bool, error: str
) -> None:
    scheme = f"lamp{zlib.crc32(code.encode())}"  # Apprise's registry is global: one scheme per case
    write(
        tmp_path / "plugins" / "lamp.py",
        f"""
        import logging
        from apprise.decorators import notify
        log = logging.getLogger("apprise")

        @notify(on="{scheme}", name="Lamp")
        def lamp(body, title, *args, **kwargs):
            {code}
        """,
    )
    channels = load({"me": [f"{scheme}://hallway"]}, plugin_paths=[tmp_path / "plugins"])

    [result] = send(list(channels), TALK)

    assert (result.ok, result.permanent) == (False, permanent)
    assert error in result.error


def test_the_journal_plugin_appends_one_line_per_nudge(tmp_path: Path) -> None:
    log = tmp_path / "nudges.log"
    channels = load({"me": [f"journal://{log}"]}, plugin_paths=[SHIPPED_PLUGINS])

    send(list(channels), render_message(title="Journal", description="Three lines.\nAbout today."))
    results = send(list(channels), render_message(title="Journal", streak=2))

    assert all(r.ok for r in results)
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    stamp, title, body = lines[0].split("\t")
    assert (title, body) == ("Journal", "Three lines. / About today.")
    assert stamp.endswith("+00:00")
    assert lines[1].endswith("\tJournal\tStreak: day 2 in a row.")


def test_the_journal_plugin_gives_up_on_a_missing_folder(tmp_path: Path) -> None:
    channels = load(
        {"me": [f"journal://{tmp_path}/no/such/folder/nudges.log"]}, plugin_paths=[SHIPPED_PLUGINS]
    )

    [result] = send(list(channels), TALK)

    assert (result.ok, result.permanent) == (False, True)
    assert result.error.startswith(f"cannot append to {tmp_path}/no/such/folder/nudges.log")


def test_the_desktop_plugin_calls_notify_send(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args_file = tmp_path / "args"
    fake = write(tmp_path / "bin" / "notify-send", f'#!/bin/sh\nprintf "%s\\n" "$@" > {args_file}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    channels = load({"me": ["desktop://?urgency=critical"]}, plugin_paths=[SHIPPED_PLUGINS])

    [result] = send(list(channels), render_message(title="Stretch", description="Two minutes."))

    assert result.ok, result
    assert args_file.read_text().splitlines() == [
        "--urgency=critical",
        "--app-name=ritual",
        "Stretch",
        "Two minutes.",
    ]


def test_the_desktop_plugin_without_notify_send_fails_permanently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to run here
    channels = load({"me": ["desktop://"]}, plugin_paths=[SHIPPED_PLUGINS])

    [result] = send(list(channels), TALK)

    assert (result.ok, result.permanent) == (False, True)
    assert result.error == "notify-send is not installed (apt install libnotify-bin)"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "import nosuch_ritual_dependency\n",
            "{file}: cannot import: no module named 'nosuch_ritual_dependency'",
        ),
        ("def broken(:\n    pass\n", "{file}:1: SyntaxError: invalid syntax"),
        ("x = 1\n", "{file}: no @notify(on=...) plugin in it"),
        (
            "from apprise.decorators import notify\n@notify(on='json')\ndef f(*a, **k):\n    return True\n",
            "{file}: scheme 'json' is already taken",
        ),
    ],
    ids=["import-error", "syntax-error", "no-plugin", "scheme-taken"],
)
def test_a_broken_plugin_file_is_named_in_one_line(tmp_path: Path, source: str, expected: str) -> None:
    plugin = write(tmp_path / "plugins" / "x.py", source)

    with pytest.raises(ChannelConfigError) as caught:
        load(plugin_paths=[plugin.parent])

    assert str(caught.value) == expected.format(file=plugin)


def test_entry_point_plugins_register_and_broken_ones_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    write(
        site / "ritual_ep_plugin.py",
        """
        from apprise.decorators import notify

        @notify(on="eptest")
        def send(body, title, *args, **kwargs):
            return True
        """,
    )
    write(site / "ritual_ep_demo-0.1.dist-info" / "METADATA", "Metadata-Version: 2.1\nName: ritual-ep-demo\n")
    write(
        site / "ritual_ep_demo-0.1.dist-info" / "entry_points.txt",
        """
        [ritual_scheduler.plugins]
        good = ritual_ep_plugin
        broken = ritual_ep_missing_module
        """,
    )
    monkeypatch.syspath_prepend(str(site))

    channels = load({"me": ["eptest://"]}, strict=False)

    assert "eptest (entry point good)" in channels.plugins
    assert channels.problems == (
        "plugin entry point 'broken' (ritual_ep_missing_module): "
        "ModuleNotFoundError: No module named 'ritual_ep_missing_module'",
    )
    assert all(r.ok for r in send(list(channels), TALK))


# --- configuration errors --------------------------------------------------------------------------


def disabled_scheme() -> str:
    """A scheme whose Apprise plugin is disabled here for a missing package (MQTT without paho)."""
    probe = load({"probe": [f"{s}://127.0.0.1/topic" for s in ("mqtt", "growl", "xmpp")]}, strict=False)
    for channel in probe:
        if channel.problem and " needs " in channel.problem:
            return channel.scheme
    pytest.skip("every probed Apprise plugin has its requirements installed")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "apprise.txt",
            """
            alice=json://127.0.0.1:1/
            bob=ntfyy://user:s3cret@127.0.0.1:1/
            """,
            "{path}:2: unknown scheme 'ntfyy' (ntfyy://****@127.0.0.1:1/)",
        ),
        (
            "apprise.txt",
            "alice=json://user:s3cret@127.0.0.1:1/?method=FETCH\n",
            "{path}:1: not a valid JSON URL (json://****@127.0.0.1:1/****): "
            "the method specified (FETCH) is invalid",
        ),
        (
            "apprise.yml",
            """
            version: 1
            urls:
              - json://127.0.0.1:1/:
                  tag: alice
              - ntfyy://user:s3cret@127.0.0.1:1/:
                  tag: bob
            """,
            "{path}:5: unknown scheme 'ntfyy' (ntfyy://****@127.0.0.1:1/)",
        ),
        (
            "apprise.yml",
            """
            urls:
              - json://user:s3cret@127.0.0.1:1/:
                  - tag: alice
                    method: FETCH
            """,
            "{path}:2: cannot load this entry: the method specified (FETCH) is invalid",
        ),
        (
            "apprise.yml",
            """
            urls:
              - json://user:s3cret@127.0.0.1:1/: [ {tag: alice
            """,
            "{path}:3: not valid YAML: expected ',' or '}}', but got '<stream end>'",
        ),
    ],
    ids=["txt-unknown-scheme", "txt-bad-option", "yaml-unknown-scheme", "yaml-bad-option", "yaml-syntax"],
)
def test_a_bad_config_line_is_named_without_the_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, text: str, expected: str
) -> None:
    caplog.set_level(logging.DEBUG)
    path = write(tmp_path / name, text)

    with pytest.raises(ChannelConfigError) as caught:
        load(config_file=path)

    assert str(caught.value) == expected.format(path=path)
    assert SECRET not in caplog.text


def test_a_missing_plugin_requirement_is_a_problem_and_a_permanent_failure(tmp_path: Path) -> None:
    scheme = disabled_scheme()
    path = write(tmp_path / "apprise.txt", f"alice={scheme}://user:s3cret@127.0.0.1/topic\n")

    with pytest.raises(ChannelConfigError, match=rf"^{path}:1: '{scheme}' needs .+ \(pip install it\)"):
        load(config_file=path)
    channels = load(config_file=path, strict=False)
    [result] = send(channels.select(["alice"]), TALK)

    assert (result.ok, result.permanent) == (False, True)
    assert f"'{scheme}' needs" in result.error


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "ntfyy://user:s3cret@127.0.0.1:1/",
            "people.alice[1]: unknown scheme 'ntfyy' (ntfyy://****@127.0.0.1:1/)",
        ),
        ("not a url s3cret", "people.alice[1]: not an Apprise URL (****)"),
        ("tgram://s3cret-token/", "people.alice[1]: not a valid Telegram URL (tgram://****/)"),
    ],
    ids=["unknown-scheme", "no-scheme", "unparseable"],
)
def test_a_bad_url_in_settings_is_named_by_person_and_position(url: str, expected: str) -> None:
    urls = {"alice": ["json://127.0.0.1:1/", url]}

    with pytest.raises(ChannelConfigError) as caught:
        load(urls)
    channels = load(urls, strict=False)
    [good, broken] = channels.select(["alice"])
    [result] = send([broken], TALK)

    assert str(caught.value) == expected
    assert good.problem is None
    assert (result.ok, result.permanent, result.error) == (False, True, expected.split(": ", 1)[1])


def test_selecting_an_unknown_person_names_them() -> None:
    channels = load({"alice": ["json://127.0.0.1:1/"], "bob": ["json://127.0.0.1:2/"]})

    with pytest.raises(UnknownRecipientError) as caught:
        channels.select(["alice", "Carol"])

    assert str(caught.value) == "no channel for person or tag 'carol' (known: alice, bob)"


# --- secrets ---------------------------------------------------------------------------------------


def test_no_secret_reaches_errors_results_reprs_or_logs(
    receiver: Receiver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = write(
        tmp_path / "apprise.txt",
        f"""
        alice={receiver.url("status/401", auth=f"user:{SECRET}@")}
        bob={receiver.url("topic", scheme="ntfy", auth=f"tk_{SECRET}token@")}?auth=token
        carol=ntfyy://user:{SECRET}@127.0.0.1:1/
        dave=json://user:{SECRET}@127.0.0.1:{closed_port()}/
        """,
    )
    channels = load(config_file=config, strict=False)

    results = send(list(channels), TALK)

    seen = [repr(channels), *map(repr, results), *channels.problems, *(c.masked for c in channels)]
    assert [r.ok for r in results] == [False, False, True, False]  # carol (bad scheme) is listed first
    assert caplog.text and "error=401" in caplog.text  # Apprise's lines were captured, scrubbed
    assert "Bearer ****" in caplog.text  # ntfy logs its headers at DEBUG
    for text in [caplog.text, *seen]:
        assert SECRET not in text
    assert receiver.requests[0].headers.get("Authorization") is not None  # the real one was sent
    assert all(SECRET in c.url.get_secret_value() for c in channels)


# --- loading sources -------------------------------------------------------------------------------


def test_credentials_settings_and_config_file_merge_by_target(receiver: Receiver, tmp_path: Path) -> None:
    shared = receiver.url("shared")
    config = write(tmp_path / "config" / "apprise.yml", f"urls:\n  - {shared}:\n      tag: alice\n")
    write(
        tmp_path / "credentials" / "apprise.yml",
        f"urls:\n  - {receiver.url('bob')}:\n      tag: bob\n",
    )

    channels = load({"couple": [shared]}, config_file=config, credentials_dir=tmp_path / "credentials")

    assert sorted(c.tags for c in channels) == [("alice", "couple"), ("bob",)]
    assert send(channels.select(["couple"]), TALK)[0].ok
    assert receiver.paths() == ["/shared"]


def test_a_config_file_named_twice_is_read_once(tmp_path: Path) -> None:
    credential = write(
        tmp_path / "credentials" / "apprise.yml", "urls:\n  - ntfyy://127.0.0.1/x:\n      tag: a\n"
    )

    with pytest.raises(ChannelConfigError) as caught:
        load(config_file=credential, credentials_dir=credential.parent)

    assert caught.value.problems == (f"{credential}:2: unknown scheme 'ntfyy' (ntfyy://127.0.0.1/****)",)


@pytest.mark.parametrize(
    ("present", "found"),
    [
        ((), None),
        (("apprise.txt",), "apprise.txt"),
        (("apprise.txt", "apprise.yml"), "apprise.yml"),
        (("apprise.yaml",), "apprise.yaml"),
    ],
    ids=["none", "text", "yaml-wins", "yaml-long-suffix"],
)
def test_find_config_file(tmp_path: Path, present: tuple[str, ...], found: str | None) -> None:
    for name in present:
        write(tmp_path / name, "")

    assert find_config_file(tmp_path) == (tmp_path / found if found else None)


def test_a_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ChannelConfigError, match=r"apprise\.yml: no such Apprise config file$"):
        load(config_file=tmp_path / "apprise.yml")


# --- messages --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "title", "body"),
    [
        ({"title": "Talk"}, "Talk", "It's time."),
        ({"title": "Talk", "streak": 1}, "Talk", "Streak: day 1."),
        ({"title": "Talk", "streak": 12}, "Talk", "Streak: day 12 in a row."),
        (
            {"title": "Date night", "streak": 3, "period": "week", "at_risk": True},
            "Date night",
            "Streak: week 3 in a row.\nKeep your 3-week streak going: it needs you this week.",
        ),
        ({"title": "Talk", "at_risk": True}, "Talk", "It's time."),
        ({"title": "Talk", "late_by": timedelta(minutes=25)}, "Talk", "(sent 25 min late)"),
        ({"title": "Talk", "late_by": timedelta(seconds=40)}, "Talk", "It's time."),
        (
            {"title": "Talk", "kind": NudgeKind.BEFORE, "description": "Book a table."},
            "Coming up: Talk",
            "Book a table.",
        ),
        ({"title": "Talk", "kind": NudgeKind.NAG}, "Still open: Talk", "There is still time today."),
        (
            {"title": "Talk", "description": "Phones away.", "streak": 5, "discreet": True},
            "Ritual time",
            "Time for one of your rituals.",
        ),
        (
            {
                "title": "Talk",
                "kind": NudgeKind.NAG,
                "discreet": True,
                "late_by": timedelta(hours=2, minutes=5),
            },
            "Ritual time",
            "One of your rituals is still open. (sent 2 h 5 min late)",
        ),
    ],
    ids=[
        "bare",
        "first-day",
        "streak",
        "weekly-at-risk",
        "no-risk-without-streak",
        "late",
        "late-under-a-minute",
        "heads-up",
        "nag",
        "discreet",
        "discreet-nag-late",
    ],
)
def test_render_message(facts: dict[str, Any], title: str, body: str) -> None:
    message = render_message(**facts)

    assert (message.title, message.body) == (title, body)


@pytest.mark.parametrize(
    ("body_format", "expected"),
    [
        ("text", "Go.\n\nDone: https://d\nSnooze: https://s"),
        ("markdown", "Go.\n\n[Done](https://d)\n[Snooze](https://s)"),
    ],
)
def test_links_are_appended_for_channels_without_buttons(body_format: Any, expected: str) -> None:
    message = Message("T", "Go.", body_format, (Action("Done", "https://d"), Action("Snooze", "https://s")))

    assert message.body_with_links() == expected
    assert Message("T", "Go.").body_with_links() == "Go."


@pytest.mark.parametrize(
    ("delay", "text"),
    [
        (timedelta(minutes=1), "1 min"),
        (timedelta(minutes=59, seconds=59), "59 min"),
        (timedelta(hours=1), "1 h"),
        (timedelta(hours=25), "1 d 1 h"),
        (timedelta(days=2), "2 d"),
    ],
)
def test_format_delay(delay: timedelta, text: str) -> None:
    assert format_delay(delay) == text


@given(
    title=st.text(min_size=4, max_size=40).filter(str.strip),
    description=st.text(max_size=80),
    streak=st.integers(min_value=0, max_value=10_000),
    kind=st.sampled_from(list(NudgeKind)),
)
def test_discreet_messages_never_carry_the_ritual(
    title: str, description: str, streak: int, kind: NudgeKind
) -> None:
    neutral = render_message(title="x", kind=kind, discreet=True)
    assume(title not in neutral.body and title not in DISCREET_TITLE)
    assume(not description.strip() or description.strip() not in neutral.body)

    message = render_message(title=title, description=description, streak=streak, kind=kind, discreet=True)

    assert message.title == DISCREET_TITLE
    assert title not in message.body
    assert not description.strip() or description.strip() not in message.body
    assert str(streak) not in message.body or str(streak) in neutral.body


def test_loading_the_same_plugin_folder_twice_is_clean() -> None:
    """A daemon reload loads the plugin folders again in the same process."""
    shipped = [Path(__file__).resolve().parents[1] / "plugins"]
    for _ in range(2):
        channels = load_channels(
            config_file=None, urls={}, plugin_paths=shipped, credentials_dir=None, link_key=LINK_KEY
        )
        assert channels.problems == ()
        assert {"desktop", "journal"} <= {plugin.split()[0] for plugin in channels.plugins}


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("ntfy://ntfy.example.lan/our-secret-topic?priority=high", "ntfy://ntfy.example.lan/…"),
        ("json://samuser:pw@127.0.0.1:18999/sam-secret-path", "json://****@127.0.0.1:18999/…"),
        ("tgram://123456:ABCdef/987654321", "tgram://1...f/…"),  # Apprise shortens the bot token
    ],
)
def test_a_channel_is_shown_by_its_service_and_host_only(url: str, shown: str) -> None:
    """An ntfy topic, a path or a chat id can be the only secret a channel has."""
    (channel,) = load({"alex": [url]})
    assert channel.masked == shown
    for secret in ("our-secret-topic", "sam-secret-path", "samuser", "ABCdef", "987654321"):
        assert secret not in channel.masked
