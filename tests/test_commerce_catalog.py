"""Catalogue: product editing by the shop's own staff, full-text search with ranking and
filters (FTS5 on SQLite, tsvector on PostgreSQL), and the terminal's `catalog` command."""

from __future__ import annotations

import json

import pytest
from fingerpos import protocol
from fingerpos.cloud.commerce import catalog
from fingerpos.cloud.models.shops import Product
from fingerpos.protocol.host import seal

from tests.conftest import in_app

pytestmark = pytest.mark.cloud


async def _shop(cloud, shop="s1"):
    admin = await cloud.admin()
    await cloud.client.post("/api/v1/shops", json={"id": shop, "name": "Shop"}, headers=admin)
    return await cloud.user("seller", shop=shop)


async def _put(cloud, headers, shop="s1", **fields):
    body = {"sku": "sku1", "name": "Thing", "price": 100, "currency": "EUR", "stock": 1} | fields
    return await cloud.client.post(f"/api/v1/shops/{shop}/products", json=body, headers=headers)


async def _search(cloud, **params):
    r = await cloud.client.get("/api/v1/products/search", params=params)
    assert r.status == 200, await r.text()
    return await r.json()


async def test_seller_edits_own_catalogue_and_search_ranks(cloud):
    seller = await _shop(cloud)
    r = await cloud.client.post("/api/v1/shops/s1/categories", json={"name": "Fruit"},
                                headers=seller)
    assert r.status == 201
    fruit = (await r.json())["id"]
    assert (await _put(cloud, seller, sku="a1", name="Green apple", price=120,
                       category=fruit, description="crisp")).status == 200
    assert (await _put(cloud, seller, sku="a2", name="Apple apple pie", price=450,
                       description="apple tart")).status == 200
    assert (await _put(cloud, seller, sku="b1", name="Banana", price=90, stock=0,
                       category=fruit, track_stock=True)).status == 200   # sold out
    assert (await _put(cloud, seller, sku="c1", name="Café crème 咖啡", price=300)).status == 200

    hits = await _search(cloud, q="appl")           # prefix, ranked: more matches first
    assert [p["sku"] for p in hits["products"]] == ["a2", "a1"]
    assert [p["sku"] for p in (await _search(cloud, q="apple", max_price=200))["products"]] == ["a1"]
    assert [p["sku"] for p in (await _search(cloud, q="", category=fruit))["products"]] == ["b1", "a1"]
    # a1 tracks no stock: never out of stock (issue #16: untracked products are unlimited)
    assert [p["sku"] for p in (await _search(cloud, category=fruit, in_stock="true"))["products"]] == ["a1"]
    assert [p["sku"] for p in (await _search(cloud, q="cafe"))["products"]] == ["c1"]
    assert [p["sku"] for p in (await _search(cloud, q="咖啡"))["products"]] == ["c1"]
    assert (await _search(cloud, q="kiwi"))["products"] == []
    page = await _search(cloud, limit=2)
    assert page["more"] is True and len(page["products"]) == 2
    assert (await _search(cloud, limit=2, offset=2))["more"] is False
    # An update re-indexes; a delete removes from the index.
    assert (await _put(cloud, seller, sku="a1", name="Kiwi", price=120)).status == 200
    assert [p["sku"] for p in (await _search(cloud, q="kiwi"))["products"]] == ["a1"]
    assert [p["sku"] for p in (await _search(cloud, q="green"))["products"]] == []
    r = await cloud.client.delete("/api/v1/shops/s1/products/a1", headers=seller)
    assert r.status == 200
    assert (await _search(cloud, q="kiwi"))["products"] == []
    r = await cloud.client.get("/api/v1/shops/s1/products/a2")
    assert (await r.json())["description"] == "apple tart"


async def test_search_text_operators_are_plain_words(cloud):
    seller = await _shop(cloud)
    await _put(cloud, seller, sku="x", name="NEAR OR AND tea")
    for q in ('"', "*", "NEAR(", "tea OR", "a:b", "'); DROP TABLE products; --", "!!!", "t&e|a"):
        await _search(cloud, q=q)                    # never an error
    assert [p["sku"] for p in (await _search(cloud, q="tea OR"))["products"]] == ["x"]


async def test_other_shops_staff_and_buyers_cannot_edit(cloud):
    await _shop(cloud, "s1")
    other = await _shop(cloud, "s2")
    manager2 = await cloud.user("manager", shop="s2")
    buyer = await cloud.user("buyer")
    for headers in (other, manager2):
        assert (await _put(cloud, headers, shop="s1")).status == 403
        r = await cloud.client.post("/api/v1/shops/s1/categories", json={"name": "X"},
                                    headers=headers)
        assert r.status == 403
    assert (await _put(cloud, buyer, shop="s1")).status == 403
    assert (await _put(cloud, {}, shop="s1")).status == 401
    assert (await _put(cloud, await cloud.admin(), shop="nope")).status == 404
    seller1 = await cloud.user("seller", shop="s1")
    assert (await _put(cloud, seller1)).status == 200
    r = await cloud.client.delete("/api/v1/shops/s1/products/sku1", headers=other)
    assert r.status == 403
    r = await cloud.client.delete("/api/v1/shops/s1/products/none", headers=seller1)
    assert r.status == 404


