# Unit checks of the firmware's pure parts under MicroPython: command gate, login rules.
# Usage: micropython -X heapsize=128k fw_units.py REPO WORKDIR
# Prints "PASS name" / "FAIL name: why" per check, then "N passed, M failed".
import sys

root, work = sys.argv[1], sys.argv[2]
sys.path.insert(0, root + "/firmware")
sys.path.insert(0, root)

import json  # noqa: E402

from alarm import Guard  # noqa: E402
from commands import CommandGate  # noqa: E402
from login import Roster, unpack  # noqa: E402
from store import Store  # noqa: E402

import protocol  # noqa: E402
from protocol.host import seal  # noqa: E402

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))
results = [0, 0]


def check(name, ok, why=""):
    if ok:
        results[0] += 1
        print("PASS", name)
    else:
        results[1] += 1
        print("FAIL %s: %s" % (name, why))


def cmd(seq, typ="time", data=None, dev="t1", key=KEY, topic_dev=None):
    topic, payload, _ = seal(key, dev, "cmd", seq, 0, typ, "", data or {"now": 1})
    if topic_dev:
        topic = protocol.cmd_topic(topic_dev)
    return topic, payload


# -- CommandGate ------------------------------------------------------------
store = Store(work)
gate = CommandGate(KEY, "t1", store)
t, p = cmd(5)
check("good command accepted", gate.verify(t, p) is not None)
check("replay refused", gate.verify(t, p) is None and gate.bad.get("replayed") == 1, gate.bad)
t, p = cmd(4)
check("older seq refused", gate.verify(t, p) is None and gate.bad.get("replayed") == 2, gate.bad)
t, p = cmd(6, key=OTHER)
check("forged (wrong key) refused", gate.verify(t, p) is None and gate.bad.get("bad_signature") == 1,
      gate.bad)
t, p = cmd(7)
flipped = p[:-1] + (b"0" if p[-1:] != b"0" else b"1")
check("flipped signature refused", gate.verify(t, flipped) is None and gate.bad.get("bad_signature") == 2)
t, p = cmd(8, dev="t2")
check("other device's command refused", gate.verify(t, p) is None, gate.bad)
t, p = cmd(9, dev="t2", topic_dev="t1")
check("body for t2 on t1's topic refused", gate.verify(t, p) is None, gate.bad)
topic, payload, _ = seal(KEY, "t1", "evt", 10, 0, "boot", "", {"fw": "x"})
check("event replayed as a command refused", gate.verify(protocol.cmd_topic("t1"), payload) is None)
body = b'{"v":1,"dev":"t1"'
check("truncated JSON refused", gate.verify(protocol.cmd_topic("t1"),
                                            protocol.sign(KEY, protocol.cmd_topic("t1"), body)) is None
      and gate.bad.get("malformed", 0) >= 1, gate.bad)
check("unsigned refused", gate.verify(protocol.cmd_topic("t1"), b'{"v":1}') is None
      and gate.bad.get("unsigned") == 1, gate.bad)
check("huge payload refused", gate.verify(protocol.cmd_topic("t1"), b"x" * 5000) is None
      and gate.bad.get("too_large") == 1, gate.bad)
check("garbage topic refused", gate.verify(b"\xff\xfe", b"") is None)
check("last seq unchanged by bad ones", gate.last_seq == 5, gate.last_seq)
t, p = cmd(11)
check("next good command accepted", gate.verify(t, p) is not None and gate.accepted == 2)
gate2 = CommandGate(KEY, "t1", Store(work))
t, p = cmd(11)
check("replay refused after a reboot", gate2.verify(t, p) is None and gate2.last_seq == 11,
      gate2.last_seq)
# acks are saved lazily (flash wear); others at once
for s in range(12, 15):
    t, p = cmd(s, "ack", {"upto": s})
    gate2.verify(t, p)
check("ack seqs not written each time", Store(work).load("cmdseq", {})["seq"] == 11)
t, p = cmd(15, "lock", {})
gate2.verify(t, p)
check("other commands written at once", Store(work).load("cmdseq", {})["seq"] == 15)

# A command carried out only after verify(commit=False): until commit(), the same
# message is taken again (the broker's redelivery after a MemoryError), then refused.
t, p = cmd(16, "roster", {"sellers": []})
check("uncommitted command leaves the seq", gate2.verify(t, p, False) is not None
      and gate2.last_seq == 15, gate2.last_seq)
