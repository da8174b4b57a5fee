"""MqttLink: a paho-mqtt (v2 API) client driven by the asyncio event loop.

Why not aiomqtt or paho's own thread: measured on a 2-core machine a bare
paho subscriber takes ~28,700 QoS 1 msgs/s and aiomqtt ~7,100; a thread
would hand every message across a lock. Here paho's socket callbacks register
its socket with loop.add_reader/add_writer, so reads, writes and keep-alive
(`loop_misc`) all run on the one event loop as plain callbacks.

The link reads the socket itself, one recv() of up to 256 KiB per readiness
callback, and splits the bytes into packets (cloud/ingest/frames.py). With an
`on_publish` callback, PUBLISH packets go straight to it as (topic, payload,
packet id, qos) and `ack_many` PUBACKs a whole batch in one write; every other
packet is fed to paho through its `_sock_recv` (replaced on the instance), so
paho still runs the session: connect, subscribe, keep-alive, our publishes.
Both paho hooks (`_sock_recv`, `_packet_queue`) are private: pyproject.toml
pins paho-mqtt below 3, and tests/test_ingest_broker.py runs them on a real
Mosquitto.

Backpressure: `pause()` stops taking PUBLISH packets (the reader is removed
at the next one; what was read stays in the splitter, at most one recv), so
the broker keeps the backlog; control packets before it are still handled,
so a reconnect while paused completes. `resume()` goes on where it stopped.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import paho.mqtt.client as paho
from fingerpos.cloud.ingest.frames import (
    PUBLISH,
    PacketSplitter,
    ProtocolViolation,
    pubacks,
    read_publish,
)
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)

_RECV_SIZE = 256 * 1024  # bytes read per readiness callback (about 800 heartbeats)
_PUBACK = 0x40
# on_publish(topic bytes, payload, packet id, qos): called for each PUBLISH, no awaits.
OnPublish = Callable[[bytes, bytes, int, int], None]
_PLAIN, _TLS = ("mqtt", "tcp"), ("mqtts", "ssl")
_SESSION_EXPIRY_S = 3600  # MQTT 5: how long the broker keeps our queue while we are down


def parse_url(url: str) -> tuple[str, int, str | None, str | None]:
    """`mqtt[s]://[user:pass@]host[:port]` -> (host, port, user, password)."""
    parts = urlsplit(url)
    if parts.scheme not in _PLAIN + _TLS:
        raise ValueError(f"broker URL {url!r}: use mqtt://host:1883 or mqtts://host:8883")
    default = 8883 if parts.scheme in _TLS else 1883
    return parts.hostname or "127.0.0.1", parts.port or default, parts.username, parts.password


def tls_of(url: str) -> tuple[bool, str | None]:
    """(TLS?, CA file): `mqtts://host:8883?ca=/etc/fingerpos/ca.pem` verifies the broker
    against that CA; without `ca`, against the system's trusted CAs."""
    parts = urlsplit(url)
    ca = parse_qs(parts.query).get("ca", [None])[-1]
    return parts.scheme in _TLS, ca


