# fingerpos protocol v1: body building, framing, signing and verification.
# SPDX-License-Identifier: MIT
#
# payload = body + b"\n" + sig
# sig     = hex(HMAC-SHA256(key, topic + b"\n" + body)), 64 lowercase chars
# The receiver verifies the MAC over the exact bytes received, in constant
# time, before it parses anything; nobody ever re-serialises a body.
import json

from .errors import BadSignature, Malformed, Replayed, TooLarge, Unsigned, WrongDevice
from .hmac256 import equal, hmac_sha256_hex, sha256_hex
from .topics import CMD, EVT, check_device_id, parse_topic
from .topics import topic as make_topic

VERSION = 1
MAX_BODY = 4096
SIG_LEN = 64
MAX_PAYLOAD = MAX_BODY + 1 + SIG_LEN
MAX_SEQ = (1 << 53) - 1  # largest integer every JSON parser keeps exact
PREV_LEN = 32
KEY_LEN = 32

EVENT_TYPES = (
    "boot", "heartbeat", "enrol", "login", "alarm", "sale", "ack",
    "price_change", "printed",
)
COMMAND_TYPES = (
    "ack", "time", "roster", "order_new", "order_update", "price_result",
    "print", "enrol_start", "lock", "unlock", "alarm_off", "config", "catalog",
)
TYPES = {EVT: EVENT_TYPES, CMD: COMMAND_TYPES}
FIELDS = ("v", "dev", "seq", "ts", "typ", "prev", "data")
_HEX = "0123456789abcdef"


def _is_int(x) -> bool:
    # bool is an int subclass on CPython; JSON true must not pass as 1.
    return type(x) is int


def _is_hex(s, n) -> bool:
    if not isinstance(s, str) or len(s) != n:
        return False
    for c in s:
        if c not in _HEX:
            return False
    return True


def chain_hash(body: bytes) -> str:
    """The `prev` value the next message must carry: 32 hex of SHA-256(body)."""
    return sha256_hex(body)[:PREV_LEN]


def broker_password(key: bytes) -> str:
    """The device's MQTT password: hex(HMAC-SHA256(key, b"mqtt"))[:32]."""
    return hmac_sha256_hex(key, b"mqtt").decode()[:32]


def check_key(key) -> bytes:
    if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_LEN:
        raise ValueError("a device key is exactly 32 bytes")
    return bytes(key)


def check_body(body, dev: str, kind: str) -> dict:
    """Check a parsed body against protocol v1 for the topic (dev, kind).

    Returns: body. Raises: Malformed, WrongDevice.
    """
    if not isinstance(body, dict):
        raise Malformed("body is not a JSON object")
    for name in body:
        if name not in FIELDS:
            raise Malformed("body has unknown field %r" % (name,))
    for name in FIELDS:
        if name not in body:
            raise Malformed("body lacks field %r" % (name,))
    if not _is_int(body["v"]) or body["v"] != VERSION:
        raise Malformed("body field v must be 1, got %r" % (body["v"],))
    seq = body["seq"]
    if not _is_int(seq) or not 1 <= seq <= MAX_SEQ:
        raise Malformed("seq must be an integer from 1 to 2^53-1, got %r" % (seq,))
    ts = body["ts"]
    if not _is_int(ts) or not 0 <= ts <= MAX_SEQ:
        raise Malformed("ts must be unix seconds (0 = clock unset), got %r" % (ts,))
    typ = body["typ"]
    if typ not in TYPES.get(kind, ()):
        raise Malformed("typ %r is not a known %s type" % (typ, kind))
    prev = body["prev"]
    if prev != "" and not _is_hex(prev, PREV_LEN):
        raise Malformed('prev must be "" or 32 lowercase hex characters')
    if not isinstance(body["data"], dict):
        raise Malformed("data must be a JSON object")
    if not isinstance(body["dev"], str):
        raise Malformed("dev must be a string")
    if body["dev"] != dev:
        raise WrongDevice(
            "body names device %r but arrived on the topic of %r" % (body["dev"], dev)
        )
    return body


def make_body(dev: str, seq: int, ts: int, typ: str, prev: str, data: dict,
              kind: str = EVT) -> bytes:
    """Serialise a body: compact UTF-8 JSON, fields in the documented order.

    Raises: Malformed for a bad field, TooLarge over 4096 bytes.
    """
    check_device_id(dev)
    body = {"v": VERSION, "dev": dev, "seq": seq, "ts": ts, "typ": typ,
            "prev": prev, "data": data}
    check_body(body, dev, kind)
    sep = (",", ":")
    text = (
        '{"v":1,"dev":' + json.dumps(dev) + ',"seq":' + str(seq) + ',"ts":'
        + str(ts) + ',"typ":' + json.dumps(typ) + ',"prev":' + json.dumps(prev)
        + ',"data":' + _dumps(data, sep) + "}"
    )
    raw = text.encode()
    if len(raw) > MAX_BODY:
        raise TooLarge("body is %d bytes; the limit is %d" % (len(raw), MAX_BODY))
    return raw


