# Who may use the terminal: the roster, PIN checks, failure counting and lockout.
# SPDX-License-Identifier: MIT
#
# Pure logic (no hardware, no asyncio), so the rules are tested directly.
# PINs never exist on the terminal: the roster carries
# protocol.pin_hash(key, seller, pin) and the keyed-in PIN is hashed the same
# way and compared in constant time against every seller's hash.
import binascii
import json

import protocol
from protocol import equal


# RAM: a seller is kept as one bytes record, not a dict: flags (1 manager, 2 price, 4 has
# a PIN hash), id length, id, name length, name (UTF-8, 24 characters at most), the 32-byte
# PIN hash, then the slots as big-endian 16-bit numbers (the R307 holds 1000 templates).
# A roster at the 4 KB body limit (24 sellers) holds 3.4 KB on the unix port, not 11.8 KB
# of dicts; that was the margin an enrolment right after one lacked (issue #13).
# (Helper and argument names are ones the firmware interns anyway, or built in.)
def pack(s):
    """The record of a roster entry, or None when its id is unusable."""
    i = s["id"].encode()
    if not 0 < len(i) < 256:
        return None
    name = s.get("name")
    n = name[:24].encode() if isinstance(name, str) else b""
    pin = s.get("pin")
    try:  # a PIN hash is 64 hex digits (protocol.pin_hash); anything else matches nothing
        pin = binascii.unhexlify(pin) if isinstance(pin, str) and len(pin) == 64 else b""
    except ValueError:
        pin = b""
    got = s.get("slots")
    got = [x for x in got if type(x) is int and 0 <= x < 65536] if isinstance(got, list) else []
    b = bytearray(2 * len(got))
    for k, x in enumerate(got):
        b[2 * k], b[2 * k + 1] = x >> 8, x & 255
    flags = (1 if s.get("manager") else 0) | (2 if s.get("price") else 0) | (4 if pin else 0)
    return bytes((flags, len(i))) + i + bytes((len(n),)) + n + pin + b


def slots(r):
    """The slot numbers of a record."""
    p = 3 + r[1] + r[2 + r[1]] + (32 if r[0] & 4 else 0)
    return [r[j] << 8 | r[j + 1] for j in range(p, len(r) - 1, 2)]


def unpack(r, pin=False):
    """The dict of a record: id, slots, and name, manager, price when set (pin on request)."""
    f, i = r[0], 2 + r[1]
    n = i + 1 + r[i]
    d = {"id": r[2:i].decode(), "slots": slots(r)}
    if n > i + 1:
        d["name"] = r[i + 1:n].decode()
    if f & 1:
        d["manager"] = True
    if f & 2:
        d["price"] = True
    if pin and f & 4:
        d["pin"] = binascii.hexlify(r[n:n + 32]).decode()
    return d


class Roster:
    """Sellers as sent by the `roster` command: [{id, name, slots, pin, manager, price}].
    Lookups answer a dict of the one seller; `sellers` holds the records (pack())."""

    def __init__(self, sellers=None):
        self.sellers = []
        self.update(sellers or [])

    def update(self, sellers):
        good = []
        for s in sellers:
            if isinstance(s, dict) and isinstance(s.get("id"), str):
                r = pack(s)
                if r is not None:
                    good.append(r)
        self.sellers = good

    def save(self, store):
        """roster.json as the `roster` command's data, one seller in RAM at a time."""
        store.save("roster", self.sellers, self.dump)

    def dump(self, value, f):
        f.write('{"sellers": [')
        for k, r in enumerate(value):
            if k:
                f.write(", ")
            json.dump(unpack(r, True), f)
        f.write('], "n": %d}' % len(value))

    def index(self, seller):
        b = seller.encode()
        for k, r in enumerate(self.sellers):
            if r[2:2 + r[1]] == b:
                return k
        return None

    def by_slot(self, slot):
        for r in self.sellers:
            if slot in slots(r):
                return unpack(r)
        return None

    def by_id(self, seller):
        k = self.index(seller)
        return None if k is None else unpack(self.sellers[k])

    def by_pin(self, key, pin):
        """The seller whose PIN hash matches, or None. Checks every seller, every time."""
        found = None
        for r in self.sellers:
            if not r[0] & 4:
                continue
            i = 2 + r[1]
            n = i + 1 + r[i]
            got = binascii.unhexlify(protocol.pin_hash(key, r[2:i].decode(), pin))
            if equal(got, r[n:n + 32]) and found is None:
                found = r
        return None if found is None else unpack(found)

    def add_slot(self, seller, slot):
        k = self.index(seller)
        if k is None:
            return None
        s = unpack(self.sellers[k])
        if slot not in s["slots"]:
            self.sellers[k] += bytes((slot >> 8, slot & 255))
            s["slots"].append(slot)
        return s


class Guard:
    """Failed-login counting with a lockout that doubles up to a cap.

    `failures` and `level` survive reboots through save(dict) (the caller's
    store); after max_failures failures each further failure (and the one that
    reaches it) starts a lockout of lockout_s * 2**level seconds, capped.
    """

    def __init__(self, settings, saved=None, save=None):
        self.max_failures = settings["max_failures"]
        self.lockout_ms = settings["lockout_s"] * 1000
        self.cap_ms = settings["lockout_cap_s"] * 1000
        saved = saved or {}
        self.failures = saved.get("failures", 0)
        self.level = saved.get("level", 0)
        self.save = save
        self.until = None  # (ticks when the lockout ends, its length), None when not locked

    def _persist(self):
        if self.save is not None:
            self.save({"failures": self.failures, "level": self.level})

    def start(self, now):
        """After a reboot: a terminal that was over the limit starts locked again."""
        if self.failures >= self.max_failures:
            self._lock(now, self.level - 1 if self.level else 0)

    def _lock(self, now, level):
        ms = self.lockout_ms << level
        if ms > self.cap_ms:
            ms = self.cap_ms
        self.until = (now + ms, ms)

    def locked(self, now, diff):
        """Milliseconds of lockout left (0 when free). diff is ticks_diff."""
        if self.until is None:
            return 0
        left = diff(self.until[0], now)
        if left <= 0:
            self.until = None
            return 0
        return left

    def fail(self, now):
        """Count a failure. Returns True when it raises the alarm (a lockout started)."""
        self.failures += 1
        alarm = self.failures >= self.max_failures
        if alarm:
            self._lock(now, self.level)
            self.level += 1
        self._persist()
        return alarm

    def succeed(self):
        if self.failures or self.level:
            self.failures = 0
            self.level = 0
            self._persist()
        self.until = None

    def clear(self):
        """Manager or cloud cleared the alarm: lockout ends, counting restarts."""
        self.succeed()
