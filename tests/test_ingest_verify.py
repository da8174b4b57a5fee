"""The ingestion's EventVerifier gives protocol.verify's outcome on every vector and more."""

from __future__ import annotations

import json
import os

from fingerpos import protocol
from fingerpos.cloud.ingest.verify import EventVerifier
from fingerpos.protocol.host import seal
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
    topic, payload, _ = seal(key, "t1", "evt", 3, 0, "heartbeat", "", {"uptime": 1})
    mutated = payload[:cut % len(payload)] + noise
    use = key if good_key else os.urandom(32)
    fast = EventVerifier()
    assert _outcome(fast.verify, use, topic, mutated) == _outcome(protocol.verify, use, topic,
                                                                  mutated)
    assert fast.verify(key, topic, payload) == protocol.verify(key, topic, payload)


_ANY = st.one_of(st.none(), st.booleans(), st.integers(-3, 2**54), st.text(max_size=40),
                 st.sampled_from(["", "heartbeat", "sale", "ack", "a" * 32, "0f" * 16, "t1",
                                  "0F" * 16]),
                 st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3),
                                                                       st.integers(), max_size=2))


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(list(protocol.FIELDS) + ["x"]), _ANY, max_size=8),
       st.booleans(), st.sampled_from(["", " ", "\n", "x"]))
def test_signed_bodies_with_random_fields_have_the_same_outcome(fields, complete, tail):
    """The MAC is right, so the body checks decide: the fast path must agree with protocol's."""
    key = bytes(range(32))
    body = ({"v": 1, "dev": "t1", "seq": 5, "ts": 0, "typ": "heartbeat", "prev": "",
             "data": {}} if complete else {}) | fields
    text = (json.dumps(body, separators=(",", ":")) + tail).encode()
    topic = protocol.evt_topic("t1")
    payload = protocol.sign(key, topic, text)
    fast = EventVerifier()
    assert _outcome(fast.verify, key, topic, payload) == _outcome(protocol.verify, key, topic,
                                                                  payload)


def test_deeply_nested_json_is_malformed_not_a_crash():
    key = bytes(range(32))
    topic = protocol.evt_topic("t1")
    payload = protocol.sign(key, topic, b"[" * 4000)
    assert _outcome(EventVerifier().verify, key, topic, payload) == "malformed"
