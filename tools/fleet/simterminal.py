"""SimTerminal: a CPython stand-in for a terminal's MQTT side, for tests and the bench.

It behaves like the firmware's link layer where the cloud can see it: every
event is sealed with protocol.host.seal and kept in an in-memory outbox; it is
published at once when connected, published again after every reconnect and
whenever no `ack` has advanced for `resend_s`, and dropped only by a signed
`ack` command whose `upto` covers it. Commands are verified with the device
key and refused unless their seq is above the last one accepted.
(The real firmware runs on the MicroPython unix port in the firmware tests;
this one exists to drive thousands of events per second from one process.)
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import OrderedDict

import paho.mqtt.client as paho
from fingerpos import protocol
from fingerpos.cloud.ingest.link import MqttLink
from fingerpos.protocol.host import seal


class SimTerminal:
    def __init__(self, dev: str, key: bytes, url: str, resend_s: float = 3.0) -> None:
        self.dev = dev
        self.key = key
        self.url = url
        self.resend_s = resend_s
        self.seq = 0
        self.prev = ""
        self.outbox: OrderedDict[int, tuple[str, bytes]] = OrderedDict()
        self.acked = 0
        self.last_cmd = 0
        self.commands: list[dict] = []  # every accepted command body
        self.refused: list[str] = []  # reason codes of refused commands
        self.acked_event = asyncio.Event()
        self.stalled_resends = 0  # times the ack stood still for resend_s and all was sent again
        self._progress = time.monotonic()
        self.link: MqttLink | None = None
        self._resender: asyncio.Task | None = None

    async def start(self) -> None:
        self.link = MqttLink(self.url, self.dev, [(protocol.cmd_topic(self.dev), 1)],
                             self._on_message, clean=False,
                             will=(protocol.status_topic(self.dev), b"offline"),
                             on_connected=self._connected)
        await self.link.start()
        self._resender = asyncio.create_task(self._resend_stalled())

    async def stop(self) -> None:
        if self._resender:
            self._resender.cancel()
        if self.link:
            self.link.publish(protocol.status_topic(self.dev), b"offline", retain=True)
            await self.link.stop()

    def _connected(self) -> None:
        assert self.link is not None
        self.link.publish(protocol.status_topic(self.dev), b"online", retain=True)
        self.resend()

    def emit(self, typ: str, data: dict) -> int:
        """Seal one event into the outbox and publish it. Returns its seq."""
        self.seq += 1
        topic, payload, self.prev = seal(self.key, self.dev, protocol.EVT, self.seq,
                                                  int(time.time()), typ, self.prev, data)
        self.outbox[self.seq] = (topic, payload)
        if self.link and self.link.connected.is_set():
            self.link.publish(topic, payload)
        return self.seq

    def resend(self) -> None:
        if not self.link or not self.link.connected.is_set():
            return
        for topic, payload in list(self.outbox.values()):
            self.link.publish(topic, payload)
        self._progress = time.monotonic()

    async def _resend_stalled(self) -> None:
        while True:
            await asyncio.sleep(self.resend_s / 3)
            if self.outbox and time.monotonic() - self._progress > self.resend_s:
                self.stalled_resends += 1
                self.resend()

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        try:
            body = protocol.verify(self.key, msg.topic, msg.payload)
            protocol.check_fresh(body["seq"], self.last_cmd)
        except protocol.ProtocolError as e:
            self.refused.append(e.code)
            return
        self.last_cmd = body["seq"]
        self.commands.append(body)
        if body["typ"] == "ack":
            upto = body["data"].get("upto", 0)
            if type(upto) is int and upto > self.acked:
                self.acked = upto
                self._progress = time.monotonic()
                while self.outbox and next(iter(self.outbox)) <= upto:
                    self.outbox.popitem(last=False)
                self.acked_event.set()

    async def drained(self, timeout: float) -> None:
        """Wait until every event emitted so far is acknowledged."""
        async with asyncio.timeout(timeout):
            while self.outbox:
                self.acked_event.clear()
                await self.acked_event.wait()


def new_key() -> bytes:
    return os.urandom(protocol.KEY_LEN)


def heartbeat(n: int) -> dict:
    """A heartbeat's data; `t` (publish time) lets the bench measure latency."""
    return {"uptime": n, "heap_free": 81920, "rssi": -61, "outbox": 0, "t": time.time()}


def sale(n: int, lines: int = 3) -> dict:
    items = [{"sku": f"SKU{(n + i) % 50:03d}", "qty": 1 + i % 3, "price": 150 + 25 * i}
             for i in range(lines)]
    total = sum(it["qty"] * it["price"] for it in items)
    return {"ref": f"r{n}", "items": items,
            "payment": {"method": "cash", "amount": total, "currency": "EUR"}, "t": time.time()}
