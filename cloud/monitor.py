"""The live monitor feed: `publish(app, kind, payload)` reaches every WebSocket client.

With one worker (or SQLite) messages go straight to this process's clients.
On PostgreSQL every message goes out through NOTIFY on one channel and comes
back through LISTEN to each worker, which hands it to its own clients: so a
client connected to any worker sees every change, whichever worker made it.
(NOTIFY is transactional and ordered per sender, needs no extra service,
and its 8000-byte payload limit is far above a feed message.)

Kinds in use: order, alarm, counts, device, ingest (the last two published by cloud-b).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from fingerpos.cloud.appkeys import CONFIG, MONITOR

log = logging.getLogger(__name__)
CHANNEL = "fingerpos_monitor"
_QUEUE_MAX = 1000    # a client this far behind is dropped rather than growing memory
_OUTBOX_MAX = 10000  # feed messages waiting for NOTIFY
_NOTIFY_MAX = 7900   # PostgreSQL's NOTIFY payload limit is 8000 bytes
# The app whose feed service functions publish to (set for its startup task and requests).
CURRENT_APP: contextvars.ContextVar[web.Application | None] = contextvars.ContextVar(
    "fingerpos_app", default=None)


class Hub:
    """This worker's feed clients, and the optional PostgreSQL fan-out.

    On PostgreSQL, messages wait in a short outbox that one task sends as
    newline-joined batches (feed messages are one-line JSON), so a burst of
    order changes costs a few NOTIFYs rather than one round trip each, and a
    publisher never waits for the database.
    """

    def __init__(self) -> None:
        self.clients: set[asyncio.Queue[str]] = set()
        self._pg: Any = None          # asyncpg connection while fanning out
        self._outbox: list[str] = []
        self._pending = asyncio.Event()
        self.published = 0

    def subscribe(self) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(_QUEUE_MAX)
        self.clients.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        self.clients.discard(queue)

    def deliver(self, text: str) -> None:
        for queue in list(self.clients):
            try:
                queue.put_nowait(text)
            except asyncio.QueueFull:
                self.clients.discard(queue)   # its handler sees the drop and closes

    def deliver_batch(self, batch: str) -> None:
        for text in batch.split("\n"):
            if text:
                self.deliver(text)

    async def send(self, text: str) -> None:
        self.published += 1
        if self._pg is None:
            self.deliver(text)
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
                if not batch:   # one message over the limit: only this worker's clients see it
                    self.deliver(self._outbox.pop(0))
                    continue
                try:
                    await self._pg.execute("SELECT pg_notify($1, $2)", CHANNEL, "\n".join(batch))
                except Exception as e:  # asyncpg's errors: the local clients still get them
                    log.warning("monitor NOTIFY failed (%s); delivering locally only", e)
                    for text in batch:
                        self.deliver(text)


def current_app() -> web.Application | None:
    return CURRENT_APP.get()


async def publish(app: web.Application | None, kind: str, payload: dict[str, Any]) -> None:
    """Send one feed message {"kind": kind, "data": payload} to every monitor client."""
    app = app if app is not None else current_app()
    if app is None or MONITOR not in app:
        return
    hub: Hub = app[MONITOR]  # type: ignore[assignment]
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

        def on_notify(_conn: Any, _pid: int, _channel: str, text: str) -> None:
            hub.deliver_batch(text)

        await conn.add_listener(CHANNEL, on_notify)
        hub._pg = conn
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


async def _push_counts(app: web.Application, hub: Hub) -> None:
    """Every COUNTS_INTERVAL_S, while this worker has feed clients, send them the order
    state counts. Local only: every worker reads the same database, so no NOTIFY is needed,
    and one query per interval (not per order change) keeps a busy stream cheap."""
    from fingerpos.cloud.orders.queries import state_counts
    last: dict[str, int] | None = None
    while True:
        await asyncio.sleep(COUNTS_INTERVAL_S)
        if not hub.clients:
            last = None
            continue
        try:
            counts = await state_counts()
        except (OSError, ConnectionError) as e:  # database away: the next round tries again
            log.warning("monitor counts: %s", e)
            continue
        if counts != last:
            hub.deliver(json.dumps({"kind": "counts", "data": counts}, separators=(",", ":")))
            last = counts
