"""Regenerate protocol/vectors/*.json from the CPython implementation.

Run: python tests/make_vectors.py. The vectors are committed; the test suite
checks them on CPython and MicroPython, and checks this script reproduces them.
"""

import json
import pathlib

from fingerpos import protocol as p
from fingerpos.protocol.host import seal

OUT = pathlib.Path(__file__).resolve().parent.parent / "protocol" / "vectors"
KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
ZERO_PREV = ""
PREV = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def vec(name, description, payload, topic, key=KEY_A, expect=None, receiver=None):
    v = {
        "name": name,
        "description": description,
        "key": key.hex(),
        "topic": topic,
        "payload_hex": payload.hex(),
    }
    if receiver:
        v["receiver"] = receiver
    v["expect"] = expect
    return v


def ok(name, description, dev, kind, seq, typ, data, prev=PREV, ts=1_790_000_000, key=KEY_A):
    topic, payload, _ = seal(key, dev, kind, seq, ts, typ, prev, data)
    body = json.loads(p.split(payload)[0])
    return vec(name, description, payload, topic, key, {"ok": True, "body": body})


def bad(name, description, payload, topic, code, key=KEY_A, receiver=None):
    return vec(name, description, payload, topic, key, {"error": code}, receiver)


def raw_signed(key, topic, body_text):
    body = body_text.encode() if isinstance(body_text, str) else body_text
    return p.sign(key, topic, body)


def sized_body(target):
    """A heartbeat body padded to exactly `target` bytes."""
    base = p.make_body("t1", 9, 1_790_000_000, "heartbeat", PREV, {"pad": ""})
    pad = "x" * (target - len(base))
    return '{"v":1,"dev":"t1","seq":9,"ts":1790000000,"typ":"heartbeat","prev":"%s","data":{"pad":"%s"}}' % (PREV, pad)


def over_limit(topic):
    """Correctly signed, but one byte over: sign() itself refuses to make it."""
    body = sized_body(4097).encode()
    return body + b"\n" + p.hmac_sha256_hex(KEY_A, topic.encode() + b"\n" + body)


def catalog_page_at_limit():
    """The first page paginate() makes of 40 products with 32-character Chinese names,
    sealed with the longest device id the protocol allows."""
    from fingerpos.cloud.commerce.catalog import paginate

    items = [{"sku": str(2000 + i), "name": "铁观音" * 10 + "茶叶", "price": 100 * i,
              "currency": "CNY"} for i in range(40)]
    page = paginate(items)[0]
    dev = "d" * 32
    topic, payload, _ = seal(KEY_A, dev, p.CMD, 2**40, 1_790_000_000, "catalog", PREV, page)
    assert 4096 - 200 < len(p.split(payload)[0]) <= 4096
    return payload, topic, KEY_A, {"ok": True, "body": json.loads(p.split(payload)[0])}


def shift_vectors():
    """Shifts and cash refunds at the terminal (issue #16 items 3-4, protocol/README.md
    "Shifts and cash refunds"): each event and command, and the ways they are refused."""
    e, c = p.EVT, p.CMD
    ta = p.evt_topic("t1")
    refund_topic, refund, _ = seal(KEY_A, "t1", e, 31, 1_790_003_000, "refund", PREV,
                                   {"refund": 17, "amount": 1250, "seller": "3",
                                    "approved_by": "2"})
    body, sig = p.split(refund)
    return [
        ok("evt-shift-open", "a seller opens shift 4 with a float of 200.00", "t1", e, 20,
           "shift", {"shift": 4, "action": "open", "seller": "3", "amount": 20000}),
        ok("evt-shift-cash-out", "cash taken out of the drawer, with a free-text reason",
           "t1", e, 21, "shift", {"shift": 4, "action": "cash_out", "seller": "3",
                                  "amount": 5000, "reason": "银行 bank"}),
        ok("evt-shift-x", "an X report asked for mid-shift", "t1", e, 22, "shift",
           {"shift": 4, "action": "x", "seller": "3"}),
        ok("evt-shift-close-approved", "a blind close whose difference a manager approved",
           "t1", e, 40, "shift", {"shift": 4, "action": "close", "seller": "3",
                                  "amount": 31990, "approved_by": "2"}),
        ok("evt-refund", "a cash refund paid out, approved by a manager", "t1", e, 31,
           "refund", {"refund": 17, "amount": 1250, "seller": "3", "approved_by": "2"}),
        ok("cmd-refund-new", "a back-office cash refund to pay out at the terminal", "t1", c,
           7, "refund_new", {"refund": 17, "order": 1042, "amount": 1250, "currency": "CNY",
                             "approval": True}),
        ok("cmd-refund-update", "the cloud refused the terminal's refund", "t1", c, 8,
           "refund_update", {"refund": 17, "state": "failed",
                             "reason": "past the shift's refund cap"}),
        ok("cmd-config-shift", "the shift difference limit for offline closes", "t1", c, 9,
           "config", {"shift_diff_limit": 1000}),
        bad("refund-new-as-evt", "refund_new is a command: on the event topic it is refused",
            raw_signed(KEY_A, ta, '{"v":1,"dev":"t1","seq":32,"ts":0,"typ":"refund_new",'
                                  '"prev":"","data":{"refund":17,"amount":1250}}'),
            ta, "malformed"),
        bad("refund-amount-altered", "a refund's amount changed after signing (1250 -> 9250)",
            body.replace(b'"amount":1250', b'"amount":9250') + b"\n" + sig, refund_topic,
            "bad_signature"),
        bad("refund-topic-moved", "t1's refund replayed onto t2's topic", refund,
            p.evt_topic("t2"), "bad_signature"),
    ]


