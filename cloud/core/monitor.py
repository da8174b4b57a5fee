"""The live monitor feed: `publish(app, kind, payload)` reaches every WebSocket client.

With one worker (or SQLite) messages go straight to this process's clients.
On PostgreSQL every message also goes out through NOTIFY on one channel and
comes back through LISTEN to each other worker, which hands it to its own
clients: so a client connected to any worker sees every change, whichever
worker made it. The worker that publishes hands it to its own clients at once
and skips its own NOTIFYs when they come back (the notifying backend's pid is
its LISTEN connection's): before, its clients waited for that round trip, a
few ms of the monitor's latency under `fingerpos bench ingest` (issue #14).
(NOTIFY is transactional and ordered per sender, needs no extra service,
and its 8000-byte payload limit is far above a feed message.)

Kinds in use: order, orders, alarm, counts, device, ingest (the last two published by
cloud-b).

Each client subscribes with its Audience (cloud/api/policy.py's Scope), and `deliver`
hands a message only to the clients whose audience may see it: every message names
the shop it belongs to (`publish` adds the shop of a device or alarm message's terminal
when the publisher did not), so one shop's terminals, orders and alarms never reach
another shop's socket, on this worker or any other. The state counts are computed per
shop and each client is sent its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol
from urllib.parse import urlsplit

from aiohttp import web
from fingerpos.cloud.core.appkeys import CONFIG, MONITOR

log = logging.getLogger(__name__)
CHANNEL = "fingerpos_monitor"
_QUEUE_MAX = 1000    # a client this far behind is dropped rather than growing memory
_OUTBOX_MAX = 10000  # feed messages waiting for NOTIFY
_NOTIFY_MAX = 7900   # PostgreSQL's NOTIFY payload limit is 8000 bytes
# The app whose feed service functions publish to (set for its startup task and requests).
CURRENT_APP: contextvars.ContextVar[web.Application | None] = contextvars.ContextVar(
    "fingerpos_app", default=None)


class Audience(Protocol):
    """Who is at the other end of a feed (cloud/api/policy.py's Scope is one)."""

    @property
    def admin(self) -> bool: ...
    @property
    def shop(self) -> str | None: ...
    @property
    def buyer(self) -> int | None: ...
    def sees_feed(self, kind: str, data: Any) -> bool: ...


_SHOP_CACHE_MAX = 10_000
ORDER_KINDS = ("order", "orders")  # feed messages that say order states changed


class Hub:
    """This worker's feed clients, and the optional PostgreSQL fan-out.

    On PostgreSQL, messages wait in a short outbox that one task sends as
    newline-joined batches (feed messages are one-line JSON), so a burst of
    order changes costs a few NOTIFYs rather than one round trip each, and a
    publisher never waits for the database.
    """

    def __init__(self) -> None:
        self.clients: dict[asyncio.Queue[str], Audience] = {}
        self.device_shops: dict[str, str | None] = {}   # a terminal's shop never changes
        self._pg: Any = None          # asyncpg connection while fanning out
        self._pid: int | None = None  # its server process: NOTIFYs from it are this hub's
        self._outbox: list[str] = []
        self._pending = asyncio.Event()
        self.published = 0
        self.order_news = 0  # order/orders messages delivered here (any worker's, on PG)

    def subscribe(self, audience: Audience) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(_QUEUE_MAX)
        self.clients[queue] = audience
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        self.clients.pop(queue, None)

    def put(self, queue: asyncio.Queue[str], text: str) -> None:
        try:
            queue.put_nowait(text)
        except asyncio.QueueFull:
            self.clients.pop(queue, None)   # its handler sees the drop and closes

    def deliver(self, text: str) -> None:
        """Hand one feed message to every client whose audience may see it."""
        if not self.clients:
            return
        try:
            msg = json.loads(text)
            kind, data = msg["kind"], msg.get("data")
        except (ValueError, KeyError, TypeError):
            log.warning("monitor: dropped a malformed feed message")
            return
        if kind in ORDER_KINDS:
            self.order_news += 1
        per_shop: dict[str | None, str | None] = {}
        for queue, audience in list(self.clients.items()):
            if audience.sees_feed(kind, data):
                self.put(queue, text)
            elif kind == "ingest" and audience.shop is not None:
                if audience.shop not in per_shop:
                    per_shop[audience.shop] = _shop_items(data, audience.shop)
                if per_shop[audience.shop]:
                    self.put(queue, per_shop[audience.shop])  # type: ignore[arg-type]

    async def shop_of(self, device_id: Any) -> str | None:
        """The shop of a terminal (cached: a terminal's shop is set when it is registered)."""
        if not isinstance(device_id, str) or not device_id:
            return None
        if device_id not in self.device_shops:
            from fingerpos.cloud.models.devices import Device
            row = await Device.filter(id=device_id[:32]).first().values("shop")
            if row is None:
                return None   # not registered (yet): ask again next time
            if len(self.device_shops) >= _SHOP_CACHE_MAX:
                self.device_shops.clear()
            self.device_shops[device_id] = row["shop"]
        return self.device_shops[device_id]

    def deliver_batch(self, batch: str) -> None:
        for text in batch.split("\n"):
            if text:
                self.deliver(text)

    async def send(self, text: str) -> None:
        self.published += 1
        self.deliver(text)  # this worker's clients at once, not after a round trip
        if self._pg is None:
            return
        if len(self._outbox) >= _OUTBOX_MAX:
            del self._outbox[0]   # a stalled database must not grow memory: drop the oldest
        self._outbox.append(text)
        self._pending.set()

    async def run_fanout(self) -> None:
        """Send the outbox through NOTIFY until cancelled."""
        while True:
            await self._pending.wait()
            self._pending.clear()
            while self._outbox:
                batch, size = [], 0
                while self._outbox and size + len(self._outbox[0]) < _NOTIFY_MAX:
                    size += len(self._outbox[0]) + 1
                    batch.append(self._outbox.pop(0))
                if not batch:   # one message over the limit: only this worker's clients saw it
                    self._outbox.pop(0)
                    continue
                try:
                    await self._pg.execute("SELECT pg_notify($1, $2)", CHANNEL, "\n".join(batch))
                except Exception as e:  # asyncpg's errors: the local clients had them
                    log.warning("monitor NOTIFY failed (%s); delivered locally only", e)

    def from_listen(self, pid: int, batch: str) -> None:
        """A NOTIFY batch came back through LISTEN: deliver it, unless this hub sent it
        (its own connection's server pid): `send` gave those to the local clients already."""
        if pid != self._pid:
            self.deliver_batch(batch)


def _shop_items(data: Any, shop: str) -> str | None:
    """The part of an ingestion message a shop's staff may see: the events of their own
    terminals ([device, seq, type, shop] items), without the fleet-wide figures."""
    items = data.get("items") if isinstance(data, dict) else None
    mine = [it for it in items or () if isinstance(it, list) and len(it) > 3 and it[3] == shop]
    if not mine:
        return None
    return json.dumps({"kind": "ingest", "data": {"items": mine}}, separators=(",", ":"))


def current_app() -> web.Application | None:
    return CURRENT_APP.get()


async def publish(app: web.Application | None, kind: str, payload: dict[str, Any]) -> None:
    """Send one feed message {"kind": kind, "data": payload} to every monitor client."""
    app = app if app is not None else current_app()
    if app is None or MONITOR not in app:
        return
    hub: Hub = app[MONITOR]  # type: ignore[assignment]
    if kind == "ingest" and isinstance(payload, dict) and isinstance(payload.get("items"), list):
        payload = {**payload, "items": [
            [*item[:3], await hub.shop_of(item[0])] if isinstance(item, list) and item else item
            for item in payload["items"]]}
    if kind in ("device", "alarm") and isinstance(payload, dict) and "shop" not in payload:
        payload = {**payload, "shop": await hub.shop_of(
            payload.get("id") if kind == "device" else payload.get("device"))}
    await hub.send(json.dumps({"kind": kind, "data": payload}, separators=(",", ":"), default=str))


def _asyncpg_dsn(url: str) -> str | None:
    scheme = urlsplit(url).scheme
    if scheme in ("postgres", "postgresql", "asyncpg"):
        return "postgresql://" + url.split("://", 1)[1]
    return None


async def monitor_hub(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the feed hub; on PostgreSQL, its LISTEN connection."""
    hub = Hub()
    app[MONITOR] = hub
    CURRENT_APP.set(app)
    dsn = _asyncpg_dsn(app[CONFIG].database_url)
    if dsn:
        import asyncpg

        conn = await asyncpg.connect(dsn)

        def on_notify(_conn: Any, pid: int, _channel: str, text: str) -> None:
            hub.from_listen(pid, text)

        await conn.add_listener(CHANNEL, on_notify)
        hub._pg, hub._pid = conn, conn.get_server_pid()
    tasks = [asyncio.create_task(_push_counts(app, hub), name="monitor-counts")]
    if hub._pg is not None:
        tasks.append(asyncio.create_task(hub.run_fanout(), name="monitor-fanout"))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if hub._pg is not None:
            conn, hub._pg = hub._pg, None
            await conn.close()


COUNTS_INTERVAL_S = 2.0
# Without an order message the counts are read again only this often (a safety net for
# a change that reached no feed); every order change publishes one (cloud/orders/notify.py).
COUNTS_REFRESH_S = 30.0


async def _push_counts(app: web.Application, hub: Hub) -> None:
    """Every COUNTS_INTERVAL_S, while this worker has feed clients, send each of them the
    order state counts it may see (its shop's; every shop's for admins) when they changed.
    Local only: every worker reads the same database, so no NOTIFY is needed, and one
    query per interval (not per order change) keeps a busy stream cheap.

    The query runs only when an order message reached this hub since the last one (on
    PostgreSQL every worker's come back through LISTEN), a client is new, or
    COUNTS_REFRESH_S passed: it scans every order (~90 ms at 100,000 orders on SQLite,
    where it also holds the one connection the ingestion commits on), and run every
    2 s regardless it put most of `fingerpos bench ingest`'s p99 at 1,000 heartbeats/s,
    a stream that changes no order (issue #14 item 5)."""
    last: dict[asyncio.Queue[str], dict[str, int]] = {}
    seen_news, read_at = -1, 0.0
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(COUNTS_INTERVAL_S)
        if not hub.clients:
            last.clear()
            continue
        news = hub.order_news
        if (news == seen_news and loop.time() - read_at < COUNTS_REFRESH_S
                and all(q in last for q, who in hub.clients.items() if who.buyer is None)):
            continue
        try:
            per_shop = await counts_by_shop()
            seen_news, read_at = news, loop.time()
        except (OSError, ConnectionError) as e:  # database away: the next round tries again
            log.warning("monitor counts: %s", e)
            continue
        for queue in [q for q in last if q not in hub.clients]:
            del last[queue]
        for queue, audience in list(hub.clients.items()):
            if audience.buyer is not None:
                continue
            counts = counts_for(audience, per_shop)
            if counts != last.get(queue):
                hub.put(queue, json.dumps({"kind": "counts", "data": counts},
                                          separators=(",", ":")))
                last[queue] = counts


async def counts_by_shop() -> dict[str, dict[str, int]]:
    """{shop: {state: orders}} in one grouped query."""
    from fingerpos.cloud.models.orders import Order
    from tortoise.functions import Count
    rows = await Order.all().annotate(n=Count("id")).group_by("shop_id", "state").values(
        "shop_id", "state", "n")
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        out.setdefault(row["shop_id"], {})[row["state"]] = row["n"]
    return out


def counts_for(audience: Audience, per_shop: dict[str, dict[str, int]]) -> dict[str, int]:
    """The state counts this audience may see: its shop's, or every shop's summed."""
    if not audience.admin:
        return dict(per_shop.get(audience.shop or "", {}))
    total: dict[str, int] = {}
    for counts in per_shop.values():
        for state, n in counts.items():
            total[state] = total.get(state, 0) + n
    return total
