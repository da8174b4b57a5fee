"""MqttLink: a paho-mqtt (v2 API) client driven by the asyncio event loop.

Why not aiomqtt or paho's own thread: measured on a 2-core machine a bare
paho subscriber takes ~28,700 QoS 1 msgs/s and aiomqtt ~7,100; a thread
would hand every message across a lock. Here paho's socket callbacks register
its socket with loop.add_reader/add_writer, so reads, writes and keep-alive
(`loop_misc`) all run on the one event loop as plain callbacks.

paho's `loop_read` handles one packet per call when no QoS 2 is in flight,
so the reader drains the socket in a loop, peeking between packets, instead
of paying one event-loop round per message.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)

_READ_BURST = 256  # packets handled per readiness callback before yielding to the loop
_SESSION_EXPIRY_S = 3600  # MQTT 5: how long the broker keeps our queue while we are down


def parse_url(url: str) -> tuple[str, int, str | None, str | None]:
    """`mqtt://[user:pass@]host[:port]` -> (host, port, user, password)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp"):
        raise ValueError(f"broker URL {url!r}: use mqtt://host:port")
    return parts.hostname or "127.0.0.1", parts.port or 1883, parts.username, parts.password


class MqttLink:
    """One MQTT connection on the running loop, reconnecting with back-off.

    `subscriptions` are (filter, qos) pairs made again on every connect.
    `on_message(msg)` is called synchronously for each message; with
    `manual_ack` the caller acknowledges by `ack(msg)` once it is durable.
    """

    def __init__(self, url: str, client_id: str, subscriptions: list[tuple[str, int]],
                 on_message: Callable[[paho.MQTTMessage], None] | None = None,
                 mqtt5: bool = False, manual_ack: bool = False, clean: bool = True,
                 keepalive: int = 30, will: tuple[str, bytes] | None = None,
                 on_connected: Callable[[], None] | None = None) -> None:
        self.host, self.port, user, password = parse_url(url)
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
        if will:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.on_connected = on_connected
        self.client.max_inflight_messages_set(1000)
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
        self._sock: socket.socket | None = None
        self._misc: asyncio.Task | None = None
        self._stopping = False
        # Bumped on every connect: a message id is only valid on the
        # connection it came on, so acks of an older one are skipped.
        self.generation = 0

    # -- paho socket callbacks: hand the socket to the event loop ----------
    def _socket_open(self, client: paho.Client, userdata: object, sock: socket.socket) -> None:
        self._sock = sock
        # paho leaves Nagle on: a small ack or event would wait for the peer's
        # delayed ACK (up to 40 ms on Linux) behind the previous one.
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # not a TCP socket (e.g. a test double): nothing to tune
        self._loop.add_reader(sock, self._readable)

    def _socket_close(self, client: paho.Client, userdata: object, sock: socket.socket) -> None:
        self._loop.remove_reader(sock)
        self._loop.remove_writer(sock)
        self._sock = None

    def _register_write(self, client: paho.Client, userdata: object, sock: socket.socket) -> None:
        self._loop.add_writer(sock, self.client.loop_write)

    def _unregister_write(self, client: paho.Client, userdata: object, sock: socket.socket) -> None:
        self._loop.remove_writer(sock)

    def _readable(self) -> None:
        for _ in range(_READ_BURST):
            sock = self._sock
            if sock is None or self.client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return
            sock = self._sock
            if sock is None:
                return
            try:
                if not sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                    return  # peer closed: the next loop_read reports it
            except BlockingIOError:
                return
            except OSError:
                return

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
        if generation == self.generation and self.connected.is_set():
            self.client.ack(mid, qos)

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
