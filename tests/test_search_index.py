"""Search on the tuned indexes (migration 0026_search_index, cloud/commerce/fulltext.py)
against references that do not use them, on SQLite and PostgreSQL.

- Which products match is computed in Python from the stored search_text (every word,
  a Latin word as a prefix of a token, a CJK run as adjacent characters: what
  search.py promises), never by the engine under test.
- How they rank comes from the engine's rank function over an index without the
  tuning: on SQLite bm25 of a second FTS5 table as 0002_commerce made it (no prefix
  indexes), on PostgreSQL ts_rank of to_tsvector(search_text) computed per row (no
  stored vector, no GIN index). The window rule (the RANK_WINDOW newest matches best
  first, ties newest first, then older ones newest first) is applied in Python.
- Two shops: a search in one never returns the other's products.
- Writes after the migration are found (or gone) at once, through the REST API too.
- PostgreSQL: the GIN index has no pending list (fastupdate off, pgstattuple's count of
  pending pages is 0 after writes) and the planner reads it (EXPLAIN).
"""

from __future__ import annotations

import os
import random

import pytest
from fingerpos.cloud.commerce import fulltext, search
from fingerpos.cloud.core import db
from fingerpos.cloud.core.sql import dialect, q

from tests.conftest import cloud_on_postgres, forget_sql_dialect

pytestmark = pytest.mark.cloud

WORDS = ["tea", "tea", "tea", "teapot", "green", "black", "cup", "tin", "jasmine", "gift",
         "绿茶", "红茶", "茶杯", "茶壶", "礼盒", "绿茶"]
RARE = ["oolong", "乌龙茶"]
N = 1200


def _catalogue() -> list[dict]:
    """N products in shops s1 and s2 (seeded: the same every run). 'tea' and 绿茶 are
    common (hundreds of matches, past the window), oolong / 乌龙茶 rare."""
    rnd = random.Random(15)
    rows = []
    for pid in range(1, N + 1):
        words = rnd.choices(WORDS, k=rnd.randint(1, 4))
        if rnd.random() < 0.02:
            words.insert(rnd.randint(0, len(words)), rnd.choice(RARE))
        name = " ".join(words)
        rows.append({"id": pid, "shop": "s1" if rnd.random() < 0.6 else "s2",
                     "sku": f"sk{pid:05d}", "name": name, "price": rnd.randint(1, 50) * 100,
                     "stock": rnd.randint(0, 2), "track": rnd.random() < 0.5,
                     "text": search.index_text(name, f"sk{pid:05d}")})
    return rows


@pytest.fixture
async def seeded(cloud_db_url, monkeypatch):
    # a small window and newest-range, so both of PostgreSQL's window paths (the newest
    # products, the GIN index) and the unranked tail are all exercised at 1,200 products
    monkeypatch.setattr(fulltext, "RANK_WINDOW", 40)
    monkeypatch.setattr(fulltext, "PG_NEWEST", 200)
    ctx = await db.open_context(cloud_db_url)
    try:
        with ctx:
            conn = ctx.db()
            d = dialect(conn)
            for shop in ("s1", "s2"):
                await conn.execute_query(q(d, "INSERT INTO shops (id, name, created_at)"
                                              " VALUES (?, 'Shop', CURRENT_TIMESTAMP)"), [shop])
            rows = _catalogue()
            for r in rows:
                await conn.execute_query(q(d, (
                    "INSERT INTO products (id, shop_id, sku, name, price, currency, stock,"
                    " track_stock, description, image_url, search_text) VALUES"
                    " (?, ?, ?, ?, ?, 'EUR', ?, ?, '', '', ?)")),
                    [r["id"], r["shop"], r["sku"], r["name"], r["price"], r["stock"],
                     r["track"], r["text"]])
            if d == "postgres":
                await conn.execute_query("ANALYZE products")
            else:   # the index as 0002_commerce made it, before 0026's prefix indexes
                await conn.execute_script(
                    "CREATE VIRTUAL TABLE ref_fts USING fts5(search_text, content='products',"
                    " content_rowid='id', tokenize='unicode61 remove_diacritics 2');"
                    " INSERT INTO ref_fts(ref_fts) VALUES ('rebuild');")
            yield conn, d, rows
    finally:
        await ctx.close_connections()


