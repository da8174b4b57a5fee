# fingerpos protocol v1: pure, no I/O; the same code runs on CPython and on
# MicroPython (the terminal). See protocol/README.md for the wire format.
# SPDX-License-Identifier: MIT
from .errors import (  # noqa: F401
    BY_CODE,
    BadSignature,
    Malformed,
    ProtocolError,
    Replayed,
    TooLarge,
    Unsigned,
    WrongDevice,
)
from .frame import (  # noqa: F401
    COMMAND_TYPES,
    EVENT_TYPES,
    KEY_LEN,
    MAX_BODY,
    MAX_PAYLOAD,
    MAX_SEQ,
    broker_password,
    chain_hash,
    check_body,
    check_fresh,
    make_body,
    pickup_hash,
    pin_hash,
    seal,
    sign,
    split,
    verify,
)
from .topics import (  # noqa: F401
    CMD,
    EVT,
    EVT_FILTER,
    STATUS,
    STATUS_FILTER,
    cmd_topic,
    evt_topic,
    parse_topic,
    shared,
    status_topic,
    valid_device_id,
)
