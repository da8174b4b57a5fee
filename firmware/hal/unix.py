# HAL twin for the MicroPython unix port: the terminal's hardware as sockets. MIT licence.
#
# Started as `micropython main.py <device_dir>`; <device_dir>/hal.json says where
# the sensor simulator ("sensor"), an optional printer ("printer") and the
# harness control channel ("control") listen, each "host:port". The sensor UART
# is a TCP connection; GPIO, display, log and printer output go over the
# control channel; keys, touch and Wi-Fi state come back on it.
#
# The control channel is newline-delimited JSON. HAL -> harness: {"gpio": name,
# "v": 0|1, "t": ms}, {"display": [lines]}, {"log": text}, {"printer": base64},
# {"wdt": ...}. Harness -> HAL: {"key": "5"}, {"touch": 0|1}, {"wlan":
# true|false}, {"hang": ms} (a fault: the app's next HAL call blocks for ms, like
# a peripheral holding the bus, so the main loop stalls and the watchdog must
# reset the board). Without a harness (no "control" in hal.json, or it went
# away) messages go to stdout, so the firmware still runs.
#
# "touch" is the touch/wake line's electrical level, as a GPIO reads it: the R503's
# line is high without a finger and low while touched (tools/sensor_profiles.py).
# hal.json "touch_active" is the level that means a finger (the twin's board data,
# like board.SENSOR_TOUCH["active"] on the Pico; default 0, as there).
#
# One module with one socket class for both (RAM: on the terminal every module
# path and name is interned for good, see firmware/README.md).
import _thread
import binascii
import gc
import json
import os
import select
import socket
import sys
import time

from micropython import const

DATA_DIR = sys.argv[1] if len(sys.argv) > 1 else "."
_UART_TIMEOUT_MS = const(1000)
_RECONNECT_MS = const(500)


try:
    with open(DATA_DIR + "/hal.json") as f:
        _conf = json.load(f)
except (OSError, ValueError) as e:
    print("hal: no usable %s/hal.json (%s): running without sensor and harness" % (DATA_DIR, e))
    _conf = {}
if not isinstance(_conf, dict):
    _conf = {}


def _addr(name):
    """hal.json's "host:port" for name as (host, port), or None."""
    text = _conf.get(name)
    if not text:
        return None
    host, _, port = text.rpartition(":") if isinstance(text, str) else ("", "", "")
    if not host or not port.isdigit():
        print("hal: %s: %r is not host:port" % (name, text))
        return None
    return host, int(port)


class TcpUart:
    """A TCP connection that reconnects on use (at most every 0.5 s, like a re-plugged
    cable) and buffers what arrives. As a UART, machine.UART-like: read(n) waits up to
    the timeout, None when nothing came. The control channel is one too (_link)."""

    def __init__(self, addr, timeout_ms=_UART_TIMEOUT_MS):
        self.addr = addr  # (host, port) or None
        self.timeout_ms = timeout_ms
        self._sock = None
        self._poll = None  # one poll object per connection, not one per read (garbage)
        self._buf = b""
        self._next_try = time.ticks_ms()
        # the control channel's state (harness -> HAL)
        self.keys = []
        self.touch = 0 if _conf.get("touch_active") == 1 else 1  # the line idles until told
        self.wlan = True
        self.hang = 0  # ms the next HAL call blocks (an injected fault)

    def _open(self):
        if self._sock is None and self.addr and time.ticks_diff(self._next_try, time.ticks_ms()) <= 0:
            self._next_try = time.ticks_add(time.ticks_ms(), _RECONNECT_MS)
            ai = socket.getaddrinfo(self.addr[0], self.addr[1], 0, socket.SOCK_STREAM)[0]
            sock = socket.socket(ai[0], socket.SOCK_STREAM)
            try:
                sock.settimeout(2)
                sock.connect(ai[-1])
            except OSError:
                sock.close()
                return None
            self._sock = sock
            self._poll = select.poll()
            self._poll.register(sock, select.POLLIN)
        return self._sock

    def _drop(self):
        if self._sock:
            self._sock.close()
        self._sock = None
        self._poll = None

    def _fill(self, wait_ms):
        """Wait up to wait_ms for data and add one read to the buffer; False if none came."""
        sock = self._open()
        poll = self._poll
        if sock is None or poll is None:
            if wait_ms > 0:
                time.sleep_ms(wait_ms)  # an unplugged UART: nothing arrives until the timeout
            return False
        try:
            if poll.poll(wait_ms):
                # Small reads (RAM): a reply packet is 12-44 bytes, and a 512-byte
                # recv needed 16 free blocks in a row on a fragmented heap.
                data = sock.recv(64)
                if data:
                    self._buf += data
                    return True
                self._drop()  # the other end went away (cable pulled)
        except OSError:
            self._drop()
        return False

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

    def readinto(self, buf, n=None):
        data = self.read(len(buf) if n is None else n)
        if not data:
            return None
        buf[: len(data)] = data
        return len(data)

    # -- as the control channel ----------------------------------------------
    def send(self, msg):
        line = json.dumps(msg) + "\n"
        if self.write(line.encode()) is None:
            print("hal:", line, end="")

    def pump(self):
        """Take in whatever the harness sent, without blocking."""
        while self._fill(0):
            pass
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            try:
                msg = json.loads(line)
            except ValueError:
                print("hal: ignored bad control line", line)
                continue
            if not isinstance(msg, dict):
                continue
            key = msg.get("key")
            # a real keypad holds no queue: drop keys beyond a short buffer
            if isinstance(key, str) and len(key) == 1 and key in "0123456789ABCD*#" and \
                    len(self.keys) < 32:
                self.keys.append(key)
            if "touch" in msg:
                self.touch = 1 if msg["touch"] else 0
            if "wlan" in msg:
                self.wlan = bool(msg["wlan"])
            hang = msg.get("hang")
            if type(hang) is int and 0 < hang <= 60000:
                self.hang = hang
        if self.hang:
            ms, self.hang = self.hang, 0
            time.sleep_ms(ms)  # blocks the app's thread; the watchdog's guard thread runs on


