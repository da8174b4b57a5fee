"""Trade on the whole firmware (flashed bundle, unix port, real Mosquitto, the test as cloud):
PIN login and a sale; web orders (accept, ship, handover with the pickup code, cash paid at
the counter); price change; print; time; lock; forged and replayed commands."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator

import pytest
from fingerpos import protocol
from fingerpos.protocol.host import seal

from tests.support.firmware import (
    CATALOG,
    KEY,
    Cloud,
    assert_healthy,
    provision,
    run_terminal,
    sellers,
)
from tests.support.terminal import Terminal


@pytest.fixture
def terminal(tmp_path, broker, topic_prefix) -> Iterator[tuple[Terminal, Cloud]]:
    yield from run_terminal(tmp_path, broker.port, topic_prefix + "t")


def test_boot_online_and_pin_login(terminal):
    t, cloud = terminal
    t.wait_display("online", timeout=15)
    cloud.wait_event("boot")
    cloud.send("roster", {"sellers": sellers()})
    cloud.send("catalog", {"items": CATALOG})
    time.sleep(0.5)
    t.press("A1111#")
    t.wait_display("LOGIN OK")
    ev = cloud.wait_event("login", lambda d: d["ok"])
    assert ev["data"]["seller"] == "s1" and ev["data"]["method"] == "pin"
    t.press("B101#2#B102###1000#", gap=0.0)
    t.wait_display("CHG 1.25")
    sale = cloud.wait_event("sale")["data"]
    assert sale["items"] == [{"sku": "101", "qty": 2, "price": 250},
                             {"sku": "102", "qty": 1, "price": 375}]
    # amount = what was charged (the total); the cash handed over is `tendered`
    assert sale["payment"] == {"method": "cash", "amount": 875, "currency": "EUR",
                               "tendered": 1000}
    assert "MemoryError" not in t.output()
    assert not cloud.rejected


def test_orders_price_change_print_time_lock_and_bad_commands(terminal):
    t, cloud = terminal
    provision(t, cloud)
    boot = cloud.wait_event("boot")
    assert boot["ts"] == 0  # the clock was unset
    cloud.send("time", {"now": 1_800_000_000})
    t.wait_log("cmd time applied")

    # Forged, replayed and foreign commands are dropped: the terminal stays unlocked.
    topic, forged, _ = seal(bytes(32), cloud.dev, protocol.CMD, 999, 0, "lock", "", {})
    cloud.c.publish(topic, forged, qos=1)
    _, replay, _ = seal(KEY, cloud.dev, protocol.CMD, 1, 0, "lock", "", {})
    cloud.c.publish(topic, replay, qos=1)
    cloud.c.publish(topic, b"not json\n" + b"0" * 64, qos=1)

    # Trade prompt: display + beep; accept and ship need a logged-in seller.
    code_hash = protocol.pickup_hash(KEY, 42, "4711")
    cloud.send("order_new", {"order": 42, "total": 1250, "currency": "EUR",
                             "items": [{"sku": "101", "qty": 5, "price": 250}],
                             "pickup_hash": code_hash})
    t.wait_display("NEW ORDER 42")
    t.wait_gpio("buzzer", 1)
    t.press("C")  # not logged in: nothing happens
    t.press("A2222#")
    t.wait_log("login pin ok")
    t.press("C")
    t.wait_display("Order 42 12.50")
    t.press("1")
    t.wait_display("ACCEPT 42 OK")
    t.press("C2")
    t.wait_display("SHIP 42 OK")
    t.press("C3")
    t.press("0000#")
    t.wait_display("WRONG PICKUP CODE")
    t.press("34711#")
    t.wait_display("HANDOVER 42 OK")
    acks = [e["data"] for e in cloud.of_type("ack")]
    cloud.wait(lambda: len(cloud.of_type("ack")) == 3, 10, "3 acks")
    acks = [e["data"] for e in cloud.of_type("ack")]
    assert acks == [{"order": 42, "action": "accept"}, {"order": 42, "action": "ship"},
                    {"order": 42, "action": "handover", "pickup": "4711"}]
    assert all(e["ts"] >= 1_800_000_000 for e in cloud.of_type("ack"))

    # Price change: Ben is not authorised, Ana (manager) is.
    t.press("D")
    t.wait_display("NOT AUTHORISED")
    t.press("*")
    t.press("A1111#")
    t.wait_log("login pin ok")
    t.press("D77#990#")
    t.wait_display("PRICE SENT 77")
    pc = cloud.wait_event("price_change")["data"]
    assert pc == {"order": 77, "version": 0, "total": 990, "reason": "counter"}
    cloud.send("price_result", {"order": 77, "ok": False, "version": 0, "reason": "paid"})
    t.wait_display("PRICE REFUSED 77")

    # Print: ESC/POS bytes to the printer UART, then a printed event.
    receipt = b"\x1b@fingerpos receipt\n\x1dV\x00"
    cloud.send("print", {"order": 42, "escpos": base64.b64encode(receipt).decode()})
    cloud.wait_event("printed", lambda d: d["order"] == 42 and d["ok"])
    assert t.printed == receipt

    # The bad commands were counted and ignored; lock/unlock work.
    t.press("*")
    t.press("A1111#")
    t.wait_log("login pin ok")
    cloud.send("lock", {})
    t.wait_display("LOCKED BY CLOUD")
    logins = len(cloud.of_type("login"))
    t.press("A1111#")
    time.sleep(0.5)
    assert "LOCKED BY CLOUD" in t.display
    cloud.send("unlock", {})
    t.wait_display("UNLOCKED")
    t.press("A1111#")
    t.wait_log("login pin ok")
    cloud.send("alarm_off", {})
    t.wait_log("cmd alarm_off applied")
    cloud.wait(lambda: len(cloud.of_type("login")) == logins + 1, 10, "one more login")
    assert not any("cmd lock applied" in x for x in t.logs[:1])
    assert sum("cmd lock applied" in x for x in t.logs) == 1  # the forged/replayed ones never
    assert "dropped (bad_signature)" in t.output()
    # The terminal's protocol has no error texts: a technician gets the seq numbers.
    replayed = re.search(r"dropped \(replayed\): seq 1, last (\d+)", t.output())
    assert replayed and int(replayed.group(1)) >= 1, t.output()[-2000:]
    assert_healthy(t)


def test_cash_order_paid_at_the_counter(terminal):
    """Contract 2: a web order the buyer pays in cash at the counter."""
    t, cloud = terminal
    provision(t, cloud)
    items = [{"sku": "101", "qty": 5, "price": 250}]
    cloud.send("order_new", {"order": 51, "total": 1250, "currency": "EUR", "items": items,
                             "pickup_hash": protocol.pickup_hash(KEY, 51, "2468"),
                             "version": 3, "pay": "card"})
    t.wait_log("cmd order_new: bad data")  # only "cash" or no `pay` at all
    cloud.send("order_new", {"order": 51, "total": 1250, "currency": "EUR", "items": items,
                             "pickup_hash": protocol.pickup_hash(KEY, 51, "2468"),
                             "version": 3, "pay": "cash"})
    t.wait_display("CASH ORDER 51")
    t.wait_gpio("buzzer", 1)
    t.press("A2222#")
    t.wait_log("login pin ok")
    t.press("C")
    t.wait_display("Order 51 CASH DUE")
    t.press("1")  # accept, ship and handover wait for the payment
    t.wait_display("NOT PAID YET")

    # The buyer's pickup code is checked before any cash is taken.
    t.press("4")
    t.wait_display("Pickup code:")
    t.press("1357#")
    t.wait_display("WRONG PICKUP CODE")
    t.press("4")
    t.press("2468#")
    t.wait_display("Cash due 12.50")
    t.press("1000#")  # less than the total: refused at the keypad
    t.wait_display("NOT ENOUGH CASH")
    t.press("2000#")
    t.wait_display("Cash 20.00 CHG 7.50")
    t.press("#")
    t.wait_display("CASH 51 SENT CHG 7.50")
    ack = cloud.wait_event("ack", lambda d: d["action"] == "cash")["data"]
    assert ack == {"order": 51, "action": "cash", "version": 3, "amount": 1250, "tendered": 2000}

    # The cloud refused it (the price changed meanwhile): REFUSED and the new total.
    cloud.send("order_update", {"order": 51, "state": "pending_payment", "version": 4,
                                "total": 1100})
    t.wait_display("CASH REFUSED 51 11.00")
    t.press("C")
    t.wait_display("Order 51 CASH DUE")
    t.press("42468#1100#")
    t.wait_display("Cash 11.00 CHG 0.00")
    t.press("#")
    t.wait_display("CASH 51 SENT CHG 0.00")
    cloud.wait(lambda: len(cloud.of_type("ack")) == 2, 10, "the second cash ack")
    assert cloud.of_type("ack")[1]["data"] == {"order": 51, "action": "cash", "version": 4,
                                               "amount": 1100, "tendered": 1100}

    # Paid: the usual paid prompt, accept and handover follow.
    cloud.send("order_update", {"order": 51, "state": "paid", "version": 5, "total": 1100})
    t.wait_display("PAID 51")
    t.press("C")
    t.wait_display("Order 51 11.00")
    t.press("1")
    t.wait_display("ACCEPT 51 OK")
    t.press("C32468#")
    t.wait_display("HANDOVER 51 OK")
    cloud.wait(lambda: len(cloud.of_type("ack")) == 4, 10, "accept and handover")
    assert [e["data"]["action"] for e in cloud.of_type("ack")] == \
        ["cash", "cash", "accept", "handover"]
    assert not cloud.rejected
    assert_healthy(t)


def test_big_order_prompts_keep_only_what_the_counter_uses(terminal):
    """Big input: eight order prompts of ~1.4 KB each (twelve items with long names). The
    terminal keeps id, total, version and pickup hash of each, not the items: before, each
    prompt stayed on the heap as parsed (~4 KB on the 64-bit unix port), and eight did not
    fit."""
    t, cloud = terminal
    provision(t, cloud)
    items = [{"sku": f"{i:03d}", "name": f"Jasmine tea {i:02d} " + "x" * 36, "qty": 1,
              "price": 100} for i in range(12)]
    for n in range(8):
        order = 300 + n
        cloud.send("order_new", {"order": order, "total": 4000, "currency": "EUR",
                                 "items": items, "version": 1,
                                 "pickup_hash": protocol.pickup_hash(KEY, order, "1234")})
        t.wait_display(f"NEW ORDER {order}")
    last = max([b["data"]["uptime"] for b in cloud.of_type("heartbeat")] or [-1])
    beat = cloud.wait_event("heartbeat", lambda d: d["uptime"] > last)
    assert beat["data"]["heap_free"] >= 16_000, beat["data"]
    t.press("A1111#")
    t.wait_display("LOGIN OK")
    t.press("C")
    t.wait_display("Order 300 40.00")
    # A prompt whose pickup hash or id is not what the protocol says is bad data, not kept.
    cloud.send("order_new", {"order": 399, "total": 1, "pickup_hash": "x" * 100})
    t.wait_log("cmd order_new: bad data")
    cloud.send("order_new", {"order": ["x"] * 100, "total": 1})
    t.wait_log("cmd order_new: bad data")
    assert_healthy(t)
