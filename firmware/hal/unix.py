# HAL twin for the MicroPython unix port: the terminal's hardware as sockets. MIT licence.
#
# Started as `micropython main.py <device_dir>`; <device_dir>/hal.json says where
# the sensor simulator ("sensor"), an optional printer ("printer") and the
# harness control channel ("control") listen, each "host:port". The sensor UART
# is a TCP connection; GPIO, display, log and printer output go over the
# control channel (see hal/link.py); keys, touch and Wi-Fi state come back on it.
import _thread
import binascii
import gc
import json
import os
import sys
import time

from hal.link import Link, connect, parse_addr

DATA_DIR = sys.argv[1] if len(sys.argv) > 1 else "."
_UART_TIMEOUT_MS = 1000
_RECONNECT_MS = 500


def _load_conf():
    try:
        with open(DATA_DIR + "/hal.json") as f:
            conf = json.load(f)
    except (OSError, ValueError) as e:
        print("hal: no usable %s/hal.json (%s): running without sensor and harness" % (DATA_DIR, e))
        return {}
    return conf if isinstance(conf, dict) else {}


def _addr(conf, name):
    text = conf.get(name)
    if not text:
        return None
    if not isinstance(text, str):
        print("hal: %s: want \"host:port\", got %r" % (name, text))
        return None
    try:
        return parse_addr(text)
    except ValueError as e:
        print("hal:", name, e)
        return None


_conf = _load_conf()
_link = Link(_addr(_conf, "control"))
_uarts = {}
_outputs = {}
_clock = None  # unix seconds minus time.time() once set_time() was called


class TcpUart:
    """machine.UART-like over TCP: read(n) waits up to the timeout, None when nothing came."""

    def __init__(self, addr, timeout_ms=_UART_TIMEOUT_MS):
        self.addr = addr
        self.timeout_ms = timeout_ms
        self._sock = None
        self._poll = None  # one poll object per connection, not one per read (garbage)
        self._buf = b""
        self._next_try = time.ticks_ms()

    def _open(self):
        if self._sock is None and self.addr and time.ticks_diff(self._next_try, time.ticks_ms()) <= 0:
            self._next_try = time.ticks_add(time.ticks_ms(), _RECONNECT_MS)
            try:
                self._sock = connect(self.addr)
            except OSError:
                self._sock = None
                return None
            import select

            self._poll = select.poll()
            self._poll.register(self._sock, select.POLLIN)
        return self._sock

    def _drop(self):
        if self._sock:
            self._sock.close()
        self._sock = None
        self._poll = None

    def _fill(self, wait_ms):
        sock = self._open()
        poll = self._poll
        if sock is None or poll is None:
            if wait_ms > 0:
                time.sleep_ms(wait_ms)  # an unplugged UART: nothing arrives until the timeout
            return
        try:
            if poll.poll(wait_ms):
                # Small reads (RAM): a reply packet is 12-44 bytes, and a 512-byte
                # recv needed 16 free blocks in a row on a fragmented heap.
                data = sock.recv(64)
                if data:
                    self._buf += data
                else:
                    self._drop()  # the other end went away (cable pulled)
        except OSError:
            self._drop()

    def write(self, buf):
        sock = self._open()
        if sock is None:
            return None  # a real UART writes into a dead line without noticing
        try:
            sock.sendall(buf)
        except OSError:
            self._drop()
            return None
        return len(buf)

    def any(self):
        self._fill(0)
        return len(self._buf)

    def read(self, n=None):
        if n is None:
            n = self.any()
        deadline = time.ticks_add(time.ticks_ms(), self.timeout_ms)
        while len(self._buf) < n:
            left = time.ticks_diff(deadline, time.ticks_ms())
            if left <= 0:
                break
            self._fill(left)
        if not self._buf or n == 0:
            return None
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def readinto(self, buf, nbytes=None):
        data = self.read(len(buf) if nbytes is None else nbytes)
        if not data:
            return None
        buf[: len(data)] = data
        return len(data)


class ControlPrinter:
    """The printer when hal.json names none: its bytes go to the harness, base64."""

    def write(self, buf):
        _link.send({"printer": binascii.b2a_base64(buf).decode().strip()})
        return len(buf)

    def any(self):
        return 0

    def read(self, n=None):
        return None

    def readinto(self, buf, nbytes=None):
        return None


def uart(name):
    """The UART wired to `name` ("sensor" or "printer")."""
    if name not in ("sensor", "printer"):
        raise ValueError("no UART named %r" % name)
    if name not in _uarts:
        addr = _addr(_conf, name)
        _uarts[name] = ControlPrinter() if name == "printer" and addr is None else TcpUart(addr)
    return _uarts[name]


def out(name, value):
    """Drive output `name` ("buzzer", "strobe", "status_led") to 0/1."""
    if name not in ("buzzer", "strobe", "status_led"):
        raise ValueError("no output named %r" % name)
    value = 1 if value else 0
    _outputs[name] = value
    _link.send({"gpio": name, "v": value, "t": time.ticks_ms()})


def touch():
    _link.pump()
    return _link.touch


def log(text):
    _link.send({"log": str(text)})


class Keypad:
    def get(self):
        _link.pump()
        return _link.keys.pop(0) if _link.keys else None


class Display:
    def show(self, lines):
        _link.send({"display": [str(s)[:21] for s in lines[:4]]})


class Wlan:
    def __init__(self):
        self._up = False

    def connect(self, ssid, pw):
        self._up = True
        log("wlan: connect %s" % ssid)

    def isconnected(self):
        _link.pump()
        return self._up and _link.wlan

    def rssi(self):
        return -55 if self.isconnected() else -100


class Watchdog:
    """Like machine.WDT: if feed() is not called within timeout_ms, the 'board' dies.

    A guard thread kills the process with SIGKILL (an abrupt reset, like the RP2040
    watchdog), after telling the harness {"wdt": "starved"}.
    """

    def __init__(self, timeout_ms):
        self.timeout_ms = timeout_ms
        self.feeds = 0
        self._last = time.ticks_ms()
        _link.send({"wdt": "start", "timeout_ms": timeout_ms})
        _thread.start_new_thread(self._guard, ())

    def feed(self):
        self._last = time.ticks_ms()
        self.feeds += 1
        _link.send({"wdt": "feed", "t": self._last})

    def _guard(self):
        while time.ticks_diff(time.ticks_ms(), self._last) <= self.timeout_ms:
            time.sleep_ms(50)
        _link.send({"wdt": "starved"})
        os.system("kill -9 $PPID")  # $PPID of the shell is this process


def now():
    """Unix seconds, or 0 while the clock is unset."""
    return 0 if _clock is None else int(time.time()) + _clock


def set_time(unix_seconds):
    global _clock
    _clock = int(unix_seconds) - int(time.time())


def ticks_ms():
    return time.ticks_ms()


def mem_free():
    return gc.mem_free()


def reset():
    """Reboot: on the unix port the process ends with code 3 (the harness restarts it)."""
    log("reset")
    sys.exit(3)
