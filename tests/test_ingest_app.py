"""The ingestion inside create_app: a terminal's sale becomes one order, acked and fed live."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from fingerpos.cloud.app import create_app
from fingerpos.cloud.ingest.wiring import BIND_ENV, INGESTION
from fingerpos.cloud.models.orders import Order
from fingerpos.tools.fleet import SimTerminal, heartbeat, sale
from fingerpos.tools.mosquitto import free_port

from tests.conftest import CloudHarness, in_app

pytestmark = pytest.mark.cloud  # run again on PostgreSQL by ./run test


async def _cloud(aiohttp_client, config) -> CloudHarness:
    return CloudHarness(await aiohttp_client(create_app(config)))


async def test_sales_become_orders_once_through_mosquitto(aiohttp_client, cloud_config, broker,
                                                          topic_prefix):
    config = dataclasses.replace(cloud_config, ingest=True, mqtt_url=broker.url)
    cloud = await _cloud(aiohttp_client, config)
    dev = topic_prefix + "s"
    key = await cloud.device(dev, "shop1")
    seller = await cloud.user("seller", shop="shop1")
    ws = await cloud.client.ws_connect("/api/v1/monitor/ws", headers=seller)
    t = SimTerminal(dev, key, broker.url)
    await t.start()
    for n in range(20):
        t.emit("sale", sale(n))
    t.emit("heartbeat", heartbeat(1))
    first = dict(t.outbox)
    await t.drained(timeout=20)
    for topic, payload in first.values():  # the whole stream again: no order doubles
        t.link.publish(topic, payload)
    ing = cloud.app[INGESTION]
    async with asyncio.timeout(10):
        while ing.stats.duplicates < 21:
            await asyncio.sleep(0.05)
    with in_app(cloud.app):
        orders = await Order.filter(device_id=dev).order_by("id")
        assert [o.ref for o in orders] == [f"r{n}" for n in range(20)]
        assert {o.state for o in orders} == {"completed"}  # paid in full at the counter (#16 item 2)
    typs = [c["typ"] for c in t.commands]
    assert typs[:2] == ["time", "roster"]
    seen = set()
    async with asyncio.timeout(10):
        while "ingest" not in seen or "order" not in seen:
            msg = await ws.receive_json()
            seen.add(msg["kind"])
    metrics = await (await cloud.client.get("/metrics")).text()
    assert "fingerpos_ingest_stored_total 21" in metrics
    await ws.close()
    await t.stop()


async def test_serve_with_the_embedded_broker(aiohttp_client, cloud_config, monkeypatch):
    port = free_port()
    monkeypatch.setenv(BIND_ENV, f"127.0.0.1:{port}")
    config = dataclasses.replace(cloud_config, ingest=True, mqtt_url=None)
    cloud = await _cloud(aiohttp_client, config)
    key = await cloud.device("emb1", "shop1")
    t = SimTerminal("emb1", key, f"mqtt://127.0.0.1:{port}")
    await t.start()
    t.emit("sale", sale(1))
    await t.drained(timeout=20)
    with in_app(cloud.app):
        assert await Order.filter(device_id="emb1").count() == 1
    await t.stop()
