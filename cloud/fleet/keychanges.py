"""Key rotations, revocations and registrations reach every worker's cache within a second.

Each change bumps one counter row (device_keys_version, id 1) in the transaction that
changes the device, and stamps the device with the new value (device.keys_version).
Each worker's DeviceRegistry reads the counter before an ingestion batch, at most every
CHECK_S, and when it moved re-reads only the devices stamped above what it had seen.

Why a version checked per batch and not PostgreSQL LISTEN/NOTIFY:
- one mechanism for both databases (SQLite is the single-process default);
- a NOTIFY sent while a worker's listening connection is down (a PostgreSQL restart,
  a network cut) is lost to it for good, so a catch-up read like this one would be
  needed anyway; and LISTEN needs a connection of its own beside tortoise's pool,
  with its own reconnecting;
- the cost is one primary-key read of a one-row table, at most 1/CHECK_S times a
  second per worker and only while events arrive: nothing when idle.

Ordering: the bump is an UPDATE of that one row, so its row lock (PostgreSQL; SQLite
has one writer anyway) makes concurrent changes commit in the order of their
numbers. A worker that has read version v has therefore seen every change up to v
committed; with a sequence, numbers are taken in one order and may commit in another,
and a worker could skip a change that committed late under a lower number.
"""

from __future__ import annotations

from fingerpos.cloud.core.sql import dialect, q
from tortoise.backends.base.client import BaseDBAsyncClient

# How stale a worker's view of keys may be, at most, while events arrive (issue #14: 1 s).
CHECK_S = 0.25


async def bump(conn: BaseDBAsyncClient, device_id: str) -> int:
    """Record that `device_id`'s key or revocation changed, inside the caller's
    transaction `conn` (the one that changes the device). Returns the new version."""
    d = dialect(conn)
    await conn.execute_query(q(d, "INSERT INTO device_keys_version (id, version) VALUES (1, 0)"
                                  " ON CONFLICT (id) DO NOTHING"))
    # execute_query_dict: tortoise's asyncpg execute_query drops RETURNING rows.
    rows = await conn.execute_query_dict(
        "UPDATE device_keys_version SET version = version + 1 WHERE id = 1 RETURNING version")
    version = int(rows[0]["version"])
    await conn.execute_query(q(d, "UPDATE device SET keys_version = ? WHERE id = ?"),
                             [version, device_id])
    return version


async def current(conn: BaseDBAsyncClient) -> int:
    """The counter now (0 before the first change)."""
    _, rows = await conn.execute_query("SELECT version FROM device_keys_version WHERE id = 1")
    return int(tuple(rows[0])[0]) if rows else 0


async def changed_since(conn: BaseDBAsyncClient, version: int) -> list[str]:
    """Ids of the devices changed after `version`."""
    _, rows = await conn.execute_query(
        q(dialect(conn), "SELECT id FROM device WHERE keys_version > ?"), [version])
    return [tuple(r)[0] for r in rows]
