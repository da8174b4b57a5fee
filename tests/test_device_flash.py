"""`fingerpos device flash|selftest` through the real mpremote, without a board.

The "board" is the MicroPython unix port's REPL (`micropython -i`) on a
pseudo-terminal; a second pseudo-terminal, joined to the first by a relay
thread like a null-modem cable, is the serial port mpremote opens. The unix
port speaks the same raw REPL protocol as a Pico W, so mpremote's connect,
exec and cp run exactly as they would over USB. Its filesystem is a temporary
directory, given to flash/selftest as the board root (on a Pico W it is "/").
"""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import threading
import tty
from pathlib import Path

import pytest
from fingerpos.tools.cli import main
from fingerpos.tools.device import board as board_mod
from fingerpos.tools.device import bundle as bundle_mod
from fingerpos.tools.device import flash as flash_mod
from fingerpos.tools.device.board import Mpremote

from .conftest import REPO, run_micropython, tool


class PtyBoard:
    """A REPL process behind a pty pair; `port` is the device path mpremote opens."""

    def __init__(self, argv: list[str], root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._board_m, self._board_s = pty.openpty()
        self._port_m, self._port_s = pty.openpty()
        for fd in (self._board_s, self._port_s):
            tty.setraw(fd)  # no echo, no \n -> \r\n: bytes pass as on a USB CDC port
        # A link, not /dev/pts/N itself: mpremote then treats it as it treats a USB
        # serial port (polling with timeouts) instead of its blocking pty mode.
        self.port = str(root.parent / f"tty-{root.name}")
        os.symlink(os.ttyname(self._port_s), self.port)
        self.proc = subprocess.Popen(argv, stdin=self._board_s, stdout=self._board_s,
                                     stderr=self._board_s, cwd=root, start_new_session=True)
        self._stop = threading.Event()
        self._relay = threading.Thread(target=self._pump, daemon=True)
        self._relay.start()

    def _pump(self) -> None:
        pair = {self._board_m: self._port_m, self._port_m: self._board_m}
        while not self._stop.is_set():
            ready, _, _ = select.select(list(pair), [], [], 0.1)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:  # the REPL process ended
                    return
                os.write(pair[fd], data)

    def close(self) -> None:
        self._stop.set()
        self._relay.join(5)
        self.proc.kill()
        self.proc.wait(5)
        for fd in (self._board_m, self._board_s, self._port_m, self._port_s):
            os.close(fd)


@pytest.fixture
def board(tmp_path):
    b = PtyBoard([tool("micropython"), "-X", "heapsize=128k", "-i"], tmp_path / "board")
    yield b
    b.close()


@pytest.fixture
def bundle(tmp_path) -> Path:
    src = tmp_path / "src"
    for rel, text in {
        "firmware/main.py": "import app.core\napp.core.run()\n",
        "firmware/app/__init__.py": "",
        "firmware/app/core.py": "def run():\n    print('core ran')\n",
        "firmware/hal/__init__.py": "X = 1\n",
    }.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    shutil.copytree(REPO / "protocol", src / "protocol")
    config = tmp_path / "t1" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"v": 1, "id": "t1", "shop": "s", "key": "cd" * 32,
                                  "wifi": {"ssid": "", "password": ""},
                                  "broker": {"host": "127.0.0.1", "port": 1883, "tls": False}}))
    out = tmp_path / "bundle"
    bundle_mod.build(src, config, out)
    return out


def test_flash_copies_verifies_and_resets(board, bundle):
    (board.root / "app").mkdir()
    (board.root / "app" / "core.py").write_text("def run():\n    print('stale')\n")
    (board.root / "outbox.bin").write_bytes(b"events not yet acknowledged")
    lines: list[str] = []
    mp = Mpremote(board.port, timeout=20)
    result = flash_mod.flash(mp, bundle, root=str(board.root), say=lines.append)

    files = bundle_mod.load_manifest(bundle)
    for f in files:
        assert (board.root / f.path).read_bytes() == (bundle / f.path).read_bytes(), f.path
    assert not (board.root / "manifest.json").exists()
    # The stale source that would shadow app/core.mpy is gone; the terminal's data is kept.
    assert result.removed == ["app/core.py"] and not (board.root / "app/core.py").exists()
    assert (board.root / "outbox.bin").read_bytes() == b"events not yet acknowledged"
    progress = [line for line in lines if line.startswith("[")]
    total = sum(f.size for f in files)
    assert len(progress) == len(files)
    assert progress[0].startswith(f"[1/{len(files)}] ")
    assert progress[-1].endswith(f"{total}/{total} B")
    assert f"verified {len(files)} files on the board (SHA-256)" in lines
    # One probe, one prepare, one cp per file, one hash check, one reset; all with `resume`.
    assert len(mp.calls) == len(files) + 4
    assert all(c[3:6] == ["connect", board.port, "resume"] for c in mp.calls)
    assert mp.calls[-1][-1] == "reset"
    # What landed on the "board" runs: main.py imports the compiled app/core.mpy.
    proc = run_micropython(board.root / "main.py", cwd=board.root, timeout=30)
    assert proc.stdout.strip() == "core ran", proc.stderr


