"""Firmware pure parts (command gate, roster/PIN, login guard) under the MicroPython unix port."""

from __future__ import annotations

from .conftest import REPO, run_micropython
from .support.firmware import mpy_bundle


def test_command_gate_and_login_rules_under_micropython(tmp_path):
    # heap: these check rules, not RAM (the scenario and test_firmware_catalog measure that);
    # fw_units.py holds every check's code and compiles mqtt.py from source on top.
    out = run_micropython(REPO / "tests" / "mp" / "fw_units.py", str(REPO), str(tmp_path),
                          heap="192k")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    failed = [ln for ln in lines if ln.startswith("FAIL")]
    assert not failed, "\n".join(failed)
    passed, _ = lines[-1].split(" passed, ")
    assert int(passed) >= 30 and lines[-1].endswith(" 0 failed"), lines[-1]


def test_the_firmwares_interned_names_stay_in_five_pools():
    """RAM: MicroPython interns every name and short string of a loaded .mpy for good,
    in pools that double (20, 40, ... 320 entries: 620 names). The 621st name
    allocates a sixth pool of 640 entries, 7 KB of the 128 KB heap on the unix port
    (4.5 KB on a Pico W). A unix-port run interns about 15 more than this import of
    every module does (sys.path entries, asyncio's lazily loaded parts), so the
    firmware must stay at 600 here; it was 698 before the names were cut."""
    bundle = mpy_bundle()
    out = run_micropython(REPO / "tests" / "mp" / "fw_names.py", heap="512k", cwd=bundle)
    assert out.returncode == 0, out.stderr + out.stdout
    info = dict(kv.split("=") for kv in out.stdout.split("qstr pool:")[1].replace(",", " ").split())
    assert int(info["n_pool"]) <= 5 and int(info["n_qstr"]) <= 600, out.stdout
