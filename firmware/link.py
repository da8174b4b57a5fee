# The terminal's link to the cloud: MQTT session, status, and the outbox drain.
# SPDX-License-Identifier: MIT
#
# Events are published from the outbox, oldest first, signed at send time
# (the outbox keeps bodies only). MQTT resends what the broker never
# acknowledged; the cloud's `ack` command is what frees the outbox. If the
# cloud's ack does not move for ack_wait_s while events wait (a broker that
# lost messages it had acknowledged, a cloud that was down), the drain
# rewinds to the first unacknowledged event and sends again: the cloud drops
# duplicates by (device, seq).
import asyncio

from mqtt import MQTTClient

import protocol

BATCH = 4  # bodies read from flash per batch (RAM: BATCH x body size)


class Link:
    def __init__(self, cfg, outbox, on_command, ticks, diff):
        dev = cfg["id"]
        key = cfg["key"]
        broker = cfg["broker"]
        self.key = key
        self.outbox = outbox
        self.evt = protocol.evt_topic(dev)
        self.cmd = protocol.cmd_topic(dev)
        self.status = protocol.status_topic(dev)
        self.ack_wait_ms = cfg["settings"]["ack_wait_s"] * 1000
        self.ticks = ticks
        self.diff = diff
        self.mqtt = MQTTClient(dev, broker["host"], broker.get("port", 1883), user=dev,
                               password=protocol.broker_password(key), keepalive=30,
                               will=(self.status, b"offline", 1, True),
                               ssl=bool(broker.get("tls")) or None,
                               on_message=on_command, on_connect=self._online,
                               max_packet=protocol.MAX_PAYLOAD + 80, max_inflight=4)
        self.next = outbox.acked + 1  # next seq to publish
        self.kick = asyncio.Event()
        self.sent = 0
        self.rewinds = 0
        self._active = ticks()  # last ack progress or publish
        self._acked = outbox.acked

    async def _online(self):
        await self.mqtt.subscribe(self.cmd, 1)
        await self.mqtt.publish(self.status, b"online", 1, True)

    @property
    def online(self):
        return self.mqtt.connected.is_set()

    def acked(self, upto):
        """The cloud's ack command: trim the outbox."""
        self.outbox.ack(upto)
        if self.outbox.acked != self._acked:
            self._acked = self.outbox.acked
            self._active = self.ticks()

    async def run(self):
        await self.mqtt.run()

    async def drain(self):
        """Publish outbox events forever; returns never."""
        ob = self.outbox
        while True:
            await self.mqtt.connected.wait()
            if self.next <= ob.acked:
                self.next = ob.acked + 1
            if self.next > ob.seq:
                self.kick.clear()
                try:
                    await asyncio.wait_for_ms(self.kick.wait(), 1000)
                except asyncio.TimeoutError:
                    self._maybe_rewind()
                continue
            batch = []
            for seq, body in ob.read_from(self.next):
                batch.append((seq, body))
                if len(batch) >= BATCH:
                    break
            if not batch:  # records vanished under us (acked meanwhile)
                self.next = ob.seq + 1
                continue
            for seq, body in batch:
                if not self.online:
                    break
                payload = protocol.sign(self.key, self.evt, body)
                try:
                    await self.mqtt.publish(self.evt, payload, 1)
                except OSError:
                    break  # link down before it was taken: send it again later
                self.next = seq + 1
                self.sent += 1
                self._active = self.ticks()
            batch = None

    def _maybe_rewind(self):
        ob = self.outbox
        if ob.pending() and not self.mqtt.inflight and \
                self.diff(self.ticks(), self._active) > self.ack_wait_ms:
            print("link: no ack for %d ms; resending from seq %d" % (self.ack_wait_ms, ob.acked + 1))
            self.next = ob.acked + 1
            self.rewinds += 1
            self._active = self.ticks()
