"""Many-row INSERTs for the ingestion's write path, in as few round trips as each driver allows.

SQLite: multi-row `VALUES (?,..),(?,..)` statements, cut to stay under its bound
parameter limit (32766).

PostgreSQL: one statement per table with one array parameter per column,
`INSERT INTO t (a, b) SELECT * FROM unnest($1::text[], $2::bigint[]) ...`
(PostgreSQL manual, "Array Functions": unnest of several arrays expands them to
rows side by side). Profiled under the sales stream (issue #14 item 5), the
multi-row VALUES form spent about half of the server's time parsing and binding
statements of up to 30,000 parameters, each batch size a new statement text, and
on the client asyncpg prepared each of them afresh (its statement cache only hits
on the same text). The array form keeps one text per table: asyncpg prepares it
once per connection and PostgreSQL plans one call with a handful of parameters,
whatever the batch size. ON CONFLICT and RETURNING work as with VALUES; rows are
inserted in array order, so "the first of two with the same key wins" holds.

The arrays are cast to each column's base type (format_type without its type
modifier), read once per process from the catalog: a value too long for a
varchar(n) column is refused as a plain INSERT would refuse it, not cut short
by the cast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fingerpos.cloud.core.sql import dialect, q, rows_marks
from tortoise.backends.base.client import BaseDBAsyncClient

# Bound parameters per SQLite INSERT: SQLite allows 32766.
_MAX_PARAMS = 30000
_types: dict[str, dict[str, str]] = {}  # table -> column -> PostgreSQL base type
_texts: dict[tuple[str, str, str], str] = {}  # (table, columns, tail) -> statement


async def _column_types(conn: BaseDBAsyncClient, table: str) -> dict[str, str]:
    known = _types.get(table)
    if known is None:
        rows = await conn.execute_query_dict(
            "SELECT a.attname AS name, format_type(a.atttypid, NULL) AS type"
            " FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0"
            " AND NOT a.attisdropped", [table])
        known = _types[table] = {r["name"]: r["type"] for r in rows}
    return known


async def _pg_text(conn: BaseDBAsyncClient, table: str, columns: str, tail: str) -> str:
    key = (table, columns, tail)
    text = _texts.get(key)
    if text is None:
        names = [c.strip() for c in columns.split(",")]
        types = await _column_types(conn, table)
        missing = [n for n in names if n.strip('"') not in types]
        if missing:
            raise LookupError(f"{table} has no column(s) {', '.join(missing)}")
        arrays = ", ".join(f"${i}::{types[n.strip(chr(34))]}[]" for i, n in enumerate(names, 1))
        text = _texts[key] = f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}){tail}"
    return text


async def insert_rows(conn: BaseDBAsyncClient, table: str, columns: str,
                      rows: Sequence[Sequence[Any]], tail: str = "") -> list[dict]:
    """INSERT `rows` (each a sequence in `columns` order) into `table`; with a RETURNING
    `tail` (which may start with ON CONFLICT ...), the rows it returns."""
    if not rows:
        return []
    d = dialect(conn)
    returning = "RETURNING" in tail.upper()
    if d == "postgres":
        sql = await _pg_text(conn, table, columns, tail)
        params = [list(col) for col in zip(*rows, strict=True)]
        if returning:  # asyncpg's execute_query drops RETURNING rows
            return await conn.execute_query_dict(sql, params)
        await conn.execute_query(sql, params)
        return []
    width = columns.count(",") + 1
    step = max(1, _MAX_PARAMS // width)
    out: list[dict] = []
    for start in range(0, len(rows), step):
        part = rows[start:start + step]
        flat = [v for row in part for v in row]
        if len(flat) != len(part) * width:
            raise ValueError(f"rows for {table} must have {width} values each")
        sql = q(d, f"INSERT INTO {table} ({columns}) VALUES {rows_marks(d, len(part), width)}{tail}")
        if returning:
            out += await conn.execute_query_dict(sql, flat)
        else:
            await conn.execute_query(sql, flat)
    return out