def test_a_running_app_is_stopped_before_copying(board, bundle):
    """An old main.py is disarmed (renamed, board reset) so its watchdog cannot interrupt."""
    (board.root / "main.py").write_text("print('old app')\n")
    lines: list[str] = []
    mp = Mpremote(board.port, timeout=20)
    flash_mod.flash(mp, bundle, root=str(board.root), say=lines.append)
    assert "stopped the app (main.py -> main.py.off) and reset the board" in lines
    assert [c[6:] for c in mp.calls[1:4]][1] == ["reset"]
    assert (board.root / "main.py").read_bytes() == (bundle / "main.py").read_bytes()
    assert not (board.root / "main.py.off").exists()


def test_flash_cli_shows_progress(board, bundle, capsys):
    rc = main(["device", "flash", "--port", board.port, "--bundle", str(bundle),
               "--root", str(board.root)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "board at " + board.port + ": linux" in out and "MicroPython 1." in out
    assert "[1/" in out and "flashed " in out


def test_a_corrupted_copy_is_caught_by_the_hash_check(board, bundle, tmp_path):
    class FlakyCable(Mpremote):
        """Copies a wrong file for one path, as a bad transfer would leave it."""

        def cp(self, local: str, remote: str, timeout: float | None = None) -> None:
            if remote.endswith("app/core.mpy"):
                bad = tmp_path / "bad.mpy"
                bad.write_bytes(Path(local).read_bytes()[:-1] + b"\x00")
                local = str(bad)
            super().cp(local, remote, timeout)

    with pytest.raises(flash_mod.FlashError, match="1 file\\(s\\) differ on the board after "
                       "copying: app/core.mpy"):
        flash_mod.flash(FlakyCable(board.port, timeout=20), bundle, root=str(board.root),
                        say=lambda _: None)


def test_no_board_at_the_port(bundle, capsys):
    rc = main(["device", "flash", "--port", "/dev/ttyFPNOSUCH0", "--bundle", str(bundle)])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.startswith("error: no board found at /dev/ttyFPNOSUCH0: check the USB cable")
    assert "Traceback" not in err


def test_a_device_that_is_not_micropython(tmp_path, bundle, capsys):
    """A CPython REPL answers on the port, but never with MicroPython's raw REPL."""
    other = PtyBoard([sys.executable, "-q", "-i"], tmp_path / "other")
    try:
        rc = main(["device", "flash", "--port", other.port, "--bundle", str(bundle)])
    finally:
        other.close()
    err = capsys.readouterr().err
    assert rc == 1
    assert f"the device at {other.port} is not running MicroPython" in err
    assert list((tmp_path / "other").iterdir()) == []


@pytest.mark.parametrize("version, ok", [([1, 29, 0], True), ([1, 22, 0], True),
                                         ([1, 21, 0], False), ([0, 9, 9], False), (None, False)])
def test_old_micropython_is_refused(version, ok):
    info = {"impl": "micropython", "version": version}
    if ok:
        board_mod.check_version("/dev/ttyACM0", info)
    else:
        with pytest.raises(board_mod.OldMicroPython, match="needs 1.22 or newer"):
            board_mod.check_version("/dev/ttyACM0", info)


def test_flash_without_a_bundle_says_how_to_make_one(tmp_path, capsys):
    rc = main(["device", "flash", "--port", "/dev/null", "--bundle", str(tmp_path / "none")])
    assert rc == 1
    assert "build the bundle first (fingerpos device bundle)" in capsys.readouterr().err
    rc = main(["device", "flash", "--port", "/dev/null", "--id", "t1",
               "--devices", str(tmp_path)])
    assert rc == 1
    assert f"{tmp_path}/t1/bundle/manifest.json not found" in capsys.readouterr().err
    assert main(["device", "flash", "--port", "/dev/null", "--id", "t/1"]) == 1
    assert "device id 't/1' must be" in capsys.readouterr().err


def test_silent_port_times_out_with_a_clear_message(tmp_path):
    """A device that never answers: the call is bounded and the message says what to do."""
    silent = PtyBoard([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "s")
    try:
        with pytest.raises(board_mod.NotMicroPython, match="no answer from .* within 2s"):
            Mpremote(silent.port, timeout=2).exec_json("print(1)")
    finally:
        silent.close()


# On-board stand-ins for the flashed firmware's hal and fingerprint modules, written
# in MicroPython: they let the selftest snippet run end to end on the unix port.
FAKE_HAL = """
DATA_DIR = '.'
def out(name, v):
    with open('gpio.log', 'a') as f:
        f.write('%s %d\\n' % (name, v))
class Wlan:
    def connect(self, ssid, pw):
        self.ssid = ssid
    def isconnected(self):
        return True
    def rssi(self):
        return -58
"""
FAKE_FINGERPRINT = """
class S:
    ok = True
    capacity = 200
    security_level = 3
    error = None
def open_sensor():
    return S()
"""


def test_selftest_reports_every_check(board, capsys):
    (board.root / "hal.py").write_text(FAKE_HAL)
    (board.root / "fingerprint.py").write_text(FAKE_FINGERPRINT)
    (board.root / "config.json").write_text(json.dumps({"wifi": {"ssid": "shopnet",
                                                                 "password": "12345678"}}))
    rc = main(["device", "selftest", "--port", board.port, "--root", str(board.root)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "PASS  sensor    handshake ok (VfyPwd, ReadSysPara): 200 slots, security level 3" in out
    assert "PASS  wifi      connected to shopnet, RSSI -58 dBm" in out
    assert "5 of 5 checks passed" in out
    assert (board.root / "gpio.log").read_text() == "buzzer 1\nbuzzer 0\nstrobe 1\nstrobe 0\n"


SLOW_WIFI_HAL = FAKE_HAL.replace("return True", "return False") + """
import time
class Watchdog:
    # the app's running WDT: every feed is logged with its time
    def __init__(self, timeout_ms):
        self.feed()
    def feed(self):
        with open('wdt.log', 'a') as f:
            f.write('%d\\n' % time.ticks_ms())
"""


def test_selftest_feeds_the_watchdog_while_wifi_joins(board, capsys, monkeypatch):
    """A Wi-Fi that never joins: the selftest reports it, and never leaves the app's
    watchdog unfed longer than the RP2040 allows (8388 ms, its largest timeout)."""
    from fingerpos.tools.device import selftest

    monkeypatch.setattr(selftest, "WIFI_WAIT_MS", 9000)
    (board.root / "hal.py").write_text(SLOW_WIFI_HAL)
    (board.root / "fingerprint.py").write_text(FAKE_FINGERPRINT)
    (board.root / "config.json").write_text(json.dumps({"wifi": {"ssid": "shopnet"}}))
    rc = main(["device", "selftest", "--port", board.port, "--root", str(board.root)])
    out = capsys.readouterr().out
    assert rc == 1 and "FAIL  wifi      not connected to shopnet after 9 s" in out, out
    feeds = [int(x) for x in (board.root / "wdt.log").read_text().split()]
    gaps = [b - a for a, b in zip(feeds, feeds[1:], strict=False)]
    assert feeds and max(gaps, default=0) < 8388 - 1000, gaps


def test_selftest_on_a_board_without_firmware(board, capsys):
    rc = main(["device", "selftest", "--port", board.port, "--root", str(board.root)])
    out = capsys.readouterr().out
    assert rc == 1
    assert "FAIL  firmware  the firmware is not flashed (ImportError" in out
    assert "0 of 1 checks passed" in out


@pytest.fixture
def repo_bundle(tmp_path) -> Path:
    """A bundle of the repo's own firmware (hal, fingerprint driver glue, busio shim)."""
    src = tmp_path / "repo-src"
    shutil.copytree(REPO / "firmware", src / "firmware", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "protocol", src / "protocol")
    if not (src / "firmware" / "main.py").exists():  # until the app's main.py lands
        (src / "firmware" / "main.py").write_text("print('main')\n")
    config = tmp_path / "dev" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"v": 1, "id": "t1", "shop": "s", "key": "cd" * 32,
                                  "wifi": {"ssid": "shopnet", "password": "12345678"},
                                  "broker": {"host": "127.0.0.1", "port": 1883, "tls": False}}))
    out = tmp_path / "repo-bundle"
    bundle_mod.build(src, config, out, target="unix")  # the "board" here is the unix port
    return out


def test_selftest_with_the_flashed_firmware_and_the_sensor_simulator(board, repo_bundle, capsys):
    """bundle -> flash -> selftest: the real driver handshakes with the R30x simulator,
    the unix HAL reports the buzzer/strobe pulses on its control channel."""
    from fingerpos.tools.sensor_sim import SensorSim

    from .support.terminal import ControlServer

    flash_mod.flash(Mpremote(board.port, timeout=30), repo_bundle, root=str(board.root),
                    say=lambda _: None)
    control = ControlServer()
    with SensorSim(control_port=None, capacity=150) as sim:
        # The unix HAL reads hal.json from its data dir: the board's root here.
        (board.root / "hal.json").write_text(json.dumps(
            {"sensor": f"127.0.0.1:{sim.port}", "control": f"127.0.0.1:{control.port}"}))
        try:
            rc = main(["device", "selftest", "--port", board.port, "--root", str(board.root)])
            out = capsys.readouterr().out
            assert rc == 0, out
            assert "PASS  sensor    handshake ok (VfyPwd, ReadSysPara): 150 slots" in out
            assert "PASS  wifi      connected to shopnet" in out
            gpio = [(m["gpio"], m["v"]) for _, m in control.events if "gpio" in m]
            assert gpio == [("buzzer", 1), ("buzzer", 0), ("strobe", 1), ("strobe", 0)]
            assert list(sim.commands)[:2] == [0x13, 0x0F]  # VfyPwd, then ReadSysPara
            # A sensor that stops answering is reported, the other checks still run.
            sim.silent(True)
            rc = main(["device", "selftest", "--port", board.port, "--root", str(board.root)])
            out = capsys.readouterr().out
            assert rc == 1
            assert "FAIL  sensor" in out and "PASS  buzzer" in out and "4 of 5 checks" in out
        finally:
            control.stop()
