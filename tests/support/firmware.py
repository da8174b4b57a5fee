"""Shared parts of the whole-firmware tests: the bundle a Pico is flashed with, a test cloud.

The firmware runs on the MicroPython unix port (128 KiB heap) with the simulated
sensor (tests/support/terminal.py) and a real Mosquitto; `Cloud` plays the cloud:
it verifies every event, stores each seq once, acknowledges, and sends signed
commands (protocol.host.seal).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from fingerpos import protocol
from fingerpos.protocol.chain import DUPLICATE, SeqTracker
from fingerpos.protocol.host import seal
from fingerpos.tools.device import bundle as bundle_mod
from fingerpos.tools.mosquitto import Mosquitto, free_port

from tests.support.certs import make_ca
from tests.support.terminal import REPO, Terminal

KEY = bytes(range(32))
CATALOG = [{"sku": "101", "name": "Tea", "price": 250, "currency": "EUR"},
           {"sku": "102", "name": "Cake", "price": 375, "currency": "EUR"}]
# The scenario's heap budget on the 64-bit unix port (32-byte GC blocks), see
# firmware/README.md "RAM". Measured 95.6-97.3 KB live peak and 36-37 KB least heap_free in a
# heartbeat (R503; 96.1 KB and 36.7 KB on the R307) since issue #13 item 6's savings
# (107 KB and 25 KB before, 110-115 KB and 23 KB before the names fit in five qstr
# pools); these fail on a regression.
LIVE_PEAK_MAX = 102 * 1024
HEAP_FREE_MIN = 30 * 1024


@dataclass(frozen=True)
class HeapProfile:
    """One heap the whole-firmware scenario runs in (issue #13 item 6).

    tls: the terminal talks TLS, and the unix HAL charges mbedtls's record buffers
    to the GC heap as rp2 does (firmware/hal/unix.py). sales: (keyed online, keyed
    while the broker is down); the smaller heaps run the whole flow with fewer sales.
    """

    name: str
    heap: str
    tls: bool
    live_peak_max: int
    heap_free_min: int
    sales: tuple[int, int] = (200, 100)


# The 112k-TLS and 96k targets of issue #13 item 6 are not met yet: the terminal's live
# heap once online (~91 KB on the unix port, 63 KB of it modules and interned names)
# leaves no room for TLS's 25 KB in 112 KiB (the first connect fails at mbedtls's 4 KB
# output record buffer), and in 96 KiB the catalog command, the enrolments and the
# finger logins fit now but the first sale (sale.py and catalog.py, 5 KB) does not.
# They run (xfail, not strict) so a heap saving shows at once.
_NOT_YET = pytest.mark.xfail(reason="issue #13 item 6: ~91 KB live once online: 96k runs out "
                             "at the first sale, 112k-TLS at mbedtls's 4 KB output record "
                             "buffer on the first connect", strict=False)
HEAP_PROFILES = (
    pytest.param(HeapProfile("128k", "128k", False, LIVE_PEAK_MAX, HEAP_FREE_MIN), id="128k"),
    pytest.param(HeapProfile("112k-tls", "112k", True, 108 * 1024, 4 * 1024, (60, 30)),
                 marks=_NOT_YET, id="112k-tls"),
    pytest.param(HeapProfile("96k", "96k", False, 92 * 1024, 4 * 1024, (60, 30)),
                 marks=_NOT_YET, id="96k"),
)


def heap_broker(tmp: Path, heap: HeapProfile, config: dict[str, Any]
                ) -> tuple[Mosquitto, dict[str, Any]]:
    """A started Mosquitto for the profile and the terminal's config pointing at it: a
    TLS listener (certificate for 127.0.0.1, its CA in the device's ca.pem) when
    heap.tls, else the plain one. The broker's plain port is always the cloud's."""
    if not heap.tls:
        b = Mosquitto().start()
        config["broker"]["port"] = b.port
        return b, config
    # Not under tmp: pytest's base directory is 0700, and Mosquitto started as root drops
    # to its own user, which then cannot read the CA ("Permission denied"), as in
    # tests/test_firmware_tls.py.
    certs = Path(tempfile.mkdtemp(prefix="fp-heap-tls-"))
    os.chmod(certs, 0o755)
    atexit.register(shutil.rmtree, certs, True)
    ca, cert, key = make_ca(certs / "a", "fingerpos scenario CA")
    tls_port = free_port()
    b = Mosquitto(extra_config=f"listener {tls_port} 127.0.0.1\ncafile {ca}\n"
                               f"certfile {cert}\nkeyfile {key}\n").start()
    config["broker"].update(port=tls_port, tls=True)
    (tmp / "device").mkdir(parents=True, exist_ok=True)
    shutil.copy(ca, tmp / "device" / "ca.pem")
    return b, config

_bundle_dir: Path | None = None


def mpy_bundle() -> Path:
    """What a technician flashes (`fingerpos device bundle`): firmware, protocol and the
    driver compiled with mpy-cross, main.py as source. Built once per test session.

    A .py imported on the board is compiled there, on the 128 KiB heap; a .mpy is not,
    so the tests run the .mpy files exactly as a flashed Pico W does.
    """
    global _bundle_dir
    if _bundle_dir is None:
        root = Path(tempfile.mkdtemp(prefix="fp-bundle-"))
        atexit.register(shutil.rmtree, root, True)
        cfg = root / "config.json"
        cfg.write_text(json.dumps(make_config("bundle", 1883)))
        bundle_mod.build(REPO, cfg, root / "bundle", target="unix")  # + the unix HAL twin
        _bundle_dir = root / "bundle"
    return _bundle_dir


def make_config(dev: str, port: int, **settings: int) -> dict[str, Any]:
    base = {"max_failures": 3, "lockout_s": 1, "lockout_cap_s": 4, "session_s": 120,
            "match_threshold": 50, "outbox_bytes": 200_000, "heartbeat_s": 5, "ack_wait_s": 5}
    base.update(settings)
    return {"v": 1, "id": dev, "shop": "shop1", "key": KEY.hex(),
            "wifi": {"ssid": "test", "password": "pw"},
            "broker": {"host": "127.0.0.1", "port": port, "tls": False},
            "settings": base}


class Cloud:
    """Plays the cloud for one device: verifies events, stores them once, acks, sends commands."""

    def __init__(self, port: int, dev: str, ack: bool = True) -> None:
        self.dev = dev
        self.port = port
        self.auto_ack = ack
        self.tracker = SeqTracker()
        self.events: dict[int, dict[str, Any]] = {}  # seq -> body, each stored once
        self.sizes: dict[int, int] = {}  # seq -> body bytes as sent
        self.deliveries = 0
        self.duplicates = 0
        self.rejected: list[str] = []
        self.status: list[bytes] = []
        self.cmd_seq = 0
        self.cmd_prev = ""
        self.lock = threading.Condition()
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="cloud-" + dev,
                             clean_session=False)
        self.c.on_message = self._on_message
        self.c.on_connect = lambda c, u, f, rc, p: (
            c.subscribe(protocol.evt_topic(dev), 1), c.subscribe(protocol.status_topic(dev), 1))
        self.c.reconnect_delay_set(0.1, 0.5)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def _on_message(self, c: Any, u: Any, m: Any) -> None:
        if m.topic.endswith("/status"):
            with self.lock:
                self.status.append(m.payload)
                self.lock.notify_all()
            return
        try:
            body = protocol.verify(KEY, m.topic, m.payload)
        except protocol.ProtocolError as e:
            self.rejected.append(e.code)
            return
        raw, _ = protocol.split(m.payload)
        with self.lock:
            self.deliveries += 1
            kind = self.tracker.observe(body["seq"], body["prev"], protocol.chain_hash(raw))
            if kind == DUPLICATE:
                self.duplicates += 1
            else:
                self.events[body["seq"]] = body
                self.sizes[body["seq"]] = len(raw)
            upto = self.tracker.committed
            self.lock.notify_all()
        if self.auto_ack:
            self.send("ack", {"upto": upto})

    def send(self, typ: str, data: dict[str, Any]) -> None:
        # Published under the lock that numbers it: the test thread's commands and the
        # MQTT thread's acks race otherwise, and an ack numbered after a command but
        # published before it makes the terminal refuse the command as a replay (seen:
        # `unlock` dropped as replayed after the ack that followed it, 1 run in 3).
        with self.lock:
            self.cmd_seq += 1
            topic, payload, self.cmd_prev = seal(
                KEY, self.dev, protocol.CMD, self.cmd_seq, int(time.time()), typ, self.cmd_prev,
                data)
            self.c.publish(topic, payload, qos=1)

    def wait(self, cond: Any, timeout: float = 20, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        with self.lock:
            while not cond():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"cloud: timed out waiting for {what}; "
                                       f"have seqs up to {self.tracker.committed}")
                self.lock.wait(min(left, 0.2))

    def of_type(self, typ: str) -> list[dict[str, Any]]:
        with self.lock:
            return [b for _, b in sorted(self.events.items()) if b["typ"] == typ]

    def wait_event(self, typ: str, pred: Any = lambda d: True,
                   timeout: float = 20) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        def cond() -> bool:
            found[:] = [b for b in self.events.values() if b["typ"] == typ and pred(b["data"])]
            return bool(found)
        self.wait(cond, timeout, f"a {typ} event")
        return found[-1]

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def sellers(key: bytes = KEY) -> list[dict[str, Any]]:
    return [
        {"id": "s1", "name": "Ana", "slots": [], "pin": protocol.pin_hash(key, "s1", "1111"),
         "manager": True},
        {"id": "s2", "name": "Ben", "slots": [], "pin": protocol.pin_hash(key, "s2", "2222"),
         "manager": False},
    ]


def heap_figures(t: Terminal) -> tuple[int, int]:
    """(highest live heap after a collection, highest gc.mem_alloc seen) from the heap logs."""
    live = [int(x.split()[4]) for x in t.logs if x.startswith("heap peak")]
    peak = [int(x.split()[2]) for x in t.logs if x.startswith("heap peak")]
    return max(live or [0]), max(peak or [0])


def assert_healthy(t: Terminal) -> None:
    out = t.output()
    assert "MemoryError" not in out and "Traceback" not in out, out[-3000:]
    assert t.proc is not None and t.proc.poll() is None, "firmware exited:\n" + out[-3000:]


def provision(t: Terminal, cloud: Cloud) -> None:
    t.wait_display("online", timeout=15)
    cloud.send("roster", {"sellers": sellers()})
    t.wait_log("cmd roster applied")
    cloud.send("catalog", {"items": CATALOG})
    t.wait_log("cmd catalog applied")


def enrol(t: Terminal, cloud: Cloud, seller: str, finger: str) -> int:
    cloud.send("enrol_start", {"seller": seller})
    t.wait_display("Place finger", timeout=15)
    t.place(finger)
    t.wait_display("Lift finger")
    t.lift()
    t.wait_display("Same finger again")
    t.place(finger)
    t.wait_display("ENROLLED " + seller)
    t.lift()
    return cloud.wait_event("enrol", lambda d: d["seller"] == seller)["data"]["slot"]


def sell(t: Terminal, n: int) -> None:
    """Key n sales (2 x SKU 101, 10.00 cash), each confirmed on the display before the next."""
    last = None
    for _ in range(n):
        t.press("B101#2##1000#", gap=0)
        while True:  # the confirmation stays on screen while other lines change
            lines = t.wait_display("SALE #", timeout=15)
            note = next(x for x in lines if "SALE #" in x)
            if note != last:
                break
        assert note.endswith("CHG 5.00"), lines
        last = note


def run_terminal(tmp_path: Path, port: int, dev: str, ack: bool = True,
                 **settings: int) -> Iterator[tuple[Terminal, Cloud]]:
    """A started terminal (the flashed bundle) and its test cloud; stops both after."""
    cloud = Cloud(port, dev, ack=ack)
    t = Terminal(tmp_path, make_config(dev, port, **settings), firmware_dir=mpy_bundle())
    t.start()
    try:
        yield t, cloud
    finally:
        t.stop()
        cloud.close()
