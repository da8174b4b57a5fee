# The fingerprint sensor for the app: the adafruit driver with packet checks, plus
# enrol / identify helpers that fail closed. MIT licence.
#
# The unmodified adafruit_fingerprint driver never checks a reply's checksum,
# so a garbled line could be read as "match in slot 3". CheckedFingerprint
# re-implements only _get_packet (the one place replies are parsed) and
# rejects any reply whose start code, address, type, length or checksum is
# wrong. Sensor wraps it: any transport fault becomes SensorError, the driver
# is dropped, and the next call re-handshakes (VfyPwd) before trusting it.
import asyncio

from adafruit_fingerprint import (
    ENROLLMISMATCH,
    NOFINGER,
    NOTFOUND,
    OK,
    Adafruit_Fingerprint,
)

TIMEOUT = -1  # enrol(): no finger within the time allowed
FULL = -2  # enrol(): no free slot

_MESSAGES = {
    OK: "ok",
    TIMEOUT: "no finger",
    FULL: "sensor full",
    ENROLLMISMATCH: "fingers differ",
    NOFINGER: "no finger",
    0x03: "bad image",
    0x06: "bad image",
    0x07: "bad image",
    0x0B: "bad slot",
    0x15: "bad image",
    0x18: "flash error",
}


class SensorError(RuntimeError):
    """The sensor is missing, silent or garbling: no answer from it can be trusted."""


def describe(code):
    """Short display text for an enrol/identify result code."""
    return _MESSAGES.get(code, "sensor code %d" % code)


class CheckedFingerprint(Adafruit_Fingerprint):
    """Adafruit_Fingerprint that rejects corrupt replies instead of parsing them."""

    # One reply buffer for the life of the driver: replies are at most 44 bytes
    # (TemplateRead), and a fresh bytes object per reply plus its slices was most
    # of the garbage a sensor session made while the heap is at its fullest.
    _buf = None

    def _get_packet(self, expected):
        # The reply's own length field says how much to read, not `expected`: a model
        # that lacks an instruction answers it with the confirmation code alone (R503
        # and HiSpeedSearch: 12 bytes where 16 were expected), and waiting for the
        # missing 4 would time out. Bytes before the start code are skipped (at most
        # 8): the R503 sends one 0x55 after power-on and after SoftReset (R503 manual
        # V1.2.2, HandShake 0x40 and SoftReset 0x3D), which would shift every later reply.
        buf = self._buf
        if buf is None:
            buf = CheckedFingerprint._buf = bytearray(44)
        res = memoryview(buf)
        uart = self._uart
        if uart is None:
            raise SensorError("no UART")
        n = uart.readinto(res[:2])
        if not n:
            raise SensorError("no reply from sensor")
        skipped = 0
        while n == 2 and (buf[0] != 0xEF or buf[1] != 0x01):
            skipped += 1
            if skipped > 8:
                self._bad("bad header")
            buf[0] = buf[1]
            n = 1 + (uart.readinto(res[1:2]) or 0)
        if n != 2:  # stray bytes (a 0x55 greeting), then silence: no reply at all
            raise SensorError("no reply from sensor")
        if uart.readinto(res[2:9]) != 7:
            self._bad("short reply")
        a = self.address
        if res[2] != a[0] or res[3] != a[1] or res[4] != a[2] or res[5] != a[3] or \
                res[6] != 0x07:
            self._bad("bad header")
        length = res[7] << 8 | res[8]
        if length < 3 or length + 9 > len(buf):
            self._bad("bad length")
        if uart.readinto(res[9:9 + length]) != length:
            self._bad("short reply")
        total = 0
        for i in range(6, 7 + length):
            total += res[i]
        if total & 0xFFFF != (res[7 + length] << 8 | res[8 + length]):
            self._bad("bad checksum")
        return list(res[9:7 + length])

    def _bad(self, msg):
        self._flush()
        raise SensorError("garbled reply from sensor (%s)" % msg)

    def finger_search(self):
        """1:N search of char buffer 1 over the whole library -> confirmation code;
        finger_id / confidence are set on a match. (Replaces the driver's, which reads
        the system parameters again first, and keeps the driver's name: RAM, no new
        interned name.)

        Search 0x04, never HiSpeedSearch 0x1B: the R503 and R551 do not implement 0x1B
        (adafruit/Adafruit_CircuitPython_Fingerprint #20, fixed by finger_search in PR #21;
        brianrho/FPM #8, #23: "don't support [0x1B], or time out"), every R30x/AS608 has
        0x04, and FPM #23 measured no speed difference on 143 prints.
        """
        capacity = self.library_size or 0  # read by __init__ (ReadSysPara)
        self._send_packet([0x04, 1, 0, 0, capacity >> 8, capacity & 0xFF])
        uart = self._uart
        if uart is None:
            raise SensorError("no UART")
        wait = uart.timeout
        # R503 manual: 1:N takes < 10 ms per stored template, so a full 200-slot
        # library may need 2 s; the R307 datasheet gives < 1 s for 1:1000.
        uart.timeout = 3
        try:
            r = self._get_packet(16)
        finally:
            uart.timeout = wait
        if r[0] == OK and len(r) >= 5:
            self.finger_id = r[1] << 8 | r[2]
            self.confidence = r[3] << 8 | r[4]
        return r[0]

    def _flush(self):
        # drop what is left of a broken reply so the next command starts clean
        reset = getattr(self._uart, "reset_input_buffer", None)
        if reset:
            reset()


