# Commands from the cloud: verified (MAC, device, freshness) before anything acts on them.
# SPDX-License-Identifier: MIT
#
# Bad commands are dropped and counted by reason (protocol error codes). The
# last accepted seq lives in flash so a replay is refused after a reboot too.
# Flash wear: `ack` commands arrive about as often as events, so their seq is
# written only every _ACK_SAVE_EVERY-th time (or with the next other command);
# a replayed old `ack` after a reboot can only acknowledge what the cloud had
# already committed, so it is harmless. Every other command is saved at once.
import hal
from micropython import const
from outbox import OutboxFull

import protocol

_ACK_SAVE_EVERY = const(32)


class CommandGate:
    """verify(topic, payload) -> body or None; counts what it refused in `bad`."""

    def __init__(self, key, dev, store):
        self.key = key
        self.dev = dev
        self.store = store
        self.last_seq = store.load("cmdseq", {"seq": 0}).get("seq", 0)
        self.bad = {}
        self.accepted = 0
        self._unsaved = 0
        self.ooms = None  # the tail of a command whose parsing ran out of heap

    def verify(self, topic, payload, commit=True):
        """The command's body, or None (counted in `bad`). commit=False leaves the
        seq for commit(body) once the command was carried out: one that failed for
        want of heap is then taken again when the broker redelivers it."""
        body = None
        try:
            try:
                body = protocol.verify(self.key, topic, payload)
            except MemoryError:
                # No free block for the parsed command (the heap fragments). The first
                # time, up to the caller (the MQTT session restarts, the broker sends it
                # again); the same command again is dropped and counted, not parsed
                # forever: three MemoryErrors in a minute would reset the terminal.
                tail = bytes(payload[-16:])
                if tail != self.ooms:
                    self.ooms = tail
                    raise
                raise protocol.ProtocolError("no heap to parse %d bytes" % len(payload))
            dev, kind = protocol.parse_topic(topic)
            if kind != protocol.CMD or dev != self.dev:
                raise protocol.WrongDevice("command for %s/%s" % (dev, kind))
            protocol.check_fresh(body["seq"], self.last_seq)
        except protocol.ProtocolError as e:
            self.bad[e.code] = self.bad.get(e.code, 0) + 1
            # The terminal's protocol has no error texts (RAM, tools/device/protocol_trim.py):
            # the code and the seq numbers tell a technician what was refused.
            print("cmd: dropped (%s): seq %s, last %d" % (
                e.code, body.get("seq") if isinstance(body, dict) else None, self.last_seq))
            return None
        if commit:
            self.commit(body)
        return body

    def commit(self, body):
        """Remember body's seq as the last one carried out (replays are refused)."""
        self.last_seq = body["seq"]
        self.accepted += 1
        self._unsaved += 1
        if body["typ"] != "ack" or self._unsaved >= _ACK_SAVE_EVERY:
            self.store.save("cmdseq", {"seq": self.last_seq})
            self._unsaved = 0

    def run(self, app, typ, fn, data):
        """Carry out a verified command: data its type cannot take is logged and
        counted (bad["bad_data"]), never raised into the MQTT loop."""
        try:
            fn(app, data)
            hal.log("cmd %s applied" % typ)
        except (ValueError, TypeError, KeyError, OutboxFull) as e:
            self.bad["bad_data"] = self.bad.get("bad_data", 0) + 1
            hal.log("cmd %s: bad data: %s" % (typ, e))
        except OSError as e:  # flash full or failing: the command is lost, say so
            hal.log("cmd %s: flash: %s" % (typ, e))

    def bad_total(self):
        return sum(self.bad.values())
