"""Start and stop a real Mosquitto broker on a free loopback port.

Used by the test suite and by `fingerpos bench`, which both need a real
broker they own. Never binds anything but 127.0.0.1.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

INSTALL_HINT = "Mosquitto is not installed: sudo apt-get install mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_binary() -> str:
    for cand in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if cand and Path(cand).exists():
            return cand
    raise FileNotFoundError(INSTALL_HINT)


def wait_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as e:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s") from e
            time.sleep(0.05)


class Mosquitto:
    """One broker process. `extra_config` lines are appended to the listener config.

    With `config_file` the given file is used as is (its listener must be `port`).
    The port is kept across stop()/start(), so clients can reconnect to it.
    """

    def __init__(self, extra_config: str = "", port: int | None = None,
                 config_file: Path | None = None, workdir: Path | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._own_dir = workdir is None
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="fp-mosquitto-"))
        self.config_file = config_file
        self.extra_config = extra_config
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _write_config(self) -> Path:
        if self.config_file:
            return self.config_file
        conf = self.dir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "max_inflight_messages 0\n"
            "max_queued_messages 100000\n"
            "log_type error\nlog_type warning\n"
            + self.extra_config + "\n"
        )
        return conf

    def start(self, timeout: float = 10.0) -> Mosquitto:
        conf = self._write_config()
        log = open(self.dir / "mosquitto.log", "ab")
        self.proc = subprocess.Popen([find_binary(), "-c", str(conf)],
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            wait_port(self.host, self.port, timeout)
        except TimeoutError:
            self.stop()
            raise RuntimeError("mosquitto did not start:\n" + self.log_tail()) from None
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_tail(self, lines: int = 20) -> str:
        path = self.dir / "mosquitto.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
