"""The buyer pages' catalogue cache, correct across workers: a revision row the database bumps.

`catalog_revision` holds one number that triggers on `products` and `categories` raise in
the same transaction as any insert, update or delete, whoever writes (the API, the staff
pages, a migration, raw SQL). Every cached read first reads that number; when it moved,
the whole cache of this process is dropped. The number is read before the data is
loaded, so what is cached is never older than the revision it is filed under: an edit
committed by any worker is on every worker's next page. Triggers rather than a bump in
catalog.py because a write path that forgot to bump would serve stale pages forever.

Reading the revision is the one database access a cached page makes, so it is cheap: on
PostgreSQL one primary-key read; on SQLite a read through a second, private sqlite3
connection on the calling thread (a WAL reader neither waits for writers nor is
waited for, and a one-row read takes microseconds), because a query through aiosqlite's
worker thread costs more than the page render (`fingerpos bench web`, README).
Inside a transaction nothing is cached (that transaction may see its own edits).
"""

from __future__ import annotations

import sqlite3
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient

T = TypeVar("T")
MAX_ENTRIES = 4096  # searches are keyed by the buyer's text: bound what they can fill

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


async def _run(schema_editor: Any, statements: dict[str, list[str]]) -> None:
    client = schema_editor.client
    for sql in statements.get(client.capabilities.dialect, []):
        await client.execute_script(sql)


async def create_revision(apps: Any, schema_editor: Any) -> None:
    """Migration step (0013_catalog_revision)."""
    await _run(schema_editor, {"sqlite": _SQLITE_UP, "postgres": _PG_UP})


async def drop_revision(apps: Any, schema_editor: Any) -> None:
    await _run(schema_editor, {"sqlite": _SQLITE_DOWN, "postgres": _PG_DOWN})


class CatalogCache:
    """One database's cached catalogue reads in this process."""

    def __init__(self, client: BaseDBAsyncClient) -> None:
        self.revision: int | None = None
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._sqlite: sqlite3.Connection | None = None
        filename = getattr(client, "filename", None)
        if client.capabilities.dialect == "sqlite" and filename and ":memory:" not in filename:
            # autocommit: every SELECT is its own read transaction, so it sees the last commit
            self._sqlite = sqlite3.connect(filename, isolation_level=None,
                                           check_same_thread=False)

    async def read_revision(self, client: BaseDBAsyncClient) -> int:
        if self._sqlite is not None:
            row = self._sqlite.execute(_READ).fetchone()
        else:
            rows = await client.execute_query_dict(_READ)
            row = (rows[0]["value"],) if rows else None
        return int(row[0]) if row else 0

    async def get(self, client: BaseDBAsyncClient, key: Hashable,
                  load: Callable[[], Awaitable[T]]) -> T:
        revision = await self.read_revision(client)
        if revision != self.revision:
            self._entries.clear()
            self.revision = revision
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]  # type: ignore[no-any-return]
        value = await load()
        if self.revision == revision:  # another request may have seen a newer one meanwhile
            self._entries[key] = value
            if len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)
        return value

    def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None


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
