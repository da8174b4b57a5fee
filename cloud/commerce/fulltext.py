"""The catalogue's full-text index and the search statement, for SQLite and PostgreSQL.

SQLite: an FTS5 table over products.search_text (external content, kept in
sync by triggers, ranked by bm25). PostgreSQL: a stored generated column
search_vector = to_tsvector('simple', search_text) with a GIN index, ranked
by ts_rank. search.py turns the
buyer's text into a safe query for either; search_text is search.index_text
of the product's name, sku, description and category (written by catalog.py).
Hand-written SQL because tortoise has no full-text support.

Migration 0026_search_index tunes both indexes for search latency without changing any
result: FTS5 prefix indexes for prefixes of 1-6 characters (every Latin word is a prefix
query, and bm25 first counts each phrase's documents) and a GIN index without the pending
list (`fastupdate = off`), which every search otherwise scans in full.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fingerpos.cloud.commerce import search
from fingerpos.cloud.core.sql import dialect, q
from tortoise import connections

_FTS5 = ("CREATE VIRTUAL TABLE product_fts USING fts5(search_text, content='products',"
         " content_rowid='id', tokenize='unicode61 remove_diacritics 2'{})")
_SQLITE_UP = [
    _FTS5.format(""),
    "CREATE TRIGGER products_fts_ai AFTER INSERT ON products BEGIN"
    " INSERT INTO product_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER products_fts_ad AFTER DELETE ON products BEGIN"
    " INSERT INTO product_fts(product_fts, rowid, search_text)"
    " VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER products_fts_au AFTER UPDATE OF search_text ON products BEGIN"
    " INSERT INTO product_fts(product_fts, rowid, search_text)"
    " VALUES ('delete', old.id, old.search_text);"
    " INSERT INTO product_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO product_fts(product_fts) VALUES ('rebuild')",
]
_SQLITE_DOWN = ["DROP TRIGGER IF EXISTS products_fts_ai", "DROP TRIGGER IF EXISTS products_fts_ad",
                "DROP TRIGGER IF EXISTS products_fts_au", "DROP TABLE IF EXISTS product_fts"]
# A stored tsvector (generated from search_text, so writers never set it): ranking
# reads it instead of re-parsing every matching row's text, about 5x faster at 100k.
_PG_UP = ["ALTER TABLE products ADD COLUMN search_vector tsvector"
          " GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED",
          "CREATE INDEX products_search_idx ON products USING GIN (search_vector)"]
_PG_DOWN = ["DROP INDEX IF EXISTS products_search_idx",
            "ALTER TABLE products DROP COLUMN IF EXISTS search_vector"]
# Listing a category without search text sorts by name: one index serves both.
_BOTH_UP = ["CREATE INDEX products_category_name ON products (category_id, name)"]
_BOTH_DOWN = ["DROP INDEX IF EXISTS products_category_name"]


# 0026_search_index. FTS5 (https://sqlite.org/fts5.html#prefix_indexes): a prefix query
# whose length has a prefix index reads one doclist instead of merging one per matching
# term (a one-letter "s" merged 100,000 sku terms), and bm25 counts each phrase's
# documents through the same lookup; 1-6 characters covers what buyers type while the
# index grows ~50 %. Same rows, same bm25. The table is rebuilt from products.
_SQLITE_PREFIX = ", prefix='1 2 3 4 5 6'"
# PostgreSQL (https://www.postgresql.org/docs/15/gin-implementation.html#GIN-FAST-UPDATE):
# with fastupdate new entries wait in an unsorted pending list of up to
# gin_pending_list_limit (4 MB) that every search reads in full until a vacuum merges it;
# after a bulk load that was ~300 pages and a third of each search's time. Catalogue
# writes are rare and small, so they pay the index update instead. The flush merges what
# is pending now.
_PG_TUNE = ["ALTER INDEX products_search_idx SET (fastupdate = off)",
            "SELECT gin_clean_pending_list('products_search_idx')"]
_PG_UNTUNE = ["ALTER INDEX products_search_idx RESET (fastupdate)"]


def _fts5_with(prefix: str) -> list[str]:
    return ["DROP TABLE product_fts", _FTS5.format(prefix),
            "INSERT INTO product_fts(product_fts) VALUES ('rebuild')"]


async def tune_index(apps: Any, schema_editor: Any) -> None:
    """Migration step (0026_search_index): the indexes' settings for search latency."""
    await _run(schema_editor, {"sqlite": _fts5_with(_SQLITE_PREFIX), "postgres": _PG_TUNE})