def _matches(text: str, query: str) -> bool:
    """search.py's meaning, in plain Python over the stored text."""
    doc = text.split()
    for word in search.tokens(query):
        if len(word) == 1 and word[0].isascii():
            if not any(t.startswith(word[0]) for t in doc):
                return False
        elif not any(doc[i:i + len(word)] == word for i in range(len(doc))):
            return False
    return True


async def _reference_ranks(conn, d: str, query: str) -> dict[int, float]:
    """Sort keys (smaller is better) from the engine's rank without the tuned index."""
    if d == "postgres":
        rows = await conn.execute_query_dict(
            "SELECT id, ts_rank(to_tsvector('simple', search_text), to_tsquery('simple', $1))"
            " AS r FROM products", [search.pg_tsquery(query)])
        return {r["id"]: -r["r"] for r in rows}
    rows = await conn.execute_query_dict(
        "SELECT rowid AS id, bm25(ref_fts) AS r FROM ref_fts WHERE ref_fts MATCH ?",
        [search.fts5_query(query)])
    return {r["id"]: r["r"] for r in rows}


async def _expected(conn, d, rows, query, f: fulltext.Filters) -> list[int]:
    def kept(r):
        return ((f.shop is None or r["shop"] == f.shop)
                and (f.min_price is None or r["price"] >= f.min_price)
                and (f.max_price is None or r["price"] <= f.max_price)
                and (not f.in_stock or not r["track"] or r["stock"] > 0))

    found = sorted((r["id"] for r in rows if kept(r) and _matches(r["text"], query)),
                   reverse=True)
    ranks = await _reference_ranks(conn, d, query)
    window = fulltext.RANK_WINDOW
    ranked = sorted(found[:window], key=lambda i: (ranks[i], -i))
    return ranked + found[window:]


QUERIES = ["tea", "te", "t", "teapot", "green tea", "gr te", "oolong", "oo", "绿茶", "茶",
           "乌龙茶", "绿茶 tea", "茶 cup", "sk0011", "sk01", "jasmine 红茶", "kiwi", "Teá"]
FILTERS = [fulltext.Filters(), fulltext.Filters(shop="s1"), fulltext.Filters(shop="s2"),
           fulltext.Filters(max_price=2000), fulltext.Filters(shop="s1", min_price=3000),
           fulltext.Filters(in_stock=True)]


async def _all(query, f, page=None):
    if page is None:
        return [r["id"] for r in await fulltext.find(query, f, 10_000, 0)]
    ids, offset = [], 0
    while batch := await fulltext.find(query, f, page, offset):
        ids += [r["id"] for r in batch]
        offset += page
    return ids


async def test_results_equal_the_reference_ranking(seeded):
    conn, d, rows = seeded
    common = 0
    for query in QUERIES:
        for f in FILTERS:
            want = await _expected(conn, d, rows, query, f)
            assert await _all(query, f) == want, (query, f)
            common += len(want) > fulltext.RANK_WINDOW
    assert common > 20    # the window was full (and a tail followed) for many of them


async def test_pages_put_together_equal_the_reference(seeded):
    conn, d, rows = seeded
    for query in ("tea", "绿茶", "oolong", "t"):
        want = await _expected(conn, d, rows, query, fulltext.Filters(shop="s1"))
        for page in (7, 40, 64):
            assert await _all(query, fulltext.Filters(shop="s1"), page) == want, (query, page)


