"""The simulated sensor's behaviour: one command payload in, one reply payload out.

No I/O here, so the rules (what GenImg does without a finger, when RegModel
refuses two different fingers, what Search scores) are testable on their own;
tools/sensor_sim.py puts this on a TCP port.
"""

from __future__ import annotations

import hashlib
import struct
import threading
from dataclasses import dataclass

from fingerpos.tools import sensor_packets as sp
from fingerpos.tools import sensor_profiles
from fingerpos.tools.sensor_profiles import Profile


@dataclass(frozen=True)
class Template:
    """A feature template: which finger it came from and how well it will match."""
    finger: str
    confidence: int

    def data(self) -> bytes:
        # deterministic stand-in for the 512-byte feature file: same finger, same bytes
        return hashlib.sha256(b"fingerpos-sim:" + self.finger.encode()).digest()


def default_confidence(finger: str) -> int:
    """A stable score per finger in 60..199, like a real match score varies per finger."""
    return 60 + hashlib.sha256(finger.encode()).digest()[0] % 140


class SensorModel:
    """One sensor's state: image buffer, char buffers 1/2, template library, system parameters.

    The profile (tools/sensor_profiles.py) says which instructions the model has;
    any other gets sensor_profiles.UNSUPPORTED, as that model answers it.
    """

    def __init__(self, capacity: int | None = None, security_level: int = 3,
                 password: bytes = b"\x00\x00\x00\x00",
                 profile: Profile | str = sensor_profiles.DEFAULT_PROFILE) -> None:
        self.profile = sensor_profiles.get(profile) if isinstance(profile, str) else profile
        self.capacity = self.profile.capacity if capacity is None else capacity
        self.security_level = security_level
        self.password = password
        self.library: dict[int, Template] = {}
        self.led: tuple[int, int, int, int] | None = None  # (mode, speed, color, cycles)
        self._finger: Template | None = None
        self._bad_image = False
        self._image: Template | None = None
        self._buffers: dict[int, Template | None] = {1: None, 2: None}
        self._lock = threading.Lock()

    # ----- the finger on the glass (control side)
    def place(self, finger: str, confidence: int | None = None, bad_image: bool = False) -> None:
        with self._lock:
            score = default_confidence(finger) if confidence is None else int(confidence)
            self._finger = Template(finger, score)
            self._bad_image = bad_image

    def lift(self) -> None:
        with self._lock:
            self._finger = None

    @property
    def finger(self) -> str | None:
        return self._finger.finger if self._finger else None

    def state(self) -> dict:
        with self._lock:
            return {"finger": self.finger, "capacity": self.capacity,
                    "security_level": self.security_level, "led": self.led,
                    "library": {str(k): v.finger for k, v in sorted(self.library.items())}}

    # ----- the command side
    def handle(self, payload: bytes) -> tuple[bytes, bytes]:
        """Reply payload for one command payload, plus raw bytes to send after it (SoftReset)."""
        if not payload:
            return bytes((sp.RECEIVE_ERROR,)), b""
        with self._lock:
            op, args = payload[0], payload[1:]
            handler = _HANDLERS.get(op) if op in self.profile.commands else None
            if handler is None:
                return bytes((sensor_profiles.UNSUPPORTED,)), b""
            try:
                reply = handler(self, args)
            except (IndexError, struct.error):  # a command with too few parameter bytes
                reply = bytes((sp.RECEIVE_ERROR,)) + bytes(_REPLY_SIZE.get(op, 1) - 1)
            # R503 manual page=32: after SoftReset the module sends 0x55 again
            return reply, (self.profile.power_on_byte if op == sp.SOFT_RESET else b"")

    def delay(self, payload: bytes) -> float:
        """Seconds the model takes to answer this command (the profile's timings)."""
        op = payload[0] if payload else -1
        if op not in self.profile.commands:
            return 0.0
        if op == sp.GEN_IMG:
            return self.profile.capture_s if self._finger else self.profile.no_finger_s
        if op in (sp.SEARCH, sp.HI_SPEED_SEARCH) and len(payload) >= 6:
            start, count = struct.unpack(">HH", payload[2:6])
            with self._lock:
                n = sum(1 for p in self.library if start <= p < start + count)
            return n * self.profile.search_s_per_template
        return 0.0

    def _vfy_pwd(self, a: bytes) -> bytes:
        return bytes((sp.OK if a[:4] == self.password else sp.PASS_FAIL,))

    def _read_sys_para(self, a: bytes) -> bytes:
        # status register, system id, library size, security level, address,
        # data packet size code (2 = 128 bytes), baud multiplier (6 x 9600 = 57600)
        return bytes((sp.OK,)) + struct.pack(">HHHH4sHH", 0, 0x0009, self.capacity,
                                             self.security_level, sp.DEFAULT_ADDRESS, 2, 6)

    def _set_sys_para(self, a: bytes) -> bytes:
        param, value = a[0], a[1]
        if param == 5 and 1 <= value <= 5:
            self.security_level = value
            return bytes((sp.OK,))
        if param in (4, 6):
            return bytes((sp.OK,))  # baud / packet size: accepted, nothing to simulate
        return bytes((sp.INVALID_REGISTER,))

    def _gen_img(self, a: bytes) -> bytes:
        self._image = self._finger
        return bytes((sp.OK if self._finger else sp.NO_FINGER,))

    def _img2tz(self, a: bytes) -> bytes:
        buf = a[0]
        if buf not in self._buffers:
            return bytes((sp.INVALID_REGISTER,))
        if self._image is None:
            return bytes((sp.INVALID_IMAGE,))
        if self._bad_image:
            return bytes((sp.FEATURE_FAIL,))
        self._buffers[buf] = self._image
        return bytes((sp.OK,))

    def _reg_model(self, a: bytes) -> bytes:
        one, two = self._buffers[1], self._buffers[2]
        if one is None or two is None or one.finger != two.finger:
            return bytes((sp.ENROLL_MISMATCH,))
        self._buffers[2] = one
        return bytes((sp.OK,))

    def _store(self, a: bytes) -> bytes:
        buf, page = a[0], struct.unpack(">H", a[1:3])[0]
        if page >= self.capacity:
            return bytes((sp.BAD_LOCATION,))
        template = self._buffers.get(buf)
        if template is None:
            return bytes((sp.INVALID_REGISTER,))
        self.library[page] = template
        return bytes((sp.OK,))

    def _load_char(self, a: bytes) -> bytes:
        buf, page = a[0], struct.unpack(">H", a[1:3])[0]
        if page not in self.library or buf not in self._buffers:
            return bytes((sp.BAD_LOCATION,))
        self._buffers[buf] = self.library[page]
        return bytes((sp.OK,))

    def _match(self, a: bytes) -> bytes:
        one, two = self._buffers[1], self._buffers[2]
        if one and two and one.finger == two.finger:
            return bytes((sp.OK,)) + struct.pack(">H", one.confidence)
        return bytes((sp.NO_MATCH, 0, 0))

    def _search(self, a: bytes) -> bytes:
        buf, start, count = a[0], *struct.unpack(">HH", a[1:5])
        probe = self._buffers.get(buf)
        if probe is not None:
            for page in sorted(self.library):
                if start <= page < start + count and self.library[page].finger == probe.finger:
                    return bytes((sp.OK,)) + struct.pack(">HH", page, probe.confidence)
        return bytes((sp.NOT_FOUND, 0, 0, 0, 0))

    def _delet_char(self, a: bytes) -> bytes:
        page, count = struct.unpack(">HH", a[:4])
        if page + count > self.capacity or count == 0:
            return bytes((sp.DELETE_FAIL,))
        for p in range(page, page + count):
            self.library.pop(p, None)
        return bytes((sp.OK,))

    def _empty(self, a: bytes) -> bytes:
        self.library.clear()
        return bytes((sp.OK,))

    def _template_num(self, a: bytes) -> bytes:
        return bytes((sp.OK,)) + struct.pack(">H", len(self.library))

    def _read_index_table(self, a: bytes) -> bytes:
        page0 = a[0] * 256
        bits = bytearray(32)
        for p in self.library:
            if page0 <= p < page0 + 256:
                bits[(p - page0) // 8] |= 1 << ((p - page0) % 8)
        return bytes((sp.OK,)) + bytes(bits)

    def _aura(self, a: bytes) -> bytes:
        self.led = (a[0], a[1], a[2], a[3])
        return bytes((sp.OK,))

    def _ok(self, a: bytes) -> bytes:
        return bytes((sp.OK,))

    def _echo(self, a: bytes) -> bytes:
        return bytes((sp.MODULE_OK,))


_HANDLERS = {
    sp.VFY_PWD: SensorModel._vfy_pwd, sp.READ_SYS_PARA: SensorModel._read_sys_para,
    sp.SET_SYS_PARA: SensorModel._set_sys_para, sp.GEN_IMG: SensorModel._gen_img,
    sp.IMG2TZ: SensorModel._img2tz, sp.REG_MODEL: SensorModel._reg_model,
    sp.STORE: SensorModel._store, sp.LOAD_CHAR: SensorModel._load_char,
    sp.MATCH: SensorModel._match, sp.SEARCH: SensorModel._search,
    sp.HI_SPEED_SEARCH: SensorModel._search, sp.DELET_CHAR: SensorModel._delet_char,
    sp.EMPTY: SensorModel._empty, sp.TEMPLATE_NUM: SensorModel._template_num,
    sp.READ_INDEX_TABLE: SensorModel._read_index_table, sp.AURA_LED_CONFIG: SensorModel._aura,
    sp.SOFT_RESET: SensorModel._ok, sp.GET_ECHO: SensorModel._echo,
    sp.HANDSHAKE: SensorModel._ok, sp.CHECK_SENSOR: SensorModel._ok,
}

# Reply payload sizes, so a malformed command still gets a reply of the size the host reads.
_REPLY_SIZE = {sp.READ_SYS_PARA: 17, sp.SEARCH: 5, sp.HI_SPEED_SEARCH: 5, sp.MATCH: 3,
               sp.TEMPLATE_NUM: 3, sp.READ_INDEX_TABLE: 33}