class MqttLink:
    """One MQTT connection on the running loop, reconnecting with back-off.

    `subscriptions` are (filter, qos) pairs made again on every connect.
    `on_message(msg)` (paho's message object) or, faster, `on_publish(topic,
    payload, mid, qos)` is called synchronously for each message; with
    `manual_ack` the caller acknowledges by `ack`/`ack_many` once it is durable.
    """

    def __init__(self, url: str, client_id: str, subscriptions: list[tuple[str, int]],
                 on_message: Callable[[paho.MQTTMessage], None] | None = None,
                 mqtt5: bool = False, manual_ack: bool = False, clean: bool = True,
                 keepalive: int = 30, will: tuple[str, bytes] | None = None,
                 on_connected: Callable[[], None] | None = None,
                 on_publish: OnPublish | None = None) -> None:
        self.host, self.port, user, password = parse_url(url)
        tls, ca = tls_of(url)
        self.subscriptions = subscriptions
        self.mqtt5 = mqtt5
        self.clean = clean
        self.keepalive = keepalive
        self.connected = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        proto = paho.MQTTv5 if mqtt5 else paho.MQTTv311
        kwargs = {} if mqtt5 else {"clean_session": clean}
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=proto, manual_ack=manual_ack, **kwargs)
        if user:
            self.client.username_pw_set(user, password)
        if tls:
            # Verifies the broker's certificate and host name; paho does the
            # handshake while connecting, then the socket is ours as before.
            self.client.tls_set(ca_certs=ca, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if will:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.on_connected = on_connected
        # 0 = no limit: with a limit paho walks all its unacknowledged messages on
        # every PUBACK (O(n) each); the broker's own limits apply anyway.
        self.client.max_inflight_messages_set(0)
        self.client.max_queued_messages_set(0)
        c = self.client
        c.on_socket_open = self._socket_open
        c.on_socket_close = self._socket_close
        c.on_socket_register_write = self._register_write
        c.on_socket_unregister_write = self._unregister_write
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        if on_message:
            c.on_message = on_message
        self.on_publish = on_publish
        self.mqtt5_frames = mqtt5
        c._sock_recv = self._paho_recv  # paho reads the packets we hand it (see header)
        self._frames = PacketSplitter()
        self._for_paho = bytearray()
        self._eof = False
        self._paused = False
        self._reading = False
        self._sock: socket.socket | None = None
        self._misc: asyncio.Task | None = None
        self._stopping = False
        # Bumped on every connect: a message id is only valid on the
        # connection it came on, so acks of an older one are skipped.
        self.generation = 0

    # -- paho socket callbacks: hand the socket to the event loop ----------
    def _socket_open(self, client: paho.Client, userdata: object, sock: socket.socket) -> None:
        self._sock = sock
        self._frames.reset()
        self._for_paho.clear()
        self._eof = False
        # paho leaves Nagle on: a small ack or event would wait for the peer's
        # delayed ACK (up to 40 ms on Linux) behind the previous one.
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # not a TCP socket (e.g. a test double): nothing to tune
        self._start_reading()

    def _socket_close(self, client: paho.Client, userdata: object, sock: socket.socket) -> None:
        self._loop.remove_reader(sock)
        self._loop.remove_writer(sock)
        self._reading = False
        self._sock = None

    def _register_write(self, client: paho.Client, userdata: object, sock: socket.socket) -> None:
        self._loop.add_writer(sock, self.client.loop_write)

    def _unregister_write(self, client: paho.Client, userdata: object, sock: socket.socket) -> None:
        self._loop.remove_writer(sock)

    def _start_reading(self) -> None:
        if self._sock is not None and not self._reading:
            self._loop.add_reader(self._sock, self._readable)
            self._reading = True

    def _stop_reading(self) -> None:
        if self._sock is not None and self._reading:
            self._loop.remove_reader(self._sock)
        self._reading = False

    def _readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            data = sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            # TLS: a partial record is not data yet. One recv() returns at most one
            # record (16 KiB, under _RECV_SIZE), and OpenSSL reads no further ahead,
            # so what is left stays in the socket and the reader is called again.
            return
        except OSError as e:
            log.info("receive from the broker failed: %s", e)
            data = b""
        if not data:  # the broker closed: paho reads the end and runs its disconnect
            self._eof = True
            self._to_paho(b"")
            return
        # paho's keep-alive counts only the bytes it reads itself; these count too.
        self.client._last_bytes_received = paho.time_func()
        try:
            packets = self._frames.feed(data)
        except ProtocolViolation as e:
            log.warning("broker %s:%s sent a bad packet (%s); reconnecting",
                        self.host, self.port, e)
            self._eof = True
            self._to_paho(b"")
            return
        self._handle(packets)

    def _handle(self, packets: list[tuple[int, bytes, int]]) -> None:
        on_publish = self.on_publish
        for n, (first, packet, head) in enumerate(packets):
            if first >> 4 == PUBLISH and on_publish is not None and first & 0x06 != 0x04:
                if self._paused:  # keep the rest for resume(); the broker keeps the backlog
                    self._frames.hold(packets[n:])
                    self._stop_reading()
                    return
                try:
                    topic, payload, mid, qos = read_publish(first, packet, head, self.mqtt5_frames)
                except ProtocolViolation as e:
                    log.warning("broker sent a bad PUBLISH (%s); reconnecting", e)
                    self._eof = True
                    self._to_paho(b"")
                    return
                on_publish(topic, payload, mid, qos)
            else:
                self._to_paho(packet)
                if self._sock is None:  # paho closed the connection
                    return

    def _to_paho(self, packet: bytes) -> None:
        """Let paho handle a whole packet (or, with _eof, see the connection end)."""
        self._for_paho += packet
        while (self._for_paho or self._eof) and self._sock is not None:
            if self.client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break

    def _paho_recv(self, bufsize: int) -> bytes:
        if not self._for_paho:
            if self._eof:
                return b""  # paho: connection lost
            raise BlockingIOError
        chunk = bytes(self._for_paho[:bufsize])
        del self._for_paho[:bufsize]
        return chunk

    def pause(self) -> None:
        """Stop taking PUBLISH packets until resume() (backpressure; see header)."""
        self._paused = True

    def resume(self) -> None:
        if not self._paused:
            return
        self._paused = False
        self._start_reading()
        if len(self._frames):
            self._handle(self._frames.feed(b""))

    @property
    def paused(self) -> bool:
        return self._paused

    def _on_connect(self, client: paho.Client, userdata: object, flags: object,
                    reason: paho.ReasonCode, properties: object) -> None:
        if reason.is_failure:
            log.warning("broker %s:%s refused the connection: %s", self.host, self.port, reason)
            return
        if self.subscriptions:
            client.subscribe(self.subscriptions)
        self.generation += 1
        self.connected.set()
        if self.on_connected:
            self.on_connected()

    def _on_disconnect(self, client: paho.Client, userdata: object, flags: object,
                       reason: paho.ReasonCode, properties: object) -> None:
        self.connected.clear()
        if not self._stopping:
            log.warning("lost the broker %s:%s (%s); reconnecting", self.host, self.port, reason)

    # -- life cycle ---------------------------------------------------------
    def _connect_once(self) -> None:
        props = None
        if self.mqtt5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 0 if self.clean else _SESSION_EXPIRY_S
            self.client.connect(self.host, self.port, self.keepalive,
                                clean_start=self.clean, properties=props)
        else:
            self.client.connect(self.host, self.port, self.keepalive)

    async def start(self, timeout: float = 10.0) -> None:
        """Connect (raising ConnectionError with the address on failure) and keep
        the connection alive until stop()."""
        try:
            self._connect_once()
            async with asyncio.timeout(timeout):
                await self.connected.wait()
        except (OSError, TimeoutError) as e:
            self.client.disconnect()
            raise ConnectionError(
                f"cannot reach the MQTT broker at {self.host}:{self.port} ({e or 'no CONNACK'}):"
                " start it or give the right --mqtt URL") from e
        self._misc = asyncio.create_task(self._housekeeping(), name="mqtt-misc")

    async def _housekeeping(self) -> None:
        delay = 0.2
        while not self._stopping:
            await asyncio.sleep(0.5)
            if self.client.loop_misc() == MQTTErrorCode.MQTT_ERR_SUCCESS and self._sock:
                delay = 0.2
                continue
            if self._stopping:
                return
            try:  # reconnect inline: paho's reconnect() on loopback/LAN is quick
                self.client.reconnect()
            except OSError as e:
                log.info("broker %s:%s still unreachable (%s)", self.host, self.port, e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain)

    def ack(self, mid: int, qos: int, generation: int) -> None:
        """PUBACK a message received on connection `generation` (skipped if it is gone:
        the broker sends that message again on the new connection)."""
        if qos:
            self.ack_many([mid], generation)

    def ack_many(self, mids: list[int], generation: int) -> None:
        """PUBACK QoS 1 messages of connection `generation` in one write."""
        if mids and generation == self.generation and self.connected.is_set():
            self.client._packet_queue(_PUBACK, pubacks(mids), 0, 0)

    async def stop(self) -> None:
        self._stopping = True
        if self._misc:
            self._misc.cancel()
            try:
                await self._misc
            except asyncio.CancelledError:
                pass
        self.client.disconnect()
        # Let the DISCONNECT packet leave before the socket closes.
        for _ in range(20):
            if self._sock is None:
                break
            await asyncio.sleep(0.01)
            self.client.loop_write()
            self.client.loop_read()
