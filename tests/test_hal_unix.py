"""The unix HAL and the Terminal harness, driven through a small stand-in firmware (tests/mp/io_terminal.py)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import adafruit_fingerprint
import pytest
from fingerpos.tools.sensor_model import default_confidence

from .conftest import REPO, run_micropython, tool
from .support.terminal import Terminal

FIRMWARE = dict(firmware_dir=REPO / "tests" / "mp", main="io_terminal.py", path=(REPO / "firmware",))


@pytest.fixture
def term(tmp_path):
    with Terminal(tmp_path, {"v": 1}, **FIRMWARE) as t:
        t.wait_display("ready", timeout=15)
        yield t


def test_boot_reads_sensor_parameters_and_logs(term):
    assert term.display == ["ready", "level 3", "cap 200"]
    assert term.wait_log("boot mem", timeout=5)


def test_keys_reach_the_firmware_and_gpio_is_recorded(term):
    term.press("7")
    assert term.wait_display("key 7", timeout=5) == ["key 7"]
    term.press("B")
    t_on = term.wait_gpio("buzzer", 1, timeout=5)
    term.press("C")
    t_off = term.wait_gpio("buzzer", 0, timeout=5)
    assert t_off >= t_on
    assert [(n, v) for n, v, _ in term.gpio_history("buzzer")] == [("buzzer", 1), ("buzzer", 0)]


def test_bad_control_lines_are_ignored(term):
    term.control._conn.sendall(b"{broken\n[1]\n{\"key\": \"XX\"}\n")
    term.press("3")
    assert term.wait_display("key 3", timeout=5)
    assert "ignored bad control line" in term.output()


def test_printer_bytes_go_to_the_harness(term):
    term.press("*")
    deadline = time.monotonic() + 5
    while not term.printed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert term.printed == b"\x1b@receipt\n"


def test_enrol_then_touch_identifies(term):
    term.press("A")
    term.wait_display("Place finger", timeout=5)
    term.place("alice-1")
    term.wait_display("Lift finger", timeout=5)
    term.lift()
    term.wait_display("Same finger again", timeout=5)
    term.place("alice-1")
    assert term.wait_display("enrol", timeout=5) == ["enrol ok slot 0"]
    # the finger is still down when enrolment ends: the stand-in firmware identifies it
    assert term.wait_display("match", timeout=5) == [f"match 0 {default_confidence('alice-1')}"]
    term.lift()
    time.sleep(0.2)
    term.place("alice-1", confidence=90)
    assert term.wait_display("match", timeout=5) == ["match 0 90"]
    term.lift()
    time.sleep(0.2)
    term.place("bob-1")
    assert term.wait_display("no match", timeout=5) == ["no match no_match"]


def test_sensor_faults_show_an_error_then_recover(term):
    term.sim.corrupt(1)
    term.place("alice-1")
    assert term.wait_display("SENSOR ERROR", timeout=5) == ["SENSOR ERROR", "sensor: garbled reply"]
    term.lift()
    time.sleep(0.2)
    term.place("alice-1")
    assert term.wait_display("no match", timeout=5)


def test_missing_sensor_is_a_clear_state_at_boot(tmp_path):
    t = Terminal(tmp_path, {"v": 1}, **FIRMWARE)
    t.sim.silent(True)
    with t:
        lines = t.wait_display("SENSOR ERROR", timeout=15)
        assert lines == ["SENSOR ERROR", "sensor: no reply from"]  # 21 characters a line


def test_reset_exits_3_and_restart_keeps_templates(term):
    term.sim.place("carol-1")
    for buf in (1, 2):  # enrol directly on the sensor: its flash outlives the terminal
        term.sim.model.handle(bytes((0x01,)))
        term.sim.model.handle(bytes((0x02, buf)))
    term.sim.model.handle(bytes((0x05,)))
    term.sim.model.handle(bytes((0x06, 1, 0, 5)))
    term.sim.lift()
    term.press("#")
    assert term.wait_exit(timeout=10) == 3
    term.restart()
    term.wait_display("ready", timeout=15)
    term.place("carol-1", confidence=77)
    assert term.wait_display("match", timeout=5) == ["match 5 77"]


def test_kill_is_power_loss(term):
    term.kill()
    assert term.proc.returncode == -9


def test_starved_watchdog_kills_the_process(term):
    term.press("D")
    assert term.wait_exit(timeout=10) == -9
    # "starved" is sent just before the kill; the harness's reader may take it a moment later
    deadline = time.monotonic() + 3
    while (not term.watchdog or term.watchdog[-1]["wdt"] != "starved") and time.monotonic() < deadline:
        time.sleep(0.05)
    kinds = [m["wdt"] for m in term.watchdog]
    assert kinds[:2] == ["start", "feed"] and kinds[-1] == "starved"
    assert term.watchdog[0]["timeout_ms"] == 500


def test_hal_without_harness_prints_and_keeps_time(tmp_path):
    out = run_micropython(REPO / "tests" / "mp" / "io_probe.py", str(tmp_path),
                          str(REPO / "firmware"), timeout=30)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "no usable" in lines[0]
    assert "now 0" in lines and any(ln.startswith("set 17000000") for ln in lines)
    assert 'hal: {"gpio": "strobe"' in out.stdout
    assert "key None touch False" in lines
    assert "wlan True -55" in lines
    assert "read None" in lines
    assert "err no output named 'laser'" in lines


@pytest.mark.parametrize("hal_json, why", [
    ('{"sensor": 5, "control": ["x"]}', 'sensor: 5 is not host:port'),
    ('{"sensor": "no-port", "control": "127.0.0.1:x"}', "sensor: 'no-port' is not host:port"),
    ('[1, 2]', "now 0"),
    ('{"sensor": "127.0.0.1:1"}', "read None"),  # nothing listens: an unplugged sensor
    ("\x00garbage", "no usable"),
])
def test_bad_hal_json_is_reported_not_fatal(tmp_path, hal_json, why):
    (tmp_path / "hal.json").write_text(hal_json)
    out = run_micropython(REPO / "tests" / "mp" / "io_probe.py", str(tmp_path),
                          str(REPO / "firmware"), timeout=30)
    assert out.returncode == 0, out.stderr
    assert why in out.stdout
    assert "err no output named 'laser'" in out.stdout  # ran to the end


def test_wlan_follows_the_harness(tmp_path):
    with Terminal(tmp_path, None, **FIRMWARE | {"main": "io_wlan.py"}) as t:
        t.wait_display("up True", timeout=10)
        t.wlan(False)
        assert t.wait_display("down", timeout=10) == ["down -100"]
        assert t.wait_exit(timeout=10) == 0


def test_printer_on_its_own_tcp_port(tmp_path):
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        srv.settimeout(10)
        addr = f"127.0.0.1:{srv.getsockname()[1]}"
        with Terminal(tmp_path, {"v": 1}, printer=addr, **FIRMWARE) as t:
            t.wait_display("ready", timeout=15)
            t.press("*")
            conn, _ = srv.accept()
            conn.settimeout(5)
            got = b""
            while len(got) < 10:
                got += conn.recv(64)
            conn.close()
            assert got == b"\x1b@receipt\n" and t.printed == b""


def test_compiled_mpy_bundle_runs_under_the_harness(tmp_path):
    """firmware_dir may be a bundle of .mpy files (what gets flashed), not the source tree."""
    bundle = tmp_path / "bundle"
    (bundle / "hal").mkdir(parents=True)
    sources = [REPO / "firmware" / n for n in ("busio.py", "fingerprint.py", "board.py")]
    sources += sorted((REPO / "firmware" / "hal").glob("*.py"))
    sources.append(Path(adafruit_fingerprint.__file__))
    for src in sources:
        rel = src.relative_to(REPO / "firmware") if src.is_relative_to(REPO / "firmware") else Path(src.name)
        out = bundle / rel.with_suffix(".mpy")
        subprocess.run([tool("mpy-cross"), "-o", str(out), str(src)], check=True, timeout=60)
    shutil.copy(REPO / "tests" / "mp" / "io_terminal.py", bundle / "main.py")
    assert not list(bundle.rglob("*.py"))[1:]  # only main.py is source
    with Terminal(tmp_path / "run", {"v": 1}, firmware_dir=bundle) as t:
        t.wait_display("ready", timeout=15)
        t.press("9")
        assert t.wait_display("key 9", timeout=5)
