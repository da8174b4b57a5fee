"""The unmodified adafruit driver and the checked subclass on the MicroPython unix port."""

from __future__ import annotations

import json

from fingerpos.tools.sensor_sim import SensorSim

from .conftest import REPO
from .support.terminal import Terminal


def test_driver_under_micropython_through_busio_and_unix_hal(tmp_path):
    # the plain driver uses HiSpeedSearch 0x1B, which the R307 has (the R503 does not)
    with SensorSim(profile="r307", capacity=200, time_scale=0) as sim:
        t = Terminal(tmp_path, {"sim_control": sim.control_port}, sensor=sim,
                     firmware_dir=REPO / "tests" / "mp", main="io_driver.py",
                     path=(REPO / "firmware",))
        with t:
            rc = t.wait_exit(timeout=60)
            out = t.output()
        assert rc == 0 and "DONE" in out, out
        results = {}
        for line in out.splitlines():
            if line.startswith("R "):
                _, name, value = line.split(" ", 2)
                results[name] = json.loads(value)
        assert results["capacity"] == 200 and results["security"] == 3
        assert results["nofinger"] == 2
        assert results["enrol"] == [0] * 6
        assert results["search"][:2] == [0, 11] and results["search"][2] >= 60
        assert results["count"] == 1
        assert "bad checksum" in results["corrupt"] and results["after"] == 0
        assert results["start"] is True
        assert "garbled" in results["garbage"][0]
        for fault in ("silent", "disconnect"):
            msg, ms = results[fault]
            assert msg.startswith("sensor:") and ms < 3000, (fault, msg, ms)
        assert results["recovered"][0] == 11  # reconnected and re-handshaked
        assert sim.state()["library"] == {"11": "alice-1"}
