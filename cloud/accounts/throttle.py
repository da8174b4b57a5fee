"""Throttles shared by every worker: counters per key in fixed windows, kept in the database.

A throttle counts hits (failed logins, registrations, failed pay attempts) per key
(email + client address, intent id, ...) in a window that starts at the key's first
hit and lasts `window_s`. `check` refuses once `limit` hits are in the window. The
counters live in the `throttle_windows` table, so several workers (processes, or
hosts behind one load balancer) share one budget: an attacker does not get N times
the attempts by spreading them over N workers.

One statement per hit (INSERT ... ON CONFLICT DO UPDATE ... RETURNING, the same text on
SQLite >= 3.35 and PostgreSQL) makes the count atomic without a transaction or lock:
two workers hitting the same key at once both see their own increment. Rows whose
window has ended are deleted by `prune`, which each throttle runs at most once a
minute on a hit; an ended window also restarts at 1 on its next hit, pruned or not.

Hand-written SQL because tortoise's update_or_create is a read then a write (two
workers could both read 3 and both write 4).

    LOGIN = Throttle("login", limit=5, window_s=300,
                     message="too many failed logins; wait a few minutes and try again")
    await LOGIN.check(email, addr)        # raises Throttled
    failures = await LOGIN.hit(email, addr)
    await LOGIN.clear(email, addr)        # e.g. after a successful login
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from fingerpos.cloud.core.errors import Throttled
from fingerpos.cloud.core.sql import dialect, q
from tortoise import connections

TABLE = "throttle_windows"
PRUNE_INTERVAL_S = 60.0
_HIT = (f'INSERT INTO {TABLE} ("key", count, expires_at) VALUES (?, 1, ?)'
        f' ON CONFLICT ("key") DO UPDATE SET'
        f" count = CASE WHEN {TABLE}.expires_at > ? THEN {TABLE}.count + 1 ELSE 1 END,"
        f" expires_at = CASE WHEN {TABLE}.expires_at > ? THEN {TABLE}.expires_at"
        f" ELSE excluded.expires_at END"
        f" RETURNING count")
_COUNT = f'SELECT count FROM {TABLE} WHERE "key" = ? AND expires_at > ?'
_CLEAR = f'DELETE FROM {TABLE} WHERE "key" = ?'
_PRUNE = f"DELETE FROM {TABLE} WHERE expires_at <= ?"


class Throttle:
    """At most `limit` hits per key in `window_s` seconds, counted in the database.

    Args:
        kind: names the counter family ("login", "register", "pay"); keys of different
            kinds never collide.
        limit: hits allowed in one window; `check` raises once this many are counted.
        window_s: how long a window lasts from its first hit.
        message: the Throttled error's text, shown to the client.
        clock: unix seconds (wall clock: windows are compared across processes);
            tests pass their own to move time without sleeping.
    """

    def __init__(self, kind: str, limit: int, window_s: float, message: str,
                 clock: Callable[[], float] = time.time) -> None:
        if not kind or ":" in kind or limit < 1 or window_s <= 0:
            raise ValueError("a throttle needs a kind without ':', limit >= 1, window_s > 0")
        self.kind = kind
        self.limit = limit
        self.window_s = window_s
        self.message = message
        self.clock = clock
        self._pruned_at = float("-inf")

    def key(self, *parts: str) -> str:
        """The row key: the kind and a hash of the parts (no address or email stored)."""
        digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:48]
        return f"{self.kind}:{digest}"

    async def count(self, *parts: str) -> int:
        """Hits counted for this key in its current window (0 when none or ended)."""
        conn = connections.get("default")
        rows = await conn.execute_query_dict(q(dialect(conn), _COUNT),
                                             [self.key(*parts), self.clock()])
        return int(rows[0]["count"]) if rows else 0

    async def check(self, *parts: str) -> None:
        """Raise Throttled when the key has used up its window."""
        if await self.count(*parts) >= self.limit:
            raise Throttled(self.message)

    async def hit(self, *parts: str) -> int:
        """Count one hit; return the count in the window including it."""
        conn = connections.get("default")
        now = self.clock()
        rows = await conn.execute_query_dict(q(dialect(conn), _HIT),
                                             [self.key(*parts), now + self.window_s, now, now])
        if now - self._pruned_at >= PRUNE_INTERVAL_S:
            self._pruned_at = now
            await self.prune()
        return int(rows[0]["count"])

    async def clear(self, *parts: str) -> None:
        """Forget the key's hits (a successful login resets its failures)."""
        conn = connections.get("default")
        await conn.execute_query(q(dialect(conn), _CLEAR), [self.key(*parts)])

    async def prune(self) -> int:
        """Delete every ended window (of any kind); return how many rows went."""
        conn = connections.get("default")
        deleted, _ = await conn.execute_query(q(dialect(conn), _PRUNE), [self.clock()])
        return int(deleted or 0)
