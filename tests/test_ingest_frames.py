"""MQTT framing of the ingestion's receive path: packets split at any byte boundary."""

from __future__ import annotations

import pytest
from fingerpos.cloud.ingest.frames import PacketSplitter, ProtocolViolation, pubacks, read_publish
from hypothesis import given, settings
from hypothesis import strategies as st


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _publish(topic: bytes, payload: bytes, mid: int, qos: int, props: bytes | None = None) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + (mid.to_bytes(2, "big") if qos else b"")
    if props is not None:
        body += _varint(len(props)) + props
    body += payload
    return bytes([0x30 | qos << 1]) + _varint(len(body)) + body


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.binary(min_size=1, max_size=40), st.binary(max_size=300),
                          st.integers(1, 65535), st.integers(0, 1)), min_size=1, max_size=8),
       st.lists(st.integers(1, 64), max_size=40), st.booleans())
def test_publishes_come_out_whole_whatever_the_chunks(msgs, cuts, mqtt5):
    stream = b"".join(_publish(t, p, m, q, b"\x01\x00" if mqtt5 else None) for t, p, m, q in msgs)
    stream += b"\xd0\x00"  # a PINGRESP after them: not a PUBLISH, handed on as it is
    splitter, got, pos = PacketSplitter(), [], 0
    for cut in cuts + [len(stream)]:
        got += splitter.feed(stream[pos:pos + cut])
        pos += cut
    assert len(splitter) == 0
    assert got[-1][1] == b"\xd0\x00"
    seen = [read_publish(first, packet, head, mqtt5) for first, packet, head in got[:-1]]
    assert seen == [(t, p, m if q else 0, q) for t, p, m, q in msgs]


def test_held_packets_come_back_first():
    splitter = PacketSplitter()
    one, two = _publish(b"a", b"1", 1, 1), _publish(b"b", b"2", 2, 1)
    packets = splitter.feed(one + two[:3])
    splitter.hold(packets)
    assert [p for _, p, _ in splitter.feed(two[3:])] == [one, two]


def test_a_length_over_four_bytes_is_refused():
    with pytest.raises(ProtocolViolation):
        PacketSplitter().feed(b"\x30\xff\xff\xff\xff\x01")


def test_a_publish_shorter_than_its_header_is_refused():
    with pytest.raises(ProtocolViolation):
        read_publish(0x32, b"\x32\x04\x00\x09ab", 2, False)


def test_pubacks_back_to_back():
    assert pubacks([1, 258]) == b"\x40\x02\x00\x01\x40\x02\x01\x02"
