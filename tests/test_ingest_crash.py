"""Resilience: SIGKILL the cloud mid-stream; stop the database mid-stream."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from fingerpos.cloud.core import db
from fingerpos.cloud.core.keyring import DeviceKeyring
from fingerpos.cloud.fleet.registry import DeviceRegistry
from fingerpos.cloud.ingest.pipeline import Ingestion
from fingerpos.cloud.models.devices import Device, DeviceEvent
from fingerpos.cloud.models.orders import Order
from fingerpos.tools.fleet import SimTerminal, heartbeat, sale
from tortoise import Tortoise

from tests.conftest import REPO, PostgresCluster
from tests.support.ingest_env import init_db, open_hex, register
from tests.support.ingest_runner import config as runner_config

TERMINALS = 5
PER_TERMINAL = 2000  # 10,000 events in all


async def _start_cloud(db_url: str, mqtt_url: str, client_id: str,
                       data_dir: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.ingest_runner", db_url, mqtt_url, client_id,
         str(data_dir)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)
    assert line.strip() == b"ready", line
    return proc


async def test_sigkill_mid_stream_loses_nothing_and_doubles_nothing(broker, topic_prefix,
                                                                    tmp_path):
    """10,000 events (every 10th a sale) from 5 terminals; the cloud is SIGKILLed at 40%."""
    db_url = f"sqlite://{tmp_path}/cloud.sqlite3"
    ctx = await db.open_context(db_url)
    ring = DeviceKeyring(runner_config(db_url, broker.url, str(tmp_path)).key_secret)
    terms = []
    with ctx:
        await db.migrate(ctx)
        for i in range(TERMINALS):
            dev, key = f"{topic_prefix}k{i}", os.urandom(32)
            await Device.create(id=dev, shop="shop1", key_enc=ring.seal(dev, key))
            terms.append(SimTerminal(dev, key, broker.url, resend_s=2.0))
    client = "cloud-" + topic_prefix
    cloud = await _start_cloud(db_url, broker.url, client, tmp_path)
    try:
        for t in terms:
            await t.start()
        rounds = 100
        for r in range(rounds):
            for t in terms:
                for _ in range(PER_TERMINAL // rounds):
                    if t.seq % 10 == 9:
                        t.emit("sale", sale(t.seq))
                    else:
                        t.emit("heartbeat", heartbeat(r))
            await asyncio.sleep(0.02)
            if r == 40:
                cloud.send_signal(signal.SIGKILL)
                cloud.wait(10)
                with ctx:
                    stored_at_kill = await DeviceEvent.all().count()
            if r == 60:
                cloud = await _start_cloud(db_url, broker.url, client, tmp_path)
        for t in terms:
            await t.drained(timeout=90)
        assert 0 < stored_at_kill < TERMINALS * PER_TERMINAL
        with ctx:
            for t in terms:
                assert t.acked == PER_TERMINAL and not t.outbox and not t.refused
                seqs = await DeviceEvent.filter(device_id=t.dev).values_list("seq", flat=True)
                assert sorted(seqs) == list(range(1, PER_TERMINAL + 1))
                refs = await Order.filter(device_id=t.dev).values_list("ref", flat=True)
                assert sorted(refs) == sorted(f"r{n}" for n in range(9, PER_TERMINAL, 10))
            assert await DeviceEvent.all().count() == TERMINALS * PER_TERMINAL
    finally:
        cloud.kill()
        cloud.wait(10)
        for t in terms:
            await t.stop()
        await ctx.close_connections()


async def test_database_stopped_mid_stream(broker, topic_prefix):
    """PostgreSQL goes away: nothing is acknowledged meanwhile; ingestion resumes by itself."""
    cluster = PostgresCluster().start()
    ing = None
    terms: list[SimTerminal] = []
    try:
        await cluster.execute("CREATE DATABASE ingest")
        await init_db(cluster.url("ingest"))
        ing = Ingestion(broker.url, DeviceRegistry(open_hex), client_id="cloud-" + topic_prefix)
        await ing.start()
        for i in range(3):
            dev = f"{topic_prefix}p{i}"
            terms.append(SimTerminal(dev, await register(dev), broker.url, resend_s=2.0))
            await terms[-1].start()
        per, rounds = 1000, 50
        for r in range(rounds):
            for t in terms:
                for _ in range(per // rounds):
                    t.emit("heartbeat", heartbeat(r))
            await asyncio.sleep(0.02)
            if r == 20:
                await asyncio.to_thread(cluster.stop, "fast")
                await asyncio.sleep(0.5)  # acks already on their way arrive
                acked_when_down = [t.acked for t in terms]
                errors_before = ing.stats.db_errors
            if r == 35:
                assert ing.stats.db_errors > errors_before  # it did try, and failed
                assert [t.acked for t in terms] == acked_when_down  # nothing acked meanwhile
                await asyncio.to_thread(cluster.start)
        for t in terms:
            await t.drained(timeout=60)
        for t in terms:
            seqs = await DeviceEvent.filter(device_id=t.dev).values_list("seq", flat=True)
            assert sorted(seqs) == list(range(1, per + 1))
    finally:
        for t in terms:
            await t.stop()
        if ing:
            await ing.stop()
        await Tortoise.close_connections()
        cluster.stop()
        shutil.rmtree(cluster.dir, ignore_errors=True)
