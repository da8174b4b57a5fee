"""Sensor profiles (tools/sensor_profiles.py) held against the modules' documents and field
reports, and the firmware's driver (firmware/fingerprint.py) against each profile."""

from __future__ import annotations

import importlib.util
import socket
import time

import adafruit_fingerprint as af
import pytest
from fingerpos.tools import sensor_packets as sp
from fingerpos.tools import sensor_profiles
from fingerpos.tools.sensor_sim import SensorSim

from .conftest import REPO
from .support.socket_uart import SocketUart


def _load(name: str, path: str):
    spec = importlib.util.spec_from_file_location(name, REPO / path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


fp = _load("fw_fingerprint_profiles", "firmware/fingerprint.py")


def exchange(sock: socket.socket, payload: bytes, address: bytes = sp.DEFAULT_ADDRESS,
             wait: float = 1.0) -> sp.Packet | None:
    """Send one command packet; the decoded reply, or None when none came within wait."""
    sock.sendall(sp.encode(sp.PID_COMMAND, payload, address))
    reader = sp.FrameReader()
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(256)
        except TimeoutError:
            break
        if not data:
            break
        reader.feed(data)
        frames = reader.frames()
        if frames:
            return sp.decode(frames[0])
    return None


def connect(sim: SensorSim) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", sim.port), timeout=2)
    if sim.profile.power_on_byte:
        assert sock.recv(1) == sim.profile.power_on_byte
    else:
        time.sleep(sim.profile.ready_s * sim.time_scale + 0.05)
    return sock


SEARCH_ARGS = bytes((1, 0, 0, 0, 200))


def test_r503_lacks_hispeedsearch_and_answers_it_with_the_receive_error_code():
    # adafruit/Adafruit_CircuitPython_Fingerprint#20: an R503 never finds a print with 0x1B;
    # the R503 manual lists 01H ("error when receiving package") as every instruction's error.
    with SensorSim(control_port=None, time_scale=0) as sim:
        sock = connect(sim)
        reply = exchange(sock, bytes((sp.HI_SPEED_SEARCH,)) + SEARCH_ARGS)
        assert reply is not None and reply.payload == bytes((sp.RECEIVE_ERROR,))
        reply = exchange(sock, bytes((sp.SEARCH,)) + SEARCH_ARGS)
        assert reply is not None and reply.payload[0] == sp.NOT_FOUND and len(reply.payload) == 5
        sock.close()


def test_r307_has_hispeedsearch_but_no_ring_led():
    with SensorSim(control_port=None, profile="r307", time_scale=0) as sim:
        sock = connect(sim)
        for op in (sp.HI_SPEED_SEARCH, sp.SEARCH):
            reply = exchange(sock, bytes((op,)) + SEARCH_ARGS)
            assert reply is not None and reply.payload[0] == sp.NOT_FOUND
        reply = exchange(sock, bytes((sp.AURA_LED_CONFIG, 1, 0x80, 1, 0)))
        assert reply is not None and reply.payload == bytes((sp.RECEIVE_ERROR,))
        reply = exchange(sock, bytes((sp.READ_SYS_PARA,)))
        assert reply is not None and int.from_bytes(reply.payload[5:7], "big") == 1000
        sock.close()


@pytest.mark.parametrize("profile", sorted(sensor_profiles.PROFILES))
def test_a_packet_for_another_address_gets_no_reply(profile):
    with SensorSim(control_port=None, profile=profile, time_scale=0) as sim:
        sock = connect(sim)
        assert exchange(sock, bytes((sp.TEMPLATE_NUM,)), address=b"\x12\x34\x56\x78",
                        wait=0.5) is None
        reply = exchange(sock, bytes((sp.TEMPLATE_NUM,)))  # still alive for its own address
        assert reply is not None and reply.address == sp.DEFAULT_ADDRESS
        sock.close()


def test_r503_ignores_commands_until_ready_then_sends_0x55():
    # R503 manual "Power-on delay time" (~50 ms, no commands) and HandShake 0x40 (0x55 after power-on)
    with SensorSim(control_port=None, time_scale=4) as sim:  # 200 ms: measurable
        sock = socket.create_connection(("127.0.0.1", sim.port), timeout=2)
        assert exchange(sock, bytes((sp.TEMPLATE_NUM,)), wait=0.1) is None  # still initialising
        sock.settimeout(2)
        assert sock.recv(1) == b"\x55"
        reply = exchange(sock, bytes((sp.HANDSHAKE,)))
        assert reply is not None and reply.payload == b"\x00"
        sock.sendall(sp.encode(sp.PID_COMMAND, bytes((sp.SOFT_RESET,))))
        raw = b""
        while len(raw) < 13:
            raw += sock.recv(64)
        assert raw == sp.encode(sp.PID_ACK, b"\x00") + b"\x55"  # manual: 0x55 again after a reset
        sock.close()


def test_touch_line_levels_are_the_documented_ones():
    # R503 manual "Hardware Connection": high with no finger, low while touched;
    # R307 datasheet: touch output "low effective".
    for name in ("r503", "r307"):
        profile = sensor_profiles.get(name)
        assert (profile.touch_level(False), profile.touch_level(True)) == (1, 0)
    with pytest.raises(ValueError, match="r307, r503"):
        sensor_profiles.get("r999")


def test_capture_and_search_take_the_documented_time():
    with SensorSim(control_port=None, time_scale=1) as sim:
        sock = connect(sim)
        t0 = time.monotonic()
        exchange(sock, bytes((sp.GEN_IMG,)))
        assert time.monotonic() - t0 < 0.2  # no finger: answered quickly
        sim.place("a-1")
        t0 = time.monotonic()
        assert exchange(sock, bytes((sp.GEN_IMG,))).payload == b"\x00"
        capture = time.monotonic() - t0
        assert 0.2 <= capture <= 0.6, capture  # the brief's 0.2-0.5 s
        for page in range(50):
            sim.model.library[page] = sim.model._finger
        t0 = time.monotonic()
        exchange(sock, bytes((sp.SEARCH, 1, 0, 0, 0, 200)), wait=3)
        assert time.monotonic() - t0 >= 50 * 0.010 * 0.9  # R503: < 10 ms per template
        sock.close()


def test_the_plain_driver_fails_on_an_r503_as_the_field_report_says():
    """Reproduces adafruit issue #20: finger_fast_search (0x1B) cannot find an enrolled print."""
    with SensorSim(control_port=None, time_scale=0) as sim:
        uart = SocketUart("127.0.0.1", sim.port, timeout=0.5)
        assert uart.read(1) == b"\x55"
        d = af.Adafruit_Fingerprint(uart)
        sim.place("ann-1")
        for buf in (1, 2):
            assert d.get_image() == af.OK and d.image_2_tz(buf) == af.OK
        assert d.create_model() == af.OK and d.store_model(3) == af.OK
        assert d.get_image() == af.OK and d.image_2_tz(1) == af.OK
        with pytest.raises((RuntimeError, Exception)):
            assert d.finger_fast_search() == af.OK  # 12-byte error reply where 16 were read
        uart.close()


@pytest.mark.parametrize("profile", sorted(sensor_profiles.PROFILES))
def test_firmware_sensor_enrols_and_identifies_on_each_profile(profile):
    # real timing (time_scale 1): power-on delay, 0x55 byte, capture times
    with SensorSim(control_port=None, profile=profile) as sim:
        uart = SocketUart("127.0.0.1", sim.port, timeout=1.0)
        time.sleep(sim.profile.ready_s + 0.1)  # the host waits out the power-on delay
        s = fp.Sensor(uart)
        assert s.start(), s.error  # the R503's 0x55 is still on the line: skipped
        assert s.capacity == sim.profile.capacity
        sim.place("ann-1")
        d = s.driver
        for buf in (1, 2):
            assert d.get_image() == af.OK and d.image_2_tz(buf) == af.OK
        assert d.create_model() == af.OK and d.store_model(7) == af.OK
        sim.place("ann-1", confidence=99)
        assert s.identify() == (7, 99)
        sim.place("bob-1")
        assert s.identify() is None and s.reason == "no_match"
        assert sp.HI_SPEED_SEARCH not in sim.commands
        uart.close()


def test_firmware_reply_reader_skips_a_power_on_byte_mid_session():
    with SensorSim(control_port=None, time_scale=0) as sim:
        uart = SocketUart("127.0.0.1", sim.port, timeout=0.5)
        s = fp.Sensor(uart)
        assert s.start()
        s.driver._send_packet([sp.SOFT_RESET])  # the R503 answers, then sends 0x55
        assert s.driver._get_packet(12) == [0]
        assert s.count() == 0  # the 0x55 before this reply is skipped, not read as a header
        uart.close()
