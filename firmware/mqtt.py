# Compact asyncio MQTT 3.1.1 client for the terminal.
# SPDX-License-Identifier: MIT
#
# Hand-written because MicroPython's MQTT clients (umqtt, mqtt_as) are only
# distributed through `mip`, which CI and a fresh bundle cannot reach; this
# one carries exactly what the terminal needs: persistent session with a
# retained will, QoS 0/1 publish with PUBACK tracking and DUP resend after a
# reconnect, QoS 1 subscribe, keepalive, TLS, and bounded receive buffers.
# Every network failure is an OSError, caught by the one reconnect loop in
# run(), which backs off exponentially with jitter. The packets are built and
# parsed by pure functions over bytes (first part, tested without a socket); the
# connection and session are MQTTClient. One module, not two: on the terminal
# each module's path and names are interned for good (firmware/README.md "RAM").
import asyncio
import gc
import random
import struct

from micropython import const

_CONNECT = const(0x10)
_CONNACK = const(0x20)
_PUBLISH = const(0x30)
_PUBACK = const(0x40)
_SUBSCRIBE = const(0x82)
_SUBACK = const(0x90)
_PINGREQ = const(0xC0)
_PINGRESP = const(0xD0)
_DISCONNECT = const(0xE0)


# -- packets ------------------------------------------------------------------
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


# -- the client -----------------------------------------------------------------
class MQTTError(OSError):
    """The broker refused us or broke the protocol: handled like a network failure."""


