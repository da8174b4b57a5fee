"""The embedded amqtt broker: paho clients connect to it, and the ingestion runs on it."""

from __future__ import annotations

import asyncio

from aiohttp import web
from fingerpos.cloud.fleet.registry import DeviceRegistry
from fingerpos.cloud.ingest.broker import EmbeddedBroker, embedded_broker_ctx
from fingerpos.cloud.ingest.link import MqttLink
from fingerpos.cloud.ingest.pipeline import Ingestion
from fingerpos.cloud.models.devices import DeviceEvent
from fingerpos.tools.fleet import SimTerminal, heartbeat
from fingerpos.tools.mosquitto import free_port

from tests.support.ingest_env import open_hex, register


async def test_paho_talks_through_the_embedded_broker():
    broker = await EmbeddedBroker("127.0.0.1", free_port()).start()
    got: list[bytes] = []
    try:
        sub = MqttLink(broker.url, "sub", [("fp/v1/dev/+/evt", 1)],
                       lambda c, u, m: got.append(m.payload))
        pub = MqttLink(broker.url, "pub", [])
        await sub.start()
        await pub.start()
        await asyncio.sleep(0.2)  # the SUBACK
        for i in range(50):
            pub.publish("fp/v1/dev/t1/evt", b"m%d" % i)
        async with asyncio.timeout(10):
            while len(got) < 50:
                await asyncio.sleep(0.02)
        assert got == [b"m%d" % i for i in range(50)]
        await pub.stop()
        await sub.stop()
    finally:
        await broker.stop()


async def test_ingestion_on_the_embedded_broker(ingest_db):
    port = free_port()
    app = web.Application()
    urls: list[str] = []
    app.cleanup_ctx.append(embedded_broker_ctx("127.0.0.1", port, urls.append))
    runner = web.AppRunner(app)
    await runner.setup()  # runs the cleanup_ctx startup: the broker listens
    try:
        ing = Ingestion(urls[0], DeviceRegistry(open_hex))
        await ing.start()
        t = SimTerminal("e1", await register("e1"), urls[0])
        await t.start()
        for n in range(100):
            t.emit("heartbeat", heartbeat(n))
        await t.drained(timeout=20)
        assert await DeviceEvent.filter(device_id="e1").count() == 100
        await t.stop()
        await ing.stop()
    finally:
        await runner.cleanup()
