# MQTT 3.1.1 packets for the terminal's client (mqtt.py): building and parsing, no I/O.
# SPDX-License-Identifier: MIT
#
# Hand-written for the same reason as mqtt.py (no `mip` in CI or in a fresh
# bundle). Pure functions over bytes, so they are tested without a socket.
import struct

from micropython import const

_CONNECT = const(0x10)
_PUBLISH = const(0x30)
_PUBACK = const(0x40)
_SUBSCRIBE = const(0x82)


def string(s):
    """An MQTT UTF-8 string: 2-byte big-endian length, then the bytes."""
    if isinstance(s, str):
        s = s.encode()
    return struct.pack(">H", len(s)) + s


def varlen(n):
    """The remaining-length field: 7 bits per byte, high bit = more follows."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect(client_id, keepalive, clean=False, will=None, user=None, password=None):
    """CONNECT; will is (topic, payload, qos, retain) or None."""
    flags = 0x02 if clean else 0x00
    payload = string(client_id)
    if will:
        topic, msg, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        payload += string(topic) + string(msg)
    if user is not None:
        flags |= 0x80
        payload += string(user)
        if password is not None:
            flags |= 0x40
            payload += string(password)
    var = string("MQTT") + bytes((4, flags)) + struct.pack(">H", keepalive)
    return bytes((_CONNECT,)) + varlen(len(var) + len(payload)) + var + payload


def publish(topic, payload, qos, retain, pid, dup):
    head = _PUBLISH | (qos << 1) | (1 if retain else 0) | (0x08 if dup else 0)
    var = string(topic) + (struct.pack(">H", pid) if qos else b"")
    return bytes((head,)) + varlen(len(var) + len(payload)) + var + payload


def subscribe(pid, topic, qos):
    var = struct.pack(">H", pid) + string(topic) + bytes((qos,))
    return bytes((_SUBSCRIBE,)) + varlen(len(var)) + var


def puback(pid):
    return struct.pack(">BBH", _PUBACK, 2, pid)


def parse_publish(head, body):
    """A received PUBLISH -> (topic, payload, qos, packet id bytes or b"").

    Raises ValueError (with the reason) for what a broker must never send us.
    """
    qos = (head >> 1) & 3
    if qos > 1:  # we only subscribe at QoS 1; QoS 2/3 from the broker is a protocol error
        raise ValueError("PUBLISH with QoS %d" % qos)
    if len(body) < 2:
        raise ValueError("PUBLISH too short")
    tlen = struct.unpack(">H", body[:2])[0]
    start = 2 + tlen + (2 if qos else 0)
    if start > len(body):
        raise ValueError("PUBLISH topic longer than the packet")
    return body[2:2 + tlen], body[start:], qos, body[2 + tlen:start]