async def untune_index(apps: Any, schema_editor: Any) -> None:
    await _run(schema_editor, {"sqlite": _fts5_with(""), "postgres": _PG_UNTUNE})


async def _run(schema_editor: Any, statements: dict[str, list[str]]) -> None:
    client = schema_editor.client
    for sql in statements.get(dialect(client), []):
        await client.execute_script(sql)


async def create_index(apps: Any, schema_editor: Any) -> None:
    """Migration step (0002_commerce): the full-text index of this database's kind, then
    search_text for the products that existed before it (the index follows)."""
    await _run(schema_editor, {"sqlite": _SQLITE_UP + _BOTH_UP, "postgres": _PG_UP + _BOTH_UP})
    client = schema_editor.client
    d = dialect(client)
    _, rows = await client.execute_query("SELECT id, name, sku FROM products")
    for row in rows:
        await client.execute_query(q(d, "UPDATE products SET search_text = ? WHERE id = ?"),
                                   [search.index_text(row["name"], row["sku"]), row["id"]])


async def drop_index(apps: Any, schema_editor: Any) -> None:
    await _run(schema_editor, {"sqlite": _SQLITE_DOWN + _BOTH_DOWN,
                               "postgres": _PG_DOWN + _BOTH_DOWN})


@dataclass(frozen=True)
class Filters:
    shop: str | None = None
    category: int | None = None
    min_price: int | None = None
    max_price: int | None = None
    in_stock: bool = False


COLUMNS = ("p.id, p.shop_id, p.sku, p.name, p.description, p.price, p.currency, p.stock,"
           " p.image_url, p.category_id, p.track_stock, p.reserved, p.low_stock")


def _where(f: Filters) -> tuple[list[str], list[Any]]:
    where, args = [], []
    for cond, value in (("p.shop_id = ?", f.shop), ("p.category_id = ?", f.category),
                        ("p.price >= ?", f.min_price), ("p.price <= ?", f.max_price)):
        if value is not None:
            where.append(cond)
            args.append(value)
    if f.in_stock:   # a product without stock tracking is never out of stock
        where.append("(NOT p.track_stock OR p.stock - p.reserved > 0)")
    return where, args


# Ranking every match cost ~0.7 us a match on SQLite (bm25) and more on PostgreSQL
# (ts_rank, plus fetching each matching row): a common word matches ~16,000 of 100,000
# products, which put search's p99 at 20-40 ms (`fingerpos bench search`). So a search
# ranks a window: the RANK_WINDOW newest matches (highest product id, which both indexes
# walk cheaply in that order), best first, ties newest first. Older matches follow,
# newest first, unranked. With at most RANK_WINDOW matches (any query of two or more
# words at 100k products, every rare word) this is the plain full ranking; a buyer who
# types one common word gets the best of the newest thousand, which in a shop is the
# range on sale. Every match is still found: paging past the window reaches them all.
RANK_WINDOW = 1000


async def find(text: str, f: Filters, limit: int, offset: int) -> list[dict[str, Any]]:
    """Products matching `text` (every word, Latin words as prefixes): the RANK_WINDOW
    newest matches best first, then older ones newest first; all products by name when
    the text has nothing searchable."""
    conn = connections.get("default")
    d = dialect(conn)
    where, args = _where(f)
    match = search.pg_tsquery(text) if d == "postgres" else search.fts5_query(text)
    if match is None:
        sql = f"SELECT {COLUMNS} FROM products p"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY p.name, p.id LIMIT ? OFFSET ?"
        return await conn.execute_query_dict(q(d, sql), [*args, limit, offset])
    rows: list[dict[str, Any]] = []
    if offset < RANK_WINDOW:
        n = min(limit, RANK_WINDOW - offset)
        rows = await _ranked(conn, d, match, where, args, n, offset)
        if len(rows) < n:  # the window was not full: no older matches
            return rows
    if len(rows) < limit:  # the page reaches past the window: older matches, newest first
        sql, tail_args = _matches(d, match, where, args, COLUMNS)
        sql += _NEWEST[d] + " LIMIT ? OFFSET ?"
        rows += await conn.execute_query_dict(q(d, sql), [
            *tail_args, limit - len(rows), max(offset, RANK_WINDOW)])
    return rows


# Newest first. On SQLite by the index's rowid, which FTS5 walks backwards itself; by
# p.id the planner would walk products and probe the index once per product.
_NEWEST = {"postgres": " ORDER BY p.id DESC", "sqlite": " ORDER BY product_fts.rowid DESC"}


