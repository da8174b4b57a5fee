"""Raw SQL helpers for the hot path: one statement text for SQLite and PostgreSQL.

The ingestion writes thousands of rows per second; tortoise's model layer
costs tens of microseconds per row, so the hot path uses multi-row
statements through tortoise's own connection (same transactions, same pool).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

_MARK = re.compile(r"\?")


def dialect(conn: BaseDBAsyncClient) -> str:
    return conn.capabilities.dialect  # "sqlite" | "postgres" | ...


def q(d: str, sql: str) -> str:
    """Write statements with `?` placeholders; PostgreSQL wants $1, $2, ..."""
    if d != "postgres":
        return sql
    n = iter(range(1, 1 << 30))
    return _MARK.sub(lambda _m: f"${next(n)}", sql)


def rows_marks(d: str, n_rows: int, n_cols: int) -> str:
    """`(?,?,..),(?,?,..)` for a multi-row VALUES clause."""
    one = "(" + ",".join("?" * n_cols) + ")"
    return ",".join([one] * n_rows)


def when(d: str, unix: float) -> object:
    """A timestamp parameter as each driver wants it."""
    dt = datetime.fromtimestamp(unix, UTC)
    return dt if d == "postgres" else dt.isoformat(" ")





async def run_scripts(schema_editor: Any, statements: dict[str, list[str]]) -> None:
    """A migration's RunPython step: the statements for the database's dialect, in order."""
    client = schema_editor.client
    for sql in statements.get(dialect(client), []):
        await client.execute_script(sql)
