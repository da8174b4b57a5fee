"""Bad input: every kind of bad message is dropped, counted, and ingestion goes on."""

from __future__ import annotations

import asyncio

import pytest
from fingerpos import protocol
from fingerpos.cloud.models.devices import Device, DeviceEvent
from fingerpos.protocol import hmac_sha256_hex
from fingerpos.tools.fleet import SimTerminal, heartbeat

from tests.support.ingest_env import register

pytestmark = pytest.mark.cloud  # run again on PostgreSQL by ./run test


def _signed(key: bytes, topic: str, body: bytes) -> bytes:
    return body + b"\n" + hmac_sha256_hex(key, topic.encode() + b"\n" + body)


def _bad_messages(dev: str, key: bytes, other: str, other_key: bytes) -> list:
    topic = protocol.evt_topic(dev)
    good_body = protocol.make_body(dev, 1, 0, "heartbeat", "", {"uptime": 1})
    flipped = bytearray(_signed(key, topic, good_body))
    flipped[-1] ^= 1
    return [
        ("bad_signature", topic, bytes(flipped)),  # forged: signature altered
        ("bad_signature", topic, _signed(other_key, topic, good_body)),  # wrong key
        ("unsigned", topic, good_body),
        ("too_large", topic, b"x" * 5000),
        ("malformed", topic, _signed(key, topic, b"not json at all")),
        ("malformed", topic, _signed(key, topic, good_body.replace(b'"v":1', b'"v":2'))),
        ("wrong_device", topic, _signed(key, topic, protocol.make_body(
            other, 1, 0, "heartbeat", "", {}))),
        ("unknown_device", protocol.evt_topic(dev + "x"), _signed(key, topic, good_body)),
        ("malformed", topic, _signed(key, topic, good_body.replace(b"heartbeat", b"teleport"))),
        ("bad_status", protocol.status_topic(dev), b"maybe"),
    ]


async def test_bad_messages_are_dropped_counted_and_harmless(ingestion, broker, topic_prefix):
    dev, other = topic_prefix + "a", topic_prefix + "b"
    key, other_key = await register(dev), await register(other)
    t = SimTerminal(dev, key, broker.url)
    await t.start()
    cases = _bad_messages(dev, key, other, other_key)
    for _reason, topic, payload in cases:
        t.link.publish(topic, payload)
    t.emit("heartbeat", heartbeat(1))  # a good one after all the bad ones
    await t.drained(timeout=10)
    want: dict[str, int] = {}
    for reason, _, _ in cases:
        want[reason] = want.get(reason, 0) + 1
    # Retained status messages of other tests' devices also count as unknown_device.
    def seen() -> dict:
        got = {k: v for k, v in ingestion.stats.dropped.items() if k != "unknown_device"}
        if ingestion.stats.dropped["unknown_device"] >= 1:
            got["unknown_device"] = 1
        return got

    for _ in range(100):
        if seen() == want:
            break
        await asyncio.sleep(0.05)
    assert seen() == want
    assert await DeviceEvent.filter(device_id=dev).count() == 1
    assert await DeviceEvent.filter(device_id=other).count() == 0
    text = ingestion.stats.prometheus()
    assert 'fingerpos_dropped_total{reason="bad_signature"} 2' in text
    assert 'fingerpos_dropped_total{reason="malformed"} 3' in text
    drops = [p for k, p in ingestion.feed if k == "ingest" and "dropped" in p]
    reasons = {e["reason"] for p in drops for e in p["examples"]}
    assert reasons == set(want)
    assert {r for p in drops for r in p["dropped"]} == set(want)
    await t.stop()


async def test_replayed_event_is_acknowledged_again_and_creates_nothing(
        ingestion, broker, topic_prefix):
    dev = topic_prefix + "r"
    t = SimTerminal(dev, await register(dev), broker.url)
    await t.start()
    t.emit("heartbeat", heartbeat(1))
    topic, payload = t.outbox[1]
    await t.drained(timeout=10)
    acks = sum(c["typ"] == "ack" for c in t.commands)
    for _ in range(3):
        t.link.publish(topic, payload)
    async with asyncio.timeout(5):
        while sum(c["typ"] == "ack" for c in t.commands) < acks + 1:
            await asyncio.sleep(0.05)
    assert await DeviceEvent.filter(device_id=dev).count() == 1
    assert t.commands[-1]["data"] == {"upto": 1}
    await t.stop()


async def test_revoked_device_is_dropped(ingestion, broker, topic_prefix):
    dev = topic_prefix + "v"
    t = SimTerminal(dev, await register(dev), broker.url)
    await t.start()
    t.emit("heartbeat", heartbeat(1))
    await t.drained(timeout=10)
    await Device.filter(id=dev).update(revoked=True)
    ingestion.registry.forget(dev)
    t.emit("heartbeat", heartbeat(2))
    async with asyncio.timeout(5):
        while ingestion.stats.dropped["revoked"] < 1:
            await asyncio.sleep(0.05)
    assert await DeviceEvent.filter(device_id=dev).count() == 1
    assert t.acked == 1
    await t.stop()


@pytest.mark.parametrize("payload", [b"", b"\n", b"\xff" * 70, b"{}\n" + b"0" * 64])
async def test_garbage_payloads_never_stop_ingestion(ingestion, broker, topic_prefix, payload):
    dev = topic_prefix + "z"
    t = SimTerminal(dev, await register(dev), broker.url)
    await t.start()
    t.link.publish(protocol.evt_topic(dev), payload)
    t.emit("heartbeat", heartbeat(1))
    await t.drained(timeout=10)
    others = ingestion.stats.dropped["unknown_device"]  # retained statuses of other tests
    assert sum(ingestion.stats.dropped.values()) - others == 1
    await t.stop()


async def test_a_flood_of_bad_messages_is_one_feed_message_per_batch(ingestion, topic_prefix):
    """3,000 forged messages taken as one batch: all counted by reason, one feed message
    naming a few of each reason - never one message each, which would overflow (and so
    disconnect) every monitor client."""
    dev = topic_prefix + "f"
    key = await register(dev)
    topic = protocol.evt_topic(dev)
    body = protocol.make_body(dev, 1, 0, "heartbeat", "", {"uptime": 1})
    forged = bytearray(_signed(key, topic, body))
    forged[-1] ^= 1
    before = ingestion.stats.dropped["bad_signature"]
    ingestion.feed.clear()
    raw = [(topic.encode(), bytes(forged), 0, 0, 0, 0.0)] * 3000
    assert await ingestion._verify(raw) == []
    assert ingestion.stats.dropped["bad_signature"] - before == 3000
    notes = [p for k, p in ingestion.feed if k == "ingest" and "dropped" in p]
    assert len(notes) == 1
    assert notes[0]["dropped"] == {"bad_signature": 3000}
    assert len(notes[0]["examples"]) == 5
    assert notes[0]["examples"][0] == {"reason": "bad_signature", "device": dev, "topic": topic}
