# fingerpos protocol v1: the one exception family every receiver raises.
# SPDX-License-Identifier: MIT
#
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


# Class by code, so that test vectors and metrics can name them as text.
BY_CODE = {
    c.code: c
    for c in (Malformed, TooLarge, BadSignature, Unsigned, WrongDevice, Replayed)
}
