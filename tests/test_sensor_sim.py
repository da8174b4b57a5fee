"""The sensor simulator against the unmodified adafruit driver on CPython, and its control API."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import adafruit_fingerprint as af
import pytest
from fingerpos.tools import sensor_packets as sp
from fingerpos.tools.sensor_model import SensorModel, default_confidence
from fingerpos.tools.sensor_sim import SensorControl, SensorSim

from .support.socket_uart import SocketUart


@pytest.fixture
def sim():
    # The R30x command set with HiSpeedSearch and no power-on byte is the R307's
    # profile; answered at once (time_scale=0) so the protocol tests stay fast.
    with SensorSim(profile="r307", capacity=200, time_scale=0) as s:
        yield s


@pytest.fixture
def driver(sim):
    uart = SocketUart("127.0.0.1", sim.port)
    yield af.Adafruit_Fingerprint(uart)
    uart.close()


def test_packet_encode_decode_round_trip():
    frame = sp.encode(sp.PID_COMMAND, bytes((sp.GEN_IMG,)))
    assert frame == bytes.fromhex("ef01ffffffff010003010005")  # the R30x manual's GenImg example
    assert sp.decode(frame).payload == b"\x01"


@pytest.mark.parametrize("frame, why", [
    (bytes.fromhex("ef01ffffffff010003010006"), "bad checksum"),
    (bytes.fromhex("ee01ffffffff010003010005"), "bad start code"),
    (bytes.fromhex("ef01ffffffff010009010005"), "length field"),
    (bytes.fromhex("ef01ff"), "short frame"),
])
def test_decode_rejects_broken_frames(frame, why):
    with pytest.raises(sp.PacketError, match=why):
        sp.decode(frame)


def test_frame_reader_resyncs_after_noise():
    reader = sp.FrameReader()
    good = sp.encode(sp.PID_COMMAND, bytes((sp.TEMPLATE_NUM,)))
    reader.feed(b"\x00\xef\x13noise" + good[:5])
    assert reader.frames() == []
    reader.feed(good[5:] + b"\xef\x01\xff\xff\xff\xff\x01\xff\xff" + good)  # absurd length: skipped
    assert reader.frames() == [good, good]


def test_driver_reads_capacity_and_security_level(driver):
    assert driver.library_size == 200
    assert driver.security_level == 3
    assert driver.set_sysparam(5, 5) == af.OK
    assert driver.read_sysparam() == af.OK and driver.security_level == 5


def test_unmodified_driver_enrols_and_searches(sim, driver):
    assert driver.get_image() == af.NOFINGER
    sim.place("alice-1")
    assert driver.get_image() == af.OK
    assert driver.image_2_tz(1) == af.OK
    assert driver.get_image() == af.OK
    assert driver.image_2_tz(2) == af.OK
    assert driver.create_model() == af.OK
    assert driver.store_model(7) == af.OK
    assert driver.count_templates() == af.OK and driver.template_count == 1
    assert driver.read_templates() == af.OK and driver.templates == [7]
    # later, the same finger: found in slot 7 with its confidence; a stranger is not
    assert driver.get_image() == af.OK and driver.image_2_tz(1) == af.OK
    assert driver.finger_fast_search() == af.OK
    assert driver.finger_id == 7 and 60 <= driver.confidence < 200
    assert driver.finger_search() == af.OK and driver.finger_id == 7
    sim.place("mallory-1")
    assert driver.get_image() == af.OK and driver.image_2_tz(1) == af.OK
    assert driver.finger_fast_search() == af.NOTFOUND


def test_confidence_is_deterministic_and_settable(sim, driver):
    sim.place("bob-2", confidence=42)
    for buf in (1, 2):
        assert driver.get_image() == af.OK and driver.image_2_tz(buf) == af.OK
    assert driver.create_model() == af.OK and driver.store_model(0) == af.OK
    assert driver.finger_fast_search() == af.OK and driver.confidence == 42
    sim.place("bob-2")  # no score given: the finger's own stable score
    assert driver.get_image() == af.OK and driver.image_2_tz(1) == af.OK
    assert driver.finger_fast_search() == af.OK
    assert driver.confidence == default_confidence("bob-2") != 42


def test_two_different_fingers_do_not_make_a_model(sim, driver):
    sim.place("alice-1")
    assert driver.get_image() == af.OK and driver.image_2_tz(1) == af.OK
    sim.place("alice-2")
    assert driver.get_image() == af.OK and driver.image_2_tz(2) == af.OK
    assert driver.create_model() == af.ENROLLMISMATCH


def test_store_outside_capacity_and_delete_and_empty(sim, driver):
    sim.place("carol-1")
    assert driver.get_image() == af.OK and driver.image_2_tz(1) == af.OK
    assert driver.store_model(200) == af.BADLOCATION
    assert driver.store_model(3) == af.OK and driver.store_model(4) == af.OK
    assert driver.delete_model(3) == af.OK
    assert sim.state()["library"] == {"4": "carol-1"}
    assert driver.empty_library() == af.OK
    assert driver.count_templates() == af.OK and driver.template_count == 0


def test_bad_image_and_no_image(sim, driver):
    assert driver.image_2_tz(1) == af.INVALIDIMAGE  # no image taken yet
    sim.place("dave-1", bad_image=True)
    assert driver.get_image() == af.OK
    assert driver.image_2_tz(1) == af.FEATUREFAIL


def r503_driver(sim: SensorSim) -> tuple[af.Adafruit_Fingerprint, SocketUart]:
    """The plain driver on an R503, started the way its manual says: after the 0x55 byte."""
    uart = SocketUart("127.0.0.1", sim.port)
    assert uart.read(1) == bytes((sp.MODULE_OK,))
    return af.Adafruit_Fingerprint(uart), uart


def test_led_and_echo():
    with SensorSim(control_port=None, time_scale=0) as sim:  # the ring LED is the R503's
        driver, uart = r503_driver(sim)
        assert driver.set_led(color=2, mode=1, speed=0x40, cycles=3) == af.OK
        assert sim.state()["led"] == (1, 0x40, 2, 3)
        assert driver.check_module() is True
        uart.close()


def test_wrong_password_is_refused(sim):
    uart = SocketUart("127.0.0.1", sim.port)
    with pytest.raises(RuntimeError, match="Failed to find sensor"):
        af.Adafruit_Fingerprint(uart, passwd=(1, 2, 3, 4))
    uart.close()


def test_command_with_bad_checksum_gets_receive_error(sim):
    with socket.create_connection(("127.0.0.1", sim.port), timeout=2) as s:
        frame = bytearray(sp.encode(sp.PID_COMMAND, bytes((sp.TEMPLATE_NUM,))))
        frame[-1] ^= 1
        s.sendall(frame)
        reply = sp.decode(s.recv(64))
    assert reply.pid == sp.PID_ACK and reply.payload == bytes((sp.RECEIVE_ERROR,))


def test_model_answers_short_and_unknown_commands():
    m = SensorModel()
    assert m.handle(bytes((sp.STORE, 1)))[0] == bytes((sp.RECEIVE_ERROR,))
    assert m.handle(bytes((sp.SEARCH,)))[0] == bytes((sp.RECEIVE_ERROR, 0, 0, 0, 0))
    assert m.handle(b"\x99")[0] == bytes((sp.RECEIVE_ERROR,))
    assert m.handle(b"")[0] == bytes((sp.RECEIVE_ERROR,))


def test_control_port_round_trip(sim):
    ctl = SensorControl("127.0.0.1", sim.control_port)
    try:
        assert ctl.call("place", finger="erin-1") == {"ok": True}
        assert ctl.call("state")["state"]["finger"] == "erin-1"
        assert ctl.call("lift") == {"ok": True}
        assert ctl.call("corrupt", n=2) == {"ok": True}
        assert ctl.call("silent", on=False) == {"ok": True}
        bad = ctl.call("frobnicate")
        assert bad["ok"] is False and "unknown cmd" in bad["error"]
        assert ctl.call("place")["ok"] is False  # no finger named
        ctl._sock.sendall(b"{not json\n[1,2]\n")
        for _ in range(2):
            assert json.loads(ctl._file.readline())["ok"] is False
        assert ctl.call("state")["state"]["finger"] is None  # still serving after bad input
    finally:
        ctl.close()


class _Port:
    def __init__(self, port: int) -> None:
        self.port = port


def test_module_cli_help_and_run():
    out = subprocess.run([sys.executable, "-m", "fingerpos.tools.sensor_sim", "--help"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "--control-port" in out.stdout
    proc = subprocess.Popen([sys.executable, "-m", "fingerpos.tools.sensor_sim"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("sensor on 127.0.0.1:")
        ports = [int(p.split(":")[1].rstrip(",")) for p in line.split() if p.startswith("127.")]
        ctl = SensorControl("127.0.0.1", ports[1])
        assert ctl.call("place", finger="x") == {"ok": True}
        ctl.close()
        driver, uart = r503_driver(_Port(ports[0]))
        assert driver.get_image() == af.OK
        uart.close()
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_module_cli_rejects_busy_port(sim):
    out = subprocess.run([sys.executable, "-m", "fingerpos.tools.sensor_sim",
                          "--port", str(sim.port)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "cannot listen" in out.stderr
