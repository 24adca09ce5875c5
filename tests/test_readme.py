"""The README's tables are promises: each one is checked against what the code serves."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from starlette.routing import Route

from scheduler.adapters.clock import FakeClock
from scheduler.adapters.store import SqlStore
from scheduler.adapters.web import create_app
from scheduler.app.service import RitualService

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_api_paths() -> set[str]:
    """Every path the README's endpoint table names, ``.../x`` spelled out as its sibling."""
    table = README.read_text(encoding="utf-8").split("Endpoints (", 1)[1].split("\n\n", 2)[1]
    paths: set[str] = set()
    for row in table.splitlines()[2:]:
        cell = row.split("|")[1]
        last = ""
        for token in re.findall(r"(/api/v1/[\w/.\-]*|\.\.\./\w+)", cell):
            path = last.rsplit("/", 1)[0] + token[3:] if token.startswith("...") else token
            last = path
            paths.add(path.replace("NAME", "{name}").replace("ID", "{id}"))
    return paths


def test_the_readme_names_every_api_route_and_no_other(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
    store = SqlStore.open(f"sqlite:///{tmp_path / 'ritual.db'}")
    service = RitualService(store, clock, ritual_file=tmp_path / "none.toml", default_timezone="UTC")
    app = create_app(service, key=b"k" * 32, clock=clock, public_url="http://ritual.test")
    store.close()
    served = {r.path for r in app.routes if isinstance(r, Route) and r.path.startswith("/api/")}
    assert readme_api_paths() == served
