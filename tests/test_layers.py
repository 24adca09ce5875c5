"""The layer contracts bite: an upward import or a library outside its adapter fails `lint-imports`.

scripts/test runs `lint-imports` on the tree as it is; these tests run it on a copy with one
deliberate breach each, so a contract that silently stopped checking would be noticed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_copy(tmp_path: Path, module: str, line: str) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on a copy of the package where ``module`` gained ``line``."""
    shutil.copytree(ROOT / "scheduler", tmp_path / "scheduler", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "scheduler" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "COLUMNS": "300"}  # one line per contract
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        pytest.param(
            "domain/cadence.py", "import scheduler.app.service", "Layers", id="domain-imports-the-app"
        ),
        pytest.param("app/service.py", "import scheduler.cli.render", "Layers", id="app-imports-the-cli"),
        pytest.param("app/outbox.py", "import apprise", "Apprise", id="apprise-outside-notify"),
        pytest.param("adapters/web/api.py", "import sqlalchemy", "SQL", id="sql-outside-the-store"),
        pytest.param(
            "adapters/daemon.py", "import scheduler.adapters.store", "Adapters", id="adapter-builds-adapter"
        ),
        pytest.param(
            "adapters/notify/send.py", "import scheduler.adapters.notify.channels", "circles", id="a-circle"
        ),
    ],
)
def test_a_deliberate_breach_breaks_a_contract(tmp_path: Path, module: str, line: str, contract: str) -> None:
    if not LINT_IMPORTS.exists():
        pytest.skip(f"lint-imports is not installed beside {sys.executable} (pip install -e '.[dev]')")
    result = lint_copy(tmp_path, module, line)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = [row for row in result.stdout.splitlines() if row.rstrip().endswith("BROKEN")]
    assert any(contract in row for row in broken), result.stdout
