# Who may use the terminal: the roster and PIN checks (failure counting and lockout:
# alarm.py's Guard).
# SPDX-License-Identifier: MIT
#
# Pure logic but Roster.login (the attempt's event and log), so the rules are tested directly.
# RAM: not resident (3.9 KB on the unix port). The app keeps the packed records
# (app.sellers) and loads this module for a lookup (App.roster()): a PIN or finger
# login, an enrolment, a `roster` command.
# PINs never exist on the terminal: the roster carries
# protocol.pin_hash(key, seller, pin) and the keyed-in PIN is hashed the same
# way and compared in constant time against every seller's hash.
import binascii
import json

import hal

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

    def used_slots(self):
        """Every slot some seller holds."""
        used = set()
        for r in self.sellers:
            used.update(slots(r))
        return used

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

    def login(self, app, method, seller, ok, slot=None, confidence=0):
        """Record one login attempt at app: event, failure count, alarm; returns ok.
        (Here, not in the app: RAM, this module is loaded only for a login.)"""
        alarm = False
        if ok:
            app.guard.succeed()
            app.seller = seller
            app.session_at = hal.ticks_ms()
            if app.alarm.on and seller.get("manager"):
                app.clear_alarm("manager " + seller["id"])
        else:
            alarm = app.guard.fail(hal.ticks_ms())
        data = {"method": method, "ok": ok, "confidence": confidence,
                "failures": app.guard.failures}
        if seller is not None:
            data["seller"] = seller["id"]
        if slot is not None:
            data["slot"] = slot
        app.emit_quiet("login", data)
        hal.log("login %s %s, failures %d" % (method, "ok" if ok else "failed", app.guard.failures))
        if alarm:
            app.alarm.start("failed_logins")
            app.emit_quiet("alarm", {"reason": "failed_logins", "level": app.guard.level,
                                      "on": True})
        return ok

    def add_slot(self, seller, slot):
        k = self.index(seller)
        if k is None:
            return None
        s = unpack(self.sellers[k])
        if slot not in s["slots"]:
            self.sellers[k] += bytes((slot >> 8, slot & 255))
            s["slots"].append(slot)
        return s


# -- after a sensor session (App.sensor_session, once the driver is out: RAM, the
# driver and this module did not fit together in 96 KiB) --
def session_over(app):
    """Log in the finger the session identified (app.found: slot or None, confidence)
    and take its enrolments (app.enrolled) into the roster."""
    found, app.found = app.found, None
    r = app.roster()
    if found is not None:
        slot, conf = found
        seller = r.by_slot(slot) if slot is not None else None
        left = app.lockout_left()
        who = app.seller
        if left and not (seller and seller.get("manager")):
            app.ui.notify("LOCKED %ds" % ((left + 999) // 1000))
        elif app.ui.state == "shift_manager":  # an approval (shift.py): the session stays who's
            ok = r.login(app, "finger", seller, seller is not None, slot, conf)
            app.seller = who
            __import__("shift").finish(app.ui, seller if ok else None)
            app.ui.show()
        elif r.login(app, "finger", seller, seller is not None, slot, conf):
            app.ui.logged_in()
        else:
            app.ui.failed()
    # enrol.json is cleared only once the slot is in roster.json: a reset or a flash
    # error before leaves it for the next session (sensor.py sends the event again,
    # the cloud takes a repeated enrol of a slot as one).
    try:
        while app.enrolled:
            seller, slot = app.enrolled[-1]
            r.add_slot(seller, slot)
            r.save(app.store)
            app.enrolled.pop()
            app.store.save("enrol", {})
    except OSError as e:  # never keep the link suspended for it
        app.enrolled = []
        hal.log("enrol: roster not saved: %s" % e)


# -- the `roster` command (App.on_message loads this module for it, not handlers.py:
# RAM, the two are never loaded together) --
def roster(app, data):
    sellers = data.get("sellers")
    if not isinstance(sellers, list):
        raise ValueError("sellers must be a list")
    # RAM: the old roster goes before the new one is built: the two and the parsed
    # command did not fit together with a 4 KB roster (issue #13). Should this fail,
    # the command is not committed and comes again; roster.json keeps the old one.
    app.sellers = []
    r = Roster(sellers)
    app.sellers = r.sellers
    r.save(app.store)
    if app.seller is not None and r.by_id(app.seller["id"]) is None:
        app.logout()  # removed from the roster: the session ends now


TABLE = {"roster": roster}
