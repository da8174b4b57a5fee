"""firmware/mqtt.py under the MicroPython unix port against a real Mosquitto and a fake server."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time

import paho.mqtt.client as paho
from fingerpos.tools.mosquitto import Mosquitto, free_port

from .conftest import REPO, tool

SCRIPT = REPO / "tests" / "mp" / "fw_mqtt_client.py"


def start_client(port: int, dev: str, n: int, pace_ms: int = 0, max_packet: int = 6144):
    return subprocess.Popen([tool("micropython"), "-X", "heapsize=128k", str(SCRIPT), str(REPO),
                             "127.0.0.1", str(port), dev, str(n), str(pace_ms), str(max_packet)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class Collector:
    """A paho subscriber with a persistent session that records everything it gets."""

    def __init__(self, port: int, topics: list[str], client_id: str) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id,
                             clean_session=False)
        self.c.on_message = self._on_message
        self.c.on_connect = lambda c, u, f, rc, p: [c.subscribe(t, 1) for t in topics]
        self.c.reconnect_delay_set(0.1, 0.5)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def _on_message(self, c, u, m) -> None:
        with self.lock:
            self.messages.append((m.topic, m.payload, m.retain))

    def payloads(self, topic: str) -> list[bytes]:
        with self.lock:
            return [p for t, p, _ in self.messages if t == topic]

    def wait(self, cond, timeout: float = 30, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def publish(self, topic: str, payload: bytes) -> None:
        self.c.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def persistent_broker(workdir) -> Mosquitto:
    """A Mosquitto that keeps sessions across stop()/start(), so the test's subscriber
    misses nothing while the broker is down (the client under test is what is checked)."""
    # Run as root, mosquitto drops to its own user: it needs a directory it can write.
    persist = tempfile.mkdtemp(prefix="fp-persist-")
    os.chmod(persist, 0o777)
    b = Mosquitto(extra_config=f"persistence true\npersistence_location {persist}/\n",
                  workdir=workdir)
    b.persist_dir = persist
    return b.start()


def finish(proc, timeout: float = 30) -> list[str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as e:
        proc.kill()
        raise AssertionError(f"client did not finish; its output:\n{e.output}") from None
    assert proc.returncode == 0, err[-2000:]
    assert "MemoryError" not in err
    return out.splitlines()


def test_publish_subscribe_will_and_retained_status(broker, topic_prefix):
    dev = topic_prefix + "a"
    evt, cmd, status = (f"fp/v1/dev/{dev}/{k}" for k in ("evt", "cmd", "status"))
    sub = Collector(broker.port, [evt, status], "sub-" + dev)
    try:
        proc = start_client(broker.port, dev, 100)
        sub.wait(lambda: len(set(sub.payloads(evt))) == 100, what="100 events")
        assert b"online" in sub.payloads(status)
        sub.publish(cmd, b"hello \xc3\xa9")
        sub.publish(cmd, b"quit")
        lines = finish(proc)
        assert f"MSG {cmd} hello \u00e9" in lines
        assert sorted(set(sub.payloads(evt))) == sorted(f"{dev}:{i}".encode() for i in range(100))
        # The will: a killed terminal is announced offline (retained).
        proc = start_client(broker.port, dev, 1)
        sub.wait(lambda: sub.payloads(status).count(b"online") >= 2, what="second online")
        proc.kill()
        proc.wait(10)
        sub.wait(lambda: sub.payloads(status)[-1:] == [b"offline"], timeout=20, what="will")
    finally:
        sub.close()


def test_broker_stop_and_start_mid_stream_loses_nothing(tmp_path, topic_prefix):
    dev = topic_prefix + "b"
    evt = f"fp/v1/dev/{dev}/evt"
    b = persistent_broker(tmp_path)
    sub = Collector(b.port, [evt], "sub-" + dev)
    proc = None
    try:
        proc = start_client(b.port, dev, 300, pace_ms=5)
        sub.wait(lambda: len(sub.payloads(evt)) >= 60, what="first events")
        b.stop()
        time.sleep(1.5)
        b.start()
        sub.wait(lambda: len(set(sub.payloads(evt))) == 300, timeout=60, what="all 300 events")
        sub.publish(f"fp/v1/dev/{dev}/cmd", b"quit")
        lines = finish(proc)
        stats = json.loads(lines[-1].split(" ", 1)[1])
        assert stats["reconnects"] >= 1
        got = sub.payloads(evt)
        assert set(got) == {f"{dev}:{i}".encode() for i in range(300)}
        print(f"duplicates after the restart (QoS 1 resend): {len(got) - 300}")
    finally:
        if proc and proc.poll() is None:
            proc.kill()
        sub.close()
        b.stop()
        shutil.rmtree(b.persist_dir, ignore_errors=True)


# -- a fake broker that sends what a real one never would ----------------------

def _packet(head: int, body: bytes) -> bytes:
    n, out = len(body), bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            break
    return bytes([head]) + bytes(out) + body


def _publish(topic: bytes, payload: bytes, pid: int | None) -> bytes:
    var = struct.pack(">H", len(topic)) + topic + (struct.pack(">H", pid) if pid else b"")
    return _packet(0x32 if pid else 0x30, var + payload)


def _read_packet(conn: socket.socket) -> tuple[int, bytes]:
    def read(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf
    head = read(1)[0]
    n, shift = 0, 0
    while True:
        b = read(1)[0]
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return head, read(n)


def test_malformed_and_oversize_packets_from_a_fake_server(topic_prefix):
    dev = topic_prefix + "c"
    cmd = f"fp/v1/dev/{dev}/cmd".encode()
    port = free_port()
    srv = socket.create_server(("127.0.0.1", port))
    srv.settimeout(20)
    proc = start_client(port, dev, 0, max_packet=1024)
    seen: list = []
    try:
        def session(script):
            conn, _ = srv.accept()
            conn.settimeout(10)
            head, body = _read_packet(conn)
            assert head == 0x10 and b"MQTT" in body
            script(conn)
            return conn

        # 1: CONNACK refused (bad credentials): the client backs off and retries.
        session(lambda c: c.sendall(b"\x20\x02\x00\x05")).close()

        # 2: accepted; an oversize QoS 1 PUBLISH is skipped but PUBACKed, a good one
        #    delivered, then a 5-byte remaining length: the client drops the link.
        def two(c):
            c.sendall(b"\x20\x02\x00\x00")
            assert _read_packet(c)[0] == 0x82  # SUBSCRIBE renewed
            c.sendall(_publish(cmd, b"x" * 5000, 77))
            while True:
                head, body = _read_packet(c)
                if head == 0x40:
                    seen.append(struct.unpack(">H", body)[0])
                    break
            c.sendall(_publish(cmd, b"fine", 78))
            assert _read_packet(c) == (0x40, b"\x00\x4e")
            c.sendall(b"\x30\xff\xff\xff\xff\x01")
        session(two).close()

        # 3: a PUBLISH whose topic length runs past the packet; then garbage type 0.
        def three(c):
            c.sendall(b"\x20\x02\x00\x00")
            _read_packet(c)
            c.sendall(_packet(0x32, b"\x10\x00ab\x00\x01"))
        session(three).close()

        # 4: well behaved: deliver quit, and the client ends cleanly.
        def four(c):
            c.sendall(b"\x20\x02\x01\x00")
            # Acknowledge every QoS 1 PUBLISH (the `online` statuses, one resent
            # with DUP) until the client goes quiet, then tell it to quit.
            c.settimeout(1.0)
            dups = 0
            try:
                while True:
                    head, body = _read_packet(c)
                    if head & 0xF6 == 0x32:
                        dups += bool(head & 0x08)
                        tlen = struct.unpack(">H", body[:2])[0]
                        c.sendall(b"\x40\x02" + body[2 + tlen:4 + tlen])
            except TimeoutError:
                pass
            assert dups >= 1, "unacknowledged QoS 1 messages are resent with DUP"
            c.sendall(_publish(cmd, b"quit", 0))
        conn = session(four)
        lines = finish(proc)
        conn.close()
    finally:
        if proc.poll() is None:
            proc.kill()
        srv.close()
    assert seen == [77]
    assert f"MSG {cmd.decode()} fine" in lines
    stats = json.loads(lines[-1].split(" ", 1)[1])
    assert stats["oversize"] == 1
    assert stats["malformed"] >= 2
    assert stats["reconnects"] >= 3
