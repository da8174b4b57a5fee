"""A cloud with ingestion on the test broker and three simulated terminals (two in shop1,
one in shop2), a product "tea" at 2.50 in shop1, and waits on what the terminals and the API see. Used by the order
engine's terminal tests and the cash-at-the-counter tests."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from fingerpos.tools.fleet import SimTerminal

from tests.conftest import CloudHarness


async def commands(t: SimTerminal, typ: str, n: int = 1, timeout: float = 20) -> list[dict]:
    """The data of the first `n` commands of `typ` the terminal received."""
    async with asyncio.timeout(timeout):
        while True:
            found = [c["data"] for c in t.commands if c["typ"] == typ]
            if len(found) >= n:
                return found
            await asyncio.sleep(0.02)


async def order_of(cloud, headers, oid, state=None, timeout=20.0) -> dict:
    """The order through the API, once it is in `state` (any state when None)."""
    async with asyncio.timeout(timeout):
        while True:
            order = await (await cloud.client.get(f"/api/v1/orders/{oid}", headers=headers)).json()
            if state is None or order["state"] == state:
                return order
            await asyncio.sleep(0.05)


@pytest.fixture
async def terminal_shop(aiohttp_client, cloud_config, broker, topic_prefix):
    from fingerpos.cloud.app import create_app
    config = dataclasses.replace(cloud_config, ingest=True, mqtt_url=broker.url)
    cloud = CloudHarness(await aiohttp_client(create_app(config)))
    await cloud.product("shop1", "tea", 250)
    terms = []
    for n, shop_id in ((1, "shop1"), (2, "shop1"), (3, "shop2")):
        dev = f"{topic_prefix}k{n}"
        t = SimTerminal(dev, await cloud.device(dev, shop_id), broker.url)
        await t.start()
        await commands(t, "roster")   # connected and known to the cloud
        terms.append(t)
    yield cloud, terms
    for t in terms:
        await t.stop()
