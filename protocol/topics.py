# fingerpos protocol v1: topic names, their parser, and device ids.
# SPDX-License-Identifier: MIT
from .errors import Malformed

PREFIX = "fp/v1/dev/"
EVT = "evt"
CMD = "cmd"
STATUS = "status"
KINDS = (EVT, CMD, STATUS)

# What the cloud subscribes to; the shared form lets several workers split
# the event stream between them (MQTT 5 shared subscriptions).
EVT_FILTER = PREFIX + "+/" + EVT
STATUS_FILTER = PREFIX + "+/" + STATUS
SHARE_GROUP = "fingerpos"

MAX_DEVICE_ID = 32


def shared(topic_filter: str, group: str = SHARE_GROUP) -> str:
    """The shared-subscription form of a filter: `$share/{group}/{filter}`."""
    return "$share/" + group + "/" + topic_filter


def _id_char_ok(c: str) -> bool:
    return ("a" <= c <= "z") or ("A" <= c <= "Z") or ("0" <= c <= "9") or c in "_-"


def valid_device_id(dev) -> bool:
    """True when dev matches `[A-Za-z0-9_-]{1,32}`."""
    if not isinstance(dev, str) or not 1 <= len(dev) <= MAX_DEVICE_ID:
        return False
    for c in dev:
        if not _id_char_ok(c):
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
    if kind not in KINDS:
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
    if kind not in KINDS:
        raise Malformed("topic %r: kind must be evt, cmd or status" % (name,))
    return dev, kind