class Sensor:
    """The app's view of the sensor. Every method raises SensorError on a transport fault.

    identify() -> (slot, confidence) or None; `reason` then says why:
    "no_finger", "bad_image", "no_match" or "low_confidence".
    """

    def __init__(self, uart, password=(0, 0, 0, 0)):
        self.uart = uart
        self.password = password
        self.driver = None
        self.error = None  # text of the last fault, None while healthy
        self.security_level = None
        self.capacity = 0
        self.reason = None

    def start(self):
        """Handshake and read the system parameters. Returns True when the sensor is usable."""
        # One try. The module is powered with the board and initialises in well under
        # the firmware's own boot (R503 manual V1.2.2 "Power-on delay time": ~50 ms),
        # and the 0x55 it then sends is skipped by _get_packet. No draining first: on
        # the unix twin that would silently reconnect a pulled cable, which must show
        # as a sensor fault.
        try:
            self.driver = CheckedFingerprint(self.uart, self.password)
        except (RuntimeError, OSError, ValueError, IndexError) as e:
            self.driver = None
            self.error = "sensor: %s" % (e.args[0] if e.args else e)
            return False
        self.security_level = self.driver.security_level
        self.capacity = self.driver.library_size or 0
        self.error = None
        return True

    @property
    def ok(self):
        return self.driver is not None

    def _call(self, name, *args):
        if self.driver is None and not self.start():
            raise SensorError(self.error)
        try:
            return getattr(self.driver, name)(*args)
        except (RuntimeError, OSError, ValueError, IndexError) as e:
            # the driver raises RuntimeError on short/bad replies, struct on cut ones
            self.driver = None
            self.error = "sensor: %s" % (e.args[0] if e.args else e)
            raise SensorError(self.error)

    def finger_present(self):
        """Take an image; True when a finger is on the glass (the image stays in the sensor)."""
        return self._call("get_image") == OK

    def identify(self, threshold=0):
        """1:N search for the finger on the glass."""
        code = self._call("get_image")
        if code != OK:
            self.reason = "no_finger" if code == NOFINGER else "bad_image"
            return None
        if self._call("image_2_tz", 1) != OK:
            self.reason = "bad_image"
            return None
        code = self._call("finger_search")
        if code == NOTFOUND:
            self.reason = "no_match"
            return None
        if code != OK:
            self.reason = "bad_image"
            return None
        d = self.driver  # set: _call() raised otherwise
        slot, confidence = d.finger_id, d.confidence  # type: ignore[union-attr]
        if confidence < threshold:
            self.reason = "low_confidence"
            return None
        self.reason = None
        return slot, confidence

    async def enrol(self, slot=None, prompt=None, timeout_ms=25000, poll_ms=100):
        """Two scans -> RegModel -> Store in `slot` (None: the first free one).

        Returns (code, slot): code OK, TIMEOUT, FULL or a sensor code (describe() it).
        prompt(text) is called when each step starts, with what the seller should do
        next; each step (place, lift, place again) may take up to timeout_ms of wall
        time. 25 s: a step must end well inside the app's 30 s sensor watchdog window.
        """
        if slot is None:
            slot = self.free_slot()
            if slot is None:
                return FULL, None
        for buf in (1, 2):
            _say(prompt, "Place finger" if buf == 1 else "Same finger again")
            if not await self._wait(True, timeout_ms, poll_ms):
                return TIMEOUT, slot
            code = self._call("image_2_tz", buf)
            if code != OK:
                return code, slot
            if buf == 1:
                _say(prompt, "Lift finger")
                if not await self._wait(False, timeout_ms, poll_ms):
                    return TIMEOUT, slot
        code = self._call("create_model")
        if code != OK:
            return code, slot
        return self._call("store_model", slot, 1), slot

    async def _wait(self, present, timeout_ms, poll_ms):
        # Wall time, not a count of polls: each GenImg takes its own time (R503 ~50 ms
        # without a finger), so 200 polls of 100 ms used to last over 30 s.
        start = _ms(None)
        while True:
            if self.finger_present() == present:
                return True
            if _ms(start) >= timeout_ms:
                return False
            await asyncio.sleep(poll_ms / 1000)  # sleep_ms is MicroPython-only; CPython tests run this

    def free_slot(self):
        """The lowest empty template slot, or None when the library is full."""
        self._call("read_templates")
        used = set(self.driver.templates)  # type: ignore[union-attr]  # _call() raised if None
        for slot in range(self.capacity):
            if slot not in used:
                return slot
        return None

    def count(self):
        self._call("count_templates")
        return self.driver.template_count  # type: ignore[union-attr]  # _call() raised if None

    def delete(self, slot):
        return self._call("delete_model", slot)

    def empty(self):
        return self._call("empty_library")

    def led(self, color=1, mode=3, speed=0x80, cycles=0):
        """R503 ring LED (1 red, 2 blue, 3 purple; mode 1 breathe, 2 flash, 3 on, 4 off)."""
        return self._call("set_led", color, mode, speed, cycles)


def _ms(start):
    # _ms(None): a millisecond clock; _ms(t): ms since t. MicroPython's ticks wrap,
    # so the difference goes through ticks_diff there; CPython (the tests) has monotonic.
    import time

    if hasattr(time, "ticks_ms"):
        now = time.ticks_ms()
        return now if start is None else time.ticks_diff(now, start)
    ms = int(time.monotonic() * 1000)  # type: ignore[attr-defined]  # CPython only
    return ms if start is None else ms - start


def _say(prompt, text):
    if prompt:
        prompt(text)


def open_sensor(name="sensor"):
    """A Sensor on the HAL UART `name`, handshake attempted (check .ok / .error)."""
    from busio import UART

    sensor = Sensor(UART(name=name))
    sensor.start()
    return sensor
