"""The ingestion's EventVerifier gives protocol.verify's outcome on every vector and more."""

from __future__ import annotations

import os

from fingerpos import protocol
from fingerpos.cloud.ingest.verify import EventVerifier
from fingerpos.tools import vectors
from hypothesis import given, settings
from hypothesis import strategies as st


def _outcome(fn, key: bytes, topic: str, payload: bytes) -> object:
    try:
        return fn(key, topic, payload)
    except protocol.ProtocolError as e:
        return e.code


def test_every_vector_has_the_same_outcome():
    fast = EventVerifier()
    loaded = vectors.load()
    assert len(loaded) >= 40
    for v in loaded:
        key, payload = bytes.fromhex(v["key"]), bytes.fromhex(v["payload_hex"])
        want = _outcome(protocol.verify, key, v["topic"], payload)
        assert _outcome(fast.verify, key, v["topic"], payload) == want, v["name"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 299), st.booleans())
def test_altered_payloads_have_the_same_outcome(noise, cut, good_key):
    key = bytes(range(32))
    topic, payload, _ = protocol.seal(key, "t1", "evt", 3, 0, "heartbeat", "", {"uptime": 1})
    mutated = payload[:cut % len(payload)] + noise
    use = key if good_key else os.urandom(32)
    fast = EventVerifier()
    assert _outcome(fast.verify, use, topic, mutated) == _outcome(protocol.verify, use, topic,
                                                                  mutated)
    assert fast.verify(key, topic, payload) == protocol.verify(key, topic, payload)
