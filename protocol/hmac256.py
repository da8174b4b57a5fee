# HMAC-SHA256 over hashlib, for MicroPython (which ships no `hmac` module).
# SPDX-License-Identifier: MIT
#
# Written by hand because MicroPython has no hmac module; on CPython the
# tests prove it equal to the standard library's hmac on random inputs.
import binascii
import hashlib

_BLOCK = 64  # SHA-256 block size in bytes
_IPAD = bytes(0x36 for _ in range(_BLOCK))


def _xor(key, pad):
    return bytes(k ^ p for k, p in zip(key, pad))


def hmac_sha256(key: bytes, msg: bytes, *more) -> bytes:
    """RFC 2104 HMAC with SHA-256.

    Args: key (any length), msg, and any further parts of the message (hashed
    in order, as if concatenated: the terminal never builds the joined copy).
    Returns: the 32-byte MAC.
    """
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key + bytes(_BLOCK - len(key))
    inner = hashlib.sha256(_xor(key, _IPAD))
    inner.update(msg)
    for part in more:
        inner.update(part)
    outer = hashlib.sha256(bytes(k ^ 0x5C for k in key))
    outer.update(inner.digest())
    return outer.digest()


def hmac_sha256_hex(key: bytes, msg: bytes, *more) -> bytes:
    """The MAC as 64 lowercase hex characters (bytes)."""
    return binascii.hexlify(hmac_sha256(key, msg, *more))


def sha256_hex(data: bytes) -> str:
    """SHA-256 of data as lowercase hex text."""
    return binascii.hexlify(hashlib.sha256(data).digest()).decode()


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
