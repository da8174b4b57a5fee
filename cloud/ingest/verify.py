"""EventVerifier: protocol.verify's rules at CPython speed, for the ingestion's hot path.

protocol/__init__.py computes HMAC-SHA256 by hand because MicroPython has no
`hmac` module; on CPython the standard library's one-shot `hmac.digest` does
the same sum in one C call (OpenSSL), several times faster. Everything else is protocol's own code
(parse_topic, split, check_body), in protocol.verify's order: size, framing,
topic, MAC in constant time, then JSON and fields. Two more shortcuts for the
common case, each falling back to protocol's own code for anything unusual so
errors stay exactly protocol's: the JSON text goes to the C scanner directly
(json.loads adds two regex passes for surrounding whitespace), and a body
that passes one flat test of its seven fields skips check_body's per-field
loops (its hex check walks `prev` character by character).
tests/test_ingest_verify.py runs every protocol vector, altered payloads and
signed bodies with random fields through both and requires the same outcome.
"""

from __future__ import annotations

import hmac
import json
import re

from fingerpos import protocol

_scan = json.scanner.make_scanner(json.JSONDecoder())  # the C scanner of json.loads
_FIELDS = frozenset(protocol.FIELDS)
_PREV = re.compile("[0-9a-f]{32}")
_EVENT_TYPES = frozenset(protocol.EVENT_TYPES)
_COMMAND_TYPES = frozenset(protocol.COMMAND_TYPES)


def parse_json(text: str) -> object:
    """json.loads(text), through the C scanner at once when the text is compact."""
    try:
        obj, end = _scan(text, 0)
    except (StopIteration, ValueError):
        return json.loads(text)  # leading whitespace, or not JSON: json.loads decides
    if end != len(text):
        return json.loads(text)  # trailing whitespace is fine, anything else is not
    return obj


def check_body(body: object, dev: str, kind: str) -> dict:
    """protocol.check_body with a flat fast path for a well-formed body."""
    if type(body) is dict and len(body) == 7 and body.keys() == _FIELDS:
        v, seq, ts, typ, prev = body["v"], body["seq"], body["ts"], body["typ"], body["prev"]
        if (type(v) is int and v == 1 and type(seq) is int and 1 <= seq <= protocol.MAX_SEQ
                and type(ts) is int and 0 <= ts <= protocol.MAX_SEQ
                and type(typ) is str
                and typ in (_EVENT_TYPES if kind == protocol.EVT else _COMMAND_TYPES)
                and (prev == "" or (type(prev) is str and _PREV.fullmatch(prev)))
                and type(body["data"]) is dict and body["dev"] == dev):
            return body
    return protocol.check_body(body, dev, kind)  # raises protocol's own error


class EventVerifier:
    """Stateless; a class so the ingestion can hold one and tests can swap it."""

    def verify(self, key: bytes, topic: str, payload: bytes) -> dict:
        """Same contract as protocol.verify: the checked body, or a ProtocolError."""
        dev, kind = protocol.parse_topic(topic)
        if kind not in (protocol.EVT, protocol.CMD):
            raise protocol.Malformed("status messages are not signed bodies")
        return self._verify(key, topic.encode(), dev, kind, payload)

    def verify_event(self, key: bytes, topic: bytes, dev: str, payload: bytes) -> dict:
        """verify() for an event whose topic bytes the caller already parsed (device `dev`)."""
        return self._verify(key, topic, dev, protocol.EVT, payload)

    def _verify(self, key: bytes, topic: bytes, dev: str, kind: str, payload: bytes) -> dict:
        body, sig = protocol.split(payload)
        if len(key) != protocol.KEY_LEN:
            raise ValueError("a device key is exactly 32 bytes")
        mac = hmac.digest(key, topic + b"\n" + body, "sha256")  # one C call, no objects
        if not hmac.compare_digest(sig, mac.hex().encode()):
            raise protocol.BadSignature(
                "signature does not match: wrong device key, or the message was altered")
        try:
            parsed = parse_json(body.decode())
        except (ValueError, UnicodeError, RecursionError):
            raise protocol.Malformed("body is not UTF-8 JSON") from None
        return check_body(parsed, dev, kind)