body = gate2.verify(t, p, False)
check("uncommitted command is taken again", body is not None and body["seq"] == 16)
gate2.commit(body)
check("committed command is then a replay", gate2.verify(t, p) is None
      and Store(work).load("cmdseq", {})["seq"] == 16)
# A command in a view of a reused receive buffer (what the MQTT client hands over).
t, p = cmd(17, "time", {"now": 5})
rx = bytearray(len(p) + 40)
rx[:len(p)] = p
body = gate2.verify(t, memoryview(rx)[:len(p)])
check("command verified from a buffer view", body is not None and body["data"] == {"now": 5})

# -- Roster / PIN -----------------------------------------------------------
roster = Roster([
    {"id": "s1", "name": "Ana", "slots": [3], "pin": protocol.pin_hash(KEY, "s1", "1111"),
     "manager": True},
    {"id": "s2", "name": "Ben", "slots": [4, "x"], "pin": protocol.pin_hash(KEY, "s2", "2222")},
    {"id": 5}, "junk",
])
check("roster keeps valid sellers", [unpack(r)["id"] for r in roster.sellers] == ["s1", "s2"])
check("bad slots dropped", roster.by_id("s2")["slots"] == [4])
check("pin finds its seller", roster.by_pin(KEY, "2222")["id"] == "s2")
check("wrong pin finds nobody", roster.by_pin(KEY, "1112") is None)
check("pin of s1 is not s2's", roster.by_pin(KEY, "1111")["id"] == "s1")
check("pin under another key fails", roster.by_pin(OTHER, "1111") is None)
check("slot lookup", roster.by_slot(3)["id"] == "s1" and roster.by_slot(9) is None)
big = Roster([{"id": "s3", "name": "N" * 500, "slots": [], "photo": "x" * 2000, "pin": "ab"}])
check("roster keeps only what the terminal reads (a malformed PIN hash matches nothing)",
      [unpack(r, True) for r in big.sellers] == [{"id": "s3", "name": "N" * 24, "slots": []}],
      big.sellers)
check("a seller's flags", roster.by_id("s1").get("manager") is True
      and roster.by_id("s2").get("manager") is None)
# R307: 1000 templates, so slots go past 255; Chinese names are cut by characters
cn = Roster([{"id": "店员7", "name": "收银员" * 10, "slots": [999, 300],
              "pin": protocol.pin_hash(KEY, "店员7", "0000"), "price": True},
             {"id": "s9", "pin": "zz" * 32, "slots": [1]}, {"id": ""}, {"id": "x" * 300}])
check("slots past 255 and a Chinese id", cn.by_slot(999)["id"] == "店员7"
      and cn.by_slot(300)["name"] == "收银员" * 8 and cn.by_pin(KEY, "0000")["price"] is True)
check("a non-hex PIN hash and unusable ids are refused, not raised",
      [unpack(r)["id"] for r in cn.sellers] == ["店员7", "s9"] and cn.by_pin(KEY, "0000")["id"] == "店员7")
check("add_slot keeps the seller's other fields", cn.add_slot("s9", 1000)["slots"] == [1, 1000]
      and cn.by_slot(1000)["id"] == "s9" and cn.add_slot("nobody", 3) is None)
saved_roster = {}


class _Mem:
    path = "/dev/null"

    def save(self, name, value, dump):
        import io
        f = io.StringIO()
        dump(value, f)
        saved_roster[name] = json.loads(f.getvalue())


cn.save(_Mem())
again = Roster(saved_roster["roster"]["sellers"])
check("roster.json round trip", again.sellers == cn.sellers and
      saved_roster["roster"]["sellers"][0]["pin"] == protocol.pin_hash(KEY, "店员7", "0000"))
del cn, again, big

# -- Guard: failures, lockout doubling to the cap, survives reboot -----------
settings = {"max_failures": 3, "lockout_s": 30, "lockout_cap_s": 100}
saved = {}


def save(d):
    saved.clear()
    saved.update(d)


def diff(a, b):
    return a - b


