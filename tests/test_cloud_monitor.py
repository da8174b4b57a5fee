"""The live monitor feed: snapshot, order and alarm messages, Origin check, and two workers on
one PostgreSQL where a client of either sees every change."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json

import pytest
from fingerpos.cloud.app import create_app
from fingerpos.cloud.core import monitor
from fingerpos.cloud.fleet import alarms

from .conftest import CloudHarness, in_app

pytestmark = pytest.mark.cloud
WS = "/api/v1/monitor/ws"


async def _next(ws, kind: str, timeout: float = 5.0) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            msg = json.loads((await ws.receive()).data)
            if msg["kind"] == kind:
                return msg["data"]


async def _buy(cloud) -> dict:
    buyer = await cloud.user()
    await cloud.product("shop1", "tea", 250)
    r = await cloud.client.post("/api/v1/orders", headers=buyer,
                                json={"shop": "shop1", "items": [{"sku": "tea", "qty": 1}]})
    assert r.status == 201
    return await r.json()


async def test_feed_sends_snapshot_then_live_orders_and_alarms(cloud):
    manager = await cloud.user("manager", shop="shop1")
    await cloud.device("t1", "shop1")
    ws = await cloud.client.ws_connect(WS, headers=manager)
    admin_ws = await cloud.client.ws_connect(WS, headers=await cloud.admin())
    snapshot = await _next(ws, "snapshot")
    assert set(snapshot) == {"counts", "alarms", "devices"}
    order = await _buy(cloud)
    seen = await _next(ws, "order")
    assert (seen["id"], seen["state"]) == (order["id"], "pending_payment")
    with in_app(cloud.app):
        await alarms.raise_alarm("t1", "offline", "critical", "terminal offline")
        await monitor.publish(cloud.app, "ingest", {"rate": 5})   # what the ingestion publishes
    alarm = await _next(ws, "alarm")
    assert (alarm["kind"], alarm["shop"]) == ("offline", "shop1")
    # Fleet-wide ingestion figures belong to no shop: admins only.
    assert (await _next(admin_ws, "ingest")) == {"rate": 5}
    snap = await (await cloud.client.get("/api/v1/monitor", headers=manager)).json()
    assert snap["counts"] == {"pending_payment": 1}
    await ws.close()
    await admin_ws.close()


async def test_feed_needs_staff_and_a_same_site_origin(cloud):
    from aiohttp import WSServerHandshakeError
    manager = await cloud.user("manager", shop="shop1")
    for headers, status in ((await cloud.user(), 403), ({}, 401),
                            ({**manager, "Origin": "http://evil.example"}, 403)):
        with pytest.raises(WSServerHandshakeError) as e:
            await cloud.client.ws_connect(WS, headers=headers)
        assert e.value.status == status
    host = cloud.client.make_url("/").host + ":" + str(cloud.client.port)
    ws = await cloud.client.ws_connect(WS, headers={**manager, "Origin": f"http://{host}"})
    await _next(ws, "snapshot")
    await ws.close()


async def test_two_workers_on_one_postgres_both_feeds_see_every_change(
        aiohttp_client, postgres, cloud_db_template, tmp_path):
    from .conftest import forget_sql_dialect
    forget_sql_dialect()
    kind, _ = cloud_db_template
    if kind == "sqlite":  # the session has no template in this cluster: make one here
        await postgres.execute("CREATE DATABASE fp_template")
        from .conftest import _migrate
        await _migrate(postgres.url("fp_template"))
    name = f"fp_two_{next(_names)}"
    await postgres.execute(f"CREATE DATABASE {name} TEMPLATE fp_template")
    from fingerpos.cloud.core.config import Config
    base = Config(db_url=postgres.url(name), data_dir=tmp_path, ingest=False,
                  key_secret="test-secret-0123456789abcdef", timer_interval_s=3600.0)
    a = CloudHarness(await aiohttp_client(create_app(base)))
    b = CloudHarness(await aiohttp_client(create_app(dataclasses.replace(base))))
    manager = await a.user("manager", shop="shop1")
    await a.device("t7", "shop1")                # the alarm's terminal: the manager's shop
    feeds = [await h.client.ws_connect(WS, headers=manager) for h in (a, b)]
    for ws in feeds:
        await _next(ws, "snapshot")
    order_a = await _buy(a)                      # a change made by worker A ...
    with in_app(b.app):                          # ... and one made by worker B
        await alarms.raise_alarm("t7", "seq_gap", "warning", "gap")
    for ws in feeds:
        assert (await _next(ws, "order"))["id"] == order_a["id"]
        assert (await _next(ws, "alarm"))["device"] == "t7"
        await ws.close()


async def _pg_config(postgres, tmp_path, tag: str):
    """The config of an app (no ingestion) on a new, migrated PostgreSQL database."""
    from fingerpos.cloud.core.config import Config

    from .conftest import _migrate, forget_sql_dialect
    forget_sql_dialect()
    name = f"fp_{tag}_{next(_names)}"
    await postgres.execute(f"CREATE DATABASE {name}")
    await _migrate(postgres.url(name))
    return Config(db_url=postgres.url(name), data_dir=tmp_path, ingest=False,
                  key_secret="test-secret-0123456789abcdef", timer_interval_s=3600.0)


@dataclasses.dataclass(frozen=True)
class _Everything:
    """An audience that sees every feed message (an admin's)."""

    admin: bool = True
    shop: None = None
    buyer: None = None

    def sees_feed(self, kind: str, data: object) -> bool:
        return True


async def test_on_postgres_the_publishing_worker_delivers_at_once_and_only_once(
        aiohttp_client, postgres, cloud_db_template, tmp_path):
    """The publishing worker's own clients get a message when `publish` returns, not after
    the NOTIFY round trip through the server, and not a second time when its own NOTIFY
    comes back through LISTEN; another worker still gets it through NOTIFY."""
    base = await _pg_config(postgres, tmp_path, "local")
    a = CloudHarness(await aiohttp_client(create_app(base)))
    b = CloudHarness(await aiohttp_client(create_app(dataclasses.replace(base))))
    ws_b = await b.client.ws_connect(WS, headers=await b.user("admin"))
    await _next(ws_b, "snapshot")
    mine = a.app[monitor.MONITOR].subscribe(_Everything())
    for n in range(3):
        await monitor.publish(a.app, "ingest", {"n": n, "text": "收银台"})
        assert json.loads(mine.get_nowait())["data"]["n"] == n   # there already
    assert [(await _next(ws_b, "ingest"))["n"] for _ in range(3)] == [0, 1, 2]
    await monitor.publish(b.app, "ingest", {"n": 3})   # another worker's: through LISTEN
    async with asyncio.timeout(5):
        last = json.loads(await mine.get())
    assert last["data"]["n"] == 3                      # and nothing of its own came twice
    assert mine.empty()
    await ws_b.close()


_names = itertools.count(1)


async def test_buyer_feed_carries_only_the_buyers_own_orders(cloud):
    ann, bob = await cloud.user(), await cloud.user()
    ws = await cloud.client.ws_connect("/api/v1/orders/ws", headers=ann)
    hello = await _next(ws, "hello")
    await cloud.product("shop1", "tea", 250)
    for who in (bob, ann):
        r = await cloud.client.post("/api/v1/orders", headers=who,
                                    json={"shop": "shop1", "items": [{"sku": "tea", "qty": 1}]})
        assert r.status == 201
    seen = await _next(ws, "order")
    assert seen["buyer"] == hello["user"]            # bob's order, made first, never arrived
    with pytest.raises(TimeoutError):
        await _next(ws, "order", timeout=0.5)
    await ws.close()


async def test_feed_pushes_state_counts(cloud, monkeypatch):
    monkeypatch.setattr(monitor, "COUNTS_INTERVAL_S", 0.1)   # read by the pusher each round
    manager = await cloud.user("manager", shop="shop1")
    ws = await cloud.client.ws_connect(WS, headers=manager)
    await _buy(cloud)
    counts = await _next(ws, "counts")
    assert counts == {"pending_payment": 1}
    await ws.close()


async def test_counts_are_read_again_on_order_news_not_on_every_round(cloud, monkeypatch):
    """The counts query scans every order (and on SQLite holds the connection the
    ingestion commits on): it runs when an order message reached the hub, from any shop,
    and otherwise only every COUNTS_REFRESH_S, a safety net for a change no feed message
    told. A stream that changes no order (heartbeats) must not pay for it every 2 s."""
    from fingerpos.cloud.models.orders import Order
    monkeypatch.setattr(monitor, "COUNTS_INTERVAL_S", 0.05)
    monkeypatch.setattr(monitor, "COUNTS_REFRESH_S", 3600.0)
    manager = await cloud.user("manager", shop="shop1")
    ws = await cloud.client.ws_connect(WS, headers=manager)
    await _next(ws, "snapshot")
    order = await _buy(cloud)
    assert await _next(ws, "counts") == {"pending_payment": 1}
    with in_app(cloud.app):  # behind the cloud's back: no feed message says so
        await Order.filter(id=order["id"]).update(state="cancelled")
    with pytest.raises(TimeoutError):
        await _next(ws, "counts", timeout=0.6)   # twelve rounds, no query
    # Another shop's order: this manager never sees its message, but it is news.
    await cloud.product("shop2", "cake", 300)
    r = await cloud.client.post("/api/v1/orders", headers=await cloud.user(),
                                json={"shop": "shop2", "items": [{"sku": "cake", "qty": 1}]})
    assert r.status == 201
    assert await _next(ws, "counts") == {"cancelled": 1}
    with in_app(cloud.app):
        await Order.filter(id=order["id"]).update(state="expired")
    monkeypatch.setattr(monitor, "COUNTS_REFRESH_S", 0.2)   # the safety net
    assert await _next(ws, "counts") == {"expired": 1}
    await ws.close()


async def test_a_burst_on_postgres_arrives_complete_and_in_order(
        aiohttp_client, postgres, cloud_db_template, tmp_path):
    """Batched NOTIFYs: 500 messages published at once reach a feed client in order."""
    config = await _pg_config(postgres, tmp_path, "burst")
    cloud = CloudHarness(await aiohttp_client(create_app(config)))
    ws = await cloud.client.ws_connect(WS, headers=await cloud.user("admin"))
    await _next(ws, "snapshot")
    await asyncio.gather(*[monitor.publish(cloud.app, "ingest", {"n": n, "pad": "x" * 100})
                           for n in range(500)])
    got = [(await _next(ws, "ingest"))["n"] for _ in range(500)]
    assert got == list(range(500))
    await ws.close()