def _matches(d: str, match: str, where: list[str], args: list[Any],
             columns: str) -> tuple[str, list[Any]]:
    """SELECT `columns` of the matching products (alias p), without ORDER BY."""
    if d == "postgres":
        sql = f"SELECT {columns} FROM products p WHERE p.search_vector @@ to_tsquery('simple', ?)"
    else:
        sql = (f"SELECT {columns} FROM product_fts JOIN products p ON p.id = product_fts.rowid"
               " WHERE product_fts MATCH ?")
    return "".join([sql, *(" AND " + w for w in where)]), [match, *args]


async def _ranked(conn: Any, d: str, match: str, where: list[str], args: list[Any],
                  limit: int, offset: int) -> list[dict[str, Any]]:
    """A page of the ranked window."""
    if d != "postgres":
        window, window_args = _window(d, match, where, args)
        sql = (f"SELECT {COLUMNS} FROM ({window}) w JOIN products p ON p.id = w.id"
               " ORDER BY w.r, p.id DESC LIMIT ? OFFSET ?")
        return await conn.execute_query_dict(sql, [*window_args, limit, offset])
    # PostgreSQL cannot walk the GIN index in id order, and estimates every prefix query
    # at 2% of the rows, whatever it matches: ordered by id it walks the primary key
    # backwards, fast for a common word (the window is among the newest few thousand),
    # a scan of the whole table for a rare one (30 ms at 100k). So first look among the
    # newest PG_NEWEST products only; when they hold a whole window it is the window,
    # else the matches are sparse and the GIN index finds them all cheaply. Only for
    # what is likely to match much: one word, no filter but stock (two words, a CJK
    # phrase, a shop, a category or a price range go to the index at once).
    common = match.count(":*") == 1 and " " not in match and not any(
        w.startswith(("p.shop_id", "p.category_id", "p.price")) for w in where)
    # The window is ranked and cut to the page before products is joined: the page's
    # rows are read once, not the whole window's (1,000 primary-key probes).
    for newest in ((True, False) if common else (False,)):
        window, window_args = _window(d, match, where, args, newest)
        sql = (f"SELECT {COLUMNS}, w.window_rows FROM (SELECT w.id,"
               " ts_rank(w.search_vector, to_tsquery('simple', ?)) AS r,"
               f" count(*) OVER () AS window_rows FROM ({window}) w"
               " ORDER BY r DESC, w.id DESC LIMIT ? OFFSET ?) w"
               " JOIN products p ON p.id = w.id ORDER BY w.r DESC, w.id DESC")
        rows = await conn.execute_query_dict(q(d, sql), [match, *window_args, limit, offset])
        if not newest or (rows and rows[0]["window_rows"] == RANK_WINDOW):
            break
    for row in rows:
        del row["window_rows"]
    return rows  # type: ignore[no-any-return]


PG_NEWEST = 10_000


def _window(d: str, match: str, where: list[str], args: list[Any],
            newest: bool = False) -> tuple[str, list[Any]]:
    """The RANK_WINDOW newest matches: id and what ranks them (w.r on SQLite, where bm25
    can only be read in the MATCH query; the stored vector on PostgreSQL). On PostgreSQL
    `newest` looks only among the PG_NEWEST newest products, else through the GIN index."""
    if d == "sqlite" and not where:   # no products column needed: stay inside the index
        return ("SELECT rowid AS id, bm25(product_fts) AS r FROM product_fts"
                f" WHERE product_fts MATCH ? ORDER BY rowid DESC LIMIT {RANK_WINDOW}"), [match]
    if d == "postgres":
        source = (f"(SELECT * FROM products ORDER BY id DESC LIMIT {PG_NEWEST}) p" if newest
                  else "products p")
        sql = (f"SELECT p.id, p.search_vector FROM {source}"
               " WHERE p.search_vector @@ to_tsquery('simple', ?)")
        # id + 0: not the primary key's order, so the planner takes the GIN index
        order = " ORDER BY p.id DESC" if newest else " ORDER BY p.id + 0 DESC"
        return ("".join([sql, *(" AND " + w for w in where)]) + order
                + f" LIMIT {RANK_WINDOW}", [match, *args])
    sql, window_args = _matches(d, match, where, args, "p.id, bm25(product_fts) AS r")
    return sql + _NEWEST[d] + f" LIMIT {RANK_WINDOW}", window_args
