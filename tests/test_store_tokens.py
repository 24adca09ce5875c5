"""API tokens in the store: only hashes are kept, revoked tokens stop working, upgrades keep them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from scheduler.adapters.store import SqlStore, migrate
from scheduler.adapters.store.engine import parse_url
from scheduler.app.stored import ApiTokenRecord, api_token_hash
from scheduler.domain.errors import ConflictError
from tests.support.store import raw_engine, stamped

NOW = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=3)
HOME_ASSISTANT = api_token_hash("rt_home-assistant-secret")
PHONE = api_token_hash("rt_phone-secret")


def test_a_created_token_is_found_by_its_hash(store: SqlStore) -> None:
    created = store.create_api_token("home-assistant", HOME_ASSISTANT, now=NOW)
    assert created == ApiTokenRecord(
        id=created.id,
        name="home-assistant",
        token_hash=HOME_ASSISTANT,
        created_at=NOW,
        revoked_at=None,
        last_used_at=None,
    )
    assert created.active
    assert store.find_api_token(HOME_ASSISTANT) == created
    assert store.find_api_token(PHONE) is None


def test_the_token_itself_is_never_stored(store: SqlStore, store_url: str) -> None:
    store.create_api_token("phone", PHONE, now=NOW)
    with raw_engine(store_url) as engine, engine.connect() as connection:
        stored = connection.execute(text("SELECT name, token_hash FROM api_token")).all()
    assert [tuple(row) for row in stored] == [("phone", PHONE)]
    assert "rt_phone-secret" not in repr(stored)
    assert hashlib.sha256(b"rt_phone-secret").hexdigest() == PHONE


def test_using_a_token_stamps_last_used(store: SqlStore) -> None:
    created = store.create_api_token("phone", PHONE, now=NOW)
    store.touch_api_token(created.id, now=LATER)
    found = store.find_api_token(PHONE)
    assert found is not None
    assert (found.created_at, found.last_used_at) == (NOW, LATER)


def test_a_revoked_token_is_not_found_but_still_listed(store: SqlStore) -> None:
    store.create_api_token("phone", PHONE, now=NOW)
    store.create_api_token("home-assistant", HOME_ASSISTANT, now=NOW)
    assert store.revoke_api_token("phone", now=LATER) is True
    assert store.find_api_token(PHONE) is None
    assert store.find_api_token(HOME_ASSISTANT) is not None
    listed = {(t.name, t.revoked_at) for t in store.api_tokens()}
    assert listed == {("home-assistant", None), ("phone", LATER)}
    assert [t.name for t in store.api_tokens(include_revoked=False)] == ["home-assistant"]


@pytest.mark.parametrize(
    ("existing", "revoke"),
    [
        pytest.param([], "phone", id="no-token-of-that-name"),
        pytest.param(["phone"], "phone-2", id="other-name"),
    ],
)
def test_revoking_what_is_not_active_says_so(store: SqlStore, existing: list[str], revoke: str) -> None:
    for name in existing:
        store.create_api_token(name, api_token_hash(name), now=NOW)
    assert store.revoke_api_token(revoke, now=LATER) is False
    assert all(t.active for t in store.api_tokens())


def test_revoking_twice_is_false_the_second_time(store: SqlStore) -> None:
    store.create_api_token("phone", PHONE, now=NOW)
    assert store.revoke_api_token("phone", now=LATER) is True
    assert store.revoke_api_token("phone", now=LATER) is False


def test_an_active_name_cannot_be_given_twice(store: SqlStore) -> None:
    store.create_api_token("phone", PHONE, now=NOW)
    with pytest.raises(ConflictError, match="an active token named 'phone' exists"):
        store.create_api_token("phone", HOME_ASSISTANT, now=NOW)
    assert [t.token_hash for t in store.api_tokens()] == [PHONE]


def test_a_revoked_name_can_be_given_again(store: SqlStore) -> None:
    store.create_api_token("phone", PHONE, now=NOW)
    store.revoke_api_token("phone", now=LATER)
    renewed = store.create_api_token("phone", HOME_ASSISTANT, now=LATER)
    assert store.find_api_token(HOME_ASSISTANT) == renewed
    assert store.find_api_token(PHONE) is None
    assert [(t.name, t.active) for t in store.api_tokens()] == [("phone", False), ("phone", True)]


def test_the_same_hash_cannot_be_stored_twice(store: SqlStore) -> None:
    store.create_api_token("phone", PHONE, now=NOW)
    with pytest.raises(ConflictError, match="'tablet'"):
        store.create_api_token("tablet", PHONE, now=NOW)
    assert [t.name for t in store.api_tokens()] == ["phone"]


def test_naive_times_are_refused(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.create_api_token("phone", PHONE, now=NOW.replace(tzinfo=None))


def test_upgrading_from_0002_keeps_data_and_adds_an_empty_token_table(store_url: str) -> None:
    with raw_engine(store_url) as engine:
        migrate.upgrade(engine, parse_url(store_url), "0002")
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO meta (key, value) VALUES ('kept', 'yes')"))
    upgraded = SqlStore.open(store_url)
    try:
        assert stamped(store_url) == {migrate.HEAD}
        assert upgraded.get_meta("kept") == "yes"
        assert upgraded.api_tokens() == []
        upgraded.create_api_token("phone", PHONE, now=NOW)
        assert upgraded.find_api_token(PHONE) is not None
    finally:
        upgraded.close()