def _dumps(obj, sep) -> str:
    try:  # CPython: keep UTF-8 as is (MicroPython never escapes it)
        return json.dumps(obj, separators=sep, ensure_ascii=False)
    except TypeError:  # MicroPython's dumps has no ensure_ascii
        return json.dumps(obj, separators=sep)


def sign(key: bytes, topic: str, body: bytes) -> bytes:
    """Frame a body for `topic`: body + b"\\n" + hex MAC."""
    if len(body) > MAX_BODY:
        raise TooLarge("body is %d bytes; the limit is %d" % (len(body), MAX_BODY))
    return body + b"\n" + hmac_sha256_hex(check_key(key), topic.encode() + b"\n" + body)


def seal(key: bytes, dev: str, kind: str, seq: int, ts: int, typ: str,
         prev: str, data: dict) -> tuple:
    """Build, sign and frame one message.

    Returns: (topic, payload, chain hash of this body for the next `prev`).
    """
    body = make_body(dev, seq, ts, typ, prev, data, kind)
    name = make_topic(dev, kind)
    return name, sign(key, name, body), chain_hash(body)


def split(payload) -> tuple:
    """Separate (body, sig) without trusting either.

    Raises: TooLarge, Unsigned.
    """
    if not isinstance(payload, (bytes, memoryview)):
        payload = bytes(payload)  # a memoryview stays one: the terminal's receive buffer
    if len(payload) > MAX_PAYLOAD:
        raise TooLarge(
            "payload is %d bytes; a signed body is at most %d" % (len(payload), MAX_PAYLOAD)
        )
    cut = len(payload) - SIG_LEN - 1
    if cut < 0 or payload[cut] != 0x0A:
        raise Unsigned("payload does not end in a newline and a 64-character signature")
    body = payload[:cut]
    if len(body) > MAX_BODY:
        raise TooLarge("body is %d bytes; the limit is %d" % (len(body), MAX_BODY))
    return body, payload[cut + 1:]


def verify(key: bytes, topic, payload) -> dict:
    """Check a received message completely and return its body.

    The MAC is compared in constant time before the body is parsed.
    Raises: TooLarge, Unsigned, BadSignature, Malformed, WrongDevice.
    """
    dev, kind = parse_topic(topic)
    if kind not in TYPES:
        raise Malformed("status messages are not signed bodies")
    body, sig = split(payload)
    if isinstance(topic, str):
        topic = topic.encode()
    # In parts, not joined: on the terminal every copy of a command is heap.
    want = hmac_sha256_hex(check_key(key), topic, b"\n", body)
    if not equal(sig, want):
        raise BadSignature(
            "signature does not match: wrong device key, or the message was altered"
        )
    try:
        parsed = _loads(body)
    except (ValueError, UnicodeError):
        raise Malformed("body is not UTF-8 JSON")
    return check_body(parsed, dev, kind)


def _loads(body):
    """The JSON value of a UTF-8 body. A memoryview (the terminal's receive buffer)
    is parsed in place on MicroPython, whose json checks the UTF-8 of every string
    as it reads: no copy of the body on the terminal's heap."""
    if isinstance(body, memoryview):
        try:
            return json.loads(body)
        except TypeError:  # CPython's json takes no memoryview
            pass
    return json.loads(str(body, "utf-8"))


def check_fresh(seq: int, last_seq: int) -> int:
    """Refuse a seq at or below the last one accepted (terminal's command rule)."""
    if seq <= last_seq:
        raise Replayed(
            "seq %d is not above %d, the last one accepted: replayed or stale"
            % (seq, last_seq)
        )
    return seq


def pin_hash(key: bytes, seller: str, pin: str) -> str:
    """What a roster carries instead of a PIN: hex HMAC(key, "pin:" + seller + ":" + pin).

    Keyed with the device's own secret, so a captured roster cannot be
    brute-forced offline without the key.
    """
    return hmac_sha256_hex(check_key(key), ("pin:" + seller + ":" + pin).encode()).decode()


def pickup_hash(key: bytes, order, code: str) -> str:
    """What `order_new` carries instead of the pickup code (keyed like pin_hash)."""
    return hmac_sha256_hex(check_key(key), ("pickup:" + str(order) + ":" + code).encode()).decode()
