"""The JSON every read command prints (and the API answers) keeps its shape.

Each `--json` object is reduced to its shape: the keys of every object and the kind of
every value; a list of objects by every key its items have. The shapes were written down from the output
of the first version (tests/data/json_shapes.json); a refactor that renames, drops or
retypes a key fails here, before a script or Home Assistant config that reads it does.
Regenerate only on purpose: RITUAL_WRITE_SHAPES=1 pytest tests/test_json_shapes.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RitualCli

SHAPES = Path(__file__).parent / "data" / "json_shapes.json"
COMMANDS = {
    "list": ["list"],
    "show": ["show", "tech-free-talk"],
    "next": ["next", "--days", "2"],
    "streaks": ["streaks"],
    "heatmap": ["streaks", "tech-free-talk", "--heatmap"],
    "digest": ["digest"],
    "report": ["report", "--month"],
    "status": ["status"],
    "check": ["check"],
    "token list": ["token", "list"],
}


def shape(value: Any) -> Any:
    """Keys and kinds, not values: what a reader of the JSON relies on."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        if value and all(isinstance(item, dict) for item in value):
            merged: dict[str, Any] = {}
            for item in value:  # every key any item has, with the kind it has there
                merged.update(item)
            return [shape(merged)]
        return [shape(value[0])] if value else []
    if value is None:
        return "null"
    return type(value).__name__


@pytest.fixture
def household(installed: RitualCli) -> RitualCli:
    installed("done", "tech-free-talk", "--by", "alex", "--note", "on the balcony")
    installed("done", "tech-free-talk", "--date", "yesterday")
    installed("skip", "date-night", "--reason", "flu")
    installed("pause", "new-experience", "--from", "2026-12-01", "--until", "2026-12-10")
    installed("skip", "tech-free-talk", "--date", "2026-11-20", "--reason", "late train")
    installed("pause", "tech-free-talk", "--from", "2026-12-24", "--until", "2026-12-26")
    installed("pause", "--all", "--from", "2026-12-28", "--until", "2027-01-02", "--reason", "away")
    installed("token", "create", "phone")
    return installed


def test_every_read_command_keeps_its_json_shape(household: RitualCli) -> None:
    found = {name: shape(household.json(*args)) for name, args in COMMANDS.items()}
    done = json.loads(household("done", "journal", "--json").stdout)
    found["done"] = shape(done)
    if os.environ.get("RITUAL_WRITE_SHAPES"):
        SHAPES.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    expected = json.loads(SHAPES.read_text(encoding="utf-8"))
    for name in expected:
        assert found[name] == expected[name], name
    assert found.keys() == expected.keys()
