# HAL for the Raspberry Pi Pico W: pins from board.py, machine/network underneath.
# MIT licence. The names and behaviour mirror hal/unix.py (see hal/__init__.py).
import gc
import time

import board
import machine
import network
from machine import I2C, UART, Pin

from hal.debounce import Debounce

DATA_DIR = "/"
# MicroPython ports differ in epoch (1970 or 2000); the app always sees unix seconds.
_EPOCH = 0 if time.gmtime(0)[0] == 1970 else 946684800
_clock_set = False
_uarts = {}
_outputs = {}
# The R503's WAKEUP is a CMOS output (R503 manual V1.2.2 "Hardware Connection"): it
# drives both levels, so no pull is needed; a pull-up keeps an unplugged sensor from
# floating into "touched" on an active-low line.
_touch = Pin(board.SENSOR_TOUCH["pin"], Pin.IN, Pin.PULL_UP if board.SENSOR_TOUCH["active"] == 0
             else Pin.PULL_DOWN)


def uart(name):
    """The UART wired to `name` ("sensor" or "printer"); read(n) waits at most 1 s."""
    if name not in _uarts:
        if name == "sensor":
            cfg = board.SENSOR_UART
        elif name == "printer":
            cfg = board.PRINTER_UART
        else:
            raise ValueError("no UART named %r" % name)
        _uarts[name] = UART(cfg["id"], baudrate=cfg["baud"], tx=Pin(cfg["tx"]), rx=Pin(cfg["rx"]),
                            timeout=1000, timeout_char=50)
    return _uarts[name]


def out(name, value):
    """Drive output `name` ("buzzer", "strobe", "status_led") to 0/1."""
    pin = _outputs.get(name)
    if pin is None:
        if name not in board.OUTPUTS:
            raise ValueError("no output named %r" % name)
        pin = _outputs[name] = Pin(board.OUTPUTS[name], Pin.OUT, value=0)
    pin.value(1 if value else 0)


def touch():
    """True while a finger is on the glass. The line's active level is board data
    (board.SENSOR_TOUCH["active"]): 0 for the R503 and R307 as shipped."""
    return _touch.value() == board.SENSOR_TOUCH["active"]


def log(text):
    print(text)


class Keypad:
    """4x4 matrix: each row pulled low in turn; a key is reported once per press.

    get() is polled by the UI task every few tens of ms; that spacing is the debounce clock.
    """

    def __init__(self):
        self._rows = [Pin(p, Pin.OUT, value=1) for p in board.KEYPAD_ROWS]
        self._cols = [Pin(p, Pin.IN, Pin.PULL_UP) for p in board.KEYPAD_COLS]
        self._debounce = Debounce()

    def _scan(self):
        for r, row in enumerate(self._rows):
            row.value(0)
            for c, col in enumerate(self._cols):
                if col.value() == 0:
                    row.value(1)
                    return board.KEYPAD_KEYS[r][c]
            row.value(1)
        return None

    def get(self):
        return self._debounce.feed(self._scan())


class Display:
    """The SSD1306. With no device at the address (machine.I2C raises OSError ENODEV
    or ETIMEDOUT) the terminal runs headless: logged once, the status LED lit as the
    signal, and show() never raises (the app's error handler shows errors here too)."""

    def __init__(self):
        self._oled = None
        cfg = board.DISPLAY_I2C
        try:
            from hal.ssd1306 import SSD1306

            i2c = I2C(cfg["id"], sda=Pin(cfg["sda"]), scl=Pin(cfg["scl"]), freq=cfg["freq"])
            self._oled = SSD1306(i2c, cfg["addr"], cfg["width"], cfg["height"])
        except OSError as e:
            log("display: none at I2C 0x%02x (%s): running headless" % (cfg["addr"], e))

    def show(self, lines):
        if self._oled is not None:
            try:
                self._oled.text_lines([str(s)[:21] for s in lines[:4]])
                return
            except OSError as e:
                log("display: %s: running headless" % e)
                self._oled = None
        out("status_led", 1)


class Wlan:
    def __init__(self):
        self._wlan = network.WLAN(network.STA_IF)
        self._wlan.active(True)

    def connect(self, ssid, pw):
        self._wlan.connect(ssid, pw)

    def joining(self):
        # A join under way: connect() again would restart it, so a slow AP (WPA
        # handshake + DHCP take seconds) would never be joined. rp2's status()
        # gives the cyw43 link state: CYW43_LINK_JOIN (1) and CYW43_LINK_NOIP (2,
        # joined, DHCP pending) come before CYW43_LINK_UP (3) = network.STAT_GOT_IP.
        return 0 < self._wlan.status() < network.STAT_GOT_IP

    def isconnected(self):
        return self._wlan.isconnected()

    def rssi(self):
        return self._wlan.status("rssi") if self._wlan.isconnected() else -100


class Watchdog:
    """machine.WDT; the RP2040 caps the timeout at 8388 ms."""

    def __init__(self, timeout_ms):
        self._wdt = machine.WDT(timeout=min(timeout_ms, 8388))

    def feed(self):
        self._wdt.feed()


_dns = {}


async def resolve(host):
    """host as a numeric address: used as is when numeric, else looked up once and kept
    (lwIP's getaddrinfo blocks the loop while it waits for the DNS server, so it must
    not run on every reconnect; a numeric broker address in config.json avoids it)."""
    if host[0].isdigit() or ":" in host:
        return host
    addr = _dns.get(host)
    if addr is None:
        import socket

        ai = socket.getaddrinfo(host, 0, 0, socket.SOCK_STREAM)[0][-1]
        addr = _dns[host] = ai[0] if isinstance(ai, tuple) else host
    return addr


def now():
    """Unix seconds, or 0 while the clock is unset."""
    return time.time() + _EPOCH if _clock_set else 0


def set_time(unix_seconds):
    global _clock_set
    t = time.gmtime(int(unix_seconds) - _EPOCH)
    machine.RTC().datetime((t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0))
    _clock_set = True


def ticks_ms():
    return time.ticks_ms()


def mem_free():
    return gc.mem_free()


def reset():
    machine.reset()
