"""Shared fixtures. Store tests are a contract suite: they run once per backend in ``store_url``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.store import Store


@pytest.fixture(params=["sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database, one per test (PostgreSQL joins as another param later)."""
    assert request.param == "sqlite"
    return f"sqlite:///{tmp_path / 'state' / 'ritual.db'}"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store.open(store_url)
    yield opened
    opened.close()
