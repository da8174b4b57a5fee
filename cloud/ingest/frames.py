"""MQTT packet framing for the ingestion's receive path: split a byte stream into
packets, read PUBLISH packets, and build PUBACKs in bulk.

Hand-written because it is the hot path: paho reads a packet with at least
three recv() calls (command byte, each length byte, the rest), builds an
MQTTMessage, matches it against its callback table and takes two locks per
message, and sends each PUBACK with a send() of its own - about half of the
cloud's CPU time per heartbeat. Here one recv() of up to 256 KiB is split into
packets in memory; PUBLISH packets (QoS 0 and 1, MQTT 3.1.1 and 5) go straight
to the ingestion, every other packet (CONNACK, SUBACK, PUBACK of our commands,
PINGRESP, QoS 2 flows, DISCONNECT) is handed to paho unchanged, so paho keeps
owning the session. MQTT 3.1.1 section 2.2 and 3.3, MQTT 5 section 2.2 and 3.3.
"""

from __future__ import annotations

from collections.abc import Iterable

PUBLISH = 3


class ProtocolViolation(ValueError):
    """The broker sent bytes that are not MQTT (the connection must be dropped)."""


class PacketSplitter:
    """Accumulates received bytes and returns whole packets.

    `feed(data)` -> list of (first byte, packet bytes from its first byte on,
    offset of the variable header in them). A partial packet stays buffered
    for the next feed; `hold(packets)` puts unprocessed packets back in front.
    """

    def __init__(self) -> None:
        self._buf = b""

    def __len__(self) -> int:
        return len(self._buf)

    def reset(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[tuple[int, bytes, int]]:
        buf = self._buf + data if self._buf else data
        out: list[tuple[int, bytes, int]] = []
        pos, end = 0, len(buf)
        while end - pos >= 2:
            # Remaining length: 1 to 4 bytes, 7 bits each, low group first.
            length, shift, i, complete = 0, 0, pos + 1, False
            while i < end:
                byte = buf[i]
                i += 1
                length |= (byte & 0x7F) << shift
                if not byte & 0x80:
                    complete = True
                    break
                shift += 7
                if shift > 21:
                    raise ProtocolViolation("MQTT remaining length longer than 4 bytes")
            if not complete or i + length > end:
                break  # the rest of this packet has not arrived yet
            out.append((buf[pos], buf[pos:i + length], i - pos))
            pos = i + length
        self._buf = buf[pos:] if pos < end else b""
        return out

    def hold(self, packets: Iterable[tuple[int, bytes, int]]) -> None:
        """Put packets that were split but not processed back before the buffer."""
        self._buf = b"".join(p for _, p, _ in packets) + self._buf


def read_publish(first: int, packet: bytes, head: int, mqtt5: bool) -> tuple[bytes, bytes, int, int]:
    """(topic bytes, payload, packet id, qos) of a PUBLISH packet.

    Raises ProtocolViolation for a packet too short for what it declares.
    """
    qos = (first >> 1) & 3
    if head + 2 > len(packet):
        raise ProtocolViolation("PUBLISH without a topic length")
    tlen = (packet[head] << 8) | packet[head + 1]
    pos = head + 2 + tlen
    topic = packet[head + 2:pos]
    mid = 0
    if qos:
        if pos + 2 > len(packet):
            raise ProtocolViolation("PUBLISH without a packet id")
        mid = (packet[pos] << 8) | packet[pos + 1]
        pos += 2
    if mqtt5:  # properties: a varint length, then that many bytes we do not use
        plen, mult = 0, 1
        while True:
            if pos >= len(packet):
                raise ProtocolViolation("PUBLISH properties cut short")
            byte = packet[pos]
            pos += 1
            plen += (byte & 0x7F) * mult
            if not byte & 0x80:
                break
            mult <<= 7
        pos += plen
    if pos > len(packet):
        raise ProtocolViolation("PUBLISH shorter than its header")
    return topic, packet[pos:], mid, qos


def pubacks(mids: Iterable[int]) -> bytes:
    """PUBACK packets for `mids`, back to back (the 2-byte form means success in
    MQTT 5 too)."""
    return b"".join(b"\x40\x02" + mid.to_bytes(2, "big") for mid in mids)
