"""A shift's append-only log (issue #16 item 4): writing entries, and the database's guard.

The log is the shift's only record of money (cloud/models/shifts.py). Besides the model's
own save()/delete() guard, migration 0021_shifts installs triggers that make the
database itself refuse any UPDATE or DELETE of `shift_entries` (SQLite: RAISE(ABORT);
PostgreSQL: a plpgsql function raising an exception), so no query, however written,
rewrites a shift's history.
"""

from __future__ import annotations

from typing import Any

from fingerpos.cloud.core.sql import run_scripts
from fingerpos.cloud.models.shifts import Shift, ShiftEntry

APPEND_ONLY = "shift_entries is append-only"

_SQLITE_UP = [
    f"CREATE TRIGGER shift_entries_no_update BEFORE UPDATE ON shift_entries "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END",
    f"CREATE TRIGGER shift_entries_no_delete BEFORE DELETE ON shift_entries "
    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END",
]
_SQLITE_DOWN = ["DROP TRIGGER IF EXISTS shift_entries_no_update",
                "DROP TRIGGER IF EXISTS shift_entries_no_delete"]
_PG_UP = [
    "CREATE OR REPLACE FUNCTION shift_entries_append_only() RETURNS trigger AS $$ "
    f"BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER shift_entries_no_change BEFORE UPDATE OR DELETE ON shift_entries "
    "FOR EACH ROW EXECUTE FUNCTION shift_entries_append_only()",
]
_PG_DOWN = ["DROP TRIGGER IF EXISTS shift_entries_no_change ON shift_entries",
            "DROP FUNCTION IF EXISTS shift_entries_append_only()"]


async def forbid_changes(apps: Any, schema_editor: Any) -> None:
    """Migration step (0021_shifts)."""
    await run_scripts(schema_editor, {"sqlite": _SQLITE_UP, "postgres": _PG_UP})


async def allow_changes(apps: Any, schema_editor: Any) -> None:
    await run_scripts(schema_editor, {"sqlite": _SQLITE_DOWN, "postgres": _PG_DOWN})


async def append(shift: Shift | None, shop: str, device: str, seq: int, event_id: int | None,
                 kind: str, **fields: Any) -> ShiftEntry:
    """One new log line (the only way entries are written)."""
    return await ShiftEntry.create(shift_id=shift.id if shift else None, shop_id=shop,
                                   device_id=device, seq=seq, device_event_id=event_id,
                                   kind=kind, **fields)


async def open_shift(device: str) -> Shift | None:
    """The device's open shift (at most one: a new open ends the old one)."""
    return await Shift.filter(device_id=device, state="open").order_by("-id").first()
