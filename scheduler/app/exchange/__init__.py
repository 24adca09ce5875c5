"""Moving a household's record in and out: JSON/CSV backups and Loop Habit Tracker imports.

One module per format (``backup_json``, ``backup_csv``, ``loop``), the plain values they
share (``snapshot``) and the merge that imports a snapshot into the store (``merge``).
"""

from scheduler.app.exchange.backup_csv import CSV_COLUMNS, parse_csv, to_csv
from scheduler.app.exchange.backup_json import parse_json, to_json
from scheduler.app.exchange.loop import (
    LoopHabit,
    LoopImport,
    LoopMark,
    is_sqlite,
    load_loop,
    load_loop_db,
    loop_cadence,
    loop_snapshot,
    parse_loop_csv,
    slugify,
)
from scheduler.app.exchange.merge import ImportResult, RitualMerge, apply_import
from scheduler.app.exchange.snapshot import (
    CompletionEntry,
    ImportFileError,
    PauseEntry,
    Progress,
    RitualEntry,
    SkipEntry,
    Snapshot,
    read_snapshot,
    read_text_file,
)

__all__ = [
    "CSV_COLUMNS",
    "CompletionEntry",
    "ImportFileError",
    "ImportResult",
    "LoopHabit",
    "LoopImport",
    "LoopMark",
    "PauseEntry",
    "Progress",
    "RitualEntry",
    "RitualMerge",
    "SkipEntry",
    "Snapshot",
    "apply_import",
    "is_sqlite",
    "load_loop",
    "load_loop_db",
    "loop_cadence",
    "loop_snapshot",
    "parse_csv",
    "parse_json",
    "parse_loop_csv",
    "read_snapshot",
    "read_text_file",
    "slugify",
    "to_csv",
    "to_json",
]
