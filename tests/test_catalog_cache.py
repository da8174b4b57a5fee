"""The catalogue cache (cloud/commerce/catalog_cache.py) serves repeated buyer reads from the
process and drops them when the database's catalogue revision moves, whoever wrote.

Outside references: a writer that is not the cloud at all (a raw UPDATE through its own
database connection, as `sqlite3`/`psql` or another service would send), so a cache
bumped only by catalog.py's own writes would keep the old name; and a category rename,
which changes a product page without touching the product row.
"""

from __future__ import annotations

import sqlite3

import pytest
from fingerpos.cloud.commerce import fulltext

pytestmark = pytest.mark.cloud


async def _outside_sql(url: str, sql: str) -> None:
    """Run one statement through a connection of its own, not the cloud's."""
    if url.startswith("sqlite://"):
        with sqlite3.connect(url[len("sqlite://"):].split("?")[0]) as conn:
            conn.execute(sql)
        return
    import asyncpg
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _shop_with_kettle(cloud) -> dict[str, str]:
    admin = await cloud.admin()
    await cloud.client.post("/api/v1/shops", json={"id": "shop1"}, headers=admin)
    r = await cloud.client.post("/api/v1/shops/shop1/categories", headers=admin,
                                json={"name": "Kitchen"})
    assert r.status == 201, await r.text()
    body = {"sku": "k1", "name": "Iron kettle", "price": 4900, "currency": "EUR", "stock": 3,
            "category": (await r.json())["id"]}
    r = await cloud.client.post("/api/v1/shops/shop1/products", headers=admin, json=body)
    assert r.status == 200, await r.text()
    return admin


async def test_a_write_from_outside_the_cloud_is_seen_at_once(cloud, cloud_db_url):
    await _shop_with_kettle(cloud)
    for _ in range(2):  # warm the cache
        assert "Iron kettle" in await (await cloud.client.get("/product/shop1/k1")).text()
        assert "Iron kettle" in await (await cloud.client.get("/?q=kettle")).text()
    await _outside_sql(cloud_db_url, "UPDATE products SET name = '铸铁壶 kettle' WHERE sku = 'k1'")
    await _outside_sql(cloud_db_url, "UPDATE categories SET name = '厨房' WHERE name = 'Kitchen'")
    page = await (await cloud.client.get("/product/shop1/k1")).text()
    assert "铸铁壶 kettle" in page and "厨房" in page and "Kitchen" not in page
    shop = await (await cloud.client.get("/?q=kettle")).text()
    assert "铸铁壶 kettle" in shop and "Iron kettle" not in shop
    js = await (await cloud.client.get("/api/v1/shops/shop1/products/k1")).json()
    assert js["name"] == "铸铁壶 kettle"
    await _outside_sql(cloud_db_url, "DELETE FROM products WHERE sku = 'k1'")
    assert (await cloud.client.get("/product/shop1/k1")).status == 404
    found = await (await cloud.client.get("/api/v1/products/search?q=kettle")).json()
    assert found["products"] == []


async def test_repeated_reads_do_not_query_again_until_the_catalogue_changes(cloud, monkeypatch):
    admin = await _shop_with_kettle(cloud)
    calls = []
    real = fulltext.find

    async def counting(*args, **kw):
        calls.append(args[0])
        return await real(*args, **kw)

    monkeypatch.setattr(fulltext, "find", counting)
    for _ in range(5):
        r = await cloud.client.get("/api/v1/products/search?q=kettle")
        assert [p["sku"] for p in (await r.json())["products"]] == ["k1"]
    assert calls == ["kettle"]
    body = {"sku": "k2", "name": "Copper kettle", "price": 5600, "currency": "EUR", "stock": 1}
    assert (await cloud.client.post("/api/v1/shops/shop1/products", headers=admin,
                                    json=body)).status == 200
    r = await cloud.client.get("/api/v1/products/search?q=kettle")
    assert sorted(p["sku"] for p in (await r.json())["products"]) == ["k1", "k2"]
    assert calls == ["kettle", "kettle"]


async def test_the_cache_is_bounded(cloud, monkeypatch):
    """Every buyer's text is a key: a flood of distinct searches cannot grow it past its bound."""
    from fingerpos.cloud.commerce import catalog_cache
    await _shop_with_kettle(cloud)
    monkeypatch.setattr(catalog_cache, "MAX_ENTRIES", 20)
    for n in range(60):
        assert (await cloud.client.get(f"/api/v1/products/search?q=k{n}")).status == 200
    sizes = [len(c._entries) for c in catalog_cache._caches.values()]
    assert sizes and max(sizes) <= 20
