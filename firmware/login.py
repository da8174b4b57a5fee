# Who may use the terminal: the roster, PIN checks, failure counting and lockout.
# SPDX-License-Identifier: MIT
#
# Pure logic (no hardware, no asyncio), so the rules are tested directly.
# PINs never exist on the terminal: the roster carries
# protocol.pin_hash(key, seller, pin) and the keyed-in PIN is hashed the same
# way and compared in constant time against every seller's hash.
import protocol
from protocol import equal


class Roster:
    """Sellers as sent by the `roster` command: [{id, name, slots, pin, manager, price}]."""

    def __init__(self, sellers=None):
        self.sellers = []
        self.update(sellers or [])

    def update(self, sellers):
        good = []
        for s in sellers:
            if isinstance(s, dict) and isinstance(s.get("id"), str):
                slots = s.get("slots")
                # RAM: only the fields the terminal uses; a name is shown on one line.
                k = {"id": s["id"], "slots": [x for x in slots if type(x) is int]
                     if isinstance(slots, list) else []}
                for f in ("pin", "manager", "price"):
                    if f in s:
                        k[f] = s[f]
                if isinstance(s.get("name"), str):
                    k["name"] = s["name"][:24]
                good.append(k)
        self.sellers = good

    def by_slot(self, slot):
        for s in self.sellers:
            if slot in s["slots"]:
                return s
        return None

    def by_id(self, seller):
        for s in self.sellers:
            if s["id"] == seller:
                return s
        return None

    def by_pin(self, key, pin):
        """The seller whose PIN hash matches, or None. Checks every seller, every time."""
        found = None
        for s in self.sellers:
            want = s.get("pin")
            if not isinstance(want, str):
                continue
            got = protocol.pin_hash(key, s["id"], pin)
            if equal(got.encode(), want.encode()) and found is None:
                found = s
        return found

    def add_slot(self, seller, slot):
        s = self.by_id(seller)
        if s is not None and slot not in s["slots"]:
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
