"""A busio.UART-like object over TCP, so the adafruit driver runs against the simulator on CPython."""

from __future__ import annotations

import socket
import time


class SocketUart:
    """read(n) waits up to `timeout` seconds for n bytes and returns what came (b"" if nothing)."""

    def __init__(self, host: str, port: int, timeout: float = 1.0) -> None:
        self.timeout = timeout
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._buf = bytearray()

    def write(self, data: bytes | bytearray | list[int]) -> int:
        self._sock.sendall(bytes(data))
        return len(data)

    def read(self, nbytes: int) -> bytes:
        deadline = time.monotonic() + self.timeout
        while len(self._buf) < nbytes:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._sock.settimeout(left)
            try:
                chunk = self._sock.recv(4096)
            except TimeoutError:
                break
            if not chunk:
                break  # the simulator dropped us: return what we have
            self._buf += chunk
        out = bytes(self._buf[:nbytes])
        del self._buf[:nbytes]
        return out

    def readinto(self, buf: bytearray | memoryview) -> int | None:
        """CircuitPython's busio.UART.readinto: fill buf in place, None when nothing came."""
        data = self.read(len(buf))
        if not data:
            return None
        buf[: len(data)] = data
        return len(data)

    @property
    def in_waiting(self) -> int:
        return len(self._buf)

    def reset_input_buffer(self) -> None:
        self._buf.clear()
        self._sock.setblocking(False)
        try:
            while self._sock.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass  # nothing more queued
        finally:
            self._sock.setblocking(True)

    def close(self) -> None:
        self._sock.close()