async def test_another_shops_products_never_appear(seeded):
    conn, d, rows = seeded
    shop_of = {r["id"]: r["shop"] for r in rows}
    for query in QUERIES:
        for shop in ("s1", "s2"):
            got = await fulltext.find(query, fulltext.Filters(shop=shop), 10_000, 0)
            assert {r["shop_id"] for r in got} <= {shop}
            assert all(shop_of[r["id"]] == shop for r in got)
    # a word only s2 sells finds nothing in s1
    await conn.execute_query(q(d, "UPDATE products SET search_text = ? WHERE id = ?"),
                             [search.index_text("Zhejiang 龙井 only"), 2])
    shop2 = next(r["id"] for r in rows if r["shop"] == "s2")
    await conn.execute_query(q(d, "UPDATE products SET search_text = ? WHERE id = ?"),
                             [search.index_text("Zhejiang 龙井 only"), shop2])
    for query in ("zhejiang", "龙井", "zhe 龙井"):
        s1 = [r["id"] for r in await fulltext.find(query, fulltext.Filters(shop="s1"), 50, 0)]
        s2 = [r["id"] for r in await fulltext.find(query, fulltext.Filters(shop="s2"), 50, 0)]
        assert (s1, s2) == (([2] if shop_of[2] == "s1" else []), sorted({2, shop2} & {
            i for i, s in shop_of.items() if s == "s2"}, reverse=True)), query


async def _migrated_to(url: str, target: str):
    from tortoise.migrations.executor import MigrationExecutor, MigrationTarget
    ctx = await db.open_context(url)
    with ctx:
        apps = db.tortoise_config("sqlite://:memory:")["apps"]
        await MigrationExecutor(ctx.db(), apps).migrate([MigrationTarget("models", target)])
    return ctx


async def test_writes_after_the_migration_are_found_at_once(tmp_path, request):
    """A shop that already sells things upgrades through 0026: what it sold before is
    found, and every insert, edit and delete after it is seen by the next search."""
    forget_sql_dialect()
    url = f"sqlite://{tmp_path}/up.sqlite3"
    if cloud_on_postgres():
        cluster = request.getfixturevalue("postgres")
        name = f"fp_search_up_{os.getpid()}"
        await cluster.execute(f"CREATE DATABASE {name}")
        url = cluster.url(name)
    ctx = await _migrated_to(url, "0025_report_rollup")
    try:
        with ctx:
            conn = ctx.db()
            d = dialect(conn)

            async def put(pid, name, shop="s1"):
                await conn.execute_query(q(d, (
                    "INSERT INTO products (id, shop_id, sku, name, price, currency, stock,"
                    " description, image_url, search_text) VALUES (?, ?, ?, ?, 100, 'EUR',"
                    " 1, '', '', ?)")), [pid, shop, f"p{pid}", name, search.index_text(name)])

            async def ids(text, shop="s1"):
                rows = await fulltext.find(text, fulltext.Filters(shop=shop), 50, 0)
                return [r["id"] for r in rows]

            for shop in ("s1", "s2"):
                await conn.execute_query(q(d, "INSERT INTO shops (id, name, created_at)"
                                              " VALUES (?, 'Shop', CURRENT_TIMESTAMP)"), [shop])
            await put(1, "Oolong tea 乌龙茶")
            await put(2, "Green tea 绿茶")
            await put(3, "Oolong 乌龙茶 of the other shop", shop="s2")
            assert "models.0026_search_index" in await db.migrate(ctx)
            assert await ids("oolo") == [1] and await ids("乌龙茶") == [1]
            assert await ids("oolo", "s2") == [3]
            await put(4, "Oolong gift tin 乌龙茶礼盒")                       # added
            await conn.execute_query(q(d, "UPDATE products SET name = ?, search_text = ?"
                                          " WHERE id = 1"),
                                     ["Black tea 红茶", search.index_text("Black tea 红茶")])
            await conn.execute_query("DELETE FROM products WHERE id = 2")     # deleted
            assert await ids("oolo") == [4] and await ids("乌龙茶") == [4]  # 1 was edited
            assert await ids("红茶") == [1] and await ids("bla") == [1]
            assert await ids("绿茶") == [] and await ids("green") == []
            assert await ids("tea") == [1]
            if d == "sqlite":   # the FTS5 index agrees with products, row by row
                await conn.execute_query(
                    "INSERT INTO product_fts(product_fts, rank) VALUES ('integrity-check', 1)")
    finally:
        await ctx.close_connections()


