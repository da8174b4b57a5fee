"""R30x / R503 / AS608 fingerprint sensor packets: framing, checksum, command codes.

Frame: 0xEF01 | address (4) | PID (1) | length (2, = payload + 2) | payload | checksum (2)
where checksum = (PID + both length bytes + every payload byte) & 0xFFFF.
Hand-written because no maintained CPython package speaks the *sensor* side
of this protocol; the adafruit driver only speaks the host side.
"""

from __future__ import annotations

from dataclasses import dataclass

START = b"\xef\x01"
DEFAULT_ADDRESS = b"\xff\xff\xff\xff"
HEADER_LEN = 9  # start (2) + address (4) + PID (1) + length (2)

PID_COMMAND = 0x01
PID_DATA = 0x02
PID_ACK = 0x07
PID_END_DATA = 0x08

# Instruction codes (R30x user manual names).
GEN_IMG = 0x01
IMG2TZ = 0x02
MATCH = 0x03
SEARCH = 0x04
REG_MODEL = 0x05
STORE = 0x06
LOAD_CHAR = 0x07
DELET_CHAR = 0x0C
EMPTY = 0x0D
SET_SYS_PARA = 0x0E
READ_SYS_PARA = 0x0F
VFY_PWD = 0x13
HI_SPEED_SEARCH = 0x1B
TEMPLATE_NUM = 0x1D
READ_INDEX_TABLE = 0x1F
AURA_LED_CONFIG = 0x35
CHECK_SENSOR = 0x36
SOFT_RESET = 0x3D
HANDSHAKE = 0x40
GET_ECHO = 0x53

# Confirmation codes.
OK = 0x00
RECEIVE_ERROR = 0x01
NO_FINGER = 0x02
IMAGE_FAIL = 0x03
FEATURE_FAIL = 0x07
NO_MATCH = 0x08
NOT_FOUND = 0x09
ENROLL_MISMATCH = 0x0A
BAD_LOCATION = 0x0B
DELETE_FAIL = 0x10
PASS_FAIL = 0x13
INVALID_IMAGE = 0x15
INVALID_REGISTER = 0x1A
MODULE_OK = 0x55


class PacketError(ValueError):
    """A frame that is not a valid sensor packet (the reason is the message)."""


@dataclass(frozen=True)
class Packet:
    pid: int
    payload: bytes
    address: bytes = DEFAULT_ADDRESS


def checksum(pid: int, length: int, payload: bytes) -> int:
    return (pid + (length >> 8) + (length & 0xFF) + sum(payload)) & 0xFFFF


def encode(pid: int, payload: bytes, address: bytes = DEFAULT_ADDRESS) -> bytes:
    length = len(payload) + 2
    total = checksum(pid, length, payload)
    return (START + address + bytes((pid, length >> 8, length & 0xFF)) + payload
            + bytes((total >> 8, total & 0xFF)))


def decode(frame: bytes) -> Packet:
    """Parse one complete frame; PacketError says what is wrong with it."""
    if len(frame) < HEADER_LEN + 2:
        raise PacketError(f"short frame ({len(frame)} bytes)")
    if frame[:2] != START:
        raise PacketError("bad start code")
    pid = frame[6]
    length = (frame[7] << 8) | frame[8]
    if length < 2 or len(frame) != HEADER_LEN + length:
        raise PacketError(f"length field {length} does not fit a {len(frame)}-byte frame")
    payload = bytes(frame[HEADER_LEN:HEADER_LEN + length - 2])
    got = (frame[-2] << 8) | frame[-1]
    if got != checksum(pid, length, payload):
        raise PacketError("bad checksum")
    return Packet(pid, payload, bytes(frame[2:6]))


class FrameReader:
    """Cuts a byte stream into frames; skips bytes until a start code (resync after noise)."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def frames(self) -> list[bytes]:
        out = []
        while True:
            at = self._buf.find(START)
            if at < 0:
                # keep a trailing 0xEF: it may be the first half of a start code
                del self._buf[:max(0, len(self._buf) - 1)]
                return out
            del self._buf[:at]
            if len(self._buf) < HEADER_LEN:
                return out
            length = (self._buf[7] << 8) | self._buf[8]
            if length > 600:  # no command is this long: the header is noise, resync
                del self._buf[:2]
                continue
            if len(self._buf) < HEADER_LEN + length:
                return out
            out.append(bytes(self._buf[:HEADER_LEN + length]))
            del self._buf[:HEADER_LEN + length]
