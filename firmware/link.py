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
#
# RAM: suspend() ends the session cleanly (DISCONNECT, so no `offline` will)
# and unloads the MQTT client, freeing ~15 KB for the fingerprint driver;
# resume() reconnects. The persistent session keeps commands at the broker
# meanwhile, and events not yet acknowledged stay in the outbox.
import asyncio
import gc
import sys

import hal
from micropython import const
from outbox import Outbox

import protocol

_BATCH = const(4)  # bodies read from flash per batch (RAM: _BATCH x body size)
# The MQTT receive buffer (RAM: held but in sensor sessions): the largest valid command (4161-byte
# payload, protocol.MAX_PAYLOAD) with its topic and packet id (max_packet below). A fresh 4 KB
# block per big command failed on a fragmented heap (MemoryError with 30 KB free, a
# reset on every catalogue, issue #13), so every valid command has room from boot.
_RX_BYTES = const(4256)  # >= max_packet below
# With no 4256 B run free (the heap fragmented during a sensor session) the link goes
# online with this much: acks, prompts and receipt parts fit (the cloud keeps them
# under 1.5 KB), events drain; a bigger command ends the session unacknowledged
# (mqtt.py: the broker keeps it) and the next session tries the full size again.
_RX_LEAST = const(1536)
# TLS (RAM): mbedtls takes its record buffers from the GC heap on the Pico W, ~16.7 KB in
# + ~4.4 KB out per connection (MBEDTLS_SSL_IN/OUT_BUFFER_LEN: the 16384 / 4096 B content
# lengths plus record overhead), and a first-fit GC finds no such run on a heap the
# mqtt module and client just scattered themselves over (MemoryError allocating 4096
# with 34 KB free in 112 KiB). So the link holds this much as one block before it
# loads them, and the client lets go of it right before the handshake (mqtt.py).
_TLS_HOLD = const(21504)
# asyncio's parts only the MQTT connection uses (2.3 KB on the unix port): dropped with
# each session, loaded again by the next (asyncio's __getattr__ imports them on use).
_STREAM = const(("open_connection", "Lock", "stream", "lock"))


