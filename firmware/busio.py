# busio.UART for MicroPython: the slice of CircuitPython's busio API that the
# unmodified adafruit_fingerprint driver uses, over a HAL UART. MIT licence.
#
# Why a shim: the driver does `from busio import UART` and calls only
# read(n) / write(buf) / in_waiting / reset_input_buffer / close. CircuitPython's
# read(n) waits up to `timeout` seconds for all n bytes; machine.UART.read(n)
# may return early with fewer, so read() here loops until n bytes or the deadline.
# The driver's other imports are native on MicroPython (micropython.const,
# struct, time, math); its `typing`/`serial` import sits in a try/except ImportError.
import time


class UART:
    def __init__(self, tx=None, rx=None, *, baudrate=57600, timeout=1.0, name="sensor", uart=None):
        # tx/rx/baudrate are accepted for CircuitPython compatibility: the HAL's
        # board file owns pins and speed.
        if uart is None:
            import hal

            uart = hal.uart(name)
        self._uart = uart
        self.timeout = timeout

    def read(self, n=None):
        if n is None:
            n = self._uart.any()
            return self._uart.read(n) if n else None
        out = b""
        deadline = time.ticks_add(time.ticks_ms(), int(self.timeout * 1000))
        while len(out) < n:
            chunk = self._uart.read(n - len(out))
            if chunk:
                out += chunk
            elif time.ticks_diff(deadline, time.ticks_ms()) <= 0:
                break
        return out or None

    def readinto(self, buf):
        """Fill buf (bytearray or memoryview) in place, waiting up to `timeout` for all
        of it; returns the number of bytes read, None when nothing came."""
        n = len(buf)
        got = 0
        deadline = time.ticks_add(time.ticks_ms(), int(self.timeout * 1000))
        while got < n:
            k = self._uart.readinto(buf[got:], n - got)
            if k:
                got += k
            elif time.ticks_diff(deadline, time.ticks_ms()) <= 0:
                break
        return got or None

    def write(self, buf):
        return self._uart.write(bytes(buf))

    @property
    def in_waiting(self):
        return self._uart.any()

    def reset_input_buffer(self):
        n = self._uart.any()
        while n:
            self._uart.read(n)
            n = self._uart.any()

    def deinit(self):
        pass  # the HAL owns the UART; nothing to release

    close = deinit
