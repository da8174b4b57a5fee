"""Backpressure: with the database blocked, the inbox stays within its bound (the link
stops reading; the broker keeps the backlog) and every event is stored once after."""

from __future__ import annotations

import asyncio
import os
import sqlite3

import pytest
from fingerpos.cloud.fleet.registry import DeviceRegistry
from fingerpos.cloud.ingest.pipeline import Ingestion
from fingerpos.cloud.models.devices import Device, DeviceEvent
from fingerpos.tools.bench_terminal import BenchTerminal
from fingerpos.tools.fleet import heartbeat
from tortoise import connections

from tests.support.ingest_env import open_hex, register

pytestmark = pytest.mark.cloud  # run again on PostgreSQL by ./run test

_BOUND = 40
_EVENTS = 600


class WriteBlock:
    """Another connection that holds the event table so the ingestion cannot write
    (SQLite: an exclusive transaction; PostgreSQL: an EXCLUSIVE table lock)."""

    def __init__(self, request: pytest.FixtureRequest, tmp_path: object) -> None:
        self.request, self.tmp_path = request, tmp_path
        self._sqlite: sqlite3.Connection | None = None
        self._pg: object = None

    async def hold(self) -> None:
        if os.environ.get("FINGERPOS_TEST_DB", "sqlite") == "postgres":
            import asyncpg
            cluster = self.request.getfixturevalue("postgres")
            name = connections.get("default").database
            self._pg = await asyncpg.connect(cluster.url(name))
            await self._pg.execute("BEGIN; LOCK TABLE device_event IN EXCLUSIVE MODE")
        else:
            self._sqlite = sqlite3.connect(f"{self.tmp_path}/cloud.db", isolation_level=None,
                                           check_same_thread=False)
            self._sqlite.execute("BEGIN EXCLUSIVE")

    async def release(self) -> None:
        pg, self._pg = self._pg, None
        if pg is not None:
            await pg.execute("ROLLBACK")
            await pg.close()
        lite, self._sqlite = self._sqlite, None
        if lite is not None:
            lite.execute("ROLLBACK")
            lite.close()


async def test_a_blocked_database_pauses_reading_and_loses_nothing(ingest_db, broker,
                                                                   topic_prefix, request,
                                                                   tmp_path):
    dev = topic_prefix + "bp"
    key = await register(dev)
    ing = Ingestion(broker.url, DeviceRegistry(open_hex), client_id="cloud-" + topic_prefix,
                    inbox_max=_BOUND, batch_max=10)
    await ing.start()
    term = BenchTerminal(dev, key)
    block = WriteBlock(request, tmp_path)
    try:
        await term.connect(broker.url, subscribe=True)
        term.event(0, "heartbeat", heartbeat(1))  # the device is looked up and cached
        term.flush()
        async with asyncio.timeout(20):
            while term.acked < 1:
                await asyncio.sleep(0.02)
        await block.hold()
        for n in range(2, _EVENTS + 1):
            term.event(0, "heartbeat", heartbeat(n))
        term.flush()
        await term.drain()
        async with asyncio.timeout(30):  # the broker has them all; the cloud stopped reading
            while term.unconfirmed or not ing.link.paused:
                await asyncio.sleep(0.02)
        for _ in range(20):  # the bound holds while the database stays blocked
            assert len(ing._inbox) <= _BOUND
            await asyncio.sleep(0.05)
        assert ing.stats.paused >= 1 and ing.stats.stored == 1
        await block.release()
        async with asyncio.timeout(60):
            while term.acked < _EVENTS:
                await asyncio.sleep(0.05)
        assert ing.inbox_peak <= _BOUND and not ing.link.paused
        seqs = [e.seq for e in await DeviceEvent.filter(device_id=dev).order_by("seq")]
        assert seqs == list(range(1, _EVENTS + 1))  # each once, none missing
        assert (await Device.get(id=dev)).acked == _EVENTS
    finally:
        await block.release()
        await term.close()
        await ing.stop()
