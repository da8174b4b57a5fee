# fingerpos protocol v1: errors, topic names, HMAC-SHA256, and the signed body's
# framing, signing and verification. Pure, no I/O; the same code runs on CPython
# and on MicroPython (the terminal). See protocol/README.md for the wire format.
# SPDX-License-Identifier: MIT
#
# One module, not four: on the terminal every module costs its path, its name and
# its globals dict for good (interned names, firmware/README.md "RAM"). What only
# the cloud and the tools use lives apart, never loaded on the terminal: host.py
# (seal: build, sign and frame in one call; errors by code), chain.py (seq/hash-chain
# tracking) and subscriptions.py (topic filters).
#
# payload = body + b"\n" + sig
# sig     = hex(HMAC-SHA256(key, topic + b"\n" + body)), 64 lowercase chars
# The receiver verifies the MAC over the exact bytes received, in constant
# time, before it parses anything; nobody ever re-serialises a body.
#
# HMAC-SHA256 is written by hand because MicroPython has no hmac module; on
# CPython the tests prove it equal to the standard library's hmac on random inputs.
import binascii
import hashlib
import json

# -- errors: the one exception family every receiver raises ------------------
# Each class carries a short `code` that receivers use as a metrics label
# (`fingerpos_dropped_total{reason="bad_signature"}`), and a message that
# tells the person reading a log what to check.


class ProtocolError(ValueError):
    """Base class: the message was dropped. `code` names the reason."""

    code = "protocol"


class Malformed(ProtocolError):
    """Framing, JSON or a body field is not what protocol v1 allows."""

    code = "malformed"


class TooLarge(ProtocolError):
    """The body is over 4096 bytes (or the payload over 4161)."""

    code = "too_large"


class BadSignature(ProtocolError):
    """The MAC does not match: wrong key, or the bytes were changed."""

    code = "bad_signature"


class Unsigned(BadSignature):
    """The payload carries no signature line at all."""

    code = "unsigned"


class WrongDevice(ProtocolError):
    """The body's `dev` is not the device named by the topic."""

    code = "wrong_device"


class Replayed(ProtocolError):
    """The `seq` is not above the last one the receiver accepted."""

    code = "replayed"



# -- topics: names, their parser, and device ids -----------------------------
PREFIX = "fp/v1/dev/"
EVT = "evt"
CMD = "cmd"
STATUS = "status"
# What the cloud subscribes to (EVT_FILTER, shared(), ...) is in
# protocol/subscriptions.py: the terminal never loads it (RAM: every module-level
# name is interned for good on the terminal, see firmware/README.md).


def valid_device_id(dev) -> bool:
    """True when dev matches `[A-Za-z0-9_-]{1,32}`."""
    if not isinstance(dev, str) or not 1 <= len(dev) <= 32:
        return False
    for ch in dev:
        if ch not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-":
            return False
    return True


def check_device_id(dev) -> str:
    """Return dev, or raise Malformed saying what a device id may hold."""
    if not valid_device_id(dev):
        raise Malformed(
            "device id %r is not 1-32 characters of A-Z a-z 0-9 _ -" % (dev,)
        )
    return dev


def topic(dev: str, kind: str) -> str:
    """`fp/v1/dev/{dev}/{kind}` for kind in evt, cmd, status."""
    check_device_id(dev)
    if kind not in (EVT, CMD, STATUS):
        raise Malformed("topic kind %r is not one of evt, cmd, status" % (kind,))
    return PREFIX + dev + "/" + kind


def evt_topic(dev: str) -> str:
    return topic(dev, EVT)


def cmd_topic(dev: str) -> str:
    return topic(dev, CMD)


def status_topic(dev: str) -> str:
    return topic(dev, STATUS)


def parse_topic(name) -> tuple:
    """Split a topic into (device id, kind).

    Accepts str or bytes. Raises Malformed for anything that is not exactly
    `fp/v1/dev/{id}/{evt|cmd|status}`.
    """
    if isinstance(name, (bytes, bytearray, memoryview)):
        try:
            name = bytes(name).decode()
        except UnicodeError:
            raise Malformed("topic is not UTF-8")
    if not isinstance(name, str) or not name.startswith(PREFIX):
        raise Malformed("topic %r does not start with %s" % (name, PREFIX))
    rest = name[len(PREFIX):]
    slash = rest.find("/")
    if slash < 0:
        raise Malformed("topic %r names no kind (evt, cmd, status)" % (name,))
    dev, kind = rest[:slash], rest[slash + 1:]
    check_device_id(dev)
    if kind not in (EVT, CMD, STATUS):
        raise Malformed("topic %r: kind must be evt, cmd or status" % (name,))
    return dev, kind


# -- HMAC-SHA256 over hashlib ------------------------------------------------
def hmac_sha256(key: bytes, msg: bytes, *more) -> bytes:
    """RFC 2104 HMAC with SHA-256.

    Args: key (any length), msg, and any further parts of the message (hashed
    in order, as if concatenated: the terminal never builds the joined copy).
    Returns: the 32-byte MAC.
    """
    if len(key) > 64:  # SHA-256's block size
        key = hashlib.sha256(key).digest()
    key = key + bytes(64 - len(key))
    inner = hashlib.sha256(bytes(k ^ 0x36 for k in key))
    inner.update(msg)
    for part in more:
        inner.update(part)
    outer = hashlib.sha256(bytes(k ^ 0x5C for k in key))
    outer.update(inner.digest())
    return outer.digest()


