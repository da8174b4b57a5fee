"""The catalogue's full-text index and the search statement, for SQLite and PostgreSQL.

SQLite: an FTS5 table over products.search_text (external content, kept in
sync by triggers, ranked by bm25). PostgreSQL: a stored generated column
search_vector = to_tsvector('simple', search_text) with a GIN index, ranked
by ts_rank. search.py turns the
buyer's text into a safe query for either; search_text is search.index_text
of the product's name, sku, description and category (written by catalog.py).
Hand-written SQL because tortoise has no full-text support.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fingerpos.cloud.commerce import search
from fingerpos.cloud.core.sql import dialect, q
from tortoise import connections

_SQLITE_UP = [
    "CREATE VIRTUAL TABLE product_fts USING fts5(search_text, content='products',"
    " content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
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


async def find(text: str, f: Filters, limit: int, offset: int) -> list[dict[str, Any]]:
    """Products matching `text` (every word, Latin words as prefixes), best first;
    all products by name when the text has nothing searchable."""
    conn = connections.get("default")
    d = dialect(conn)
    where, args = _where(f)
    match = search.pg_tsquery(text) if d == "postgres" else search.fts5_query(text)
    if match is None:
        sql = f"SELECT {COLUMNS} FROM products p"
        order = " ORDER BY p.name, p.id"
    elif d == "postgres":
        sql = f"SELECT {COLUMNS} FROM products p"
        where.insert(0, "p.search_vector @@ to_tsquery('simple', ?)")
        args.insert(0, match)
        order = " ORDER BY ts_rank(p.search_vector, to_tsquery('simple', ?)) DESC, p.id"
        args.append(match)
    elif not where:
        # No filter on products' columns: rank and cut the page inside the FTS5 table, then
        # join only those rows. Joining every match before sorting cost 2-3x as much at
        # 100,000 products (a common word matches ~16,000; `fingerpos bench search`).
        sql = (f"SELECT {COLUMNS} FROM (SELECT rowid, bm25(product_fts) AS r FROM product_fts"
               " WHERE product_fts MATCH ? ORDER BY r, rowid LIMIT ? OFFSET ?) f"
               " JOIN products p ON p.id = f.rowid ORDER BY f.r, p.id")
        return await conn.execute_query_dict(q(d, sql), [match, limit, offset])
    else:
        sql = f"SELECT {COLUMNS} FROM product_fts JOIN products p ON p.id = product_fts.rowid"
        where.insert(0, "product_fts MATCH ?")
        args.insert(0, match)
        order = " ORDER BY bm25(product_fts), p.id"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += order + " LIMIT ? OFFSET ?"
    # The ORDER BY argument (PostgreSQL) comes after the WHERE ones: same order as the marks.
    return await conn.execute_query_dict(q(d, sql), [*args, limit, offset])