g = Guard(settings, {}, save)
check("two failures: no alarm", not g.fail(0) and not g.fail(0) and g.locked(0, diff) == 0)
check("third failure: alarm", g.fail(1000) and g.locked(1000, diff) == 30000)
check("locked until 31 s", g.locked(30999, diff) == 1 and g.locked(31000, diff) == 0)
check("fourth failure doubles", g.fail(40000) and g.locked(40000, diff) == 60000)
check("fifth failure hits the cap", g.fail(200000) and g.locked(200000, diff) == 100000)
check("count persisted", saved == {"failures": 5, "level": 3}, saved)
g2 = Guard(settings, dict(saved), save)
g2.start(500)
check("reboot restarts the lockout", g2.failures == 5 and g2.locked(500, diff) == 100000)
g2.succeed()
check("success clears", g2.failures == 0 and g2.locked(600, diff) == 0 and saved["failures"] == 0)
g3 = Guard(settings, {}, save)
g3.fail(0)
g3.clear()
check("clear resets", g3.failures == 0 and saved == {"failures": 0, "level": 0})

# -- Sale: payment.amount is the total charged, tendered the cash handed over ---------
import gc  # noqa: E402
import os  # noqa: E402

for name in ("commands", "login"):  # room to compile catalog.py and sale.py from source
    sys.modules.pop(name, None)
gc.collect()
from catalog import Catalog  # noqa: E402
from sale import Sale, SaleError  # noqa: E402

catdir = work + "/cat"
os.mkdir(catdir)
cstore = Store(catdir)
cat = Catalog(catdir, cstore)
check("no catalogue: no price", cat.get("101") is None)
cat.page({"items": [{"sku": "101", "name": "Tea", "price": 250, "currency": "EUR"},
                    {"sku": "102", "name": "Cup " * 100, "price": 900}, {"sku": "103", "price": -1},
                    {"sku": "9" * 65, "price": 1}, {"sku": "104", "price": 5, "currency": "EURO"},
                    "junk", {"sku": "\u8336", "price": 300, "currency": "CNY"}]})
check("single-page catalogue (older cloud): price and currency per SKU, bad items skipped",
      (cat.get("101"), cat.get("102"), cat.get("103"), cat.get("104"), cat.get("\u8336"), cat.count)
      == ((250, "EUR"), (900, "EUR"), None, None, (300, "CNY"), 3), cat.count)
check("no partial SKU match", cat.get("10") is None and cat.get("1011") is None)


class pages:  # made one page at a time (RAM: 540 dicts do not fit this heap)
    def __init__(self, v, n, per=30, price=0):
        self.v, self.n, self.per, self.price = v, n, per, price

    def __getitem__(self, p):
        if isinstance(p, slice):
            return [self[i] for i in range(*p.indices(self.n))]
        if p >= self.n:
            raise IndexError
        return {"version": self.v, "page": p + 1, "pages": self.n,
                "items": [{"sku": str(1000 + p * self.per + i), "name": "\u8336" * 20,
                           "price": self.price + p * self.per + i, "currency": "CNY"}
                          for i in range(self.per)]}


v1 = pages("a1", 18)  # 540 products
done = [cat.page(v1[i]) for i in range(17)]
check("pages collected: the old catalogue stays in use until the last",
      done == [False] * 17 and cat.get("101") == (250, "EUR") and cat.get("1000") is None, done)
check("the last page switches", cat.page(v1[17]) and cat.version == "a1" and cat.count == 540
      and cat.get("101") is None and cat.get("1000") == (0, "CNY")
      and cat.get("1539") == (539, "CNY"), (cat.version, cat.count))
check("the catalogue in use sent again: nothing written",
      [cat.page(v1[i]) for i in range(18)] == [False] * 18 and cat.version == "a1")
v2 = pages("b2", 3, 60, 7)
cat.page(v2[0])
try:
    cat.page(v2[2])
    check("a missing page refuses the rest", False, "accepted")
except ValueError:
    check("a missing page refuses the rest", cat.version == "a1" and cat.get("1000") == (0, "CNY"))
check("redelivered page ignored; a new sending completes", [cat.page(v2[i]) for i in range(3)]
      == [False, False, True] and cat.get("1000") == (7, "CNY") and cat.count == 180)
for bad in ({"version": "c", "page": 2, "pages": 1, "items": []},
            {"version": 3, "page": 1, "pages": 1, "items": []},
            {"version": "c", "page": 1, "pages": 65, "items": []},
            {"version": "c", "page": True, "pages": 1, "items": []},
            {"version": "c", "page": 1, "pages": 1, "items": {}}):
    try:
        cat.page(bad)
        check("bad page refused %r" % bad, False, "accepted")
    except ValueError:
        pass