def hmac_sha256_hex(key: bytes, msg: bytes, *more) -> bytes:
    """The MAC as 64 lowercase hex characters (bytes)."""
    return binascii.hexlify(hmac_sha256(key, msg, *more))


def equal(a: bytes, b: bytes) -> bool:
    """Constant-time comparison of two byte strings.

    The time depends only on the length, which is public (a MAC is always
    64 hex characters), never on where the first difference is.
    """
    if len(a) != len(b):
        return False
    diff = 0
    for x, y in zip(a, b):
        diff |= x ^ y
    return diff == 0


# -- bodies: building, framing, signing, verification ---------------------------
MAX_BODY = 4096
MAX_PAYLOAD = MAX_BODY + 1 + 64  # body, newline, signature
MAX_SEQ = (1 << 53) - 1  # largest integer every JSON parser keeps exact
KEY_LEN = 32
# Also fixed, written out where used: version 1 (body field v), a signature of
# 64 hex characters, a prev of 32.

EVENT_TYPES = (
    "boot", "heartbeat", "enrol", "login", "alarm", "sale", "ack",
    "price_change", "printed", "shift", "refund",
)
COMMAND_TYPES = (
    "ack", "time", "roster", "order_new", "order_update", "price_result",
    "print", "enrol_start", "lock", "unlock", "alarm_off", "config", "catalog",
    "refund_new", "refund_update",
)
FIELDS = ("v", "dev", "seq", "ts", "typ", "prev", "data")
# RAM on the terminal: small helpers are written out where they are used; every
# function, parameter and module-level name is interned there for good.


def chain_hash(body: bytes) -> str:
    """The `prev` value the next message must carry: 32 hex of SHA-256(body)."""
    return binascii.hexlify(hashlib.sha256(body).digest()[:16]).decode()


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
    # type() is int, not isinstance: bool is an int on CPython; JSON true is not 1.
    if type(body["v"]) is not int or body["v"] != 1:
        raise Malformed("body field v must be 1, got %r" % (body["v"],))
    seq = body["seq"]
    if type(seq) is not int or not 1 <= seq <= MAX_SEQ:
        raise Malformed("seq must be an integer from 1 to 2^53-1, got %r" % (seq,))
    ts = body["ts"]
    if type(ts) is not int or not 0 <= ts <= MAX_SEQ:
        raise Malformed("ts must be unix seconds (0 = clock unset), got %r" % (ts,))
    typ = body["typ"]
    if typ not in (EVENT_TYPES if kind == EVT else COMMAND_TYPES if kind == CMD else ()):
        raise Malformed("typ %r is not a known %s type" % (typ, kind))
    prev = body["prev"]
    if prev != "" and not (isinstance(prev, str) and len(prev) == 32
                           and all(ch in "0123456789abcdef" for ch in prev)):
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
    body = {"v": 1, "dev": dev, "seq": seq, "ts": ts, "typ": typ,
            "prev": prev, "data": data}
    check_body(body, dev, kind)
    try:  # CPython: keep UTF-8 as is (MicroPython never escapes it)
        data_text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)  # type: ignore[call-overload]
    except TypeError:  # MicroPython's dumps has no ensure_ascii
        data_text = json.dumps(data, separators=(",", ":"))
    text = (
        '{"v":1,"dev":' + json.dumps(dev) + ',"seq":' + str(seq) + ',"ts":'
        + str(ts) + ',"typ":' + json.dumps(typ) + ',"prev":' + json.dumps(prev)
        + ',"data":' + data_text + "}"
    )
    raw = text.encode()
    if len(raw) > MAX_BODY:
        raise TooLarge("body is %d bytes; the limit is %d" % (len(raw), MAX_BODY))
    return raw


def sign(key: bytes, topic: str, body: bytes) -> bytes:
    """Frame a body for `topic`: body + b"\\n" + hex MAC."""
    if len(body) > MAX_BODY:
        raise TooLarge("body is %d bytes; the limit is %d" % (len(body), MAX_BODY))
    return body + b"\n" + hmac_sha256_hex(check_key(key), topic.encode() + b"\n" + body)


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
    cut = len(payload) - 64 - 1
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
    if kind == STATUS:
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
    # A memoryview (the terminal's receive buffer) is parsed in place on MicroPython,
    # whose json checks the UTF-8 of every string as it reads: no copy of the body on
    # the terminal's heap. CPython's json takes no memoryview: it gets the text.
    try:
        try:
            parsed = json.loads(body if isinstance(body, memoryview)  # type: ignore[type-var]
                                else str(body, "utf-8"))
        except TypeError:
            parsed = json.loads(str(body, "utf-8"))
    except (ValueError, UnicodeError):
        raise Malformed("body is not UTF-8 JSON")
    return check_body(parsed, dev, kind)


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
