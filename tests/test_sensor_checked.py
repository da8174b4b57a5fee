"""firmware/fingerprint.py on CPython: checksum checking, fail-closed errors, enrol/identify."""

from __future__ import annotations

import asyncio
import importlib.util
import threading
import time

import adafruit_fingerprint as af
import pytest
from fingerpos.tools.sensor_sim import SensorSim

from .conftest import REPO
from .support.socket_uart import SocketUart


def _load_firmware_module():
    # by path, so firmware/ never goes on sys.path (its busio/board would shadow blinka's)
    spec = importlib.util.spec_from_file_location("fw_fingerprint", REPO / "firmware" / "fingerprint.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


fp = _load_firmware_module()


@pytest.fixture
def sim():
    # the R503 as shipped (no HiSpeedSearch, a 0x55 byte at power-on), answering at once
    with SensorSim(control_port=None, time_scale=0) as s:
        yield s


@pytest.fixture
def sensor(sim):
    uart = SocketUart("127.0.0.1", sim.port, timeout=0.5)
    s = fp.Sensor(uart)
    assert s.start(), s.error
    yield s
    uart.close()


def enrol_directly(sim, sensor, finger, slot):
    sim.place(finger)
    d = sensor.driver
    for buf in (1, 2):
        assert d.get_image() == af.OK and d.image_2_tz(buf) == af.OK
    assert d.create_model() == af.OK and d.store_model(slot) == af.OK
    sim.lift()


def test_start_reads_security_level_and_capacity(sensor):
    assert sensor.ok and sensor.error is None
    assert sensor.security_level == 3 and sensor.capacity == 200


def test_unchecked_driver_swallows_a_corrupt_reply_the_checked_one_refuses(sim):
    uart = SocketUart("127.0.0.1", sim.port, timeout=0.5)
    assert uart.read(1) == b"\x55"  # the R503's power-on byte: the plain driver needs it gone
    plain = af.Adafruit_Fingerprint(uart)
    sim.corrupt(1)
    assert plain.count_templates() == af.OK  # the bug being fixed: bad checksum accepted
    checked = fp.CheckedFingerprint(uart)
    sim.corrupt(1)
    with pytest.raises(fp.SensorError, match="bad checksum"):
        checked.count_templates()
    assert checked.count_templates() == af.OK  # the line is clean again
    uart.close()


def test_identify_finds_enrolled_finger_and_reports_reasons(sim, sensor):
    enrol_directly(sim, sensor, "alice-1", 4)
    assert sensor.identify() is None and sensor.reason == "no_finger"
    sim.place("alice-1", confidence=120)
    assert sensor.identify() == (4, 120)
    assert sensor.identify(threshold=121) is None and sensor.reason == "low_confidence"
    sim.place("bob-1")
    assert sensor.identify() is None and sensor.reason == "no_match"
    sim.place("alice-1", bad_image=True)
    assert sensor.identify() is None and sensor.reason == "bad_image"


def test_checksum_errors_fail_closed_then_recover(sim, sensor):
    enrol_directly(sim, sensor, "alice-1", 0)
    sim.place("alice-1")
    sim.corrupt(1)
    with pytest.raises(fp.SensorError, match="bad checksum"):
        sensor.identify()
    assert not sensor.ok and "bad checksum" in sensor.error
    found = sensor.identify()  # re-handshakes, then trusts the sensor again
    assert found is not None and found[0] == 0 and sensor.ok


def test_garbage_is_an_error_not_a_match(sim, sensor):
    sim.place("alice-1")
    sim.garbage(1)
    with pytest.raises(fp.SensorError, match="garbled"):
        sensor.identify()


@pytest.mark.parametrize("fault", ["silent", "disconnect"])
def test_silent_or_gone_sensor_errors_within_bounded_time(sim, sensor, fault):
    sim.place("alice-1")
    getattr(sim, fault)()
    t0 = time.monotonic()
    with pytest.raises(fp.SensorError):
        sensor.identify()
    with pytest.raises(fp.SensorError):  # still failing closed, still bounded
        sensor.identify()
    assert time.monotonic() - t0 < 3
    assert not sensor.ok and sensor.error.startswith("sensor:")


def test_start_on_a_dead_sensor_reports_why(sim):
    sim.silent(True)
    uart = SocketUart("127.0.0.1", sim.port, timeout=0.3)
    s = fp.Sensor(uart)
    assert s.start() is False and s.error == "sensor: no reply from sensor"
    with pytest.raises(fp.SensorError):
        s.identify()
    uart.close()


def _fingers(sim, steps):
    def run():
        for delay, finger in steps:
            time.sleep(delay)
            sim.place(finger) if finger else sim.lift()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_enrol_two_scans_store_in_first_free_slot(sim, sensor):
    enrol_directly(sim, sensor, "zed-1", 0)
    prompts: list[str] = []
    t = _fingers(sim, [(0.2, "bob-1"), (0.2, None), (0.2, "bob-1")])
    code, slot = asyncio.run(sensor.enrol(prompt=prompts.append, timeout_ms=3000, poll_ms=20))
    t.join()
    assert (code, slot) == (af.OK, 1)
    assert prompts == ["Place finger", "Lift finger", "Same finger again"]
    assert sim.state()["library"] == {"0": "zed-1", "1": "bob-1"}
    assert sensor.count() == 2


def test_enrol_refuses_two_different_fingers(sim, sensor):
    t = _fingers(sim, [(0.1, "bob-1"), (0.2, None), (0.2, "bob-2")])
    code, _ = asyncio.run(sensor.enrol(slot=9, timeout_ms=3000, poll_ms=20))
    t.join()
    assert code == af.ENROLLMISMATCH and fp.describe(code) == "fingers differ"
    assert sim.state()["library"] == {}


def test_enrol_times_out_without_a_finger(sensor):
    t0 = time.monotonic()
    assert asyncio.run(sensor.enrol(slot=0, timeout_ms=300, poll_ms=50)) == (fp.TIMEOUT, 0)
    assert time.monotonic() - t0 < 2


def test_enrol_on_a_full_sensor():
    with SensorSim(control_port=None, capacity=1, time_scale=0) as sim:
        uart = SocketUart("127.0.0.1", sim.port, timeout=0.5)
        s = fp.Sensor(uart)
        assert s.start()
        enrol_directly(sim, s, "a-1", 0)
        assert asyncio.run(s.enrol()) == (fp.FULL, None)
        assert s.delete(0) == af.OK and s.free_slot() == 0
        assert s.empty() == af.OK and s.led(color=1, mode=2) == af.OK
        uart.close()
