"""Talk to a MicroPython board through the `mpremote` command line.

Why the command line and not mpremote's Python classes: mpremote documents
its SerialTransport as "the API is going to change significantly", while its
command line (`mpremote connect PORT resume exec ...`) is the interface its
docs promise. Each call here is one `python -m mpremote` process, bounded by
a timeout, so a silent port can never hang the technician's terminal.

Every call starts with `resume`: mpremote then interrupts whatever runs
(Ctrl-C) and enters the raw REPL without a soft reset. The app's main.py is
stopped by the Ctrl-C; nothing needs a reboot until flashing is done.

Snippets run on the board print one line `FPJSON:<json>`; `exec_json` parses
it, so board output (warnings, prints from boot.py) never confuses the tool.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence

MARKER = "FPJSON:"
DEFAULT_TIMEOUT_S = 30.0
REBOOT_WAIT_S = 20.0
MIN_MICROPYTHON = (1, 22)


class BoardError(Exception):
    """Talking to the board failed; the message says what the technician can do."""


class NoBoard(BoardError):
    pass


class NotMicroPython(BoardError):
    pass


class OldMicroPython(BoardError):
    pass


class Mpremote:
    """One serial port, driven through `python -m mpremote connect PORT resume ...`."""

    def __init__(self, port: str, timeout: float = DEFAULT_TIMEOUT_S,
                 command: Sequence[str] | None = None) -> None:
        if not port:
            raise NoBoard("no --port given (`mpremote connect list` shows the serial ports)")
        self.port = port
        self.timeout = timeout
        # The mpremote installed next to this Python, not whatever is first on PATH.
        self.command = list(command or [sys.executable, "-m", "mpremote"])
        self.calls: list[list[str]] = []  # every argv run, for the technician's log and tests

    def run(self, *args: str, timeout: float | None = None) -> str:
        argv = [*self.command, "connect", self.port, "resume", *args]
        self.calls.append(argv)
        limit = timeout or self.timeout
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=limit,
                                  stdin=subprocess.DEVNULL, errors="replace")
        except subprocess.TimeoutExpired:
            raise NotMicroPython(
                f"no answer from {self.port} within {limit:.0f}s: the device there does not "
                "answer like a MicroPython REPL (unplug and replug the board; if it still "
                "fails, install MicroPython on it)") from None
        if proc.returncode != 0:
            raise classify(self.port, proc.stdout + proc.stderr)
        return proc.stdout

    def exec_json(self, code: str, timeout: float | None = None) -> object:
        out = self.run("exec", code, timeout=timeout)
        for line in reversed(out.splitlines()):
            if line.startswith(MARKER):
                try:
                    return json.loads(line[len(MARKER):])
                except ValueError:
                    break
        raise BoardError(f"the board at {self.port} ran the check but gave no result:\n"
                         + _tail(out))

    def cp(self, local: str, remote: str, timeout: float | None = None) -> None:
        self.run("cp", local, ":" + remote, timeout=timeout)

    def reset(self) -> None:
        self.run("reset")


def classify(port: str, output: str) -> BoardError:
    """Turn mpremote's failure text into a message a technician can act on."""
    if "failed to access" in output or "could not open port" in output:
        return NoBoard(f"no board found at {port}: check the USB cable and the port name "
                       "(`mpremote connect list` shows the serial ports; close other "
                       "programs using it)")
    if "could not enter raw repl" in output:
        return NotMicroPython(
            f"the device at {port} is not running MicroPython (no raw REPL): hold BOOTSEL "
            "while plugging the Pico W in and copy the MicroPython .uf2 onto it")
    if "Traceback" in output:
        return BoardError(f"the board at {port} raised an error:\n" + _tail(output))
    return BoardError(f"mpremote failed on {port}: " + _tail(output))


def _tail(text: str, lines: int = 8) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


PROBE = """
import sys, os, json
try:
    st = os.statvfs(ROOT)
    free = st[0] * st[4]
except (OSError, AttributeError):
    free = -1
try:
    os.stat(ROOT + 'main.py')
    app = True
except OSError:
    app = False
print('FPJSON:' + json.dumps({'impl': sys.implementation.name, 'platform': sys.platform,
    'machine': getattr(sys.implementation, '_machine', ''),
    'version': list(sys.implementation.version[:3]), 'free': free, 'app': app}))
"""


def probe(board: Mpremote, root: str, timeout: float | None = None) -> dict:
    """What runs on the board; NotMicroPython unless it is MicroPython new enough for mpy v6."""
    info = board.exec_json(f"ROOT = {root!r}\n" + PROBE, timeout=timeout)
    if not isinstance(info, dict) or info.get("impl") != "micropython":
        raise NotMicroPython(f"the device at {board.port} runs {info!r}, not MicroPython")
    check_version(board.port, info)
    return info


def version_text(info: dict) -> str:
    version = info.get("version")
    return ".".join(str(n) for n in version) if isinstance(version, list) else ""


def check_version(port: str, info: dict) -> None:
    """Bundles hold mpy v6.x bytecode (mpy-cross 1.22+); older MicroPython cannot load it."""
    version = info.get("version")
    if not isinstance(version, list) or tuple(version[:2]) < MIN_MICROPYTHON:
        raise OldMicroPython(
            f"the board at {port} runs MicroPython {version_text(info) or '?'}; fingerpos needs "
            f"{'.'.join(map(str, MIN_MICROPYTHON))} or newer: flash a current Pico W .uf2 "
            "(hold BOOTSEL while plugging it in)")


def wait_ready(board: Mpremote, root: str, timeout: float = REBOOT_WAIT_S) -> dict:
    """Probe until the board answers again after a reset (USB re-enumerates meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return probe(board, root, timeout=min(5.0, board.timeout))
        except BoardError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