def build():
    e, c = p.EVT, p.CMD
    ta, tb = p.evt_topic("t1"), p.evt_topic("t2")
    good_topic, good, _ = seal(KEY_A, "t1", e, 5, 1_790_000_000, "login", PREV,
                                 {"method": "pin", "seller": "s1", "ok": False, "failures": 1})
    body, sig = p.split(good)
    vs = [
        ok("evt-boot-first", "first event of a device: prev is empty", "t1", e, 1, "boot",
           {"fw": "0.1.0", "reset": "power"}, prev=ZERO_PREV, ts=0),
        ok("evt-heartbeat", "heartbeat figures", "t1", e, 2, "heartbeat",
           {"uptime": 3600, "heap_free": 51234, "rssi": -61, "outbox": 0}),
        ok("evt-login-finger", "fingerprint login", "shop-7_A", e, 3, "login",
           {"method": "finger", "slot": 4, "ok": True, "confidence": 112, "failures": 0}),
        ok("evt-enrol", "fingerprint enrolment", "t1", e, 4, "enrol", {"seller": "s1", "slot": 4}),
        ok("evt-alarm", "sound-and-light alarm after failed logins", "t1", e, 6, "alarm",
           {"reason": "failed_logins", "level": 2, "on": True}),
        ok("evt-sale", "in-person sale with three lines: amount = the total charged, "
           "tendered = the cash handed over", "t1", e, 7, "sale",
           {"ref": "T1-000007", "items": [{"sku": "A-1", "qty": 2, "price": 350},
                                          {"sku": "B-22", "qty": 1, "price": 1299},
                                          {"sku": "C-3", "qty": 5, "price": 10}],
            "payment": {"method": "cash", "amount": 2049, "currency": "EUR", "tendered": 2500}}),
        ok("evt-ack", "seller accepts a web order", "t1", e, 8, "ack",
           {"order": 1042, "action": "accept"}),
        ok("evt-price-change", "price change of an unpaid order", "t1", e, 9, "price_change",
           {"order": 1043, "version": 1, "total": 1800, "reason": "damaged box"}),
        ok("evt-printed", "receipt printed", "t1", e, 10, "printed", {"order": 1042, "ok": True}),
        ok("evt-unicode", "unicode seller name and reason (UTF-8 kept raw)", "t1", e, 11,
           "price_change", {"order": 7, "version": 2, "total": 990, "reason": "改价 – café ☕ 🍵"}),
        ok("cmd-ack", "cloud acknowledges events up to seq 11", "t1", c, 1, "ack", {"upto": 11}),
        ok("cmd-time", "clock set on connect", "t1", c, 2, "time", {"now": 1_790_000_123}),
        ok("cmd-roster", "sellers and their slots / PIN hashes", "t1", c, 3, "roster",
           {"sellers": [{"id": "s1", "name": "Zoë", "slots": [4], "pin": "ab" * 16,
                         "manager": True}]}),
        ok("cmd-order-new", "trade prompt for a web order paid in cash at the counter", "t1", c,
           4, "order_new", {"order": 1042, "total": 2599, "currency": "CNY", "version": 2,
                            "pay": "cash", "pickup_hash": "cd" * 32}),
        ok("cmd-print", "ESC/POS bytes for the printer", "t1", c, 5, "print",
           {"order": 1042, "escpos": "G0AbYQFIZWxsbwo="}),
        vec("evt-size-limit", "a body of exactly 4096 bytes is accepted",
            raw_signed(KEY_A, ta, sized_body(4096)), ta, KEY_A,
            {"ok": True, "body": json.loads(sized_body(4096))}),
        bad("evt-size-over", "a body of 4097 bytes is refused",
            over_limit(ta), ta, "too_large"),
        bad("payload-huge", "a payload far over the limit is refused before anything else",
            b"{" + b" " * 9000 + b"}\n" + b"0" * 64, ta, "too_large"),
        bad("sig-flipped", "one signature character changed", body + b"\n" + sig[:-1]
            + (b"0" if sig[-1:] != b"0" else b"1"), good_topic, "bad_signature"),
        bad("body-altered", "a body byte changed after signing (seq 5 -> 6)",
            body.replace(b'"seq":5', b'"seq":6') + b"\n" + sig, good_topic, "bad_signature"),
        bad("wrong-key", "signed with another device's key", good, good_topic, "bad_signature",
            key=KEY_B),
        bad("sig-uppercase", "the signature must be lowercase hex", body + b"\n" + sig.upper(),
            good_topic, "bad_signature"),
        bad("unsigned", "a body with no signature line", body, good_topic, "unsigned"),
        bad("empty", "an empty payload", b"", good_topic, "unsigned"),
        bad("topic-moved", "a valid event replayed onto another device's topic", good, tb,
            "bad_signature"),
        bad("evt-as-cmd", "a valid event replayed as a command", good, p.cmd_topic("t1"),
            "bad_signature"),
        bad("wrong-device", "correctly signed for t1's topic but the body says t2",
            raw_signed(KEY_A, ta, '{"v":1,"dev":"t2","seq":1,"ts":0,"typ":"boot","prev":"","data":{}}'),
            ta, "wrong_device"),
        bad("cmd-replayed", "a command whose seq is not above the last accepted",
            seal(KEY_A, "t1", c, 7, 0, "unlock", PREV, {})[1], p.cmd_topic("t1"),
            "replayed", receiver={"last_seq": 7}),
        bad("not-json", "signed, but the body is not JSON", raw_signed(KEY_A, ta, "{v:1}"),
            ta, "malformed"),
        bad("not-utf8", "signed, but the body is not UTF-8",
            raw_signed(KEY_A, ta, b'{"v":1,"dev":"t1","seq":1,"ts":0,"typ":"boot","prev":"","data":{"x":"\xff"}}'),
            ta, "malformed"),
        bad("missing-field", "no data field", raw_signed(
            KEY_A, ta, '{"v":1,"dev":"t1","seq":1,"ts":0,"typ":"boot","prev":""}'), ta, "malformed"),
        bad("extra-field", "an unknown top-level field", raw_signed(
            KEY_A, ta, '{"v":1,"dev":"t1","seq":1,"ts":0,"typ":"boot","prev":"","data":{},"x":1}'),
            ta, "malformed"),
        bad("unknown-typ", "a command type on the event topic", raw_signed(
            KEY_A, ta, '{"v":1,"dev":"t1","seq":1,"ts":0,"typ":"unlock","prev":"","data":{}}'),
            ta, "malformed"),
        bad("seq-zero", "seq starts at 1", raw_signed(
            KEY_A, ta, '{"v":1,"dev":"t1","seq":0,"ts":0,"typ":"boot","prev":"","data":{}}'),
            ta, "malformed"),
        bad("seq-bool", "true is not an integer", raw_signed(
            KEY_A, ta, '{"v":1,"dev":"t1","seq":true,"ts":0,"typ":"boot","prev":"","data":{}}'),
            ta, "malformed"),
        bad("seq-float", "seq must be an integer", raw_signed(
            KEY_A, ta, '{"v":1,"dev":"t1","seq":2.0,"ts":0,"typ":"boot","prev":"","data":{}}'),
            ta, "malformed"),
        bad("version-2", "only v 1 exists", raw_signed(
            KEY_A, ta, '{"v":2,"dev":"t1","seq":1,"ts":0,"typ":"boot","prev":"","data":{}}'),
            ta, "malformed"),
        bad("prev-short", "prev is 32 hex characters", raw_signed(
            KEY_A, ta, '{"v":1,"dev":"t1","seq":2,"ts":0,"typ":"boot","prev":"abc","data":{}}'),
            ta, "malformed"),
        bad("data-list", "data must be an object", raw_signed(
            KEY_A, ta, '{"v":1,"dev":"t1","seq":1,"ts":0,"typ":"boot","prev":"","data":[]}'),
            ta, "malformed"),
        bad("bad-topic", "a topic outside fp/v1/dev/{id}/{kind}", good, "fp/v1/dev/t1/evt/x",
            "malformed"),
        bad("bad-device-id", "a device id with a character outside [A-Za-z0-9_-]", good,
            "fp/v1/dev/t+1/evt", "malformed"),
        ok("cmd-catalog-page", "page 2 of 3 of a catalogue, Chinese names kept raw", "t1", c,
           6, "catalog", {"version": "9f2c4e1a0b7d3e55", "page": 2, "pages": 3,
                          "items": [{"sku": "1001", "name": "茉莉花茶", "price": 1800,
                                     "currency": "CNY"},
                                    {"sku": "1002", "name": "Oolong 乌龙", "price": 2600,
                                     "currency": "CNY"}]}),
        vec("cmd-catalog-page-limit", "a full catalogue page as the cloud fills it "
            "(cloud/commerce/catalog.py paginate): at most 4096 bytes with 3-byte characters",
            *catalog_page_at_limit()),
        *shift_vectors(),
    ]
    return vs


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.json"):
        old.unlink()
    vs = build()
    for i, v in enumerate(vs, 1):
        (OUT / ("%02d-%s.json" % (i, v["name"]))).write_text(
            json.dumps(v, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print("wrote %d vectors to %s" % (len(vs), OUT))


if __name__ == "__main__":
    main()
