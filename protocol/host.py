# fingerpos protocol v1: what only the cloud, the tools and the tests use. Pure, no I/O.
# SPDX-License-Identifier: MIT
#
# Apart from __init__.py because the terminal never loads it: on MicroPython every
# function and module-level name of a loaded module stays on the 128 KiB heap for
# good (firmware/README.md "RAM"). The terminal builds a body (make_body, via its
# outbox) and signs it (sign) in two steps; seal does both for a sender that keeps
# no outbox.
from . import (
    BadSignature,
    Malformed,
    Replayed,
    TooLarge,
    Unsigned,
    WrongDevice,
    chain_hash,
    make_body,
    sign,
    topic,
)

# Class by code, so that test vectors and metrics can name them as text.
BY_CODE = {
    c.code: c
    for c in (Malformed, TooLarge, BadSignature, Unsigned, WrongDevice, Replayed)
}


def seal(key: bytes, dev: str, kind: str, seq: int, ts: int, typ: str,
         prev: str, data: dict) -> tuple:
    """Build, sign and frame one message.

    Returns: (topic, payload, chain hash of this body for the next `prev`).
    """
    body = make_body(dev, seq, ts, typ, prev, data, kind)
    name = topic(dev, kind)
    return name, sign(key, name, body), chain_hash(body)
