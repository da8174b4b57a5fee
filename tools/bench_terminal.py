"""BenchTerminal: one simulated terminal's MQTT connection for `fingerpos bench ingest`.

Hand-written MQTT 3.1.1 (CONNECT, SUBSCRIBE, PUBLISH QoS 1, PUBACK) on an
asyncio stream instead of paho, because the load generator shares two cores
with the broker and the cloud it measures: paho costs tens of microseconds
and one send() per publish, which starved the cloud and capped the ceiling
at the publishers' speed. Here an event is a few string operations, an HMAC
from a key-primed copy and a bytes join; frames accumulate and leave in one
write per turn of the loop. The bodies are exactly protocol.make_body's
(same field order, compact JSON), signed as protocol.sign does;
tests/test_bench.py checks one against protocol.verify.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

from fingerpos import protocol
from fingerpos.cloud.ingest.frames import PUBLISH, PacketSplitter, pubacks, read_publish
from fingerpos.cloud.ingest.link import parse_url

_SEP = (",", ":")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _varint(len(body)) + body


class BenchTerminal:
    """A terminal that signs and publishes events; `on_ack(upto)` gets its ack commands."""

    def __init__(self, dev: str, key: bytes) -> None:
        self.dev = dev
        self.key = key
        self.topic = protocol.evt_topic(dev)
        self._topic_head = _utf8(self.topic)
        self._mac = hmac.new(key, self.topic.encode() + b"\n", hashlib.sha256)
        self._dev_json = json.dumps(dev)
        self.seq = 0
        self.prev = ""
        self.acked = 0  # highest `upto` of the cloud's ack commands
        self.unconfirmed = 0  # our publishes the broker has not PUBACKed yet
        self._mid = 0
        self._out: list[bytes] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task | None = None
        self.progress: asyncio.Event | None = None  # set on every ack command

    async def connect(self, url: str, subscribe: bool, login: bool = False) -> None:
        """With `login` the terminal logs in as itself (user and client id = its id, password
        = protocol.broker_password(key)), as on a broker with `fingerpos broker-config`'s
        password file and ACL; otherwise with the URL's user, if any."""
        host, port, user, password = parse_url(url)
        client_id = "pub-" + self.dev
        if login:
            user, password, client_id = self.dev, protocol.broker_password(self.key), self.dev
        self._reader, self._writer = await asyncio.open_connection(host, port)
        flags = 0x02 | (0xC0 if user else 0)  # clean session (+ user name and password)
        body = _utf8("MQTT") + bytes([4, flags]) + (60).to_bytes(2, "big") + _utf8(client_id)
        if user:
            body += _utf8(user) + _utf8(password or "")
        self._writer.write(_packet(0x10, body))
        connack = await asyncio.wait_for(self._reader.readexactly(4), 10)
        if connack[0] != 0x20 or connack[3] != 0:
            raise ConnectionError(f"broker refused terminal {self.dev}: CONNACK {connack.hex()}")
        if subscribe:
            cmd = protocol.cmd_topic(self.dev)
            self._writer.write(_packet(0x82, (1).to_bytes(2, "big") + _utf8(cmd) + b"\x01"))
            suback = await asyncio.wait_for(self._reader.readexactly(5), 10)
            if suback[0] != 0x90 or suback[4] > 2:
                raise ConnectionError(f"broker refused the subscription of {self.dev}")
        self._task = asyncio.create_task(self._read())

    def event(self, ts: int, typ: str, data: dict) -> tuple[int, bytes]:
        """Sign the next event and queue its PUBLISH; returns (seq, body)."""
        self.seq += 1
        body = ('{"v":1,"dev":' + self._dev_json + ',"seq":' + str(self.seq) + ',"ts":'
                + str(ts) + ',"typ":"' + typ + '","prev":"' + self.prev + '","data":'
                + json.dumps(data, separators=_SEP, ensure_ascii=False) + "}").encode()
        mac = self._mac.copy()
        mac.update(body)
        self.prev = hashlib.sha256(body).hexdigest()[:32]
        self._mid = self._mid % 65535 + 1
        rest = self._topic_head + self._mid.to_bytes(2, "big") + body + b"\n" \
            + mac.hexdigest().encode()
        self._out.append(b"\x32" + _varint(len(rest)) + rest)
        self.unconfirmed += 1
        return self.seq, body

    def flush(self) -> None:
        """Hand the queued frames to the transport in one write."""
        if self._out and self._writer is not None:
            self._writer.write(b"".join(self._out))
            self._out.clear()

    async def drain(self) -> None:
        if self._writer is not None:
            await self._writer.drain()

    async def _read(self) -> None:
        assert self._reader is not None and self._writer is not None
        frames = PacketSplitter()
        while True:
            data = await self._reader.read(65536)
            if not data:
                return
            acks = []
            for first, packet, head in frames.feed(data):
                kind = first >> 4
                if kind == 4:  # PUBACK of one of our events
                    self.unconfirmed -= 1
                elif kind == PUBLISH:
                    topic, payload, mid, qos = read_publish(first, packet, head, False)
                    if qos:
                        acks.append(mid)
                    self._command(topic.decode(), payload)
            if acks:
                self._writer.write(pubacks(acks))

    def _command(self, topic: str, payload: bytes) -> None:
        try:
            body = protocol.verify(self.key, topic, payload)
        except protocol.ProtocolError:
            return  # not for the bench: a real terminal would count and drop it
        upto = body["data"].get("upto")
        if body["typ"] == "ack" and type(upto) is int and upto > self.acked:
            self.acked = upto
            if self.progress is not None:
                self.progress.set()

    async def close(self) -> None:
        if self._writer is None:
            return
        self.flush()
        self._writer.write(b"\xe0\x00")  # DISCONNECT
        try:
            await self._writer.drain()
        except ConnectionError:
            pass
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, ConnectionError):
                pass
        self._writer.close()
