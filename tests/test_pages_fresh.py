"""Two cloud workers on one database: a catalogue edit made through one is on the other's
buyer pages and APIs at once. The outside reference is a second app instance (as a second
`fingerpos serve` worker would be): any cache kept only in a process would show it the old
name, price or a deleted product, and this test would fail."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.cloud


async def _seen_by(client, sku: str) -> dict[str, str]:
    pages = {"shop": "/?q=kettle", "product": f"/product/shop1/{sku}",
             "json": f"/api/v1/shops/shop1/products/{sku}",
             "search": "/api/v1/products/search?q=kettle"}
    out = {}
    for name, path in pages.items():
        r = await client.get(path)
        out[name] = f"{r.status} {await r.text()}"
    return out


async def test_an_edit_through_one_worker_is_seen_by_another_at_once(cloud, aiohttp_client,
                                                                       cloud_config):
    from fingerpos.cloud.app import create_app
    other = await aiohttp_client(create_app(cloud_config))  # a second worker, same database
    admin = await cloud.admin()
    await cloud.client.post("/api/v1/shops", json={"id": "shop1"}, headers=admin)
    body = {"sku": "k1", "name": "Iron kettle", "price": 4900, "currency": "EUR", "stock": 3}
    assert (await cloud.client.post("/api/v1/shops/shop1/products", headers=admin,
                                    json=body)).status == 200
    for _ in range(3):  # read it a few times through the other worker: anything it caches, warm
        before = await _seen_by(other, "k1")
    assert all(v.startswith("200") and "Iron kettle" in v for v in before.values()), before
    body.update(name="Copper kettle", price=5600)
    assert (await cloud.client.post("/api/v1/shops/shop1/products", headers=admin,
                                    json=body)).status == 200
    after = await _seen_by(other, "k1")
    for name, text in after.items():
        assert "Copper kettle" in text and "Iron kettle" not in text, (name, text[:300])
    assert "56.00" in after["product"] and '"price": 5600' in after["json"]
    r = await cloud.client.delete("/api/v1/shops/shop1/products/k1", headers=admin)
    assert r.status == 200, await r.text()
    gone = await _seen_by(other, "k1")
    assert gone["product"].startswith("404") and gone["json"].startswith("404")
    assert "Copper kettle" not in gone["shop"] and "Copper kettle" not in gone["search"]