class MQTTClient:
    """One connection to a broker, kept alive by run().

    Args: client_id, host, port, user, password, keepalive (s),
    will (topic, payload, qos, retain) or None, ssl (None or an
    ssl.SSLContext), max_packet (largest incoming packet accepted; larger ones
    are skipped and counted in `oversize`), max_inflight (QoS 1 window),
    rxbuf (a bytearray incoming packets are read into when they fit; a bigger
    one, up to max_packet, gets a buffer of its own for the time it is handled).
    on_message(topic: bytes, payload: memoryview) is called for each PUBLISH;
    the payload is a view into the receive buffer, valid only during the call.
    on_connect() (async) after every CONNACK, e.g. to publish `online`.
    """

    def __init__(self, client_id, host, port=1883, user=None, password=None,
                 keepalive=30, will=None, ssl=None, max_packet=6144, max_inflight=16,
                 on_message=None, on_connect=None, clean=False, rxbuf=None, resolve=None):
        self.client_id = client_id
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.will = will
        self.ssl = ssl
        # RAM: packets are read into one buffer, not into new bytes per packet
        # (and per header byte): on the terminal's fragmented heap a fresh block
        # of 1 KB or more per command was the allocation that failed first. The
        # owner passes it in so it outlives the client (allocated once, at boot).
        self._rx = memoryview(rxbuf if rxbuf is not None else bytearray(512))
        self.max_packet = max_packet
        self.max_inflight = max_inflight
        self.on_message = on_message
        self.on_connect = on_connect
        self.clean = clean
        self.resolve = resolve  # async host -> numeric address (hal.resolve: never blocks long)
        self.subscriptions = []  # (topic, qos) renewed on every connect
        self.inflight = {}  # pid -> (topic, payload, retain): sent, no PUBACK yet
        self.connected = asyncio.Event()
        self.oversize = 0
        self.malformed = 0
        self.reconnects = 0
        self.backoff_ms = 0
        self._pid = 0
        self._reader = None
        self._writer = None
        self._lock = asyncio.Lock()
        self._room = asyncio.Event()
        self._room.set()
        self._stop = False
        self.hold = None  # a block the owner keeps for TLS's buffers until connect()

    # -- packets out --------------------------------------------------------
    async def _send(self, data):
        w = self._writer
        if w is None:
            raise OSError("not connected")
        lock = self._lock  # this connection's: a writer stuck on a dead one holds only that
        async with lock:
            if self._writer is not w or w is None:  # (w is None: for the type checker)
                raise OSError("not connected")
            w.write(data)
            try:
                # Bounded: on a network that went dark with the send buffer full, drain()
                # would wait forever, holding the lock and the caller (the outbox drain).
                await asyncio.wait_for_ms(w.drain(), self.keepalive * 1000)
            except asyncio.TimeoutError:
                self._close()
                raise OSError("send timed out")

    def _next_pid(self):
        while True:
            self._pid = self._pid % 65535 + 1
            if self._pid not in self.inflight:
                return self._pid

    async def publish(self, topic, payload, qos=1, retain=False):
        """Send one message. QoS 1 waits for room in the in-flight window.

        Returns the packet id (0 for QoS 0). Raises OSError when not connected;
        a QoS 1 message that was sent stays in `inflight` and is resent with
        DUP after a reconnect until its PUBACK arrives.
        """
        if not qos:
            await self._send(publish(topic, payload, 0, retain, 0, False))
            return 0
        # The window's wait ends with the connection: a publisher that waited on a
        # session that died must not wait on for good (issue #13: the drain was parked
        # here on a client that had been replaced, and nothing was ever sent again).
        while len(self.inflight) >= self.max_inflight:
            if self._writer is None:
                raise OSError("not connected")
            self._room.clear()
            await self._room.wait()
        if self._writer is None:
            raise OSError("not connected")
        pid = self._next_pid()
        self.inflight[pid] = (topic, payload, retain)
        try:
            await self._send(publish(topic, payload, 1, retain, pid, False))
        except OSError:
            pass  # it is in `inflight`: connect() resends it with DUP
        return pid

    async def subscribe(self, topic, qos=1):
        """Add a subscription (kept and renewed on every reconnect)."""
        if (topic, qos) not in self.subscriptions:
            self.subscriptions.append((topic, qos))
        if self._writer is not None:
            await self._send(subscribe(self._next_pid(), topic, qos))

    # -- packets in ---------------------------------------------------------
    def _bad(self, msg):
        self.malformed += 1
        return MQTTError(msg)

    async def _read(self, n):
        """The next n bytes as a view into the receive buffer (or a buffer of
        their own when they do not fit in it)."""
        if n <= len(self._rx):
            mv = self._rx[:n]
        else:
            try:
                mv = memoryview(bytearray(n))
            except MemoryError:
                # No run for it (a fragmented heap, a smaller receive buffer): the
                # session ends unacknowledged, so the broker keeps the packet for the
                # next one (link.py tries for the full buffer first); not a reset.
                self._stop = True
                raise OSError("no heap for a %d B packet" % n)
        got, r = 0, self._reader
        if r is None:
            raise OSError("not connected")
        while got < n:
            k = await r.readinto(mv[got:] if got else mv)
            if k is None:
                continue  # TLS: the socket was readable, but no application data yet
            if not k:
                raise OSError("broker closed the connection")
            got += k
        return mv

    async def _read_packet(self):
        """Returns (type byte, body view) or (type byte, None) for a skipped packet."""
        head = (await self._read(1))[0]
        n = 0
        shift = 0
        for _ in range(4):
            b = (await self._read(1))[0]
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        else:
            raise self._bad("remaining length over 4 bytes")
        if n > self.max_packet:
            await self._skip(head, n)
            return head, None
        return head, (await self._read(n) if n else b"")

    async def _skip(self, head, n):
        # Too big for our buffers: read it away in small pieces; a QoS 1 PUBLISH
        # is still acknowledged, or the broker would redeliver it forever.
        self.oversize += 1
        pid = None
        if head & 0xF0 == _PUBLISH and head & 0x06:
            tlen = struct.unpack(">H", await self._read(2))[0]
            if tlen + 4 > n:
                raise self._bad("PUBLISH topic longer than the packet")
            await self._drop(tlen)
            pid = struct.unpack(">H", await self._read(2))[0]
            n -= tlen + 4
        await self._drop(n)
        if pid is not None:
            await self._send(puback(pid))

    async def _drop(self, n):
        while n:
            k = min(n, 256)
            await self._read(k)
            n -= k

    async def _handle(self, head, body):
        kind = head & 0xF0
        if body is None:
            return
        if kind == _PUBLISH:
            try:
                topic, payload, qos, pid = parse_publish(head, body)
            except ValueError as e:
                raise self._bad(e.args[0])
            if qos:
                pid = struct.unpack(">H", pid)[0]  # before on_message: the view is reused
            if self.on_message is not None:
                self.on_message(bytes(topic), payload)
            if qos:
                await self._send(puback(pid))
        elif kind == _PUBACK:
            if len(body) != 2:
                raise self._bad("PUBACK of %d bytes" % len(body))
            pid = struct.unpack(">H", body)[0]
            if self.inflight.pop(pid, None) is not None:
                self._room.set()
        elif kind in (_SUBACK, _PINGRESP):
            pass  # any packet proves the link alive (see _serve)
        else:
            self.malformed += 1  # CONNACK twice, or a type a client never gets: ignore

    # -- connection ---------------------------------------------------------
    async def connect(self):
        """One connection attempt: CONNECT, CONNACK, subscribe, resend in-flight."""
        # open_connection() resolves a name with the blocking getaddrinfo: give it a number.
        host = await self.resolve(self.host) if self.resolve else self.host
        if self.ssl:
            # the run the owner held for mbedtls's record buffers is theirs now (link.py)
            self.hold = None
            gc.collect()
            # the certificate is checked against the name, not the number
            r, w = await asyncio.open_connection(host, self.port, ssl=self.ssl,
                                                 server_hostname=self.host)
        else:
            r, w = await asyncio.open_connection(host, self.port)
        self._reader, self._writer = r, w
        self._lock = asyncio.Lock()
        try:
            await self._send(connect(self.client_id, self.keepalive, self.clean, self.will,
                                         self.user, self.password))
            head, body = await asyncio.wait_for(self._read_packet(), 10)  # type: int, memoryview | None
            if head != _CONNACK or body is None or len(body) != 2:
                raise self._bad("expected CONNACK, got 0x%02x" % head)
            if body[1]:
                raise MQTTError("broker refused the connection: CONNACK code %d" % body[1])
            for topic, qos in self.subscriptions:
                await self._send(subscribe(self._next_pid(), topic, qos))
            for pid in sorted(self.inflight):
                topic, payload, retain = self.inflight[pid]
                await self._send(publish(topic, payload, 1, retain, pid, True))
        except ValueError as e:  # mbedtls refused the certificate: retried like any fault
            self._close()
            raise MQTTError("TLS: %s" % " ".join(str(e).split()))
        except BaseException:
            self._close()
            raise
        self.connected.set()

    def _close(self):
        self.connected.clear()
        w = self._writer
        self._writer = None
        self._reader = None
        self._room.set()  # wake publishers: they will see "not connected"
        if w is not None:
            # MicroPython's StreamWriter.close() does nothing (up to 1.28 at least: only
            # wait_closed() closes the socket), and the socket is not freed by the GC
            # either: each reconnect kept one fd (an lwIP PCB on the Pico W, which has
            # few). Close the socket itself; it is idempotent, so a later close is fine.
            try:
                w.close()
                w.s.close()
            except OSError:
                pass

    async def _pinger(self):
        try:
            while True:
                await asyncio.sleep_ms(self.keepalive * 500)
                await self._send(bytes((_PINGREQ, 0)))
        except OSError:
            pass  # the reader notices the dead link and reconnects

    async def _hello(self):
        try:
            await self.on_connect()
        except OSError:
            pass  # the link went down again: the reader notices and reconnects

    async def _serve(self):
        ping = asyncio.create_task(self._pinger())
        # on_connect (SUBSCRIBE, the retained `online`) runs beside the reader, not
        # before it: its QoS 1 publish may wait for window room, which only PUBACKs
        # read here make (issue #13's wedge: `online out 7` for good after a cut).
        hello = asyncio.create_task(self._hello()) if self.on_connect is not None else None
        try:
            while True:
                # A PINGRESP (at least) arrives every keepalive/2 on a live link.
                head, body = await asyncio.wait_for_ms(  # type: int, memoryview | None
                    self._read_packet(), self.keepalive * 1500)
                await self._handle(head, body)
        finally:
            ping.cancel()
            if hello is not None:
                hello.cancel()

    async def run(self, base_ms=500, cap_ms=30000):
        """Stay connected until stop(): connect, serve, back off, repeat."""
        fails = 0
        while not self._stop:
            try:
                await self.connect()
                fails = 0
                await self._serve()
            except (OSError, asyncio.TimeoutError) as e:
                self._close()
                if self._stop:
                    break
                fails += 1
                self.reconnects += 1
                delay = min(cap_ms, base_ms << min(fails - 1, 10))
                self.backoff_ms = delay // 2 + random.getrandbits(16) % (delay // 2 + 1)
                print("mqtt: %s %s; retry in %d ms" % (type(e).__name__, e, self.backoff_ms))
                await asyncio.sleep_ms(self.backoff_ms)

    def stop(self):
        """disconnect() without awaiting (MicroPython's StreamWriter.write sends at
        once), so a long-lived caller keeps no coroutine that references us."""
        self._stop = True
        w = self._writer
        if w is not None:
            try:
                w.write(bytes((_DISCONNECT, 0)))
            except OSError:
                pass
        self._close()

    async def disconnect(self):
        """Clean DISCONNECT (the will is not sent) and stop run()."""
        self.stop()
