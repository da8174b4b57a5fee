"""The harness end of the unix HAL's control channel (firmware/hal/README.md).

Newline-delimited JSON over one TCP connection that the firmware's unix HAL
opens: it reports GPIO, display, log, printer and watchdog messages; this end
sends keypad keys, the sensor's touch line and Wi-Fi up/down.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from typing import Any


class ControlServer:
    """The harness end of the unix HAL's control channel: records everything, sends input.

    `events` holds (monotonic time, message); with max_events it keeps only the
    newest ones (a long demo), and indices stay absolute: event i is
    events[i - dropped].
    """

    def __init__(self, max_events: int | None = None) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(2)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.dropped = 0
        self.max_events = max_events
        self.bad_lines: list[bytes] = []
        self._conn: socket.socket | None = None
        self._cond = threading.Condition()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            with self._cond:
                if self._conn:
                    self._conn.close()
                self._conn = conn
                self._cond.notify_all()
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        buf = b""
        conn.settimeout(0.2)
        while not self._stopped.is_set():
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    msg = json.loads(line)
                except ValueError:
                    self.bad_lines = (self.bad_lines + [line])[-100:]
                    continue
                if not isinstance(msg, dict):
                    self.bad_lines = (self.bad_lines + [line])[-100:]
                    continue
                with self._cond:
                    self.events.append((time.monotonic(), msg))
                    if self.max_events and len(self.events) > self.max_events:
                        cut = len(self.events) - self.max_events // 2
                        del self.events[:cut]
                        self.dropped += cut
                    self._cond.notify_all()

    @property
    def connected(self) -> bool:
        return self._conn is not None

    @property
    def end(self) -> int:
        """The absolute index the next event will get."""
        return self.dropped + len(self.events)

    def get(self, i: int) -> dict[str, Any]:
        return self.events[i - self.dropped][1]

    def send(self, msg: dict[str, Any], timeout: float = 10.0) -> None:
        """Send to the HAL, waiting (bounded) for it to connect first."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._conn is not None, timeout):
                raise TimeoutError("the terminal's HAL never connected to the control channel")
            conn = self._conn
        assert conn is not None
        conn.sendall(json.dumps(msg).encode() + b"\n")

    def wait_for(self, test: Any, start: int, timeout: float) -> int | None:
        """Absolute index of the first event at or after `start` with test(msg) true, or None."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(max(start, self.dropped), self.end):
                    if test(self.events[i - self.dropped][1]):
                        return i
                start = self.end
                left = deadline - time.monotonic()
                if left <= 0 or self._stopped.is_set():
                    return None
                self._cond.wait(min(left, 0.5))

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()
        if self._conn:
            with contextlib.suppress(OSError):
                self._conn.close()
        self._thread.join(timeout=2)