# TLS charged to the GC heap (when the broker link is TLS: hal/unix_tls.py) and name
# lookups (hal/unix_dns.py, also a slow DNS server: hal.json "dns_hang_ms") are loaded
# only when used (RAM: the twin's resident part
# stays no bigger than hal/pico.py's, see firmware/README.md "RAM").
_tls = False
try:
    with open(DATA_DIR + "/config.json") as f:
        _tls = json.load(f)["broker"].get("tls")
except (OSError, ValueError, KeyError, TypeError, AttributeError):
    pass  # no usable config: main.py says NOT PROVISIONED
_link = TcpUart(_addr("control"))
_link._open()
_uarts = {}
_clock = None  # unix seconds minus time.time() once set_time() was called


class ControlPrinter:
    """The printer when hal.json names none: its bytes go to the harness, base64.
    (Write only: the firmware never reads the printer.)"""

    def write(self, buf):
        _link.send({"printer": binascii.b2a_base64(buf).decode().strip()})
        return len(buf)


def uart(name):
    """The UART wired to `name` ("sensor" or "printer")."""
    if name not in ("sensor", "printer"):
        raise ValueError("no UART named %r" % name)
    if name not in _uarts:
        addr = _addr(name)
        _uarts[name] = ControlPrinter() if name == "printer" and addr is None else TcpUart(addr)
    return _uarts[name]


def out(name, value):
    """Drive output `name` ("buzzer", "strobe", "status_led") to 0/1."""
    if name not in ("buzzer", "strobe", "status_led"):
        raise ValueError("no output named %r" % name)
    value = 1 if value else 0
    _link.send({"gpio": name, "v": value, "t": time.ticks_ms()})


def touch():
    """True while a finger is on the glass (the line at its active level)."""
    _link.pump()
    return _link.touch == (1 if _conf.get("touch_active") == 1 else 0)


def log(text):
    _link.send({"log": str(text)})


class Keypad:
    def get(self):
        _link.pump()
        return _link.keys.pop(0) if _link.keys else None


class Display:
    """The screen. hal.json "display": "missing" plays a board whose I2C display does not
    answer (ENODEV, as machine.I2C raises): like hal/pico.py the terminal then runs
    headless, says so in the log once and blinks the status LED, never raising."""

    def __init__(self):
        self.missing = _conf.get("display") == "missing"
        if self.missing:
            log("display: no device answers (ENODEV): running headless")

    def show(self, lines):
        if self.missing:
            out("status_led", 1)  # the signal a headless terminal gives
            return
        _link.send({"display": [str(s)[:21] for s in lines[:4]]})


class Wlan:
    """hal.json "wlan_join_ms": how long a join takes (default 0). As on the CYW43, a
    connect() during a join starts it over."""

    def __init__(self):
        self._up = False
        self._join_at = None  # ticks when the join under way completes

    def connect(self, ssid, password):
        self._up = False
        self._join_at = time.ticks_add(time.ticks_ms(), _conf.get("wlan_join_ms", 0))
        log("wlan: connect %s" % ssid)

    def joining(self):
        if self._join_at is not None and time.ticks_diff(time.ticks_ms(), self._join_at) >= 0:
            self._join_at = None
            self._up = True
            log("wlan: joined")
        return self._join_at is not None

    def isconnected(self):
        _link.pump()
        self.joining()
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
        self._last = time.ticks_ms()
        _link.send({"wdt": "start", "timeout_ms": timeout_ms})
        _thread.start_new_thread(self._guard, ())

    def feed(self):
        self._last = time.ticks_ms()
        _link.send({"wdt": "feed", "t": self._last})

    def _guard(self):
        while time.ticks_diff(time.ticks_ms(), self._last) <= self.timeout_ms:
            time.sleep_ms(50)
        _link.send({"wdt": "starved"})
        os.system("kill -9 $PPID")  # $PPID of the shell is this process


async def resolve(host):
    """host as a numeric address, without blocking the loop more than a poll (a name:
    hal/unix_dns.py, loaded only then). Raises OSError when a lookup has not answered
    within 4 s."""
    if host[0].isdigit() or ":" in host:
        return host
    __import__("hal.unix_dns")  # (names: see the end of this module)
    return await sys.modules["hal.unix_dns"].resolve(host)  # its resolve(): interned already


def now():
    """Unix seconds, or 0 while the clock is unset."""
    return 0 if _clock is None else int(time.time()) + _clock


def set_time(value):
    """Set the clock to value, unix seconds."""
    global _clock
    _clock = int(value) - int(time.time())


def ticks_ms():
    return time.ticks_ms()


def mem_free():
    return gc.mem_free()


def reset():
    """Reboot: on the unix port the process ends with code 3 (the harness restarts it)."""
    log("reset")
    sys.exit(3)


# (names: a module name over 10 characters in a string is not interned by mpy-cross, an
# import statement's is: so a run without TLS or a slow DNS server never interns these)
if _tls:
    __import__("hal.unix_tls")  # last: it uses log()
if _conf.get("dns_hang_ms"):
    __import__("hal.unix_dns")  # installs the slow resolver before anyone looks up
del _tls
