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


# --- two workers on one database ---------------------------------------------------------
# On PostgreSQL each worker's cache LISTENs for the trigger's NOTIFY instead of reading the
# revision row per page (0019_catalog_notify). The outside references: a plain SQL client's
# edit (psql, another service), a second app on the same database, and the server killing
# the LISTEN connection (pg_terminate_backend, as an admin or a restart does).

def _cache_of(app):
    from fingerpos.cloud.commerce import catalog_cache
    from tortoise import connections

    from tests.conftest import in_app
    with in_app(app):
        return catalog_cache._caches.get(connections.get("default"))


async def _until(what, seconds=10.0):
    import asyncio
    import time
    deadline = time.monotonic() + seconds
    while not what():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def _second_app(aiohttp_client, cloud_config):
    import dataclasses

    from fingerpos.cloud.app import create_app

    from tests.conftest import CloudHarness
    return CloudHarness(await aiohttp_client(create_app(dataclasses.replace(cloud_config))))


def _on_postgres(url):
    return url.startswith("postgres")


async def test_a_plain_sql_edit_reaches_a_second_apps_next_page(cloud, cloud_config,
                                                                 aiohttp_client, cloud_db_url):
    await _shop_with_kettle(cloud)
    other = await _second_app(aiohttp_client, cloud_config)
    for h in (cloud, other):                     # both workers have the page cached
        for _ in range(2):
            assert "Iron kettle" in await (await h.client.get("/product/shop1/k1")).text()
    caches = [_cache_of(h.app) for h in (cloud, other)]
    if _on_postgres(cloud_db_url):               # LISTEN comes up beside the first pages
        await _until(lambda: all(c.listening for c in caches))
    before = [c.notifications for c in caches]
    await _outside_sql(cloud_db_url, "UPDATE products SET name = '铸铁壶 kettle' WHERE sku = 'k1'")
    if _on_postgres(cloud_db_url):               # the commit's NOTIFY reached both workers
        await _until(lambda: all(c.notifications > n for c, n in zip(caches, before, strict=True)))
    for h in (other, cloud):
        page = await (await h.client.get("/product/shop1/k1")).text()
        assert "铸铁壶 kettle" in page and "Iron kettle" not in page
    # an edit through one worker's API reaches the other worker's next search
    admin = await cloud.admin()
    body = {"sku": "k2", "name": "Copper kettle", "price": 5600, "currency": "EUR", "stock": 1}
    before = [c.notifications for c in caches]
    assert (await cloud.client.post("/api/v1/shops/shop1/products", headers=admin,
                                    json=body)).status == 200
    if _on_postgres(cloud_db_url):
        await _until(lambda: caches[1].notifications > before[1])
    found = await (await other.client.get("/api/v1/products/search?q=kettle")).json()
    assert sorted(p["sku"] for p in found["products"]) == ["k1", "k2"]


async def test_cached_pages_read_the_revision_only_when_it_may_have_moved(
        cloud, cloud_db_url, monkeypatch):
    """PostgreSQL while LISTENing: no round trip per cached page; SQLite: the private read."""
    from fingerpos.cloud.commerce import catalog_cache
    await _shop_with_kettle(cloud)
    monkeypatch.setattr(catalog_cache, "REREAD_S", 3600.0)
    reads = []
    real = catalog_cache.CatalogCache.read_revision

    async def counting(self, client):
        reads.append(1)
        return await real(self, client)

    monkeypatch.setattr(catalog_cache.CatalogCache, "read_revision", counting)
    assert (await cloud.client.get("/product/shop1/k1")).status == 200
    if _on_postgres(cloud_db_url):
        await _until(lambda: _cache_of(cloud.app).listening)
    assert (await cloud.client.get("/product/shop1/k1")).status == 200  # LISTENing: one read
    reads.clear()
    for _ in range(20):
        assert (await cloud.client.get("/product/shop1/k1")).status == 200
    # the setup's own notifications arrive late with numbers already read: no news
    assert len(reads) == (0 if _on_postgres(cloud_db_url) else 20)
    monkeypatch.setattr(catalog_cache, "REREAD_S", 0.0)  # the safety net: re-read after it
    reads.clear()
    for _ in range(3):
        assert (await cloud.client.get("/product/shop1/k1")).status == 200
    assert len(reads) == 3


async def test_losing_the_listen_connection_falls_back_to_reading_the_row(cloud, cloud_db_url):
    await _shop_with_kettle(cloud)
    assert "Iron kettle" in await (await cloud.client.get("/product/shop1/k1")).text()
    cache = _cache_of(cloud.app)
    if _on_postgres(cloud_db_url):
        await _outside_sql(cloud_db_url, "SELECT pg_terminate_backend(pid) FROM"
                                         " pg_stat_activity WHERE query LIKE 'LISTEN%'")
        await _until(lambda: not cache.listening)
    await _outside_sql(cloud_db_url, "UPDATE products SET name = 'Kettle two' WHERE sku = 'k1'")
    for _ in range(2):   # no notification can come: every page reads the row meanwhile
        assert "Kettle two" in await (await cloud.client.get("/product/shop1/k1")).text()
    if _on_postgres(cloud_db_url):
        await _until(lambda: cache.listening)    # reconnected, LISTENing again
        n = cache.notifications
        await _outside_sql(cloud_db_url, "UPDATE products SET name = 'Kettle 3' WHERE sku = 'k1'")
        await _until(lambda: cache.notifications > n)
    assert "Kettle 3" in await (await cloud.client.get("/product/shop1/k1")).text() or \
        not _on_postgres(cloud_db_url)
