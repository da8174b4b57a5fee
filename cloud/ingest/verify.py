"""EventVerifier: protocol.verify's rules at CPython speed, for the ingestion's hot path.

protocol/hmac256.py computes HMAC-SHA256 by hand because MicroPython has no
`hmac` module; on CPython the standard library's C `hmac` does the same sum
several times faster, and a per-key HMAC object primed with the key (copied
per message) skips the key schedule. Everything else is protocol's own code
(parse_topic, split, check_body), in protocol.verify's order: size, framing,
topic, MAC in constant time, then JSON and fields. tests/test_ingest_verify.py
runs every protocol vector through both and requires the same outcome.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from fingerpos import protocol


class EventVerifier:
    def __init__(self, max_keys: int = 100_000) -> None:
        self._primed: dict[bytes, hmac.HMAC] = {}
        self._max_keys = max_keys

    def verify(self, key: bytes, topic: str, payload: bytes) -> dict:
        """Same contract as protocol.verify: the checked body, or a ProtocolError."""
        dev, kind = protocol.parse_topic(topic)
        if kind not in (protocol.EVT, protocol.CMD):
            raise protocol.Malformed("status messages are not signed bodies")
        body, sig = protocol.split(payload)
        primed = self._primed.get(key)
        if primed is None:
            if len(key) != protocol.KEY_LEN:
                raise ValueError("a device key is exactly 32 bytes")
            if len(self._primed) >= self._max_keys:
                self._primed.clear()
            primed = self._primed[key] = hmac.new(key, digestmod=hashlib.sha256)
        mac = primed.copy()
        mac.update(topic.encode() + b"\n" + body)
        if not hmac.compare_digest(sig, mac.hexdigest().encode()):
            raise protocol.BadSignature(
                "signature does not match: wrong device key, or the message was altered")
        try:
            parsed = json.loads(body.decode())
        except (ValueError, UnicodeError):
            raise protocol.Malformed("body is not UTF-8 JSON") from None
        return protocol.check_body(parsed, dev, kind)