async def test_an_edit_through_the_api_is_found_by_the_next_search(cloud):
    """The buyer-facing path (REST, catalogue cache) on the migrated database."""
    admin = await cloud.admin()
    for shop in ("s1", "s2"):
        r = await cloud.client.post("/api/v1/shops", json={"id": shop, "name": "Shop"},
                                    headers=admin)
        assert r.status == 201, await r.text()
    sellers = {s: await cloud.user("seller", shop=s) for s in ("s1", "s2")}

    async def put(shop, sku, name):
        r = await cloud.client.post(f"/api/v1/shops/{shop}/products", headers=sellers[shop],
                                    json={"sku": sku, "name": name, "price": 100,
                                          "currency": "EUR", "stock": 1})
        assert r.status == 200, await r.text()

    async def skus(text, shop=None):
        params = {"q": text} | ({"shop": shop} if shop else {})
        r = await cloud.client.get("/api/v1/products/search", params=params)
        assert r.status == 200, await r.text()
        return [p["sku"] for p in (await r.json())["products"]]

    await put("s1", "a", "Jasmine tea 茉莉花茶")
    await put("s2", "b", "Jasmine pearls 茉莉")
    assert await skus("jas", "s1") == ["a"] and await skus("茉莉", "s2") == ["b"]
    await put("s1", "a", "Pu-erh 普洱")                   # edited: the old words go
    assert await skus("jas", "s1") == [] and await skus("普洱", "s1") == ["a"]
    assert await skus("jas", "s2") == ["b"]
    await put("s1", "c", "Jasmine again 茉莉")            # added
    assert await skus("茉莉", "s1") == ["c"]
    r = await cloud.client.delete("/api/v1/shops/s1/products/c", headers=sellers["s1"])
    assert r.status == 200
    assert await skus("茉莉", "s1") == [] and await skus("茉莉") == ["b"]


async def test_the_tuned_index_is_in_place_and_the_planner_reads_it(seeded):
    """PostgreSQL: the GIN index has no pending list (fastupdate off; pgstattuple counts 0
    pending pages after writes) and a rare word or two words are looked up in it, not
    scanned for. SQLite: product_fts has the prefix indexes 1-6 and the planner reads
    the FTS5 index, then products by primary key."""
    conn, d, rows = seeded
    queries = ("乌龙茶", "green 茶杯")
    if d == "sqlite":
        sql = (await conn.execute_query_dict(
            "SELECT sql FROM sqlite_master WHERE name = 'product_fts'"))[0]["sql"]
        assert "prefix='1 2 3 4 5 6'" in sql, sql
        for query in queries:
            window, args = fulltext._window(d, search.fts5_query(query), ["p.shop_id = ?"],
                                            ["s1"])
            plan = " / ".join(r["detail"] for r in await conn.execute_query_dict(
                "EXPLAIN QUERY PLAN " + window, args))
            assert "product_fts VIRTUAL TABLE INDEX" in plan, plan
            assert "SEARCH p USING INTEGER PRIMARY KEY" in plan, plan
        return
    opts = await conn.execute_query_dict(
        "SELECT reloptions FROM pg_class WHERE relname = 'products_search_idx'")
    assert opts[0]["reloptions"] == ["fastupdate=off"]
    await conn.execute_query("CREATE EXTENSION IF NOT EXISTS pgstattuple")
    # 1,200 rows were just inserted, and more now: none wait in a pending list
    for pid in range(N + 1, N + 301):
        await conn.execute_query(
            "INSERT INTO products (id, shop_id, sku, name, price, currency, stock,"
            " description, image_url, search_text) VALUES ($1, 's1', $2, 'x', 1, 'EUR', 1,"
            " '', '', $3)", [pid, f"x{pid}", search.index_text(f"new oolong {pid}")])
    stats = await conn.execute_query_dict(
        "SELECT pending_pages, pending_tuples FROM pgstatginindex('products_search_idx')")
    assert [dict(r) for r in stats] == [{"pending_pages": 0, "pending_tuples": 0}]
    await conn.execute_query("ANALYZE products")
    for query in queries:
        sql, args = fulltext._window(d, search.pg_tsquery(query), ["p.shop_id = ?"], ["s1"])
        plan = await conn.execute_query_dict("EXPLAIN " + q(d, sql), args)
        text = "\n".join(r["QUERY PLAN"] for r in plan)
        assert "products_search_idx" in text, text
        assert "Seq Scan" not in text, text
