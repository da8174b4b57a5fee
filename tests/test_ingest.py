"""Ingestion end to end on a real Mosquitto and SQLite: store once, ack, status, commands."""

from __future__ import annotations

import asyncio

import pytest
from fingerpos.cloud.models.devices import CommandSeq, Device, DeviceEvent
from fingerpos.protocol.host import seal
from fingerpos.tools.fleet import SimTerminal, heartbeat

from tests.support.ingest_env import register

pytestmark = pytest.mark.cloud  # run again on PostgreSQL by ./run test


async def test_events_are_stored_once_and_acknowledged(ingestion, broker, topic_prefix):
    terms = []
    for i in range(3):
        dev = f"{topic_prefix}d{i}"
        terms.append(SimTerminal(dev, await register(dev), broker.url))
    for t in terms:
        await t.start()
    for n in range(200):
        for t in terms:
            t.emit("heartbeat", heartbeat(n))
    sent = {t.dev: list(t.outbox.values()) for t in terms}
    for t in terms:
        await t.drained(timeout=20)
    acks_before = ingestion.stats.acks_sent
    for t in terms:  # every event again: duplicates, acknowledged again, nothing created
        for topic, payload in sent[t.dev]:
            t.link.publish(topic, payload)
    async with asyncio.timeout(10):
        while ingestion.stats.duplicates < 600:
            await asyncio.sleep(0.05)
    assert ingestion.stats.acks_sent > acks_before
    for t in terms:
        assert t.acked == 200
        assert await DeviceEvent.filter(device_id=t.dev).count() == 200
        row = await Device.get(id=t.dev)
        assert row.acked == 200 and row.uptime == 199 and row.rssi == -61 and row.online
        typs = [c["typ"] for c in t.commands]
        assert typs[:2] == ["time", "roster"] and "ack" in typs
        assert t.commands[1]["data"]["sellers"][0]["name"] == "Ann"
        assert not t.refused
        last = (await CommandSeq.get(device_id=t.dev)).seq
        async with asyncio.timeout(5):  # the last ack may still be on its way
            while t.last_cmd < last:
                await asyncio.sleep(0.02)
        seqs = [c["seq"] for c in t.commands]
        assert seqs == list(range(1, last + 1))  # every command arrived, in order
    assert ingestion.stats.stored == 600
    for t in terms:
        await t.stop()
    await asyncio.sleep(0.3)
    assert not (await Device.get(id=terms[0].dev)).online


async def test_gap_raises_alarm_and_never_blocks(ingestion, broker, topic_prefix):
    dev = topic_prefix + "g"
    t = SimTerminal(dev, await register(dev), broker.url, resend_s=60)
    await t.start()
    t.emit("heartbeat", heartbeat(1))
    await t.drained(timeout=10)
    t.seq += 1  # seq 2 is "lost": sealed but never sent
    _, _, t.prev = seal(t.key, dev, "evt", 2, 0, "heartbeat", t.prev, {})
    t.emit("heartbeat", heartbeat(3))
    t.emit("heartbeat", heartbeat(4))
    async with asyncio.timeout(10):
        while not any(k == "alarm" and p.get("kind") == "seq_gap" for k, p in ingestion.feed):
            await asyncio.sleep(0.05)
    assert await DeviceEvent.filter(device_id=dev).count() == 3  # 3 and 4 stored anyway
    assert t.acked == 1  # never acknowledged past the hole
    await t.stop()