@pytest.mark.parametrize("fields,where", [
    ({"price": -1}, "price"), ({"price": "1"}, "price"), ({"currency": "eur"}, "currency"),
    ({"sku": "bad sku"}, "sku"), ({"name": ""}, "name"), ({"stock": -5}, "stock"),
    ({"image_url": "javascript:alert(1)"}, "image_url"), ({"category": 999}, "category"),
    ({"extra": 1}, "extra"), ({"description": "x" * 5001}, "description"),
])
async def test_bad_product_fields(cloud, fields, where):
    seller = await _shop(cloud)
    r = await _put(cloud, seller, **fields)
    assert r.status in (400, 404), await r.text()
    assert where in (await r.json())["message"]


async def test_bad_search_queries(cloud):
    for params in ({"limit": "0"}, {"limit": "101"}, {"min_price": "-1"}, {"q": "x" * 201},
                   {"min_price": "5", "max_price": "1"}, {"category": "abc"}, {"bogus": "1"}):
        r = await cloud.client.get("/api/v1/products/search", params=params)
        assert r.status == 400, params


async def test_oversized_product_body_is_refused(cloud):
    seller = await _shop(cloud)
    r = await cloud.client.post("/api/v1/shops/s1/products", data=b"{" + b" " * 70000 + b"}",
                                headers=seller | {"Content-Type": "application/json"})
    assert r.status == 413


async def test_catalog_for_terminals_comes_in_pages_under_the_body_limit(cloud):
    """500 products in stock with Chinese names (3 UTF-8 bytes a character): every one is
    in exactly one page, each page seals (protocol.host.seal, the 4096-byte limit) even with the
    longest device id and seq the protocol allows, and the pages are nearly full."""
    await _shop(cloud)
    with in_app(cloud.app):
        await Product.bulk_create([Product(shop_id="s1", sku=f"{1000 + i}", name="茉莉花茶" * 10,
                                           price=i, currency="CNY", stock=1 + (i == 0) * -1)
                                   for i in range(501)])
        items = (await catalog.terminal_catalog("s1"))["items"]
    pages = catalog.paginate(items)
    # 1000 has no stock and still goes: goods in the seller's hand are sold (issue #16)
    assert [i["sku"] for i in items] == [str(1000 + i) for i in range(501)]
    assert all(len(i["name"].encode()) == 32 * 3 for i in items)  # cut to 32 characters
    assert [p["page"] for p in pages] == list(range(1, len(pages) + 1))
    assert {p["pages"] for p in pages} == {len(pages)} and {p["version"] for p in pages} == {
        pages[0]["version"]}
    assert [i for p in pages for i in p["items"]] == items
    sizes = []
    for p in pages:
        _, payload, _ = seal(bytes(32), "d" * 32, protocol.CMD, 2**53 - 1,
                                      99_999_999_999, "catalog", "0" * 32, p)
        sizes.append(len(protocol.split(payload)[0]))
    assert max(sizes) <= 4096 and min(sizes[:-1]) > 4096 - 200, sizes
    raw = sum(len(json.dumps(i, ensure_ascii=False, separators=(",", ":")).encode()) + 1
              for i in items)
    assert len(pages) == -(-raw // (sum(sizes) // len(pages) - 150)) or len(pages) < raw / 3800 + 2
    # the same catalogue, the same version (a terminal that has it writes nothing);
    # a price edit, a new one
    assert catalog.paginate(items)[0]["version"] == pages[0]["version"]
    items[7] = dict(items[7], price=1)
    assert catalog.paginate(items)[0]["version"] != pages[0]["version"]
    assert catalog.paginate([]) == [{"version": catalog.paginate([])[0]["version"], "page": 1,
                                     "pages": 1, "items": []}]


async def test_products_from_before_the_migration_become_searchable(tmp_path, request):
    """Upgrading a database that already sells things: 0002 fills search_text and the index."""
    import os

    from fingerpos.cloud.commerce import fulltext
    from fingerpos.cloud.core import db
    from tortoise.migrations.executor import MigrationExecutor, MigrationTarget

    from tests.conftest import cloud_on_postgres, forget_sql_dialect
    forget_sql_dialect()
    url = f"sqlite://{tmp_path}/up.sqlite3"
    if cloud_on_postgres():
        cluster = request.getfixturevalue("postgres")
        name = f"fp_upgrade_{os.getpid()}"
        await cluster.execute(f"CREATE DATABASE {name}")
        url = cluster.url(name)
    ctx = await db.open_context(url)
    try:
        with ctx:
            apps = db.tortoise_config("sqlite://:memory:")["apps"]
            await MigrationExecutor(ctx.db(), apps).migrate([MigrationTarget("models", "0001_initial")])
            conn = ctx.db()
            await conn.execute_query("INSERT INTO shops (id, name, created_at) VALUES"
                                     " ('old', '', CURRENT_TIMESTAMP)")
            await conn.execute_query("INSERT INTO products (shop_id, sku, name, price, currency,"
                                     " stock) VALUES ('old', 'o1', 'Vintage Teapot', 900, 'EUR', 1)")
            assert (await db.migrate(ctx))[0] == "models.0002_commerce"
            rows = await fulltext.find("teap", fulltext.Filters(), 10, 0)
            assert [r["sku"] for r in rows] == ["o1"]
    finally:
        await ctx.close_connections()
