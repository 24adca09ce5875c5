"""Shared knobs of the reliability scenarios (issue 8).

Every scenario is marked ``slow`` and runs small by default, so CI stays quick;
``RITUAL_SCENARIO_SCALE=full`` raises the counts (examples, days, nudges) for a
long soak. The hypothesis profiles live here and are applied per test with
``@settings(profile())``, never loaded globally, so the rest of the suite keeps
its own settings.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, settings

SCALE_ENV = "RITUAL_SCENARIO_SCALE"
FULL = os.environ.get(SCALE_ENV, "").strip().lower() == "full"
SCALE = "full" if FULL else "ci"

_T = TypeVar("_T")


def scaled(ci: _T, full: _T) -> _T:
    """The CI count, or the full one under RITUAL_SCENARIO_SCALE=full."""
    return full if FULL else ci


# Fuzzing: ~300 examples in CI, 10,000 in a full run. The deadline is the "no hang" rule: one
# example (a parse, or one `ritual check`) that takes seconds is a failure, not a slow test.
settings.register_profile(
    "scenario-ci",
    max_examples=300,
    deadline=timedelta(seconds=2),
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "scenario-full",
    parent=settings.get_profile("scenario-ci"),
    max_examples=10_000,
)


def profile() -> settings:
    """The hypothesis settings of this scale, for ``@settings(profile(), ...)``."""
    return settings.get_profile(f"scenario-{SCALE}")


def figures(title: str, **values: object) -> None:
    """Print a scenario's figures in one block, so `pytest -s` shows what was measured."""
    width = max(len(name) for name in values)
    print(f"\n[{title}] scale={SCALE}")
    for name, value in values.items():
        print(f"  {name.replace('_', ' '):<{width}} : {value}")


# the daemon scenarios' database ---------------------------------------------------------------
@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None for a SQLite file in the data dir; a fresh PostgreSQL schema's URL otherwise
    (skipped unless RITUAL_TEST_POSTGRES_URL names a reachable server)."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url