check("bad pages change nothing", cat.version == "b2" and cat.count == 180)
cat = Catalog(catdir, cstore)
check("after a reboot the same catalogue", cat.version == "b2" and cat.get("1179") == (186, "CNY"))
cstore.save("catalog", {"items": [{"sku": "5", "price": 1, "currency": "EUR"}]})
cat = Catalog(catdir, cstore)
check("an older firmware's catalog.json is taken over", cat.get("5") == (1, "EUR")
      and cat.get("1000") is None and cstore.load("catalog", {}) == {"version": None, "n": 1})
cat.page({"items": [{"sku": "101", "name": "Tea", "price": 250, "currency": "EUR"}]})
sale = Sale(cat)
sale.add("101", 3)
d = sale.data("t1-9", 1000)
check("sale amount is the total", d["payment"]["amount"] == 750, d)
check("sale tendered is the cash", d["payment"]["tendered"] == 1000, d)
check("exact cash: no tendered", "tendered" not in sale.data("t1-9", 750)["payment"])
try:
    sale.data("t1-9", 749)
    check("too little cash refused", False, "accepted")
except SaleError as e:
    check("too little cash refused", e.args[0] == "NOT ENOUGH CASH", e.args)

# -- MQTT packet codec (mqtt.py): bytes in, bytes out, no socket ------------------------
import gc  # noqa: E402

for name in ("sale", "catalog", "login", "store", "commands"):  # room to compile mqtt.py from source
    sys.modules.pop(name, None)
gc.collect()
import mqtt  # noqa: E402

check("varlen 0/127/128/16383", [mqtt.varlen(n) for n in (0, 127, 128, 16383)]
      == [b"\x00", b"\x7f", b"\x80\x01", b"\xff\x7f"])
check("publish qos1 dup", mqtt.publish("a/b", b"x", 1, False, 7, True)
      == b"\x3a\x08\x00\x03a/b\x00\x07x")
check("publish qos0 retained", mqtt.publish("s", b"on", 0, True, 0, False)
      == b"\x31\x05\x00\x01son")
c = mqtt.connect("t1", 30, False, ("s", b"off", 1, True), "t1", "pw")
check("connect flags: user, password, will retain qos1, persistent session",
      c[0] == 0x10 and c[2:9] == b"\x00\x04MQTT\x04" and c[9] == 0xEC and c[10:12] == b"\x00\x1e",
      c)
check("subscribe", mqtt.subscribe(9, "c", 1) == b"\x82\x06\x00\x09\x00\x01c\x01")
check("parse publish qos1",
      mqtt.parse_publish(0x32, b"\x00\x01c\x00\x05hi") == (b"c", b"hi", 1, b"\x00\x05"))
for name, head, body in (("qos2", 0x34, b"\x00\x01c\x00\x05"), ("short", 0x30, b"\x00"),
                         ("topic past the end", 0x30, b"\x00\x09ab")):
    try:
        mqtt.parse_publish(head, body)
        check("publish %s refused" % name, False, "accepted")
    except ValueError:
        check("publish %s refused" % name, True)


# A packet bigger than the receive buffer with no free run for it (the terminal's
# fragmented heap, or its 1.5 KB fallback buffer: link.py): the session ends before
# the PUBACK, so the broker keeps the packet (MQTT 3.1.1 4.4: an unacknowledged QoS 1
# PUBLISH is sent again on the next session); never a MemoryError (three reset the board).
class _Feed:
    """A stream holding these bytes, read as asyncio's StreamReader.readinto reads."""

    def __init__(self, data):
        self.data = data

    async def readinto(self, mv):
        n = min(len(mv), len(self.data))
        mv[:n] = self.data[:n]
        self.data = self.data[n:]
        return n


import asyncio  # noqa: E402

big = mqtt.MQTTClient("t1", "127.0.0.1", max_packet=1 << 24, rxbuf=bytearray(64))
big._reader = _Feed(bytes((0x32,)) + mqtt.varlen(1 << 24))  # a 16 MB QoS 1 PUBLISH, 192 KB heap
try:
    asyncio.run(big._read_packet())
    check("a packet with no heap for it ends the session", False, "read")
except OSError as e:
    check("a packet with no heap for it ends the session", big._stop and "no heap" in str(e), e)
except MemoryError:
    check("a packet with no heap for it ends the session", False, "MemoryError")

print("%d passed, %d failed" % (results[0], results[1]))