class Link:
    def __init__(self, cfg, outbox, on_command, ticks, diff):
        self.cfg = cfg
        self.key = cfg["key"]
        self.outbox = outbox
        self.on_command = on_command
        dev = cfg["id"]
        self.evt = protocol.evt_topic(dev)
        self.cmd = protocol.cmd_topic(dev)
        self.status = protocol.status_topic(dev)
        self.ack_wait_ms = cfg["settings"]["ack_wait_s"] * 1000
        self.ticks = ticks
        self.diff = diff
        self.mqtt = None
        self.next = outbox.acked + 1  # next seq to publish
        self.kick = asyncio.Event()
        self.sent = 0
        self.rewinds = 0
        self.reconnects = 0
        self._want = True
        self._wake = asyncio.Event()
        # When the ack last moved, or the oldest unacked event went out: with no ack
        # for ack_wait_ms after that, the drain sends again from the oldest (the
        # broker may have taken events no subscriber got, e.g. after it restarted).
        # Newer events going out must not count: a terminal that keeps sending
        # heartbeats would otherwise never resend. Each resend that brings no ack
        # doubles the wait, up to 16 x ack_wait_ms, so a cloud that is down while the
        # broker is up does not get the whole outbox again every ack_wait_s.
        self._active = ticks()
        self._wait_ms = self.ack_wait_ms
        self._acked = outbox.acked
        # MQTT packets are read into this: made now, while the heap is young, one block
        # (see mqtt.py), given back only while a sensor session has the link suspended.
        # Every valid command fits; only an oversized packet gets a buffer of its own.
        self._rx: bytearray | None = bytearray(_RX_BYTES)

    def _client(self, ssl):  # (names: "ssl" is interned already, "ctx" would be one more)
        from mqtt import MQTTClient

        cfg = self.cfg
        dev = cfg["id"]
        broker = cfg["broker"]
        return MQTTClient(dev, broker["host"], broker.get("port", 1883), user=dev,
                          password=protocol.broker_password(self.key),
                          keepalive=broker.get("keepalive", 30),
                          will=(self.status, b"offline", 1, True),
                          ssl=ssl,
                          on_message=self.on_command, on_connect=self._online,
                          max_packet=protocol.MAX_PAYLOAD + 80, rxbuf=self._rx,
                          max_inflight=4, resolve=hal.resolve)

    def _tls(self):
        # The broker's CA comes with the provisioning bundle as ca.pem next to
        # config.json; without it the link is encrypted but the broker is not
        # authenticated, which the log says on every connect.
        import ssl

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            with open(hal.DATA_DIR + "/ca.pem", "rb") as f:
                ca = f.read()
        except OSError:
            hal.log("tls: no ca.pem: the broker's certificate is not verified")
            ctx.verify_mode = ssl.CERT_NONE  # type: ignore[attr-defined]  # in MicroPython 1.22 ssl, not its stubs
            return ctx
        if ca.startswith(b"-----BEGIN"):  # MicroPython's mbedtls takes DER only
            import binascii

            ca = binascii.a2b_base64(b"".join(ca.split(b"-----")[2].split()))
        try:
            ctx.load_verify_locations(cadata=ca)
        except ValueError as e:  # a bad ca.pem must not look like a network fault loop
            raise OSError("tls: ca.pem unusable: %s" % e)
        ctx.verify_mode = ssl.CERT_REQUIRED  # type: ignore[attr-defined]
        return ctx

    async def _online(self):
        # A new session restarts the resend wait at ack_wait_s: a broker that restarted
        # may have lost what it had taken, and the back-off grown while it was away
        # (up to 16 x ack_wait_s) would otherwise hold those events back for minutes.
        self._active = self.ticks()
        self._wait_ms = self.ack_wait_ms
        m = self.mqtt
        if m is None:
            return  # the session ended before its hello
        await m.subscribe(self.cmd, 1)
        await m.publish(self.status, b"online", 1, True)

    @property
    def online(self):
        m = self.mqtt
        return m is not None and m.connected.is_set()

    def acked(self, upto):
        """The cloud's ack command: trim the outbox."""
        self.outbox.ack(upto)
        if self.outbox.acked != self._acked:
            self._acked = self.outbox.acked
            self._active = self.ticks()
            self._wait_ms = self.ack_wait_ms

    async def run(self):
        """One session: wait until wanted, then stay connected until suspend().

        The caller calls it again at once. Returning (instead of looping here)
        matters for RAM: a coroutine that lived through a session keeps stale
        references to the MQTT client in its frame, so the session must end
        with the coroutine itself for suspend() to free the client's ~10 KB.
        """
        while not self._want:
            self._wake.clear()
            await self._wake.wait()
        rx = self._rx
        if rx is not None and len(rx) < _RX_BYTES:
            self._rx = None  # the last session had the smaller buffer: try for the full one
        rx = None
        while self._rx is None:
            # Made again as the link resumes: the sensor session that suspended it has
            # just freed the driver's ~17 KB, so a 4.2 KB run is free now if ever. If
            # not (a fragmented heap), after a second the smaller buffer (_RX_LEAST), and
            # if not even that, the link waits offline, events wait in the outbox; never
            # a MemoryError of this task (three reset the board).
            gc.collect()
            try:
                self._rx = bytearray(_RX_BYTES)
                break
            except MemoryError:
                hal.log("link: no free %d B run for the receive buffer yet" % _RX_BYTES)
            await asyncio.sleep_ms(1000)
            gc.collect()
            try:
                self._rx = bytearray(_RX_LEAST)
            except MemoryError:
                pass
        ctx = hold = None
        if self.cfg["broker"].get("tls"):
            ctx = self._tls()  # its ~3 KB first: the held run is for the record buffers
            gc.collect()
            try:
                hold = bytearray(_TLS_HOLD)
            except MemoryError:
                pass  # the handshake tries its luck
        client = self.mqtt = self._client(ctx)
        client.hold = hold
        ctx = hold = None
        try:
            await client.run(cap_ms=8000)  # a till waits at most ~8 s for its link
        finally:
            client.stop()  # after suspend() a no-op; after a MemoryError it closes the socket
            self.reconnects += client.reconnects
            self._unsent(client.inflight)
            self.mqtt = client = None
            sys.modules.pop("mqtt", None)
            g = asyncio.__dict__
            for name in _STREAM:
                g.pop(name, None)
            sys.modules.pop("asyncio.stream", None)
            sys.modules.pop("asyncio.lock", None)

    def _unsent(self, inflight):
        # Events the broker never acknowledged go out again from the outbox.
        for _, payload, _ in inflight.values():
            seq = Outbox._seq_of(payload)
            if seq is not None and seq < self.next:
                self.next = seq

    async def suspend(self, timeout_ms=3000):
        self._want = False
        m = self.mqtt
        if m is not None:
            m.stop()
        m = None
        for _ in range(timeout_ms // 20):
            if self.mqtt is None:
                # RAM: the receive buffer goes with the session (4.2 KB of the driver's
                # room in a sensor session); run() makes it again after resume().
                self._rx = None  # type: ignore[assignment]
                return
            await asyncio.sleep_ms(20)

    def resume(self):
        self._want = True
        self._wake.set()

    async def drain(self):
        """Publish outbox events forever; returns never."""
        ob = self.outbox
        while True:
            if not self.online:
                await asyncio.sleep_ms(100)
                continue
            if self.next <= ob.acked:
                self.next = ob.acked + 1
            if self.next > ob.seq:
                if self._maybe_rewind():  # checked on every idle turn: a busy terminal
                    continue  # may never be idle for a whole second
                self.kick.clear()
                try:
                    await asyncio.wait_for_ms(self.kick.wait(), 1000)
                except asyncio.TimeoutError:
                    pass
                continue
            batch = []
            for seq, body in ob.read_from(self.next):
                batch.append((seq, body))
                if len(batch) >= _BATCH:
                    break
            if not batch:  # records vanished under us (acked meanwhile)
                self.next = ob.seq + 1
                continue
            for seq, body in batch:
                m = self.mqtt
                if m is None or not m.connected.is_set():
                    break
                payload = protocol.sign(self.key, self.evt, body)
                try:
                    await m.publish(self.evt, payload, 1)
                except OSError:
                    break  # link down before it was taken: send it again later
                self.next = seq + 1
                self.sent += 1
                if seq <= ob.acked + 1:  # the oldest unacked one: its ack wait starts now
                    self._active = self.ticks()
            batch = m = None  # type: ignore[assignment]  # hold no client across sessions (RAM, see run())

    def _maybe_rewind(self):
        ob = self.outbox
        m = self.mqtt
        # Not only when nothing is in flight: with events going out every second, the
        # newest one's PUBACK is nearly always pending when the drain turns idle. A
        # duplicate costs nothing (the cloud drops it by seq).
        if ob.pending() and m is not None and \
                self.diff(self.ticks(), self._active) > self._wait_ms:
            print("link: no ack for %d ms; resending from seq %d" % (self._wait_ms, ob.acked + 1))
            self.next = ob.acked + 1
            self.rewinds += 1
            self._active = self.ticks()
            self._wait_ms = min(self._wait_ms * 2, self.ack_wait_ms * 16)
            return True
        return False
