"""A TCP proxy on 127.0.0.1 that a test drives to play a bad network between terminal and broker.

    with NetProxy(broker.port) as net:        # the terminal's config points at net.port
        net.dark()                            # an AP that lost its uplink: bytes vanish, no FIN/RST
        net.throttle(200)                     # 200 bytes/s each way
        net.reset()                           # RST every open connection (SO_LINGER 0)
        net.half_close("down")                # FIN towards the client, the other way stays open
        net.refuse()                          # new connections are refused (nothing listens)
        net.connack(5)                        # a broker that answers CONNECT with CONNACK rc=5
        net.normal()                          # pass everything again

Hand-written rather than a library (toxiproxy is a Go service and not packaged in
Debian; pytest's own tools have no byte-dropping proxy): it is threads over
plain sockets, one pump per direction per connection, so every mode applies at
once to the connections already open, which is what a Wi-Fi outage does.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

from fingerpos.tools.mosquitto import free_port

_CHUNK = 4096


class _Pair:
    """One client connection and its upstream twin."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.closed = False
        self.shut = {"up": False, "down": False}  # direction -> FIN sent

    def close(self, rst: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        for s in (self.client, self.upstream):
            if rst:  # SO_LINGER on with 0 s: close() sends RST, not FIN
                with contextlib.suppress(OSError):
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with contextlib.suppress(OSError):
                s.close()


class NetProxy:
    """Listens on 127.0.0.1:port and forwards to 127.0.0.1:target_port, as the test says."""

    def __init__(self, target_port: int, port: int | None = None) -> None:
        self.target_port = target_port
        self.port = port or free_port()
        self.mode = "pass"  # pass | dark | connack
        self.rate = 0  # bytes/s per direction, 0 = unlimited
        self.connack_code = 0
        self.accepted = 0
        self.forwarded = {"up": 0, "down": 0}
        self.dropped = {"up": 0, "down": 0}
        self._pairs: list[_Pair] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> NetProxy:
        self._listen()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True, name="netproxy")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._unlisten()
        self.reset()
        if self._thread:
            self._thread.join(5)

    def __enter__(self) -> NetProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _listen(self) -> None:
        with self._lock:
            if self._listener is None:
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", self.port))
                s.listen(16)
                s.settimeout(0.1)
                self._listener = s

    def _unlisten(self) -> None:
        with self._lock:
            s, self._listener = self._listener, None
        if s is not None:
            s.close()

    # -- what the test does
    def normal(self) -> None:
        """Pass every byte again, at full speed, and accept new connections."""
        self.mode, self.rate = "pass", 0
        self._listen()

    def dark(self) -> None:
        """Keep every socket open but drop every byte, both ways (no FIN, no RST)."""
        self.mode = "dark"

    def throttle(self, bytes_per_s: int) -> None:
        """Pass at most bytes_per_s per direction per connection."""
        self.rate = bytes_per_s

    def reset(self) -> None:
        """RST every open connection."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for p in pairs:
            p.close(rst=True)

    def half_close(self, direction: str) -> None:
        """FIN in one direction: "down" towards the client, "up" towards the broker.

        The other direction keeps passing (a half-open connection)."""
        with self._lock:
            pairs = list(self._pairs)
        for p in pairs:
            p.shut[direction] = True
            with contextlib.suppress(OSError):
                (p.client if direction == "down" else p.upstream).shutdown(socket.SHUT_WR)

    def refuse(self) -> None:
        """Nothing listens any more: a connect gets RST (ECONNREFUSED). Open links stay."""
        self._unlisten()

    def connack(self, code: int) -> None:
        """New connections are answered here, not by the broker: read the CONNECT, send
        CONNACK with return code `code` (5 = not authorised), close."""
        self.connack_code = code
        self.mode = "connack"

    def open_connections(self) -> int:
        with self._lock:
            return sum(not p.closed for p in self._pairs)

    # -- the pumps
    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            s = self._listener
            if s is None:
                time.sleep(0.05)
                continue
            try:
                client, _ = s.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            if self.mode == "connack":
                threading.Thread(target=self._refuse_connack, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:  # the broker is down: the client sees the close, as from a NAT
                client.close()
                continue
            pair = _Pair(client, upstream)
            with self._lock:
                self._pairs.append(pair)
            for src, dst, d in ((client, upstream, "up"), (upstream, client, "down")):
                threading.Thread(target=self._pump, args=(pair, src, dst, d), daemon=True).start()

    def _refuse_connack(self, client: socket.socket) -> None:
        client.settimeout(5)
        with contextlib.suppress(OSError):
            client.recv(_CHUNK)  # the CONNECT (small, one segment on loopback)
            client.sendall(bytes((0x20, 2, 0, self.connack_code)))
            time.sleep(0.1)
        client.close()

    def _pump(self, pair: _Pair, src: socket.socket, dst: socket.socket, d: str) -> None:
        src.settimeout(0.1)
        while not pair.closed and not self._stop.is_set():
            n = _CHUNK
            if self.rate:
                n = max(1, self.rate // 10)
            try:
                data = src.recv(n)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:  # FIN from src: pass it on, as a router does
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)
                break
            if self.mode == "dark" or pair.shut[d]:
                self.dropped[d] += len(data)
                continue
            try:
                dst.sendall(data)
            except OSError:
                break
            self.forwarded[d] += len(data)
            if self.rate:
                time.sleep(len(data) / self.rate)
        # One side went away: the other sees it go too (what the broker does on a lost link).
        if not pair.shut["up"] and not pair.shut["down"]:
            pair.close()
            with self._lock:
                if pair in self._pairs:
                    self._pairs.remove(pair)
