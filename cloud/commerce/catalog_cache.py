"""The buyer pages' catalogue cache, correct across workers: a revision row the database bumps.

`catalog_revision` holds one number that triggers on `products` and `categories` raise in
the same transaction as any insert, update or delete, whoever writes (the API, the staff
pages, a migration, raw SQL). Every cached read first reads that number; when it moved,
the whole cache of this process is dropped. The number is read before the data is
loaded, so what is cached is never older than the revision it is filed under: an edit
committed by any worker is on every worker's next page. Triggers rather than a bump in
catalog.py because a write path that forgot to bump would serve stale pages forever.

Reading the revision costs a cached page its only database access. On SQLite it is a read
through a second, private sqlite3 connection on the calling thread (a WAL reader neither
waits for writers nor is waited for, and a one-row read takes microseconds), because a
query through aiosqlite's worker thread costs more than the page render. On PostgreSQL
a read is a round trip through the pool, which under load cost more than the page
(`fingerpos bench web`: 0.14x bare aiohttp). So there the trigger also NOTIFYs
`catalog_revision` (0019_catalog_notify; delivered at commit, only if it commits) and
each cache holds one asyncpg connection LISTENing to it: a notification drops the cache,
and while that connection is up a page reads the row only when the cache was dropped or
REREAD_S has passed (a safety net against a lost notification). While it is down
(never connected yet, server restart, a killed backend) every page reads the row as
before, until it is back and LISTENing again. A notification reaches a worker as fast as
the server can signal it (well under a millisecond on loopback), so an edit committed by
any worker or SQL client is on every worker's next page; a page served in that
interval is the one of a moment before the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient

T = TypeVar("T")
MAX_ENTRIES = 4096  # searches are keyed by the buyer's text: bound what they can fill
CHANNEL = "catalog_revision"
REREAD_S = 1.0     # PostgreSQL while LISTENing: read the row at least this often anyway
RETRY_S = (0.2, 5.0)  # reconnecting the LISTEN connection: first and longest wait
log = logging.getLogger(__name__)

_SQLITE_UP = [
    "CREATE TABLE catalog_revision (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " value INTEGER NOT NULL)",
    "INSERT INTO catalog_revision (id, value) VALUES (1, 1)",
    *(f"CREATE TRIGGER catalog_rev_{table}_{op[0:3].lower()} AFTER {op} ON {table} BEGIN"
      " UPDATE catalog_revision SET value = value + 1 WHERE id = 1; END"
      for table in ("products", "categories") for op in ("INSERT", "UPDATE", "DELETE")),
]
_SQLITE_DOWN = [*(f"DROP TRIGGER IF EXISTS catalog_rev_{table}_{op}"
                  for table in ("products", "categories") for op in ("ins", "upd", "del")),
                "DROP TABLE IF EXISTS catalog_revision"]
# PostgreSQL: once per statement (a bulk insert of 100,000 products bumps it once).
_PG_UP = [
    "CREATE TABLE catalog_revision (id INTEGER PRIMARY KEY CHECK (id = 1),"
    " value BIGINT NOT NULL)",
    "INSERT INTO catalog_revision (id, value) VALUES (1, 1)",
    "CREATE FUNCTION catalog_revision_bump() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN UPDATE catalog_revision SET value = value + 1 WHERE id = 1; RETURN NULL; END $$",
    *(f"CREATE TRIGGER catalog_rev_{table} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
      f" ON {table} FOR EACH STATEMENT EXECUTE FUNCTION catalog_revision_bump()"
      for table in ("products", "categories")),
]
_PG_DOWN = ["DROP TRIGGER IF EXISTS catalog_rev_products ON products",
            "DROP TRIGGER IF EXISTS catalog_rev_categories ON categories",
            "DROP FUNCTION IF EXISTS catalog_revision_bump()",
            "DROP TABLE IF EXISTS catalog_revision"]
_READ = "SELECT value FROM catalog_revision WHERE id = 1"
# 0019_catalog_notify: the same bump, and a notification carrying the new number.
_PG_NOTIFY_UP = [
    "CREATE OR REPLACE FUNCTION catalog_revision_bump() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ DECLARE v BIGINT; BEGIN"
    " UPDATE catalog_revision SET value = value + 1 WHERE id = 1 RETURNING value INTO v;"
    f" PERFORM pg_notify('{CHANNEL}', v::text); RETURN NULL; END $$",
]
_PG_NOTIFY_DOWN = [_PG_UP[2].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")]


async def _run(schema_editor: Any, statements: dict[str, list[str]]) -> None:
    client = schema_editor.client
    for sql in statements.get(client.capabilities.dialect, []):
        await client.execute_script(sql)


async def create_revision(apps: Any, schema_editor: Any) -> None:
    """Migration step (0013_catalog_revision)."""
    await _run(schema_editor, {"sqlite": _SQLITE_UP, "postgres": _PG_UP})


async def drop_revision(apps: Any, schema_editor: Any) -> None:
    await _run(schema_editor, {"sqlite": _SQLITE_DOWN, "postgres": _PG_DOWN})


async def create_notify(apps: Any, schema_editor: Any) -> None:
    """Migration step (0019_catalog_notify); nothing to do on SQLite."""
    await _run(schema_editor, {"postgres": _PG_NOTIFY_UP})


async def drop_notify(apps: Any, schema_editor: Any) -> None:
    await _run(schema_editor, {"postgres": _PG_NOTIFY_DOWN})


class CatalogCache:
    """One database's cached catalogue reads in this process."""

    def __init__(self, client: BaseDBAsyncClient) -> None:
        self.revision: int | None = None
        self.listening = False     # PostgreSQL: the LISTEN connection is up
        self.notifications = 0
        self._generation = 0       # moves on every notification and LISTEN up/down
        self._read_at = 0.0
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._sqlite: sqlite3.Connection | None = None
        self._listener: asyncio.Task[None] | None = None
        self._pg: Any = None
        filename = getattr(client, "filename", None)
        if client.capabilities.dialect == "sqlite" and filename and ":memory:" not in filename:
            # autocommit: every SELECT is its own read transaction, so it sees the last commit
            self._sqlite = sqlite3.connect(filename, isolation_level=None,
                                           check_same_thread=False)
        elif client.capabilities.dialect == "postgres":
            self._listener = asyncio.get_running_loop().create_task(self._listen(client))

    async def read_revision(self, client: BaseDBAsyncClient) -> int:
        if self._sqlite is not None:
            row = self._sqlite.execute(_READ).fetchone()
        else:
            rows = await client.execute_query_dict(_READ)
            row = (rows[0]["value"],) if rows else None
        return int(row[0]) if row else 0

    async def get(self, client: BaseDBAsyncClient, key: Hashable,
                  load: Callable[[], Awaitable[T]]) -> T:
        generation, now = self._generation, time.monotonic()
        revision = self.revision
        if not (self.listening and revision is not None and now - self._read_at < REREAD_S):
            revision = await self.read_revision(client)
            if revision != self.revision:
                self._entries.clear()
                self.revision = revision
            if generation == self._generation:
                # else a notification came while reading: the number read may be older than
                # it, so the next page reads again
                self._read_at = now
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]  # type: ignore[no-any-return]
        value = await load()
        if self.revision == revision:  # else a newer one was seen, or notified, meanwhile
            self._entries[key] = value
            if len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)
        return value

    def _recheck(self) -> None:
        """Read the row on the next page; a read already under way is not trusted."""
        self._generation += 1
        self._read_at = float("-inf")

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self.notifications += 1
        try:
            revision: int | None = int(payload)
        except ValueError:
            revision = None
        # a number this cache already read (its own re-read raced the notification) is no news
        if revision is None or self.revision is None or revision > self.revision:
            self._recheck()
            self.revision = None
            self._entries.clear()

    async def _listen(self, client: BaseDBAsyncClient) -> None:
        """Hold a LISTEN connection; on its loss, pages read the row until it is back."""
        import asyncpg

        wait = RETRY_S[0]
        while True:
            lost = asyncio.Event()
            try:
                self._pg = await asyncpg.connect(
                    host=client.host, port=client.port, user=client.user,  # type: ignore[attr-defined]
                    password=client.password, database=client.database)  # type: ignore[attr-defined]
                self._pg.add_termination_listener(lambda _c, ev=lost: ev.set())
                await self._pg.add_listener(CHANNEL, self._notified)
                self._recheck()        # anything may have changed before LISTEN took effect
                self.listening, wait = True, RETRY_S[0]
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # refused, too many connections, killed: retry
                log.warning("catalogue cache: no LISTEN connection (%s: %s); pages read the "
                            "revision each time until it is back", type(e).__name__, e)
            finally:
                self.listening = False   # every page reads the row from now on
                self._recheck()
                pg, self._pg = self._pg, None
                if pg is not None and not pg.is_closed():
                    pg.terminate()
            await asyncio.sleep(wait)
            wait = min(wait * 2, RETRY_S[1])

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        self.close()

    def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
        if self._listener is not None and not self._listener.done():
            self._listener.cancel()


_caches: weakref.WeakKeyDictionary[BaseDBAsyncClient, CatalogCache] = weakref.WeakKeyDictionary()


def _finalize(cache: CatalogCache) -> None:
    cache.close()


async def cached(key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
    """load()'s result, from this process's cache while the catalogue revision is the same.

    The value is shared between requests: callers must not change it."""
    client = connections.get("default")
    if isinstance(client, TransactionalDBClient):
        return await load()
    cache = _caches.get(client)
    if cache is None:
        cache = _caches[client] = CatalogCache(client)
        weakref.finalize(client, _finalize, cache)
    return await cache.get(client, key, load)


async def close(client: BaseDBAsyncClient) -> None:
    """Stop this database's cache (its LISTEN connection): before the client is closed."""
    cache = _caches.pop(client, None)
    if cache is not None:
        await cache.aclose()
